//! `failback audit verify`: walk the hash chain of an environment's audit log
//! — `.failback/audit.jsonl`, or the deployment's trail in the shared journal
//! — and check it against the journal's anchors of every run, so that an
//! edited record, a cut-off tail, a deleted log and a moved run all show.
//! `failback audit export` writes the trail, checked, to a file.

#![expect(clippy::print_stdout, reason = "the command's report goes to stdout")]

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use failback_runtime::audit_log::{AUDIT_FILE, Verified, verify_anchored, verify_text_anchored};
use failback_runtime::journal::{JOURNAL_FILE, RunAnchors};
use failback_runtime::pg::PgJournal;
use failback_runtime::{JournalStore as _, SqliteJournal};

use crate::Outcome;
use crate::store::Store;

/// The trail's text and whether it checks, with the anchors it was checked
/// against: where it is, for messages.
struct Checked {
    text: Vec<u8>,
    verified: Verified,
    anchored: usize,
    what: &'static str,
}

fn check(env: &Path) -> Result<Checked> {
    match Store::of(env)? {
        Store::Local { state } => {
            let path = state.join(AUDIT_FILE);
            let journal = state.join(JOURNAL_FILE);
            let anchors: Vec<RunAnchors> = if journal.exists() {
                SqliteJournal::open(&journal)?.anchors()?
            } else {
                Vec::new()
            };
            let anchored = anchors.iter().filter(|a| a.first.is_some()).count();
            if !path.exists() {
                if anchored > 0 {
                    bail!(
                        "the audit log `{}` is missing, but the journal anchors {anchored} run{} in it: it was deleted",
                        path.display(),
                        if anchored == 1 { "" } else { "s" }
                    );
                }
                bail!(
                    "no audit log: this environment has had no apply (`{}` is absent)",
                    path.display()
                );
            }
            let verified = verify_anchored(&path, &anchors)?;
            let text = std::fs::read(&path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            Ok(Checked {
                text,
                verified,
                anchored,
                what: "audit log",
            })
        }
        Store::Shared { target, deployment } => {
            let journal = PgJournal::open(&target, &deployment)?;
            let anchors = journal.anchors()?;
            let anchored = anchors.iter().filter(|a| a.first.is_some()).count();
            let mut text = Vec::new();
            for line in journal.audit_lines()? {
                text.extend_from_slice(line.as_bytes());
                text.push(b'\n');
            }
            let verified = verify_text_anchored(&text, &anchors)?;
            Ok(Checked {
                text,
                verified,
                anchored,
                what: "audit trail",
            })
        }
    }
}

pub fn verify(env: &Path) -> Result<Outcome> {
    let Checked {
        verified,
        anchored,
        what,
        ..
    } = check(env)?;
    println!(
        "{what} ok: {} records, the chain holds (last sha256 {}); {anchored} run{} anchored in the journal, each found",
        verified.records,
        verified.last_hash,
        if anchored == 1 { "" } else { "s" }
    );
    for (line, torn) in &verified.repairs {
        println!("  note: line {line} records that a crash cut line {torn} short; it was dropped");
    }
    if let Some(torn) = &verified.torn {
        println!(
            "  note: the last line ({}, {} bytes) was cut short by a crash; the next apply or resume drops it and records the repair",
            torn.line, torn.bytes
        );
    }
    Ok(Outcome::Ok)
}

pub fn export(env: &Path, out: &Path) -> Result<Outcome> {
    let Checked {
        text,
        verified,
        what,
        ..
    } = check(env)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .with_context(|| format!("cannot create `{}`", out.display()))?;
    file.write_all(&text)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write `{}`", out.display()))?;
    eprintln!(
        "wrote the {what}, checked ({} records, last sha256 {}), to {}",
        verified.records,
        verified.last_hash,
        out.display()
    );
    Ok(Outcome::Ok)
}
