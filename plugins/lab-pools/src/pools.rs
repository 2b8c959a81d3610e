//! `pools/pools.json`: read it, answer `list-pools`, and carry out a failback
//! with the rules of docs/lab-files.md.

use std::path::PathBuf;

use failback_plugin_sdk::files;
use failback_plugin_sdk::pools::{PluginError, PoolState, PoolStatus};
use serde::{Deserialize, Serialize};

const FILE: &str = "pools.json";
const LOG: &str = "lab-pools.log";

/// Where the plugin's granted directories are.
#[derive(Debug)]
pub(crate) struct Lab {
    /// Holds `pools.json`.
    pub(crate) dir: PathBuf,
    /// Holds `lab-pools.log`.
    pub(crate) writes: PathBuf,
}

/// `pools.json`, as written. Keys the lab does not know are kept on rewrite.
#[derive(Debug, Deserialize, Serialize)]
struct PoolsFile {
    pools: Vec<Pool>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Pool {
    fqdn: String,
    state: State,
    backup_pool: Option<String>,
    failover_fqdn: Option<String>,
    online: bool,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
enum State {
    Normal,
    FailedOver,
    FailingBack,
}

impl From<State> for PoolState {
    fn from(state: State) -> Self {
        match state {
            State::Normal => PoolState::Normal,
            State::FailedOver => PoolState::FailedOver,
            State::FailingBack => PoolState::FailingBack,
        }
    }
}

impl Lab {
    /// Every Front End pool, as the file holds them.
    pub(crate) fn list_pools(&self) -> Result<Vec<PoolStatus>, PluginError> {
        let file = self.read()?;
        Ok(file
            .pools
            .into_iter()
            .map(|pool| PoolStatus {
                fqdn: pool.fqdn,
                state: pool.state.into(),
                backup_pool: pool.backup_pool,
                failover_fqdn: pool.failover_fqdn,
                online: pool.online,
            })
            .collect())
    }

    /// `Invoke-CsPoolFailback -PoolFqdn <pool_fqdn>`: only for a pool that is
    /// failed over, with the FQDN it was failed over with, whose servers are up.
    pub(crate) fn failback(&self, pool_fqdn: &str) -> Result<(), PluginError> {
        let mut file = self.read()?;
        let pool = file
            .pools
            .iter_mut()
            .find(|pool| pool.fqdn.eq_ignore_ascii_case(pool_fqdn))
            .ok_or_else(|| PluginError::NotFound(format!("pool `{pool_fqdn}` does not exist")))?;
        if pool.state != State::FailedOver {
            return Err(PluginError::Invalid(format!(
                "pool `{}` is not failed over",
                pool.fqdn
            )));
        }
        match &pool.failover_fqdn {
            Some(fqdn) if fqdn.eq_ignore_ascii_case(pool_fqdn) => {}
            Some(fqdn) => {
                return Err(PluginError::Invalid(format!(
                    "pool `{}` was failed over with `{fqdn}`, not `{pool_fqdn}`",
                    pool.fqdn
                )));
            }
            None => {
                return Err(PluginError::Invalid(format!(
                    "pool `{}` has no failover FQDN to fail back with",
                    pool.fqdn
                )));
            }
        }
        if !pool.online {
            return Err(PluginError::Unavailable(format!(
                "the servers of pool `{}` are not online",
                pool.fqdn
            )));
        }
        pool.state = State::Normal;
        pool.backup_pool = None;
        pool.failover_fqdn = None;
        self.write(&file)?;
        self.log(&format!("failback {pool_fqdn}"))
    }

    fn read(&self) -> Result<PoolsFile, PluginError> {
        files::read_json(&self.dir.join(FILE), FILE)
    }

    fn write(&self, file: &PoolsFile) -> Result<(), PluginError> {
        files::write_json(&self.dir.join(FILE), FILE, file)
    }

    fn log(&self, line: &str) -> Result<(), PluginError> {
        files::append_line(&self.writes.join(LOG), line)
            .map_err(|e| files::io_error("append to", LOG, &e))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]

    use super::*;

    const POOLS: &str = r#"{
  "pools": [
    {
      "fqdn": "fepool1.contoso.com",
      "state": "failed-over",
      "backup_pool": "fepool2.contoso.com",
      "failover_fqdn": "fepool1.contoso.com",
      "online": true
    },
    {
      "fqdn": "fepool2.contoso.com",
      "state": "normal",
      "backup_pool": null,
      "failover_fqdn": null,
      "online": true
    },
    {
      "fqdn": "fepool3.contoso.com",
      "state": "failed-over",
      "backup_pool": "fepool2.contoso.com",
      "failover_fqdn": "fepool3.contoso.com",
      "online": false
    },
    {
      "fqdn": "fepool4.contoso.com",
      "state": "failed-over",
      "backup_pool": "fepool2.contoso.com",
      "failover_fqdn": "fepool2.contoso.com",
      "online": true
    }
  ]
}
"#;

    fn lab() -> (tempfile::TempDir, Lab) {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("pools")).unwrap();
        std::fs::create_dir(root.path().join("writes")).unwrap();
        std::fs::write(root.path().join("pools").join(FILE), POOLS).unwrap();
        let lab = Lab {
            dir: root.path().join("pools"),
            writes: root.path().join("writes"),
        };
        (root, lab)
    }

