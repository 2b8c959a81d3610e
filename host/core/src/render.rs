//! Renderings of a [`Plan`] for people and machines: text (one line per step and
//! the fields it changes), JSON (`format_version`, `steps`, `findings`; schema in
//! `docs/plan.schema.json`) and PowerShell (the equivalent cmdlets, for review or
//! running by hand). All three are deterministic.

use std::fmt::Write as _;

use crate::deployment::{Change, Deployment, Names};
use crate::intent::Runbook;
use crate::observed::{PoolState, RecordData, RouteKind};
use crate::plan::{Finding, Plan, StepStatus, rtype_name};

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn opt(o: Option<&str>) -> String {
    o.map_or_else(|| "(none)".to_owned(), str::to_owned)
}

pub(crate) fn data_text(d: &RecordData) -> String {
    match d {
        RecordData::A(s) | RecordData::Aaaa(s) | RecordData::Cname(s) => s.clone(),
        // A TXT record's text is whatever the zone holds (the gate checks
        // names and addresses, not text): shown on one line, nothing in it a
        // terminal acts on.
        RecordData::Txt(s) => crate::text::printable(s).into_owned(),
        RecordData::Srv(s) => format!("{} {} {} {}", s.priority, s.weight, s.port, s.target),
    }
}

pub(crate) fn pool_state(s: PoolState) -> &'static str {
    match s {
        PoolState::Normal => "normal",
        PoolState::FailedOver => "failed-over",
        PoolState::FailingBack => "failing-back",
    }
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

fn run(b: bool) -> &'static str {
    if b { "running" } else { "stopped" }
}
fn fresh(b: bool) -> &'static str {
    if b { "up to date" } else { "stale" }
}
fn open(b: bool) -> &'static str {
    if b { "open" } else { "closed" }
}
fn avail(b: bool) -> &'static str {
    if b { "available" } else { "unavailable" }
}
fn pending(b: bool) -> &'static str {
    if b { "pending" } else { "clean" }
}

fn status(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Planned => "planned",
        StepStatus::Satisfied => "satisfied",
    }
}

fn level(f: &Finding) -> &'static str {
    f.level.name()
}

/// The plan's digest, or a word saying it has none yet.
fn digest_text(plan: &Plan) -> &str {
    if plan.digest.is_empty() {
        "(not sealed)"
    } else {
        &plan.digest
    }
}

/// The plan as an operator reads it: a header, one line per step, under it the
/// changes a planned step makes, then the findings.
#[must_use]
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let i = &plan.intent;
    let mut scope = Vec::new();
    for (on, name) in [
        (i.sip_federation, "sip-federation"),
        (i.xmpp, "xmpp"),
        (i.front_ends, "front-ends"),
        (i.pool_failback, "pool-failback"),
    ] {
        if on {
            scope.push(name);
        }
    }
    let what = match i.runbook {
        Runbook::Failback => format!("failback to {} ({})", i.restored_pool, i.restored_site),
        Runbook::Failover => format!("failover of {} to {}", i.restored_site, i.restored_pool),
    };
    let _ = writeln!(
        out,
        "{what} in zone {}: {}; cut-over TTL {} s",
        plan.start.zone,
        scope.join(", "),
        i.cutover_ttl
    );
    if let Some(from) = &i.failed_over_from {
        let _ = writeln!(out, "home: {from}");
    }
    let _ = writeln!(out, "plan sha256 {}", digest_text(plan));
    let planned = plan.planned().count();
    let _ = writeln!(
        out,
        "{} steps, {planned} planned, {} satisfied",
        plan.steps.len(),
        plan.steps.len() - planned
    );
    for step in &plan.steps {
        let _ = writeln!(
            out,
            "{:>3}. {:<4} {:<27} {:<9} {}",
            step.index,
            step.action.id(),
            step.action.name(),
            status(step.status),
            step.target.as_deref().unwrap_or("-")
        );
        for line in &step.summary {
            let _ = writeln!(out, "        {line}");
        }
    }
    findings(&mut out, &plan.findings);
    let blocking = plan.findings.iter().filter(|f| f.blocking).count();
    if blocking > 0 {
        let _ = writeln!(
            out,
            "vetoed: {blocking} blocking finding{}; nothing may be applied",
            if blocking == 1 { "" } else { "s" }
        );
    }
    out
}

/// The findings as an operator reads them: one headline each, then the values
/// compared and the hint.
pub fn findings(out: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        out.push_str("findings: none\n");
        return;
    }
    out.push_str("findings:\n");
    for f in findings {
        let states = if f.through > f.state {
            format!("states {}-{}", f.state, f.through)
        } else {
            format!("state {}", f.state)
        };
        let _ = writeln!(
            out,
            "  {} {} {} at {states}{} [{}]: {}",
            verdict(f),
            level(f),
            f.rule,
            f.step.map(|s| format!(" (step {s})")).unwrap_or_default(),
            f.module,
            f.message
        );
        if !f.values.is_empty() {
            let _ = writeln!(out, "    values: {}", f.values.join(", "));
        }
        let _ = writeln!(out, "    hint: {}", f.hint);
        if let Some(reason) = &f.overridden {
            let _ = writeln!(out, "    overridden: {reason}");
        }
    }
}

