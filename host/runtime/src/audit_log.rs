//! The audit log's writer: every plugin and policy host call, every denial,
//! every plugin log line and every policy decision of an apply, appended to
//! `<environment dir>/.failback/audit.jsonl`, hash-chained. Its lines, their
//! chain and their verifying are `failback_formats::audit_log`'s
//! (re-exported here).
//!
//! A crash can cut the last line short (a *torn* line, without its final
//! newline). [`verify`] reports it without failing; [`AuditLog::open`] drops
//! it and appends a `repair` record saying so, so that a run can resume.
//!
//! [`AuditLog`] is the runtime's [`AuditSink`] for `apply` and `resume`, which
//! hold the environment lock ([`crate::lock`]) and so are the only writers.
//! Records come from the runtime, which puts no configuration value in them
//! and redacts secrets from plugin log lines ([`crate::audit`]), so no secret
//! reaches this file. Lines are written as they happen; [`AuditSink::checkpoint`]
//! makes them durable and names the last one (the apply engine calls it before
//! each step's outcome is journaled).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

pub use failback_formats::audit_log::{
    AUDIT_FILE, AuditLogError, GENESIS, Torn, Verified, format_line, verify, verify_anchored,
    verify_bytes, verify_text_anchored,
};
use serde_json::{Value, json};

use crate::audit::{AuditRecord, AuditSink, Decision, HttpExchange, LogLine, NotDurable};
use crate::journal::Anchor;

struct Chain {
    file: File,
    seq: u64,
    prev: String,
    /// The first write that failed, reported by [`AuditSink::checkpoint`].
    failed: Option<std::io::Error>,
}

/// The hash-chained audit log of one environment.
pub struct AuditLog {
    path: String,
    chain: Mutex<Chain>,
    /// The torn last line [`AuditLog::open`] dropped, if any.
    repaired: Option<Torn>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn micros(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

impl AuditLog {
    /// Open the log at `path` for appending, continuing its chain. An existing
    /// log that does not verify is refused: appending would hide the break. A
    /// torn last line (a crash cut it short) is dropped, and a `repair` record
    /// says so.
    pub fn open(path: &Path) -> Result<Self, AuditLogError> {
        let display = path.display().to_string();
        let io = |what: &'static str| {
            let path = display.clone();
            move |source| AuditLogError::Io { path, what, source }
        };
        let (seq, prev, torn) = if path.exists() {
            let v = verify(path)?;
            (v.records, v.last_hash, v.torn)
        } else {
            (0, GENESIS.to_owned(), None)
        };
        if let Some(torn) = &torn {
            let len = std::fs::metadata(path).map_err(io("read"))?.len();
            let keep = len.saturating_sub(u64::try_from(torn.bytes).unwrap_or(u64::MAX));
            OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| {
                    f.set_len(keep)?;
                    f.sync_all()
                })
                .map_err(io("repaired"))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io("opened"))?;
        let log = Self {
            path: display,
            chain: Mutex::new(Chain {
                file,
                seq: u64::try_from(seq).unwrap_or(u64::MAX),
                prev,
                failed: None,
            }),
            repaired: torn.clone(),
        };
        if let Some(torn) = torn {
            log.append(
                "repair",
                json!({
                    "line": torn.line,
                    "bytes": torn.bytes,
                    "detail": "the last line was torn (a crash cut it short); it was dropped",
                }),
            );
            log.checkpoint()?;
        }
        Ok(log)
    }

    /// The torn last line [`AuditLog::open`] dropped, if it found one.
    #[must_use]
    pub fn repaired(&self) -> Option<&Torn> {
        self.repaired.as_ref()
    }

    fn append(&self, kind: &str, fields: Value) {
        let mut chain = self.chain.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = chain.seq + 1;
        let (line, hash) = format_line(seq, &chain.prev, kind, fields);
        match chain.file.write_all(format!("{line}\n").as_bytes()) {
            Ok(()) => {
                chain.seq = seq;
                chain.prev = hash;
            }
            Err(e) => {
                if chain.failed.is_none() {
                    chain.failed = Some(e);
                }
            }
        }
    }
}

/// A call record's fields.
pub(crate) fn call_fields(record: &AuditRecord) -> Value {
    json!({
        "at_us": micros(record.at),
        "plugin": record.plugin,
        "sha256": record.digest.to_string(),
        "function": record.function,
        "duration_us": u64::try_from(record.duration.as_micros()).unwrap_or(u64::MAX),
        "outcome": record.outcome,
    })
}
/// The fields of an `http` record: one request a plugin made (no header
/// value, ever).
pub(crate) fn http_fields(exchange: &HttpExchange) -> Value {
    json!({
        "at_us": micros(exchange.at),
        "plugin": &exchange.plugin,
        "function": &exchange.function,
        "capability": &exchange.capability,
        "method": &exchange.method,
        "origin": &exchange.origin,
        "path": &exchange.path,
        "status": exchange.status,
        "bytes": exchange.bytes,
        "duration_us": u64::try_from(exchange.duration.as_micros()).unwrap_or(u64::MAX),
        "outcome": &exchange.outcome,
    })
}

