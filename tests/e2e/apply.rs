//! End-to-end tests of `failback apply`, `resume`, `status`, `history`,
//! `audit verify` and `demo` against the built binary and real lab plugins:
//! every lab scenario applied and verified; a crash at every journal point
//! resumed to the same files with no side effect repeated; a stale saved plan,
//! a concurrent apply and drift between steps refused; the operator-facing
//! messages snapshotted (insta; temp paths, times, pids filtered).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use failback_core::lab::Scenario;

const FAILPOINTS: [&str; 6] = [
    "before-intent",
    "after-intent",
    "op-after-intent",
    "op-after-effect",
    "after-effect",
    "after-outcome",
];

pub(crate) fn failback() -> Command {
    let mut c = Command::new(crate::support::binary());
    c.env_remove("FAILBACK_TEST_FAILPOINT");
    c
}

pub(crate) fn lab(dir: &Path, scenario: &str) -> PathBuf {
    failback()
        .args(["lab", "init"])
        .arg(dir)
        .args(["--scenario", scenario])
        .assert()
        .success();
    dir.join("failback.toml")
}

pub(crate) fn run(args: &[&str], env: &Path, failpoint: Option<&str>) -> Output {
    let mut c = failback();
    c.args(args).arg("--env").arg(env);
    if let Some(f) = failpoint {
        c.env("FAILBACK_TEST_FAILPOINT", f);
    }
    c.output().unwrap()
}

