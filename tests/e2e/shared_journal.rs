//! The shared journal on a real PostgreSQL (`[journal]`, issue 27): two
//! operators with environment directories of their own apply one deployment;
//! the holder killed or its session ended mid-run, the run resumed from the
//! other directory; `unlock`; the audit trail append-only in the database;
//! the random-kill consistency test; `journal migrate`; bad input refused.
//!
//! The two operators' directories: the lab in `<root>/lab` with its own
//! `failback.toml` (operator A), and `<root>/failback.toml` (operator B),
//! which binds the same plugins through other paths (`lab/plugins/…`,
//! grants of `lab/dns`, …): another file, other bytes, other paths, the same
//! deployment — as two jump hosts with their own copy of the environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::apply::{files, text};
use crate::servers::postgres::{APP_PASSWORD, Database, OWNER_PASSWORD, cluster};

const PASSWORD_VAR: &str = "FAILBACK_TEST_PG_PASSWORD";
const OWNER_VAR: &str = "FAILBACK_TEST_PG_OWNER_PASSWORD";

/// Two operators' environment files of one lab deployment, and its database.
struct Operators {
    root: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    db: Database,
}

impl Operators {
    fn lab(&self) -> PathBuf {
        self.root.path().join("lab")
    }
}

fn journal_table(db: &Database) -> String {
    format!(
        "\n[journal]\nurl = \"{}\"\ndeployment = \"contoso\"\npassword-env = \"{PASSWORD_VAR}\"\n",
        db.app_url()
    )
}

fn operators(scenario: &str) -> Operators {
    let root = tempfile::tempdir().unwrap();
    let lab = root.path().join("lab");
    let a = crate::apply::lab(&lab, scenario);
    let db = cluster().database();
    let mine = std::fs::read_to_string(&a).unwrap() + &journal_table(&db);
    std::fs::write(&a, &mine).unwrap();
    let theirs = mine
        .replace("path = \"", "path = \"lab/")
        .replace("manifest = \"", "manifest = \"lab/");
    assert_ne!(theirs, mine);
    let b = root.path().join("failback.toml");
    std::fs::write(&b, theirs).unwrap();
    let setup = command(&a)
        .args(["journal", "setup", "--owner", "failback_owner"])
        .args(["--owner-password-env", OWNER_VAR])
        .arg("--env")
        .arg(&a)
        .output()
        .unwrap();
    assert!(setup.status.success(), "{}", text(&setup.stderr));
    Operators { root, a, b, db }
}

/// `failback` with the application role's password in the environment.
fn command(_env: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(crate::support::binary());
    c.env_remove("FAILBACK_TEST_FAILPOINT")
        .env_remove("PGPASSWORD")
        .env(PASSWORD_VAR, APP_PASSWORD)
        .env(OWNER_VAR, OWNER_PASSWORD);
    c
}

fn run(args: &[&str], env: &Path) -> Output {
    command(env)
        .args(args)
        .arg("--env")
        .arg(env)
        .output()
        .unwrap()
}

