//! The server-control cases (`wit/plugin/servers.wit`): what the host relies
//! on when it starts an Edge pool's services (DESIGN §1, A1) and runs local
//! setup on each Edge machine (A5), on one machine the plugin serves.
//!
//! The cases start that machine's services and run setup on it. The cases of
//! `list-services` and `setup-version` read through `read-machines` on a
//! `0.2.0` (or later) plugin, which answers both in one call.

use failback_core::observed::{ServiceState, ServiceStatus};

use super::{
    ABSENT, Case, CaseReport, Checked, Miss, Relabel, Variant, answer, came_back, none_of, refusal,
    run_cases_as, shown,
};
use crate::bindings::plugin::ServerControl;
use crate::manifest::PluginTrack;
use crate::sandbox::guest_error::CallError;
use crate::sandbox::guest_error::PluginError;

const LIST: &str = "servers.list-services";
const START: &str = "servers.start-services";
const SETUP_VERSION: &str = "servers.setup-version";
const RUN_SETUP: &str = "servers.run-setup";
const READ_MACHINES: &str = "servers.read-machines";

pub(super) struct Servers {
    plugin: ServerControl,
    machine: String,
}

pub(super) const CASES: &[Case<Servers>] = &[
    Case {
        id: "list-services",
        function: LIST,
        uses: &[],
        promise: "list-services(machine) answers with the machine's services, each named",
        check: list_services,
    },
    Case {
        id: "list-services-unknown",
        function: LIST,
        uses: &[],
        promise: "listing the services of a machine that does not exist is plugin-error::not-found",
        check: list_services_unknown,
    },
    Case {
        id: "read-machines-batch",
        function: READ_MACHINES,
        uses: &[],
        promise: "asked about several machines in one call, each is answered in the order asked: \
                  one that does not exist is plugin-error::not-found in its own place, and the \
                  others are still answered",
        check: read_machines_batch,
    },
    Case {
        id: "start-services-unknown",
        function: START,
        uses: &[],
        promise: "starting the services of a machine that does not exist is plugin-error::not-found",
        check: start_services_unknown,
    },
    Case {
        id: "start-services",
        function: START,
        uses: &[LIST],
        promise: "start-services succeeds; list-services then shows every service running or \
                  start-pending, but for disabled ones",
        check: start_services,
    },
    Case {
        id: "start-services-again",
        function: START,
        uses: &[],
        promise: "starting services that already run is not an error",
        check: start_services_again,
    },
    Case {
        id: "setup-version",
        function: SETUP_VERSION,
        uses: &[],
        promise: "setup-version(machine) answers with the version setup last applied, or none",
        check: setup_version,
    },
    Case {
        id: "setup-version-unknown",
        function: SETUP_VERSION,
        uses: &[],
        promise: "the setup version of a machine that does not exist is plugin-error::not-found",
        check: setup_version_unknown,
    },
    Case {
        id: "run-setup-unknown",
        function: RUN_SETUP,
        uses: &[],
        promise: "running setup on a machine that does not exist is plugin-error::not-found",
        check: run_setup_unknown,
    },
    Case {
        id: "run-setup",
        function: RUN_SETUP,
        uses: &[SETUP_VERSION],
        promise: "run-setup reports the version it applied; setup-version then answers with it",
        check: run_setup,
    },
];

/// Run every server-control case against `plugin` on `machine`.
pub(super) fn run(plugin: &ServerControl, machine: &str) -> Vec<CaseReport> {
    let mut servers = Servers {
        plugin: plugin.clone(),
        machine: machine.to_owned(),
    };
    let relabel: Relabel = match plugin.plugin().manifest().plugin_track() {
        // 0.2.0 and later answer list-services and setup-version in one
        // read-machines.
        Some(PluginTrack::V0_2 | PluginTrack::V0_3) => |f| match f {
            LIST | SETUP_VERSION => READ_MACHINES,
            f => f,
        },
        // 0.1.0 is asked list-services (and setup-version) per machine.
        _ => |f| if f == READ_MACHINES { LIST } else { f },
    };
    run_cases_as(CASES, &mut servers, relabel)
}

impl Servers {
    fn services(&self) -> Result<Vec<ServiceStatus>, Miss> {
        answer(
            self.plugin.list_services(&self.machine),
            &format!("the services of `{}`", self.machine),
        )
    }
}

fn list_services(servers: &mut Servers) -> Checked {
    let unnamed: Vec<ServiceStatus> = servers
        .services()?
        .into_iter()
        .filter(|s| s.name.is_empty())
        .collect();
    none_of(&unnamed, "every service named", "services")
}

fn list_services_unknown(servers: &mut Servers) -> Checked {
    refusal(servers.plugin.list_services(ABSENT), &[Variant::NotFound])
}

fn read_machines_batch(servers: &mut Servers) -> Checked {
    let asked = [
        servers.machine.clone(),
        ABSENT.to_owned(),
        servers.machine.clone(),
    ];
    let answers = answer(
        servers.plugin.read_machines(&asked),
        "an answer for each machine",
    )?;
    let expected = format!(
        "`{0}` answered, `{ABSENT}` plugin-error::not-found, `{0}` answered",
        servers.machine
    );
    match &answers[..] {
        [
            Ok(_),
            Err(CallError::Plugin {
                error: PluginError::NotFound(_),
                ..
            }),
            Ok(_),
        ] => Ok(()),
        _ => Err(Miss::failed(
            expected,
            answers
                .iter()
                .map(|answer| match answer {
                    Ok(state) => format!("ok: {}", shown(&state.services)),
                    Err(error) => came_back(error),
                })
                .collect::<Vec<_>>()
                .join("; "),
        )),
    }
}

fn start_services(servers: &mut Servers) -> Checked {
    answer(servers.plugin.start_services(&servers.machine), "ok")?;
    let not_started: Vec<ServiceStatus> = servers
        .services()?
        .into_iter()
        .filter(|s| {
            !matches!(
                s.state,
                ServiceState::Running | ServiceState::StartPending | ServiceState::Disabled
            )
        })
        .collect();
    none_of(
        &not_started,
        "every service running or start-pending (or disabled)",
        "list-services shows",
    )
}

fn start_services_again(servers: &mut Servers) -> Checked {
    answer(servers.plugin.start_services(&servers.machine), "ok")
}

fn start_services_unknown(servers: &mut Servers) -> Checked {
    refusal(servers.plugin.start_services(ABSENT), &[Variant::NotFound])
}

fn setup_version(servers: &mut Servers) -> Checked {
    answer(
        servers.plugin.setup_version(&servers.machine),
        "a version, or none",
    )
    .map(drop)
}

fn setup_version_unknown(servers: &mut Servers) -> Checked {
    refusal(servers.plugin.setup_version(ABSENT), &[Variant::NotFound])
}

fn run_setup(servers: &mut Servers) -> Checked {
    let report = answer(servers.plugin.run_setup(&servers.machine), "a setup report")?;
    let version = answer(servers.plugin.setup_version(&servers.machine), "a version")?;
    if version == Some(report.applied_version) {
        Ok(())
    } else {
        Err(Miss::failed(
            format!(
                "setup-version {} after run-setup applied it",
                report.applied_version
            ),
            format!("setup-version {}", shown(&version)),
        ))
    }
}

fn run_setup_unknown(servers: &mut Servers) -> Checked {
    refusal(servers.plugin.run_setup(ABSENT), &[Variant::NotFound])
}
