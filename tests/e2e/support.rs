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

/// `text` with each sha256 (64 lowercase hex digits standing alone) and each
/// OpenSSH key fingerprint (`SHA256:` and 43 base64 characters) replaced by a
/// placeholder of its own: a value of `known` — one the test computed — by
/// its name (`[sha256 lab-probe.wasm]`, `[key vendor-1]`), any other by its
/// order of first appearance (`[digest-1]`, `[digest-2]`, `[key-1]`). A wrong
/// digest or the wrong signer shows as another placeholder than the one the
/// snapshot holds, where a single filter to `[SHA256]` hid it.
pub fn placeholders(text: &str, known: &[(String, String)]) -> String {
    const KEY_PREFIX: &str = "SHA256:";
    const KEY_LEN: usize = 43;
    let is_hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    let is_base64 = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut name = |value: &str, kind: &str| -> String {
        if let Some((_, n)) = known.iter().find(|(v, _)| v == value) {
            return format!("[{n}]");
        }
        if let Some((_, n)) = seen.iter().find(|(v, _)| v == value) {
            return n.clone();
        }
        let count = seen
            .iter()
            .filter(|(_, n)| n.starts_with(&format!("[{kind}-")))
            .count();
        let placeholder = format!("[{kind}-{}]", count + 1);
        seen.push((value.to_owned(), placeholder.clone()));
        placeholder
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(KEY_PREFIX.as_bytes())
            && bytes.len() >= i + KEY_PREFIX.len() + KEY_LEN
            && bytes[i + KEY_PREFIX.len()..i + KEY_PREFIX.len() + KEY_LEN]
                .iter()
                .all(|c| is_base64(*c))
            && bytes
                .get(i + KEY_PREFIX.len() + KEY_LEN)
                .is_none_or(|c| !is_base64(*c))
        {
            let end = i + KEY_PREFIX.len() + KEY_LEN;
            out.push_str(&text[copied..i]);
            out.push_str(&name(&text[i..end], "key"));
            i = end;
            copied = end;
            continue;
        }
        let starts = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if starts
            && bytes.len() >= i + 64
            && bytes[i..i + 64].iter().all(|c| is_hex(*c))
            && bytes.get(i + 64).is_none_or(|c| !c.is_ascii_alphanumeric())
        {
            out.push_str(&text[copied..i]);
            out.push_str(&name(&text[i..i + 64], "digest"));
            i += 64;
            copied = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// The lab's failback, whole, with real DNS: `plan` (which must move the
/// zone: lower the TTLs, repoint SIP federation and XMPP, restore the TTLs),
/// `apply --yes`, `verify --to edgepool1.contoso.com`, and a new `plan` that
/// has nothing left to do. `server_log` is shown under a failed apply.
/// Returns every line shown, for the tests that look for a secret in it.
pub fn fail_back_with_dns(env: &Path, server_log: &dyn Fn() -> String) -> String {
    let (code, stdout, stderr) = run(failback()
        .args(["plan", "--format", "json", "--env"])
        .arg(env));
    assert_eq!(code, 0, "plan failed:\n{stdout}\n{stderr}");
    let planned = planned_actions(&stdout);
    for action in [
        "lower-ttl",
        "repoint-sip-federation-dns",
        "set-xmpp-a-record",
        "restore-ttl",
    ] {
        assert!(
            planned.iter().any(|a| a == action),
            "{action} not planned: {planned:?}"
        );
    }
    let mut shown = stdout + &stderr;

    let (code, stdout, stderr) = run(failback().args(["apply", "--yes", "--env"]).arg(env));
    assert_eq!(
        code,
        0,
        "apply failed:\n{stdout}\n{stderr}\nthe DNS server's log:\n{}",
        server_log()
    );
    assert!(stdout.contains("run 1 done"), "{stdout}");
    shown += &(stdout + &stderr);

    let (code, stdout, stderr) = run(failback()
        .args(["verify", "--to", "edgepool1.contoso.com", "--env"])
        .arg(env));
    assert_eq!(code, 0, "verify is not clean:\n{stdout}\n{stderr}");
    shown += &(stdout + &stderr);

    let (code, stdout, stderr) = run(failback()
        .args(["plan", "--format", "json", "--env"])
        .arg(env));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        planned_actions(&stdout),
        Vec::<String>::new(),
        "a new plan still has work"
    );
    shown + &stdout + &stderr
}

/// The actions a JSON plan has still to do.
pub fn planned_actions(plan: &str) -> Vec<String> {
    let plan: serde_json::Value = serde_json::from_str(plan).unwrap();
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "planned")
        .map(|s| s["action"].as_str().unwrap().to_owned())
        .collect()
}

/// The sha256 of `path`'s bytes, in hex: what a snapshot's digest is
/// compared with.
pub fn sha256_of(path: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// The sha256 of every lab plugin component and manifest in `dir`
/// (`plugins/`), named by file: the digests an environment file and a plan's
/// provenance must show.
pub fn lab_digests(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir.join("plugins")) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        out.push((sha256_of(&path), format!("sha256 {file}")));
    }
    out.sort();
    out
}

/// The OpenSSH fingerprint (`SHA256:…`) of the public key line in `path`, as
/// `ssh-keygen -l` computes it: the sha256 of the key blob, base64 without
/// padding.
pub fn fingerprint_of(path: &Path) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let line = std::fs::read_to_string(path).unwrap();
    let blob = base64::engine::general_purpose::STANDARD
        .decode(line.split_whitespace().nth(1).unwrap())
        .unwrap();
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(blob))
    )
}

#[test]
fn placeholders_keep_digests_and_keys_apart_and_name_the_known_ones() {
    let a = "a".repeat(64);
    let b = "b".repeat(64);
    let key = format!("SHA256:{}", "K".repeat(43));
    let other = format!("SHA256:{}", "L".repeat(43));
    let text = format!("{a} {b} {a} x{b} {key} {other} {key}");
    assert_eq!(
        placeholders(&text, &[(b.clone(), "sha256 b".to_owned())]),
        format!("[digest-1] [sha256 b] [digest-1] x{b} [key-1] [key-2] [key-1]")
    );
}
