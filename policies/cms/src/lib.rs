//! The rules of the management store family: what acts on the management
//! store or on a machine's replica of it runs only when the store can take it.
//!
//! Rules, all on transitions (they judge a step against the state it starts
//! from): [`SETUP_AFTER_REPLICATION`] (DESIGN §2 invariant 3),
//! [`STORE_AVAILABLE`] (invariant 4), [`POOL_FAILBACK_FQDN`] (invariant 11).

use failback_policy_sdk::{
    Action, Change, Ctx, PoolState, Reads, Rule, Scope, Violation, same_name,
};

/// DESIGN §2 invariant 3: "Run Again" setup (run-edge-setup) on an Edge
/// machine runs only once the topology edits are published (no draft pending)
/// and that machine's replica of the management store is up to date: setup
/// applies the local replica (INST-EDGE, VERIFY-REPL; DOMAIN §6.4).
pub const SETUP_AFTER_REPLICATION: Rule = Rule {
    id: "cms.setup-after-replication",
    family: "cms",
    invariants: &[3],
    scope: Scope::Transition,
    reads: Reads::ALL,
    rationale: "Run Again applies the machine's local replica: before publish and replication it applies the old topology",
    check: setup_after_replication,
};

fn setup_after_replication(ctx: &Ctx<'_>) -> Vec<Violation> {
    let Some(step) = ctx.step() else {
        return Vec::new();
    };
    if step.action != Action::RunEdgeSetup {
        return Vec::new();
    }
    let Some(target) = step.target.as_deref() else {
        return vec![
            Violation::new("run-edge-setup names no Edge machine")
                .value("target", "none")
                .hint("name the Edge machine setup runs on as the step's target"),
        ];
    };
    let Some((pool, machine)) = ctx.machine(target) else {
        return vec![
            Violation::new(format!(
                "run-edge-setup targets {target}, which is no Edge machine of the topology"
            ))
            .value("target", target)
            .hint("name an Edge machine of the topology as the step's target"),
        ];
    };
    let state = ctx.state();
    let mut violations = Vec::new();
    if state.draft_pending {
        violations.push(
            Violation::new(format!(
                "run-edge-setup on {} while the topology draft is not published (published version {})",
                machine.fqdn, state.topology_version
            ))
            .value("machine", &machine.fqdn)
            .value("draft-pending", true)
            .value("topology-version", state.topology_version)
            .hint("publish and enable the topology (publish-topology) before Run Again"),
        );
    }
    if !machine.replica_up_to_date {
        violations.push(
            Violation::new(format!(
                "run-edge-setup on {} of {} while its replica of the management store is not up to date",
                machine.fqdn, pool.fqdn
            ))
            .value("machine", &machine.fqdn)
            .value("replica-up-to-date", false)
            .value("topology-version", state.topology_version)
            .hint(format!(
                "wait until {}'s replica is up to date (await-replication; Invoke-CsManagementStoreReplication) before Run Again",
                machine.fqdn
            )),
        );
    }
    violations
}

/// DESIGN §2 invariant 4: the management store has an active master when a
/// step publishes (publish-topology, or any step that changes the published
/// topology version) or fails a pool back (POOL-FO: the CMS "must be
/// functional"; DOMAIN §6.5).
pub const STORE_AVAILABLE: Rule = Rule {
    id: "cms.available",
    family: "cms",
    invariants: &[4],
    scope: Scope::Transition,
    reads: Reads::ALL,
    rationale: "publishing and pool failback need the management store's active master",
    check: cms_available,
};

fn cms_available(ctx: &Ctx<'_>) -> Vec<Violation> {
    let Some(step) = ctx.step() else {
        return Vec::new();
    };
    let publishes = step.action == Action::PublishTopology
        || step
            .changes
            .iter()
            .any(|change| matches!(change, Change::TopologyVersion(_)));
    let what = match step.action {
        Action::PoolFailback => "pool-failback",
        _ if publishes => "a publish",
        _ => return Vec::new(),
    };
    if ctx.state().cms_available {
        return Vec::new();
    }
    vec![
        Violation::new(format!(
            "{what} ({}) runs while the management store has no active master",
            action_name(step.action)
        ))
        .value("action", action_name(step.action))
        .value("cms-available", false)
        .hint("restore the management store (Get-CsManagementStoreReplicationStatus -CentralManagementStoreStatus shows an ActiveMasterFqdn) first"),
    ]
}

