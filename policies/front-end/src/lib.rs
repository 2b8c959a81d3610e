//! The rules of the Front End family: the Front End pools and the Edge
//! pools that depend on them.
//!
//! Rules: [`MEDIA_EDGE_POOL`] (DESIGN §2 invariant 10, on the final state),
//! [`NEXT_HOP`] (invariant 12, on every state), [`NEXT_HOP_HOME`] (invariant
//! 14, on the final state).

use failback_policy_sdk::{Ctx, PoolState, Reads, Rule, Scope, Violation, same_name};

/// DESIGN §2 invariant 10: after failback, every Front End pool of the
/// restored site uses the goal's media pool as "Associate Edge pool (for media
/// components)", and the association is published (FE-EDGE leaves the publish
/// out: DOMAIN §3.4, §6.15).
pub const MEDIA_EDGE_POOL: Rule = Rule {
    id: "front-end.media-edge-pool",
    family: "front-end",
    invariants: &[10],
    scope: Scope::FinalState,
    reads: Reads::ALL,
    rationale: "after failback the restored site's Front End pools must use their local Edge pool for media again, published",
    check: media_edge_pool,
};

fn media_edge_pool(ctx: &Ctx<'_>) -> Vec<Violation> {
    let goal = ctx.goal();
    let Some(intended) = goal.media_edge_pool.as_deref() else {
        return Vec::new();
    };
    let mut violations: Vec<Violation> = ctx
        .state()
        .front_end_pools
        .iter()
        .filter(|pool| same_name(&pool.site, &goal.restored_site))
        .filter(|pool| {
            !pool
                .media_edge_pool
                .as_deref()
                .is_some_and(|edge| same_name(edge, intended))
        })
        .map(|pool| {
            let current = pool.media_edge_pool.as_deref().unwrap_or("none");
            Violation::new(format!(
                "Front End pool {} of {} uses {current} for media after failback, not {intended}",
                pool.fqdn, pool.site
            ))
            .value("pool", &pool.fqdn)
            .value("media-edge-pool", current)
            .value("intended", intended)
            .hint(format!(
                "associate {} with {intended} for media (reassociate-front-ends) and publish",
                pool.fqdn
            ))
        })
        .collect();
    if ctx.state().draft_pending {
        violations.push(
            Violation::new("the topology draft is not published at the end of the failback")
                .value("draft-pending", true)
                .hint("publish and enable the topology after re-associating the Front End pools"),
        );
    }
    violations
}

/// DESIGN §2 invariant 12: no Edge pool's next hop is a Front End pool that is
/// down (not online), failed over or failing back: federation, XMPP and
/// external access through that Edge stop, and `Invoke-CsPoolFailover` errors
/// (POOL-FO; DOMAIN §6.17).
pub const NEXT_HOP: Rule = Rule {
    id: "front-end.next-hop",
    family: "front-end",
    invariants: &[12],
    scope: Scope::EveryState,
    reads: Reads::NEXT_HOP.and(Reads::POOL_STATE),
    rationale: "an Edge pool whose next hop is a failed or failed-over Front End pool stops external access, federation and XMPP",
    check: next_hop,
};

fn next_hop(ctx: &Ctx<'_>) -> Vec<Violation> {
    // The Edge pools whose next hop is a Front End pool of the state that is
    // down or not normal, from the working state's index (no walk over every
    // Edge pool); a next hop that names no Front End pool is not judged.
    ctx.next_hops_out_of_service()
        .into_iter()
        .filter_map(|(edge, front_end)| {
            let why = match (front_end.online, front_end.state) {
                (false, _) => "is down",
                (true, PoolState::FailedOver) => "is failed over",
                (true, PoolState::FailingBack) => "is failing back",
                (true, PoolState::Normal) => return None,
            };
            Some(
                Violation::new(format!(
                    "Edge pool {}'s next hop {} {why}",
                    edge.fqdn, front_end.fqdn
                ))
                .value("edge-pool", &edge.fqdn)
                .value("next-hop", &front_end.fqdn)
                .value("online", front_end.online)
                .value("state", match front_end.state {
                    PoolState::Normal => "normal",
                    PoolState::FailedOver => "failed-over",
                    PoolState::FailingBack => "failing-back",
                })
                .hint(format!(
                    "point {}'s next hop at a Front End pool that is online and not failed over before the change",
                    edge.fqdn
                )),
            )
        })
        .collect()
}

