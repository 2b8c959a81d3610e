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

use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};

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
                || support::lab(bin, cache.path(), 2),
                |lab| support::apply(bin, cache.path(), lab),
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(apply, benches);
criterion_main!(apply);
