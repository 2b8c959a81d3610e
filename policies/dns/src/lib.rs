//! The rules of the DNS family: the external zone sends SIP federation and
//! XMPP partners to the pools the topology routes them through, and records
//! are moved only once their TTL has been lowered.
//!
//! Rules: [`XMPP_SRV`] and [`XMPP_SRV_TARGET`] (DESIGN §2 invariant 6),
//! [`XMPP_A_RECORD`] (invariant 7), [`SIP_FEDERATION_SRV`] and
//! [`SIP_FEDERATION_SRV_TARGET`] (invariant 8), [`TTL_LOWERED`] (invariant 13,
//! advisory). Names are compared lower case without a final dot; a name
//! "resolves to a pool" when it has at least one address (A/AAAA, following
//! CNAMEs inside the zone) and every address is one of the pool's
//! `access-edge-ips`.
//!
//! DNS follows routing. The runbook cannot move a route (or the federation
//! flag) and its DNS records in one step: the federation flag moves in A2 and
//! the SIP federation records in A6, the XMPP route in A7 and the XMPP A
//! record in A9. So the rules that compare DNS with routing
//! ([`XMPP_SRV_TARGET`], [`XMPP_A_RECORD`], [`SIP_FEDERATION_SRV_TARGET`]) run
//! in [`Scope::RestOrDnsStep`]: on the start state (the observed start may
//! already break one: reported, the plan must repair it), on every state
//! reached by a step that changes a record set (a DNS step never leaves the
//! records resolving to the wrong pool), and on the final state (the window a
//! routing step opens is closed by the end) — not on the states between a
//! routing step and the DNS step that follows it. `rules()` reports them as
//! `every-state`, the nearest WIT scope. The shape of the SRV records, which
//! does not depend on which pool is routed ([`XMPP_SRV`],
//! [`SIP_FEDERATION_SRV`]), is checked on every state. See `docs/policies.md`.

use failback_policy_sdk::{
    Action, Ctx, EdgePool, Reads, RecordType, RouteKind, Rule, Scope, SrvData, Violation, join,
    same_name,
};

/// The XMPP federation SRV's owner label and port.
const XMPP_SRV_LABEL: &str = "_xmpp-server._tcp";
const XMPP_PORT: u16 = 5269;
/// The SIP federation SRV's owner label and port.
const SIP_SRV_LABEL: &str = "_sipfederationtls._tcp";
const SIP_PORT: u16 = 5061;
/// The XMPP A record's label (DNS-SCE: `xmpp.<domain>`).
const XMPP_A_LABEL: &str = "xmpp";

/// DESIGN §2 invariant 6, the shape: while a site routes XMPP,
/// `_xmpp-server._tcp.<zone>` exists and each of its records has port 5269 and
/// a target in the zone (error 1009 otherwise: DOMAIN §3.10). On every state:
/// none of it depends on which pool is routed.
pub const XMPP_SRV: Rule = Rule {
    id: "dns.xmpp-srv",
    family: "dns",
    invariants: &[6],
    scope: Scope::EveryState,
    reads: Reads::DNS.and(Reads::ROUTES),
    rationale: "XMPP partners find the Edge pool through _xmpp-server._tcp: while XMPP is routed it must exist, use port 5269 and target a name in its own domain",
    check: xmpp_srv,
};

fn xmpp_srv(ctx: &Ctx<'_>) -> Vec<Violation> {
    if !ctx.has_routes(RouteKind::XmppFederation) {
        return Vec::new();
    }
    let name = format!("{XMPP_SRV_LABEL}.{}", ctx.zone());
    let records = ctx.srv_records(&name);
    if records.is_empty() {
        return vec![
            Violation::new(format!("{name} SRV does not exist while XMPP is routed"))
                .value("srv", &name)
                .hint(format!(
                    "create {name} SRV, port {XMPP_PORT}, targeting the XMPP pool's FQDN in {} (ensure-xmpp-srv)",
                    ctx.zone()
                )),
        ];
    }
    srv_shape(ctx, &name, &records, XMPP_PORT, "ensure-xmpp-srv")
}

