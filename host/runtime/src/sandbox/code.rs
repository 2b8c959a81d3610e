//! Memory for compiled code that the host maps itself.
//!
//! A compiled-cache entry ([`crate::sandbox::cache`]) is read once, into memory mapped
//! here ([`Mapping`]), checked there against its seal, made read-only, and
//! handed to wasmtime in place (`Component::deserialize_raw`). wasmtime makes
//! its text executable through [`HostCode`], the engine's
//! `CustomCodeMemory`, and does not copy it into memory of its own, as
//! `Component::deserialize` did: ~7 MB a `plan` on the lab, a page fault and a
//! zeroed page each (BENCHMARKS.md, "Start-up, again").
//!
//! The memory lives as long as the component's code. wasmtime hands it back
//! (`unpublish_executable`) first thing when it drops the code and reads
//! none of it afterwards: the engine registers no native unwind information
//! (`Config::native_unwind_info(false)`, set by [`HostCode::configure`]), the
//! only part of the code wasmtime would still read on its way out (libgcc's
//! `__deregister_frame` walks the `.eh_frame` it was given). So a mapping is
//! unmapped there. One wasmtime never published (a load that failed) is
//! unmapped by the caller, or with the engine at the latest.
//!
//! Only on x86-64 Unix, where instruction caches need no flush after the
//! kernel wrote the code: elsewhere the entry is read into a buffer and
//! wasmtime copies it, as before.

use std::sync::Arc;

use wasmtime::component::Component;
use wasmtime::{Config, Engine};

#[cfg(not(all(unix, target_arch = "x86_64")))]
pub(crate) use copied::{HostCode, Mapping};
#[cfg(all(unix, target_arch = "x86_64"))]
pub(crate) use mapped::{HostCode, Mapping};

impl HostCode {
    /// Set `config` up for code loaded through this: executable memory
    /// published by it, no native unwind information (see the module doc).
    pub(crate) fn configure(self: &Arc<Self>, config: &mut Config) {
        config.native_unwind_info(false);
        self.install(config);
    }

    /// The component whose compiled form `entry` holds, loaded in place.
    ///
    /// # Safety
    ///
    /// `entry` must hold exactly what `Component::serialize` of an engine
    /// configured like `engine` wrote for this component (the cache's seal
    /// says so): wasmtime runs the native code in it.
    #[expect(
        unsafe_code,
        reason = "loading precompiled code; see the safety section"
    )]
    pub(crate) unsafe fn load(
        &self,
        engine: &Engine,
        entry: Mapping,
    ) -> wasmtime::Result<Component> {
        // SAFETY: the caller's contract; `load_in_place` keeps the memory
        // mapped, read-only, for as long as the code lives.
        unsafe { self.load_in_place(engine, entry) }
    }
}

#[cfg(all(unix, target_arch = "x86_64"))]
#[expect(
    unsafe_code,
    reason = "mapping, protecting and unmapping memory that holds code"
)]
mod mapped {
    use std::collections::BTreeMap;
    use std::ffi::c_void;
    use std::ptr::NonNull;
    use std::sync::{Arc, Mutex, PoisonError};

    use rustix::mm::{MapFlags, MprotectFlags, ProtFlags, mmap_anonymous, mprotect, munmap};
    use wasmtime::component::Component;
    use wasmtime::{Config, CustomCodeMemory, Engine};

    /// Anonymous memory of this process, read-write until
    /// [`Mapping::make_read_only`], unmapped when dropped.
    #[derive(Debug)]
    pub(crate) struct Mapping {
        /// The address of its first page (an address, not a pointer: the
        /// memory is this value's alone, which makes it `Send`).
        start: usize,
        /// The bytes it holds.
        len: usize,
        /// The bytes mapped: `len` rounded up to whole pages, at least one.
        mapped: usize,
    }

    impl Mapping {
        /// `len` bytes of zeroed memory, its pages faulted in at once
        /// (`MAP_POPULATE`: one call, not a fault per page as it is filled).
        pub(crate) fn new(len: usize) -> std::io::Result<Self> {
            let page = rustix::param::page_size();
            let mapped = len
                .max(1)
                .checked_next_multiple_of(page)
                .ok_or_else(|| std::io::Error::other("too large to map"))?;
            // SAFETY: a new anonymous mapping at an address the kernel
            // chooses; nothing else refers to it.
            let start = unsafe {
                mmap_anonymous(
                    std::ptr::null_mut(),
                    mapped,
                    ProtFlags::READ | ProtFlags::WRITE,
                    MapFlags::PRIVATE | MapFlags::POPULATE,
                )
            }?;
            Ok(Self {
                start: start.addr(),
                len,
                mapped,
            })
        }

        /// Its bytes, to be filled (before [`Mapping::make_read_only`]).
        pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
            // SAFETY: `len` bytes at `start` are mapped read-write (a
            // read-only mapping is never borrowed mutably: `load_in_place`
            // consumes it) and belong to this value, borrowed mutably here.
            unsafe { std::slice::from_raw_parts_mut(self.start as *mut u8, self.len) }
        }

