//! Whole-process `failback plan` and `failback apply PLAN --yes` for both
//! runbooks on the lab (issue 15): the failback on `edge-failover`, the
//! failover (`--failover`) on `healthy`. `plan` runs again and again on one
//! lab; each `apply` gets a fresh lab and its saved plan (setup, not timed).
//! The compiled-component cache is warm after the warm-up. Results and the
//! command are in BENCHMARKS.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

#[allow(dead_code, reason = "this benchmark uses part of the shared helpers")]
mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};

/// A fresh lab of `scenario` with the plan of `runbook` (`[]` or
/// `["--failover"]`) saved in it.
fn lab(bin: &Path, cache: &Path, scenario: &str, runbook: &[&str]) -> support::Lab {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("failback.toml");
    let plan = dir.path().join("plan.json");
    support::failback(
        bin,
        cache,
        [
            OsStr::new("lab"),
            OsStr::new("init"),
            dir.path().as_os_str(),
            OsStr::new("--scenario"),
            OsStr::new(scenario),
        ],
    );
    let mut args: Vec<&OsStr> = vec![OsStr::new("plan")];
    args.extend(runbook.iter().map(OsStr::new));
    args.extend([
        OsStr::new("--env"),
        env.as_os_str(),
        OsStr::new("--format"),
        OsStr::new("json"),
        OsStr::new("--out"),
        plan.as_os_str(),
    ]);
    support::failback(bin, cache, args);
    support::Lab::new(dir, env, plan)
}

fn benches(c: &mut Criterion) {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_failback"));
    let cache = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("runbooks");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(10));
    for (name, scenario, runbook) in [
        ("failback", "edge-failover", &[][..]),
        ("failover", "healthy", &["--failover"][..]),
    ] {
        let planned = lab(&bin, cache.path(), scenario, runbook);
        group.bench_function(format!("{name}/plan"), |b| {
            b.iter(|| {
                let mut args: Vec<&OsStr> = vec![OsStr::new("plan")];
                args.extend(runbook.iter().map(OsStr::new));
                args.extend([
                    OsStr::new("--format"),
                    OsStr::new("json"),
                    OsStr::new("--env"),
                    planned.env.as_os_str(),
                ]);
                support::failback(&bin, cache.path(), args);
            });
        });
        group.bench_function(format!("{name}/apply"), |b| {
            b.iter_batched(
                || lab(&bin, cache.path(), scenario, runbook),
                |fresh| support::apply(&bin, cache.path(), fresh),
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(runbooks, benches);
criterion_main!(runbooks);
