//! A plan runs exactly as it was judged: each attack of a hostile operator on
//! the saved plan, the levels, the resume and the audit log, refused or
//! detected — and the environment keeps serving afterwards.

use std::path::Path;

use failback_core::document;
use failback_core::observed::RecordData;
use failback_core::operation as op;
use failback_core::plan::{Action, Operation, Plan};
use failback_core::topology::{Topology, TopologyEdit};

use crate::apply::{failback, files, filters, lab, no_writes, run, text, verified_home};

/// Snapshot `value` through [`filters`], its digests kept apart first (the
/// lab's plugin files by name: `crate::support::placeholders`).
fn snapshot(dir: &Path, name: &str, value: &str) {
    let mut settings = insta::Settings::clone_current();
    for (re, to) in filters(dir) {
        settings.add_filter(&re, to);
    }
    let value = crate::support::placeholders(value, &crate::support::lab_digests(dir));
    settings.bind(|| insta::assert_snapshot!(name, value));
}

/// `plan --format json --out plan.json` on a fresh lab of `scenario`.
fn saved(scenario: &str) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), scenario);
    let path = dir.path().join("plan.json");
    let out = failback()
        .args(["plan", "--format", "json", "--out"])
        .arg(&path)
        .arg("--env")
        .arg(&env)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    (dir, env, path)
}

