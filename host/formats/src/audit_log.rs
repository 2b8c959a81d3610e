//! The audit log's lines, read and verified: every plugin and policy host
//! call, every denial, every plugin log line and every policy decision of an
//! apply, in `<environment dir>/.failback/audit.jsonl`, hash-chained.
//!
//! Each line is one JSON object: `seq` (1-based line number), `prev` (the
//! `hash` of the line before, 64 zeros for the first), `kind` (`call`, `log`,
//! `http`, `decision`), the record's fields, and last `hash`: the sha256 of the line's
//! text up to that field, closed with `}`. So an edited line no longer matches
//! its own hash; an edited line whose hash was recomputed, a removed line or a
//! reordered one breaks the next line's `prev` or `seq`. [`verify_bytes`] walks
//! the chain and names the first line that does not hold; [`verify`] reads a
//! file and walks it.
//!
//! The chain alone cannot show a log whose tail was cut off, that was deleted,
//! or whose chain was recomputed after its runs were moved: the journal
//! anchors each run in it ([`RunAnchors`]: the sequence number and hash of the
//! run's first record and of its last durable one), and
//! [`verify_text_anchored`] checks the log against those anchors.
//!
//! A crash can cut the last line short (a *torn* line, without its final
//! newline). [`verify_bytes`] reports it without failing; the runtime's writer
//! (`failback_runtime::AuditLog`) drops it on open and appends a `repair`
//! record saying so. [`format_line`] is the one place a line is written.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The audit log's file name inside the environment's state directory.
pub const AUDIT_FILE: &str = "audit.jsonl";

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Where a line's hash begins: the last field of every line.
pub const HASH_FIELD: &str = ",\"hash\":\"";

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

/// An audit record, by its place in the chain: its sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anchor {
    pub seq: u64,
    pub hash: String,
}

/// Where a run's records are in the audit log (the journal keeps them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunAnchors {
    pub run: i64,
    /// The run's first record (its `run-start` decision).
    pub first: Option<Anchor>,
    /// The last of its records made durable.
    pub last: Option<Anchor>,
}

/// Records a sink could not make durable (the runtime's
/// `AuditSink::checkpoint`).
#[derive(Debug, thiserror::Error)]
#[error("the audit log `{path}` cannot be {what}")]
pub struct NotDurable {
    pub path: String,
    /// What could not be done to it: `written`, `synced`.
    pub what: &'static str,
    #[source]
    pub source: std::io::Error,
}

/// The hex sha256 of `text`: a line's hash of its body.
#[must_use]
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Split a line into its body (what the hash covers) and its hash.
pub fn split_line(line: &str) -> Option<(String, &str)> {
    let at = line.rfind(HASH_FIELD)?;
    let hash = line.get(at + HASH_FIELD.len()..)?.strip_suffix("\"}")?;
    let body = format!("{}}}", line.get(..at)?);
    Some((body, hash))
}

/// The record `seq` of kind `kind` chained to `prev`, as one line (without its
/// newline), and its hash: `seq`, `prev`, `kind`, the fields in order, and
/// last `hash`, the sha256 of the text before it closed with `}`.
pub fn format_line(seq: u64, prev: &str, kind: &str, fields: Value) -> (String, String) {
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
    verify_bytes(&text)
}

/// [`verify`] of a log's bytes: the chain walked line by line, the first line
/// that does not hold named, a torn last line reported.
pub fn verify_bytes(text: &[u8]) -> Result<Verified, AuditLogError> {
    walk(text, &[]).map(|(verified, _)| verified)
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
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn log(n: u64) -> String {
        let mut prev = GENESIS.to_owned();
        let mut text = String::new();
        for seq in 1..=n {
            let (line, hash) =
                format_line(seq, &prev, "log", serde_json::json!({ "message": seq }));
            text.push_str(&line);
            text.push('\n');
            prev = hash;
        }
        text
    }

    #[test]
    fn the_bytes_of_a_log_verify_as_its_file_does() {
        let text = log(3);
        let verified = verify_bytes(text.as_bytes()).unwrap();
        assert_eq!(verified.records, 3);
        assert_eq!(verified.torn, None);
        let dir = std::env::temp_dir().join(format!("failback-formats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(AUDIT_FILE);
        std::fs::write(&path, &text).unwrap();
        let from_file = verify(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(from_file.unwrap(), verified);
    }

    #[test]
    fn an_edited_line_is_named_and_a_cut_last_line_is_torn() {
        let edited = log(3).replace("\"message\":2", "\"message\":9");
        match verify_bytes(edited.as_bytes()) {
            Err(AuditLogError::Broken { line, .. }) => assert_eq!(line, 2),
            other => panic!("{other:?}"),
        }
        let text = log(2);
        let cut = &text.as_bytes()[..text.len() - 10];
        let verified = verify_bytes(cut).unwrap();
        assert_eq!(verified.records, 1);
        assert_eq!(verified.torn.unwrap().line, 2);
    }

    #[test]
    fn bytes_that_are_no_log_are_refused_not_panicked_on() {
        for bytes in [&b"\xff\xfe\n"[..], b"{}\n", b",\"hash\":\"\"}\n", b"\n\n"] {
            assert!(matches!(
                verify_bytes(bytes),
                Err(AuditLogError::Broken { line: 1, .. })
            ));
        }
        assert_eq!(verify_bytes(b"").unwrap().records, 0);
    }
}
