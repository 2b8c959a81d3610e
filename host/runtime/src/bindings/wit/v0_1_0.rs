//! Bindings of `failback:plugin@0.1.0` and `failback:policy@0.1.0`, and the
//! conversions between their types and `failback_core`.
//!
//! Every plugin world shares the `types` and `host` interfaces: they are
//! generated once ([`base`]) and re-used by each world's bindings through
//! `with:`, so that the host implements `host` once for every plugin kind.

use failback_core::observed;

use crate::sandbox::guest_error::PluginError;

/// The shared `types` and `host` interfaces.
pub mod base {
    wasmtime::component::bindgen!({
        inline: "
            package failback:runtime;
            world base { import failback:plugin/host@0.1.0; }
        ",
        path: "../../wit/plugin-0.1.0",
        world: "failback:runtime/base",
    });
}

macro_rules! plugin_world {
    ($module:ident, $world:literal) => {
        #[doc = concat!("The `", $world, "` world.")]
        pub mod $module {
            wasmtime::component::bindgen!({
                path: "../../wit/plugin-0.1.0",
                world: $world,
                // Every export is called asynchronously, so that a wait in a
                // host call (a socket, a file, a clock) ends at the call's
                // deadline (`crate::bindings::call`).
                exports: { default: async },
                with: {
                    "failback:plugin/types@0.1.0": super::base::failback::plugin::types,
                    "failback:plugin/host@0.1.0": super::base::failback::plugin::host,
                },
            });
        }
    };
}

plugin_world!(dns_provider, "failback:plugin/dns-provider@0.1.0");
plugin_world!(port_probe, "failback:plugin/port-probe@0.1.0");
plugin_world!(management_store, "failback:plugin/management-store@0.1.0");
plugin_world!(server_control, "failback:plugin/server-control@0.1.0");
plugin_world!(pool_control, "failback:plugin/pool-control@0.1.0");

/// The `failback:policy/policy@0.1.0` world, from its frozen copy: what a
/// policy module built before 0.2 exports.
pub mod policy {
    wasmtime::component::bindgen!({
        path: "../../wit/policy-0.1.0",
        world: "failback:policy/policy@0.1.0",
        exports: { default: async },
    });
}

use base::failback::plugin::types as wit_types;
use dns_provider::exports::failback::plugin::dns as wit_dns;
use management_store::exports::failback::plugin::management as wit_management;
use pool_control::exports::failback::plugin::pools as wit_pools;
use port_probe::exports::failback::plugin::probe as wit_probe;
use server_control::exports::failback::plugin::servers as wit_servers;

pub use wit_types::LogLevel;

impl From<wit_types::PluginError> for PluginError {
    fn from(error: wit_types::PluginError) -> Self {
        use wit_types::PluginError as E;
        match error {
            E::Config(m) => Self::Config(m),
            E::NotFound(m) => Self::NotFound(m),
            E::Refused(m) => Self::Refused(m),
            E::Conflict(m) => Self::Conflict(m),
            E::Unavailable(m) => Self::Unavailable(m),
            E::Invalid(m) => Self::Invalid(m),
            E::Failed(m) => Self::Failed(m),
        }
    }
}

plugin_conversions!();

// ---------------------------------------------------------------------------
// failback:policy@0.1.0: the core model as a 0.1 policy module sees it.

/// What a `failback:policy@0.1.0` module is given of a trajectory, and how its
/// findings' states map back.
///
/// 0.1 has no `restore-next-hop` action (A14, new in 0.2). Such a step is
/// never shown as another action: its changes are folded into the next step
/// 0.1 knows (into the previous one when none follows), so a 0.1 module judges
/// every state but the one between the two, and that step's action is not
/// named to it. `states[k]` is the trajectory's state that the 0.1 module's
/// state `k` is.
pub(crate) mod policy_model {
    use failback_core::plan::{Action, Goal, Step};

    use super::policy::failback::policy::types as wit;

    // 0.1.0 names the site's XMPP federation route `xmpp-route` and the
    // management store's availability `store-available`.
    policy_state_conversions!(
        xmpp_federation_route: "xmpp-route",
        cms_available: "store-available",
        CmsAvailable: StoreAvailable,
    );

