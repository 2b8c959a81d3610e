//! The engine's own tests: the walk, the order of findings, the re-use of
//! every-state results, unknown objects, name lookups and DNS resolution.

#![allow(clippy::unwrap_used, reason = "a test fails loudly")]

use crate::testing::*;
use crate::{
    Action, Change, Ctx, Goal, PoolState, Reads, RecordData, RecordType, RouteKind, Rule, Scope,
    State, UNKNOWN_OBJECT, Violation, WitScope, World, check, reference,
};

/// The whole state, canonical (record sets sorted, emptied ones dropped), as
/// the message of one violation on every state.
fn snapshot(ctx: &Ctx<'_>) -> Vec<Violation> {
    vec![Violation::new(canonical(ctx.state()))]
}

fn canonical(state: &State) -> String {
    let mut state = state.clone();
    state.dns.retain(|set| !set.data.is_empty());
    state.dns.sort_by(|a, b| {
        (&a.name, format!("{:?}", a.rtype)).cmp(&(&b.name, format!("{:?}", b.rtype)))
    });
    format!("{state:?}")
}

const SNAPSHOT: Rule = Rule {
    id: "test.snapshot",
    family: "test",
    invariants: &[],
    scope: Scope::EveryState,
    reads: Reads::ALL,
    rationale: "test",
    check: snapshot,
};

fn federated_count(ctx: &Ctx<'_>) -> Vec<Violation> {
    vec![Violation::new(format!("{}", ctx.federated_pools().len()))]
}

const FEDERATED_CACHED: Rule = Rule {
    id: "test.federated",
    family: "test",
    invariants: &[1],
    scope: Scope::EveryState,
    reads: Reads::FEDERATION,
    rationale: "test",
    check: federated_count,
};

const FEDERATED_UNCACHED: Rule = Rule {
    reads: Reads::ALL,
    ..FEDERATED_CACHED
};

const STEP_ACTION: Rule = Rule {
    id: "test.step",
    family: "test",
    invariants: &[],
    scope: Scope::Transition,
    reads: Reads::ALL,
    rationale: "test",
    check: |ctx| {
        vec![Violation::new(format!(
            "{:?}",
            ctx.step().map(|step| step.action)
        ))]
    },
};

const END: Rule = Rule {
    id: "test.end",
    family: "test",
    invariants: &[],
    scope: Scope::FinalState,
    reads: Reads::ALL,
    rationale: "test",
    check: |ctx| vec![Violation::new(ctx.state().topology_version.to_string())],
};

#[test]
fn the_walk_sees_the_same_states_as_the_naive_reference() {
    let start = contoso_failed_over();
    let mut steps = failback_plan();
    // Delete a record set and create it again, in different steps.
    let srv = position(&steps, Action::EnsureXmppSrv);
    steps[srv].changes.push(Change::Rrset(crate::Rrset {
        data: vec![],
        ..a(XMPP_A, EDGEPOOL1_IP)
    }));
    steps[srv + 1]
        .changes
        .push(Change::Rrset(a(XMPP_A, EDGEPOOL1_IP)));
    steps[srv + 1]
        .changes
        .push(Change::Rrset(a("new.contoso.com", EDGEPOOL1_IP)));
    let expected: Vec<String> = reference::states(&start, &steps)
        .iter()
        .map(canonical)
        .collect();
    let walked: Vec<String> = check(&[SNAPSHOT], goal(), start, steps)
        .into_iter()
        .map(|finding| finding.message)
        .collect();
    assert_eq!(walked.len(), 16);
    assert_eq!(walked, expected);
}

