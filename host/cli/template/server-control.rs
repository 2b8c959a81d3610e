//! {name}: a failback `server-control` plugin. It starts the Lync services on
//! each server and runs local setup ("Run Again" in the Deployment Wizard) so
//! a server applies the topology in its local replica.
//!
//! Each function says what the host relies on (the WIT's own words are in
//! `wit/servers.wit`); `failback plugin test` checks every promise. Until a
//! function is written it answers `plugin-error::failed("not implemented: …")`.

wit_bindgen::generate!({
    path: "wit",
    world: "failback:plugin/server-control@0.3.0",
});

use exports::failback::plugin::servers::{Guest, MachineState, SetupReport};
use failback::plugin::types::PluginError;

struct Plugin;

impl Guest for Plugin {
    /// For each of `machines` (server FQDNs), in the order asked: every Lync
    /// service and its state (`Get-CsWindowsService`), and the topology
    /// version local setup last applied there, or `None` when setup never ran.
    /// A machine that does not exist is `PluginError::NotFound` in its own
    /// place; the others are still answered.
    fn read_machines(
        machines: Vec<String>,
    ) -> Result<Vec<Result<MachineState, PluginError>>, PluginError> {
        Ok(machines
            .into_iter()
            .map(|machine| {
                let _ = machine;
                Err(not_implemented("servers.read-machines"))
            })
            .collect())
    }

    /// `Start-CsWindowsService` on `machine`; services already running are not
    /// an error.
    fn start_services(machine: String) -> Result<(), PluginError> {
        let _ = machine;
        Err(not_implemented("servers.start-services"))
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