/// DESIGN §2 invariant 6, the resolution: the targets (in the zone) of the
/// highest-priority records of `_xmpp-server._tcp.<zone>` (FO-XMPP suggests
/// one SRV per pool, by priority) resolve to a pool named by an XMPP route.
/// DNS follows routing: on the start, after each DNS step, and at the end.
pub const XMPP_SRV_TARGET: Rule = Rule {
    id: "dns.xmpp-srv-target",
    family: "dns",
    invariants: &[6],
    scope: Scope::RestOrDnsStep,
    reads: Reads::DNS.and(Reads::ROUTES),
    rationale: "_xmpp-server._tcp must lead to the XMPP route's pool; DNS follows routing, so this is checked on the start, after every DNS step and at the end (reported as every-state), not on the states a step without DNS changes reaches after the XMPP route moves (A7) and before its records follow (A8, A9)",
    check: xmpp_srv_target,
};

fn xmpp_srv_target(ctx: &Ctx<'_>) -> Vec<Violation> {
    if !ctx.has_routes(RouteKind::XmppFederation) {
        return Vec::new();
    }
    let pools = ctx.route_pools(RouteKind::XmppFederation);
    let name = format!("{XMPP_SRV_LABEL}.{}", ctx.zone());
    let records = ctx.srv_records(&name);
    let best = records
        .iter()
        .map(|srv| srv.priority)
        .min()
        .unwrap_or_default();
    records
        .iter()
        .filter(|srv| srv.priority == best && ctx.in_zone(&srv.target))
        .filter_map(|srv| {
            let violation =
                resolves_to_one_of(ctx, &name, &srv.target, &pools, "an XMPP route's pool")?;
            Some(violation.hint(format!(
                "point {} at the Access Edge IPs of the XMPP route's pool (set-xmpp-a-record)",
                srv.target
            )))
        })
        .collect()
}

/// DESIGN §2 invariant 7: the XMPP A record (`xmpp.<zone>`), when it exists
/// and is not only a fallback SRV record's target, resolves to the Access Edge
/// IPs of a pool named by an XMPP route. Catches
/// the source page's own error (A record at EdgeServer2 on failback: §1.1) on
/// the step that writes it. DNS follows routing: on the start, after each DNS
/// step, and at the end.
pub const XMPP_A_RECORD: Rule = Rule {
    id: "dns.xmpp-a-record",
    family: "dns",
    invariants: &[7],
    scope: Scope::RestOrDnsStep,
    reads: Reads::DNS.and(Reads::ROUTES),
    rationale: "the XMPP A record must hold the Access Edge IPs of the XMPP route's pool (the source page points it at the failover pool); DNS follows routing, so this is checked on the start, after every DNS step and at the end (reported as every-state), not on the states a step without DNS changes reaches between the XMPP route step (A7) and the A record step (A9)",
    check: xmpp_a_record,
};

fn xmpp_a_record(ctx: &Ctx<'_>) -> Vec<Violation> {
    if !ctx.has_routes(RouteKind::XmppFederation) {
        return Vec::new();
    }
    let name = format!("{XMPP_A_LABEL}.{}", ctx.zone());
    let exists = [RecordType::A, RecordType::Aaaa, RecordType::Cname]
        .into_iter()
        .any(|rtype| ctx.rrset(&name, rtype).is_some());
    if !exists {
        return Vec::new();
    }
    let pools = ctx.route_pools(RouteKind::XmppFederation);
    let Some(violation) = resolves_to_one_of(ctx, &name, &name, &pools, "the XMPP route's pool")
    else {
        return Vec::new();
    };
    // With one XMPP SRV record per Edge pool (the XMPP failover page's
    // advice), `xmpp.<zone>` may be a fallback record's target: the name of
    // another pool, which it must keep resolving to. It is the XMPP A record
    // only when no record names it or a highest-priority record does. (Asked
    // only of a name that does not resolve to the route's pool: the common
    // state pays nothing for it.)
    let srv = format!("{XMPP_SRV_LABEL}.{}", ctx.zone());
    let records = ctx.srv_records(&srv);
    let best = records.iter().map(|srv| srv.priority).min();
    let named = |top: bool| {
        records
            .iter()
            .any(|srv| same_name(&srv.target, &name) && (!top || Some(srv.priority) == best))
    };
    if named(false) && !named(true) {
        return Vec::new();
    }
    vec![violation.hint(format!(
        "set {name} to the Access Edge IPs of {} (set-xmpp-a-record)",
        names(&pools)
    ))]
}

/// DESIGN §2 invariant 8, the shape: while one pool has federation enabled,
/// `_sipfederationtls._tcp.<zone>` exists and each record has port 5061 and a
/// target in the zone. On every state: none of it depends on which pool is
/// federated. With two federated pools invariant 1 fires instead.
pub const SIP_FEDERATION_SRV: Rule = Rule {
    id: "dns.sip-federation-srv",
    family: "dns",
    invariants: &[8],
    scope: Scope::EveryState,
    reads: Reads::DNS.and(Reads::FEDERATION),
    rationale: "inbound SIP federation finds the Edge pool through _sipfederationtls._tcp: while a pool is federated it must exist, use port 5061 and target a name in its own domain",
    check: sip_federation_srv,
};