/// `verify --to edgepool1.contoso.com` passes: the deployment is at the goal
/// of the failback — every route, record and Front End pool on the restored
/// pool — and not only safe. A bare `verify` infers its goal from where
/// things point now, so a run that ended consistently on the wrong pool
/// passes it.
pub(crate) fn verified_home(env: &Path) -> bool {
    run(&["verify", "--to", "edgepool1.contoso.com"], env, None)
        .status
        .success()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The lab's files, by relative path, without the apply state (`.failback`).
pub(crate) fn files(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel == ".failback" {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(rel, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// No lab plugin has performed a side effect.
pub(crate) fn no_writes(dir: &Path) -> bool {
    files(dir)
        .iter()
        .filter(|(path, _)| path.starts_with("writes/"))
        .all(|(_, text)| text.is_empty())
}

pub(crate) fn filters(dir: &Path) -> Vec<(String, String)> {
    vec![
        (regex_escape(&dir.display().to_string()), "[LAB]".to_owned()),
        (
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ".to_owned(),
            "[TIME]".to_owned(),
        ),
        (r"in \d+\.\d s".to_owned(), "in [ELAPSED] s".to_owned()),
        (
            r"plan sha256 [0-9a-f]{12}".to_owned(),
            "plan sha256 [DIGEST]".to_owned(),
        ),
        (
            r"pid \d+ on [^,]+,".to_owned(),
            "pid [PID] on [HOST],".to_owned(),
        ),
    ]
}

pub(crate) fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Snapshot `$value` of the lab `$dir` through [`filters`], its digests kept
/// apart first: the lab's plugin files by name (their sha256 computed here),
/// any other by its order (`crate::support::placeholders`).
macro_rules! snapshot {
    ($dir:expr, $name:expr, $value:expr) => {{
        let mut settings = insta::Settings::clone_current();
        for (re, to) in filters($dir) {
            settings.add_filter(&re, to);
        }
        let value = crate::support::placeholders(&$value, &crate::support::lab_digests($dir));
        settings.bind(|| insta::assert_snapshot!($name, value));
    }};
}

fn applied(scenario: &str) -> (tempfile::TempDir, PathBuf, Output) {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), scenario);
    let out = run(&["apply", "--yes"], &env, None);
    (dir, env, out)
}

#[test]
fn every_scenario_applies_then_verifies_clean_with_nothing_left_to_do() {
    for scenario in Scenario::ALL.map(Scenario::name) {
        let (_dir, env, out) = applied(scenario);
        assert!(out.status.success(), "{scenario}: {}", text(&out.stderr));
        let verify = run(&["verify", "--to", "edgepool1.contoso.com"], &env, None);
        assert!(
            verify.status.success(),
            "{scenario}: {}",
            text(&verify.stdout)
        );
        let plan = run(&["plan"], &env, None);
        assert!(plan.status.success(), "{scenario}");
        let plan = text(&plan.stdout);
        assert!(
            plan.lines()
                .find(|l| l.contains(" steps, "))
                .unwrap()
                .contains(" 0 planned"),
            "{scenario}: {plan}"
        );
        let audit = run(&["audit", "verify"], &env, None);
        assert!(
            audit.status.success(),
            "{scenario}: {}",
            text(&audit.stderr)
        );
    }
}

#[test]
fn the_next_hop_the_failover_moved_is_back_in_the_home_site_after_the_failback() {
    use failback_core::topology::Topology;
    let next_hop = |dir: &Path| -> Option<String> {
        let xml = std::fs::read_to_string(dir.join("store/topology.xml")).unwrap();
        let topology = Topology::parse(&xml).unwrap();
        topology
            .edge_pool("edgepool1.contoso.com")
            .unwrap()
            .next_hop
            .clone()
    };
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-and-front-end-failover");
    assert_eq!(next_hop(dir.path()).as_deref(), Some("fepool2.contoso.com"));
    let out = run(&["apply", "--yes"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(next_hop(dir.path()).as_deref(), Some("fepool1.contoso.com"));
    // Run Again applied the topology that has it on every Edge machine of
    // edgepool1: the plan has nothing left to do.
    let plan = text(&run(&["plan"], &env, None).stdout);
    assert!(plan.contains(", 0 planned"), "{plan}");
}

/// The operator's cycle after a failover: `apply --failover` on the healthy
/// lab; days later, in new processes, `plan`, `apply` and `verify` with no
/// `--to` fail back to the home the journal remembers the failover moved
/// federation from, and say so. (They called the failed-over state the goal:
/// "failback to edgepool2.contoso.com (Site2) … 0 planned".)
#[test]
fn a_failback_after_a_journaled_failover_returns_to_the_home_it_moved_from() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "healthy");
    let home = files(dir.path());
    let out = run(&["apply", "--yes", "--failover"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_ne!(files(dir.path()), home, "the failover moved something");

    // Every command is a new process: only the journal remembers.
    let out = run(&["plan"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    snapshot!(dir.path(), "plan-after-journaled-failover", &plan);
    assert!(
        plan.starts_with("failback to edgepool1.contoso.com (Site1)"),
        "{plan}"
    );
    assert!(
        plan.contains(
            "home: the failover of run 1 moved federation from edgepool1.contoso.com (Site1)"
        ),
        "{plan}"
    );
    assert!(!plan.contains(", 0 planned"), "{plan}");
    let out = run(&["plan", "--format", "json"], &env, None);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::support::validate_plan(&text(&out.stdout));
    assert_eq!(
        json["intent"]["failed_over_from"],
        serde_json::json!({"run": 1, "pool": "edgepool1.contoso.com", "site": "Site1"})
    );

    let out = run(&["apply", "--yes"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["verify"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stdout));
    snapshot!(
        dir.path(),
        "verify-after-journaled-failover-and-failback",
        text(&out.stdout)
    );
    // Back where the failover started: the zone's records (the SOA serial
    // counts the changes) and the sites' routes.
    let now = files(dir.path());
    let records = |files: &BTreeMap<String, String>| -> Vec<String> {
        let mut records: Vec<String> = files["dns/contoso.com.zone"]
            .lines()
            .filter(|line| !line.contains(" SOA "))
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        records.sort();
        records
    };
    assert_eq!(records(&now), records(&home));
    let sites = |files: &BTreeMap<String, String>| {
        serde_json::from_str::<serde_json::Value>(&files["store/store.json"]).unwrap()["sites"]
            .clone()
    };
    assert_eq!(sites(&now), sites(&home));
    // And the failback after it has nothing left to do.
    let plan = text(&run(&["plan"], &env, None).stdout);
    assert!(plan.contains(", 0 planned"), "{plan}");
}

/// A failover done by hand (no journal holds it) leaves everything on
/// edgepool2 while Site1's own Edge pool runs: `plan` and `verify` without
/// `--to` cannot know the home, and say so, naming `--to`, rather than call
/// the failed-over state the goal. With `--to` the failback is planned.
#[test]
fn a_failover_the_journal_does_not_hold_is_refused_naming_to() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "healthy");
    let out = run(&["apply", "--yes", "--failover"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::remove_dir_all(dir.path().join(".failback")).unwrap();

    let out = run(&["plan"], &env, None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(text(&out.stdout), "");
    snapshot!(dir.path(), "plan-home-unknown", text(&out.stderr));
    let out = run(&["verify"], &env, None);
    snapshot!(dir.path(), "verify-home-unknown", text(&out.stdout));
    assert!(!text(&out.stdout).contains("ok: no invariant is broken"));

    let out = run(&["plan", "--to", "edgepool1.contoso.com"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(", 0 planned"));
    assert!(!text(&out.stdout).contains("home: "));
}

/// A publish outside the run: the run is killed right after its publish took
/// effect, and someone publishes again before it resumes. The store's version
/// only goes up, so resuming meets the same drift every time: `resume` and
/// `status` name
/// the way on — `verify`, then a fresh `plan` (which inherits the TTLs the
/// run lowered) and `apply` — and never `resume` again (they said "resume it
/// with: failback resume", a dead end). The way on works.
#[test]
fn a_publish_changed_outside_the_run_is_continued_by_a_fresh_plan_not_resume() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    // The failpoint's pass at the first publish: every operation before it,
    // in plan order, passes once.
    let out = run(&["plan", "--format", "json"], &env, None);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let operations: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|step| step["operations"].as_array().unwrap())
        .map(|op| op["op"].as_str().unwrap())
        .collect();
    let publish = operations
        .iter()
        .position(|op| *op == "publish-topology")
        .unwrap();
    let failpoint = format!("op-after-effect:{}", publish + 1);
    let out = run(&["apply", "--yes"], &env, Some(&failpoint));
    assert!(!out.status.success(), "{failpoint}: expected an abort");
    let status = text(&run(&["status"], &env, None).stdout);
    assert!(status.contains("in doubt: step 5"), "{status}");

    // Someone publishes again, outside the run.
    let store = dir.path().join("store/store.json");
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&store).unwrap()).unwrap();
    let version = document["version"].as_u64().unwrap();
    document["version"] = (version + 1).into();
    std::fs::write(&store, serde_json::to_string_pretty(&document).unwrap()).unwrap();

    for _ in 0..2 {
        let out = run(&["resume"], &env, None);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
        let stderr = text(&out.stderr);
        snapshot!(dir.path(), "resume-publish-changed-outside", &stderr);
        assert!(!stderr.contains("failback resume"), "{stderr}");
    }
    let status = text(&run(&["status"], &env, None).stdout);
    snapshot!(dir.path(), "status-publish-changed-outside", &status);
    assert!(!status.contains("failback resume"), "{status}");

    // The way on: verify, a fresh plan over the run, apply.
    let out = run(&["verify"], &env, None);
    assert!(
        text(&out.stdout).starts_with("verify "),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["plan"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("note: run 1 did not finish; this plan restores the TTLs it lowered"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["apply", "--yes"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["verify"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).ends_with("ok: no invariant is broken\n"));
}

/// What an apply observes (docs/apply.md, "What the observations cost"): once
/// to plan, once before the first step, and once after each step, that
/// observation being the next step's observation before it — 20 whole
/// observations for the 18 steps of `edge-failover`, not two per step. Each
/// observation reads the published topology once.
#[test]
fn an_apply_observes_once_per_step_and_once_before_the_first() {
    let (dir, _env, out) = applied("edge-failover");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = std::fs::read_to_string(dir.path().join(".failback/audit.jsonl")).unwrap();
    let observations = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["kind"] == "call" && e["function"] == "management.read-topology")
        .count();
    assert_eq!(observations, 1 + 1 + 18);
}

#[test]
fn apply_summary_status_and_history() {
    let (dir, env, out) = applied("edge-failover");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let summary = &stdout[stdout.find("run 1 done").unwrap()..];
    snapshot!(dir.path(), "apply-summary", summary);
    snapshot!(dir.path(), "apply-progress-lines", text(&out.stderr));
    snapshot!(
        dir.path(),
        "status-done",
        text(&run(&["status"], &env, None).stdout)
    );
    snapshot!(
        dir.path(),
        "history-done",
        text(&run(&["history"], &env, None).stdout)
    );
    let json = run(&["status", "--format", "json"], &env, None);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["run"]["state"], "done");
    assert_eq!(v["steps"].as_array().unwrap().len(), 18);
}

#[test]
fn json_progress_is_one_event_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "xmpp-only");
    let out = run(&["apply", "--yes", "--format", "json"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "run");
    assert!(events.iter().any(|e| e["event"] == "call"));
    assert_eq!(events.last().unwrap()["state"], "done");
}

#[test]
fn apply_without_a_terminal_or_yes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    let out = run(&["apply"], &env, None);
    assert_eq!(out.status.code(), Some(1));
    snapshot!(dir.path(), "apply-no-confirmation", text(&out.stderr));
    assert!(no_writes(dir.path()));
}

/// A firewall filters TCP 5269 to edgepool1: the port stays shut when its
/// services start, so the plan is vetoed (a port merely refused while the
/// services are stopped is what A1 and A10 handle: tests/e2e/ports.rs).
fn close_5269(dir: &Path) {
    let path = dir.join("network/reachability.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for e in v["endpoints"].as_array_mut().unwrap() {
        if e["port"] == 5269 && e["host"].as_str().unwrap().starts_with("131.107.155.") {
            e["state"] = "filtered".into();
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn a_vetoed_plan_is_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    close_5269(dir.path());
    let before = files(dir.path());
    let out = run(&["apply", "--yes"], &env, None);
    assert_eq!(out.status.code(), Some(3));
    snapshot!(dir.path(), "apply-vetoed", text(&out.stderr));
    assert_eq!(files(dir.path()), before);
    // The veto at the start of apply is a decision, audited.
    let log = std::fs::read_to_string(dir.path().join(".failback/audit.jsonl")).unwrap();
    assert!(log.contains("\"verdict\":\"vetoed\""), "{log}");
}

#[test]
fn a_stale_saved_plan_is_refused_naming_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    let saved = dir.path().join("plan.json");
    let out = failback()
        .args(["plan", "--format", "json", "--out"])
        .arg(&saved)
        .arg("--env")
        .arg(&env)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    crate::support::validate_plan(&std::fs::read_to_string(&saved).unwrap());
    assert!(plan["provenance"]["environment"].is_string());
    assert_eq!(plan["provenance"]["plugins"].as_object().unwrap().len(), 5);
    assert_eq!(plan["provenance"]["policies"].as_object().unwrap().len(), 1);
    assert!(plan["provenance"]["levels"].as_object().unwrap().len() >= 18);

    // Someone starts edge1's services by hand after the plan was saved.
    let servers = dir.path().join("servers/servers.json");
    let s = std::fs::read_to_string(&servers).unwrap();
    let edge1 = s.find("edge1.contoso.com").unwrap();
    let edge2 = s.find("edge2.contoso.com").unwrap();
    let edited = format!(
        "{}{}{}",
        &s[..edge1],
        s[edge1..edge2].replace("\"stopped\"", "\"running\""),
        &s[edge2..]
    );
    std::fs::write(&servers, edited).unwrap();
    let out = failback()
        .arg("apply")
        .arg(&saved)
        .arg("--env")
        .arg(&env)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    snapshot!(dir.path(), "apply-stale-plan", text(&out.stderr));
    assert!(no_writes(dir.path()));

    // A fresh saved plan applies.
    failback()
        .args(["plan", "--format", "json", "--out"])
        .arg(&saved)
        .arg("--env")
        .arg(&env)
        .assert()
        .success();
    failback()
        .arg("apply")
        .arg(&saved)
        .arg("--env")
        .arg(&env)
        .assert()
        .success();
}

#[test]
fn a_second_apply_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    // The first apply holds the lock until its standard input is closed:
    // the window stays open however long the second apply and the resume
    // take on a loaded machine (a fixed sleep of 5 s did not).
    let mut first = std::process::Command::new(crate::support::binary())
        .args(["apply", "--yes", "--env"])
        .arg(&env)
        .env("FAILBACK_TEST_FAILPOINT", "after-intent:1:wait-stdin")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Who holds the lock is written beside it once it is taken.
    let lock = dir.path().join(".failback/lock.holder");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&lock).map_or(true, |t| t.trim().is_empty()) {
        assert!(
            Instant::now() < deadline,
            "the first apply never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = run(&["apply", "--yes"], &env, None);
    let resume = run(&["resume"], &env, None);
    drop(first.stdin.take());
    assert!(first.wait().unwrap().success());
    assert_eq!(second.status.code(), Some(1));
    let stderr = text(&second.stderr);
    assert!(stderr.contains(&format!("pid {}", first.id())), "{stderr}");
    snapshot!(dir.path(), "apply-locked", stderr);
    assert!(text(&resume.stderr).contains("refusing to resume: another apply holds"));
}

#[test]
fn drift_between_steps_halts_at_that_step_with_the_diff() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    // Stop after step 4 (set-federation-edge) is journaled done.
    let out = run(&["apply", "--yes"], &env, Some("after-outcome:4"));
    assert!(!out.status.success());
    // Drift: someone stops edge1's Lync services.
    let servers = dir.path().join("servers/servers.json");
    let s = std::fs::read_to_string(&servers).unwrap();
    let edge2 = s.find("edge2.contoso.com").unwrap();
    let edited = format!(
        "{}{}",
        s[..edge2].replace("\"running\"", "\"stopped\""),
        &s[edge2..]
    );
    std::fs::write(&servers, edited).unwrap();
    let writes_before = files(dir.path());

    let out = run(&["resume"], &env, None);
    assert_eq!(out.status.code(), Some(1));
    snapshot!(dir.path(), "resume-drift", text(&out.stderr));
    assert_eq!(
        files(dir.path()),
        writes_before,
        "nothing acted after the drift"
    );
    snapshot!(
        dir.path(),
        "status-halted",
        text(&run(&["status"], &env, None).stdout)
    );
    snapshot!(
        dir.path(),
        "history-halted",
        text(&run(&["history"], &env, None).stdout)
    );
}

/// The drift check compares the whole observed deployment, not only what the
/// step touches: a change in a bystander site far from the failback (Site4 of a
/// lab grown to four sites, whose route the policies judge) halts the run.
#[test]
fn drift_in_a_far_bystander_site_halts_at_that_step() {
    let dir = tempfile::tempdir().unwrap();
    failback()
        .args(["lab", "init"])
        .arg(dir.path())
        .args(["--scenario", "edge-failover", "--sites", "4"])
        .assert()
        .success();
    let env = dir.path().join("failback.toml");
    // Stop after step 4 (set-federation-edge, which repoints every site's
    // federation route) is journaled done.
    let out = run(&["apply", "--yes"], &env, Some("after-outcome:4"));
    assert!(!out.status.success());
    // Drift: someone points Site4's federation route back at edgepool2.
    let store = dir.path().join("store/store.json");
    let s = std::fs::read_to_string(&store).unwrap();
    let site4 = s.find("\"Site4\"").unwrap();
    let edited = format!(
        "{}{}",
        &s[..site4],
        s[site4..].replacen(
            "\"federation_route\": \"EdgeServer:edgepool1.contoso.com\"",
            "\"federation_route\": \"EdgeServer:edgepool2.contoso.com\"",
            1
        )
    );
    assert_ne!(edited, s, "Site4's route was repointed by step 4");
    std::fs::write(&store, edited).unwrap();
    let writes_before = files(dir.path());

    let out = run(&["resume"], &env, None);
    assert_eq!(out.status.code(), Some(1));
    snapshot!(dir.path(), "resume-drift-far-site", text(&out.stderr));
    assert_eq!(
        files(dir.path()),
        writes_before,
        "nothing acted after the drift"
    );
}

#[test]
fn a_crash_at_every_journal_point_resumes_to_the_same_files_without_repeating_a_side_effect() {
    let start = tempfile::tempdir().unwrap();
    lab(start.path(), "edge-failover");
    every_crash_resumes_to_the_uninterrupted_files(start.path(), &["apply", "--yes"]);
}

/// A kill inside a batch: the management store had set the federation
/// routes of the first three sites of A2's `set-site-routes` (of six) when the
/// process died, the operation journaled as begun and not finished. Resume
/// finds the batch part-done — not taken effect —, accepts that state as the
/// step's own (no drift), runs the whole batch again, and ends with exactly
/// the files of an uninterrupted run: the routes already set are set to what
/// they are, and the store's log has each route once.
#[test]
fn a_kill_inside_a_batch_of_site_routes_resumes_by_running_the_whole_batch_again() {
    let start = tempfile::tempdir().unwrap();
    failback()
        .args(["lab", "init"])
        .arg(start.path())
        .args(["--scenario", "edge-failover", "--sites", "6"])
        .assert()
        .success();
    let env = start.path().join("failback.toml");
    let plan_out = run(&["plan", "--format", "json"], &env, None);
    assert!(plan_out.status.success(), "{}", text(&plan_out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&plan_out.stdout).unwrap();
    // The op-after-intent pass of A2's batch: every planned operation before
    // it passes once.
    let mut passes = 0;
    let mut batch = None;
    for step in plan["steps"].as_array().unwrap() {
        if step["status"] != "planned" {
            continue;
        }
        for (i, op) in step["operations"].as_array().unwrap().iter().enumerate() {
            passes += 1;
            if step["action"] == "set-federation-edge" && op["op"] == "set-site-routes" {
                batch = Some((
                    passes,
                    (step["index"].as_u64().unwrap(), u64::try_from(i).unwrap()),
                    op["routes"].as_array().unwrap().clone(),
                ));
            }
        }
    }
    let (pass, (a2, op), routes) =
        batch.expect("A2 sets the sites' federation routes in one batch");
    assert_eq!(routes.len(), 6, "{routes:?}");

    let reference_dir = copy_lab(start.path());
    let out = run(
        &["apply", "--yes"],
        &reference_dir.path().join("failback.toml"),
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reference = files(reference_dir.path());

    let dir = copy_lab(start.path());
    let env = dir.path().join("failback.toml");
    let failpoint = format!("op-after-intent:{pass}");
    let out = run(&["apply", "--yes"], &env, Some(&failpoint));
    assert!(
        out.status.code().is_none(),
        "{failpoint}: expected an abort"
    );
    // The abort landed where the pass count says: A2's batch journaled as
    // begun and not finished, nothing of it done in the store yet.
    let status = run(&["status", "--format", "json"], &env, None);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["run"]["state"], "running", "{status}");
    assert_eq!(status["run"]["in_doubt"], a2, "{status}");
    let last = status["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "set-federation-edge", "{status}");
    assert_eq!(last["outcome"], serde_json::Value::Null, "{status}");
    // The one operation journaled as begun and not finished is the batch.
    let journal = rusqlite::Connection::open(dir.path().join(".failback/journal.sqlite")).unwrap();
    let in_doubt: Vec<(i64, i64)> = journal
        .prepare("SELECT step, op FROM operations WHERE outcome_at IS NULL")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let landed = (i64::try_from(a2).unwrap(), i64::try_from(op).unwrap());
    assert_eq!(in_doubt, [landed], "the abort landed elsewhere");
    assert_eq!(
        files(dir.path())["store/store.json"],
        files(start.path())["store/store.json"],
        "the store changed before the batch ran"
    );
    // What a store killed half-way through the batch leaves: the first three
    // routes set, the others not.
    let store_path = dir.path().join("store/store.json");
    let mut store: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&store_path).unwrap()).unwrap();
    for route in &routes[..3] {
        let site = store["sites"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|s| s["name"] == route["site"])
            .unwrap();
        site["federation_route"] = route["identity"].clone();
    }
    std::fs::write(
        &store_path,
        format!("{}\n", serde_json::to_string_pretty(&store).unwrap()),
    )
    .unwrap();

    let status = text(&run(&["status"], &env, None).stdout);
    assert!(status.contains("running"), "{status}");
    let resumed = run(&["resume"], &env, None);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let got = files(dir.path());
    for (path, want) in &reference {
        assert_eq!(
            got.get(path),
            Some(want),
            "`{path}` differs from an uninterrupted run's"
        );
    }
    assert_eq!(got.len(), reference.len());
    assert!(verified_home(&env));
    assert!(run(&["audit", "verify"], &env, None).status.success());
}

/// Issue 15's round trip over every crash point of both runs, on a generated
/// deployment that combines the record shapes operators have: three sites,
/// dual-stack Access Edges, one XMPP SRV record per Edge pool, and a Director
/// as the home Edge pool's next hop. The failover runbook is journaled and
/// resumed by the same engine as the failback: a crash at each journal point of
/// the failover, and then of the failback that follows it, resumes to the
/// files of an uninterrupted run; and the failback ends where the failover
/// began.
#[test]
fn a_generated_deployment_crashed_at_every_journal_point_of_failover_and_failback_round_trips() {
    let healthy = tempfile::tempdir().unwrap();
    generated_lab(
        healthy.path(),
        failback_core::lab::Variation {
            sites: 3,
            dual_stack: true,
            xmpp_srv_per_pool: true,
            director: true,
        },
    );
    let failed_over = every_crash_resumes_to_the_uninterrupted_files(
        healthy.path(),
        &[
            "apply",
            "--failover",
            "--to",
            "edgepool2.contoso.com",
            "--yes",
        ],
    );
    let back = every_crash_resumes_to_the_uninterrupted_files(
        failed_over.path(),
        &["apply", "--to", "edgepool1.contoso.com", "--yes"],
    );
    let want = without_versions(&files(healthy.path()));
    let got = without_versions(&files(back.path()));
    for (path, want) in &want {
        assert_eq!(got.get(path), Some(want), "`{path}` is not as it was");
    }
    assert_eq!(got.len(), want.len());
}

/// A lab of the `healthy` scenario with `variation`'s shapes: `lab init`
/// writes the environment and the plugins, then the lab files are replaced by
/// the generated ones.
fn generated_lab(dir: &Path, variation: failback_core::lab::Variation) {
    lab(dir, "healthy");
    let generated =
        failback_core::lab::files_generated(failback_core::lab::Scenario::Healthy, variation)
            .unwrap();
    for (path, bytes) in generated {
        std::fs::write(dir.join(path), bytes).unwrap();
    }
}

/// A copy of the lab directory `from` (its apply state included) in a new
/// temporary directory.
fn copy_lab(from: &Path) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(from, dir.path());
    dir
}

/// For each journal point, crash the `apply` of `args` on a copy of the lab
/// `start` at its first, second, ... occurrence until a run passes it
/// uncrashed; each crashed run is resumed and must end with exactly the files
/// of an uninterrupted run, verified, with an intact audit log. Returns the
/// uninterrupted run's lab.
fn every_crash_resumes_to_the_uninterrupted_files(
    start: &Path,
    args: &'static [&'static str],
) -> tempfile::TempDir {
    let reference_dir = copy_lab(start);
    let reference_env = reference_dir.path().join("failback.toml");
    let out = run(args, &reference_env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reference = files(reference_dir.path());
    // What verify says of the uninterrupted run: after a failover, the
    // journal's failover names the home, so verify judges the goal too (and
    // says the deployment is not failed back, exit 3).
    let verified = run(&["verify"], &reference_env, None).status.code();
    assert!(matches!(verified, Some(0 | 3)), "verify: {verified:?}");
    let threads: Vec<_> = FAILPOINTS
        .iter()
        .map(|point| {
            let reference = reference.clone();
            let start = start.to_owned();
            std::thread::spawn(move || {
                let mut crashes = 0;
                for n in 1.. {
                    let dir = copy_lab(&start);
                    let env = dir.path().join("failback.toml");
                    let failpoint = format!("{point}:{n}");
                    let out = run(args, &env, Some(&failpoint));
                    if out.status.success() {
                        break;
                    }
                    crashes += 1;
                    assert!(
                        out.status.code().is_none(),
                        "{failpoint}: expected an abort: {}",
                        text(&out.stderr)
                    );
                    let status = text(&run(&["status"], &env, None).stdout);
                    assert!(status.contains("running"), "{failpoint}: {status}");
                    let resumed = run(&["resume"], &env, None);
                    assert!(
                        resumed.status.success(),
                        "{failpoint}: {}",
                        text(&resumed.stderr)
                    );
                    let got = files(dir.path());
                    for (path, want) in &reference {
                        assert_eq!(
                            got.get(path),
                            Some(want),
                            "{failpoint}: `{path}` differs from an uninterrupted run's"
                        );
                    }
                    assert_eq!(got.len(), reference.len(), "{failpoint}");
                    // The files are the uninterrupted run's, failover or
                    // failback alike, and so is what verify says of them.
                    assert_eq!(
                        run(&["verify"], &env, None).status.code(),
                        verified,
                        "{failpoint}: verify"
                    );
                    assert!(run(&["audit", "verify"], &env, None).status.success());
                }
                (*point, crashes)
            })
        })
        .collect();
    for t in threads {
        let (point, crashes) = t.join().unwrap();
        assert!(crashes > 0, "{point} was never hit");
    }
    reference_dir
}

/// A run continues only with the plugins and policies it was judged with: a
/// plugin rebound between the crash and `resume` (here a new build of lab-dns:
/// the same component with a custom section appended) is refused, naming it,
/// and nothing more is applied.
#[test]
fn resume_is_refused_when_a_plugin_changed_since_the_run_started() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    let out = run(&["apply", "--yes"], &env, Some("after-outcome:3"));
    assert!(
        out.status.code().is_none(),
        "expected an abort: {}",
        text(&out.stderr)
    );
    let before = files(dir.path());

    let component = dir.path().join("plugins/lab-dns.wasm");
    let old = std::fs::read(&component).unwrap();
    let old_sha = hex_sha256(&old);
    let mut new = old.clone();
    // A custom section (id 0): size 5, name "x" (length 1), payload "abc".
    new.extend_from_slice(&[0, 5, 1, b'x', b'a', b'b', b'c']);
    std::fs::write(&component, &new).unwrap();
    let new_sha = hex_sha256(&new);
    // The manifest carries the component's sha256, and the environment pins the
    // manifest's: rebind both. The new build is no longer the binary's own
    // (built-in) and is unsigned: let unsigned builds run, so that what refuses
    // it is the run's record of what it was judged with.
    let manifest = dir.path().join("plugins/lab-dns.plugin.toml");
    let old_manifest = std::fs::read_to_string(&manifest).unwrap();
    let new_manifest = old_manifest.replace(&old_sha, &new_sha);
    std::fs::write(&manifest, &new_manifest).unwrap();
    let environment = dir.path().join("failback.toml");
    let rebound = std::fs::read_to_string(&environment)
        .unwrap()
        .replace(&old_sha, &new_sha)
        .replace(
            &hex_sha256(old_manifest.as_bytes()),
            &hex_sha256(new_manifest.as_bytes()),
        )
        .replace("require-signatures = true", "require-signatures = false");
    std::fs::write(&environment, rebound).unwrap();

    let resumed = run(&["resume"], &env, None);
    assert_eq!(resumed.status.code(), Some(1));
    let stderr = text(&resumed.stderr);
    assert!(
        stderr.contains(&format!(
            "the `dns-provider` plugin changed: `lab-dns` sha256 {old_sha} then, `lab-dns` sha256 {new_sha} now"
        )),
        "{stderr}"
    );
    let mut after = files(dir.path());
    for file in [
        "failback.toml",
        "plugins/lab-dns.plugin.toml",
        "plugins/lab-dns.wasm",
    ] {
        after.insert(file.to_owned(), before[file].clone());
    }
    assert_eq!(
        after, before,
        "resume changed the lab although it was refused"
    );
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn an_edited_audit_record_is_named() {
    let (dir, env, out) = applied("xmpp-only");
    assert!(out.status.success());
    let path = dir.path().join(".failback/audit.jsonl");
    let log = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = log.lines().collect();
    let edited = lines[4].replace("\"kind\":\"call\"", "\"kind\":\"cal1\"");
    lines[4] = &edited;
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let out = run(&["audit", "verify"], &env, None);
    assert_eq!(out.status.code(), Some(1));
    snapshot!(dir.path(), "audit-edited", text(&out.stderr));
}

#[test]
fn the_demo_runs_the_whole_job() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab");
    let out = failback()
        .arg("demo")
        .arg("--dir")
        .arg(&lab)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("verify: ok"), "{stdout}");
    assert!(
        stdout.contains("run 1 done: 18 steps applied and verified"),
        "{stdout}"
    );
}

/// The lab's state files (everything but `writes/`, the plugins' side-effect
/// logs), without the `NAME.tmp` a kill inside an atomic write can leave: it
/// is never read, and the next write of `NAME` replaces it.
fn state_files(dir: &Path) -> BTreeMap<String, String> {
    files(dir)
        .into_iter()
        .filter(|(path, _)| !path.starts_with("writes/") && !path.ends_with(".tmp"))
        .collect()
}

/// `lines` is `reference` with at most `missing` lines left out, in order:
/// no side effect repeated, and at most the killed call's log line lost (a
/// kill between a plugin's effect and its log line; the resumed run finds
/// the effect by its content and does not repeat it).
fn subsequence_missing(lines: &[&str], reference: &[&str]) -> Option<usize> {
    let mut it = reference.iter();
    for line in lines {
        it.find(|r| *r == line)?;
    }
    reference.len().checked_sub(lines.len())
}

/// The lines of `reference` that `lines` lacks, when they are one run of
/// consecutive lines of one operation: what one plugin call killed between its
/// effect and its log write leaves out (a batch, `set-site-routes` or
/// `replicate`, logs its objects in one write). None when they are more than
/// that. `lines` is a subsequence of `reference` (`subsequence_missing`).
fn one_call_missing<'a>(lines: &[&str], reference: &[&'a str]) -> Option<Vec<&'a str>> {
    let kept = lines
        .iter()
        .zip(reference)
        .take_while(|(line, want)| line == want)
        .count();
    let lost = &reference[kept..reference.len() - (lines.len() - kept)];
    let one_run = lines[kept..] == reference[reference.len() - (lines.len() - kept)..];
    let operation = |line: &str| line.split(' ').next().unwrap_or_default().to_owned();
    let one_operation = lost
        .iter()
        .all(|line| operation(line) == operation(lost[0]));
    (one_run && one_operation).then(|| lost.to_vec())
}

