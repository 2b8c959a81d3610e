//! A field-level comparison of two deployments: what the apply engine shows
//! when the observed state is not the predicted one (drift before a step, a
//! postcondition that does not hold after it), and what the demo shows as the
//! summary of what changed.
//!
//! Objects are matched by name (sites, pools, machines, record sets), so a
//! difference names the object and the field, not a list position.

use std::collections::BTreeMap;
use std::fmt;

use crate::deployment::{Deployment, EdgeMachineState, EdgePoolState, RrSet};
use crate::observed::rtype_name;
use serde::Serialize;

/// One field that differs: its object, its name and both values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDiff {
    /// `edge pool edgepool1.contoso.com`, `record A sip.contoso.com`, `deployment`.
    pub object: String,
    /// `federation_enabled`, `ttl`, `present`.
    pub field: String,
    /// The value on the left (predicted, or before).
    pub left: String,
    /// The value on the right (observed, or after).
    pub right: String,
}

impl fmt::Display for FieldDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: predicted {}, observed {}",
            self.object, self.field, self.left, self.right
        )
    }
}

impl FieldDiff {
    /// `object field: left -> right`, for a summary of what changed.
    #[must_use]
    pub fn as_change(&self) -> String {
        format!(
            "{} {}: {} -> {}",
            self.object, self.field, self.left, self.right
        )
    }
}

fn opt(v: Option<&str>) -> String {
    v.map_or_else(|| "(none)".to_owned(), str::to_owned)
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".to_owned()
    } else {
        v.join(", ")
    }
}