fn sip_federation_srv(ctx: &Ctx<'_>) -> Vec<Violation> {
    let federated = ctx.federated_pools();
    let [pool] = federated.as_slice() else {
        return Vec::new();
    };
    let name = format!("{SIP_SRV_LABEL}.{}", ctx.zone());
    let records = ctx.srv_records(&name);
    if records.is_empty() {
        return vec![
            Violation::new(format!(
                "{name} SRV does not exist while {} has federation enabled",
                pool.fqdn
            ))
            .value("srv", &name)
            .value("federated-pool", &pool.fqdn)
            .hint(format!(
                "create {name} SRV, port {SIP_PORT}, targeting {}'s Access Edge FQDN (repoint-sip-federation-dns)",
                pool.fqdn
            )),
        ];
    }
    srv_shape(ctx, &name, &records, SIP_PORT, "repoint-sip-federation-dns")
}

/// DESIGN §2 invariant 8, the resolution: while one pool has federation
/// enabled, every record's target (in the zone) of
/// `_sipfederationtls._tcp.<zone>` resolves to that pool — every record, since
/// SIP federation has no SRV-priority failover (ISSUE-2048). DNS follows
/// routing: on the start, after each DNS step, and at the end.
pub const SIP_FEDERATION_SRV_TARGET: Rule = Rule {
    id: "dns.sip-federation-srv-target",
    family: "dns",
    invariants: &[8],
    scope: Scope::RestOrDnsStep,
    reads: Reads::DNS.and(Reads::FEDERATION),
    rationale: "inbound SIP federation follows _sipfederationtls._tcp to the federation-enabled pool, or reaches a wrong or dead one; DNS follows routing, so this is checked on the start, after every DNS step and at the end (reported as every-state), not on the states a step without DNS changes reaches between the federation edit (A2) and the SIP DNS step (A6)",
    check: sip_federation_srv_target,
};

fn sip_federation_srv_target(ctx: &Ctx<'_>) -> Vec<Violation> {
    let federated = ctx.federated_pools();
    let [pool] = federated.as_slice() else {
        return Vec::new();
    };
    let name = format!("{SIP_SRV_LABEL}.{}", ctx.zone());
    ctx.srv_records(&name)
        .iter()
        .filter(|srv| ctx.in_zone(&srv.target))
        .filter_map(|srv| {
            let violation = resolves_to_one_of(
                ctx,
                &name,
                &srv.target,
                &[*pool],
                "the federation-enabled pool",
            )?;
            Some(violation.hint(format!(
                "point {} at {}'s Access Edge IPs {} (repoint-sip-federation-dns)",
                srv.target,
                pool.fqdn,
                join(&pool.access_edge_ips)
            )))
        })
        .collect()
}

/// DESIGN §2 invariant 13 (advisory): a step that moves a record set —
/// changes the records of one that exists — finds its TTL already lowered to
/// the goal's `cutover-ttl`, so resolvers drop the old answer quickly (MIG-FED).
/// The TTL steps themselves (lower-ttl, restore-ttl) are exempt.
pub const TTL_LOWERED: Rule = Rule {
    id: "dns.ttl-lowered",
    family: "dns",
    invariants: &[13],
    scope: Scope::Transition,
    reads: Reads::ALL,
    rationale: "moving a record whose TTL is still long keeps partners on the old pool until caches expire",
    check: ttl_lowered,
};

fn ttl_lowered(ctx: &Ctx<'_>) -> Vec<Violation> {
    let Some(step) = ctx.step() else {
        return Vec::new();
    };
    if matches!(step.action, Action::LowerTtl | Action::RestoreTtl) {
        return Vec::new();
    }
    let limit = ctx.goal().cutover_ttl;
    let mut violations: Vec<Violation> = ctx
        .rrset_changes()
        .filter_map(|new| {
            let old = ctx.rrset(&new.name, new.rtype)?;
            (old.data != new.data && old.ttl > limit).then(|| {
                Violation::new(format!(
                    "{} {} moves with TTL {} while the cut-over TTL is {limit}",
                    old.name,
                    rtype_name(old.rtype),
                    old.ttl
                ))
                .value("rrset", &old.name)
                .value("type", rtype_name(old.rtype))
                .value("ttl", old.ttl)
                .value("cutover-ttl", limit)
                .hint(format!(
                    "lower the TTL of {} to {limit} or less (lower-ttl) at least one old TTL before this step",
                    old.name
                ))
            })
        })
        .collect();
    violations.sort_by(|a, b| a.message.cmp(&b.message));
    violations
}

