//! The 0.3.0 track: bindings of `failback:plugin@0.3.0` (`wit/plugin`) and
//! the conversions between its types and `failback_core`.
//!
//! `failback:plugin@0.3.0` is 0.2.0 with the management store's writes a host
//! made once per object turned into batches: `management.set-site-routes`
//! (for 0.2.0's `set-site-route`) and `management.replicate`, which takes a
//! list of replicas (0.2.0's takes one). Every other function and type has
//! 0.2.0's shape, so the bindings and conversions are 0.2.0's ([`plugin_track!`]).
//! The policy package has no 0.3.0: policy modules stay on
//! [`super::v0_2_0::policy`].

use failback_core::observed;

plugin_track! {
    path: "../../wit/plugin",
    base: "
        package failback:runtime;
        world base { import failback:plugin/host@0.3.0; }
    ",
    types: "failback:plugin/types@0.3.0",
    host: "failback:plugin/host@0.3.0",
    worlds: {
        dns_provider: "failback:plugin/dns-provider@0.3.0",
        port_probe: "failback:plugin/port-probe@0.3.0",
        management_store: "failback:plugin/management-store@0.3.0",
        server_control: "failback:plugin/server-control@0.3.0",
        pool_control: "failback:plugin/pool-control@0.3.0",
    },
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