/// Invariant 14 (docs/policies.md; DESIGN §2 numbering): after failback, the
/// restored Edge pool's next hop is the goal's Front End pool, a pool of the
/// Edge pool's own site. The pool-failover procedure moves the next hop to the
/// other site's Front End pool; `Invoke-CsPoolFailback` does not move it back,
/// so a failback that leaves it keeps the restored site's federation, XMPP and
/// external access depending on the other site (POOL-FO; DOMAIN §6.17).
pub const NEXT_HOP_HOME: Rule = Rule {
    id: "front-end.next-hop-home",
    family: "front-end",
    invariants: &[14],
    scope: Scope::FinalState,
    reads: Reads::ALL,
    rationale: "after failback the restored Edge pool must route through a Front End pool of its own site again, or its federation depends on the other site",
    check: next_hop_home,
};

fn next_hop_home(ctx: &Ctx<'_>) -> Vec<Violation> {
    let Some(goal) = ctx.goal().next_hop.as_ref() else {
        return Vec::new();
    };
    let state = ctx.state();
    let site_of = |fqdn: &str| {
        state
            .front_end_pools
            .iter()
            .find(|p| same_name(&p.fqdn, fqdn))
            .map(|p| p.site.as_str())
    };
    let Some(edge) = state
        .edge_pools
        .iter()
        .find(|p| same_name(&p.fqdn, &goal.edge_pool))
    else {
        return Vec::new();
    };
    let current = edge.next_hop.as_deref();
    let home = current.is_some_and(|hop| {
        same_name(hop, &goal.front_end_pool)
            && site_of(hop).is_some_and(|site| same_name(site, &edge.site))
    });
    if home {
        return Vec::new();
    }
    let current_name = current.unwrap_or("none");
    let where_ = current
        .and_then(site_of)
        .map_or_else(String::new, |site| format!(" of {site}"));
    vec![
        Violation::new(format!(
            "Edge pool {} of {} routes through {current_name}{where_} after failback, not {}",
            edge.fqdn, edge.site, goal.front_end_pool
        ))
        .value("edge-pool", &edge.fqdn)
        .value("next-hop", current_name)
        .value("intended", &goal.front_end_pool)
        .hint(format!(
            "set {}'s next hop to {} (restore-next-hop) after it is failed back, publish, and run setup on the Edge machines",
            edge.fqdn, goal.front_end_pool
        )),
    ]
}