/// The port and the zone of each record of an SRV set.
fn srv_shape(
    ctx: &Ctx<'_>,
    name: &str,
    records: &[&SrvData],
    port: u16,
    action: &str,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    for srv in records {
        if srv.port != port {
            violations.push(
                Violation::new(format!(
                    "{name} SRV targeting {} has port {}, not {port}",
                    srv.target, srv.port
                ))
                .value("srv", name)
                .value("target", &srv.target)
                .value("port", srv.port)
                .value("expected-port", port)
                .hint(format!("set the SRV record's port to {port} ({action})")),
            );
        }
        if !ctx.in_zone(&srv.target) {
            violations.push(
                Violation::new(format!(
                    "{name} SRV targets {}, outside the SRV's own domain {}",
                    srv.target,
                    ctx.zone()
                ))
                .value("srv", name)
                .value("target", &srv.target)
                .value("zone", ctx.zone())
                .hint(format!(
                    "target a name in {} with an A record (error 1009 otherwise) ({action})",
                    ctx.zone()
                )),
            );
        }
    }
    violations
}

/// `None` when `target` resolves to one of `pools`; else what it resolves to.
fn resolves_to_one_of(
    ctx: &Ctx<'_>,
    record: &str,
    target: &str,
    pools: &[&EdgePool],
    which: &str,
) -> Option<Violation> {
    let via = if record == target {
        String::new()
    } else {
        format!(" (target of {record})")
    };
    let expected: Vec<&str> = pools
        .iter()
        .flat_map(|pool| pool.access_edge_ips.iter().map(String::as_str))
        .collect();
    match ctx.resolve(target) {
        Ok(addresses) => {
            let on_pool = pools.iter().any(|pool| {
                addresses
                    .iter()
                    .all(|address| pool.access_edge_ips.iter().any(|ip| ip == address))
            });
            if on_pool {
                return None;
            }
            let mut violation = Violation::new(format!(
                "{target}{via} resolves to {}, not to {which} {} ({})",
                join(&addresses),
                names(pools),
                if expected.is_empty() {
                    "no Access Edge IP".to_owned()
                } else {
                    join(&expected)
                }
            ))
            .value("name", target);
            for address in &addresses {
                violation = violation.value("address", address);
            }
            for pool in pools {
                violation = violation.value("pool", &pool.fqdn);
            }
            for ip in &expected {
                violation = violation.value("expected-address", ip);
            }
            Some(violation)
        }
        Err(problem) => {
            let mut violation = Violation::new(format!(
                "{target}{via} does not resolve to {which} {}: {problem}",
                names(pools)
            ))
            .value("name", target);
            for pool in pools {
                violation = violation.value("pool", &pool.fqdn);
            }
            Some(violation)
        }
    }
}

fn names(pools: &[&EdgePool]) -> String {
    if pools.is_empty() {
        "(none)".to_owned()
    } else {
        join(pools.iter().map(|pool| pool.fqdn.as_str()))
    }
}

fn rtype_name(rtype: RecordType) -> &'static str {
    match rtype {
        RecordType::A => "A",
        RecordType::Aaaa => "AAAA",
        RecordType::Cname => "CNAME",
        RecordType::Srv => "SRV",
        RecordType::Txt => "TXT",
    }
}

