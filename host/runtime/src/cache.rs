//! The compiled-component cache: a directory of components compiled by this
//! engine, so that a CLI run never recompiles an unchanged component.
//!
//! An entry is named by the component's sha256 and the engine's precompile
//! compatibility hash, so a new wasmtime or a changed engine configuration
//! misses instead of loading an incompatible artifact. Entries are written to a
//! temporary file and renamed into place: an entry is never overwritten in place,
//! since loaded entries are memory-mapped. An entry that does not load (corrupt,
//! truncated, stale) is recompiled and replaced, never run. The caller chooses
//! the directory (the CLI passes `$XDG_CACHE_HOME/failback`); nothing here is
//! ambient.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::Dir;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::digest::Digest;

/// A directory of compiled components.
#[derive(Debug)]
pub struct ComponentCache {
    dir: Dir,
    root: PathBuf,
}

/// What loading through the cache did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// The compiled component was in the cache.
    Hit,
    /// It was not: it was compiled and stored.
    Compiled,
    /// The entry did not load (corrupt or stale): it was recompiled and replaced.
    Replaced,
}

/// Why a component could not be loaded through the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot compile component `{digest}`: {message}")]
    Compile { digest: Digest, message: String },
    #[error("cannot read the cache entry `{name}`: {source}")]
    Read {
        name: String,
        source: std::io::Error,
    },
    #[error("cannot write the cache entry `{name}`: {source}")]
    Write {
        name: String,
        source: std::io::Error,
    },
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ComponentCache {
    /// A cache in `dir`, whose host path is `root`.
    ///
    /// Entries are written through `dir`; they are loaded by path (`root` joined
    /// with the entry's name) because wasmtime memory-maps a compiled component
    /// only from a path (`Component::deserialize_file`).
    #[must_use]
    pub fn new(dir: Dir, root: PathBuf) -> Self {
        Self { dir, root }
    }

    /// The entry name of the component `digest` for an engine of compatibility
    /// hash `engine_hash`.
    #[must_use]
    pub fn entry_name(digest: Digest, engine_hash: &str) -> String {
        format!("{digest}-{engine_hash}.cwasm")
    }

    /// Load the component `bytes` (whose sha256 is `digest`) compiled for
    /// `engine`, from the cache or by compiling it.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        engine_hash: &str,
        digest: Digest,
        bytes: &[u8],
    ) -> Result<(Component, CacheOutcome), CacheError> {
        let name = Self::entry_name(digest, engine_hash);
        // SAFETY: `deserialize_file` runs the native code in the file. The file
        // was written by `store` below from `Component::serialize` of this
        // engine's configuration (its name holds the engine's compatibility
        // hash), renamed into place whole, and never written in place; wasmtime
        // checks its header, version and configuration and refuses a file that
        // does not match. The cache directory is the operator's, as trusted as
        // the binary; bit rot inside a code section is not detected (hashing the
        // entry on every load would cost more than the load itself).
        #[expect(
            unsafe_code,
            reason = "loading a precompiled component is unsafe; see the SAFETY comment"
        )]
        let loaded = unsafe { Component::deserialize_file(engine, self.root.join(&name)) };
        if let Ok(component) = loaded {
            return Ok((component, CacheOutcome::Hit));
        }
        // Not loaded: absent (compile it) or present but unusable (replace it).
        let outcome = match self.dir.metadata(&name) {
            Ok(_) => CacheOutcome::Replaced,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CacheOutcome::Compiled,
            Err(source) => return Err(CacheError::Read { name, source }),
        };
        let component = Component::new(engine, bytes).map_err(|e| CacheError::Compile {
            digest,
            message: format!("{e:#}"),
        })?;
        let serialized = component.serialize().map_err(|e| CacheError::Compile {
            digest,
            message: format!("{e:#}"),
        })?;
        self.store(&name, &serialized)?;
        Ok((component, outcome))
    }

    /// Write `bytes` as entry `name`: to a temporary file, then renamed over it.
    fn store(&self, name: &str, bytes: &[u8]) -> Result<(), CacheError> {
        let write_error = |source| CacheError::Write {
            name: name.to_owned(),
            source,
        };
        let temp = format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let result = (|| {
            let mut file = self.dir.create(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            drop(file);
            self.dir.rename(&temp, &self.dir, name)
        })();
        if result.is_err() {
            let _ = self.dir.remove_file(&temp);
        }
        result.map_err(write_error)
    }
}
