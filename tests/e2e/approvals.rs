//! Plan approvals: with `[approvals] required = 2`, `apply PLAN` runs only a
//! plan that two distinct trusted keys signed. Each attack on the approvals
//! — too few, the same key twice, another plan's, an untrusted key's, a plan
//! edited after it was approved, a fresh plan — is refused with nothing
//! written and the refusal audited, and the environment keeps serving.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use failback_core::document;
use failback_core::plan::Plan;

use crate::apply::{failback, filters, lab, no_writes, regex_escape, run, text, verified_home};
use crate::integrity::decisions;

/// An approver's key, made by `ssh-keygen` as an operator's is.
struct Key {
    private: PathBuf,
    public_line: String,
    fingerprint: String,
}

fn keygen(dir: &Path, name: &str) -> Key {
    let private = dir.join(format!("{name}_ed25519"));
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C"])
        .arg(format!("{name}@contoso.com"))
        .arg("-f")
        .arg(&private)
        .status()
        .expect("ssh-keygen runs (Debian's openssh-client; scripts/test installs it)");
    assert!(status.success());
    let public = PathBuf::from(format!("{}.pub", private.display()));
    let public_line = std::fs::read_to_string(&public).unwrap().trim().to_owned();
    let listed = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&public)
        .output()
        .unwrap();
    let fingerprint = text(&listed.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    Key {
        private,
        public_line,
        fingerprint,
    }
}

/// A lab requiring two approvals of alice and bob (alice's key inline, bob's
/// in a key file); mallory has a key nobody trusts.
struct Board {
    dir: tempfile::TempDir,
    env: PathBuf,
    alice: Key,
    bob: Key,
    mallory: Key,
}

