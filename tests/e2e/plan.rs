use failback_core::lab::Scenario;

use crate::support::{failback, lab, redact, run};

#[test]
fn every_scenario_plans_through_the_real_plugins_and_passes_the_policies() {
    for scenario in Scenario::ALL.map(Scenario::name) {
        let dir = lab(scenario);
        for format in ["text", "powershell"] {
            let (code, stdout, stderr) = run(failback()
                .args(["plan", "--format", format, "--env"])
                .arg(dir.path().join("failback.toml")));
            assert_eq!(code, 0, "{scenario} {format}: {stderr}");
            // The digest covers the plugins' and policies' sha256s, which
            // change with every build of them.
            insta::with_settings!({filters => vec![(r"plan sha256 [0-9a-f]{64}", "plan sha256 [DIGEST]")]}, {
                insta::assert_snapshot!(format!("plan-{scenario}-{format}"), stdout);
            });
        }
    }
}

#[test]
fn the_json_plan_is_valid_against_the_schema() {
    let dir = lab("edge-failover");
    let (code, stdout, stderr) = run(failback()
        .args(["plan", "--format", "json", "--env"])
        .arg(dir.path().join("failback.toml")));
    assert_eq!(code, 0, "{stderr}");
    crate::support::validate_plan(&stdout);
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plan["format_version"], 4);
    let actions: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"lower-ttl"));
    assert_eq!(actions.last(), Some(&"restore-ttl"));
    assert!(plan["findings"].as_array().unwrap().is_empty());
    for step in plan["steps"].as_array().unwrap() {
        assert!(["planned", "satisfied"].contains(&step["status"].as_str().unwrap()));
    }
}

#[test]
fn plan_out_writes_the_file_and_not_stdout() {
    let dir = lab("xmpp-only");
    let out = dir.path().join("plan.json");
    let (code, stdout, stderr) = run(failback()
        .args(["plan", "--format", "json", "--out"])
        .arg(&out)
        .arg("--env")
        .arg(dir.path().join("failback.toml")));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "");
    let text = std::fs::read_to_string(&out).unwrap();
    crate::support::validate_plan(&text);
    let plan: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(plan["format_version"], 4);
    assert!(stderr.contains(&format!(
        "(plan sha256 {})",
        plan["digest"].as_str().unwrap()
    )));
}

#[test]
fn a_missing_environment_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(failback()
        .args(["plan", "--env"])
        .arg(dir.path().join("failback.toml")));
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    insta::assert_snapshot!("plan-missing-environment", redact(&stderr, dir.path()));
}

/// A component that is not the one the environment approved never runs.
#[test]
fn a_plugin_whose_sha256_differs_from_the_binding_is_refused() {
    let dir = lab("edge-failover");
    let component = dir.path().join("plugins/lab-dns.wasm");
    let mut known = crate::support::lab_digests(dir.path());
    let mut bytes = std::fs::read(&component).unwrap();
    bytes.extend_from_slice(b"\0tampered");
    std::fs::write(&component, bytes).unwrap();
    known.push((
        crate::support::sha256_of(&component),
        "sha256 tampered lab-dns.wasm".to_owned(),
    ));
    let (code, _, stderr) = run(failback()
        .args(["plan", "--env"])
        .arg(dir.path().join("failback.toml")));
    assert_eq!(code, 1);
    let stderr = crate::support::placeholders(&stderr, &known);
    insta::assert_snapshot!("plan-tampered-plugin", redact(&stderr, dir.path()));
}

