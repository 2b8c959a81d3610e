//! The rules of the federation family: SIP federation lives on one Edge
//! pool, its routes lead to running services, and after failback every site
//! routes federation through the intended pool.
//!
//! Rules: [`SINGLE_POOL`] (DESIGN §2 invariant 1), [`ROUTE_SERVICES_RUNNING`]
//! (invariant 2, federation routes), [`FINAL_ROUTES`] (invariant 9, federation
//! part). The XMPP parts of 2 and 9 are in `failback-policy-xmpp`.
//!
//! It also lists the SDK's [`UNKNOWN_OBJECT`] (`policy.unknown-object`): a
//! step changes an object the state does not hold. One family lists it — this
//! one, listed first — so that the standard module, which runs every family's
//! rules, reports each such finding once.

use failback_policy_sdk::{
    Ctx, Reads, RouteKind, Rule, Scope, UNKNOWN_OBJECT, Violation, edge_identity, join, routes,
    same_name,
};

/// DESIGN §2 invariant 1: at most one Edge pool has federation enabled.
/// Topology Builder allows one pool "actively for federation"; two split
/// outbound federation (DOMAIN §6.1). Fires on the state that enables the
/// second pool, and on every state while two stay enabled.
pub const SINGLE_POOL: Rule = Rule {
    id: "federation.single-pool",
    family: "federation",
    invariants: &[1],
    scope: Scope::EveryState,
    reads: Reads::FEDERATION,
    rationale: "only one Edge pool may be enabled for federation; two split outbound SIP federation",
    check: single_pool,
};

fn single_pool(ctx: &Ctx<'_>) -> Vec<Violation> {
    let pools = ctx.federated_pools();
    if pools.len() <= 1 {
        return Vec::new();
    }
    let names: Vec<&str> = pools.iter().map(|pool| pool.fqdn.as_str()).collect();
    let mut violation = Violation::new(format!(
        "{} pools with federation enabled: {}",
        pools.len(),
        join(&names)
    ))
    .value("federated-pools", pools.len());
    for name in &names {
        violation = violation.value("pool", name);
    }
    vec![violation.hint(
        "clear \"Enable federation (port 5061)\" on the pool that has it in the same topology edit \
         that sets it on the restored pool (set-federation-edge), so one pool has it",
    )]
}

/// DESIGN §2 invariant 2, federation part: no site's federation route names a
/// pool whose Edge services are not running on every machine (or that is no
/// Edge pool at all); federation traffic to it drops (DOMAIN §6.3).
pub const ROUTE_SERVICES_RUNNING: Rule = Rule {
    id: "federation.route-services-running",
    family: "federation",
    invariants: &[2],
    scope: Scope::EveryState,
    reads: Reads::ROUTES.and(Reads::SERVICES),
    rationale: "a federation route to an Edge pool whose services are stopped drops federation traffic",
    check: |ctx| routes::services_running(ctx, RouteKind::Federation),
};

/// DESIGN §2 invariant 9, federation part: after failback the restored site's
/// federation route names the goal's federation pool, no other site's route
/// names another pool, and that pool is the one with federation enabled
/// (failover may leave Site2's route behind: DOMAIN §3.6, §6.14).
pub const FINAL_ROUTES: Rule = Rule {
    id: "federation.final-routes",
    family: "federation",
    invariants: &[9],
    scope: Scope::FinalState,
    reads: Reads::ALL,
    rationale: "after failback every site must route SIP federation through the restored pool, not the failover pool",
    check: final_routes,
};

fn final_routes(ctx: &Ctx<'_>) -> Vec<Violation> {
    let Some(intended) = ctx.goal().federation_pool.as_deref() else {
        return Vec::new();
    };
    let mut violations = routes::final_routes(ctx, RouteKind::Federation, intended);
    let federated = ctx.federated_pools();
    let enabled_on_intended = federated.iter().any(|pool| same_name(&pool.fqdn, intended));
    if !enabled_on_intended {
        let names: Vec<&str> = federated.iter().map(|pool| pool.fqdn.as_str()).collect();
        violations.push(
            Violation::new(format!(
                "federation is not enabled on the intended pool {intended} after failback (enabled on: {})",
                if names.is_empty() { "none".to_owned() } else { join(&names) }
            ))
            .value("intended", edge_identity(intended))
            .value("federated-pools", join(&names))
            .hint(format!(
                "set \"Enable federation (port 5061)\" on {intended} (set-federation-edge) and publish"
            )),
        );
    }
    violations
}