/// Whether a finding stops the plan, in one word.
pub(crate) fn verdict(f: &Finding) -> &'static str {
    if f.blocking {
        "BLOCKS"
    } else if f.overridden.is_some() {
        "overridden"
    } else if f.standing && f.level != crate::plan::Level::Advisory {
        "repaired"
    } else {
        "note"
    }
}

/// The plan document as pretty JSON with a final newline: its serde form
/// (schema: `docs/plan.schema.json`; see [`crate::document`]).
#[must_use]
pub fn json(plan: &Plan) -> String {
    plan.to_json()
}

use crate::text::powershell_comment as ps_comment;

/// The plan as a PowerShell script of the equivalent cmdlets. Satisfied steps
/// appear as comments; each operation prints its own cmdlets
/// ([`crate::operation::Meaning::powershell`]; DNS changes use the DnsServer
/// module's). Every value from the environment is quoted as an argument or
/// kept on its comment line ([`ps_comment`]).
#[must_use]
pub fn powershell(plan: &Plan) -> String {
    let mut out = String::new();
    let i = &plan.intent;
    // The runbook named as the text rendering names it: a failover is not
    // headed as a failback to the pool it fails over to.
    let what = match i.runbook {
        Runbook::Failback => format!(
            "failback to {} ({})",
            ps_comment(&i.restored_pool),
            ps_comment(&i.restored_site)
        ),
        Runbook::Failover => format!(
            "failover of {} to {}",
            ps_comment(&i.restored_site),
            ps_comment(&i.restored_pool)
        ),
    };
    let _ = writeln!(
        out,
        "# {what}, zone {}\n# plan sha256 {}\n# Generated by failback; review every line before running it.\n# Run in the Lync Server Management Shell with RTCUniversalServerAdmins rights.\n$ErrorActionPreference = 'Stop'\n",
        ps_comment(&plan.start.zone),
        digest_text(plan)
    );
    for step in &plan.steps {
        let _ = writeln!(
            out,
            "# Step {} - {} {} ({}){}",
            step.index,
            step.action.id(),
            step.action.name(),
            status(step.status),
            step.target
                .as_deref()
                .map(|t| format!(": {}", ps_comment(t)))
                .unwrap_or_default()
        );
        if step.status == StepStatus::Satisfied {
            out.push_str("# already satisfied: nothing to run\n\n");
            continue;
        }
        for op in &step.operations {
            op.meaning().powershell(&mut out);
        }
        let _ = writeln!(out, "# verify: {}\n", ps_comment(&step.verify));
    }
    if !plan.findings.is_empty() {
        out.push_str("# Findings:\n");
        for f in &plan.findings {
            let _ = writeln!(
                out,
                "#   {} {} at state {}: {}",
                level(f),
                ps_comment(&f.rule),
                f.state,
                ps_comment(&f.message)
            );
        }
    }
    out
}

/// A captured state as a person reads it: who observed it and when, then the
/// deployment it checks into (sites and their routes, Edge pools, Front End
/// pools, the DNS record sets).
#[must_use]
pub fn captured(state: &crate::capture::CapturedState, deployment: &Deployment) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "observed {} at {} (zone {})",
        state.environment, state.observed_at, deployment.zone
    );
    let _ = writeln!(out, "state sha256 {}", state.digest);
    for (kind, plugin) in &state.plugins {
        let _ = writeln!(out, "  {kind:<17} {} sha256 {}", plugin.name, plugin.sha256);
    }
    let _ = writeln!(
        out,
        "management store {}, topology version {}{}",
        avail(deployment.cms_available),
        deployment.topology_version,
        if deployment.draft_pending {
            " (a draft is pending)"
        } else {
            ""
        }
    );
    out.push_str("sites:\n");
    for site in &deployment.sites {
        let route = |r: Option<&crate::deployment::EdgeIdentity>| {
            r.map_or_else(|| "(none)".to_owned(), |id| id.pool().to_owned())
        };
        let _ = writeln!(
            out,
            "  {}: federation route {}, XMPP route {}",
            site.name,
            route(site.federation_route.as_ref()),
            route(site.xmpp_federation_route.as_ref())
        );
    }
    out.push_str("edge pools:\n");
    for pool in &deployment.edge_pools {
        let _ = writeln!(
            out,
            "  {} ({}): federation {}, services {}, replicas {}, 5269 {}",
            pool.fqdn,
            pool.site,
            on_off(pool.federation_enabled),
            run(pool.services_running()),
            fresh(pool.machines.iter().all(|m| m.replica_up_to_date)),
            open(pool.xmpp_port_open)
        );
    }
    out.push_str("front end pools:\n");
    for pool in &deployment.front_end_pools {
        let _ = writeln!(
            out,
            "  {} ({}): {}, media via {}",
            pool.fqdn,
            pool.site,
            pool_state(pool.state),
            opt(pool.media_edge_pool.as_deref())
        );
    }
    let _ = writeln!(out, "dns record sets ({}):", deployment.dns.len());
    for set in &deployment.dns {
        let data: Vec<String> = set.data.iter().map(data_text).collect();
        let _ = writeln!(
            out,
            "  {} {} {} ttl {}",
            set.name,
            rtype_name(set.rtype),
            data.join(", "),
            set.ttl
        );
    }
    out
}
