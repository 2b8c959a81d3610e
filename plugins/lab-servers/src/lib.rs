//! The lab's `server-control` plugin: the Lync services and local setup of each
//! machine, over `servers/servers.json`, with `run-setup` reading the machine's
//! replica version from `store/store.json` (docs/lab-files.md).
//!
//! The exported functions only read the configuration and call [`servers`],
//! whose plain functions take the directories as paths, so they are tested
//! natively.
//!
//! Configuration: `dir` (where the `servers` grant is mounted, default
//! `/servers`), `store-dir` (the read-only `store` grant, default `/store`),
//! `writes-dir` (the `writes` grant, default `/writes`).

#![allow(
    unsafe_code,
    reason = "the SDK's export macro expands to the canonical ABI glue, which is unsafe code"
)]

mod servers;

use failback_plugin_sdk::config;
use failback_plugin_sdk::servers::{Guest, MachineState, PluginError, SetupReport};

use servers::Lab;

struct LabServers;

fn lab() -> Lab {
    Lab {
        dir: config::get_or("dir", "/servers").into(),
        store: config::get_or("store-dir", "/store").into(),
        writes: config::get_or("writes-dir", "/writes").into(),
    }
}

impl Guest for LabServers {
    fn read_machines(
        machines: Vec<String>,
    ) -> Result<Vec<Result<MachineState, PluginError>>, PluginError> {
        lab().read_machines(&machines)
    }

    fn start_services(machine: String) -> Result<(), PluginError> {
        lab().start_services(&machine)
    }

    fn run_setup(machine: String) -> Result<SetupReport, PluginError> {
        lab().run_setup(&machine)
    }
}

failback_plugin_sdk::export_server_control!(LabServers);