/// The rules of this family, in report order: the standard policy module
/// (`failback-policies`) exports them after the families before it.
pub static RULES: &[Rule] = &[
    XMPP_SRV,
    XMPP_SRV_TARGET,
    XMPP_A_RECORD,
    SIP_FEDERATION_SRV,
    SIP_FEDERATION_SRV_TARGET,
    TTL_LOWERED,
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]
    use super::*;
    use failback_policy_sdk::testing::*;
    use failback_policy_sdk::{Change, RecordData, Step, WitScope, check, rule_infos};

    fn messages(
        rules: &[Rule],
        start: failback_policy_sdk::State,
        steps: Vec<Step>,
    ) -> Vec<(u32, String)> {
        check(rules, goal(), start, steps)
            .into_iter()
            .map(|f| (f.state, f.message))
            .collect()
    }

    fn states(rule: Rule, steps: Vec<Step>) -> Vec<u32> {
        check(&[rule], goal(), contoso_failed_over(), steps)
            .into_iter()
            .map(|f| f.state)
            .collect()
    }

    /// The state step `index` leads to.
    fn state_after(index: usize) -> u32 {
        u32::try_from(index + 1).unwrap()
    }

    /// `rule`, run on every state as before the window decision.
    fn on_every_state(rule: Rule) -> Rule {
        Rule {
            scope: Scope::EveryState,
            ..rule
        }
    }

    #[test]
    fn the_failback_plan_passes() {
        assert_eq!(
            fired(RULES, goal(), contoso_failed_over(), failback_plan()),
            vec![]
        );
    }

    #[test]
    fn the_rules_and_their_reported_scopes() {
        let infos = rule_infos(RULES);
        let found: Vec<(&str, &[u8], WitScope)> = infos
            .iter()
            .map(|info| (info.id.as_str(), info.invariants.as_slice(), info.scope))
            .collect();
        assert_eq!(
            found,
            [
                ("dns.xmpp-srv", &[6][..], WitScope::EveryState),
                ("dns.xmpp-srv-target", &[6][..], WitScope::EveryState),
                ("dns.xmpp-a-record", &[7][..], WitScope::EveryState),
                ("dns.sip-federation-srv", &[8][..], WitScope::EveryState),
                (
                    "dns.sip-federation-srv-target",
                    &[8][..],
                    WitScope::EveryState
                ),
                ("dns.ttl-lowered", &[13][..], WitScope::Transition),
            ]
        );
        assert!(infos.iter().all(|info| info.family == "dns"));
        // The window rules say where they really run.
        for rule in [XMPP_SRV_TARGET, XMPP_A_RECORD, SIP_FEDERATION_SRV_TARGET] {
            assert_eq!(rule.scope, Scope::RestOrDnsStep);
            assert!(
                rule.rationale.contains("reported as every-state"),
                "{}",
                rule.id
            );
        }
    }

    #[test]
    fn the_source_pages_xmpp_a_record_at_edgepool2_fires_at_the_a9_state() {
        // The XMPP route moves to edgepool1 (A7), but A9 sets the A record to
        // edgepool2's IP, as the source page says.
        let mut steps = failback_plan();
        let a9 = position(&steps, Action::SetXmppARecord);
        for change in &mut steps[a9].changes {
            if let Change::Rrset(set) = change {
                set.data = vec![RecordData::A(EDGEPOOL2_IP.into())];
            }
        }
        let findings = check(
            &[XMPP_A_RECORD],
            goal(),
            contoso_failed_over(),
            steps.clone(),
        );
        // Exactly at A9's state: A10 to A12 change no record set, and A13
        // (restore-ttl) writes the intended address.
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule, "dns.xmpp-a-record");
        assert_eq!(findings[0].state, state_after(a9));
        assert_eq!(findings[0].state, 11);
        assert_eq!(
            findings[0].message,
            "xmpp.contoso.com resolves to 131.107.155.20, not to the XMPP route's pool edgepool1.contoso.com (131.107.155.10)"
        );
        assert_eq!(
            findings[0].values,
            [
                "name=xmpp.contoso.com",
                "address=131.107.155.20",
                "pool=edgepool1.contoso.com",
                "expected-address=131.107.155.10"
            ]
        );
        // The SRV's target is that name: invariant 6 sees it too, there only.
        let srv_findings = check(
            &[XMPP_SRV_TARGET],
            goal(),
            contoso_failed_over(),
            steps.clone(),
        );
        assert_eq!(srv_findings.len(), 1);
        assert_eq!(srv_findings[0].state, 11);
        assert!(srv_findings[0].message.starts_with(
            "xmpp.contoso.com (target of _xmpp-server._tcp.contoso.com) resolves to 131.107.155.20"
        ));
        assert_eq!(
            fired(RULES, goal(), contoso_failed_over(), steps),
            [
                ("dns.xmpp-srv-target".to_owned(), 11),
                ("dns.xmpp-a-record".to_owned(), 11)
            ]
        );
    }

    #[test]
    fn the_states_between_the_xmpp_federation_route_and_its_a_record_do_not_fire() {
        let steps = failback_plan();
        let a7 = position(&steps, Action::SetXmppFederationRoute);
        let a9 = position(&steps, Action::SetXmppARecord);
        // Checked on every state, 6 and 7 would veto the runbook's own order
        // on A7's and A8's states.
        let window: Vec<u32> = (state_after(a7)..state_after(a9)).collect();
        assert_eq!(window, [9, 10]);
        assert_eq!(states(on_every_state(XMPP_A_RECORD), steps.clone()), window);
        assert_eq!(
            states(on_every_state(XMPP_SRV_TARGET), steps.clone()),
            window
        );
        assert_eq!(states(XMPP_A_RECORD, steps.clone()), []);
        assert_eq!(states(XMPP_SRV_TARGET, steps), []);
    }

    #[test]
    fn the_states_between_the_federation_edit_and_the_sip_dns_do_not_fire() {
        let steps = failback_plan();
        let a2 = position(&steps, Action::SetFederationEdge);
        let a6 = position(&steps, Action::RepointSipFederationDns);
        let window: Vec<u32> = (state_after(a2)..state_after(a6)).collect();
        assert_eq!(window, [3, 4, 5, 6, 7]);
        assert_eq!(
            states(on_every_state(SIP_FEDERATION_SRV_TARGET), steps.clone()),
            window
        );
        assert_eq!(states(SIP_FEDERATION_SRV_TARGET, steps.clone()), []);
        assert_eq!(states(SIP_FEDERATION_SRV, steps), []);
    }

    #[test]
    fn a_plan_that_ends_with_the_sip_window_open_fires_on_the_final_state() {
        // Federation moves to edgepool1 but sip.contoso.com stays on edgepool2
        // (the source page has no DNS step for SIP federation): no A6, and
        // restore-ttl restores the record as it is.
        let mut steps = failback_plan();
        steps.remove(position(&steps, Action::RepointSipFederationDns));
        let a13 = position(&steps, Action::RestoreTtl);
        for change in &mut steps[a13].changes {
            if let Change::Rrset(set) = change
                && set.name == SIP_A
            {
                set.data = vec![RecordData::A(EDGEPOOL2_IP.into())];
            }
        }
        let a9 = state_after(position(&steps, Action::SetXmppARecord));
        let message = "sip.contoso.com (target of _sipfederationtls._tcp.contoso.com) resolves to 131.107.155.20, not to the federation-enabled pool edgepool1.contoso.com (131.107.155.10)";
        // On the final state; and on A9's, a DNS step taken while the SIP
        // window is still open. Not on the other states after A2.
        assert_eq!(
            messages(
                &[SIP_FEDERATION_SRV_TARGET],
                contoso_failed_over(),
                steps.clone()
            ),
            [(a9, message.to_owned()), (14, message.to_owned())]
        );
        // Without restore-ttl the last step changes no record set: the
        // window is still judged on the final state, once.
        steps.truncate(a13);
        assert_eq!(states(SIP_FEDERATION_SRV_TARGET, steps.clone()), [a9, 13]);
        assert_eq!(
            fired(RULES, goal(), contoso_failed_over(), steps),
            [
                ("dns.sip-federation-srv-target".to_owned(), a9),
                ("dns.sip-federation-srv-target".to_owned(), 13)
            ]
        );
    }

    #[test]
    fn a_dns_step_inside_a_window_must_not_leave_the_records_wrong() {
        // A8 rewrites the XMPP SRV (here: unchanged records) while the A record
        // still answers edgepool2: a DNS step, so 6 and 7 judge its state.
        // A plan that creates the SRV must write the A record first (A9
        // before A8), or both in one step.
        let mut steps = failback_plan();
        let a8 = position(&steps, Action::EnsureXmppSrv);
        steps[a8].changes.push(Change::Rrset(with_ttl(
            srv(XMPP_SRV_NAME, 5269, XMPP_A),
            CUTOVER_TTL,
        )));
        assert_eq!(
            fired(RULES, goal(), contoso_failed_over(), steps.clone()),
            [
                ("dns.xmpp-srv-target".to_owned(), 10),
                ("dns.xmpp-a-record".to_owned(), 10)
            ]
        );
        // A9 before A8: passes.
        let a9 = steps.remove(a8 + 1);
        steps.insert(a8, a9);
        assert_eq!(fired(RULES, goal(), contoso_failed_over(), steps), []);
    }

    #[test]
    fn an_xmpp_a_record_through_a_cname_in_the_zone_passes() {
        let mut start = contoso_failed_over();
        start.dns.retain(|set| set.name != XMPP_A);
        start.dns.push(cname(XMPP_A, "edge2.contoso.com"));
        start.dns.push(a("edge2.contoso.com", EDGEPOOL2_IP));
        assert_eq!(fired(RULES, goal(), start, vec![]), vec![]);
    }

    #[test]
    fn a_start_that_breaks_7_is_reported() {
        let mut start = contoso_failed_over();
        rrset_mut(&mut start, XMPP_A, RecordType::A).unwrap().data =
            vec![RecordData::A(EDGEPOOL1_IP.into())];
        // Reported on the start, and on the end when no step repairs it.
        let start_services: Vec<Step> = vec![failback_plan()[1].clone()];
        assert_eq!(
            fired(&[XMPP_A_RECORD], goal(), start.clone(), start_services),
            [
                ("dns.xmpp-a-record".to_owned(), 0),
                ("dns.xmpp-a-record".to_owned(), 1)
            ]
        );
        // The plan's first DNS step (A0 writes the failover pool's address,
        // where the route still is) repairs it.
        assert_eq!(
            fired(&[XMPP_A_RECORD], goal(), start, failback_plan()),
            [("dns.xmpp-a-record".to_owned(), 0)]
        );
    }

    #[test]
    fn an_xmpp_srv_with_port_5270_fires() {
        let mut start = contoso_failed_over();
        start.dns.retain(|set| set.name != XMPP_SRV_NAME);
        start.dns.push(srv(XMPP_SRV_NAME, 5270, XMPP_A));
        assert_eq!(
            messages(RULES, start, vec![]),
            [(0, "_xmpp-server._tcp.contoso.com SRV targeting xmpp.contoso.com has port 5270, not 5269".to_owned())]
        );
    }

    #[test]
    fn an_xmpp_srv_set_to_5270_by_a8_fires_on_every_state_from_a8() {
        let mut steps = failback_plan();
        let a8 = position(&steps, Action::EnsureXmppSrv);
        steps[a8].changes.push(Change::Rrset(with_ttl(
            srv(XMPP_SRV_NAME, 5270, XMPP_A),
            CUTOVER_TTL,
        )));
        let a13 = position(&steps, Action::RestoreTtl);
        steps[a13]
            .changes
            .retain(|change| !matches!(change, Change::Rrset(set) if set.rtype == RecordType::Srv));
        // The shape does not depend on routing: every state from A8 on.
        let expected: Vec<u32> = (state_after(a8)..=state_after(a13)).collect();
        assert_eq!(states(XMPP_SRV, steps), expected);
    }

    #[test]
    fn an_xmpp_srv_out_of_the_zone_or_missing_fires() {
        let mut start = contoso_failed_over();
        rrset_mut(&mut start, XMPP_SRV_NAME, RecordType::Srv)
            .unwrap()
            .data = vec![RecordData::Srv(SrvData {
            priority: 0,
            weight: 0,
            port: 5269,
            target: "xmpp.fabrikam.com".into(),
        })];
        let found = messages(
            &[XMPP_SRV, XMPP_SRV_TARGET],
            start,
            vec![
                step(Action::EnsureXmppSrv)
                    .change(Change::Rrset(failback_policy_sdk::Rrset {
                        data: vec![],
                        ..srv(XMPP_SRV_NAME, 5269, XMPP_A)
                    }))
                    .into(),
            ],
        );
        assert_eq!(
            found,
            [
                (0, "_xmpp-server._tcp.contoso.com SRV targets xmpp.fabrikam.com, outside the SRV's own domain contoso.com".to_owned()),
                (1, "_xmpp-server._tcp.contoso.com SRV does not exist while XMPP is routed".to_owned()),
            ]
        );
    }

    #[test]
    fn only_the_highest_priority_xmpp_srv_must_reach_the_route_pool() {
        let mut start = contoso_failed_over();
        let set = rrset_mut(&mut start, XMPP_SRV_NAME, RecordType::Srv).unwrap();
        set.data.push(RecordData::Srv(SrvData {
            priority: 10,
            weight: 0,
            port: 5269,
            target: "xmpp1.contoso.com".into(),
        }));
        start.dns.push(a("xmpp1.contoso.com", EDGEPOOL1_IP));
        assert_eq!(fired(RULES, goal(), start.clone(), vec![]), vec![]);
        // Swap the priorities: the backup pool is now first.
        if let Some(RecordData::Srv(srv)) = rrset_mut(&mut start, XMPP_SRV_NAME, RecordType::Srv)
            .unwrap()
            .data
            .first_mut()
        {
            srv.priority = 20;
        }
        assert_eq!(
            messages(RULES, start, vec![]),
            [(0, "xmpp1.contoso.com (target of _xmpp-server._tcp.contoso.com) resolves to 131.107.155.10, not to an XMPP route's pool edgepool2.contoso.com (131.107.155.20)".to_owned())]
        );
    }

    #[test]
    fn an_xmpp_name_that_is_only_a_fallback_srv_target_is_another_pools_and_not_judged() {
        // One SRV record per Edge pool: edgepool2's xmpp2 on top, as the
        // failover left it, and xmpp.contoso.com, edgepool1's own name, as the
        // fallback — which must keep resolving to edgepool1.
        let mut start = contoso_failed_over();
        start.dns.retain(|set| set.name != "xmpp.contoso.com");
        start.dns.push(a("xmpp.contoso.com", EDGEPOOL1_IP));
        start.dns.push(a("xmpp2.contoso.com", EDGEPOOL2_IP));
        let set = rrset_mut(&mut start, XMPP_SRV_NAME, RecordType::Srv).unwrap();
        set.data = vec![
            RecordData::Srv(SrvData {
                priority: 10,
                weight: 0,
                port: 5269,
                target: "xmpp2.contoso.com".into(),
            }),
            RecordData::Srv(SrvData {
                priority: 20,
                weight: 0,
                port: 5269,
                target: "xmpp.contoso.com".into(),
            }),
        ];
        assert_eq!(messages(RULES, start, vec![]), []);
    }

    #[test]
    fn a_sip_federation_srv_with_a_second_priority_record_elsewhere_fires() {
        let mut start = contoso_failed_over();
        let set = rrset_mut(&mut start, SIP_SRV_NAME, RecordType::Srv).unwrap();
        set.data.push(RecordData::Srv(SrvData {
            priority: 10,
            weight: 0,
            port: 5061,
            target: "sip1.contoso.com".into(),
        }));
        start.dns.push(a("sip1.contoso.com", EDGEPOOL1_IP));
        assert_eq!(
            fired(RULES, goal(), start, vec![]),
            [("dns.sip-federation-srv-target".to_owned(), 0)]
        );
    }

    #[test]
    fn a_missing_sip_federation_srv_or_wrong_port_fires() {
        let mut start = contoso_failed_over();
        start.dns.retain(|set| set.name != SIP_SRV_NAME);
        let steps = vec![
            step(Action::RepointSipFederationDns)
                .change(Change::Rrset(srv(SIP_SRV_NAME, 443, SIP_A)))
                .into(),
        ];
        assert_eq!(
            messages(RULES, start, steps),
            [
                (0, "_sipfederationtls._tcp.contoso.com SRV does not exist while edgepool2.contoso.com has federation enabled".to_owned()),
                (1, "_sipfederationtls._tcp.contoso.com SRV targeting sip.contoso.com has port 443, not 5061".to_owned()),
            ]
        );
    }

    #[test]
    fn moving_a_record_before_lowering_its_ttl_fires() {
        let mut steps = failback_plan();
        steps.remove(position(&steps, Action::LowerTtl));
        let a6 = state_after(position(&steps, Action::RepointSipFederationDns));
        let a9 = state_after(position(&steps, Action::SetXmppARecord));
        let findings = check(&[TTL_LOWERED], goal(), contoso_failed_over(), steps);
        let found: Vec<(u32, &str)> = findings
            .iter()
            .map(|f| (f.state, f.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    a6,
                    "sip.contoso.com A moves with TTL 3600 while the cut-over TTL is 300"
                ),
                (
                    a9,
                    "xmpp.contoso.com A moves with TTL 3600 while the cut-over TTL is 300"
                ),
            ]
        );
        assert!(findings[0].values.contains(&"cutover-ttl=300".to_owned()));
    }

    #[test]
    fn the_ttl_steps_and_unchanged_records_do_not_fire() {
        let steps = vec![
            step(Action::RestoreTtl)
                .change(Change::Rrset(with_ttl(a(SIP_A, EDGEPOOL2_IP), 86_400)))
                .into(),
            step(Action::EnsureXmppSrv)
                .change(Change::Rrset(srv(XMPP_SRV_NAME, 5269, XMPP_A)))
                .into(),
        ];
        assert_eq!(
            fired(&[TTL_LOWERED], goal(), contoso_failed_over(), steps),
            vec![]
        );
    }

    #[test]
    fn an_unknown_object_is_left_to_the_federation_family() {
        let steps = vec![
            step(Action::StartEdgeServices)
                .change(Change::ServicesRunning((
                    "edgeserver9.contoso.com".into(),
                    true,
                )))
                .into(),
        ];
        assert_eq!(fired(RULES, goal(), contoso_failed_over(), steps), []);
    }
}
