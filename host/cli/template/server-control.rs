//! {name}: a failback `server-control` plugin. It starts the Lync services on
//! each server and runs local setup ("Run Again" in the Deployment Wizard) so
//! a server applies the topology in its local replica.
//!
//! Each function says what the host relies on (the WIT's own words are in
//! `wit/servers.wit`); `failback plugin test` checks every promise. Until a
//! function is written it answers `plugin-error::failed("not implemented: …")`.

wit_bindgen::generate!({
    path: "wit",
    world: "failback:plugin/server-control@0.1.0",
});

use exports::failback::plugin::servers::{Guest, ServiceStatus, SetupReport};
use failback::plugin::types::PluginError;

struct Plugin;

impl Guest for Plugin {
    /// `Get-CsWindowsService` on `machine` (a server FQDN): every Lync service
    /// and its state. A machine that does not exist is `PluginError::NotFound`.
    fn list_services(machine: String) -> Result<Vec<ServiceStatus>, PluginError> {
        let _ = machine;
        Err(not_implemented("servers.list-services"))
    }

    /// `Start-CsWindowsService` on `machine`; services already running are not
    /// an error.
    fn start_services(machine: String) -> Result<(), PluginError> {
        let _ = machine;
        Err(not_implemented("servers.start-services"))
    }

    /// The topology version local setup last applied on `machine`, or `None`
    /// when setup never ran there.
    fn setup_version(machine: String) -> Result<Option<u64>, PluginError> {
        let _ = machine;
        Err(not_implemented("servers.setup-version"))
    }

    /// Run local setup on `machine` and report the version it applied.
    fn run_setup(machine: String) -> Result<SetupReport, PluginError> {
        let _ = machine;
        Err(not_implemented("servers.run-setup"))
    }
}

/// What a function answers until it is written.
fn not_implemented(function: &str) -> PluginError {
    PluginError::Failed(format!("not implemented: `{function}`"))
}

export!(Plugin);
