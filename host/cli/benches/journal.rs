//! The shared journal's cost (issue 27), on a throwaway local PostgreSQL
//! cluster started by the benchmark (tests/servers/postgres.rs, with `fsync`
//! on, as the SQLite journal syncs its writes):
//!
//! - `apply-journal/sqlite` and `apply-journal/postgres`: whole-process
//!   `failback apply PLAN --yes` on the `edge-failover` lab, the journal, lock
//!   and audit trail beside the environment or in the database; each
//!   iteration a fresh lab (and a deployment of its own), setup not timed.
//!   Budget: postgres ≤ 1.5× sqlite, measured in the same run;
//! - `lock/acquire` and `lock/release`: taking the deployment's lock (the
//!   advisory lock and the holder row, one transaction) and letting it go,
//!   on an open connection. Budget: ≤ 20 ms each (medians).
//!
//! Results and the command are in BENCHMARKS.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

#[path = "../../../tests/servers/mod.rs"]
mod servers;
#[allow(
    dead_code,
    reason = "this benchmark measures this package's binary only"
)]
mod support;

use std::ffi::OsStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use failback_runtime::Holder;
use failback_runtime::pg::{PgJournal, Target};
use servers::postgres::{APP_PASSWORD, OWNER_PASSWORD};

const PASSWORD_VAR: &str = "FAILBACK_BENCH_PG_PASSWORD";

fn benches(c: &mut Criterion) {
    let cluster = servers::postgres::start(true);
    let db = cluster.database();
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_failback"));
    let cache = tempfile::tempdir().unwrap();
    let next = AtomicU32::new(0);
    // A lab whose environment names the shared journal, as a deployment of
    // its own.
    let shared_env = || {
        let lab = support::lab(&bin, cache.path(), 2);
        let n = next.fetch_add(1, Ordering::SeqCst);
        let text = std::fs::read_to_string(&lab.env).unwrap()
            + &format!(
                "\n[journal]\nurl = \"{}\"\ndeployment = \"bench-{n}\"\npassword-env = \"{PASSWORD_VAR}\"\n",
                db.app_url()
            );
        std::fs::write(&lab.env, text).unwrap();
        lab
    };
    let shared_lab = || {
        let lab = shared_env();
        // The plan pins the environment file: plan again now that it names
        // the shared journal.
        let plan = std::process::Command::new(&bin)
            .args([OsStr::new("plan"), OsStr::new("--env"), lab.env.as_os_str()])
            .args(["--format", "json", "--out"])
            .arg(&lab.plan)
            .env("FAILBACK_CACHE_DIR", cache.path())
            .env(PASSWORD_VAR, APP_PASSWORD)
            .output()
            .unwrap();
        assert!(
            plan.status.success(),
            "{}",
            String::from_utf8_lossy(&plan.stderr)
        );
        lab
    };
    // The schema, once.
    let first = shared_env();
    let setup = std::process::Command::new(&bin)
        .args(["journal", "setup", "--owner", "failback_owner"])
        .args(["--owner-password-env", "FAILBACK_BENCH_PG_OWNER", "--env"])
        .arg(&first.env)
        .env("FAILBACK_BENCH_PG_OWNER", OWNER_PASSWORD)
        .output()
        .unwrap();
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );

    let mut group = c.benchmark_group("apply-journal");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(10));
    group.bench_function("sqlite", |b| {
        b.iter_batched(
            || support::lab(&bin, cache.path(), 2),
            |lab| support::apply(&bin, cache.path(), lab),
            BatchSize::PerIteration,
        );
    });
    group.bench_function("postgres", |b| {
        b.iter_batched(
            shared_lab,
            |lab| {
                let out = std::process::Command::new(&bin)
                    .args([
                        OsStr::new("apply"),
                        lab.plan.as_os_str(),
                        OsStr::new("--yes"),
                        OsStr::new("--env"),
                        lab.env.as_os_str(),
                    ])
                    .env("FAILBACK_CACHE_DIR", cache.path())
                    .env(PASSWORD_VAR, APP_PASSWORD)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                lab
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();

    let target = Target::new(&db.app_url(), None, None)
        .unwrap()
        .with_password(APP_PASSWORD);
    let journal = PgJournal::open(&target, "bench-lock").unwrap();
    let holder = Holder::this_process("bench");
    let mut group = c.benchmark_group("lock");
    group.sample_size(50);
    group.bench_function("acquire", |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                journal.lock(&holder, Duration::ZERO).unwrap();
                took += started.elapsed();
                journal.release().unwrap();
            }
            took
        });
    });
    group.bench_function("release", |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                journal.lock(&holder, Duration::ZERO).unwrap();
                let started = Instant::now();
                journal.release().unwrap();
                took += started.elapsed();
            }
            took
        });
    });
    group.finish();
}

criterion_group!(journal, benches);
criterion_main!(journal);
