//! The realistic start (issue 32): the restored pool's services stopped, so
//! its Access Edge refuses TCP 5269 and 5061, as a real one does. The plan
//! verifies 5269 (A10) right after starting the services (A1) and before the
//! XMPP route moves; a firewall that filters 5269 still vetoes the plan, and
//! one that rejects it halts the run at A10 (docs/policies.md, "A port that
//! opens when the services start"). End states are read from the lab files
//! and judged with `verify --to`, not taken from an exit code alone.

use std::path::Path;

use crate::apply::{files, lab, no_writes, run, text};

const RESTORED: &str = "edgepool1.contoso.com";
const FAILOVER: &str = "edgepool2.contoso.com";
/// edgepool1's Access Edge IPs.
const POOL1_IPS: [&str; 2] = ["131.107.155.10", "131.107.155.11"];

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Set the firewall's verdict on edgepool1's Access Edge IPs for `port`.
fn firewall(dir: &Path, port: u16, state: &str) {
    let path = dir.join("network/reachability.json");
    let mut file = json(&path);
    let mut set = 0;
    for endpoint in file["endpoints"].as_array_mut().unwrap() {
        if endpoint["port"] == port && POOL1_IPS.contains(&endpoint["host"].as_str().unwrap()) {
            endpoint["state"] = state.into();
            set += 1;
        }
    }
    assert_eq!(set, 2, "edgepool1 has two Access Edge IPs");
    std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
}

/// What `failback observe` reports of edgepool1's TCP 5269, per IP.
fn observed_5269(env: &Path) -> Vec<String> {
    let out = run(&["observe", "--format", "json"], env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let observation: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let probes = observation["observation"]["probes"]
        .as_array()
        .unwrap_or_else(|| panic!("no probes in {observation}"));
    POOL1_IPS
        .iter()
        .map(|ip| {
            let probe = probes
                .iter()
                .find(|p| p["request"]["host"] == *ip && p["request"]["port"] == 5269)
                .unwrap_or_else(|| panic!("{ip}:5269 was not probed"));
            probe["report"]["state"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn plan_json(env: &Path) -> (Option<i32>, serde_json::Value, String) {
    let out = run(&["plan", "--format", "json"], env, None);
    let stderr = text(&out.stderr);
    let plan = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no plan document ({e}): {stderr}"));
    (out.status.code(), plan, stderr)
}

/// The planned and satisfied steps, as `A1 start-edge-services planned`.
fn steps(plan: &serde_json::Value) -> Vec<String> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s["id"].as_str().unwrap(),
                s["action"].as_str().unwrap(),
                s["status"].as_str().unwrap()
            )
        })
        .collect()
}

/// Each site's XMPP route in the store.
fn xmpp_routes(dir: &Path) -> Vec<(String, String)> {
    json(&dir.join("store/store.json"))["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["xmpp_federation_route"]
                    .as_str()
                    .unwrap_or("(none)")
                    .to_owned(),
            )
        })
        .collect()
}