impl Board {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env = lab(dir.path(), "edge-failover");
        let keys = dir.path().join("approver-keys");
        std::fs::create_dir(&keys).unwrap();
        let (alice, bob, mallory) = (
            keygen(&keys, "alice"),
            keygen(&keys, "bob"),
            keygen(&keys, "mallory"),
        );
        std::fs::write(
            dir.path().join("bob.pub"),
            format!(
                "# the change board's second approver\n{}\n",
                bob.public_line
            ),
        )
        .unwrap();
        let mut file = std::fs::OpenOptions::new().append(true).open(&env).unwrap();
        write!(
            file,
            "\n[approvals]\nrequired = 2\nkeys = [{:?}, {{ file = \"bob.pub\" }}]\n",
            alice.public_line
        )
        .unwrap();
        Self {
            dir,
            env,
            alice,
            bob,
            mallory,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `plan --format json --out NAME` with `extra` flags.
    fn plan(&self, name: &str, extra: &[&str]) -> PathBuf {
        let path = self.path(name);
        let out = failback()
            .args(["plan", "--format", "json", "--out"])
            .arg(&path)
            .args(extra)
            .arg("--env")
            .arg(&self.env)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        path
    }

    fn approve(&self, plan: &Path, key: &Key) -> Output {
        failback()
            .args(["plan", "approve"])
            .arg(plan)
            .arg("--key")
            .arg(&key.private)
            .output()
            .unwrap()
    }

    fn approved(&self, plan: &Path, keys: &[&Key]) {
        for key in keys {
            let out = self.approve(plan, key);
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
    }

    fn apply(&self, plan: &Path) -> Output {
        failback()
            .arg("apply")
            .arg(plan)
            .arg("--env")
            .arg(&self.env)
            .output()
            .unwrap()
    }

    /// Apply `plan`: refused (exit 1) saying `naming`, nothing written, the
    /// refusal audited once. Its stderr.
    fn refused(&self, plan: &Path, naming: &str) -> String {
        let out = self.apply(plan);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(naming), "{stderr}");
        assert!(no_writes(self.dir.path()));
        assert_eq!(self.decisions("unapproved").len(), 1, "{stderr}");
        stderr
    }

    fn decisions(&self, verdict: &str) -> Vec<serde_json::Value> {
        decisions(self.dir.path(), verdict)
    }

    /// [`Self::refused`], the message snapshotted as `name`; then the
    /// environment still serves.
    fn refused_then_serves(&self, plan: &Path, naming: &str, name: &str) {
        let stderr = self.refused(plan, naming);
        self.snapshot(name, &stderr);
        self.still_serves();
    }

    /// The environment keeps serving: a fresh plan approved by alice and bob
    /// applies and verifies.
    fn still_serves(&self) {
        let fresh = self.plan("fresh.json", &[]);
        self.approved(&fresh, &[&self.alice, &self.bob]);
        let out = self.apply(&fresh);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(verified_home(&self.env));
        assert!(run(&["audit", "verify"], &self.env, None).status.success());
        // The change report of the run names who approved it.
        let report = run(&["report"], &self.env, None);
        assert!(report.status.success(), "{}", text(&report.stderr));
        let html = text(&report.stdout);
        for key in [&self.alice, &self.bob] {
            assert!(html.contains(&key.fingerprint), "{html}");
        }
    }

    fn snapshot(&self, name: &str, value: &str) {
        let mut settings = insta::Settings::clone_current();
        for (key, label) in [
            (&self.alice, "[ALICE]"),
            (&self.bob, "[BOB]"),
            (&self.mallory, "[MALLORY]"),
        ] {
            settings.add_filter(&regex_escape(&key.fingerprint), label);
        }
        for (re, to) in filters(self.dir.path()) {
            settings.add_filter(&re, to);
        }
        // Digests kept apart (the lab's plugin files by name), the three
        // keys by their labels: `crate::support::placeholders`.
        let mut known: Vec<(String, String)> = [
            (&self.alice, "ALICE"),
            (&self.bob, "BOB"),
            (&self.mallory, "MALLORY"),
        ]
        .into_iter()
        .map(|(key, label)| (key.fingerprint.clone(), label.to_owned()))
        .collect();
        known.extend(crate::support::lab_digests(self.dir.path()));
        let value = crate::support::placeholders(value, &known);
        settings.bind(|| insta::assert_snapshot!(name, value));
    }
}

fn read(path: &Path) -> Plan {
    document::read(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `printf %s DIGEST | ssh-keygen -Y sign -f KEY -n failback-plan`, as
/// docs/apply.md tells an operator to sign by hand.
fn ssh_keygen_sign(key: &Key, message: &str) -> String {
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "failback-plan", "-f"])
        .arg(&key.private)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn a_plan_approved_by_none_of_two_is_refused_naming_who_is_missing() {
    let board = Board::new();
    let plan = board.plan("plan.json", &[]);
    board.refused_then_serves(
        &plan,
        "it has no approval, and `[approvals]` requires 2",
        "apply-approved-by-none",
    );
}

#[test]
fn a_plan_approved_by_one_of_two_is_refused_naming_who_approved() {
    let board = Board::new();
    let plan = board.plan("plan.json", &[]);
    board.approved(&plan, &[&board.alice]);
    board.refused_then_serves(
        &plan,
        "it has 1 of the 2 approvals",
        "apply-approved-by-one",
    );
}

/// The same approval copied twice into the file: one key, counted once.
#[test]
fn the_same_key_approving_twice_counts_once() {
    let board = Board::new();
    let plan = board.plan("plan.json", &[]);
    board.approved(&plan, &[&board.alice]);
    let mut doubled = read(&plan);
    doubled.approvals.push(doubled.approvals[0].clone());
    std::fs::write(&plan, doubled.to_json()).unwrap();
    board.refused_then_serves(
        &plan,
        "a second approval by the same key counts once",
        "apply-same-key-twice",
    );
}

/// Bob approved the XMPP-only plan; his approval, copied into the full plan
/// beside alice's, does not count for it.
#[test]
fn an_approval_of_another_plan_is_refused() {
    let board = Board::new();
    let plan = board.plan("plan.json", &[]);
    let other = board.plan("xmpp-only.json", &["--xmpp"]);
    board.approved(&plan, &[&board.alice]);
    board.approved(&other, &[&board.bob]);
    let mut mixed = read(&plan);
    mixed.approvals.push(read(&other).approvals[0].clone());
    std::fs::write(&plan, mixed.to_json()).unwrap();
    board.refused_then_serves(
        &plan,
        "it approves another plan",
        "apply-approval-of-another-plan",
    );
}

#[test]
fn an_approval_by_an_untrusted_key_is_refused() {
    let board = Board::new();
    let plan = board.plan("plan.json", &[]);
    board.approved(&plan, &[&board.alice, &board.mallory]);
    board.refused_then_serves(
        &plan,
        "its key is not one `[approvals]` trusts",
        "apply-approval-by-an-untrusted-key",
    );
}

/// An approval made by hand with `ssh-keygen -Y sign` counts beside one
/// `plan approve` made; the run journals and audits both approvers, and
/// `status` and `history` name them.
#[test]
fn an_approval_made_by_ssh_keygen_counts() {
    let board = Board::new();
    let plan = board.plan("plan.json", &[]);
    board.approved(&plan, &[&board.alice]);
    let signature = board.path("plan.json.sig");
    std::fs::write(&signature, ssh_keygen_sign(&board.bob, &read(&plan).digest)).unwrap();
    let out = failback()
        .args(["plan", "approve"])
        .arg(&plan)
        .arg("--signature")
        .arg(&signature)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    board.snapshot("plan-approve-signature", &text(&out.stdout));
    crate::support::validate_plan(&std::fs::read_to_string(&plan).unwrap());

    // And the other way: the approval `plan approve` made is a standard
    // SSHSIG, which `ssh-keygen -Y verify` accepts.
    let approved = read(&plan);
    let made = board.path("alice.sig");
    std::fs::write(&made, &approved.approvals[0].signature).unwrap();
    let signers = board.path("allowed_signers");
    std::fs::write(
        &signers,
        format!("alice@contoso.com {}\n", board.alice.public_line),
    )
    .unwrap();
    let mut verify = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-n",
            "failback-plan",
            "-I",
            "alice@contoso.com",
            "-f",
        ])
        .arg(&signers)
        .arg("-s")
        .arg(&made)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    verify
        .stdin
        .take()
        .unwrap()
        .write_all(approved.digest.as_bytes())
        .unwrap();
    let verified = verify.wait_with_output().unwrap();
    assert!(verified.status.success(), "{}", text(&verified.stderr));

