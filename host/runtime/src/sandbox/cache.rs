//! The compiled-component cache: a directory of components compiled by this
//! engine, so that a CLI run never recompiles an unchanged component.
//!
//! A compiled component is native code (`Component::deserialize` trusts its
//! bytes), so the cache is treated as code:
//! - the directory belongs to this user and nobody else may write to it: it is
//!   created `0700`, tightened to `0700` when it is this user's and looser, and
//!   refused with a clear message when another user owns it or others may
//!   write to it;
//! - each entry is sealed when this process writes it: a keyed BLAKE3 (a MAC,
//!   keyed with a per-user key kept in the cache: `key`, `0600`, made on first
//!   use) over the entry's name (the component's sha256 and the engine's
//!   compatibility hash) and its bytes. An entry is opened without following a
//!   symbolic link, read whole into memory, and loaded only when its seal holds:
//!   a compiled file copied over another component's entry, a corrupted or a
//!   planted one is refused, compiled again from the pinned component, and
//!   reported ([`CacheOutcome::Replaced`], which the runtime audits);
//! - the checked bytes are what wasmtime loads, not a file mapped after the
//!   check, which could change underneath: the entry is read into memory of
//!   this process ([`crate::sandbox::code`]), checked there, made read-only and
//!   loaded in place;
//! - an entry is only ever compiled from bytes whose sha256 is the digest it
//!   is named by: a caller that gives a digest it did not compute (a built-in
//!   component's, taken from the build) cannot store other code under it.
//!
//! The seal was an HMAC-SHA256 until the lab's `plan` was measured spending
//! about a sixth of its time on it (~7 MB of entries a run; BENCHMARKS.md,
//! "Start-up"); BLAKE3 is several times faster for the same 256-bit key and
//! tag. Entries of the HMAC format are named otherwise ([`ENTRY_FORMAT`]), so
//! they are never found, let alone refused as planted: they are compiled anew.
//!
//! Entries are written to a temporary file and renamed into place, never
//! written in place. The caller chooses the directory (the CLI passes
//! `$XDG_CACHE_HOME/failback`); nothing here is ambient.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::Dir;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::digest::Digest;
use crate::sandbox::code::{HostCode, Mapping};

/// The name of the key file inside the cache directory.
pub const KEY_FILE: &str = "key";
/// The largest entry the cache reads (256 MiB).
const MAX_ENTRY_BYTES: usize = 256 << 20;
/// The format of an entry (its seal), part of its name: `v2`, sealed with a
/// keyed BLAKE3 (entries of `v1`, sealed with an HMAC-SHA256, had none).
pub const ENTRY_FORMAT: &str = "v2";
/// What an entry's seal covers besides its name and bytes: the format.
const SEAL_CONTEXT: &[u8] = b"failback compiled-component cache v2\0";
/// The length of an entry's seal, written before its bytes.
const SEAL_BYTES: usize = blake3::OUT_LEN;

/// A directory of compiled components, and the key that seals them.
pub struct ComponentCache {
    dir: Dir,
    key: [u8; 32],
}

impl fmt::Debug for ComponentCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentCache").finish_non_exhaustive()
    }
}

/// What loading through the cache did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// The compiled component was in the cache, its seal intact.
    Hit,
    /// It was not: it was compiled and stored.
    Compiled,
    /// The entry was refused: it was compiled again and replaced.
    Replaced(Refusal),
}

/// Why a cache entry was not loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a regular file (a symbolic link, a directory, a FIFO).
    NotAFile,
    /// Its seal does not hold: written by someone else, for another component,
    /// or changed since.
    Seal,
    /// Sealed, but this engine cannot load it.
    Unloadable,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAFile => "not a regular file",
            Self::Seal => "its seal does not hold: not written by this user's failback for this component, or changed since",
            Self::Unloadable => "this engine cannot load it",
        })
    }
}

