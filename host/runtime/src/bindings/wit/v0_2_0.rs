//! The 0.2.0 track: bindings of `failback:plugin@0.2.0` (its frozen copy
//! `wit/plugin-0.2.0`) and `failback:policy@0.2.0` (`wit/policy`), and the
//! conversions between their types and `failback_core`.
//!
//! `failback:plugin@0.2.0` is 0.1.0 with the reads a host made once per object
//! turned into batches: `servers.read-machines` (for 0.1.0's `list-services`
//! and `setup-version`) and `probe.probe-endpoints` (for `probe`). Every other
//! function and type has 0.1.0's shape, so the conversions are shared
//! ([`plugin_conversions!`]); the bindings are those of every track from
//! 0.2.0 on ([`plugin_track!`]).
//!
//! `failback:policy@0.2.0` is 0.1.0 plus the `restore-next-hop` action and the
//! goal's `next-hop`, with names from the operator's vocabulary: the action
//! `set-xmpp-federation-route` (0.1.0's `set-xmpp-route`), a site's
//! `xmpp-federation-route` (`xmpp-route`), `cms-available` in the state and
//! the changes (`store-available`) and the goal's `media-edge-pool`
//! (`media-pool`). The state and change conversions are shared
//! (`policy_state_conversions!`, given each track's names).

use failback_core::observed;

plugin_track! {
    path: "../../wit/plugin-0.2.0",
    base: "
        package failback:runtime;
        world base { import failback:plugin/host@0.2.0; }
    ",
    types: "failback:plugin/types@0.2.0",
    host: "failback:plugin/host@0.2.0",
    worlds: {
        dns_provider: "failback:plugin/dns-provider@0.2.0",
        port_probe: "failback:plugin/port-probe@0.2.0",
        management_store: "failback:plugin/management-store@0.2.0",
        server_control: "failback:plugin/server-control@0.2.0",
        pool_control: "failback:plugin/pool-control@0.2.0",
    },
}

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

    policy_state_conversions!(
        xmpp_federation_route: "xmpp-federation-route",
        cms_available: "cms-available",
        CmsAvailable: CmsAvailable,
    );

    /// A trajectory lowered for 0.2 modules.
    pub(crate) struct Lowered<'a> {
        pub(crate) goal: wit::Goal,
        pub(crate) start: start::State<'a>,
        pub(crate) steps: Vec<wit::Step>,
    }

    /// Lower `goal`, `start` and `steps` for a 0.2 module.
    pub(crate) fn lower<'a>(goal: &Goal, start: &'a Deployment, steps: &[&Step]) -> Lowered<'a> {
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
                Action::SetXmppFederationRoute => Self::SetXmppFederationRoute,
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
                media_edge_pool: g.media_edge_pool.clone(),
                cutover_ttl: g.cutover_ttl,
                next_hop: g.next_hop.as_ref().map(Into::into),
            }
        }
    }
}
