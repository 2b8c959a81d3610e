//! Whole-process rehearsal commands on one `edge-failover` lab, release
//! binary, warm compiled-component cache (after criterion's warm-up):
//!
//! - `rehearse/plan` — `failback plan --format json`: observe through the five
//!   lab plugins, plan, judge: the baseline;
//! - `rehearse/plan-from` — `failback plan --from state.json --format json`:
//!   the same plan from a captured state, no plugin loaded;
//! - `rehearse/plan-html` — `failback plan --format html`: the baseline plus
//!   the change report, whose "why this order" judges the plan once per
//!   adjacent swap of planned steps (16 on this lab).
//!
//! The ratios to `rehearse/plan`, measured in the same run, are what means
//! something on a shared machine. The report's size is printed once. Results
//! and the command are in BENCHMARKS.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};

fn failback(cache: &Path, args: &[&str], env: &Path) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_failback"))
        .args(args)
        .arg("--env")
        .arg(env)
        .env("FAILBACK_CACHE_DIR", cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`failback {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn benches(c: &mut Criterion) {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let init = Command::new(env!("CARGO_BIN_EXE_failback"))
        .args(["lab", "init", "--scenario", "edge-failover"])
        .arg(dir.path())
        .env("FAILBACK_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert!(init.status.success());
    let env: PathBuf = dir.path().join("failback.toml");
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    failback(cache.path(), &["observe", "--out", state_arg], &env);
    let html = failback(cache.path(), &["plan", "--format", "html"], &env);
    let json = failback(cache.path(), &["plan", "--format", "json"], &env);
    eprintln!(
        "edge-failover: the report is {} bytes ({} bytes the plan document)",
        html.len(),
        json.len()
    );

    let mut group = c.benchmark_group("rehearse");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(10));
    let cases: [(&str, Vec<&str>); 3] = [
        ("plan", vec!["plan", "--format", "json"]),
        (
            "plan-from",
            vec!["plan", "--format", "json", "--from", state_arg],
        ),
        ("plan-html", vec!["plan", "--format", "html"]),
    ];
    for (name, args) in &cases {
        group.bench_function(*name, |b| b.iter(|| failback(cache.path(), args, &env)));
    }
    group.finish();
}

criterion_group!(rehearse, benches);
criterion_main!(rehearse);
