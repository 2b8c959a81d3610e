//! The rules of the XMPP family: the XMPP route leads to a pool whose
//! services run and whose TCP 5269 is reachable from outside, and after
//! failback every site routes XMPP through the intended pool.
//!
//! Rules: [`ROUTE_SERVICES_RUNNING`] (DESIGN §2 invariant 2, XMPP routes),
//! [`PORT_OPEN`] (invariant 5), [`FINAL_ROUTES`] (invariant 9, XMPP part). The
//! XMPP DNS records (invariants 6, 7) are in `failback-policy-dns`.

use failback_policy_sdk::{Ctx, Reads, RouteKind, Rule, Scope, Violation, routes};

/// DESIGN §2 invariant 2, XMPP part: no site's XMPP route names a pool whose
/// Edge services are not running on every machine (or that is no Edge pool);
/// with its pool down "both outbound and inbound traffic will fail" (EDGE-DR).
pub const ROUTE_SERVICES_RUNNING: Rule = Rule {
    id: "xmpp.route-services-running",
    family: "xmpp",
    invariants: &[2],
    scope: Scope::EveryState,
    reads: Reads::ROUTES.and(Reads::SERVICES),
    rationale: "an XMPP route to an Edge pool whose services are stopped fails XMPP both ways",
    check: |ctx| routes::services_running(ctx, RouteKind::XmppFederation),
};

/// DESIGN §2 invariant 5: every pool an XMPP route names has TCP 5269
/// reachable from outside (`xmpp-port-open`), or partners' servers cannot
/// connect (FB "verify port 5269 open externally").
pub const PORT_OPEN: Rule = Rule {
    id: "xmpp.port-open",
    family: "xmpp",
    invariants: &[5],
    scope: Scope::EveryState,
    reads: Reads::ROUTES.and(Reads::XMPP_PORT),
    rationale: "XMPP partners reach the route's pool on TCP 5269; closed, XMPP federation fails",
    check: port_open,
};

fn port_open(ctx: &Ctx<'_>) -> Vec<Violation> {
    // A route that names no pool is invariant 2's finding: left out.
    ctx.routes_to(RouteKind::XmppFederation, false, |pool| !pool.xmpp_port_open)
        .into_iter()
        .filter_map(|(site, identity)| {
            let pool = ctx.route_pool(identity).ok()?;
            (!pool.xmpp_port_open).then(|| {
                Violation::new(format!(
                    "site {} XMPP route names {}, whose TCP 5269 is not reachable from outside",
                    site.name, pool.fqdn
                ))
                .value("site", &site.name)
                .value("route", identity)
                .value("pool", &pool.fqdn)
                .value("xmpp-port-open", pool.xmpp_port_open)
                .hint(format!(
                    "open TCP 5269 to {}'s Access Edge IPs from outside and verify it (verify-xmpp-port) before routing XMPP to it",
                    pool.fqdn
                ))
            })
        })
        .collect()
}

/// DESIGN §2 invariant 9, XMPP part: after failback the restored site's XMPP
/// route names the goal's XMPP pool and no other site's XMPP route names
/// another pool (FO-XMPP set Site2's route; FB only sets Site1's: DOMAIN §3.6).
pub const FINAL_ROUTES: Rule = Rule {
    id: "xmpp.final-routes",
    family: "xmpp",
    invariants: &[9],
    scope: Scope::FinalState,
    reads: Reads::ALL,
    rationale: "after failback every site must route XMPP through the restored pool; failover leaves Site2's route behind",
    check: |ctx| match ctx.goal().xmpp_pool.as_deref() {
        Some(intended) => routes::final_routes(ctx, RouteKind::XmppFederation, intended),
        None => Vec::new(),
    },
};

