use std::path::{Path, PathBuf};
use std::process::Command;

/// The `failback` binary of this build, with its compiled-component cache
/// kept inside the build tree.
pub fn failback() -> Command {
    let mut command = Command::new(binary());
    command.env("FAILBACK_CACHE_DIR", cache_dir());
    command
}

/// The path of the `failback` binary cargo built for these tests.
pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_failback"))
}

fn cache_dir() -> PathBuf {
    binary()
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        .join("failback-test-cache")
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
    repository().join("tests")
}

/// The repository's root.
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `document` (a plan's JSON) is valid against `docs/plan.schema.json`,
/// checked by a JSON Schema validator; every error is named with its path.
pub fn validate_plan(document: &str) {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    validate(&VALIDATOR, "docs/plan.schema.json", document);
}

/// `document` (a captured state's JSON) is valid against
/// `docs/state.schema.json`.
pub fn validate_state(document: &str) {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    validate(&VALIDATOR, "docs/state.schema.json", document);
}

fn validate(
    validator: &'static std::sync::OnceLock<jsonschema::Validator>,
    schema: &str,
    document: &str,
) {
    let validator = validator.get_or_init(|| {
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(repository().join(schema)).unwrap())
                .unwrap();
        jsonschema::draft202012::new(&schema).unwrap()
    });
    let value: serde_json::Value = serde_json::from_str(document).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