#[test]
fn every_state_results_are_reused_only_while_nothing_they_read_changes() {
    let mut start = contoso_failed_over();
    pool_mut(&mut start, EDGEPOOL1).unwrap().federation_enabled = true;
    let mut steps = failback_plan();
    steps.insert(
        1,
        step(Action::SetFederationEdge)
            .change(Change::Federation((EDGEPOOL2.into(), true)))
            .into(),
    );
    let cached = check(&[FEDERATED_CACHED], goal(), start.clone(), steps.clone());
    let uncached = check(&[FEDERATED_UNCACHED], goal(), start, steps);
    assert_eq!(cached, uncached);
    let counts: Vec<&str> = cached.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(&counts[..5], ["2", "2", "2", "2", "1"]);
}

#[test]
fn findings_come_in_state_order_transition_first() {
    let steps = vec![
        step(Action::PublishTopology)
            .change(Change::TopologyVersion(8))
            .change(Change::Federation(("edgepool9.contoso.com".into(), true)))
            .into(),
    ];
    let found: Vec<(String, u32, String)> = check(
        &[END, FEDERATED_CACHED, STEP_ACTION, UNKNOWN_OBJECT],
        goal(),
        contoso_failed_over(),
        steps,
    )
    .into_iter()
    .map(|f| (f.rule, f.state, f.message))
    .collect();
    assert_eq!(
        found,
        [
            ("test.federated".to_owned(), 0, "1".to_owned()),
            ("test.step".to_owned(), 1, "Some(Action::PublishTopology)".to_owned()),
            ("policy.unknown-object".to_owned(), 1, "the step changes `federation` of edge pool edgepool9.contoso.com, which the state does not hold".to_owned()),
            ("test.federated".to_owned(), 1, "1".to_owned()),
            ("test.end".to_owned(), 1, "8".to_owned()),
        ]
    );
}

#[test]
fn a_change_naming_an_unknown_object_is_a_finding_and_the_walk_goes_on() {
    let unknown = [
        Change::Federation(("x.contoso.com".into(), true)),
        Change::ServicesRunning(("x.contoso.com".into(), true)),
        Change::ReplicaUpToDate(("x.contoso.com".into(), true)),
        Change::SetupVersion(("x.contoso.com".into(), 1)),
        Change::Route(crate::RouteChange {
            site: "Site9".into(),
            kind: RouteKind::Federation,
            identity: None,
        }),
        Change::XmppPortOpen(("x.contoso.com".into(), true)),
        Change::MediaEdgePool(("x.contoso.com".into(), None)),
        Change::PoolState(("x.contoso.com".into(), PoolState::Normal)),
        Change::NextHop(("x.contoso.com".into(), None)),
    ];
    let mut builder = step(Action::SetFederationEdge);
    for change in unknown {
        builder = builder.change(change);
    }
    let steps: Vec<crate::Step> = vec![builder.change(Change::TopologyVersion(42)).into()];
    // A module that does not list the rule does not report it, and the walk
    // goes on the same.
    let without = check(&[END], goal(), contoso_failed_over(), steps.clone());
    assert_eq!(
        without.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(),
        ["test.end"]
    );
    let findings = check(&[END, UNKNOWN_OBJECT], goal(), contoso_failed_over(), steps);
    let unknown: Vec<&crate::Finding> = findings
        .iter()
        .filter(|f| f.rule == UNKNOWN_OBJECT.id)
        .collect();
    assert_eq!(unknown.len(), 9);
    assert!(unknown.iter().all(|f| f.state == 1 && !f.hint.is_empty()));
    assert_eq!(
        unknown[4].values,
        ["change=route", "kind=site", "name=Site9"]
    );
    // The known change after them applied.
    assert_eq!(findings.last().unwrap().message, "42");
}