/// Killed with SIGKILL at seeded random instants of an apply — anywhere: in
/// a plugin's write, the journal, the audit log — every run is finished by
/// `resume` (or, killed before its run was journaled, by a new apply) to the
/// state files of an uninterrupted run, no side effect repeated, verified and
/// with an audit log that holds. `FAILBACK_TEST_KILLS` (default 24) kills,
/// `FAILBACK_TEST_KILL_SEED` (default fixed) their instants.
///
/// The instants span one apply alone (the lab made before the clock starts),
/// timed on a warm component cache, as every killed apply runs. A kill that
/// lands after the process exited, or before its run is journaled, proves
/// nothing of resume: each kill is counted as landed mid-run only when the
/// child died of SIGKILL and `status` then says its run is running, and at
/// least a third of them must have (the rest land in start-up, before the
/// run is journaled; a third leaves room for a loaded machine, where start-up
/// takes longer, and still fails a test whose kills all miss).
#[test]
fn a_kill_at_a_random_instant_resumes_to_the_same_state_without_repeating_a_side_effect() {
    // The first apply warms the component cache; the second is timed.
    let (_warm_dir, _warm_env, warm) = applied("edge-and-front-end-failover");
    assert!(warm.status.success(), "{}", text(&warm.stderr));
    let reference_dir = tempfile::tempdir().unwrap();
    let reference_env = lab(reference_dir.path(), "edge-and-front-end-failover");
    let started = Instant::now();
    let out = run(&["apply", "--yes"], &reference_env, None);
    let span = started.elapsed();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reference_files = state_files(reference_dir.path());
    let reference = files(reference_dir.path());
    let kills: u64 = std::env::var("FAILBACK_TEST_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    let seed: u64 = std::env::var("FAILBACK_TEST_KILL_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0xfa11_bac6);
    let mut rng = fastrand::Rng::with_seed(seed);
    let instants: Vec<Duration> = (0..kills)
        .map(|_| Duration::from_micros(rng.u64(0..u64::try_from(span.as_micros()).unwrap())))
        .collect();
    let threads: Vec<_> = instants
        .chunks(instants.len().div_ceil(2).max(1))
        .map(|chunk| {
            let chunk = chunk.to_vec();
            let (reference_files, reference) = (reference_files.clone(), reference.clone());
            std::thread::spawn(move || {
                chunk
                    .into_iter()
                    .filter(|at| kill_and_resume(*at, seed, &reference_files, &reference))
                    .count()
            })
        })
        .collect();
    let landed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let wanted = usize::try_from(kills.div_ceil(3)).unwrap();
    assert!(
        landed >= wanted,
        "only {landed} of {kills} kills landed mid-run (wanted {wanted}) over an apply of {span:?}, seed {seed}"
    );
}

