//! Bindings of `failback:policy@0.2.0`, the current policy track (0.1 plus the
//! `restore-next-hop` action and the goal's `next-hop`), and the conversions
//! from `failback_core` to its types.

/// The `failback:policy/policy@0.2.0` world.
pub mod policy {
    wasmtime::component::bindgen!({
        path: "../../wit/policy",
        world: "failback:policy/policy@0.2.0",
        exports: { default: async },
    });
}

/// The core model as a 0.2 policy module sees it: every step as it is.
pub(crate) mod policy_model {
    use failback_core::plan::{Action, Goal, NextHopGoal, Step};

    use super::policy::failback::policy::types as wit;

    policy_state_conversions!();

    /// A trajectory lowered for 0.2 modules.
    pub(crate) struct Lowered {
        pub(crate) goal: wit::Goal,
        pub(crate) start: wit::State,
        pub(crate) steps: Vec<wit::Step>,
    }

    /// Lower `goal`, `start` and `steps` for a 0.2 module.
    pub(crate) fn lower(goal: &Goal, start: &Deployment, steps: &[&Step]) -> Lowered {
        Lowered {
            goal: goal.into(),
            start: start.into(),
            steps: steps.iter().map(|s| (*s).into()).collect(),
        }
    }

    impl From<Action> for wit::Action {
        fn from(a: Action) -> Self {
            match a {
                Action::LowerTtl => Self::LowerTtl,
                Action::StartEdgeServices => Self::StartEdgeServices,
                Action::SetFederationEdge => Self::SetFederationEdge,
                Action::PublishTopology => Self::PublishTopology,
                Action::AwaitReplication => Self::AwaitReplication,
                Action::RunEdgeSetup => Self::RunEdgeSetup,
                Action::RepointSipFederationDns => Self::RepointSipFederationDns,
                Action::SetXmppRoute => Self::SetXmppRoute,
                Action::EnsureXmppSrv => Self::EnsureXmppSrv,
                Action::SetXmppARecord => Self::SetXmppARecord,
                Action::VerifyXmppPort => Self::VerifyXmppPort,
                Action::ReassociateFrontEnds => Self::ReassociateFrontEnds,
                Action::PoolFailback => Self::PoolFailback,
                Action::RestoreNextHop => Self::RestoreNextHop,
                Action::RestoreTtl => Self::RestoreTtl,
            }
        }
    }

    impl From<&Step> for wit::Step {
        fn from(s: &Step) -> Self {
            Self {
                action: s.action.into(),
                target: s.target.clone(),
                argument: s.policy_argument(),
                changes: s.changes.iter().map(Into::into).collect(),
            }
        }
    }

    impl From<&NextHopGoal> for wit::NextHopGoal {
        fn from(g: &NextHopGoal) -> Self {
            Self {
                edge_pool: g.edge_pool.clone(),
                front_end_pool: g.front_end_pool.clone(),
            }
        }
    }

    impl From<&Goal> for wit::Goal {
        fn from(g: &Goal) -> Self {
            Self {
                restored_site: g.restored_site.clone(),
                federation_pool: g.federation_pool.clone(),
                xmpp_pool: g.xmpp_pool.clone(),
                media_pool: g.media_pool.clone(),
                cutover_ttl: g.cutover_ttl,
                next_hop: g.next_hop.as_ref().map(Into::into),
            }
        }
    }
}