/// The rules of this family, in report order: the standard policy module
/// (`failback-policies`) exports them after the families before it.
pub static RULES: &[Rule] = &[
    SINGLE_POOL,
    ROUTE_SERVICES_RUNNING,
    FINAL_ROUTES,
    UNKNOWN_OBJECT,
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]
    use super::*;
    use failback_policy_sdk::testing::*;
    use failback_policy_sdk::{Action, Change, check, rule_infos};

    #[test]
    fn the_failback_plan_passes() {
        assert_eq!(
            fired(RULES, goal(), contoso_failed_over(), failback_plan()),
            vec![]
        );
    }

    #[test]
    fn enabling_the_restored_pool_before_disabling_the_other_fires_at_that_step() {
        let steps = vec![
            step(Action::StartEdgeServices)
                .change(Change::ServicesRunning((EDGESERVER1.into(), true)))
                .into(),
            step(Action::SetFederationEdge)
                .change(Change::Federation((EDGEPOOL1.into(), true)))
                .into(),
            step(Action::SetFederationEdge)
                .change(Change::Federation((EDGEPOOL2.into(), false)))
                .into(),
        ];
        let findings = check(&[SINGLE_POOL], goal(), contoso_failed_over(), steps);
        assert_eq!(findings.len(), 1);
        let finding = &findings[0];
        assert_eq!(finding.rule, "federation.single-pool");
        assert_eq!(finding.state, 2);
        assert_eq!(
            finding.message,
            "2 pools with federation enabled: edgepool1.contoso.com, edgepool2.contoso.com"
        );
        assert_eq!(
            finding.values,
            vec![
                "federated-pools=2",
                "pool=edgepool1.contoso.com",
                "pool=edgepool2.contoso.com"
            ]
        );
        assert!(!finding.hint.is_empty());
    }

    #[test]
    fn two_federated_pools_at_the_start_fire_on_every_state_until_repaired() {
        let mut start = contoso_failed_over();
        pool_mut(&mut start, EDGEPOOL1).unwrap().federation_enabled = true;
        let steps = vec![
            step(Action::LowerTtl).into(),
            step(Action::SetFederationEdge)
                .change(Change::Federation((EDGEPOOL2.into(), false)))
                .into(),
        ];
        assert_eq!(
            fired(&[SINGLE_POOL], goal(), start, steps),
            vec![
                ("federation.single-pool".into(), 0),
                ("federation.single-pool".into(), 1)
            ]
        );
    }

    #[test]
    fn a_federation_route_to_a_stopped_pool_fires() {
        // Routing federation to edgepool1 before its services are started (A1).
        let steps = vec![
            step(Action::SetFederationEdge)
                .change(route_change("Site1", RouteKind::Federation, EDGEPOOL1))
                .into(),
        ];
        let findings = check(
            &[ROUTE_SERVICES_RUNNING],
            goal(),
            contoso_failed_over(),
            steps,
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].state, 1);
        assert_eq!(
            findings[0].message,
            "site Site1 federation route names edgepool1.contoso.com, whose Edge services are not running on edgeserver1.contoso.com"
        );
        assert!(
            findings[0]
                .values
                .contains(&"stopped=edgeserver1.contoso.com".to_owned())
        );
    }

    #[test]
    fn a_federation_route_with_a_bare_fqdn_fires() {
        let mut start = contoso_failed_over();
        site_mut(&mut start, "Site2").unwrap().federation_route = Some(EDGEPOOL2.into());
        let findings = check(&[ROUTE_SERVICES_RUNNING], goal(), start, vec![]);
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0]
                .message
                .contains("is not an `EdgeServer:<pool fqdn>` identity")
        );
    }

    #[test]
    fn a_site_left_on_the_failover_pool_fails_the_final_routes() {
        let mut steps = failback_plan();
        // Drop the Site2 federation route change from set-federation-edge.
        let index = position(&steps, Action::SetFederationEdge);
        steps[index]
            .changes
            .retain(|change| !matches!(change, Change::Route(route) if route.site == "Site2"));
        let findings = check(&[FINAL_ROUTES], goal(), contoso_failed_over(), steps);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].state, 15);
        assert_eq!(
            findings[0].message,
            "site Site2 federation route is `EdgeServer:edgepool2.contoso.com` after failback, not the intended `EdgeServer:edgepool1.contoso.com`"
        );
    }

    #[test]
    fn federation_left_on_the_failover_pool_fails_the_final_routes() {
        let findings = check(&[FINAL_ROUTES], goal(), contoso_failed_over(), vec![]);
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(findings.len(), 3, "{messages:?}");
        assert!(messages[2].starts_with("federation is not enabled on the intended pool"));
    }

    #[test]
    fn the_rules_name_their_invariants() {
        let infos = rule_infos(RULES);
        let ids: Vec<&str> = infos.iter().map(|info| info.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "federation.single-pool",
                "federation.route-services-running",
                "federation.final-routes",
                "policy.unknown-object"
            ]
        );
        assert!(infos[..3].iter().all(|info| info.family == "federation"));
        assert_eq!(infos[3].family, "policy");
        assert_eq!(infos[3].scope, failback_policy_sdk::WitScope::Transition);
        assert!(infos[3].invariants.is_empty() && !infos[3].rationale.is_empty());
    }

    #[test]
    fn a_change_naming_an_unknown_object_is_reported_here() {
        let steps = vec![
            step(Action::StartEdgeServices)
                .change(Change::ServicesRunning((
                    "edgeserver9.contoso.com".into(),
                    true,
                )))
                .into(),
        ];
        let findings = check(RULES, goal(), contoso_failed_over(), steps);
        let unknown: Vec<(&str, u32, &str)> = findings
            .iter()
            .filter(|f| f.rule == UNKNOWN_OBJECT.id)
            .map(|f| (f.rule.as_str(), f.state, f.message.as_str()))
            .collect();
        assert_eq!(
            unknown,
            [(
                "policy.unknown-object",
                1,
                "the step changes `services-running` of edge machine edgeserver9.contoso.com, which the state does not hold"
            )]
        );
    }
}