fn read(path: &Path) -> Plan {
    document::read(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Write `plan` back, its digest recomputed as a careful attacker would.
fn write_resealed(path: &Path, mut plan: Plan) {
    plan.seal().unwrap();
    std::fs::write(path, plan.to_json()).unwrap();
}

fn apply_saved(path: &Path, env: &Path, extra: &[&str]) -> std::process::Output {
    failback()
        .arg("apply")
        .arg(path)
        .args(extra)
        .arg("--env")
        .arg(env)
        .output()
        .unwrap()
}

fn index_of(plan: &Plan, action: Action) -> usize {
    plan.steps.iter().position(|s| s.action == action).unwrap()
}

/// The audit log's decision records with `verdict`.
pub(crate) fn decisions(dir: &Path, verdict: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(".failback/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "decision" && v["verdict"] == verdict)
        .collect()
}

/// The environment keeps serving: a fresh saved plan applies and verifies.
fn still_serves(dir: &Path, env: &Path) {
    let path = dir.join("fresh.json");
    let out = failback()
        .args(["plan", "--format", "json", "--out"])
        .arg(&path)
        .arg("--env")
        .arg(env)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = apply_saved(&path, env, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(verified_home(env));
    assert!(run(&["audit", "verify"], env, None).status.success());
}

/// Save a plan of `scenario`, `edit` it (its digest recomputed, as a careful
/// attacker would), apply it: refused (exit 1) naming `naming`, nothing
/// written, the refusal audited, and the environment still serves. The lab
/// directory and apply's stderr, for more checks.
fn edited_saved_plan_is_refused(
    scenario: &str,
    edit: impl FnOnce(&mut Plan),
    naming: &str,
) -> (tempfile::TempDir, String) {
    let (dir, env, path) = saved(scenario);
    let mut plan = read(&path);
    edit(&mut plan);
    write_resealed(&path, plan);
    let out = apply_saved(&path, &env, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(naming), "{stderr}");
    assert!(no_writes(dir.path()));
    assert_eq!(decisions(dir.path(), "digest-mismatch").len(), 1);
    still_serves(dir.path(), &env);
    (dir, stderr)
}

/// A plan saved by a failback of plan format version 3 (before operations in
/// batches: a `set-site-route` per route, an `await-replica` per replica) is
/// refused naming both versions, with nothing written, and the environment
/// still serves.
#[test]
fn a_plan_saved_in_format_version_3_is_refused_naming_both_versions() {
    let (dir, env, path) = saved("xmpp-only");
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(saved.contains("\"op\": \"set-site-routes\""), "{saved}");
    let version_3 = saved
        .replace("\"format_version\": 4", "\"format_version\": 3")
        .replace("\"op\": \"set-site-routes\"", "\"op\": \"set-site-route\"");
    std::fs::write(&path, version_3).unwrap();
    let out = apply_saved(&path, &env, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("it has format version 3, this failback reads version 4"),
        "{stderr}"
    );
    assert!(no_writes(dir.path()));
    still_serves(dir.path(), &env);
}

/// The design's own unsafe transition: the A11 draft edited to keep "Enable
/// federation (port 5061)" on the failover pool would publish federation on
/// two Edge pools. Re-derived now, the plan is another one: refused, naming
/// the draft and the step that publishes it.
#[test]
fn a_saved_plan_with_an_edited_document_is_refused() {
    let (dir, stderr) = edited_saved_plan_is_refused(
        "edge-and-front-end-failover",
        |plan| {
            let draft = plan.drafts.get_mut("draft-2").unwrap();
            *draft = Topology::parse(draft)
                .unwrap()
                .edit(&[TopologyEdit::SetFederation {
                    edge_pool: "edgepool2.contoso.com".into(),
                    enabled: true,
                }])
                .unwrap();
        },
        "`drafts.draft-2` (published by step 14)",
    );
    snapshot(dir.path(), "saved-plan-edited-document", &stderr);
}

/// One address in the operations of the XMPP A-record step: refused naming
/// the step and the field; nothing reaches DNS.
#[test]
fn a_saved_plan_with_an_edited_operation_is_refused() {
    edited_saved_plan_is_refused(
        "edge-failover",
        |plan| {
            let i = index_of(plan, Action::SetXmppARecord);
            let Operation::ReplaceRrset(op::ReplaceRrset { data, .. }) =
                &mut plan.steps[i].operations[0]
            else {
                panic!("{:?}", plan.steps[i]);
            };
            data[0] = RecordData::A("203.0.113.66".into());
        },
        "step 12 (set-xmpp-a-record), `operations[0].data[0].address`: \"203.0.113.66\" against \"131.107.155.10\"",
    );
}

/// A change the policies judge, edited so that federation stays on the
/// failover pool in the plan's own prediction: refused, naming it.
#[test]
fn a_saved_plan_with_an_edited_change_is_refused() {
    edited_saved_plan_is_refused(
        "edge-failover",
        |plan| {
            let i = index_of(plan, Action::SetFederationEdge);
            plan.steps[i].changes.remove(0);
        },
        "step 4 (set-federation-edge), `changes[0].edge_pool`",
    );
}

/// The XMPP SRV written before the A record it targets (the order the DNS
/// rules forbid): refused, naming the first step that moved.
#[test]
fn a_saved_plan_with_reordered_steps_is_refused() {
    edited_saved_plan_is_refused(
        "edge-failover",
        |plan| {
            let a = index_of(plan, Action::SetXmppARecord);
            let srv = index_of(plan, Action::EnsureXmppSrv);
            plan.steps.swap(a, srv);
        },
        "step 13 (ensure-xmpp-srv), `action`",
    );
}

/// A plan judged without an override is not applied with one added: the
/// override is part of what was judged.
#[test]
fn a_saved_plan_applied_with_an_added_override_is_refused() {
    let (dir, env, path) = saved("edge-failover");
    let out = apply_saved(
        &path,
        &env,
        &[
            "--override",
            "xmpp.port-open",
            "--reason",
            "change window 42",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("`overrides[0]`: (absent) against"),
        "{stderr}"
    );
    assert!(no_writes(dir.path()));
    assert_eq!(decisions(dir.path(), "digest-mismatch").len(), 1);
    still_serves(dir.path(), &env);
}

/// A plan made under one level set is not applied under another: the levels
/// (and the environment file) are part of its provenance.
#[test]
fn a_plan_made_under_one_level_set_is_refused_under_another() {
    let (dir, env, path) = saved("edge-failover");
    let original = std::fs::read_to_string(&env).unwrap();
    std::fs::write(
        &env,
        format!("{original}\n[policies.levels]\n\"dns.ttl-lowered\" = \"mandatory\"\n"),
    )
    .unwrap();
    let out = apply_saved(&path, &env, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("rule `dns.ttl-lowered` changed level: advisory then, mandatory now"),
        "{stderr}"
    );
    assert!(stderr.contains("the environment file changed"), "{stderr}");
    assert!(no_writes(dir.path()));
    std::fs::write(&env, original).unwrap();
    still_serves(dir.path(), &env);
}

/// A hard rule's level cannot be lowered in the environment file.
#[test]
fn a_hard_rule_lowered_in_the_environment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    let original = std::fs::read_to_string(&env).unwrap();
    std::fs::write(
        &env,
        format!("{original}\n[policies.levels]\n\"federation.single-pool\" = \"advisory\"\n"),
    )
    .unwrap();
    let out = run(&["plan"], &env, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("rule `federation.single-pool` is hard and cannot be lowered to `advisory`"),
        "{}",
        text(&out.stderr)
    );
}

/// A run stopped inside set-federation-edge (its topology edit done, its
/// route changes not); then someone stops the restored pool's Edge services by
/// hand. Resume must not point federation routes at stopped services: it
/// halts before the step with the drift, and nothing more is written.
#[test]
fn an_unsafe_change_made_by_hand_before_resume_halts_it() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    // Operations 1–6 are A0's, A1's and A10's (two probes); the seventh is
    // A2's topology edit.
    let out = run(&["apply", "--yes"], &env, Some("op-after-effect:7"));
    assert!(out.status.code().is_none(), "{}", text(&out.stderr));
    let original = set_services(dir.path(), &["edge1", "edge2"], "stopped");
    let before = files(dir.path());

    let out = run(&["resume"], &env, None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "edge machine edge1.contoso.com services_running: predicted true, observed false"
        ),
        "{stderr}"
    );
    snapshot(dir.path(), "resume-unsafe-change", &stderr);
    assert_eq!(files(dir.path()), before, "resume acted on an unsafe state");
    // Put back, the run resumes to the end.
    std::fs::write(dir.path().join("servers/servers.json"), original).unwrap();
    let out = run(&["resume"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(verified_home(&env));
}

/// Set every service of `machines` (`edge1` for `edge1.contoso.com`) to
/// `state` in the lab's `servers/servers.json`, by hand; the file as it was.
fn set_services(dir: &Path, machines: &[&str], state: &str) -> String {
    let path = dir.join("servers/servers.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let mut servers: serde_json::Value = serde_json::from_str(&original).unwrap();
    for machine in servers["machines"].as_array_mut().unwrap() {
        let name = machine["fqdn"].as_str().unwrap().to_owned();
        if machines.iter().any(|m| name == format!("{m}.contoso.com")) {
            for service in machine["services"].as_array_mut().unwrap() {
                service["state"] = state.into();
            }
        }
    }
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&servers).unwrap() + "\n",
    )
    .unwrap();
    original
}

fn applied(scenario: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), scenario);
    let out = run(&["apply", "--yes"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (dir, env)
}

fn audit_lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(".failback/audit.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_cut_off_audit_log_is_detected() {
    let (dir, env) = applied("xmpp-only");
    let lines = audit_lines(dir.path());
    std::fs::write(
        dir.path().join(".failback/audit.jsonl"),
        lines[..lines.len() - 3].join("\n") + "\n",
    )
    .unwrap();
    let out = run(&["audit", "verify"], &env, None);
    assert_eq!(out.status.code(), Some(1));
    snapshot(dir.path(), "audit-cut-off", &text(&out.stderr));
}

#[test]
fn a_deleted_audit_log_is_detected() {
    let (dir, env) = applied("xmpp-only");
    std::fs::remove_file(dir.path().join(".failback/audit.jsonl")).unwrap();
    let out = run(&["audit", "verify"], &env, None);
    assert_eq!(out.status.code(), Some(1));
    snapshot(dir.path(), "audit-deleted", &text(&out.stderr));
}

/// Two runs' records swapped and the whole chain recomputed, so that every
/// line chains to the one before it: the journal's anchors still show it.
#[test]
fn a_reordered_run_in_the_audit_log_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    // Run 1 stops after its first step (a crash), and resumes to the end.
    assert!(
        run(&["apply", "--yes"], &env, Some("after-outcome:1"))
            .status
            .code()
            .is_none()
    );
    assert!(run(&["resume"], &env, None).status.success());
    let lines = audit_lines(dir.path());
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            l.contains("\"verdict\":\"run-start\"") || l.contains("\"verdict\":\"run-resume\"")
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(starts.len(), 2, "{starts:?}");
    // Move the resumed part before the first part, then re-chain.
    let mut moved: Vec<String> = lines[starts[1]..].to_vec();
    moved.extend_from_slice(&lines[..starts[1]]);
    std::fs::write(dir.path().join(".failback/audit.jsonl"), rechain(&moved)).unwrap();
    let out = run(&["audit", "verify"], &env, None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("run 1"), "{stderr}");
    snapshot(dir.path(), "audit-reordered", &stderr);
}

/// Rewrite each line's `seq`, `prev` and `hash` so that the chain holds.
fn rechain(lines: &[String]) -> String {
    use sha2::Digest as _;
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let body_end = line.rfind(",\"hash\":\"").unwrap();
        let body = &line[..body_end];
        let rest = &body[body.find(",\"kind\"").unwrap()..];
        let body = format!("{{\"seq\":{},\"prev\":\"{prev}\"{rest}}}", i + 1);
        let hash = hex::encode(sha2::Sha256::digest(body.as_bytes()));
        out.push_str(&format!(
            "{},\"hash\":\"{hash}\"}}\n",
            &body[..body.len() - 1]
        ));
        prev = hash;
    }
    out
}

/// A crash can cut the log's last line short: `audit verify` says so without
/// failing, and `resume` drops it, records the repair and finishes the run.
#[test]
fn a_torn_last_audit_line_is_reported_and_does_not_block_resume() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "xmpp-only");
    assert!(
        run(&["apply", "--yes"], &env, Some("after-intent:2"))
            .status
            .code()
            .is_none()
    );
    let path = dir.path().join(".failback/audit.jsonl");
    let mut log = std::fs::read(&path).unwrap();
    log.extend_from_slice(b"{\"seq\":999,\"prev\":\"00");
    std::fs::write(&path, log).unwrap();

    let out = run(&["audit", "verify"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("was cut short by a crash"));
    let out = run(&["resume"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("was cut short by a crash; it was dropped"));
    let out = run(&["audit", "verify"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("records that a crash cut line"),
        "{}",
        text(&out.stdout)
    );
}

/// After the two-pool publish the attacks above would have made, verify
/// cannot infer the goal: it still checks every safety invariant, says the
/// goal invariants were not evaluated (naming `--to`), and exits 3.
#[test]
fn verify_without_a_goal_reports_the_broken_safety_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    // Federation enabled on edgepool1 too, by hand: two federated pools.
    let path = dir.path().join("store/topology.xml");
    let topology = Topology::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let two = topology
        .edit(&[TopologyEdit::SetFederation {
            edge_pool: "edgepool1.contoso.com".into(),
            enabled: true,
        }])
        .unwrap();
    std::fs::write(&path, two).unwrap();
    // Services up everywhere, so no pool stands out as the failed one.
    set_services(dir.path(), &["edge1", "edge2", "edge3"], "running");
    let pools = dir.path().join("store/store.json");
    let p = std::fs::read_to_string(&pools)
        .unwrap()
        .replace(
            "\"federation_route\": null",
            "\"federation_route\": \"EdgeServer:edgepool1.contoso.com\"",
        )
        .replace(
            "\"xmpp_federation_route\": null",
            "\"xmpp_federation_route\": \"EdgeServer:edgepool1.contoso.com\"",
        );
    std::fs::write(&pools, p).unwrap();

    let out = run(&["verify"], &env, None);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("BLOCKS hard federation.single-pool"),
        "{stdout}"
    );
    assert!(stdout.contains("name it with `--to`"), "{stdout}");
    snapshot(dir.path(), "verify-without-a-goal", &stdout);
    let out = run(&["verify", "--format", "json"], &env, None);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["goal"], serde_json::Value::Null);
    assert_eq!(report["ok"], false);
    assert!(report["not_evaluated"]["rules"].as_array().unwrap().len() >= 3);
}