/// The state of each service of `machine` in the servers file.
fn services_of(dir: &Path, machine: &str) -> Vec<String> {
    json(&dir.join("servers/servers.json"))["machines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["fqdn"] == machine)
        .unwrap()["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_realistic_start_refuses_5269_plans_a10_after_a1_and_applies_to_the_restored_pool() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    // A stopped Access Edge listens on nothing: the lab says so.
    assert_eq!(services_of(dir.path(), "edge1.contoso.com")[0], "stopped");
    assert_eq!(observed_5269(&env), ["closed", "closed"]);

    let (code, plan, stderr) = plan_json(&env);
    assert_eq!(code, Some(0), "{stderr}");
    let order = steps(&plan);
    let at = |id: &str| order.iter().position(|s| s.starts_with(id)).unwrap();
    assert_eq!(order[at("A10 ")], "A10 verify-xmpp-port planned");
    assert_eq!(at("A10 "), at("A1 ") + 1, "{order:#?}");
    assert!(at("A10 ") < at("A7 "), "{order:#?}");
    // A10 predicts the port open, on its last probe; the policies judged A7
    // against that.
    let a10 = &plan["steps"][at("A10 ")];
    assert_eq!(
        a10["changes"],
        serde_json::json!([{ "change": "xmpp-port-open", "edge_pool": RESTORED, "open": true }]),
        "{a10}"
    );
    let probes: Vec<_> = a10["operations"].as_array().unwrap().iter().collect();
    assert_eq!(probes.len(), 2);
    assert!(probes[0].get("edge_pool").is_none(), "{}", probes[0]);
    assert_eq!(probes[1]["edge_pool"], RESTORED);
    assert_eq!(plan["findings"], serde_json::json!([]));

    let out = run(&["apply", "--yes"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(observed_5269(&env), ["open", "open"]);
    for machine in ["edge1.contoso.com", "edge2.contoso.com"] {
        assert!(
            services_of(dir.path(), machine)
                .iter()
                .all(|s| s == "running"),
            "{machine}"
        );
    }
    let want = format!("EdgeServer:{RESTORED}");
    for (site, route) in xmpp_routes(dir.path()) {
        assert_eq!(route, want, "{site}");
    }
    let verify = run(&["verify", "--to", RESTORED], &env, None);
    assert!(verify.status.success(), "{}", text(&verify.stdout));
    // The same state judged as a failback to the other pool fails: `verify
    // --to` judges the goal, not only safety.
    let wrong = run(&["verify", "--to", FAILOVER], &env, None);
    assert_eq!(wrong.status.code(), Some(3), "{}", text(&wrong.stdout));
}

#[test]
fn a_firewall_that_filters_5269_vetoes_the_route_move_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    firewall(dir.path(), 5269, "filtered");
    assert_eq!(observed_5269(&env), ["filtered", "filtered"]);
    let (code, plan, stderr) = plan_json(&env);
    assert_eq!(code, Some(3), "{stderr}");
    let order = steps(&plan);
    let a7 = order.iter().position(|s| s.starts_with("A7 ")).unwrap();
    // A10 is still planned after A1, but predicts nothing: a firewall does
    // not open when services start.
    let a10 = &plan["steps"][order.iter().position(|s| s.starts_with("A10 ")).unwrap()];
    assert_eq!(a10["changes"], serde_json::json!([]), "{a10}");
    let findings = plan["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["rule"] == "xmpp.port-open"
            && f["blocking"] == true
            && f["state"] == a7 + 1),
        "{findings:#?}"
    );
    let before = files(dir.path());
    let out = run(&["apply", "--yes"], &env, None);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(files(dir.path()), before);
    assert!(no_writes(dir.path()));
}

#[test]
fn a_port_refused_while_the_services_already_run_stays_shut_and_vetoes() {
    let dir = tempfile::tempdir().unwrap();
    // xmpp-only: edgepool1's services run; its 5269 refused is not a stopped
    // listener, and A1 starts nothing.
    let env = lab(dir.path(), "xmpp-only");
    firewall(dir.path(), 5269, "closed");
    assert_eq!(observed_5269(&env), ["closed", "closed"]);
    let (code, plan, stderr) = plan_json(&env);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        plan["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "xmpp.port-open" && f["blocking"] == true),
        "{plan}"
    );
}

#[test]
fn a_firewall_that_rejects_5269_halts_the_run_at_a10_before_the_route_moves() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    // A reject rule answers as a stopped listener does: the plan counts on
    // A1, and A10 finds the port still shut.
    firewall(dir.path(), 5269, "closed");
    let (code, _, stderr) = plan_json(&env);
    assert_eq!(code, Some(0), "{stderr}");
    let routes = xmpp_routes(dir.path());
    let out = run(&["apply", "--yes"], &env, None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("A10") || stderr.contains("verify-xmpp-port"),
        "{stderr}"
    );
    assert!(
        stderr.contains("131.107.155.10:5269` does not answer an XMPP stream open"),
        "{stderr}"
    );
    // A1 ran, nothing after A10 did: the XMPP route still names the failover
    // pool, and the federation flag never moved.
    assert!(
        services_of(dir.path(), "edge1.contoso.com")
            .iter()
            .all(|s| s == "running")
    );
    assert_eq!(xmpp_routes(dir.path()), routes);
    assert_eq!(
        json(&dir.path().join("store/store.json"))["version"],
        7,
        "nothing was published"
    );
}