fn spawn(args: &[&str], env: &Path, failpoint: Option<&str>) -> Child {
    let mut c = command(env);
    c.args(args).arg("--env").arg(env);
    if let Some(f) = failpoint {
        c.env("FAILBACK_TEST_FAILPOINT", f);
    }
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait until `sql` (as the superuser) answers `want`.
fn wait_for(db: &Database, sql: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if db.superuser(sql) == want {
            return;
        }
        assert!(Instant::now() < deadline, "`{sql}` never answered {want}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The lab's state files (not the environment file, which names the
/// journal here, nor the plugins' side-effect logs, nor the `NAME.tmp` a
/// kill inside an atomic write can leave).
fn state_files(dir: &Path) -> BTreeMap<String, String> {
    files(dir)
        .into_iter()
        .filter(|(path, _)| {
            path != "failback.toml" && !path.starts_with("writes/") && !path.ends_with(".tmp")
        })
        .collect()
}

/// The lab's files after an uninterrupted run of `scenario` on the local
/// journal: what every run here must end with.
fn reference(scenario: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    let env = crate::apply::lab(dir.path(), scenario);
    let out = crate::apply::run(&["apply", "--yes"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let all = files(dir.path());
    let writes = all
        .iter()
        .filter(|(p, _)| p.starts_with("writes/"))
        .map(|(p, t)| (p.clone(), t.clone()))
        .collect();
    (state_files(dir.path()), writes)
}

fn writes(dir: &Path) -> BTreeMap<String, String> {
    files(dir)
        .into_iter()
        .filter(|(p, _)| p.starts_with("writes/"))
        .collect()
}

#[test]
fn two_operators_apply_one_deployment_the_second_is_refused_naming_the_holder_and_nothing_is_done_twice()
 {
    let ops = operators("edge-failover");
    let (reference_state, reference_writes) = reference("edge-failover");
    let first = spawn(
        &["apply", "--yes"],
        &ops.a,
        Some("after-intent:1:sleep-ms=4000"),
    );
    wait_for(
        &ops.db,
        "SELECT count(*) FROM failback.steps WHERE outcome IS NULL",
        "1",
    );
    let second = run(&["apply", "--yes"], &ops.b);
    let resume = run(&["resume"], &ops.b);
    let first_pid = first.id();
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(second.status.code(), Some(1));
    let refused = text(&second.stderr);
    assert!(
        refused.contains(
            "refusing to apply: another apply holds the deployment `contoso`: `failback apply` by"
        ),
        "{refused}"
    );
    assert!(
        refused.contains(&format!("pid {first_pid} on ")),
        "{refused}"
    );
    assert!(refused.contains(", run 1, last heartbeat "), "{refused}");
    assert!(
        text(&resume.stderr).contains("refusing to resume: another apply holds the deployment"),
        "{}",
        text(&resume.stderr)
    );
    // One run, done once; every side effect once, as on the local journal.
    assert_eq!(state_files(&ops.lab()), reference_state);
    assert_eq!(writes(&ops.lab()), reference_writes);
    let history = text(&run(&["history"], &ops.b).stdout);
    assert_eq!(history.matches("run ").count(), 1, "{history}");
    assert!(history.contains("run 1  done"), "{history}");
    // The other operator, told the run is done, has nothing to do.
    let again = run(&["apply", "--yes"], &ops.b);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(text(&again.stdout).contains("nothing to do"));
    assert_eq!(writes(&ops.lab()), reference_writes);
}

#[test]
fn the_holder_killed_mid_run_lets_the_lock_go_and_the_other_directory_resumes_to_the_same_end() {
    let ops = operators("edge-failover");
    let (reference_state, _) = reference("edge-failover");
    let mut holder = spawn(
        &["apply", "--yes"],
        &ops.a,
        Some("after-intent:3:sleep-ms=60000"),
    );
    // At step 3's intent, asleep.
    wait_for(&ops.db, "SELECT count(*) FROM failback.steps", "3");
    // kill -9: nothing unwinds, nothing more is written.
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The server lets the lock go when it sees the connection end: at once,
    // or a moment later under load; the operator waits that long at most.
    let resumed = run(&["resume", "--lock-wait", "30"], &ops.b);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert_eq!(state_files(&ops.lab()), reference_state);
    assert!(run(&["verify"], &ops.b).status.success());
    let status = text(&run(&["status"], &ops.a).stdout);
    assert!(status.starts_with("run 1  done"), "{status}");
    let audit = run(&["audit", "verify"], &ops.a);
    assert!(audit.status.success(), "{}", text(&audit.stderr));
    let said = text(&audit.stdout);
    assert!(said.starts_with("audit trail ok: "), "{said}");
    // Both machines' records are in the one chain: the run's start on A, its
    // resume on B.
    let verdicts = ops.db.superuser(
        "SELECT string_agg(line::json->>'verdict', ',' ORDER BY seq) FROM failback.audit
         WHERE line::json->>'verdict' IN ('run-start', 'run-resume')",
    );
    assert_eq!(verdicts, "run-start,run-resume");
}

#[test]
fn a_resume_from_elsewhere_with_another_level_is_refused() {
    let ops = operators("edge-failover");
    let mut holder = spawn(
        &["apply", "--yes"],
        &ops.a,
        Some("after-intent:2:sleep-ms=60000"),
    );
    wait_for(&ops.db, "SELECT count(*) FROM failback.steps", "2");
    holder.kill().unwrap();
    holder.wait().unwrap();
    let lab_writes = writes(&ops.lab());
    // B raises a rule's level: not what the run was judged with.
    let mut theirs = std::fs::read_to_string(&ops.b).unwrap();
    theirs.push_str("\n[policies.levels]\n\"dns.ttl-lowered\" = \"mandatory\"\n");
    std::fs::write(&ops.b, theirs).unwrap();
    let refused = run(&["resume", "--lock-wait", "30"], &ops.b);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refusing to resume run 1: what it was planned and judged with changed"),
        "{stderr}"
    );
    assert_eq!(writes(&ops.lab()), lab_writes, "nothing ran");
    // The host keeps serving: A, unchanged, resumes.
    let resumed = run(&["resume"], &ops.a);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
}

#[test]
fn a_holder_whose_session_the_database_ends_stops_before_its_next_operation() {
    let ops = operators("edge-failover");
    let (reference_state, reference_writes) = reference("edge-failover");
    let holder = spawn(
        &["apply", "--yes"],
        &ops.a,
        Some("after-intent:1:sleep-ms=3000"),
    );
    wait_for(
        &ops.db,
        "SELECT count(*) FROM failback.steps WHERE outcome IS NULL",
        "1",
    );
    let before = writes(&ops.lab());
    ops.db
        .superuser("SELECT pg_terminate_backend(backend_pid) FROM failback.lock_holders");
    let out = holder.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no longer holds the deployment's lock"),
        "{stderr}"
    );
    // Nothing of the step ran: no operation journaled, no side effect.
    assert_eq!(writes(&ops.lab()), before);
    assert_eq!(
        ops.db.superuser("SELECT count(*) FROM failback.operations"),
        "0"
    );
    assert_eq!(
        ops.db.superuser("SELECT state FROM failback.runs"),
        "running"
    );
    let resumed = run(&["resume"], &ops.b);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert_eq!(state_files(&ops.lab()), reference_state);
    assert_eq!(writes(&ops.lab()), reference_writes);
}

#[test]
fn unlock_is_refused_while_the_holder_lives_and_forced_ends_its_session_audited() {
    let ops = operators("edge-failover");
    let holder = spawn(
        &["apply", "--yes"],
        &ops.a,
        Some("after-intent:1:sleep-ms=4000"),
    );
    wait_for(
        &ops.db,
        "SELECT count(*) FROM failback.steps WHERE outcome IS NULL",
        "1",
    );
    let holder_pid = holder.id();
    let refused = run(&["unlock", "--reason", "jump host 1 hangs"], &ops.b);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the lock is held by a live session: `failback apply` by"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("pid {holder_pid} on ")),
        "{stderr}"
    );
    assert!(stderr.contains("pass `--force`"), "{stderr}");
    let forced = run(
        &["unlock", "--reason", "jump host 1 hangs", "--force"],
        &ops.b,
    );
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert!(
        text(&forced.stderr).contains("ended the session of `failback apply`"),
        "{}",
        text(&forced.stderr)
    );
    let out = holder.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no longer holds the deployment's lock"));
    // The unlock is in the audit trail, with the previous holder.
    let record = ops
        .db
        .superuser("SELECT line FROM failback.audit WHERE line::json->>'kind' = 'unlock'");
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert_eq!(record["reason"], "jump host 1 hangs");
    assert_eq!(record["force"], true);
    assert_eq!(record["previous_holder"]["pid"], u64::from(holder_pid));
    assert_eq!(record["previous_holder"]["command"], "apply");
    assert_eq!(record["previous_holder"]["run"], 1);
    // Nobody holds it now: a second unlock has nothing to do, and is not
    // audited.
    let again = run(&["unlock", "--reason", "again"], &ops.b);
    assert!(again.status.success());
    assert!(text(&again.stderr).contains("nobody held the lock"));
    let resumed = run(&["resume"], &ops.b);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let audit = run(&["audit", "verify"], &ops.b);
    assert!(audit.status.success(), "{}", text(&audit.stderr));
    // A local environment has no unlock.
    let dir = tempfile::tempdir().unwrap();
    let local = crate::apply::lab(dir.path(), "edge-failover");
    let out = run(&["unlock", "--reason", "x"], &local);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is for a shared journal"));
}

#[test]
fn the_audit_trail_refuses_update_and_delete_even_to_the_owner_and_a_forked_chain() {
    let ops = operators("edge-failover");
    let out = run(&["apply", "--yes"], &ops.a);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let app = |sql: &str| ops.db.psql_as("failback_app", sql);
    let owner = |sql: &str| ops.db.psql_as("failback_owner", sql);
    let update = "UPDATE failback.audit SET line = line WHERE seq = 1";
    let delete = "DELETE FROM failback.audit WHERE seq = 2";
    for refused in [app(update), app(delete), app("TRUNCATE failback.audit")] {
        let error = refused.unwrap_err();
        assert!(error.contains("permission denied"), "{error}");
    }
    for refused in [
        owner(update),
        owner(delete),
        owner("TRUNCATE failback.audit"),
    ] {
        let error = refused.unwrap_err();
        assert!(error.contains("the audit trail is append-only"), "{error}");
    }
    // The application role has no DDL.
    let error = app("CREATE TABLE failback.mine (x int)").unwrap_err();
    assert!(error.contains("permission denied"), "{error}");
    let error = app("ALTER TABLE failback.audit DISABLE TRIGGER audit_append_only").unwrap_err();
    assert!(error.contains("must be owner"), "{error}");
    // A second record 2 (a fork from record 1), a record chained to nothing,
    // and one whose text does not match its hash: refused.
    let first = app("SELECT hash FROM failback.audit WHERE seq = 1").unwrap();
    let last: i64 = app("SELECT max(seq) FROM failback.audit")
        .unwrap()
        .parse()
        .unwrap();
    let fork = app(&format!(
        "INSERT INTO failback.audit (deployment, seq, prev, hash, line)
         SELECT deployment, 2, prev, hash, line FROM failback.audit WHERE seq = 2 AND prev = '{first}'"
    ))
    .unwrap_err();
    assert!(fork.contains("duplicate key"), "{fork}");
    let forged = app(&format!(
        "INSERT INTO failback.audit (deployment, seq, prev, hash, line)
         VALUES ('contoso', {}, '{}', '{}', '{{\"seq\":{},\"hash\":\"{}\"}}')",
        last + 1,
        "f".repeat(64),
        "e".repeat(64),
        last + 1,
        "e".repeat(64),
    ))
    .unwrap_err();
    assert!(forged.contains("does not match its own hash"), "{forged}");
    // The host keeps serving: the trail verifies, and the next run appends.
    let audit = run(&["audit", "verify"], &ops.b);
    assert!(audit.status.success(), "{}", text(&audit.stderr));
    let exported = ops.root.path().join("exported.jsonl");
    let out = command(&ops.b)
        .args(["audit", "export", "--env"])
        .arg(&ops.b)
        .arg("--out")
        .arg(&exported)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(
        lines.lines().count(),
        usize::try_from(last).unwrap(),
        "{lines}"
    );
}

#[test]
fn bad_journal_settings_are_refused_before_anything_runs() {
    let ops = operators("edge-failover");
    let lab_before = files(&ops.lab());
    // A refused password.
    let out = command(&ops.a)
        .env(PASSWORD_VAR, "not-the-password")
        .args(["apply", "--yes", "--env"])
        .arg(&ops.a)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the shared journal cannot be used")
            && stderr.contains("password authentication failed"),
        "{stderr}"
    );
    // An unreachable server.
    let mine = std::fs::read_to_string(&ops.a).unwrap();
    let port = crate::servers::free_port();
    std::fs::write(
        &ops.a,
        mine.replace(&format!(":{}/", ops.db.port), &format!(":{port}/")),
    )
    .unwrap();
    let out = run(&["apply", "--yes"], &ops.a);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot connect to the journal at `postgres://failback_app@127.0.0.1:"),
        "{stderr}"
    );
    // A password in the URL: refused, and not repeated.
    std::fs::write(
        &ops.a,
        mine.replace("failback_app@", "failback_app:s3cret@"),
    )
    .unwrap();
    let out = run(&["apply", "--yes"], &ops.a);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`url` carries a password"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    // A database with no schema.
    let empty = cluster().database();
    std::fs::write(&ops.a, mine.replace(&ops.db.app_url(), &empty.app_url())).unwrap();
    let out = run(&["apply", "--yes"], &ops.a);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("has no failback schema"), "{stderr}");
    // Nothing changed; with the file as it was, the apply runs.
    assert_eq!(files(&ops.lab()).len(), lab_before.len());
    std::fs::write(&ops.a, &mine).unwrap();
    assert_eq!(
        files(&ops.lab())
            .into_iter()
            .filter(|(p, _)| p.starts_with("writes/"))
            .collect::<BTreeMap<_, _>>(),
        lab_before
            .into_iter()
            .filter(|(p, _)| p.starts_with("writes/"))
            .collect::<BTreeMap<_, _>>()
    );
    let out = run(&["apply", "--yes"], &ops.a);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_local_journal_migrated_to_postgresql_reads_and_verifies_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let env = crate::apply::lab(dir.path(), "edge-failover");
    let out = crate::apply::run(&["apply", "--yes"], &env, None);
    assert!(out.status.success());
    let history = text(&crate::apply::run(&["history"], &env, None).stdout);
    let db = cluster().database();
    // The schema, set up through an environment naming the database.
    let mine = std::fs::read_to_string(&env).unwrap();
    std::fs::write(&env, mine.clone() + &journal_table(&db)).unwrap();
    let setup = command(&env)
        .args(["journal", "setup", "--owner", "failback_owner"])
        .args(["--owner-password-env", OWNER_VAR, "--env"])
        .arg(&env)
        .output()
        .unwrap();
    assert!(setup.status.success(), "{}", text(&setup.stderr));
    std::fs::write(&env, &mine).unwrap();
    let migrate = |env: &Path| {
        command(env)
            .args(["journal", "migrate", "--to", &db.app_url()])
            .args([
                "--deployment",
                "contoso",
                "--password-env",
                PASSWORD_VAR,
                "--env",
            ])
            .arg(env)
            .output()
            .unwrap()
    };
    let out = migrate(&env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("copied 1 run and"));
    // Copied once: a second copy is refused.
    let again = migrate(&env);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("already has runs or audit records"));
    // Read from the database, the history and the audit trail are the same.
    std::fs::write(&env, mine + &journal_table(&db)).unwrap();
    let shared = text(&run(&["history"], &env).stdout);
    assert_eq!(shared, history);
    let audit = run(&["audit", "verify"], &env);
    assert!(audit.status.success(), "{}", text(&audit.stderr));
    let local = std::fs::read_to_string(dir.path().join(".failback/audit.jsonl")).unwrap();
    let stored = db.superuser("SELECT string_agg(line, E'\\n' ORDER BY seq) FROM failback.audit");
    assert_eq!(stored + "\n", local);
}

/// The random-kill consistency test of the local journal
/// (`apply::a_kill_at_a_random_instant_…`) against PostgreSQL: killed with
/// SIGKILL at seeded random instants of an apply, every run is finished by
/// `resume` (or, killed before its run was journaled, by a new apply) from
/// the other operator's directory, to the state files of an uninterrupted
/// run, with an audit trail that verifies. `FAILBACK_TEST_PG_KILLS` (default
/// 8) kills.
#[test]
fn a_kill_at_a_random_instant_resumes_from_the_other_directory_to_the_same_state() {
    let scenario = "edge-and-front-end-failover";
    let started = Instant::now();
    let ops = operators(scenario);
    let setup = started.elapsed();
    let started = Instant::now();
    let out = run(&["apply", "--yes"], &ops.a);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let span = started.elapsed() + setup / 4;
    let reference_state = state_files(&ops.lab());
    let kills: u64 = std::env::var("FAILBACK_TEST_PG_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(8);
    let mut rng = fastrand::Rng::with_seed(0x27fa_11ba);
    for _ in 0..kills {
        let at = Duration::from_micros(rng.u64(0..u64::try_from(span.as_micros()).unwrap()));
        let ops = operators(scenario);
        let mut child = spawn(&["apply", "--yes"], &ops.a, None);
        std::thread::sleep(at);
        let _ = child.kill();
        child.wait().unwrap();
        let case = format!("killed at {at:?}");
        let status = text(&run(&["status"], &ops.b).stdout);
        let finish = if status.contains("no run yet") {
            run(&["apply", "--yes", "--lock-wait", "30"], &ops.b)
        } else {
            run(&["resume", "--lock-wait", "30"], &ops.b)
        };
        assert!(
            finish.status.success(),
            "{case}: {}\n{status}",
            text(&finish.stderr)
        );
        assert_eq!(state_files(&ops.lab()), reference_state, "{case}");
        assert!(run(&["verify"], &ops.b).status.success(), "{case}");
        let audit = run(&["audit", "verify"], &ops.b);
        assert!(audit.status.success(), "{case}: {}", text(&audit.stderr));
    }
}

#[test]
fn lock_wait_waits_for_the_holder_within_its_bound_and_is_refused_after_it() {
    let ops = operators("edge-failover");
    let holder = spawn(
        &["apply", "--yes"],
        &ops.a,
        Some("after-intent:1:sleep-ms=3000"),
    );
    wait_for(
        &ops.db,
        "SELECT count(*) FROM failback.steps WHERE outcome IS NULL",
        "1",
    );
    // A bound shorter than the run: refused after it, saying so.
    let started = Instant::now();
    let refused = run(&["apply", "--yes", "--lock-wait", "1"], &ops.b);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("(waited 1 s)"), "{stderr}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    // A bound longer than the run: it waits, then finds the run done.
    let waited = run(&["apply", "--yes", "--lock-wait", "120"], &ops.b);
    assert!(waited.status.success(), "{}", text(&waited.stderr));
    assert!(text(&waited.stdout).contains("nothing to do"));
    assert!(holder.wait_with_output().unwrap().status.success());
}

#[test]
fn with_a_ca_the_journal_is_reached_over_verified_tls_and_a_server_it_does_not_vouch_for_is_refused()
 {
    let ops = operators("edge-failover");
    let mine = std::fs::read_to_string(&ops.a).unwrap();
    let with_ca = mine.replace(
        "deployment = \"contoso\"\n",
        "deployment = \"contoso\"\nca = \"journal-ca.pem\"\n",
    );
    std::fs::write(&ops.a, with_ca).unwrap();
    // A CA that did not sign the server's certificate: refused, nothing run.
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(
        ops.lab().join("journal-ca.pem"),
        crate::servers::postgres::other_ca_pem(scratch.path()),
    )
    .unwrap();
    let out = run(&["apply", "--yes"], &ops.a);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot connect to the journal"), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(writes(&ops.lab()).values().all(String::is_empty));
    // The CA that did: the run's session is TLS.
    std::fs::write(
        ops.lab().join("journal-ca.pem"),
        crate::servers::postgres::ca_pem(),
    )
    .unwrap();
    let holder = spawn(
        &["apply", "--yes"],
        &ops.a,
        Some("after-intent:1:sleep-ms=2000"),
    );
    wait_for(
        &ops.db,
        "SELECT count(*) FROM failback.steps WHERE outcome IS NULL",
        "1",
    );
    let tls = ops.db.superuser(&format!(
        "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE a.usename = 'failback_app' AND a.datname = '{}'",
        ops.db.name
    ));
    assert_eq!(tls, "t");
    let out = holder.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}
