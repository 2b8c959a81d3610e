//! Policy module of the DNS family: the external zone sends SIP federation and
//! XMPP partners to the pools the topology routes them through, and records
//! are moved only once their TTL has been lowered.
//!
//! Rules: [`XMPP_SRV`] (DESIGN §2 invariant 6), [`XMPP_A_RECORD`] (invariant
//! 7), [`SIP_FEDERATION_SRV`] (invariant 8), [`TTL_LOWERED`] (invariant 13,
//! advisory). Names are compared lower case without a final dot; a name
//! "resolves to a pool" when it has at least one address (A/AAAA, following
//! CNAMEs inside the zone) and every address is one of the pool's
//! `access-edge-ips`.

#![allow(
    unsafe_code,
    reason = "the export macro expands wit-bindgen's canonical ABI glue, which is unsafe code"
)]

use failback_policy_sdk::{
    Action, Ctx, EdgePool, Reads, RecordType, RouteKind, Rule, Scope, SrvData, Violation, join,
};

/// The XMPP federation SRV's owner label and port.
const XMPP_SRV_LABEL: &str = "_xmpp-server._tcp";
const XMPP_PORT: u16 = 5269;
/// The SIP federation SRV's owner label and port.
const SIP_SRV_LABEL: &str = "_sipfederationtls._tcp";
const SIP_PORT: u16 = 5061;
/// The XMPP A record's label (DNS-SCE: `xmpp.<domain>`).
const XMPP_A_LABEL: &str = "xmpp";

/// DESIGN §2 invariant 6: while a site routes XMPP, `_xmpp-server._tcp.<zone>`
/// exists; each of its records has port 5269 and a target in the zone (error
/// 1009 otherwise: DOMAIN §3.10); and the targets of its highest-priority
/// records (FO-XMPP suggests one SRV per pool, by priority) resolve to a pool
/// named by an XMPP route.
pub const XMPP_SRV: Rule = Rule {
    id: "dns.xmpp-srv",
    family: "dns",
    invariants: &[6],
    scope: Scope::EveryState,
    reads: Reads::DNS.and(Reads::ROUTES),
    rationale: "XMPP partners find the Edge pool through _xmpp-server._tcp: it must exist, use port 5269 and lead to the XMPP route's pool",
    check: xmpp_srv,
};