/// DESIGN §2 invariant 11: pool-failback runs only for a Front End pool that
/// is failed over, with the `-PoolFqdn` it was failed over with ("the pool
/// FQDN used during failback must be the same FQDN used during failover").
pub const POOL_FAILBACK_FQDN: Rule = Rule {
    id: "cms.pool-failback-fqdn",
    family: "cms",
    invariants: &[11],
    scope: Scope::Transition,
    reads: Reads::ALL,
    rationale: "Invoke-CsPoolFailback fails unless the pool is failed over and -PoolFqdn is the failover's",
    check: pool_failback_fqdn,
};

fn pool_failback_fqdn(ctx: &Ctx<'_>) -> Vec<Violation> {
    let Some(step) = ctx.step() else {
        return Vec::new();
    };
    if step.action != Action::PoolFailback {
        return Vec::new();
    }
    let Some(target) = step.target.as_deref() else {
        return vec![
            Violation::new("pool-failback names no Front End pool")
                .value("target", "none")
                .hint("name the failed-over Front End pool as the step's target"),
        ];
    };
    let Some(pool) = ctx.front_end_pool(target) else {
        return vec![
            Violation::new(format!(
                "pool-failback targets {target}, which is no Front End pool of the topology"
            ))
            .value("target", target)
            .hint("name a failed-over Front End pool of the topology"),
        ];
    };
    let mut violations = Vec::new();
    if pool.state != PoolState::FailedOver {
        violations.push(
            Violation::new(format!(
                "pool-failback of {} whose state is {}, not failed-over",
                pool.fqdn,
                state_name(pool.state)
            ))
            .value("pool", &pool.fqdn)
            .value("state", state_name(pool.state))
            .hint("fail back only a pool that is failed over"),
        );
    }
    let argument = step.argument.as_deref();
    let failover = pool.failover_fqdn.as_deref();
    let matches = matches!((argument, failover), (Some(a), Some(f)) if same_name(a, f));
    if pool.state == PoolState::FailedOver && !matches {
        violations.push(
            Violation::new(format!(
                "pool-failback of {} runs with -PoolFqdn {}, but the pool was failed over with {}",
                pool.fqdn,
                argument.unwrap_or("(none)"),
                failover.unwrap_or("(unknown)")
            ))
            .value("pool", &pool.fqdn)
            .value("pool-fqdn", argument.unwrap_or("none"))
            .value("failover-fqdn", failover.unwrap_or("none"))
            .hint(format!(
                "run Invoke-CsPoolFailback -PoolFqdn {}",
                failover.unwrap_or("<the failover's -PoolFqdn>")
            )),
        );
    }
    violations
}

fn state_name(state: PoolState) -> &'static str {
    match state {
        PoolState::Normal => "normal",
        PoolState::FailedOver => "failed-over",
        PoolState::FailingBack => "failing-back",
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::LowerTtl => "lower-ttl",
        Action::StartEdgeServices => "start-edge-services",
        Action::SetFederationEdge => "set-federation-edge",
        Action::PublishTopology => "publish-topology",
        Action::AwaitReplication => "await-replication",
        Action::RunEdgeSetup => "run-edge-setup",
        Action::RepointSipFederationDns => "repoint-sip-federation-dns",
        Action::SetXmppFederationRoute => "set-xmpp-federation-route",
        Action::EnsureXmppSrv => "ensure-xmpp-srv",
        Action::SetXmppARecord => "set-xmpp-a-record",
        Action::VerifyXmppPort => "verify-xmpp-port",
        Action::ReassociateFrontEnds => "reassociate-front-ends",
        Action::PoolFailback => "pool-failback",
        Action::RestoreNextHop => "restore-next-hop",
        Action::RestoreTtl => "restore-ttl",
    }
}