    let out = board.apply(&plan);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let start = board.decisions("run-start");
    assert_eq!(
        start[0]["approvals"],
        serde_json::json!([
            format!("{} (alice@contoso.com)", board.alice.fingerprint),
            format!("{} (bob@contoso.com)", board.bob.fingerprint),
        ])
    );
    let status = run(&["status"], &board.env, None);
    board.snapshot("status-approved", &text(&status.stdout));
    let history = run(&["history"], &board.env, None);
    assert!(
        text(&history.stdout).contains(&format!(
            "approved by {} (alice@contoso.com), {} (bob@contoso.com)",
            board.alice.fingerprint, board.bob.fingerprint
        )),
        "{}",
        text(&history.stdout)
    );
}

/// `echo DIGEST | ssh-keygen -Y sign` signs a newline too: `plan approve`
/// refuses it, saying so, and the plan file is left as it was.
#[test]
fn a_hand_made_signature_of_the_digest_and_a_newline_is_refused_by_name() {
    let board = Board::new();
    let plan = board.plan("plan.json", &[]);
    let before = std::fs::read_to_string(&plan).unwrap();
    let signature = board.path("plan.json.sig");
    let digest = read(&plan).digest;
    std::fs::write(
        &signature,
        ssh_keygen_sign(&board.bob, &format!("{digest}\n")),
    )
    .unwrap();
    let out = failback()
        .args(["plan", "approve"])
        .arg(&plan)
        .arg("--signature")
        .arg(&signature)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("followed by a newline"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&plan).unwrap(), before);
}

/// A plan approved by both, then edited: the digest mismatch is what apply
/// names, before any approval is looked at. Resealed by a careful attacker,
/// both approvals are of the original, so neither counts.
#[test]
fn an_edited_plan_keeps_no_approval_of_the_original() {
    let board = Board::new();
    let plan = board.plan("plan.json", &[]);
    board.approved(&plan, &[&board.alice, &board.bob]);
    let original = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(
        &plan,
        original.replacen("\"cutover_ttl\": 300", "\"cutover_ttl\": 301", 1),
    )
    .unwrap();
    assert_ne!(std::fs::read_to_string(&plan).unwrap(), original);
    let out = board.apply(&plan);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("its content does not match its digest"),
        "{stderr}"
    );
    assert!(!stderr.contains("approv"), "{stderr}");

    let mut resealed = document::read(&original).unwrap();
    resealed.intent.cutover_ttl = 301;
    resealed.seal().unwrap();
    std::fs::write(&plan, resealed.to_json()).unwrap();
    let stderr = board.refused(&plan, "it has no approval, and `[approvals]` requires 2");
    assert_eq!(
        stderr.matches("it approves another plan").count(),
        2,
        "{stderr}"
    );
    assert!(no_writes(board.dir.path()));
    board.still_serves();
}

/// Without a saved plan there is nothing anyone approved: refused, saying
/// how to save and approve one.
#[test]
fn a_fresh_apply_is_refused_when_approvals_are_required() {
    let board = Board::new();
    let out = run(&["apply", "--yes"], &board.env, None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(no_writes(board.dir.path()));
    assert_eq!(board.decisions("unapproved").len(), 1);
    board.snapshot("apply-fresh-unapproved", &stderr);
    board.still_serves();
}
