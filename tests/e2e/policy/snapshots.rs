use std::path::Path;

use assert_cmd::assert::OutputAssertExt as _;

use crate::support::failback;

#[test]
fn policy_list_text() {
    let output = failback().args(["policy", "list"]).output().unwrap();
    assert!(output.status.success());
    insta::assert_snapshot!(String::from_utf8(output.stdout).unwrap());
}

#[test]
fn policy_list_json() {
    let output = failback()
        .args(["policy", "list", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    insta::assert_json_snapshot!(json);
}

/// The `edge-failover` lab with TCP 5269 filtered by the firewall on
/// edgepool1's Access Edge IPs (its reachability file): the port stays shut
/// when A1 starts the services, so the plan cannot count on it.
fn lab_with_5269_closed(lab: &Path) {
    failback()
        .args(["lab", "init"])
        .arg(lab)
        .args(["--scenario", "edge-failover"])
        .assert()
        .success();
    let path = lab.join("network/reachability.json");
    let mut reachability: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut closed = 0;
    for endpoint in reachability["endpoints"].as_array_mut().unwrap() {
        let host = endpoint["host"].as_str().unwrap();
        if host.starts_with("131.107.155.") && endpoint["port"] == 5269 {
            endpoint["state"] = "filtered".into();
            endpoint["xmpp"] = false.into();
            closed += 1;
        }
    }
    assert_eq!(closed, 2, "edgepool1 has two Access Edge IPs");
    std::fs::write(&path, serde_json::to_vec_pretty(&reachability).unwrap()).unwrap();
}

/// The XMPP route moves to a pool whose 5269 is closed: `failback plan`
/// exits 3 and says why, at A7's state.
#[test]
fn plan_vetoed_xmpp_federation_route_to_closed_port_text() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab");
    lab_with_5269_closed(&lab);
    let output = failback()
        .arg("plan")
        .arg("--env")
        .arg(lab.join("failback.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "a veto exits 3");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let findings = &stdout[stdout.find("\nfindings:").expect("a findings section") + 1..];
    let stderr = String::from_utf8(output.stderr).unwrap();
    insta::assert_snapshot!(format!("{findings}--- stderr\n{stderr}"));
}

#[test]
fn plan_vetoed_xmpp_federation_route_to_closed_port_json() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab");
    lab_with_5269_closed(&lab);
    let output = failback()
        .arg("plan")
        .arg("--env")
        .arg(lab.join("failback.toml"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "a veto exits 3");
    crate::support::validate_plan(&String::from_utf8_lossy(&output.stdout));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    insta::assert_json_snapshot!(plan["findings"]);
}