/// Edit the plan journaled with run 1, its digest recomputed and journaled
/// too, as one who can write the journal would.
fn rewrite_journaled_plan(dir: &Path, edit: impl FnOnce(&mut Plan)) {
    let db = rusqlite::Connection::open(dir.join(".failback/journal.sqlite")).unwrap();
    let text: String = db
        .query_row("SELECT plan FROM runs WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    let mut plan = document::read(&text).unwrap();
    edit(&mut plan);
    plan.seal().unwrap();
    db.execute(
        "UPDATE runs SET plan = ?1, plan_digest = ?2 WHERE id = 1",
        rusqlite::params![plan.to_json(), plan.digest],
    )
    .unwrap();
}

/// Past the digest checks (the journal itself rewritten), a draft that would
/// publish federation on two Edge pools is still judged before it is
/// published: the run halts before the publish, naming the field, and the
/// store keeps the topology it had.
#[test]
fn a_journaled_plan_with_an_edited_draft_is_not_published() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-and-front-end-failover");
    assert!(
        run(&["apply", "--yes"], &env, Some("after-outcome:1"))
            .status
            .code()
            .is_none()
    );
    rewrite_journaled_plan(dir.path(), |plan| {
        let draft = plan.drafts.get_mut("draft-2").unwrap();
        *draft = Topology::parse(draft)
            .unwrap()
            .edit(&[TopologyEdit::SetFederation {
                edge_pool: "edgepool2.contoso.com".into(),
                enabled: true,
            }])
            .unwrap();
    });
    let out = run(&["resume"], &env, None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("halted before publishing in step 14 (reassociate-front-ends)")
            && stderr.contains(
                "edge pool edgepool2.contoso.com federation_enabled: predicted false, the draft says true"
            ),
        "{stderr}"
    );
    let log = std::fs::read_to_string(dir.path().join("writes/lab-store.log")).unwrap();
    assert_eq!(log.matches("publish-topology").count(), 1, "{log}");
    let published =
        Topology::parse(&std::fs::read_to_string(dir.path().join("store/topology.xml")).unwrap())
            .unwrap();
    let federated: Vec<&str> = published
        .edge_pools()
        .iter()
        .filter(|p| p.federation_enabled)
        .map(|p| p.fqdn.as_str())
        .collect();
    assert_eq!(federated, ["edgepool1.contoso.com"]);
}