/// The rules of this family, in report order: the standard policy module
/// (`failback-policies`) exports them after the families before it.
pub static RULES: &[Rule] = &[SETUP_AFTER_REPLICATION, STORE_AVAILABLE, POOL_FAILBACK_FQDN];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]
    use super::*;
    use failback_policy_sdk::testing::*;
    use failback_policy_sdk::{Step, check};

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

    #[test]
    fn the_failback_plan_passes() {
        assert_eq!(
            fired(RULES, goal(), contoso_failed_over(), failback_plan()),
            vec![]
        );
    }

    #[test]
    fn run_edge_setup_before_replication_fires() {
        let mut start = contoso_failed_over();
        start.edge_pools[0].machines[0].replica_up_to_date = false;
        let mut steps = failback_plan();
        let await_replication = position(&steps, Action::AwaitReplication);
        let setup = steps.remove(position(&steps, Action::RunEdgeSetup));
        steps.insert(await_replication, setup); // Run Again before await-replication
        assert_eq!(
            messages(&[SETUP_AFTER_REPLICATION], start, steps),
            [(5, "run-edge-setup on edgeserver1.contoso.com of edgepool1.contoso.com while its replica of the management store is not up to date".to_owned())]
        );
    }

    #[test]
    fn run_edge_setup_before_publish_fires() {
        let mut steps = failback_plan();
        let publish = position(&steps, Action::PublishTopology);
        let setup = steps.remove(position(&steps, Action::RunEdgeSetup));
        steps.insert(publish, setup); // Run Again right after the draft edit
        assert_eq!(
            messages(&[SETUP_AFTER_REPLICATION], contoso_failed_over(), steps),
            [(4, "run-edge-setup on edgeserver1.contoso.com while the topology draft is not published (published version 7)".to_owned())]
        );
    }

    #[test]
    fn run_edge_setup_on_an_unknown_machine_fires() {
        let steps = vec![
            step(Action::RunEdgeSetup)
                .target("edgeserver9.contoso.com")
                .into(),
        ];
        assert_eq!(
            fired(
                &[SETUP_AFTER_REPLICATION],
                goal(),
                contoso_failed_over(),
                steps
            )
            .len(),
            1
        );
    }

    #[test]
    fn publishing_without_the_store_fires() {
        let mut start = contoso_failed_over();
        start.cms_available = false;
        let steps = failback_plan();
        // Publish (A3, state 4), reassociate-and-publish (A11, state 13), pool
        // failback (A12, state 14).
        let states: Vec<u32> = messages(&[STORE_AVAILABLE], start, steps)
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(states, [4, 13, 14]);
    }

    #[test]
    fn a_store_restored_before_the_publish_passes() {
        let mut start = contoso_failed_over();
        start.cms_available = false;
        let mut steps = failback_plan();
        steps[0].changes.push(Change::CmsAvailable(true));
        assert_eq!(fired(&[STORE_AVAILABLE], goal(), start, steps), vec![]);
    }

    #[test]
    fn pool_failback_with_another_fqdn_fires() {
        let steps = vec![
            step(Action::PoolFailback)
                .target(FEPOOL1)
                .argument("fepool1-alias.contoso.com")
                .into(),
        ];
        let findings = check(&[POOL_FAILBACK_FQDN], goal(), contoso_failed_over(), steps);
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "pool-failback of fepool1.contoso.com runs with -PoolFqdn fepool1-alias.contoso.com, but the pool was failed over with fepool1.contoso.com"
        );
        assert_eq!(
            findings[0].hint,
            "run Invoke-CsPoolFailback -PoolFqdn fepool1.contoso.com"
        );
    }

    #[test]
    fn pool_failback_of_a_pool_not_failed_over_fires() {
        let steps = vec![
            step(Action::PoolFailback)
                .target(FEPOOL2)
                .argument(FEPOOL2)
                .into(),
        ];
        assert_eq!(
            messages(&[POOL_FAILBACK_FQDN], contoso_failed_over(), steps),
            [(
                1,
                "pool-failback of fepool2.contoso.com whose state is normal, not failed-over"
                    .to_owned()
            )]
        );
    }

    #[test]
    fn an_unknown_object_is_left_to_the_federation_family() {
        let steps = vec![
            step(Action::PoolFailback)
                .target(FEPOOL1)
                .argument(FEPOOL1)
                .change(Change::PoolState((
                    "fepool9.contoso.com".into(),
                    PoolState::Normal,
                )))
                .into(),
        ];
        assert_eq!(fired(RULES, goal(), contoso_failed_over(), steps), []);
    }
}
