//! Whole-process `failback plan` and `failback apply PLAN --yes` on the
//! `edge-failover` lab grown to 10, 100 and 1,000 sites by bystander sites
//! (`failback lab init --sites N`: each bystander a Front End pool and a
//! one-machine Edge pool), to show how the cost grows with the deployment.
//!
//! `plan` runs again and again on one lab per size (it only reads); each `apply`
//! gets a fresh lab and its saved plan (setup, not timed). The compiled-component
//! cache is warm after the warm-up. Apply at 1,000 sites is measured only with
//! `FAILBACK_BENCH_APPLY_1000=1` (one run took minutes before issue 16).
//!
//! `FAILBACK_BENCH_BEFORE` / `FAILBACK_BENCH_AFTER` as in `apply.rs`: the ratio
//! of two binaries measured in the same run is what means something on a shared
//! machine. The growth exponent is the slope of log(median) against
//! log(sites); results and the command are in BENCHMARKS.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

mod support;

use std::ffi::OsStr;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use support::failback;

const SITES: [u32; 3] = [10, 100, 1_000];

fn benches(c: &mut Criterion) {
    let binaries = support::binaries();
    let apply_1000 = std::env::var_os("FAILBACK_BENCH_APPLY_1000").is_some();
    // One cache per binary: each compiles its own guests once.
    let caches: Vec<_> = binaries
        .iter()
        .map(|_| tempfile::tempdir().unwrap())
        .collect();

    let mut plan = c.benchmark_group("scale/plan");
    plan.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for sites in SITES {
        for ((name, bin), cache) in binaries.iter().zip(&caches) {
            let lab = support::lab(bin, cache.path(), sites);
            plan.bench_with_input(BenchmarkId::new(*name, sites), &lab, |b, lab| {
                b.iter(|| {
                    failback(
                        bin,
                        cache.path(),
                        [
                            OsStr::new("plan"),
                            OsStr::new("--env"),
                            lab.env.as_os_str(),
                            OsStr::new("--format"),
                            OsStr::new("json"),
                        ],
                    );
                });
            });
        }
    }
    plan.finish();

    let mut apply = c.benchmark_group("scale/apply");
    apply
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    for sites in SITES {
        if sites == 1_000 && !apply_1000 {
            continue;
        }
        for ((name, bin), cache) in binaries.iter().zip(&caches) {
            apply.bench_function(BenchmarkId::new(*name, sites), |b| {
                b.iter_batched(
                    || support::lab(bin, cache.path(), sites),
                    |lab| support::apply(bin, cache.path(), lab),
                    BatchSize::PerIteration,
                );
            });
        }
    }
    apply.finish();
}

criterion_group!(scale, benches);
criterion_main!(scale);
