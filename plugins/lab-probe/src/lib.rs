//! The lab's `port-probe` plugin: what a partner on the internet would find on
//! an endpoint, as the lab firewall's `network/reachability.json` states it
//! (docs/lab-files.md). It opens no socket.
//!
//! The exported function only reads the configuration and calls [`probe`],
//! whose plain functions take the directory as a path, so they are tested
//! natively.
//!
//! Configuration: `dir` (where the read-only `network` grant is mounted,
//! default `/network`) and `servers` (where the read-only `servers` grant is
//! mounted, default `/servers`: an endpoint answers only while the service
//! listening on it runs).

#![allow(
    unsafe_code,
    reason = "the SDK's export macro expands to the canonical ABI glue, which is unsafe code"
)]

mod probe;

use failback_plugin_sdk::config;
use failback_plugin_sdk::probe::{Guest, PluginError, ProbeReport, ProbeRequest};

struct LabProbe;

impl Guest for LabProbe {
    fn probe_endpoints(
        requests: Vec<ProbeRequest>,
    ) -> Result<Vec<Result<ProbeReport, PluginError>>, PluginError> {
        let dir = config::get_or("dir", "/network");
        let servers = config::get_or("servers", "/servers");
        probe::probe_all(
            std::path::Path::new(&dir),
            std::path::Path::new(&servers),
            &requests,
        )
    }
}

failback_plugin_sdk::export_port_probe!(LabProbe);
