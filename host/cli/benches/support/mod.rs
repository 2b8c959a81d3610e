//! What the whole-process benchmarks share: running a `failback` binary, and
//! which binaries to measure.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Run `bin` with `args` and the compiled-component cache `cache`; panic with
/// its stderr when it fails.
pub fn failback<I, S>(bin: &Path, cache: &Path, args: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new(bin)
        .args(args)
        .env("FAILBACK_CACHE_DIR", cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{}` failed: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The binaries to measure, by name: this package's (`after`, or
/// `FAILBACK_BENCH_AFTER`), and `before` first when `FAILBACK_BENCH_BEFORE`
/// names another one. The harness only spawns processes, so it may itself be
/// built without optimisation.
pub fn binaries() -> Vec<(&'static str, PathBuf)> {
    let after = std::env::var_os("FAILBACK_BENCH_AFTER").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_failback")),
        PathBuf::from,
    );
    let mut binaries = vec![("after", after)];
    if let Some(before) = std::env::var_os("FAILBACK_BENCH_BEFORE") {
        binaries.insert(0, ("before", PathBuf::from(before)));
    }
    binaries
}