/// Past the digest checks, an operation that writes another address than
/// its step's changes say is refused before the step runs: nothing reaches
/// DNS.
#[test]
fn a_journaled_plan_with_an_edited_operation_is_refused_before_its_step() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    assert!(
        run(&["apply", "--yes"], &env, Some("after-outcome:1"))
            .status
            .code()
            .is_none()
    );
    rewrite_journaled_plan(dir.path(), |plan| {
        let i = index_of(plan, Action::SetXmppARecord);
        let Operation::ReplaceRrset(op::ReplaceRrset { data, .. }) =
            &mut plan.steps[i].operations[0]
        else {
            panic!();
        };
        data[0] = RecordData::A("203.0.113.66".into());
    });
    let out = run(&["resume"], &env, None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .contains("step 12 (set-xmpp-a-record): its operations do not do what its changes say"),
        "{stderr}"
    );
    let zone = std::fs::read_to_string(dir.path().join("dns/contoso.com.zone")).unwrap();
    assert!(!zone.contains("203.0.113.66"), "{zone}");
}

/// A run halted after it lowered the TTLs; a new apply over it cannot observe
/// the original TTLs any more, so it inherits them from the unfinished run
/// and restores them at the end.
#[test]
fn a_new_plan_over_an_unfinished_run_restores_the_original_ttls() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    assert!(
        run(&["apply", "--yes"], &env, Some("after-outcome:1"))
            .status
            .code()
            .is_none()
    );
    // Someone stops edge3 meanwhile: resume halts on the drift.
    let original = set_services(dir.path(), &["edge3"], "stopped");
    assert_eq!(run(&["resume"], &env, None).status.code(), Some(1));
    std::fs::write(dir.path().join("servers/servers.json"), original).unwrap();

    let out = run(&["apply", "--yes"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("note: run 1 did not finish; this plan restores the TTLs it lowered: sip.contoso.com A 3600, xmpp.contoso.com A 3600"),
        "{}",
        text(&out.stderr)
    );
    let zone = std::fs::read_to_string(dir.path().join("dns/contoso.com.zone")).unwrap();
    for name in ["sip.contoso.com.", "xmpp.contoso.com."] {
        let line = zone.lines().find(|l| l.starts_with(name)).unwrap();
        assert!(line.contains(" 3600 "), "{line}");
    }
}

