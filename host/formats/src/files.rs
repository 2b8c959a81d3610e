//! Files of the environment directory: a path that cannot leave it
//! ([`RelativePath`]) and bounded reads of what it names.
//!
//! A leaf: the environment file ([`crate::environment`]), its `[trust]` and
//! `[approvals]` key files, components and policy modules are all read
//! through it.

use std::fmt;
use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

use cap_std::fs::Dir;

/// The largest environment file, manifest or secret file the host reads (1 MiB).
pub const MAX_TEXT_FILE_BYTES: u64 = 1 << 20;

/// Why a file of the environment directory could not be named or read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("`{path}` is larger than {limit} bytes")]
    TooLarge { path: String, limit: u64 },
    #[error("path `{0}` must be relative to the environment directory and must not contain `..`")]
    Path(String),
}

/// A path relative to the environment directory, without `..`: it cannot name
/// anything outside that directory (symbolic links aside, which the `Dir` refuses
/// to follow out of it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelativePath(PathBuf);

impl RelativePath {
    /// Check `text`: relative, no `..`, not empty.
    pub fn new(text: &str) -> Result<Self, FileError> {
        let path = Path::new(text);
        let plain = !text.is_empty()
            && path
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
            && path.components().any(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(FileError::Path(text.to_owned()));
        }
        Ok(Self(path.to_path_buf()))
    }

    #[must_use]
    pub fn as_path(&self) -> &Path {
        &self.0
    }
}

impl fmt::Display for RelativePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.display())
    }
}

/// Read a text file of the environment directory, at most [`MAX_TEXT_FILE_BYTES`].
pub fn read_text(dir: &Dir, path: &RelativePath) -> Result<String, FileError> {
    let bytes = read_bytes(dir, path, MAX_TEXT_FILE_BYTES)?;
    String::from_utf8(bytes).map_err(|_| FileError::Read {
        path: path.to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"),
    })
}

/// Read a file of the environment directory, at most `limit` bytes.
pub fn read_bytes(dir: &Dir, path: &RelativePath, limit: u64) -> Result<Vec<u8>, FileError> {
    let read_error = |source| FileError::Read {
        path: path.to_string(),
        source,
    };
    let file = dir.open(path.as_path()).map_err(read_error)?;
    // The size is a hint, read once into a buffer of that size rather than
    // one doubled and copied as it fills; the read is bounded whatever it is.
    let hint = file.metadata().map_or(0, |m| m.len()).min(limit);
    let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0).saturating_add(1));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: path.to_string(),
            limit,
        });
    }
    Ok(bytes)
}