        pub(crate) fn as_slice(&self) -> &[u8] {
            // SAFETY: `len` bytes at `start` are mapped readable and belong
            // to this value.
            unsafe { std::slice::from_raw_parts(self.start as *const u8, self.len) }
        }

        /// Refuse every write to it from now on.
        fn make_read_only(&self) -> std::io::Result<()> {
            // SAFETY: the pages are this value's own.
            unsafe { mprotect(self.start as *mut c_void, self.mapped, MprotectFlags::READ) }?;
            Ok(())
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: the pages are this value's own and nothing refers to
            // them any more (see `HostCode`).
            let _ = unsafe { munmap(self.start as *mut c_void, self.mapped) };
        }
    }

    /// The engine's code memory: it makes code executable, and holds each
    /// [`Mapping`] wasmtime runs code from until wasmtime hands it back.
    #[derive(Debug, Default)]
    pub(crate) struct HostCode {
        /// The mappings handed to wasmtime, by start address.
        lent: Mutex<BTreeMap<usize, Mapping>>,
    }

    impl HostCode {
        pub(super) fn install(self: &Arc<Self>, config: &mut Config) {
            config.with_custom_code_memory(Some(Arc::clone(self) as Arc<dyn CustomCodeMemory>));
        }

        /// See [`HostCode::load`].
        pub(super) unsafe fn load_in_place(
            &self,
            engine: &Engine,
            entry: Mapping,
        ) -> wasmtime::Result<Component> {
            entry.make_read_only()?;
            let start = entry.start;
            let memory = NonNull::from(entry.as_slice());
            self.lent().insert(start, entry);
            // SAFETY: the caller vouches for the bytes. They stay mapped,
            // read-only, until wasmtime drops the code it loads from them:
            // it gives them back through `unpublish_executable` then, and
            // only then are they unmapped.
            let loaded = unsafe { Component::deserialize_raw(engine, memory) };
            if loaded.is_err() {
                // Nothing of it is kept (or, once published, it was given
                // back already): unmap it now.
                drop(self.lent().remove(&start));
            }
            loaded
        }

        fn lent(&self) -> std::sync::MutexGuard<'_, BTreeMap<usize, Mapping>> {
            self.lent.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    impl CustomCodeMemory for HostCode {
        fn required_alignment(&self) -> usize {
            rustix::param::page_size()
        }

        fn publish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
            // The page-aligned text of code wasmtime holds (in a `Mapping`
            // lent to it, or memory of its own), written and read-only: it
            // becomes executable, never writable.
            protect(ptr, len, MprotectFlags::READ | MprotectFlags::EXEC)
        }

        fn unpublish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
            let address = ptr.addr();
            let mut lent = self.lent();
            let ours = lent
                .range(..=address)
                .next_back()
                .filter(|(start, mapping)| address < *start + mapping.mapped)
                .map(|(start, _)| *start);
            if let Some(start) = ours {
                // wasmtime is dropping the code, and reads none of it from
                // here on (see the module doc).
                drop(lent.remove(&start));
                return Ok(());
            }
            drop(lent);
            // Memory of wasmtime's own (a component compiled in this
            // process), which it unmaps next: back to read-write, as its
            // contract says.
            protect(ptr, len, MprotectFlags::READ | MprotectFlags::WRITE)
        }
    }

    /// Give the `len` bytes of text at `ptr` that wasmtime publishes or
    /// takes back the access `flags`.
    fn protect(ptr: *const u8, len: usize, flags: MprotectFlags) -> wasmtime::Result<()> {
        if len == 0 {
            return Ok(());
        }
        // SAFETY: wasmtime gives the page-aligned text of code it holds and
        // runs none of it while it is not executable.
        unsafe { mprotect(ptr.cast_mut().cast(), len, flags) }?;
        Ok(())
    }
}

#[cfg(not(all(unix, target_arch = "x86_64")))]
mod copied {
    use std::sync::Arc;

    use wasmtime::component::Component;
    use wasmtime::{Config, Engine};

    /// The entry's bytes, in a buffer: wasmtime copies them into
    /// executable memory of its own.
    #[derive(Debug)]
    pub(crate) struct Mapping(Vec<u8>);

    impl Mapping {
        pub(crate) fn new(len: usize) -> std::io::Result<Self> {
            Ok(Self(vec![0; len]))
        }

        pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
            &mut self.0
        }

        pub(crate) fn as_slice(&self) -> &[u8] {
            &self.0
        }
    }

    #[derive(Debug, Default)]
    pub(crate) struct HostCode;

    impl HostCode {
        pub(super) fn install(self: &Arc<Self>, _config: &mut Config) {}

        #[expect(unsafe_code, reason = "loading precompiled code")]
        pub(super) unsafe fn load_in_place(
            &self,
            engine: &Engine,
            entry: Mapping,
        ) -> wasmtime::Result<Component> {
            // SAFETY: the caller vouches for the bytes.
            unsafe { Component::deserialize(engine, entry.as_slice()) }
        }
    }
}
