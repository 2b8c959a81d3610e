//! The audit log on disk: every plugin and policy host call, every denial,
//! every plugin log line and every policy decision of an apply, appended to
//! `<environment dir>/.failback/audit.jsonl`, hash-chained.
//!
//! Each line is one JSON object: `seq` (1-based line number), `prev` (the
//! `hash` of the line before, 64 zeros for the first), `kind` (`call`, `log`,
//! `decision`), the record's fields, and last `hash`: the sha256 of the line's
//! text up to that field, closed with `}`. So an edited line no longer matches
//! its own hash; an edited line whose hash was recomputed, a removed line or a
//! reordered one breaks the next line's `prev` or `seq`. [`verify`] walks the
//! chain and names the first line that does not hold.
//!
//! [`AuditLog`] is the runtime's [`AuditSink`] for `apply` and `resume`, which
//! hold the environment lock ([`crate::lock`]) and so are the only writers.
//! Records come from the runtime, which puts no configuration value in them
//! and redacts secrets from plugin log lines ([`crate::audit`]), so no secret
//! reaches this file. Lines are written as they happen; [`AuditLog::sync`]
//! makes them durable (the CLI calls it when a run stops).

use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::audit::{AuditRecord, AuditSink, Decision, LogLine};

/// The audit log's file name inside the environment's state directory.
pub const AUDIT_FILE: &str = "audit.jsonl";

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
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
}

struct Chain {
    file: File,
    seq: u64,
    prev: String,
    /// The first write that failed, reported by [`AuditLog::sync`].
    failed: Option<std::io::Error>,
}

/// The hash-chained audit log of one environment.
pub struct AuditLog {
    path: String,
    chain: Mutex<Chain>,
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
    /// log that does not verify is refused: appending would hide the break.
    pub fn open(path: &Path) -> Result<Self, AuditLogError> {
        let display = path.display().to_string();
        let (seq, prev) = if path.exists() {
            let v = verify(path)?;
            (v.records, v.last_hash)
        } else {
            (0, GENESIS.to_owned())
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| AuditLogError::Io {
                path: display.clone(),
                what: "opened",
                source,
            })?;
        Ok(Self {
            path: display,
            chain: Mutex::new(Chain {
                file,
                seq: u64::try_from(seq).unwrap_or(u64::MAX),
                prev,
                failed: None,
            }),
        })
    }

    fn append(&self, kind: &str, fields: Value) {
        let mut chain = self.chain.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = chain.seq + 1;
        let mut body = format!(
            "{{\"seq\":{seq},\"prev\":\"{}\",\"kind\":{}",
            chain.prev,
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
        let line = format!("{}{HASH_FIELD}{hash}\"}}\n", &body[..body.len() - 1]);
        match chain.file.write_all(line.as_bytes()) {
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

    /// Make every line written so far durable, and report a write that failed.
    pub fn sync(&self) -> Result<(), AuditLogError> {
        let mut chain = self.chain.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(source) = chain.failed.take() {
            return Err(AuditLogError::Io {
                path: self.path.clone(),
                what: "written",
                source,
            });
        }
        chain.file.sync_data().map_err(|source| AuditLogError::Io {
            path: self.path.clone(),
            what: "synced",
            source,
        })
    }
}

impl AuditSink for AuditLog {
    fn record(&self, record: AuditRecord) {
        self.append(
            "call",
            json!({
                "at_us": micros(record.at),
                "plugin": record.plugin,
                "sha256": record.digest.to_string(),
                "function": record.function,
                "duration_us": u64::try_from(record.duration.as_micros()).unwrap_or(u64::MAX),
                "outcome": record.outcome,
            }),
        );
    }

    fn log(&self, line: LogLine) {
        self.append(
            "log",
            json!({
                "plugin": line.plugin,
                "function": line.function,
                "level": line.level,
                "message": line.message,
            }),
        );
    }

    fn decision(&self, d: Decision) {
        self.append(
            "decision",
            json!({
                "at_us": micros(d.at),
                "run": d.run,
                "step": d.step,
                "action": d.action,
                "verdict": d.verdict,
                "findings": d.findings,
            }),
        );
    }
}

/// What a verified log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Records (lines) in the chain.
    pub records: usize,
    /// The last line's hash (64 zeros for an empty log).
    pub last_hash: String,
}

/// Walk the chain of the log at `path`: each line's own hash, its `seq` and
/// its `prev`. The first line that does not hold is named.
pub fn verify(path: &Path) -> Result<Verified, AuditLogError> {
    let file = File::open(path).map_err(|source| AuditLogError::Io {
        path: path.display().to_string(),
        what: "read",
        source,
    })?;
    let mut prev = GENESIS.to_owned();
    let mut records = 0;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let number = i + 1;
        let broken = |problem: String| AuditLogError::Broken {
            line: number,
            problem,
        };
        let line = line.map_err(|source| AuditLogError::Io {
            path: path.display().to_string(),
            what: "read",
            source,
        })?;
        let (body, hash) =
            split_line(&line).ok_or_else(|| broken("has no hash: it is not a record".into()))?;
        if sha256_hex(&body) != hash {
            return Err(broken(
                "does not match its own hash: the record was edited".into(),
            ));
        }
        let value: Value =
            serde_json::from_str(&body).map_err(|_| broken("is not a JSON record".into()))?;
        if value.get("seq").and_then(Value::as_u64) != u64::try_from(number).ok() {
            return Err(broken(format!(
                "has sequence number {}, not {number}: a record before it was removed, or records were reordered",
                value
                    .get("seq")
                    .map_or_else(|| "none".to_owned(), Value::to_string)
            )));
        }
        if value.get("prev").and_then(Value::as_str) != Some(prev.as_str()) {
            return Err(broken(
                "does not chain to the line before it: that record was edited, removed or moved"
                    .into(),
            ));
        }
        prev = hash.to_owned();
        records = number;
    }
    Ok(Verified {
        records,
        last_hash: prev,
    })
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
        log.sync().unwrap();
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