#[test]
fn names_are_matched_without_case_or_final_dot() {
    let steps = vec![
        step(Action::SetFederationEdge)
            .change(Change::Federation(("EdgePool1.Contoso.COM.".into(), true)))
            .change(Change::Rrset(a("XMPP.contoso.com.", EDGEPOOL1_IP)))
            .change(Change::Route(crate::RouteChange {
                site: "site1".into(),
                kind: RouteKind::XmppFederation,
                identity: None,
            }))
            .into(),
    ];
    let findings = check(
        &[SNAPSHOT, UNKNOWN_OBJECT],
        goal(),
        contoso_failed_over(),
        steps,
    );
    assert!(findings.iter().all(|f| f.rule != UNKNOWN_OBJECT.id));
    let end = reference::states(&contoso_failed_over(), &[])
        .pop()
        .unwrap();
    assert_ne!(findings[1].message, canonical(&end));
    let world = World::new(contoso_failed_over());
    let goal = goal();
    let ctx = Ctx::new(&world, &goal, None);
    assert!(ctx.pool("EDGEPOOL2.contoso.com").is_some());
    assert!(ctx.machine("edgeserver1.contoso.com.").is_some());
    assert!(
        ctx.rrset("_XMPP-server._tcp.contoso.com", RecordType::Srv)
            .is_some()
    );
}

#[test]
fn resolution_follows_cnames_inside_the_zone_only() {
    let mut start = contoso_failed_over();
    start
        .dns
        .push(cname("alias.contoso.com", "xmpp.contoso.com"));
    start
        .dns
        .push(cname("out.contoso.com", "xmpp.fabrikam.com"));
    start
        .dns
        .push(cname("loop1.contoso.com", "loop2.contoso.com"));
    start
        .dns
        .push(cname("loop2.contoso.com", "loop1.contoso.com"));
    let world = World::new(start);
    let goal = goal();
    let ctx = Ctx::new(&world, &goal, None);
    assert_eq!(ctx.resolve("alias.contoso.com"), Ok(vec![EDGEPOOL2_IP]));
    assert_eq!(
        ctx.resolve("out.contoso.com"),
        Err("`xmpp.fabrikam.com` is outside the zone `contoso.com`".to_owned())
    );
    assert!(
        ctx.resolve("loop1.contoso.com")
            .unwrap_err()
            .contains("more than 8 CNAMEs")
    );
    assert_eq!(
        ctx.resolve("none.contoso.com"),
        Err("`none.contoso.com` has no A, AAAA or CNAME record".to_owned())
    );
    assert!(ctx.in_zone("contoso.com") && ctx.in_zone("a.b.contoso.com."));
    assert!(!ctx.in_zone("notcontoso.com") && !ctx.in_zone("contoso.com.evil.net"));
}

#[test]
fn route_identities_are_parsed() {
    let world = World::new(contoso_failed_over());
    let goal = goal();
    let ctx = Ctx::new(&world, &goal, None);
    assert_eq!(
        ctx.route_pool("EdgeServer:edgepool1.contoso.com")
            .unwrap()
            .fqdn,
        EDGEPOOL1
    );
    assert_eq!(
        ctx.route_pool("edgeserver:EDGEPOOL1.contoso.com")
            .unwrap()
            .fqdn,
        EDGEPOOL1
    );
    assert_eq!(
        ctx.route_pool("edgepool1.contoso.com"),
        Err(crate::RouteProblem::NotEdgeIdentity(
            "edgepool1.contoso.com".into()
        ))
    );
    assert_eq!(
        ctx.route_pool("Registrar:fepool1.contoso.com"),
        Err(crate::RouteProblem::NotEdgeIdentity(
            "Registrar:fepool1.contoso.com".into()
        ))
    );
    assert_eq!(
        ctx.route_pool("EdgeServer:edgepool9.contoso.com"),
        Err(crate::RouteProblem::UnknownPool(
            "edgepool9.contoso.com".into()
        ))
    );
    let pools: Vec<&str> = ctx
        .route_pools(RouteKind::XmppFederation)
        .iter()
        .map(|p| p.fqdn.as_str())
        .collect();
    assert_eq!(pools, [EDGEPOOL2]);
}