/// The state of the environment's last run (`running`, `done`, …), as
/// `status --format json` says; `None` before any run.
fn run_state(env: &Path) -> Option<String> {
    let out = run(&["status", "--format", "json"], env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    status["run"]["state"].as_str().map(str::to_owned)
}

/// Kill an apply `at` after its start and finish it; whether the kill landed
/// mid-run (the child died of SIGKILL while its run was journaled running).
fn kill_and_resume(
    at: Duration,
    seed: u64,
    reference_files: &BTreeMap<String, String>,
    reference: &BTreeMap<String, String>,
) -> bool {
    use std::os::unix::process::ExitStatusExt as _;

    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-and-front-end-failover");
    let mut child = std::process::Command::new(crate::support::binary())
        .args(["apply", "--yes", "--env"])
        .arg(&env)
        .env_remove("FAILBACK_TEST_FAILPOINT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(at);
    // A child that already exited is a zombie until waited for: the signal
    // reaches nothing, and its status is its own exit.
    child.kill().unwrap();
    let died = child.wait().unwrap();
    let case = format!("killed at {at:?} (seed {seed})");
    let status = text(&run(&["status"], &env, None).stdout);
    let landed = died.signal() == Some(9) && run_state(&env).as_deref() == Some("running");
    let finish = if status.contains("no run yet") {
        run(&["apply", "--yes"], &env, None)
    } else {
        run(&["resume"], &env, None)
    };
    assert!(
        finish.status.success(),
        "{case}: {}\n{status}",
        text(&finish.stderr)
    );
    assert_eq!(state_files(dir.path()), *reference_files, "{case}");
    let got = files(dir.path());
    // A kill between a call's effect and its log write loses that call's
    // lines (the resume sees the effect done and does not repeat it): one
    // call's, in one log, and no more.
    let mut lost = Vec::new();
    for (path, want) in reference.iter().filter(|(p, _)| p.starts_with("writes/")) {
        let have = got.get(path).map(String::as_str).unwrap_or_default();
        let lines: Vec<&str> = have.lines().collect();
        let want: Vec<&str> = want.lines().collect();
        let missing = subsequence_missing(&lines, &want).unwrap_or_else(|| {
            panic!("{case}: `{path}` repeats or invents a side effect:\n{have}")
        });
        if missing > 0 {
            let call = one_call_missing(&lines, &want).unwrap_or_else(|| {
                panic!("{case}: `{path}` lost the log lines of more than one call:\n{have}")
            });
            lost.push((path, call));
        }
    }
    assert!(
        lost.len() <= 1,
        "{case}: side-effect log lines lost in more than one log: {lost:?}"
    );
    assert!(verified_home(&env), "{case}");
    let audit = run(&["audit", "verify"], &env, None);
    assert!(audit.status.success(), "{case}: {}", text(&audit.stderr));
    landed
}

/// The round trip of issue 15: a failover of the healthy lab, then the failback
/// to edgepool1, leave every lab file as it was but for what each publish,
/// setup and zone write moves on — versions, the zone's serial, replication
/// marks — and the record of the plugins' writes.
#[test]
fn healthy_then_failover_then_failback_leaves_every_lab_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "healthy");
    let before = files(dir.path());
    let over = run(&["apply", "--failover", "--yes"], &env, None);
    assert!(over.status.success(), "{}", text(&over.stderr));
    let verify = run(
        &["verify", "--failover", "--to", "edgepool2.contoso.com"],
        &env,
        None,
    );
    assert!(verify.status.success(), "{}", text(&verify.stdout));
    let changed = without_versions(&files(dir.path()));
    assert_ne!(
        changed,
        without_versions(&before),
        "the failover changed nothing"
    );
    let back = run(
        &["apply", "--to", "edgepool1.contoso.com", "--yes"],
        &env,
        None,
    );
    assert!(back.status.success(), "{}", text(&back.stderr));
    let after = without_versions(&files(dir.path()));
    for (path, want) in without_versions(&before) {
        assert_eq!(after.get(&path), Some(&want), "`{path}` is not as it was");
    }
    assert!(run(&["audit", "verify"], &env, None).status.success());
}

/// The lab's files without the plugins' write records and without what moves
/// on with every change: the zone's SOA serial (its records compared as a
/// set, whatever their spacing), and in the JSON files every `version`,
/// `setup_version`, `last_update` and the store's `published_sha256` (the
/// mark each publish leaves).
fn without_versions(files: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for key in [
                    "version",
                    "setup_version",
                    "last_update",
                    "published_sha256",
                ] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    files
        .iter()
        .filter(|(path, _)| !path.starts_with("writes/"))
        .map(|(path, text)| {
            let text = if path.ends_with(".json") {
                let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
                strip(&mut value);
                serde_json::to_string_pretty(&value).unwrap()
            } else if path.ends_with(".zone") {
                // The records, one per line in one spacing and order: lab-dns
                // writes the zone aligned, `lab init` does not.
                let mut records: Vec<String> = text
                    .lines()
                    .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|l| !l.contains(" SOA "))
                    .collect();
                records.sort();
                records.join("\n")
            } else {
                text.clone()
            };
            (path.clone(), text)
        })
        .collect()
}
