//! `servers/servers.json`: the services and setup state of each machine; and
//! the replicas of `store/store.json`, read only, for `run-setup`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;

use failback_plugin_sdk::files;
use failback_plugin_sdk::servers::{
    MachineState, PluginError, ServiceState, ServiceStatus, SetupReport,
};
use serde::{Deserialize, Serialize};

const FILE: &str = "servers.json";
const STORE_FILE: &str = "store.json";
const LOG: &str = "lab-servers.log";

/// Where the plugin's granted directories are.
#[derive(Debug)]
pub(crate) struct Lab {
    /// Holds `servers.json`.
    pub(crate) dir: PathBuf,
    /// Holds `store.json` (read only).
    pub(crate) store: PathBuf,
    /// Holds `lab-servers.log`.
    pub(crate) writes: PathBuf,
}

/// `servers.json`, as written. Keys the lab does not know are kept on rewrite.
#[derive(Debug, Deserialize, Serialize)]
struct ServersFile {
    machines: Vec<Machine>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Machine {
    fqdn: String,
    services: Vec<Service>,
    /// The topology version setup last applied; `null` = setup never ran.
    setup_version: Option<u64>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Service {
    name: String,
    state: State,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

/// `servers.json` as the calls that only read see it: each machine's FQDN,
/// services and setup version, borrowed from the text. Keys the lab does not
/// know are skipped, not kept: nothing is written back. Reading through this
/// view costs a fraction of [`ServersFile`], whose flattened `other` maps
/// buffer every machine; and [`Lab::read_machines`] reads it once for every
/// machine an observation asks about.
#[derive(Debug, Deserialize)]
struct ServersView<'a> {
    #[serde(borrow)]
    machines: Vec<MachineView<'a>>,
}

#[derive(Debug, Deserialize)]
struct MachineView<'a> {
    #[serde(borrow)]
    fqdn: Cow<'a, str>,
    #[serde(borrow)]
    services: Vec<ServiceView<'a>>,
    setup_version: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct ServiceView<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
enum State {
    Running,
    Stopped,
    StartPending,
    StopPending,
    Disabled,
}

impl From<State> for ServiceState {
    fn from(state: State) -> Self {
        match state {
            State::Running => ServiceState::Running,
            State::Stopped => ServiceState::Stopped,
            State::StartPending => ServiceState::StartPending,
            State::StopPending => ServiceState::StopPending,
            State::Disabled => ServiceState::Disabled,
        }
    }
}

/// The part of `store.json` that setup reads: the replicas. The rest is the
/// management store's, and ignored here.
#[derive(Debug, Deserialize)]
struct StoreFile {
    replicas: Vec<Replica>,
}

#[derive(Debug, Deserialize)]
struct Replica {
    fqdn: String,
    version: u64,
}

impl Lab {
    /// The services and setup version of each of `machines`, in order: the
    /// file is read and indexed once for the whole batch (in a `BTreeMap`: a
    /// `HashMap`'s random seed would import `wasi:random` for nothing).
    pub(crate) fn read_machines(
        &self,
        machines: &[String],
    ) -> Result<Vec<Result<MachineState, PluginError>>, PluginError> {
        let text = files::read_text(&self.dir.join(FILE), FILE)?;
        let file: ServersView<'_> = files::parse_json(&text, FILE)?;
        let by_fqdn: BTreeMap<String, &MachineView<'_>> = file
            .machines
            .iter()
            .map(|machine| (machine.fqdn.to_ascii_lowercase(), machine))
            .collect();
        Ok(machines
            .iter()
            .map(|fqdn| {
                let machine = by_fqdn
                    .get(&fqdn.to_ascii_lowercase())
                    .ok_or_else(|| not_found(fqdn))?;
                Ok(MachineState {
                    services: machine
                        .services
                        .iter()
                        .map(|service| ServiceStatus {
                            name: service.name.clone().into_owned(),
                            state: service.state.into(),
                        })
                        .collect(),
                    setup_version: machine.setup_version,
                })
            })
            .collect())
    }

    /// `Start-CsWindowsService` on `machine`: every service that is not
    /// disabled runs. A disabled service fails the call, and then nothing is
    /// started: the machine is left as it was for the operator to look at.
    pub(crate) fn start_services(&self, machine: &str) -> Result<(), PluginError> {
        let mut file = self.read()?;
        let found = find(&mut file, machine)?;
        let disabled: Vec<&str> = found
            .services
            .iter()
            .filter(|service| service.state == State::Disabled)
            .map(|service| service.name.as_str())
            .collect();
        if !disabled.is_empty() {
            return Err(PluginError::Failed(format!(
                "cannot start `{}` on `{}`: disabled",
                disabled.join("`, `"),
                found.fqdn
            )));
        }
        let mut changed = false;
        for service in &mut found.services {
            changed |= service.state != State::Running;
            service.state = State::Running;
        }
        if changed {
            self.write(&file)?;
        }
        self.log(&format!("start-services {machine}"))
    }

    /// "Run Again" on `machine`: apply the topology version of its local replica.
    pub(crate) fn run_setup(&self, machine: &str) -> Result<SetupReport, PluginError> {
        let mut file = self.read()?;
        let found = find(&mut file, machine)?;
        let store: StoreFile = files::read_json(&self.store.join(STORE_FILE), STORE_FILE)?;
        let version = store
            .replicas
            .iter()
            .find(|replica| replica.fqdn.eq_ignore_ascii_case(machine))
            .map(|replica| replica.version)
            .ok_or_else(|| {
                PluginError::Failed(format!(
                    "setup on `{}` failed: the machine has no local replica of the management store",
                    found.fqdn
                ))
            })?;
        let log = match found.setup_version {
            Some(previous) if previous == version => format!(
                "setup on {} applied topology version {version} from the local replica; it was already applied",
                found.fqdn
            ),
            Some(previous) => format!(
                "setup on {} applied topology version {version} from the local replica (was {previous})",
                found.fqdn
            ),
            None => format!(
                "setup on {} applied topology version {version} from the local replica (first run)",
                found.fqdn
            ),
        };
        if found.setup_version != Some(version) {
            found.setup_version = Some(version);
            self.write(&file)?;
        }
        self.log(&format!("run-setup {machine}"))?;
        Ok(SetupReport {
            applied_version: version,
            log,
        })
    }

    fn read(&self) -> Result<ServersFile, PluginError> {
        files::read_json(&self.dir.join(FILE), FILE)
    }

    fn write(&self, file: &ServersFile) -> Result<(), PluginError> {
        files::write_json(&self.dir.join(FILE), FILE, file)
    }

    fn log(&self, line: &str) -> Result<(), PluginError> {
        files::append_line(&self.writes.join(LOG), line)
            .map_err(|e| files::io_error("append to", LOG, &e))
    }
}

/// The machine `fqdn` (FQDNs compare without regard to case).
fn find<'a>(file: &'a mut ServersFile, fqdn: &str) -> Result<&'a mut Machine, PluginError> {
    file.machines
        .iter_mut()
        .find(|machine| machine.fqdn.eq_ignore_ascii_case(fqdn))
        .ok_or_else(|| not_found(fqdn))
}