    fn log(lab: &Lab) -> String {
        std::fs::read_to_string(lab.writes.join(LOG)).unwrap_or_default()
    }

    #[test]
    fn list_pools_reads_every_pool() {
        let (_root, lab) = lab();
        let pools = lab.list_pools().unwrap();
        assert_eq!(pools.len(), 4);
        assert_eq!(pools[0].fqdn, "fepool1.contoso.com");
        assert!(matches!(pools[0].state, PoolState::FailedOver));
        assert_eq!(pools[0].backup_pool.as_deref(), Some("fepool2.contoso.com"));
        assert!(matches!(pools[1].state, PoolState::Normal));
        assert_eq!(pools[1].failover_fqdn, None);
        assert!(!pools[2].online);
    }

    #[test]
    fn failback_returns_the_pool_to_normal_and_logs_it() {
        let (_root, lab) = lab();
        lab.failback("fepool1.contoso.com").unwrap();
        let pools = lab.list_pools().unwrap();
        assert!(matches!(pools[0].state, PoolState::Normal));
        assert_eq!(pools[0].backup_pool, None);
        assert_eq!(pools[0].failover_fqdn, None);
        assert_eq!(log(&lab), "failback fepool1.contoso.com\n");
        // The file stays in the lab's form: two-space indentation, keys in order,
        // nulls written, a final newline.
        let text = std::fs::read_to_string(lab.dir.join(FILE)).unwrap();
        assert!(text.starts_with("{\n  \"pools\": [\n    {\n      \"fqdn\": \"fepool1.contoso.com\",\n      \"state\": \"normal\",\n      \"backup_pool\": null,"));
        assert!(text.ends_with("}\n"));
        assert!(!lab.dir.join("pools.json.tmp").exists());
    }

    #[test]
    fn failback_of_an_unknown_pool_is_not_found() {
        let (_root, lab) = lab();
        let err = lab.failback("fepool9.contoso.com").unwrap_err();
        assert!(matches!(err, PluginError::NotFound(m) if m.contains("`fepool9.contoso.com`")));
        assert_eq!(log(&lab), "");
    }

    #[test]
    fn failback_of_a_pool_not_failed_over_is_invalid() {
        let (_root, lab) = lab();
        let err = lab.failback("fepool2.contoso.com").unwrap_err();
        assert!(matches!(err, PluginError::Invalid(m) if m.contains("not failed over")));
        // A second failback of a pool already failed back is refused the same way.
        lab.failback("fepool1.contoso.com").unwrap();
        let err = lab.failback("fepool1.contoso.com").unwrap_err();
        assert!(matches!(err, PluginError::Invalid(_)));
        assert_eq!(log(&lab), "failback fepool1.contoso.com\n");
    }

    #[test]
    fn failback_with_another_fqdn_than_the_failover_is_invalid() {
        let (_root, lab) = lab();
        let err = lab.failback("fepool4.contoso.com").unwrap_err();
        assert!(matches!(err, PluginError::Invalid(m) if m.contains("`fepool2.contoso.com`")),);
        assert!(matches!(
            lab.list_pools().unwrap()[3].state,
            PoolState::FailedOver
        ));
    }

    #[test]
    fn failback_of_an_offline_pool_is_unavailable() {
        let (_root, lab) = lab();
        let err = lab.failback("fepool3.contoso.com").unwrap_err();
        assert!(matches!(err, PluginError::Unavailable(m) if m.contains("`fepool3.contoso.com`")));
        assert_eq!(log(&lab), "");
    }

    #[test]
    fn unknown_keys_survive_a_rewrite() {
        let (_root, lab) = lab();
        let text = POOLS.replacen(
            "\"online\": true",
            "\"online\": true, \"site\": \"Site1\"",
            1,
        );
        std::fs::write(lab.dir.join(FILE), text).unwrap();
        lab.failback("fepool1.contoso.com").unwrap();
        let text = std::fs::read_to_string(lab.dir.join(FILE)).unwrap();
        assert!(text.contains("\"site\": \"Site1\""));
    }

    #[test]
    fn a_missing_or_malformed_file_is_failed() {
        let (_root, lab) = lab();
        std::fs::write(lab.dir.join(FILE), "{ \"pools\": 3 }").unwrap();
        assert!(
            matches!(lab.list_pools().unwrap_err(), PluginError::Failed(m) if m.contains("`pools.json` is malformed"))
        );
        std::fs::remove_file(lab.dir.join(FILE)).unwrap();
        assert!(
            matches!(lab.list_pools().unwrap_err(), PluginError::Failed(m) if m.contains("cannot read `pools.json`"))
        );
    }
}