fn xmpp_srv(ctx: &Ctx<'_>) -> Vec<Violation> {
    let pools = ctx.route_pools(RouteKind::XmppFederation);
    if ctx.routes(RouteKind::XmppFederation).is_empty() {
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
    let mut violations = srv_shape(ctx, &name, &records, XMPP_PORT, "ensure-xmpp-srv");
    let best = records
        .iter()
        .map(|srv| srv.priority)
        .min()
        .unwrap_or_default();
    for srv in records.iter().filter(|srv| srv.priority == best) {
        if ctx.in_zone(&srv.target)
            && let Some(violation) =
                resolves_to_one_of(ctx, &name, &srv.target, &pools, "an XMPP route's pool")
        {
            violations.push(violation.hint(format!(
                "point {} at the Access Edge IPs of the XMPP route's pool (set-xmpp-a-record)",
                srv.target
            )));
        }
    }
    violations
}

/// DESIGN §2 invariant 7: the XMPP A record (`xmpp.<zone>`), when it exists,
/// resolves to the Access Edge IPs of a pool named by an XMPP route. Catches
/// the source page's own error (A record at EdgeServer2 on failback: §1.1).
pub const XMPP_A_RECORD: Rule = Rule {
    id: "dns.xmpp-a-record",
    family: "dns",
    invariants: &[7],
    scope: Scope::EveryState,
    reads: Reads::DNS.and(Reads::ROUTES),
    rationale: "the XMPP A record must hold the Access Edge IPs of the XMPP route's pool; the source page points it at the failover pool",
    check: xmpp_a_record,
};

fn xmpp_a_record(ctx: &Ctx<'_>) -> Vec<Violation> {
    if ctx.routes(RouteKind::XmppFederation).is_empty() {
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
    resolves_to_one_of(ctx, &name, &name, &pools, "the XMPP route's pool")
        .map(|violation| {
            violation.hint(format!(
                "set {name} to the Access Edge IPs of {} (set-xmpp-a-record)",
                names(&pools)
            ))
        })
        .into_iter()
        .collect()
}

/// DESIGN §2 invariant 8: while one pool has federation enabled,
/// `_sipfederationtls._tcp.<zone>` exists, each record has port 5061 and a
/// target in the zone, and every record's target resolves to that pool —
/// every record, since SIP federation has no SRV-priority failover
/// (ISSUE-2048). With two federated pools invariant 1 fires instead.
pub const SIP_FEDERATION_SRV: Rule = Rule {
    id: "dns.sip-federation-srv",
    family: "dns",
    invariants: &[8],
    scope: Scope::EveryState,
    reads: Reads::DNS.and(Reads::FEDERATION),
    rationale: "inbound SIP federation follows _sipfederationtls._tcp (5061) to the federation-enabled pool, or reaches a wrong or dead one",
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
    let mut violations = srv_shape(ctx, &name, &records, SIP_PORT, "repoint-sip-federation-dns");
    for srv in &records {
        if ctx.in_zone(&srv.target)
            && let Some(violation) = resolves_to_one_of(
                ctx,
                &name,
                &srv.target,
                &[*pool],
                "the federation-enabled pool",
            )
        {
            violations.push(violation.hint(format!(
                "point {} at {}'s Access Edge IPs {} (repoint-sip-federation-dns)",
                srv.target,
                pool.fqdn,
                join(&pool.access_edge_ips)
            )));
        }
    }
    violations
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

/// The rules of this module, in report order.
pub static RULES: &[Rule] = &[XMPP_SRV, XMPP_A_RECORD, SIP_FEDERATION_SRV, TTL_LOWERED];

failback_policy_sdk::export_rules!(RULES);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]
    use super::*;
    use failback_policy_sdk::testing::*;
    use failback_policy_sdk::{Change, RecordData, check};

    fn messages(
        rules: &[Rule],
        start: failback_policy_sdk::State,
        steps: Vec<failback_policy_sdk::Step>,
    ) -> Vec<(u32, String)> {
        check(rules, goal(), start, steps)
            .into_iter()
            .map(|f| (f.state, f.message))
            .collect()
    }

    #[test]
    fn the_failback_plan_passes() {
        assert_eq!(
            fired(RULES, goal(), contoso_failed_over(), failback_plan()),
            vec![]
        );
    }

    #[test]
    fn the_source_pages_xmpp_a_record_at_edgepool2_fires() {
        // The XMPP route moves to edgepool1, but the A record stays at (is set
        // to) edgepool2's IP, as the source page says.
        let mut steps = failback_plan();
        for change in &mut steps[7].changes {
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
        // From step 8 until restore-ttl (step 14) rewrites the record.
        assert_eq!(findings.len(), 6);
        assert_eq!(findings[0].rule, "dns.xmpp-a-record");
        assert_eq!(findings[0].state, 8);
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
        // The SRV's target is that name: invariant 6 sees it too.
        let srv_findings = check(&[XMPP_SRV], goal(), contoso_failed_over(), steps);
        assert_eq!(srv_findings.len(), 6);
        assert!(srv_findings[0].message.starts_with(
            "xmpp.contoso.com (target of _xmpp-server._tcp.contoso.com) resolves to 131.107.155.20"
        ));
    }

    #[test]
    fn an_xmpp_a_record_through_a_cname_in_the_zone_passes() {
        let mut start = contoso_failed_over();
        start.dns.retain(|set| set.name != XMPP_A);
        start.dns.push(cname(XMPP_A, "edge2.contoso.com"));
        start.dns.push(a("edge2.contoso.com", EDGEPOOL2_IP));
        assert_eq!(
            fired(&[XMPP_A_RECORD, XMPP_SRV], goal(), start, vec![]),
            vec![]
        );
    }

    #[test]
    fn an_xmpp_srv_with_port_5270_fires() {
        let mut start = contoso_failed_over();
        start.dns.retain(|set| set.name != XMPP_SRV_NAME);
        start.dns.push(srv(XMPP_SRV_NAME, 5270, XMPP_A));
        assert_eq!(
            messages(&[XMPP_SRV], start, vec![]),
            [(0, "_xmpp-server._tcp.contoso.com SRV targeting xmpp.contoso.com has port 5270, not 5269".to_owned())]
        );
    }

    #[test]
    fn an_xmpp_srv_set_to_5270_by_a_step_fires_from_that_step() {
        let steps = vec![
            step(Action::EnsureXmppSrv)
                .change(Change::Rrset(with_ttl(
                    srv(XMPP_SRV_NAME, 5270, XMPP_A),
                    CUTOVER_TTL,
                )))
                .into(),
        ];
        assert_eq!(
            fired(&[XMPP_SRV], goal(), contoso_failed_over(), steps),
            [("dns.xmpp-srv".to_owned(), 1)]
        );
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
            &[XMPP_SRV],
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
        assert_eq!(fired(&[XMPP_SRV], goal(), start.clone(), vec![]), vec![]);
        // Swap the priorities: the backup pool is now first.
        if let Some(RecordData::Srv(srv)) = rrset_mut(&mut start, XMPP_SRV_NAME, RecordType::Srv)
            .unwrap()
            .data
            .first_mut()
        {
            srv.priority = 20;
        }
        assert_eq!(
            messages(&[XMPP_SRV], start, vec![]),
            [(0, "xmpp1.contoso.com (target of _xmpp-server._tcp.contoso.com) resolves to 131.107.155.10, not to an XMPP route's pool edgepool2.contoso.com (131.107.155.20)".to_owned())]
        );
    }

    #[test]
    fn the_sip_federation_srv_left_on_the_failover_pool_fires() {
        // Federation moves to edgepool1 but sip.contoso.com stays on edgepool2
        // (the source page has no DNS step for SIP federation).
        let mut steps = failback_plan();
        steps[2]
            .changes
            .retain(|change| !matches!(change, Change::Rrset(_)));
        let found = messages(&[SIP_FEDERATION_SRV], contoso_failed_over(), steps);
        // From step 3 until restore-ttl (step 14) rewrites the record.
        assert_eq!(found.len(), 11, "{found:?}");
        assert_eq!(
            found[0],
            (3, "sip.contoso.com (target of _sipfederationtls._tcp.contoso.com) resolves to 131.107.155.20, not to the federation-enabled pool edgepool1.contoso.com (131.107.155.10)".to_owned())
        );
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
            fired(&[SIP_FEDERATION_SRV], goal(), start, vec![]),
            [("dns.sip-federation-srv".to_owned(), 0)]
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
            messages(&[SIP_FEDERATION_SRV], start, steps),
            [
                (0, "_sipfederationtls._tcp.contoso.com SRV does not exist while edgepool2.contoso.com has federation enabled".to_owned()),
                (1, "_sipfederationtls._tcp.contoso.com SRV targeting sip.contoso.com has port 443, not 5061".to_owned()),
            ]
        );
    }

    #[test]
    fn moving_a_record_before_lowering_its_ttl_fires() {
        let mut steps = failback_plan();
        steps.remove(0); // no lower-ttl
        let findings = check(&[TTL_LOWERED], goal(), contoso_failed_over(), steps);
        let found: Vec<(u32, &str)> = findings
            .iter()
            .map(|f| (f.state, f.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    2,
                    "sip.contoso.com A moves with TTL 3600 while the cut-over TTL is 300"
                ),
                (
                    7,
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
}
