//! `failback plugin new`: the crate it writes builds in a directory outside
//! the repository with `cargo build --release --target wasm32-wasip2`
//! (wit-bindgen from the cargo registry), and the conformance kit fails it
//! once per WIT function; with one function written, that function's cases
//! pass.
//!
//! The builds share a target directory under the build tree, so wit-bindgen
//! compiles once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{failback, repository, run};

/// Every world, with what its cases need beyond the component.
const WORLDS: [(&str, &[&str]); 5] = [
    ("dns-provider", &["--zone", "test.example.com"]),
    ("port-probe", &[]),
    ("management-store", &[]),
    ("server-control", &["--machine", "edge1.test.example.com"]),
    ("pool-control", &[]),
];

/// Write a new plugin `name` of `world` into `dir`.
fn new(dir: &Path, name: &str, world: &str) -> PathBuf {
    let crate_dir = dir.join(name);
    let (code, stdout, stderr) = run(failback()
        .args(["plugin", "new", name, "--world", world])
        .arg(&crate_dir));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    crate_dir
}

/// The toolchain the repository pins: the crate is outside the repository,
/// where rustup would pick the machine's default.
fn toolchain() -> String {
    let text = std::fs::read_to_string(repository().join("rust-toolchain.toml")).unwrap();
    let table: toml::Table = text.parse().unwrap();
    table["toolchain"]["channel"].as_str().unwrap().to_owned()
}

/// `cargo build --release --target wasm32-wasip2` in `crate_dir`, as a vendor
/// runs it; the component built.
fn build(crate_dir: &Path, name: &str) -> PathBuf {
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-template");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(crate_dir).args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--quiet",
    ]);
    // A vendor's shell, not this test's: none of the build settings cargo
    // gives a test (where the registry is and how to reach it stay).
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let keep = [
            "CARGO_HOME",
            "CARGO_NET_",
            "CARGO_HTTP_",
            "CARGO_REGISTRIES_",
        ]
        .iter()
        .any(|kept| name.starts_with(kept));
        let build_setting = name.starts_with("CARGO_")
            || name.starts_with("RUSTC")
            || name.starts_with("RUSTDOC")
            || ["RUSTFLAGS", "LLVM_PROFILE_FILE"].contains(&name.as_ref());
        if build_setting && !keep {
            command.env_remove(name.as_ref());
        }
    }
    command
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTUP_TOOLCHAIN", toolchain());
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "the new crate does not build: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")))
}

/// The kit's JSON report on the component `wasm` of `crate_dir`.
fn test(crate_dir: &Path, wasm: &Path, world: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let (code, stdout, stderr) = run(failback()
        .args(["plugin", "test"])
        .arg(wasm)
        .args(["--world", world, "--manifest"])
        .arg(crate_dir.join("plugin.toml"))
        .args(extra)
        .args(["--format", "json"]));
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{world}: not a report ({e}): {stdout}\n{stderr}"));
    (code, report)
}

fn cases<'a>(report: &'a serde_json::Value, outcome: &str) -> Vec<&'a serde_json::Value> {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == outcome)
        .collect()
}

#[test]
fn a_new_plugin_of_each_world_builds_outside_the_repository_and_fails_once_per_function() {
    let work = tempfile::tempdir().unwrap();
    assert!(
        !work
            .path()
            .starts_with(repository().canonicalize().unwrap())
    );
    for (world, extra) in WORLDS {
        let name = format!("acme-{world}");
        let crate_dir = new(work.path(), &name, world);
        let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
        assert!(!manifest.contains("path ="), "{manifest}");
        let wasm = build(&crate_dir, &name);
        let (code, report) = test(&crate_dir, &wasm, world, extra);
        assert_eq!(code, 1, "{world}: {report:#}");

        let functions: BTreeSet<&str> = report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["function"].as_str().unwrap())
            .collect();
        let failed = cases(&report, "failed");
        let mut failed_functions: Vec<&str> = failed
            .iter()
            .map(|c| c["function"].as_str().unwrap())
            .collect();
        failed_functions.sort_unstable();
        assert_eq!(
            failed_functions,
            functions.iter().copied().collect::<Vec<_>>(),
            "{world}: one failure per function"
        );
        for case in failed {
            let function = case["function"].as_str().unwrap();
            let actual = case["actual"].as_str().unwrap();
            assert_eq!(
                actual,
                format!("plugin-error::failed(\"not implemented: `{function}`\")"),
                "{world}"
            );
        }
        assert!(cases(&report, "passed").is_empty(), "{world}: {report:#}");
    }
}