/// A refused `--override` (of a hard rule) and a plugin that may not load
/// are decisions of apply: both audited, nothing run.
#[test]
fn a_refused_override_and_a_refused_plugin_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    let out = run(
        &[
            "apply",
            "--yes",
            "--override",
            "federation.single-pool",
            "--reason",
            "trust me",
        ],
        &env,
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("a hard rule cannot be overridden"));
    assert_eq!(decisions(dir.path(), "override-refused").len(), 1);

    let component = dir.path().join("plugins/lab-dns.wasm");
    let mut bytes = std::fs::read(&component).unwrap();
    bytes.extend_from_slice(b"\0tampered");
    std::fs::write(&component, bytes).unwrap();
    let out = run(&["apply", "--yes"], &env, None);
    assert_eq!(out.status.code(), Some(1));
    let refused = decisions(dir.path(), "plugin-refused");
    assert_eq!(refused.len(), 1);
    assert!(
        refused[0]["detail"].as_str().unwrap().contains("lab-dns"),
        "{}",
        refused[0]
    );
    assert!(no_writes(dir.path()));
    assert!(run(&["audit", "verify"], &env, None).status.success());
}

/// A run stopped between a publish and its enable: the policy model cannot
/// judge that state as it is (its `draft_pending` would read the published
/// document as an unpublished draft), so resume checks that the state is
/// exactly the step's own partial effect, judges the state before the step
/// with the rest of the plan, and finishes the step: enable, not publish again.
#[test]
fn a_run_stopped_between_publish_and_enable_resumes_with_the_narrower_check() {
    let dir = tempfile::tempdir().unwrap();
    let env = lab(dir.path(), "edge-failover");
    // Operations 1–8 are A0's, A1's, A10's (two probes) and A2's (its edit
    // and its one batch of routes); the ninth is A3's publish.
    assert!(
        run(&["apply", "--yes"], &env, Some("op-after-effect:9"))
            .status
            .code()
            .is_none()
    );
    let store: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("store/store.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (store["version"].as_u64(), store["enabled"].as_bool()),
        (Some(8), Some(false))
    );

    let out = run(&["resume"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let allowed = decisions(dir.path(), "allow");
    assert!(
        allowed.iter().any(|d| d["step"] == 5
            && d["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("between publish and enable")),
        "{allowed:?}"
    );
    // The plan publishes twice (A3 at version 7, the XMPP step at 8): each
    // once, A3's not again.
    let log = std::fs::read_to_string(dir.path().join("writes/lab-store.log")).unwrap();
    let publishes: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("publish-topology"))
        .collect();
    assert_eq!(publishes.len(), 2, "{log}");
    assert!(
        publishes[0].ends_with(" 7") && publishes[1].ends_with(" 8"),
        "{log}"
    );
    assert!(verified_home(&env));
}
