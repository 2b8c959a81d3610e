//! What the whole-process benchmarks share: running a `failback` binary, and
//! which binaries to measure.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh lab and its saved plan.
pub struct Lab {
    _dir: tempfile::TempDir,
    pub env: PathBuf,
    pub plan: PathBuf,
}

impl Lab {
    /// A lab in `dir` with its environment file and saved plan.
    pub fn new(dir: tempfile::TempDir, env: PathBuf, plan: PathBuf) -> Self {
        Self {
            _dir: dir,
            env,
            plan,
        }
    }
}

/// A fresh `edge-failover` lab grown to `sites` sites, written by `bin`, and
/// its plan saved by `bin`. For 2 sites (the lab as it is) `--sites` is not
/// passed, so a binary from before the option can be measured.
pub fn lab(bin: &Path, cache: &Path, sites: u32) -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("failback.toml");
    let plan = dir.path().join("plan.json");
    let mut init = vec![
        OsString::from("lab"),
        OsString::from("init"),
        dir.path().into(),
        OsString::from("--scenario"),
        OsString::from("edge-failover"),
    ];
    if sites != 2 {
        init.extend([OsString::from("--sites"), OsString::from(sites.to_string())]);
    }
    failback(bin, cache, init);
    failback(
        bin,
        cache,
        [
            OsStr::new("plan"),
            OsStr::new("--env"),
            env.as_os_str(),
            OsStr::new("--format"),
            OsStr::new("json"),
            OsStr::new("--out"),
            plan.as_os_str(),
        ],
    );
    Lab::new(dir, env, plan)
}

/// `failback apply PLAN --yes` on `lab`; the lab is handed back, so that its
/// removal is not timed.
pub fn apply(bin: &Path, cache: &Path, lab: Lab) -> Lab {
    failback(
        bin,
        cache,
        [
            OsStr::new("apply"),
            lab.plan.as_os_str(),
            OsStr::new("--yes"),
            OsStr::new("--env"),
            lab.env.as_os_str(),
        ],
    );
    lab
}

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
