//! The 0.3.0 track: bindings of `failback:plugin@0.3.0` (`wit/plugin`) and
//! the conversions between its types and `failback_core`.
//!
//! `failback:plugin@0.3.0` is 0.2.0 with the management store's writes a host
//! made once per object turned into batches: `management.set-site-routes`
//! (for 0.2.0's `set-site-route`) and `management.replicate`, which takes a
//! list of replicas (0.2.0's takes one). Every other function and type has
//! 0.2.0's shape, so the conversions are shared ([`plugin_conversions!`]).
//! The policy package has no 0.3.0: policy modules stay on
//! [`super::v0_2_0::policy`].

use failback_core::observed;

use failback_core::observed::MachineState;

/// The `host` interface. Its `types` are 0.1.0's, unchanged in 0.3.0, and
/// bound to 0.1.0's Rust types (see [`super::v0_2_0::base`]).
pub mod base {
    wasmtime::component::bindgen!({
        inline: "
            package failback:runtime;
            world base { import failback:plugin/host@0.3.0; }
        ",
        path: "../../wit/plugin",
        world: "failback:runtime/base",
        with: {
            "failback:plugin/types@0.3.0": crate::bindings::wit::v0_1_0::base::failback::plugin::types,
        },
    });
}

macro_rules! plugin_world {
    ($module:ident, $world:literal) => {
        #[doc = concat!("The `", $world, "` world.")]
        pub mod $module {
            wasmtime::component::bindgen!({
                path: "../../wit/plugin",
                world: $world,
                // Every export is called asynchronously (see `v0_1_0`).
                exports: { default: async },
                with: {
                    "failback:plugin/types@0.3.0": crate::bindings::wit::v0_1_0::base::failback::plugin::types,
                    "failback:plugin/host@0.3.0": super::base::failback::plugin::host,
                },
            });
        }
    };
}

plugin_world!(dns_provider, "failback:plugin/dns-provider@0.3.0");
plugin_world!(port_probe, "failback:plugin/port-probe@0.3.0");
plugin_world!(management_store, "failback:plugin/management-store@0.3.0");
plugin_world!(server_control, "failback:plugin/server-control@0.3.0");
plugin_world!(pool_control, "failback:plugin/pool-control@0.3.0");

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

impl From<&observed::SiteRoute> for wit_management::SiteRoute {
    fn from(value: &observed::SiteRoute) -> Self {
        Self {
            site: value.site.clone(),
            kind: value.kind.into(),
            identity: value.identity.clone(),
        }
    }
}
