//! One apply per environment at a time: an exclusive lock on
//! `<environment dir>/.failback/lock`, held by `failback apply` and
//! `failback resume` for the whole run.
//!
//! The lock is the operating system's advisory file lock
//! ([`std::fs::File::try_lock`]), so it is released when the holder exits,
//! however it exits — a crashed apply leaves no stale lock. The lock file is
//! opened without following a symbolic link, created `0600` when missing, and
//! never written to or truncated: who holds it (pid, host, start time,
//! command) goes into a separate `lock.holder`, replaced by rename, which a
//! second apply is refused with.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The lock file's name inside the environment's state directory.
pub const LOCK_FILE: &str = "lock";
/// Beside the lock file: who holds it.
const HOLDER_SUFFIX: &str = ".holder";

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// The operating-system user running it.
    #[serde(default)]
    pub user: String,
    /// Seconds since the Unix epoch.
    pub started: u64,
    /// `apply` or `resume`.
    pub command: String,
}

impl Holder {
    /// This process, running `command`.
    #[must_use]
    pub fn this_process(command: &str) -> Self {
        Self {
            pid: std::process::id(),
            host: host_name(),
            user: user_name(),
            started: crate::record::journal::now(),
            command: command.to_owned(),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`failback {}` (pid {} on {}, since {})",
            self.command,
            self.pid,
            self.host,
            crate::record::journal::format_time(self.started)
        )
    }
}

/// The machine's host name, as the kernel has it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "unknown host".to_owned())
}

/// The user running this process, as the environment names it.
fn user_name() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "an unknown user".to_owned())
}

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another apply holds this environment: {holder}")]
    Held { holder: String },
    #[error(
        "another apply holds the deployment `{deployment}`: {holder}{}",
        waited_for(*waited)
    )]
    HeldShared {
        deployment: String,
        holder: String,
        waited: std::time::Duration,
    },
    #[error("the deployment's lock cannot be taken: {0}")]
    Shared(String),
    #[error("the lock file `{path}` cannot be used")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn waited_for(waited: std::time::Duration) -> String {
    if waited.is_zero() {
        String::new()
    } else {
        format!(" (waited {} s)", waited.as_secs_f64().round())
    }
}

/// The environment's lock, held while this value lives.
#[derive(Debug)]
pub struct EnvironmentLock {
    file: File,
    holder: PathBuf,
}

impl EnvironmentLock {
    /// Take the lock at `path` for `holder`, or say who has it.
    pub fn acquire(path: &Path, holder: &Holder) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options
                .mode(0o600)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits().cast_signed());
        }
        let file = options.open(path).map_err(io)?;
        if !file.metadata().map_err(io)?.is_file() {
            return Err(io(std::io::Error::other("not a regular file")));
        }
        let holder_path = holder_path(path);
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&holder_path)
                    .ok()
                    .and_then(|text| serde_json::from_str::<Holder>(text.trim()).ok())
                    .map_or_else(|| "an unknown process".to_owned(), |h| h.to_string());
                return Err(LockError::Held { holder });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        write_holder(&holder_path, holder).map_err(io)?;
        Ok(Self {
            file,
            holder: holder_path,
        })
    }
}

fn holder_path(lock: &Path) -> PathBuf {
    let mut name = lock.as_os_str().to_owned();
    name.push(HOLDER_SUFFIX);
    PathBuf::from(name)
}

/// Write who holds the lock: to a new private file, renamed over the last one
/// (a rename replaces a name; it writes into no file that was there).
fn write_holder(path: &Path, holder: &Holder) -> std::io::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".{}.tmp", std::process::id()));
    let temp = PathBuf::from(temp);
    let _ = std::fs::remove_file(&temp);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| {
        let mut file = options.open(&temp)?;
        let text = serde_json::to_string(holder).unwrap_or_default();
        file.write_all(format!("{text}\n").as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

impl Drop for EnvironmentLock {
    fn drop(&mut self) {
        // Say nobody holds it, then let go (closing the file releases it too).
        let _ = std::fs::remove_file(&self.holder);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_told_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        let first = EnvironmentLock::acquire(&path, &Holder::this_process("apply")).unwrap();
        let err = EnvironmentLock::acquire(&path, &Holder::this_process("resume")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`failback apply`"), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(first);
        EnvironmentLock::acquire(&path, &Holder::this_process("resume")).unwrap();
    }

    #[test]
    fn the_lock_never_truncates_a_file_that_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        std::fs::write(&path, "someone's data").unwrap();
        let lock = EnvironmentLock::acquire(&path, &Holder::this_process("apply")).unwrap();
        drop(lock);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "someone's data");
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_file_that_is_a_symbolic_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let path = dir.path().join(LOCK_FILE);
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let error = EnvironmentLock::acquire(&path, &Holder::this_process("apply")).unwrap_err();
        assert!(matches!(error, LockError::Io { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        // The host keeps serving: with the link gone, the lock is taken.
        std::fs::remove_file(&path).unwrap();
        EnvironmentLock::acquire(&path, &Holder::this_process("apply")).unwrap();
    }
}