fn pool_state(state: crate::observed::PoolState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn rrset_value(set: &RrSet) -> String {
    let data: Vec<String> = set
        .data
        .iter()
        .map(|d| match d {
            crate::observed::RecordData::A(v)
            | crate::observed::RecordData::Aaaa(v)
            | crate::observed::RecordData::Cname(v)
            | crate::observed::RecordData::Txt(v) => v.clone(),
            crate::observed::RecordData::Srv(s) => {
                format!("{} {} {} {}", s.priority, s.weight, s.port, s.target)
            }
        })
        .collect();
    format!("{} ttl {}", data.join(", "), set.ttl)
}

struct Differ {
    out: Vec<FieldDiff>,
}

impl Differ {
    fn field(&mut self, object: &str, field: &str, left: String, right: String) {
        if left != right {
            self.out.push(FieldDiff {
                object: object.to_owned(),
                field: field.to_owned(),
                left,
                right,
            });
        }
    }

    /// Objects on one side only are reported as `present`; both sides go to
    /// `both`.
    fn keyed<'a, T>(
        &mut self,
        kind: &str,
        left: impl IntoIterator<Item = (String, &'a T)>,
        right: impl IntoIterator<Item = (String, &'a T)>,
        describe: impl Fn(&T) -> String,
        mut both: impl FnMut(&mut Self, &str, &T, &T),
    ) where
        T: 'a,
    {
        let left: BTreeMap<String, &T> = left.into_iter().collect();
        let right: BTreeMap<String, &T> = right.into_iter().collect();
        let keys: std::collections::BTreeSet<&String> = left.keys().chain(right.keys()).collect();
        for key in keys {
            let object = format!("{kind} {key}");
            match (left.get(key), right.get(key)) {
                (Some(l), Some(r)) => both(self, &object, l, r),
                (Some(l), None) => {
                    self.field(&object, "present", describe(l), "(absent)".to_owned());
                }
                (None, Some(r)) => {
                    self.field(&object, "present", "(absent)".to_owned(), describe(r));
                }
                (None, None) => {}
            }
        }
    }
}

fn pool_fields(d: &mut Differ, object: &str, l: &EdgePoolState, r: &EdgePoolState) {
    d.field(object, "site", l.site.clone(), r.site.clone());
    d.field(
        object,
        "federation_enabled",
        l.federation_enabled.to_string(),
        r.federation_enabled.to_string(),
    );
    d.field(
        object,
        "next_hop",
        opt(l.next_hop.as_deref()),
        opt(r.next_hop.as_deref()),
    );
    d.field(
        object,
        "access_edge_fqdn",
        opt(l.access_edge_fqdn.as_deref()),
        opt(r.access_edge_fqdn.as_deref()),
    );
    d.field(
        object,
        "access_edge_ips",
        list(&l.access_edge_ips),
        list(&r.access_edge_ips),
    );
    d.field(
        object,
        "xmpp_port_open",
        l.xmpp_port_open.to_string(),
        r.xmpp_port_open.to_string(),
    );
}

fn machine_fields(d: &mut Differ, object: &str, l: &EdgeMachineState, r: &EdgeMachineState) {
    d.field(
        object,
        "services_running",
        l.services_running.to_string(),
        r.services_running.to_string(),
    );
    d.field(
        object,
        "replica_up_to_date",
        l.replica_up_to_date.to_string(),
        r.replica_up_to_date.to_string(),
    );
    d.field(
        object,
        "setup_version",
        l.setup_version.to_string(),
        r.setup_version.to_string(),
    );
}

/// Every field where `left` and `right` differ, object by object, in a fixed
/// order: deployment fields, sites, Edge pools, Edge machines, Front End
/// pools, record sets.
#[must_use]
pub fn diff(left: &Deployment, right: &Deployment) -> Vec<FieldDiff> {
    let mut d = Differ { out: Vec::new() };
    d.field("deployment", "zone", left.zone.clone(), right.zone.clone());
    d.field(
        "deployment",
        "cms_available",
        left.cms_available.to_string(),
        right.cms_available.to_string(),
    );
    d.field(
        "deployment",
        "topology_version",
        left.topology_version.to_string(),
        right.topology_version.to_string(),
    );
    d.field(
        "deployment",
        "draft_pending",
        left.draft_pending.to_string(),
        right.draft_pending.to_string(),
    );
    let route = |r: Option<&crate::deployment::EdgeIdentity>| {
        r.map_or_else(|| "(none)".to_owned(), ToString::to_string)
    };
    d.keyed(
        "site",
        left.sites.iter().map(|s| (s.name.clone(), s)),
        right.sites.iter().map(|s| (s.name.clone(), s)),
        |s| s.name.clone(),
        |d, object, l, r| {
            d.field(
                object,
                "federation_route",
                route(l.federation_route.as_ref()),
                route(r.federation_route.as_ref()),
            );
            d.field(
                object,
                "xmpp_federation_route",
                route(l.xmpp_federation_route.as_ref()),
                route(r.xmpp_federation_route.as_ref()),
            );
        },
    );
    d.keyed(
        "edge pool",
        left.edge_pools.iter().map(|p| (p.fqdn.clone(), p)),
        right.edge_pools.iter().map(|p| (p.fqdn.clone(), p)),
        |p| p.fqdn.clone(),
        pool_fields,
    );
    let machines = |dep: &Deployment| -> Vec<(String, EdgeMachineState)> {
        dep.edge_pools
            .iter()
            .flat_map(|p| p.machines.iter())
            .map(|m| (m.fqdn.clone(), m.clone()))
            .collect()
    };
    let (lm, rm) = (machines(left), machines(right));
    d.keyed(
        "edge machine",
        lm.iter().map(|(k, m)| (k.clone(), m)),
        rm.iter().map(|(k, m)| (k.clone(), m)),
        |m| m.fqdn.clone(),
        machine_fields,
    );
    d.keyed(
        "front end pool",
        left.front_end_pools.iter().map(|p| (p.fqdn.clone(), p)),
        right.front_end_pools.iter().map(|p| (p.fqdn.clone(), p)),
        |p| p.fqdn.clone(),
        |d, object, l, r| {
            d.field(object, "site", l.site.clone(), r.site.clone());
            d.field(
                object,
                "media_edge_pool",
                opt(l.media_edge_pool.as_deref()),
                opt(r.media_edge_pool.as_deref()),
            );
            d.field(object, "state", pool_state(l.state), pool_state(r.state));
            d.field(
                object,
                "failover_fqdn",
                opt(l.failover_fqdn.as_deref()),
                opt(r.failover_fqdn.as_deref()),
            );
            d.field(object, "online", l.online.to_string(), r.online.to_string());
        },
    );
    let rrsets = |dep: &Deployment| -> Vec<(String, RrSet)> {
        dep.dns
            .iter()
            .map(|s| (format!("{} {}", rtype_name(s.rtype), s.name), s.clone()))
            .collect()
    };
    let (ld, rd) = (rrsets(left), rrsets(right));
    d.keyed(
        "record",
        ld.iter().map(|(k, s)| (k.clone(), s)),
        rd.iter().map(|(k, s)| (k.clone(), s)),
        rrset_value,
        |d, object, l, r| d.field(object, "data", rrset_value(l), rrset_value(r)),
    );
    d.out
}