#[test]
fn the_reference_of_invariant_1_counts_federated_pools() {
    let mut state = contoso_failed_over();
    assert!(reference::at_most_one_federated_pool(&state));
    pool_mut(&mut state, EDGEPOOL1).unwrap().federation_enabled = true;
    assert!(!reference::at_most_one_federated_pool(&state));
    assert!(reference::at_most_one_federated_pool(&contoso_failed_back()));
}

#[test]
fn the_contoso_states_are_what_the_failback_goes_from_and_to() {
    let end = contoso_failed_back();
    assert!(end.edge_pools[0].federation_enabled && !end.edge_pools[1].federation_enabled);
    assert_eq!(
        end.sites[1].xmpp_federation_route.as_deref(),
        Some("EdgeServer:edgepool1.contoso.com")
    );
    assert_eq!(end.front_end_pools[0].state, PoolState::Normal);
    let xmpp = end.dns.iter().find(|set| set.name == XMPP_A).unwrap();
    assert_eq!(xmpp.data, [RecordData::A(EDGEPOOL1_IP.into())]);
    assert_eq!(xmpp.ttl, TTL);
}

#[test]
fn rule_infos_carry_the_rule_fields() {
    let infos = crate::rule_infos(&[FEDERATED_CACHED, END, DNS_SNAPSHOT, UNKNOWN_OBJECT]);
    assert_eq!(infos[0].id, "test.federated");
    assert_eq!(infos[0].invariants, [1]);
    assert_eq!(infos[0].scope, WitScope::EveryState);
    assert_eq!(infos[1].scope, WitScope::FinalState);
    // The WIT has no rest-or-DNS-step scope: it is reported as every-state.
    assert_eq!(infos[2].scope, WitScope::EveryState);
    assert_eq!(infos[3].id, "policy.unknown-object");
    assert_eq!(infos[3].scope, WitScope::Transition);
    assert!(!infos[3].rationale.is_empty());
}

#[test]
fn an_empty_plan_checks_the_start_as_the_end() {
    let goal = Goal {
        federation_pool: None,
        ..goal()
    };
    let found: Vec<u32> = check(
        &[FEDERATED_CACHED, END],
        goal,
        contoso_failed_over(),
        vec![],
    )
    .into_iter()
    .map(|f| f.state)
    .collect();
    assert_eq!(found, [0, 0]);
}

/// The state number, as the message of one violation on each state it runs on.
const DNS_SNAPSHOT: Rule = Rule {
    id: "test.dns-snapshot",
    family: "test",
    invariants: &[],
    scope: Scope::RestOrDnsStep,
    reads: Reads::ALL,
    rationale: "test",
    check: snapshot,
};

#[test]
fn a_rest_or_dns_step_rule_runs_on_the_start_dns_steps_and_the_end() {
    let steps = failback_plan();
    let states: Vec<u32> = check(
        &[DNS_SNAPSHOT],
        goal(),
        contoso_failed_over(),
        steps.clone(),
    )
    .iter()
    .map(|f| f.state)
    .collect();
    let dns_steps = [
        position(&steps, Action::LowerTtl),
        position(&steps, Action::RepointSipFederationDns),
        position(&steps, Action::SetXmppARecord),
        position(&steps, Action::RestoreTtl),
    ];
    let mut expected = vec![0];
    expected.extend(
        dns_steps
            .iter()
            .map(|&index| u32::try_from(index + 1).unwrap()),
    );
    assert_eq!(states, expected);
    assert_eq!(states, [0, 1, 8, 11, 15]);
    // What it saw there is the state the walk is in.
    let every: Vec<String> = check(&[SNAPSHOT], goal(), contoso_failed_over(), steps.clone())
        .into_iter()
        .map(|f| f.message)
        .collect();
    let dns: Vec<String> = check(&[DNS_SNAPSHOT], goal(), contoso_failed_over(), steps)
        .into_iter()
        .map(|f| f.message)
        .collect();
    let picked: Vec<String> = states.iter().map(|&s| every[s as usize].clone()).collect();
    assert_eq!(dns, picked);
}