/// The attack: a machine FQDN in the published topology with a typographic
/// quote (PowerShell quotes with U+2018–U+201B too) and a newline entity went
/// into `plan --format powershell` as a command. It is refused where it
/// enters, naming the place, and nothing is planned; the host keeps serving.
#[test]
fn a_topology_machine_fqdn_with_a_typographic_quote_and_a_newline_is_refused() {
    let dir = lab("edge-failover");
    let topology = dir.path().join("store/topology.xml");
    let original = std::fs::read_to_string(&topology).unwrap();
    let hostile = original.replacen(
        "Fqdn=\"edge1.contoso.com\"",
        "Fqdn=\"edge1.contoso.com\u{2019}&#10;Remove-Item -Recurse C:\\ #\"",
        1,
    );
    assert_ne!(hostile, original, "the lab names edge1.contoso.com");
    std::fs::write(&topology, &hostile).unwrap();
    let env = dir.path().join("failback.toml");
    let (code, stdout, stderr) = run(failback()
        .args(["plan", "--format", "powershell", "--env"])
        .arg(&env));
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout, "");
    insta::assert_snapshot!("plan-hostile-machine-fqdn", redact(&stderr, dir.path()));

    std::fs::write(&topology, &original).unwrap();
    let (code, stdout, _) = run(failback()
        .args(["plan", "--format", "powershell", "--env"])
        .arg(&env));
    assert_eq!(code, 0);
    assert!(stdout.contains("Start-CsWindowsService -ComputerName 'edge1.contoso.com'"));
}

/// A manifest swapped after the environment pinned it never loads.
#[test]
fn a_swapped_plugin_manifest_is_refused() {
    let dir = lab("edge-failover");
    let manifest = dir.path().join("plugins/lab-dns.plugin.toml");
    let mut known = crate::support::lab_digests(dir.path());
    let original = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        original.replace("memory-mib = 32", "memory-mib = 1024"),
    )
    .unwrap();
    known.push((
        crate::support::sha256_of(&manifest),
        "sha256 swapped lab-dns.plugin.toml".to_owned(),
    ));
    let (code, _, stderr) = run(failback()
        .args(["plan", "--env"])
        .arg(dir.path().join("failback.toml")));
    assert_eq!(code, 1);
    let stderr = crate::support::placeholders(&stderr, &known);
    insta::assert_snapshot!("plan-swapped-manifest", redact(&stderr, dir.path()));
}

/// An environment that binds no pool-control plugin cannot be planned with:
/// the session refuses to open, naming the kind, before it observes anything.
#[test]
fn an_environment_without_a_pool_control_plugin_is_refused_when_the_session_opens() {
    let dir = lab("edge-failover");
    let env = dir.path().join("failback.toml");
    let original = std::fs::read_to_string(&env).unwrap();
    let mut kept = String::new();
    let mut dropping = false;
    for line in original.lines() {
        if line.starts_with('[') {
            dropping = line.starts_with("[plugins.pool-control");
        }
        if !dropping {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    assert_ne!(kept, original, "the lab binds a pool-control plugin");
    std::fs::write(&env, &kept).unwrap();
    let (code, stdout, stderr) = run(failback().args(["plan", "--env"]).arg(&env));
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout, "");
    insta::assert_snapshot!("plan-without-pool-control", redact(&stderr, dir.path()));

    std::fs::write(&env, &original).unwrap();
    let (code, _, stderr) = run(failback().args(["plan", "--env"]).arg(&env));
    assert_eq!(code, 0, "{stderr}");
}

/// The zone's records are read while the rest of the deployment is; what
/// failed is still reported in the order the reads are written: the
/// published topology before the records, the records before the probes.
#[test]
fn a_failed_observation_names_the_first_read_that_failed_in_order() {
    let dir = lab("edge-failover");
    let env = dir.path().join("failback.toml");
    let plan = || run(failback().args(["plan", "--env"]).arg(&env));

    std::fs::write(dir.path().join("network/reachability.json"), "{").unwrap();
    let (code, _, stderr) = plan();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("reachability"), "{stderr}");

    std::fs::write(dir.path().join("dns/contoso.com.zone"), "garbage\n").unwrap();
    let (code, _, stderr) = plan();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("observing the records of zone `contoso.com` failed"),
        "{stderr}"
    );
    assert!(!stderr.contains("reachability"), "{stderr}");

    std::fs::write(dir.path().join("store/topology.xml"), "<x/>").unwrap();
    let (code, _, stderr) = plan();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("the published topology cannot be read"),
        "{stderr}"
    );
    assert!(!stderr.contains("records of zone"), "{stderr}");
}
