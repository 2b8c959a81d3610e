//! Whole-process `failback apply PLAN --yes` on the `edge-failover` lab: the
//! saved plan re-derived and compared by digest, then 17 verified, journaled and
//! audited steps. Each iteration gets a fresh lab and its saved plan (setup, not
//! timed); the compiled-component cache is warm after the warm-up.
//!
//! `FAILBACK_BENCH_BEFORE=<another failback binary>` measures that binary in the
//! same run (`apply/before`) beside this package's (`apply/after`, or
//! `FAILBACK_BENCH_AFTER`): the ratio of the two is what means something on a
//! shared machine. Results and the command are in BENCHMARKS.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use support::failback;

struct Lab {
    _dir: tempfile::TempDir,
    env: PathBuf,
    plan: PathBuf,
}

/// A fresh `edge-failover` lab and its saved plan.
fn lab(bin: &Path, cache: &Path) -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("failback.toml");
    let plan = dir.path().join("plan.json");
    failback(
        bin,
        cache,
        [
            OsStr::new("lab"),
            OsStr::new("init"),
            dir.path().as_os_str(),
            OsStr::new("--scenario"),
            OsStr::new("edge-failover"),
        ],
    );
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
    Lab {
        _dir: dir,
        env,
        plan,
    }
}

fn benches(c: &mut Criterion) {
    let binaries = support::binaries();
    let mut group = c.benchmark_group("apply");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(10));
    for (name, bin) in &binaries {
        // One cache per binary: each compiles its own guests once.
        let cache = tempfile::tempdir().unwrap();
        group.bench_function(*name, |b| {
            b.iter_batched(
                || lab(bin, cache.path()),
                |lab| {
                    failback(
                        bin,
                        cache.path(),
                        [
                            OsStr::new("apply"),
                            lab.plan.as_os_str(),
                            OsStr::new("--yes"),
                            OsStr::new("--env"),
                            lab.env.as_os_str(),
                        ],
                    );
                    lab
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(apply, benches);
criterion_main!(apply);