#[test]
fn a_new_dns_provider_with_list_records_written_passes_the_list_records_cases() {
    let work = tempfile::tempdir().unwrap();
    let name = "acme-dns-list";
    let crate_dir = new(work.path(), name, "dns-provider");
    let lib = crate_dir.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    let stub = "        let _ = zone;\n        Err(not_implemented(\"dns.list-records\"))\n";
    assert!(source.contains(stub), "{source}");
    let written = "        if zone != \"test.example.com\" {\n\
                   \x20           return Err(PluginError::NotFound(format!(\"zone `{zone}` does not exist\")));\n\
                   \x20       }\n\
                   \x20       Ok(vec![DnsRecord {\n\
                   \x20           name: \"sip.test.example.com\".to_owned(),\n\
                   \x20           ttl: 300,\n\
                   \x20           data: RecordData::A(\"192.0.2.10\".to_owned()),\n\
                   \x20       }])\n";
    std::fs::write(&lib, source.replace(stub, written)).unwrap();
    let wasm = build(&crate_dir, name);
    let (code, report) = test(
        &crate_dir,
        &wasm,
        "dns-provider",
        &["--zone", "test.example.com"],
    );
    assert_eq!(code, 1);
    let passed: Vec<&str> = cases(&report, "passed")
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(passed, ["list-records", "names", "unknown-zone"]);
    let failed: Vec<&str> = cases(&report, "failed")
        .iter()
        .map(|c| c["function"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["dns.replace-rrset", "dns.delete-rrset"]);

    // The README's next commands: pack, sign, verify, review; the packed
    // component is tested with the manifest it carries, and judged the same.
    let packed = work.path().join(format!("{name}.wasm"));
    let key = work.path().join("id_ed25519");
    let keygen = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "vendor@example.com",
            "-f",
        ])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs (Debian's openssh-client; scripts/test installs it)");
    assert!(keygen.success());
    for command in [
        vec![
            "pack".into(),
            wasm.clone().into_os_string(),
            "--manifest".into(),
            crate_dir.join("plugin.toml").into_os_string(),
            "--out".into(),
            packed.clone().into_os_string(),
        ],
        vec![
            "sign".into(),
            packed.clone().into_os_string(),
            "--key".into(),
            key.clone().into_os_string(),
        ],
        vec![
            "verify".into(),
            packed.clone().into_os_string(),
            "--key".into(),
            key.with_extension("pub").into_os_string(),
        ],
        vec!["review".into(), packed.clone().into_os_string()],
    ] {
        let (code, stdout, stderr) = run(failback().arg("plugin").args(&command));
        assert_eq!(code, 0, "{command:?}\n{stdout}\n{stderr}");
    }
    let (code, stdout, stderr) = run(failback().args(["plugin", "test"]).arg(&packed).args([
        "--world",
        "dns-provider",
        "--zone",
        "test.example.com",
        "--format",
        "json",
    ]));
    let packed_report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not a report ({e}): {stdout}\n{stderr}"));
    assert_eq!(code, 1);
    let packed_passed: Vec<&str> = cases(&packed_report, "passed")
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(packed_passed, passed);
}

#[test]
fn plugin_new_writes_a_crate_with_a_readme_of_its_commands() {
    let work = tempfile::tempdir().unwrap();
    let crate_dir = work.path().join("acme-servers");
    let (code, stdout, stderr) = run(failback()
        .args(["plugin", "new", "acme-servers", "--world", "server-control"])
        .arg(&crate_dir));
    assert_eq!(code, 0, "{stderr}");
    let stdout = stdout.replace(&crate_dir.display().to_string(), "[DIR]");
    insta::assert_snapshot!("plugin-new-server-control", stdout);
    let readme = std::fs::read_to_string(crate_dir.join("README.md")).unwrap();
    insta::assert_snapshot!(
        "plugin-new-server-control-readme",
        readme.replace(
            &format!("failback {}", env!("CARGO_PKG_VERSION")),
            "failback [VERSION]"
        )
    );
    // The WIT files are the repository's, byte for byte.
    for file in ["types.wit", "servers.wit"] {
        assert_eq!(
            std::fs::read(crate_dir.join("wit").join(file)).unwrap(),
            std::fs::read(repository().join("wit/plugin").join(file)).unwrap()
        );
    }
}

#[test]
fn plugin_new_refuses_a_bad_name_and_a_directory_that_is_not_empty() {
    let work = tempfile::tempdir().unwrap();
    let mut out = String::new();
    let (code, _, stderr) = run(failback()
        .args(["plugin", "new", "Acme_DNS", "--world", "dns-provider"])
        .arg(work.path().join("x")));
    assert_eq!(code, 1);
    out.push_str(&stderr);
    std::fs::write(work.path().join("keep.txt"), "mine").unwrap();
    let (code, _, stderr) = run(failback()
        .args(["plugin", "new", "acme-dns", "--world", "dns-provider"])
        .arg(work.path()));
    assert_eq!(code, 1);
    out.push_str(&stderr.replace(&work.path().display().to_string(), "[DIR]"));
    assert_eq!(
        std::fs::read_to_string(work.path().join("keep.txt")).unwrap(),
        "mine"
    );
    assert!(!work.path().join("x").exists());
    insta::assert_snapshot!("plugin-new-refused", out);
}