#[test]
fn a_rest_or_dns_step_rule_runs_on_a_last_state_without_dns_once() {
    // The plan stops after A12: its last step changes no record set.
    let mut steps = failback_plan();
    steps.truncate(position(&steps, Action::RestoreTtl));
    let states: Vec<u32> = check(&[DNS_SNAPSHOT], goal(), contoso_failed_over(), steps)
        .iter()
        .map(|f| f.state)
        .collect();
    assert_eq!(states, [0, 1, 8, 11, 14]);
    // No step: the start is the end, checked once.
    let states: Vec<u32> = check(&[DNS_SNAPSHOT], goal(), contoso_failed_over(), vec![])
        .iter()
        .map(|f| f.state)
        .collect();
    assert_eq!(states, [0]);
}

fn federated_by_dns(ctx: &Ctx<'_>) -> Vec<Violation> {
    vec![Violation::new(format!(
        "{}/{}",
        ctx.federated_pools().len(),
        ctx.resolve(SIP_A)
            .map(|ips| ips.join(","))
            .unwrap_or_default()
    ))]
}

#[test]
fn a_rest_or_dns_step_rule_is_rerun_for_what_changed_since_it_last_ran() {
    // Federation changes on a step it does not run on, DNS on the next: the
    // result must reflect both, cached or not.
    let cached = Rule {
        id: "test.cached",
        family: "test",
        invariants: &[],
        scope: Scope::RestOrDnsStep,
        reads: Reads::FEDERATION,
        rationale: "test",
        check: federated_by_dns,
    };
    let uncached = Rule {
        reads: Reads::ALL,
        ..cached
    };
    let steps = vec![
        step(Action::SetFederationEdge)
            .change(Change::Federation((EDGEPOOL1.into(), true)))
            .into(),
        step(Action::RepointSipFederationDns)
            .change(Change::Rrset(a(SIP_A, EDGEPOOL1_IP)))
            .into(),
        step(Action::PublishTopology)
            .change(Change::TopologyVersion(8))
            .into(),
    ];
    let found = |rule: Rule| -> Vec<(u32, String)> {
        check(&[rule], goal(), contoso_failed_over(), steps.clone())
            .into_iter()
            .map(|f| (f.state, f.message))
            .collect()
    };
    assert_eq!(
        found(uncached),
        [
            (0, format!("1/{EDGEPOOL2_IP}")),
            (2, format!("2/{EDGEPOOL1_IP}")),
            (3, format!("2/{EDGEPOOL1_IP}")),
        ]
    );
    // Reads only FEDERATION: re-run at state 2 (federation changed at 1), the
    // DNS part of its result is what it read then.
    assert_eq!(found(cached)[1], (2, format!("2/{EDGEPOOL1_IP}")));
    assert_eq!(found(cached).len(), 3);
}

/// The routes of `kind` as the walk over every site finds them, by what they
/// resolve to: the definitions the working state's indexes must agree with.
fn walked_routes_to(
    ctx: &Ctx<'_>,
    kind: RouteKind,
    unresolved: bool,
    pick: impl Fn(&crate::EdgePool) -> bool,
) -> Vec<(String, String)> {
    ctx.routes(kind)
        .into_iter()
        .filter(|(_, identity)| match ctx.route_pool(identity) {
            Ok(pool) => pick(pool),
            Err(_) => unresolved,
        })
        .map(|(site, identity)| (site.name.clone(), identity.to_owned()))
        .collect()
}

fn walked_route_pools(ctx: &Ctx<'_>, kind: RouteKind) -> Vec<String> {
    let mut pools: Vec<&crate::EdgePool> = ctx
        .routes(kind)
        .into_iter()
        .filter_map(|(_, identity)| ctx.route_pool(identity).ok())
        .collect();
    pools.sort_by(|a, b| a.fqdn.cmp(&b.fqdn));
    pools.dedup_by(|a, b| crate::same_name(&a.fqdn, &b.fqdn));
    pools.iter().map(|pool| pool.fqdn.clone()).collect()
}