/// A plugin log line's fields.
pub(crate) fn log_fields(line: &LogLine) -> Value {
    json!({
        "plugin": line.plugin,
        "function": line.function,
        "level": line.level,
        "message": line.message,
    })
}

/// A decision's fields.
pub(crate) fn decision_fields(d: &Decision) -> Value {
    let mut record = json!({
        "at_us": micros(d.at),
        "run": d.run,
        "step": d.step,
        "action": d.action,
        "verdict": d.verdict,
        "plan_digest": d.plan_digest,
        "findings": d.findings,
        "detail": d.detail,
    });
    // Only a run-start of an approved plan names approvers.
    if !d.approvals.is_empty() {
        record["approvals"] = json!(d.approvals);
    }
    record
}

impl AuditSink for AuditLog {
    fn record(&self, record: AuditRecord) {
        self.append("call", call_fields(&record));
    }

    fn http(&self, exchange: HttpExchange) {
        self.append("http", http_fields(&exchange));
    }

    fn log(&self, line: LogLine) {
        self.append("log", log_fields(&line));
    }

    fn decision(&self, d: Decision) {
        self.append("decision", decision_fields(&d));
    }

    fn checkpoint(&self) -> Result<Option<Anchor>, NotDurable> {
        let mut chain = self.chain.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(source) = chain.failed.take() {
            return Err(NotDurable {
                path: self.path.clone(),
                what: "written",
                source,
            });
        }
        chain.file.sync_data().map_err(|source| NotDurable {
            path: self.path.clone(),
            what: "synced",
            source,
        })?;
        Ok(Some(Anchor {
            seq: chain.seq,
            hash: chain.prev.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::audit::{LogLevel, Outcome};
    use crate::digest::Digest;
    use failback_formats::audit_log::{HASH_FIELD, sha256_hex, split_line};

    fn write(path: &Path, n: usize) {
        let log = AuditLog::open(path).unwrap();
        for i in 0..n {
            log.record(AuditRecord {
                at: UNIX_EPOCH,
                plugin: "lab-dns".into(),
                digest: Digest::of(b"x"),
                signer: Some("built-in".into()),
                function: format!("dns.list-records {i}"),
                duration: std::time::Duration::from_micros(5),
                outcome: Outcome::Ok,
            });
            log.log(LogLine {
                plugin: "lab-dns".into(),
                function: "dns.list-records".into(),
                level: LogLevel::Info,
                message: format!("line \"{i}\",\"hash\":\"x"),
            });
        }
        log.checkpoint().unwrap();
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn put(path: &Path, lines: &[String]) {
        std::fs::write(path, lines.join("\n") + "\n").unwrap();
    }

    fn bad_line(path: &Path) -> usize {
        match verify(path) {
            Err(AuditLogError::Broken { line, .. }) => line,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_reopened_log_continues_its_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AUDIT_FILE);
        write(&path, 2);
        write(&path, 3);
        assert_eq!(verify(&path).unwrap().records, 10);
    }

    #[test]
    fn an_edit_a_removal_and_a_reordering_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AUDIT_FILE);
        write(&path, 3);
        let good = lines(&path);

        let mut edited = good.clone();
        edited[2] = edited[2].replace("lab-dns", "lab-dnz");
        put(&path, &edited);
        assert_eq!(bad_line(&path), 3);

        // Edited with its own hash recomputed: the next line does not chain.
        let (body, _) = split_line(&edited[2]).unwrap();
        edited[2] = format!(
            "{}{HASH_FIELD}{}\"}}",
            &body[..body.len() - 1],
            sha256_hex(&body)
        );
        put(&path, &edited);
        assert_eq!(bad_line(&path), 4);

        let mut removed = good.clone();
        removed.remove(1);
        put(&path, &removed);
        assert_eq!(bad_line(&path), 2);

        let mut moved = good.clone();
        moved.swap(3, 4);
        put(&path, &moved);
        assert_eq!(bad_line(&path), 4);

        put(&path, &good);
        assert_eq!(verify(&path).unwrap().records, 6);
        // A broken log is not appended to.
        put(&path, &removed);
        assert!(AuditLog::open(&path).is_err());
    }
}
