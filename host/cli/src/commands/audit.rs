//! `failback audit verify`: walk the hash chain of an environment's audit log.

#![expect(clippy::print_stdout, reason = "the command's report goes to stdout")]

use std::path::Path;

use anyhow::{Result, bail};
use failback_runtime::audit_log::{AUDIT_FILE, verify as verify_chain};

use crate::Outcome;
use crate::session::{STATE_DIR, Session};

pub fn verify(env: &Path) -> Result<Outcome> {
    let path = Session::root_of(env).join(STATE_DIR).join(AUDIT_FILE);
    if !path.exists() {
        bail!(
            "no audit log: this environment has had no apply (`{}` is absent)",
            path.display()
        );
    }
    let verified = verify_chain(&path)?;
    println!(
        "audit log ok: {} records, the chain holds (last sha256 {})",
        verified.records, verified.last_hash
    );
    Ok(Outcome::Ok)
}
