use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The `failback` binary of this build, built first when the test run did not
/// build it (`cargo test -p failback-tests` alone).
pub fn failback() -> Command {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    let path = BINARY.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "failback"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the failback binary failed");
        assert_cmd::cargo::cargo_bin("failback")
    });
    let mut command = Command::new(path);
    // Keep each test run's compiled-component cache inside the build tree.
    command.env("FAILBACK_CACHE_DIR", cache_dir());
    command
}

fn cache_dir() -> PathBuf {
    let mut dir = assert_cmd::cargo::cargo_bin("failback");
    dir.pop();
    dir.join("failback-test-cache")
}

/// Run `command`, returning (exit code, stdout, stderr).
pub fn run(command: &mut Command) -> (i32, String, String) {
    let output = command.output().expect("failback runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).expect("utf-8 stdout"),
        String::from_utf8(output.stderr).expect("utf-8 stderr"),
    )
}

/// A fresh lab of `scenario` in a temporary directory.
pub fn lab(scenario: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, stderr) = run(failback()
        .args(["lab", "init", "--scenario", scenario])
        .arg(dir.path()));
    assert_eq!(code, 0, "lab init failed: {stderr}");
    dir
}

/// `text` with the temporary directory `dir` replaced by `[LAB]`.
pub fn redact(text: &str, dir: &Path) -> String {
    text.replace(&dir.display().to_string(), "[LAB]")
}

/// The repository's `tests/` directory.
pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}
