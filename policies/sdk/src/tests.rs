//! The engine's own tests: the walk, the order of findings, the re-use of
//! every-state results, unknown objects, name lookups and DNS resolution.

#![allow(clippy::unwrap_used, reason = "a test fails loudly")]

use crate::testing::*;
use crate::{
    Action, Change, Ctx, Goal, PoolState, Reads, RecordData, RecordType, RouteKind, Rule, Scope,
    State, Violation, World, check, reference,
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
    steps[8].changes.push(Change::Rrset(crate::Rrset {
        data: vec![],
        ..a(XMPP_A, EDGEPOOL1_IP)
    }));
    steps[9]
        .changes
        .push(Change::Rrset(a(XMPP_A, EDGEPOOL1_IP)));
    steps[9]
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
    assert_eq!(walked.len(), 15);
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
        &[END, FEDERATED_CACHED, STEP_ACTION],
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
            ("policy.unknown-object".to_owned(), 1, "step 1 changes `federation` of edge pool edgepool9.contoso.com, which the state does not hold".to_owned()),
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
    let steps = vec![builder.change(Change::TopologyVersion(42)).into()];
    let findings = check(&[END], goal(), contoso_failed_over(), steps);
    let unknown: Vec<&crate::Finding> = findings
        .iter()
        .filter(|f| f.rule == crate::UNKNOWN_OBJECT)
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
    let findings = check(&[SNAPSHOT], goal(), contoso_failed_over(), steps);
    assert!(findings.iter().all(|f| f.rule != crate::UNKNOWN_OBJECT));
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
        end.sites[1].xmpp_route.as_deref(),
        Some("EdgeServer:edgepool1.contoso.com")
    );
    assert_eq!(end.front_end_pools[0].state, PoolState::Normal);
    let xmpp = end.dns.iter().find(|set| set.name == XMPP_A).unwrap();
    assert_eq!(xmpp.data, [RecordData::A(EDGEPOOL1_IP.into())]);
    assert_eq!(xmpp.ttl, TTL);
}

#[test]
fn rule_infos_carry_the_rule_fields() {
    let infos = crate::rule_infos(&[FEDERATED_CACHED, END]);
    assert_eq!(infos[0].id, "test.federated");
    assert_eq!(infos[0].invariants, [1]);
    assert_eq!(infos[1].scope, Scope::FinalState);
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
