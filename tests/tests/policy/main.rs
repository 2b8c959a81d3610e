//! The policy gate through the `failback` binary: the project's policy corpus
//! (`tests/policy-cases/`, run by `failback policy test`), and the operator's
//! view of the rules and of a vetoed plan, snapshot with insta.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail by panicking"
)]

/// `failback policy test tests/policy-cases`: every case passes, and every
/// rule fires in at least one case.
mod corpus;
/// Snapshots of `policy list` and of a vetoed plan's findings.
mod snapshots;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The `failback` binary of this build, built first: a dev-dependency on the
/// `failback` package (a binary without a library) does not build its binary
/// for `cargo test -p failback-tests` alone. Its compiled-component cache is
/// kept inside the build tree, shared by the tests.
fn failback() -> Command {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    let path = BINARY.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "failback"])
            .status()
            .unwrap();
        assert!(status.success(), "building the failback binary failed");
        assert_cmd::cargo::cargo_bin("failback")
    });
    let mut command = Command::new(path);
    let mut cache = assert_cmd::cargo::cargo_bin("failback");
    cache.pop();
    command.env("FAILBACK_CACHE_DIR", cache.join("failback-test-cache"));
    command
}

/// The repository's `tests/` directory.
fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}
