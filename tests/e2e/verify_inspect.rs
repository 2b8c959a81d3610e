use crate::support::{failback, lab, run};

#[test]
fn verify_is_clean_on_a_deployment_already_failed_back() {
    let dir = lab("already-failed-back");
    let (code, stdout, stderr) = run(failback()
        .args(["verify", "--env"])
        .arg(dir.path().join("failback.toml")));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    insta::assert_snapshot!("verify-already-failed-back", stdout);
}

#[test]
fn verify_reports_what_is_not_yet_failed_back_and_exits_3() {
    let dir = lab("edge-failover");
    let (code, stdout, _) = run(failback()
        .args(["verify", "--format", "json", "--env"])
        .arg(dir.path().join("failback.toml")));
    assert_eq!(code, 3);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], false);
    let mut rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    rules.dedup();
    assert_eq!(
        rules,
        [
            "federation.final-routes",
            "front-end.media-edge-pool",
            "xmpp.final-routes"
        ]
    );
}

#[test]
fn inspect_names_the_world_the_digest_and_what_the_plugin_requests() {
    let dir = lab("edge-failover");
    let (code, stdout, stderr) = run(failback()
        .args(["plugin", "inspect"])
        .arg(dir.path().join("plugins/lab-servers.wasm")));
    assert_eq!(code, 0, "{stderr}");
    let stdout = stdout.replace(&dir.path().display().to_string(), "[LAB]");
    let stdout = crate::support::placeholders(&stdout, &crate::support::lab_digests(dir.path()));
    insta::with_settings!({filters => vec![
        (r"size       \d+ bytes", "size       [N] bytes"),
    ]}, {
        insta::assert_snapshot!("inspect-lab-servers", stdout);
    });

    let (code, stdout, _) = run(failback()
        .args(["plugin", "inspect", "--format", "json"])
        .arg(dir.path().join("plugins/lab-probe.wasm")));
    assert_eq!(code, 0);
    let inspection: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(inspection["worlds"][0], "failback:plugin/port-probe@0.3.0");
    assert_eq!(inspection["manifest_matches"], true);
}

/// A plugin that reaches an HTTP API: `inspect` lists the capability by name
/// with its methods and its response bound, as it lists directories and
/// sockets.
#[test]
fn inspect_lists_an_http_capability_with_its_methods() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(failback().current_dir(dir.path()).args([
        "plugin",
        "export",
        "dns-powerdns",
        "plugins",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run(failback()
        .args(["plugin", "inspect"])
        .arg(dir.path().join("plugins/dns-powerdns.wasm")));
    assert_eq!(code, 0, "{stderr}");
    let requests = stdout
        .split_once("  requests\n")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no requests in:\n{stdout}"));
    assert_eq!(
        requests,
        "    http `powerdns-api` (GET, PATCH; responses up to 4194304 bytes)\n"
    );
}