    /// A trajectory of only steps whose action 0.1 does not have: no step to
    /// fold them into.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct Untranslatable {
        pub(crate) action: Action,
    }

    /// A trajectory lowered for 0.1 modules.
    pub(crate) struct Lowered<'a> {
        pub(crate) goal: wit::Goal,
        pub(crate) start: start::State<'a>,
        pub(crate) steps: Vec<wit::Step>,
        /// The trajectory state each 0.1 state is (index 0: the start).
        pub(crate) states: Vec<u32>,
    }

    /// Lower `goal`, `start` and `steps` (state `i + 1` is the state after
    /// `steps[i]`) for a 0.1 module, folding the steps 0.1 has no action for.
    pub(crate) fn lower<'a>(
        goal: &Goal,
        start: &'a Deployment,
        steps: &[&Step],
    ) -> Result<Lowered<'a>, Untranslatable> {
        let mut lowered = Vec::<wit::Step>::with_capacity(steps.len());
        let mut states = vec![0];
        // The changes of steps 0.1 has no action for, since the last it has,
        // and the last such step with its state.
        let mut unnamed: Vec<wit::Change> = Vec::new();
        let mut trailing: Option<(Action, u32)> = None;
        for (i, step) in steps.iter().enumerate() {
            let state = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let changes = step.changes.iter().map(Into::into);
            if let Some(action) = action(step.action) {
                let mut folded = std::mem::take(&mut unnamed);
                folded.extend(changes);
                lowered.push(wit::Step {
                    action,
                    target: step.target.clone(),
                    argument: step.policy_argument(),
                    changes: folded,
                });
                states.push(state);
                trailing = None;
            } else {
                unnamed.extend(changes);
                trailing = Some((step.action, state));
            }
        }
        if let Some((action, state)) = trailing {
            // No step 0.1 knows follows: the changes end the previous one,
            // whose state becomes the end state.
            match (lowered.last_mut(), states.last_mut()) {
                (Some(previous), Some(end)) => {
                    previous.changes.extend(unnamed);
                    *end = state;
                }
                _ => return Err(Untranslatable { action }),
            }
        }
        Ok(Lowered {
            goal: goal.into(),
            start: start.into(),
            steps: lowered,
            states,
        })
    }

    /// The 0.1 name of `action` (0.1's `set-xmpp-route` is
    /// `set-xmpp-federation-route`); none for one 0.1 does not have.
    fn action(a: Action) -> Option<wit::Action> {
        Some(match a {
            Action::LowerTtl => wit::Action::LowerTtl,
            Action::StartEdgeServices => wit::Action::StartEdgeServices,
            Action::SetFederationEdge => wit::Action::SetFederationEdge,
            Action::PublishTopology => wit::Action::PublishTopology,
            Action::AwaitReplication => wit::Action::AwaitReplication,
            Action::RunEdgeSetup => wit::Action::RunEdgeSetup,
            Action::RepointSipFederationDns => wit::Action::RepointSipFederationDns,
            Action::SetXmppFederationRoute => wit::Action::SetXmppRoute,
            Action::EnsureXmppSrv => wit::Action::EnsureXmppSrv,
            Action::SetXmppARecord => wit::Action::SetXmppARecord,
            Action::VerifyXmppPort => wit::Action::VerifyXmppPort,
            Action::ReassociateFrontEnds => wit::Action::ReassociateFrontEnds,
            Action::PoolFailback => wit::Action::PoolFailback,
            Action::RestoreTtl => wit::Action::RestoreTtl,
            Action::RestoreNextHop => return None,
        })
    }

    /// The 0.1 goal: without the next hop (invariant 14 is 0.2's); its
    /// `media-pool` is the goal's media Edge pool.
    impl From<&Goal> for wit::Goal {
        fn from(g: &Goal) -> Self {
            Self {
                restored_site: g.restored_site.clone(),
                federation_pool: g.federation_pool.clone(),
                xmpp_pool: g.xmpp_pool.clone(),
                media_pool: g.media_edge_pool.clone(),
                cutover_ttl: g.cutover_ttl,
            }
        }
    }
}
