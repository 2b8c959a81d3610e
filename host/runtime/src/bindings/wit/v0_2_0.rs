//! The 0.2.0 track: bindings of `failback:plugin@0.2.0` (its frozen copy
//! `wit/plugin-0.2.0`) and `failback:policy@0.2.0` (`wit/policy`), and the
//! conversions between their types and `failback_core`.
//!
//! `failback:plugin@0.2.0` is 0.1.0 with the reads a host made once per object
//! turned into batches: `servers.read-machines` (for 0.1.0's `list-services`
//! and `setup-version`) and `probe.probe-endpoints` (for `probe`). Every other
//! function and type has 0.1.0's shape, so the conversions are shared
//! ([`plugin_conversions!`]).
//!
//! `failback:policy@0.2.0` is 0.1.0 plus the `restore-next-hop` action and the
//! goal's `next-hop`, with names from the operator's vocabulary: the action
//! `set-xmpp-federation-route` (0.1.0's `set-xmpp-route`), a site's
//! `xmpp-federation-route` (`xmpp-route`), `cms-available` in the state and
//! the changes (`store-available`) and the goal's `media-edge-pool`
//! (`media-pool`). The state and change conversions are shared
//! (`policy_state_conversions!`, given each track's names).

use failback_core::observed;

use failback_core::observed::MachineState;

/// The `host` interface. Its `types` are 0.1.0's, unchanged in 0.2.0, and
/// bound to 0.1.0's Rust types: a `plugin-error` or a log level is one type to
/// the host whichever track a plugin is on.
pub mod base {
    wasmtime::component::bindgen!({
        inline: "
            package failback:runtime;
            world base { import failback:plugin/host@0.2.0; }
        ",
        path: "../../wit/plugin-0.2.0",
        world: "failback:runtime/base",
        with: {
            "failback:plugin/types@0.2.0": crate::bindings::wit::v0_1_0::base::failback::plugin::types,
        },
    });
}

macro_rules! plugin_world {
    ($module:ident, $world:literal) => {
        #[doc = concat!("The `", $world, "` world.")]
        pub mod $module {
            wasmtime::component::bindgen!({
                path: "../../wit/plugin-0.2.0",
                world: $world,
                // Every export is called asynchronously (see `v0_1_0`).
                exports: { default: async },
                with: {
                    "failback:plugin/types@0.2.0": crate::bindings::wit::v0_1_0::base::failback::plugin::types,
                    "failback:plugin/host@0.2.0": super::base::failback::plugin::host,
                },
            });
        }
    };
}

plugin_world!(dns_provider, "failback:plugin/dns-provider@0.2.0");
plugin_world!(port_probe, "failback:plugin/port-probe@0.2.0");
plugin_world!(management_store, "failback:plugin/management-store@0.2.0");
plugin_world!(server_control, "failback:plugin/server-control@0.2.0");
plugin_world!(pool_control, "failback:plugin/pool-control@0.2.0");

use dns_provider::exports::failback::plugin::dns as wit_dns;
use management_store::exports::failback::plugin::management as wit_management;
use pool_control::exports::failback::plugin::pools as wit_pools;
use port_probe::exports::failback::plugin::probe as wit_probe;
use server_control::exports::failback::plugin::servers as wit_servers;

plugin_conversions!();

impl From<wit_servers::MachineState> for MachineState {
    fn from(value: wit_servers::MachineState) -> Self {
        Self {
            services: value.services.into_iter().map(Into::into).collect(),
            setup_version: value.setup_version,
        }
    }
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