/// The rules of this family, in report order: the standard policy module
/// (`failback-policies`) exports them after the families before it.
pub static RULES: &[Rule] = &[ROUTE_SERVICES_RUNNING, PORT_OPEN, FINAL_ROUTES];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]
    use super::*;
    use failback_policy_sdk::testing::*;
    use failback_policy_sdk::{Action, Change, check};

    #[test]
    fn the_failback_plan_passes() {
        assert_eq!(
            fired(RULES, goal(), contoso_failed_over(), failback_plan()),
            vec![]
        );
    }

    #[test]
    fn an_xmpp_federation_route_to_a_stopped_pool_fires() {
        let steps = vec![
            step(Action::SetXmppFederationRoute)
                .change(route_change("Site1", RouteKind::XmppFederation, EDGEPOOL1))
                .into(),
            step(Action::StartEdgeServices)
                .change(Change::ServicesRunning((EDGESERVER1.into(), true)))
                .into(),
        ];
        assert_eq!(
            fired(
                &[ROUTE_SERVICES_RUNNING],
                goal(),
                contoso_failed_over(),
                steps
            ),
            vec![("xmpp.route-services-running".into(), 1)]
        );
    }

    #[test]
    fn an_xmpp_federation_route_to_an_unknown_pool_fires() {
        let steps = vec![
            step(Action::SetXmppFederationRoute)
                .change(route_change(
                    "Site1",
                    RouteKind::XmppFederation,
                    "edgepool9.contoso.com",
                ))
                .into(),
        ];
        let findings = check(
            &[ROUTE_SERVICES_RUNNING],
            goal(),
            contoso_failed_over(),
            steps,
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "site Site1 XMPP route `EdgeServer:edgepool9.contoso.com` leads to no Edge pool: `edgepool9.contoso.com` is not an Edge pool of the topology"
        );
    }

    #[test]
    fn an_xmpp_federation_route_to_a_pool_with_5269_closed_fires() {
        let mut start = contoso_failed_over();
        pool_mut(&mut start, EDGEPOOL1).unwrap().xmpp_port_open = false;
        let mut steps = failback_plan();
        // Verify the port only after the route moved: the route step fires.
        let index = position(&steps, Action::VerifyXmppPort);
        steps[index].changes.clear();
        let a7 = position(&steps, Action::SetXmppFederationRoute);
        let findings = check(&[PORT_OPEN], goal(), start, steps);
        let states: Vec<u32> = findings.iter().map(|f| f.state).collect();
        // Both sites' XMPP routes name edgepool1 from A7 (state 9) until the end.
        assert_eq!(a7, 8);
        let expected: Vec<u32> = (9..=15).flat_map(|state| [state, state]).collect();
        assert_eq!(states, expected);
        assert_eq!(
            findings[0].message,
            "site Site1 XMPP route names edgepool1.contoso.com, whose TCP 5269 is not reachable from outside"
        );
        assert!(
            findings[0]
                .values
                .contains(&"xmpp-port-open=false".to_owned())
        );
    }

    #[test]
    fn verifying_5269_before_the_route_change_passes() {
        let mut start = contoso_failed_over();
        pool_mut(&mut start, EDGEPOOL1).unwrap().xmpp_port_open = false;
        let mut steps = failback_plan();
        let verify = steps.remove(position(&steps, Action::VerifyXmppPort));
        steps.insert(position(&steps, Action::SetXmppFederationRoute), verify);
        assert_eq!(fired(&[PORT_OPEN], goal(), start, steps), vec![]);
    }

    #[test]
    fn a_site_left_on_the_failover_xmpp_pool_fails_the_final_routes() {
        let mut steps = failback_plan();
        let index = position(&steps, Action::SetXmppFederationRoute);
        steps[index]
            .changes
            .retain(|change| !matches!(change, Change::Route(route) if route.site == "Site2"));
        let findings = check(&[FINAL_ROUTES], goal(), contoso_failed_over(), steps);
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "site Site2 XMPP route is `EdgeServer:edgepool2.contoso.com` after failback, not the intended `EdgeServer:edgepool1.contoso.com`"
        );
        assert!(findings[0].values.contains(&"site=Site2".to_owned()));
    }

    #[test]
    fn the_restored_site_without_an_xmpp_federation_route_fails_the_final_routes() {
        let mut end = contoso_failed_back();
        site_mut(&mut end, "Site1").unwrap().xmpp_federation_route = None;
        assert_eq!(
            fired(&[FINAL_ROUTES], goal(), end, vec![]),
            vec![("xmpp.final-routes".into(), 0)]
        );
    }

    #[test]
    fn an_unknown_object_is_left_to_the_federation_family() {
        let steps = vec![
            step(Action::SetXmppFederationRoute)
                .change(route_change("Site9", RouteKind::XmppFederation, EDGEPOOL1))
                .into(),
        ];
        // Only the final-routes findings of a plan that is no failback.
        let rules: Vec<String> = fired(RULES, goal(), contoso_failed_over(), steps)
            .into_iter()
            .map(|(rule, _)| rule)
            .collect();
        assert_eq!(rules, ["xmpp.final-routes", "xmpp.final-routes"]);
    }
}
