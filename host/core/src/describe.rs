//! A predicted change in words, as a plan's step and the captured state show
//! it: one line each, with the value before the change. The plan's drafting
//! ([`crate::plan`]) names each step's changes with [`describe_change`]; the
//! renderings ([`crate::render`]) reuse the words.

use crate::deployment::{Change, Deployment, Names};
use crate::observed::{RecordData, RouteKind, data_text, pool_state, rtype_name};

pub(crate) fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

pub(crate) fn opt(o: Option<&str>) -> String {
    o.map_or_else(|| "(none)".to_owned(), str::to_owned)
}

/// One line: what a change does, with the value before it; `names` is the
/// index of `before` (or of a state it came from by changes).
#[must_use]
pub fn describe_change(before: &Deployment, names: &Names, change: &Change) -> String {
    let machine = |m: &str| names.machine(before, m);
    match change {
        Change::Federation { edge_pool, enabled } => {
            let was = names
                .edge_pool(before, edge_pool)
                .is_some_and(|x| x.federation_enabled);
            format!(
                "federation {edge_pool}: {} -> {}",
                on_off(was),
                on_off(*enabled)
            )
        }
        Change::ServicesRunning {
            machine: m,
            running,
        } => {
            let was = machine(m).is_some_and(|x| x.services_running);
            format!("services {m}: {} -> {}", run(was), run(*running))
        }
        Change::ReplicaUpToDate {
            machine: m,
            up_to_date,
        } => {
            let was = machine(m).is_some_and(|x| x.replica_up_to_date);
            format!("replica {m}: {} -> {}", fresh(was), fresh(*up_to_date))
        }
        Change::SetupVersion {
            machine: m,
            version,
        } => {
            let was = machine(m).map_or(0, |x| x.setup_version);
            format!("setup version {m}: {was} -> {version}")
        }
        Change::Route(rc) => {
            let was = names
                .site(before, &rc.site)
                .and_then(|s| s.route(rc.kind))
                .map(ToString::to_string);
            let kind = match rc.kind {
                RouteKind::Federation => "federation route",
                RouteKind::XmppFederation => "XMPP route",
            };
            format!(
                "{kind} {}: {} -> {}",
                rc.site,
                opt(was.as_deref()),
                opt(rc.identity.as_ref().map(ToString::to_string).as_deref())
            )
        }
        Change::Rrset(set) => {
            let t = rtype_name(set.rtype);
            let fmt = |data: &[RecordData], ttl: u32| {
                if data.is_empty() {
                    "(absent)".to_owned()
                } else {
                    format!(
                        "{} ttl {ttl}",
                        data.iter().map(data_text).collect::<Vec<_>>().join(", ")
                    )
                }
            };
            let was = before
                .rrset(&set.name, set.rtype)
                .map_or_else(|| "(absent)".to_owned(), |s| fmt(&s.data, s.ttl));
            format!("{t} {}: {was} -> {}", set.name, fmt(&set.data, set.ttl))
        }
        Change::XmppPortOpen {
            edge_pool,
            open: on,
        } => {
            let was = names
                .edge_pool(before, edge_pool)
                .is_some_and(|x| x.xmpp_port_open);
            format!("tcp 5269 {edge_pool}: {} -> {}", open(was), open(*on))
        }
        Change::MediaEdgePool {
            front_end_pool,
            edge_pool,
        } => {
            let was = names
                .front_end_pool(before, front_end_pool)
                .and_then(|x| x.media_edge_pool.clone());
            format!(
                "media edge pool {front_end_pool}: {} -> {}",
                opt(was.as_deref()),
                opt(edge_pool.as_deref())
            )
        }
        Change::PoolState {
            front_end_pool,
            state,
        } => {
            let was = names
                .front_end_pool(before, front_end_pool)
                .map_or("(unknown)", |x| pool_state(x.state));
            format!("pool {front_end_pool}: {was} -> {}", pool_state(*state))
        }
        Change::NextHop {
            edge_pool,
            next_hop,
        } => {
            let was = names
                .edge_pool(before, edge_pool)
                .and_then(|x| x.next_hop.clone());
            format!(
                "next hop {edge_pool}: {} -> {}",
                opt(was.as_deref()),
                opt(next_hop.as_deref())
            )
        }
        Change::CmsAvailable { available } => format!(
            "management store: {} -> {}",
            avail(before.cms_available),
            avail(*available)
        ),
        Change::TopologyVersion { version } => {
            format!("topology version: {} -> {version}", before.topology_version)
        }
        Change::DraftPending { pending: p } => format!(
            "draft: {} -> {}",
            pending(before.draft_pending),
            pending(*p)
        ),
    }
}

pub(crate) fn run(b: bool) -> &'static str {
    if b { "running" } else { "stopped" }
}
pub(crate) fn fresh(b: bool) -> &'static str {
    if b { "up to date" } else { "stale" }
}
pub(crate) fn open(b: bool) -> &'static str {
    if b { "open" } else { "closed" }
}
pub(crate) fn avail(b: bool) -> &'static str {
    if b { "available" } else { "unavailable" }
}
pub(crate) fn pending(b: bool) -> &'static str {
    if b { "pending" } else { "clean" }
}
