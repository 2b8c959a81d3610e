//! The audit log on disk: every plugin and policy host call, every denial,
//! every plugin log line and every policy decision of an apply, appended to
//! `<environment dir>/.failback/audit.jsonl`, hash-chained.
//!
//! Each line is one JSON object: `seq` (1-based line number), `prev` (the
//! `hash` of the line before, 64 zeros for the first), `kind` (`call`, `log`,
//! `http`, `decision`), the record's fields, and last `hash`: the sha256 of the line's
//! text up to that field, closed with `}`. So an edited line no longer matches
//! its own hash; an edited line whose hash was recomputed, a removed line or a
//! reordered one breaks the next line's `prev` or `seq`. [`verify`] walks the
//! chain and names the first line that does not hold.
//!
//! The chain alone cannot show a log whose tail was cut off, that was deleted,
//! or whose chain was recomputed after its runs were moved: the journal
//! anchors each run in it ([`crate::journal::RunAnchors`]: the sequence number
//! and hash of the run's first record and of its last durable one), and
//! [`verify_anchored`] checks the log against those anchors.
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

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::audit::{AuditRecord, AuditSink, Decision, HttpExchange, LogLine, NotDurable};
use crate::journal::{Anchor, RunAnchors};

/// The audit log's file name inside the environment's state directory.
pub const AUDIT_FILE: &str = "audit.jsonl";

pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const HASH_FIELD: &str = ",\"hash\":\"";

/// The audit log cannot be opened or does not verify.
#[derive(Debug, thiserror::Error)]
pub enum AuditLogError {
    #[error("the audit log `{path}` cannot be {what}")]
    Io {
        path: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line} of the audit log {problem}")]
    Broken { line: usize, problem: String },
    #[error(transparent)]
    NotDurable(#[from] NotDurable),
    #[error(
        "the journal anchors run {run}'s {which} record at line {seq}, but the audit log ends at line {records}: its tail was cut off"
    )]
    CutOff {
        run: i64,
        which: &'static str,
        seq: u64,
        records: usize,
    },
    #[error(
        "line {seq} of the audit log is not the record the journal anchors as run {run}'s {which}: the log was rewritten, or its runs were moved"
    )]
    NotAnchored {
        run: i64,
        which: &'static str,
        seq: u64,
    },
    #[error(
        "run {run}'s records come before those of run {earlier} in the audit log: the runs were moved"
    )]
    Reordered { run: i64, earlier: i64 },
}