fn not_found(fqdn: &str) -> PluginError {
    PluginError::NotFound(format!("machine `{fqdn}` does not exist"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]

    use super::*;

    const SERVERS: &str = r#"{
  "machines": [
    {
      "fqdn": "edge1.contoso.com",
      "services": [
        { "name": "RTCSRV", "state": "stopped" },
        { "name": "RTCMRAUTH", "state": "start-pending" }
      ],
      "setup_version": 5
    },
    {
      "fqdn": "edge2.contoso.com",
      "services": [
        { "name": "RTCSRV", "state": "stopped" },
        { "name": "RTCDATAPROXY", "state": "disabled" }
      ],
      "setup_version": null
    },
    {
      "fqdn": "edge3.contoso.com",
      "services": [ { "name": "RTCSRV", "state": "running" } ],
      "setup_version": 7
    }
  ]
}
"#;

    const STORE: &str = r#"{
  "version": 8,
  "enabled": true,
  "active_master": "fe1.contoso.com",
  "file_transfer_agents": ["fe1.contoso.com"],
  "sites": [],
  "replicas": [
    { "fqdn": "edge1.contoso.com", "version": 8, "last_update": "v8" },
    { "fqdn": "edge2.contoso.com", "version": 7, "last_update": null }
  ]
}
"#;

    fn lab() -> (tempfile::TempDir, Lab) {
        let root = tempfile::tempdir().unwrap();
        let lab = Lab {
            dir: root.path().join("servers"),
            store: root.path().join("store"),
            writes: root.path().join("writes"),
        };
        for dir in [&lab.dir, &lab.store, &lab.writes] {
            std::fs::create_dir(dir).unwrap();
        }
        std::fs::write(lab.dir.join(FILE), SERVERS).unwrap();
        std::fs::write(lab.store.join(STORE_FILE), STORE).unwrap();
        (root, lab)
    }

    fn log(lab: &Lab) -> String {
        std::fs::read_to_string(lab.writes.join(LOG)).unwrap_or_default()
    }

    fn machine(lab: &Lab, machine: &str) -> Result<MachineState, PluginError> {
        let mut answers = lab.read_machines(&[machine.to_owned()]).unwrap();
        assert_eq!(answers.len(), 1);
        answers.remove(0)
    }

    fn states(lab: &Lab, fqdn: &str) -> Vec<(String, ServiceState)> {
        machine(lab, fqdn)
            .unwrap()
            .services
            .into_iter()
            .map(|s| (s.name, s.state))
            .collect()
    }

    #[test]
    fn list_services_reads_the_machine() {
        let (_root, lab) = lab();
        let services = states(&lab, "EDGE1.contoso.com");
        assert_eq!(services.len(), 2);
        assert_eq!(services[0].0, "RTCSRV");
        assert!(matches!(services[0].1, ServiceState::Stopped));
        assert!(matches!(services[1].1, ServiceState::StartPending));
    }

    #[test]
    fn an_unknown_machine_is_not_found() {
        let (_root, lab) = lab();
        for err in [
            machine(&lab, "edge9.contoso.com").unwrap_err(),
            lab.start_services("edge9.contoso.com").unwrap_err(),
            lab.run_setup("edge9.contoso.com").unwrap_err(),
        ] {
            assert!(
                matches!(&err, PluginError::NotFound(m) if m == "machine `edge9.contoso.com` does not exist"),
                "{err:?}"
            );
        }
        assert_eq!(log(&lab), "");
    }

    #[test]
    fn start_services_runs_every_service_and_logs_it() {
        let (_root, lab) = lab();
        lab.start_services("edge1.contoso.com").unwrap();
        assert!(
            states(&lab, "edge1.contoso.com")
                .iter()
                .all(|(_, state)| matches!(state, ServiceState::Running))
        );
        // Other machines are untouched.
        assert!(matches!(
            states(&lab, "edge2.contoso.com")[0].1,
            ServiceState::Stopped
        ));
        // Starting running services is not an error; each call is one line.
        lab.start_services("edge1.contoso.com").unwrap();
        assert_eq!(
            log(&lab),
            "start-services edge1.contoso.com\nstart-services edge1.contoso.com\n"
        );
        let text = std::fs::read_to_string(lab.dir.join(FILE)).unwrap();
        assert!(text.contains(
            "      \"services\": [\n        {\n          \"name\": \"RTCSRV\",\n          \"state\": \"running\"\n        },"
        ));
        assert!(text.contains("\"setup_version\": null"));
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn start_services_with_a_disabled_service_fails_naming_it_and_starts_nothing() {
        let (_root, lab) = lab();
        let err = lab.start_services("edge2.contoso.com").unwrap_err();
        assert!(
            matches!(&err, PluginError::Failed(m) if m.contains("`RTCDATAPROXY`") && m.contains("`edge2.contoso.com`")),
            "{err:?}"
        );
        assert!(matches!(
            states(&lab, "edge2.contoso.com")[0].1,
            ServiceState::Stopped
        ));
        assert_eq!(log(&lab), "");
    }

    #[test]
    fn setup_version_reads_the_machine() {
        let (_root, lab) = lab();
        assert_eq!(
            machine(&lab, "edge1.contoso.com").unwrap().setup_version,
            Some(5)
        );
        assert_eq!(
            machine(&lab, "edge2.contoso.com").unwrap().setup_version,
            None
        );
    }

    #[test]
    fn a_batch_answers_each_machine_in_the_order_asked_and_an_unknown_one_alone() {
        let (_root, lab) = lab();
        let asked = [
            "edge3.contoso.com",
            "edge9.contoso.com",
            "Edge1.contoso.com",
        ]
        .map(str::to_owned);
        let answers = lab.read_machines(&asked).unwrap();
        assert_eq!(answers.len(), 3);
        assert_eq!(answers[0].as_ref().unwrap().setup_version, Some(7));
        assert!(matches!(&answers[1], Err(PluginError::NotFound(m)) if m.contains("edge9")));
        assert_eq!(answers[2].as_ref().unwrap().setup_version, Some(5));
        assert!(lab.read_machines(&[]).unwrap().is_empty());
    }

    #[test]
    fn run_setup_applies_the_replica_version() {
        let (_root, lab) = lab();
        let report = lab.run_setup("edge1.contoso.com").unwrap();
        assert_eq!(report.applied_version, 8);
        assert!(report.log.contains("version 8"), "{}", report.log);
        assert_eq!(
            machine(&lab, "edge1.contoso.com").unwrap().setup_version,
            Some(8)
        );
        // A replica behind the store is applied as it is: setup reads the replica.
        let report = lab.run_setup("edge2.contoso.com").unwrap();
        assert_eq!(report.applied_version, 7);
        assert_eq!(
            machine(&lab, "edge2.contoso.com").unwrap().setup_version,
            Some(7)
        );
        assert_eq!(
            log(&lab),
            "run-setup edge1.contoso.com\nrun-setup edge2.contoso.com\n"
        );
        // The store is only read.
        assert_eq!(
            std::fs::read_to_string(lab.store.join(STORE_FILE)).unwrap(),
            STORE
        );
    }

    #[test]
    fn run_setup_without_a_replica_fails() {
        let (_root, lab) = lab();
        let err = lab.run_setup("edge3.contoso.com").unwrap_err();
        assert!(
            matches!(&err, PluginError::Failed(m) if m.contains("`edge3.contoso.com`") && m.contains("no local replica")),
            "{err:?}"
        );
        assert_eq!(
            machine(&lab, "edge3.contoso.com").unwrap().setup_version,
            Some(7)
        );
        assert_eq!(log(&lab), "");
    }

    #[test]
    fn run_setup_without_the_store_fails() {
        let (_root, lab) = lab();
        std::fs::remove_file(lab.store.join(STORE_FILE)).unwrap();
        let err = lab.run_setup("edge1.contoso.com").unwrap_err();
        assert!(
            matches!(&err, PluginError::Failed(m) if m.contains("cannot read `store.json`")),
            "{err:?}"
        );
    }
}
