//! `failback audit verify`: walk the hash chain of an environment's audit log
//! and check it against the journal's anchors of every run, so that an edited
//! record, a cut-off tail, a deleted log and a moved run all show.

#![expect(clippy::print_stdout, reason = "the command's report goes to stdout")]

use std::path::Path;

use anyhow::{Result, bail};
use failback_runtime::Journal;
use failback_runtime::audit_log::{AUDIT_FILE, verify_anchored};
use failback_runtime::journal::{JOURNAL_FILE, RunAnchors};

use crate::Outcome;
use crate::session::{self, STATE_DIR};

pub fn verify(env: &Path) -> Result<Outcome> {
    let state = session::root_of(env).join(STATE_DIR);
    let path = state.join(AUDIT_FILE);
    let journal = state.join(JOURNAL_FILE);
    let anchors: Vec<RunAnchors> = if journal.exists() {
        Journal::open(&journal)?.anchors()?
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
    println!(
        "audit log ok: {} records, the chain holds (last sha256 {}); {anchored} run{} anchored in the journal, each found",
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