fn walked_hops(ctx: &Ctx<'_>) -> Vec<(String, String)> {
    ctx.state()
        .edge_pools
        .iter()
        .filter_map(|edge| {
            let front_end = ctx.front_end_pool(edge.next_hop.as_deref()?)?;
            (!front_end.online || front_end.state != PoolState::Normal)
                .then(|| (edge.fqdn.clone(), front_end.fqdn.clone()))
        })
        .collect()
}

fn assert_indexes_agree(world: &World, goal: &Goal, after: &str) {
    let ctx = Ctx::new(world, goal, None);
    let stopped = |pool: &crate::EdgePool| {
        pool.machines.is_empty() || pool.machines.iter().any(|m| !m.services_running)
    };
    let closed = |pool: &crate::EdgePool| !pool.xmpp_port_open;
    for kind in [RouteKind::Federation, RouteKind::XmppFederation] {
        assert_eq!(
            ctx.has_routes(kind),
            !ctx.routes(kind).is_empty(),
            "{after}"
        );
        let pools: Vec<String> = ctx
            .route_pools(kind)
            .iter()
            .map(|pool| pool.fqdn.clone())
            .collect();
        assert_eq!(pools, walked_route_pools(&ctx, kind), "{after}");
        for unresolved in [false, true] {
            for pick in [
                &stopped as &dyn Fn(&crate::EdgePool) -> bool,
                &closed,
                &|_| true,
            ] {
                let indexed: Vec<(String, String)> = ctx
                    .routes_to(kind, unresolved, pick)
                    .into_iter()
                    .map(|(site, identity)| (site.name.clone(), identity.to_owned()))
                    .collect();
                assert_eq!(
                    indexed,
                    walked_routes_to(&ctx, kind, unresolved, pick),
                    "{after}"
                );
            }
        }
    }
    let hops: Vec<(String, String)> = ctx
        .next_hops_out_of_service()
        .into_iter()
        .map(|(edge, front_end)| (edge.fqdn.clone(), front_end.fqdn.clone()))
        .collect();
    assert_eq!(hops, walked_hops(&ctx), "{after}");
}

#[test]
fn the_route_and_next_hop_indexes_follow_every_change() {
    let mut start = contoso_failed_over();
    // More sites, one sharing a name (the first wins), one without routes.
    for name in ["Site3", "site1", "Site4"] {
        start.sites.push(crate::Site {
            name: name.to_owned(),
            federation_route: Some(format!("EdgeServer:{EDGEPOOL1}")),
            xmpp_federation_route: None,
        });
    }
    start.edge_pools[0].next_hop = Some(FEPOOL1.to_owned());
    let goal = goal();
    let mut world = World::new(start);
    assert_indexes_agree(&world, &goal, "the start");
    let sites = ["Site1", "Site2", "Site3", "SITE4.", "Site9"];
    let identities = [
        None,
        Some(format!("EdgeServer:{EDGEPOOL1}")),
        Some(format!("edgeserver:{}.", EDGEPOOL2.to_uppercase())),
        Some("EdgeServer:edgepool9.contoso.com".to_owned()),
        Some(EDGEPOOL1.to_owned()),
        Some("EdgeServer:".to_owned()),
    ];
    let hops = [
        None,
        Some(FEPOOL1),
        Some(FEPOOL2),
        Some("fepool9.contoso.com"),
    ];
    let states = [
        PoolState::Normal,
        PoolState::FailedOver,
        PoolState::FailingBack,
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |bound: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(seed >> 33).unwrap() % bound
    };
    for round in 0..2_000 {
        let change = match next(6) {
            0 | 1 => Change::Route(crate::RouteChange {
                site: sites[next(sites.len())].to_owned(),
                kind: if next(2) == 0 {
                    RouteKind::Federation
                } else {
                    RouteKind::XmppFederation
                },
                identity: identities[next(identities.len())].clone(),
            }),
            2 => Change::NextHop((
                [EDGEPOOL1, EDGEPOOL2, "edgepool9.contoso.com"][next(3)].to_owned(),
                hops[next(hops.len())].map(str::to_owned),
            )),
            3 => Change::PoolState((
                [FEPOOL1, FEPOOL2, "FEPOOL2.contoso.com."][next(3)].to_owned(),
                states[next(states.len())],
            )),
            4 => Change::ServicesRunning((
                [EDGESERVER1, EDGESERVER2][next(2)].to_owned(),
                next(2) == 0,
            )),
            _ => Change::XmppPortOpen(([EDGEPOOL1, EDGEPOOL2][next(2)].to_owned(), next(2) == 0)),
        };
        let after = format!("round {round}: {change:?}");
        let _ = world.apply(change);
        assert_indexes_agree(&world, &goal, &after);
    }
}

