//! One apply per environment at a time: an exclusive lock on
//! `<environment dir>/.failback/lock`, held by `failback apply` and
//! `failback resume` for the whole run.
//!
//! The lock is the operating system's advisory file lock
//! ([`std::fs::File::try_lock`]), so it is released when the holder exits,
//! however it exits — a crashed apply leaves no stale lock. The holder writes
//! who it is (pid, host, start time, command) into the file; a second apply
//! is refused with that text.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The lock file's name inside the environment's state directory.
pub const LOCK_FILE: &str = "lock";

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
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
            started: crate::journal::now(),
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
            crate::journal::format_time(self.started)
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

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another apply holds this environment: {holder}")]
    Held { holder: String },
    #[error("the lock file `{path}` cannot be used")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The environment's lock, held while this value lives.
#[derive(Debug)]
pub struct EnvironmentLock {
    file: File,
}

impl EnvironmentLock {
    /// Take the lock at `path` for `holder`, or say who has it.
    pub fn acquire(path: &Path, holder: &Holder) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = serde_json::from_str::<Holder>(text.trim())
                    .map_or_else(|_| "an unknown process".to_owned(), |h| h.to_string());
                return Err(LockError::Held { holder });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let text = serde_json::to_string(holder).unwrap_or_default();
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(format!("{text}\n").as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(Self { file })
    }
}

impl Drop for EnvironmentLock {
    fn drop(&mut self) {
        // Say nobody holds it, then let go (closing the file releases it too).
        let _ = self.file.set_len(0);
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
}