/// A last line a crash cut short: no final newline, and not a whole record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torn {
    /// Its line number.
    pub line: usize,
    /// How many bytes it had.
    pub bytes: usize,
}

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

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Split a line into its body (what the hash covers) and its hash.
fn split_line(line: &str) -> Option<(String, &str)> {
    let at = line.rfind(HASH_FIELD)?;
    let hash = line.get(at + HASH_FIELD.len()..)?.strip_suffix("\"}")?;
    let body = format!("{}}}", line.get(..at)?);
    Some((body, hash))
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

/// The record `seq` of kind `kind` chained to `prev`, as one line (without its
/// newline), and its hash: `seq`, `prev`, `kind`, the fields in order, and
/// last `hash`, the sha256 of the text before it closed with `}`.
pub(crate) fn format_line(seq: u64, prev: &str, kind: &str, fields: Value) -> (String, String) {
    let mut body = format!(
        "{{\"seq\":{seq},\"prev\":\"{prev}\",\"kind\":{}",
        Value::String(kind.to_owned())
    );
    if let Value::Object(map) = fields {
        for (k, v) in map {
            body.push(',');
            body.push_str(&Value::String(k).to_string());
            body.push(':');
            body.push_str(&v.to_string());
        }
    }
    body.push('}');
    let hash = sha256_hex(&body);
    let line = format!("{}{HASH_FIELD}{hash}\"}}", &body[..body.len() - 1]);
    (line, hash)
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

/// What a verified log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Records (whole lines) in the chain.
    pub records: usize,
    /// The last record's hash (64 zeros for an empty log).
    pub last_hash: String,
    /// A torn last line after the records, if any: reported, not a break.
    pub torn: Option<Torn>,
    /// The torn lines earlier opens dropped, from their `repair` records:
    /// (the repair's line, the torn line's number).
    pub repairs: Vec<(usize, u64)>,
}

/// Walk the chain of the log at `path`: each line's own hash, its `seq` and
/// its `prev`. The first line that does not hold is named. A last line
/// without its final newline that is not a whole record is reported as torn.
pub fn verify(path: &Path) -> Result<Verified, AuditLogError> {
    let text = std::fs::read(path).map_err(|source| AuditLogError::Io {
        path: path.display().to_string(),
        what: "read",
        source,
    })?;
    walk(&text, &[]).map(|(verified, _)| verified)
}

/// [`verify`], then check the log against the journal's anchors of every run:
/// each anchored record is there, with the anchored hash, and the runs come
/// in order.
pub fn verify_anchored(path: &Path, anchors: &[RunAnchors]) -> Result<Verified, AuditLogError> {
    let text = std::fs::read(path).map_err(|source| AuditLogError::Io {
        path: path.display().to_string(),
        what: "read",
        source,
    })?;
    verify_text_anchored(&text, anchors)
}

/// [`verify_anchored`] of a log's text (the trail in a shared journal, each
/// line followed by a newline).
pub fn verify_text_anchored(
    text: &[u8],
    anchors: &[RunAnchors],
) -> Result<Verified, AuditLogError> {
    let wanted: Vec<u64> = anchors
        .iter()
        .flat_map(|a| [&a.first, &a.last])
        .flatten()
        .map(|a| a.seq)
        .collect();
    let (verified, hashes) = walk(text, &wanted)?;
    let mut previous: Option<(i64, u64)> = None;
    for run in anchors {
        for (which, anchor) in [("first", &run.first), ("last", &run.last)] {
            let Some(anchor) = anchor else { continue };
            match hashes.get(&anchor.seq) {
                None => {
                    return Err(AuditLogError::CutOff {
                        run: run.run,
                        which,
                        seq: anchor.seq,
                        records: verified.records,
                    });
                }
                Some(hash) if *hash != anchor.hash => {
                    return Err(AuditLogError::NotAnchored {
                        run: run.run,
                        which,
                        seq: anchor.seq,
                    });
                }
                Some(_) => {}
            }
        }
        if let (Some((earlier, last)), Some(first)) = (previous, &run.first)
            && first.seq <= last
        {
            return Err(AuditLogError::Reordered {
                run: run.run,
                earlier,
            });
        }
        if let Some(last) = &run.last {
            previous = Some((run.run, last.seq));
        }
    }
    Ok(verified)
}

fn walk(
    text: &[u8],
    wanted: &[u64],
) -> Result<(Verified, std::collections::BTreeMap<u64, String>), AuditLogError> {
    let mut prev = GENESIS.to_owned();
    let mut records = 0;
    let mut torn = None;
    let mut repairs = Vec::new();
    let mut hashes = std::collections::BTreeMap::new();
    let mut lines = text.split_inclusive(|b| *b == b'\n').peekable();
    let mut number = 0;
    while let Some(raw) = lines.next() {
        number += 1;
        let whole = raw.ends_with(b"\n");
        let line = String::from_utf8_lossy(raw.strip_suffix(b"\n").unwrap_or(raw)).into_owned();
        let broken = |problem: String| AuditLogError::Broken {
            line: number,
            problem,
        };
        let checked = check_line(&line, number, &prev);
        let (hash, value) = match checked {
            Ok(ok) => ok,
            Err(_) if !whole && lines.peek().is_none() => {
                torn = Some(Torn {
                    line: number,
                    bytes: raw.len(),
                });
                break;
            }
            Err(problem) => return Err(broken(problem)),
        };
        if value.get("kind").and_then(Value::as_str) == Some("repair") {
            repairs.push((
                number,
                value.get("line").and_then(Value::as_u64).unwrap_or(0),
            ));
        }
        let seq = u64::try_from(number).unwrap_or(u64::MAX);
        if wanted.contains(&seq) {
            hashes.insert(seq, hash.clone());
        }
        prev = hash;
        records = number;
    }
    Ok((
        Verified {
            records,
            last_hash: prev,
            torn,
            repairs,
        },
        hashes,
    ))
}

/// One line's own hash, `seq` and `prev`: its hash and its JSON, or what is
/// wrong with it.
fn check_line(line: &str, number: usize, prev: &str) -> Result<(String, Value), String> {
    let (body, hash) =
        split_line(line).ok_or_else(|| "has no hash: it is not a record".to_owned())?;
    if sha256_hex(&body) != hash {
        return Err("does not match its own hash: the record was edited".into());
    }
    let value: Value =
        serde_json::from_str(&body).map_err(|_| "is not a JSON record".to_owned())?;
    if value.get("seq").and_then(Value::as_u64) != u64::try_from(number).ok() {
        return Err(format!(
            "has sequence number {}, not {number}: a record before it was removed, or records were reordered",
            value
                .get("seq")
                .map_or_else(|| "none".to_owned(), Value::to_string)
        ));
    }
    if value.get("prev").and_then(Value::as_str) != Some(prev) {
        return Err(
            "does not chain to the line before it: that record was edited, removed or moved".into(),
        );
    }
    Ok((hash.to_owned(), value))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::audit::{LogLevel, Outcome};
    use crate::digest::Digest;

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