#[test]
fn a_borrowed_change_names_the_object_and_case_its_owned_conversion_names() {
    use crate::transition::{named, transition};
    let changes = [
        Change::Federation(("EdgePool1.contoso.com.".into(), true)),
        Change::ServicesRunning((EDGESERVER1.into(), false)),
        Change::ReplicaUpToDate((EDGESERVER2.into(), true)),
        Change::SetupVersion((EDGESERVER1.into(), 3)),
        Change::Route(crate::RouteChange {
            site: "Site9".into(),
            kind: RouteKind::XmppFederation,
            identity: Some("EdgeServer:edgepool9.contoso.com".into()),
        }),
        Change::Rrset(a("sip.contoso.com", EDGEPOOL1_IP)),
        Change::XmppPortOpen((EDGEPOOL2.into(), true)),
        Change::MediaEdgePool((FEPOOL1.into(), Some(EDGEPOOL2.into()))),
        Change::PoolState((FEPOOL2.into(), PoolState::FailingBack)),
        Change::NextHop((EDGEPOOL1.into(), Some(FEPOOL1.into()))),
        Change::CmsAvailable(false),
        Change::TopologyVersion(7),
        Change::DraftPending(true),
    ];
    for change in changes {
        let borrowed = named(&change);
        let owned = transition(change.clone());
        assert_eq!(borrowed.case(), owned.case(), "{change:?}");
        assert_eq!(borrowed.object(), owned.object(), "{change:?}");
    }
}

/// The name indexes key objects by the hash of their name, and the map they
/// use takes the bucket from the hash's low bits: names that differ only in
/// their last characters (`Site0` … `Site999`, `edgepool17.contoso.com`) must
/// spread over the buckets, or each insert probes past every name before it
/// and building the indexes grows with the square of the deployment. (The
/// hasher before this one put all 1,000 `SiteN` names in one bucket.)
#[test]
fn names_that_differ_only_in_their_last_characters_spread_over_the_buckets() {
    let families = [
        ("site", ""),
        ("edgepool", ".contoso.com"),
        ("fepool", ".contoso.com"),
        ("edge", "-1.contoso.com"),
    ];
    for (prefix, suffix) in families {
        let family = format!("{prefix}N{suffix}");
        let hashes: Vec<u64> = (0..1_000)
            .map(|i| crate::world::hash_key(&format!("{prefix}{i}{suffix}")))
            .collect();
        let distinct: std::collections::BTreeSet<u64> = hashes.iter().copied().collect();
        assert_eq!(distinct.len(), 1_000, "{family}: no two names share a hash");
        // 1,000 names in 2,048 buckets: a uniform hash leaves ~790 in use.
        let buckets: std::collections::BTreeSet<u64> = hashes.iter().map(|h| h & 2_047).collect();
        assert!(
            buckets.len() > 700,
            "{family}: 1,000 names fall in {} of 2,048 buckets",
            buckets.len()
        );
    }
}
