//! The environment's own state directory, `.failback/` beside the environment
//! file: the journal, the audit log and the lock. It holds what the runs did
//! and who approved them, so it is this user's alone: the directory `0700`,
//! each file `0600`, nothing in it reached through a symbolic link.

use std::path::{Path, PathBuf};

use crate::record::audit_log::AUDIT_FILE;
use crate::record::journal::JOURNAL_FILE;

/// The state directory's name, beside the environment file.
pub const STATE_DIR: &str = ".failback";

/// Why the state directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateDirError {
    #[error("cannot prepare `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing `{path}`: {reason}")]
    Unsafe { path: String, reason: String },
}

/// `<root>/.failback`, made private: created `0700` when missing, tightened to
/// `0700` when looser; the journal and the audit log created `0600` when
/// missing and tightened to `0600` when looser. Refused when it, or one of
/// those files, is a symbolic link, is not what it should be, or belongs to
/// another user.
pub fn prepare(root: &Path) -> Result<PathBuf, StateDirError> {
    let dir = root.join(STATE_DIR);
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| StateDirError::Io { path, source }
    };
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(&dir)(e)),
    }
    make_private(&dir, true)?;
    for file in [JOURNAL_FILE, AUDIT_FILE] {
        let path = dir.join(file);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                make_private(&path, false)?;
            }
            Err(e) => return Err(io(&path)(e)),
        }
    }
    Ok(dir)
}

/// Check that `path` is this user's directory (`is_dir`) or regular file, not
/// a symbolic link, and take every permission from the group and others.
#[cfg(unix)]
fn make_private(path: &Path, is_dir: bool) -> Result<(), StateDirError> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let shown = path.display().to_string();
    let refuse = |reason: String| StateDirError::Unsafe {
        path: shown.clone(),
        reason,
    };
    let metadata = std::fs::symlink_metadata(path).map_err(|source| StateDirError::Io {
        path: shown.clone(),
        source,
    })?;
    let kind_ok = if is_dir {
        metadata.is_dir()
    } else {
        metadata.is_file()
    };
    if !kind_ok {
        return Err(refuse(format!(
            "it is a symbolic link or not a {}",
            if is_dir { "directory" } else { "regular file" }
        )));
    }
    if let Some(reason) = not_mine(metadata.uid()) {
        return Err(refuse(reason));
    }
    let mode = metadata.mode() & 0o7777;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700)).map_err(
            |source| StateDirError::Io {
                path: shown.clone(),
                source,
            },
        )?;
    }
    Ok(())
}

/// Why a file of owner `uid` is not this user's, if it is not.
#[cfg(unix)]
pub(crate) fn not_mine(uid: u32) -> Option<String> {
    let me = rustix::process::geteuid().as_raw();
    (uid != me).then(|| format!("it belongs to user {uid}, not to you (user {me})"))
}

#[cfg(not(unix))]
fn make_private(_path: &Path, _is_dir: bool) -> Result<(), StateDirError> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_state_directory_and_its_files_are_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = prepare(root.path()).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(JOURNAL_FILE)), 0o600);
        assert_eq!(mode(&dir.join(AUDIT_FILE)), 0o600);
    }

    #[test]
    fn a_world_readable_state_directory_of_an_older_run_is_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(STATE_DIR);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join(AUDIT_FILE), "").unwrap();
        std::fs::set_permissions(dir.join(AUDIT_FILE), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        prepare(root.path()).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(AUDIT_FILE)), 0o600);
    }

    #[test]
    fn a_state_directory_that_is_a_symbolic_link_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), root.path().join(STATE_DIR)).unwrap();
        let error = prepare(root.path()).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }
}