/// Why a component could not be loaded through the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot compile component `{digest}`: {message}")]
    Compile { digest: Digest, message: String },
    #[error(
        "refusing to compile component `{digest}` into the cache: its bytes have sha256 `{actual}`"
    )]
    NotTheComponent { digest: Digest, actual: Digest },
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
    #[error("cannot open the cache directory `{path}`: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "refusing the cache directory `{path}`: {reason}; compiled components are code, so only a directory of your own that nobody else can write to is used (remove it, or set FAILBACK_CACHE_DIR to another)"
    )]
    Unsafe { path: String, reason: String },
    #[error("cannot read or make the cache key `{path}`: {reason}")]
    Key { path: String, reason: String },
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ComponentCache {
    /// The cache in the directory `root`, created (`0700`, with its parents) if
    /// missing; checked as the module doc says, its key read or made.
    pub fn open(root: &Path) -> Result<Self, CacheError> {
        let shown = root.display().to_string();
        let open_error = |source| CacheError::Open {
            path: shown.clone(),
            source,
        };
        if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(open_error)?;
        }
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(root) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(open_error(e)),
        }
        let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority()).map_err(open_error)?;
        Self::new(dir, &shown)
    }

    /// The cache in the opened directory `dir`, shown to people as `shown`:
    /// checked, and its key read or made.
    pub fn new(dir: Dir, shown: &str) -> Result<Self, CacheError> {
        secure_directory(&dir, shown)?;
        let key = read_or_make_key(&dir, shown)?;
        Ok(Self { dir, key })
    }

    /// The entry name of the component `digest` for an engine of compatibility
    /// hash `engine_hash`, in this [`ENTRY_FORMAT`].
    #[must_use]
    pub fn entry_name(digest: Digest, engine_hash: &str) -> String {
        format!("{digest}-{engine_hash}.{ENTRY_FORMAT}.cwasm")
    }

    /// The seal of entry `name` holding `bytes`. Comparing two
    /// [`blake3::Hash`]es takes the same time wherever they differ.
    fn seal(&self, name: &str, bytes: &[u8]) -> blake3::Hash {
        let mut mac = blake3::Hasher::new_keyed(&self.key);
        mac.update(SEAL_CONTEXT);
        mac.update(name.as_bytes());
        mac.update(b"\0");
        mac.update(bytes);
        mac.finalize()
    }

    /// Load the component `bytes` (whose sha256 is `digest`) compiled for
    /// `engine` (whose code memory is `code`), from the cache or by compiling
    /// it.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        code: &HostCode,
        engine_hash: &str,
        digest: Digest,
        bytes: &[u8],
    ) -> Result<(Component, CacheOutcome), CacheError> {
        let name = Self::entry_name(digest, engine_hash);
        let outcome = match self.read_entry(&name)? {
            None => CacheOutcome::Compiled,
            Some(Err(refusal)) => CacheOutcome::Replaced(refusal),
            Some(Ok(entry)) => {
                // SAFETY: `load` runs the native code in `entry`. These bytes
                // are in this process's memory, read from an entry whose seal
                // (keyed with this user's key, over the entry's name — this
                // component's digest and this engine's hash — and its bytes)
                // holds: this user's failback wrote them with
                // `Component::serialize` of this engine for this component, and
                // they have not changed since (nor can they: `load` makes them
                // read-only before wasmtime reads them). wasmtime checks their
                // header, version and configuration too.
                #[expect(
                    unsafe_code,
                    reason = "loading a precompiled component is unsafe; see the SAFETY comment"
                )]
                let loaded = unsafe { code.load(engine, entry) };
                match loaded {
                    Ok(component) => return Ok((component, CacheOutcome::Hit)),
                    Err(_) => CacheOutcome::Replaced(Refusal::Unloadable),
                }
            }
        };
        let actual = Digest::of(bytes);
        if actual != digest {
            return Err(CacheError::NotTheComponent { digest, actual });
        }
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

    /// The compiled component of entry `name` — the bytes after its seal —
    /// when its seal holds; `None` when there is none. Read once, into memory
    /// of its size that wasmtime can run it from ([`Mapping`]).
    fn read_entry(&self, name: &str) -> Result<Option<Result<Mapping, Refusal>>, CacheError> {
        let read_error = |source| CacheError::Read {
            name: name.to_owned(),
            source,
        };
        let mut file = match open_nofollow(&self.dir, name) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if is_link_or_special(&e) => return Ok(Some(Err(Refusal::NotAFile))),
            Err(e) => return Err(read_error(e)),
        };
        let metadata = file.metadata().map_err(read_error)?;
        if !metadata.is_file() {
            return Ok(Some(Err(Refusal::NotAFile)));
        }
        // The size read now is what is read: should the file change
        // meanwhile, a shorter one fails to fill it and a longer one is read
        // no further, and either way the seal decides on what was read.
        let Some(len) = usize::try_from(metadata.len())
            .ok()
            .filter(|len| (SEAL_BYTES..=MAX_ENTRY_BYTES).contains(len))
            .map(|len| len - SEAL_BYTES)
        else {
            return Ok(Some(Err(Refusal::Seal)));
        };
        let mut seal = [0_u8; SEAL_BYTES];
        let mut entry = Mapping::new(len).map_err(read_error)?;
        let read = file
            .read_exact(&mut seal)
            .and_then(|()| file.read_exact(entry.as_mut_slice()));
        match read {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok(Some(Err(Refusal::Seal)));
            }
            Err(e) => return Err(read_error(e)),
        }
        if self.seal(name, entry.as_slice()) != blake3::Hash::from_bytes(seal) {
            return Ok(Some(Err(Refusal::Seal)));
        }
        Ok(Some(Ok(entry)))
    }

    /// Write `bytes` as entry `name`, sealed: to a temporary file (`0600`),
    /// then renamed over it.
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
        let seal = self.seal(name, bytes);
        let result = (|| {
            let mut file = create_private(&self.dir, &temp)?;
            file.write_all(seal.as_bytes())?;
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

/// A new file `name` of `dir`, readable and writable by this user only, that
/// did not exist before.
fn create_private(dir: &Dir, name: &str) -> std::io::Result<cap_std::fs::File> {
    let mut options = cap_std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    cap_std::fs::OpenOptionsExt::mode(&mut options, 0o600);
    dir.open_with(name, &options)
}

/// Open the file `name` of `dir` for reading, refusing a symbolic link.
#[cfg(unix)]
fn open_nofollow(dir: &Dir, name: &str) -> std::io::Result<std::fs::File> {
    use rustix::fs::{Mode, OFlags, openat};
    let fd = openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    Ok(std::fs::File::from(fd))
}

#[cfg(not(unix))]
fn open_nofollow(dir: &Dir, name: &str) -> std::io::Result<std::fs::File> {
    if dir.symlink_metadata(name)?.is_symlink() {
        return Err(std::io::Error::other("a symbolic link"));
    }
    Ok(dir.open(name)?.into_std())
}

/// Whether opening failed because the name is a symbolic link (`ELOOP`).
fn is_link_or_special(error: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
    }
    #[cfg(not(unix))]
    {
        error.kind() == std::io::ErrorKind::Other
    }
}

/// Check that the cache directory is this user's and nobody else can write to
/// it; tighten it to `0700` when it is looser.
#[cfg(unix)]
fn secure_directory(dir: &Dir, shown: &str) -> Result<(), CacheError> {
    use cap_std::fs::MetadataExt as _;
    let unsafe_dir = |reason: String| CacheError::Unsafe {
        path: shown.to_owned(),
        reason,
    };
    let metadata = dir.dir_metadata().map_err(|source| CacheError::Open {
        path: shown.to_owned(),
        source,
    })?;
    if let Some(reason) = crate::record::state::not_mine(metadata.uid()) {
        return Err(unsafe_dir(reason));
    }
    let mode = metadata.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "others may write to it (mode {mode:o})"
        )));
    }
    if mode & 0o077 != 0 {
        // `dir` may be a path-only handle, which `fchmod` refuses: change `.`.
        rustix::fs::chmodat(
            dir,
            ".",
            rustix::fs::Mode::from_raw_mode(0o700),
            rustix::fs::AtFlags::empty(),
        )
        .map_err(|e| CacheError::Open {
            path: shown.to_owned(),
            source: e.into(),
        })?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn secure_directory(_dir: &Dir, _shown: &str) -> Result<(), CacheError> {
    Ok(())
}

/// The cache's key: read from [`KEY_FILE`] (a regular file of 32 bytes that
/// only this user may read), or made from the operating system's random
/// numbers when there is none.
fn read_or_make_key(dir: &Dir, shown: &str) -> Result<[u8; 32], CacheError> {
    let path = format!("{shown}/{KEY_FILE}");
    let key_error = |reason: String| CacheError::Key {
        path: path.clone(),
        reason,
    };
    match open_nofollow(dir, KEY_FILE) {
        Ok(file) => {
            let metadata = file.metadata().map_err(|e| key_error(e.to_string()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt as _;
                if metadata.mode() & 0o077 != 0 {
                    return Err(key_error(format!(
                        "others may read or write it (mode {:o}); remove it and a new one is made",
                        metadata.mode() & 0o7777
                    )));
                }
            }
            let mut key = [0_u8; 32];
            let mut bytes = Vec::new();
            file.take(64)
                .read_to_end(&mut bytes)
                .map_err(|e| key_error(e.to_string()))?;
            if !metadata.is_file() || bytes.len() != key.len() {
                return Err(key_error(
                    "not a 32-byte file; remove it and a new one is made".to_owned(),
                ));
            }
            key.copy_from_slice(&bytes);
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0_u8; 32];
            getrandom::fill(&mut key).map_err(|e| key_error(e.to_string()))?;
            let temp = format!(".{KEY_FILE}.{}.tmp", std::process::id());
            let written = (|| {
                let mut file = create_private(dir, &temp)?;
                file.write_all(&key)?;
                file.sync_all()?;
                drop(file);
                // Another process may have made one meanwhile: keep the first.
                dir.hard_link(&temp, dir, KEY_FILE)
            })();
            let _ = dir.remove_file(&temp);
            match written {
                Ok(()) => Ok(key),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    read_or_make_key(dir, shown)
                }
                Err(e) => Err(key_error(e.to_string())),
            }
        }
        Err(e) => Err(key_error(e.to_string())),
    }
}