/// The rules of this family, in report order: the standard policy module
/// (`failback-policies`) exports them after the families before it.
pub static RULES: &[Rule] = &[MEDIA_EDGE_POOL, NEXT_HOP, NEXT_HOP_HOME];

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
    fn the_failback_plan_restoring_the_next_hop_passes() {
        assert_eq!(
            fired(
                RULES,
                next_hop_goal(),
                contoso_failed_over(),
                failback_plan_restoring_next_hop()
            ),
            vec![]
        );
    }

    #[test]
    fn a_failback_that_leaves_the_next_hop_in_the_other_site_fails_at_the_end() {
        let findings = check(
            &[NEXT_HOP_HOME],
            next_hop_goal(),
            contoso_failed_over(),
            failback_plan(),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].state, 15);
        assert_eq!(
            findings[0].message,
            "Edge pool edgepool1.contoso.com of Site1 routes through fepool2.contoso.com of Site2 after failback, not fepool1.contoso.com"
        );
        assert_eq!(
            findings[0].values,
            [
                "edge-pool=edgepool1.contoso.com",
                "next-hop=fepool2.contoso.com",
                "intended=fepool1.contoso.com"
            ]
        );
    }

    #[test]
    fn a_next_hop_on_a_front_end_pool_of_another_site_than_the_goal_says_fails() {
        let mut steps = failback_plan_restoring_next_hop();
        let index = position(&steps, Action::RestoreNextHop);
        steps[index].changes[0] = Change::NextHop((EDGEPOOL1.into(), Some(FEPOOL2.into())));
        let fired = fired(
            &[NEXT_HOP_HOME],
            next_hop_goal(),
            contoso_failed_over(),
            steps,
        );
        assert_eq!(fired, [("front-end.next-hop-home".to_owned(), 20)]);
    }

    #[test]
    fn without_a_next_hop_in_the_goal_the_rule_does_not_judge() {
        assert_eq!(
            fired(
                &[NEXT_HOP_HOME],
                goal(),
                contoso_failed_over(),
                failback_plan()
            ),
            vec![]
        );
    }

    #[test]
    fn a_front_end_pool_left_on_the_failover_edge_pool_fails() {
        let mut steps = failback_plan();
        let index = position(&steps, Action::ReassociateFrontEnds);
        steps[index]
            .changes
            .retain(|change| !matches!(change, Change::MediaEdgePool(_)));
        let findings = check(&[MEDIA_EDGE_POOL], goal(), contoso_failed_over(), steps);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].state, 15);
        assert_eq!(
            findings[0].message,
            "Front End pool fepool1.contoso.com of Site1 uses edgepool2.contoso.com for media after failback, not edgepool1.contoso.com"
        );
    }

    #[test]
    fn a_reassociation_left_unpublished_fails() {
        let mut steps = failback_plan();
        let index = position(&steps, Action::ReassociateFrontEnds);
        steps[index].changes = vec![
            Change::MediaEdgePool((FEPOOL1.into(), Some(EDGEPOOL1.into()))),
            Change::DraftPending(true),
        ];
        let findings = check(&[MEDIA_EDGE_POOL], goal(), contoso_failed_over(), steps);
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "the topology draft is not published at the end of the failback"
        );
    }

    #[test]
    fn an_edge_next_hop_on_a_failed_over_pool_fires_while_it_lasts() {
        let steps = vec![
            step(Action::PublishTopology)
                .change(Change::NextHop((EDGEPOOL1.into(), Some(FEPOOL1.into()))))
                .into(),
            step(Action::PoolFailback)
                .change(Change::PoolState((FEPOOL1.into(), PoolState::FailingBack)))
                .into(),
            step(Action::PoolFailback)
                .change(Change::PoolState((FEPOOL1.into(), PoolState::Normal)))
                .into(),
        ];
        let findings = check(&[NEXT_HOP], goal(), contoso_failed_over(), steps);
        let found: Vec<(u32, &str)> = findings
            .iter()
            .map(|f| (f.state, f.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    1,
                    "Edge pool edgepool1.contoso.com's next hop fepool1.contoso.com is failed over"
                ),
                (
                    2,
                    "Edge pool edgepool1.contoso.com's next hop fepool1.contoso.com is failing back"
                ),
            ]
        );
    }

    #[test]
    fn an_edge_next_hop_on_a_pool_that_is_down_fires() {
        let mut start = contoso_failed_over();
        front_end_mut(&mut start, FEPOOL2).unwrap().online = false;
        assert_eq!(
            fired(&[NEXT_HOP], goal(), start, vec![]),
            [
                ("front-end.next-hop".to_owned(), 0),
                ("front-end.next-hop".to_owned(), 0)
            ]
        );
    }

    #[test]
    fn an_unknown_object_is_left_to_the_federation_family() {
        let steps = vec![
            step(Action::ReassociateFrontEnds)
                .change(Change::MediaEdgePool(("fepool9.contoso.com".into(), None)))
                .into(),
        ];
        let fired = fired(RULES, goal(), contoso_failed_over(), steps);
        assert_eq!(fired, [("front-end.media-edge-pool".to_owned(), 1)]);
    }
}
