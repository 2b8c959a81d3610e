//! The audit trail: a record for every call into a plugin or policy module and
//! for every denial, and the plugins' log lines, tagged with the plugin and the
//! call.
//!
//! The runtime writes to an [`AuditSink`]; [`MemoryAuditSink`] keeps records in
//! memory, [`crate::audit_log::AuditLog`] hash-chains them to disk. Records
//! hold no configuration value, so no secret can reach the audit through them.
//! Every decision of an apply is a [`Decision`]: each step's verdict, and each
//! refusal before a run (a veto at the start of apply, a refused override, a
//! saved plan that is not the one re-derived, a plugin that may not load).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::digest::Digest;
pub use failback_formats::audit_log::NotDurable;

use crate::journal::Anchor;

/// How a call ended, or what was denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum Outcome {
    /// The guest returned a value.
    Ok,
    /// The guest returned its `plugin-error` (shown as text).
    PluginError(String),
    /// The runtime stopped the call: trap, time-out, limit, denial (shown as text).
    Failed(String),
    /// A capability the plugin asked for was denied, before or during a call.
    Denied(String),
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// When the call started (or the denial happened).
    pub at: SystemTime,
    /// The plugin (or policy module) name.
    pub plugin: String,
    pub digest: Digest,
    /// Who vouches for the component (`crate::trust::Signer`): a key's
    /// fingerprint, `built-in`, `unsigned` or `development build (unsigned)`;
    /// `None` for a refusal before that was known.
    pub signer: Option<String>,
    /// The WIT function (`dns.list-records`), or `load` for a denial at load time.
    pub function: String,
    pub duration: Duration,
    pub outcome: Outcome,
}

/// One HTTP request a plugin made through `wasi:http` ([`crate::http`]):
/// refused by the judge, failed, or answered. It holds no header value and no
/// query; a secret in the path is redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpExchange {
    /// When the request was judged.
    pub at: SystemTime,
    pub plugin: String,
    /// The call in flight (`dns.replace-records`).
    pub function: String,
    /// The capability that allowed it, when one did.
    pub capability: Option<String>,
    pub method: String,
    /// `https://dns.contoso.com:8443`, as the guest wrote it.
    pub origin: String,
    /// The path, without the query.
    pub path: String,
    /// The response's status, once it came.
    pub status: Option<u16>,
    /// The response body bytes the guest read.
    pub bytes: u64,
    /// From the judgement to the end of the response body.
    pub duration: Duration,
    /// `ok`, `denied` (with the judge's reason) or `failed` (with why).
    pub outcome: Outcome,
}

/// Severity of a plugin's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// One line a plugin logged through the `host.log` import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub plugin: String,
    /// The call in flight (`dns.list-records`).
    pub function: String,
    pub level: LogLevel,
    /// The message, cut at [`MAX_LOG_LINE_BYTES`], with secrets redacted.
    pub message: String,
}

/// The longest log line kept; the rest is cut.
pub const MAX_LOG_LINE_BYTES: usize = 4_096;
/// The most log lines kept per call; the rest are dropped and counted.
pub const MAX_LOG_LINES_PER_CALL: u32 = 1_000;

/// A decision of `apply` or `resume`: a step's verdict (`allow`, `veto`,
/// `already-held`), the start of a run (`run-start`, with the plan's digest),
/// or a refusal before anything ran (`vetoed`, `override-refused`,
/// `digest-mismatch`, `plugin-refused`, `journal-mismatch`), with the
/// findings or the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub at: SystemTime,
    /// The journal's run id, once there is a run.
    pub run: Option<i64>,
    /// The step judged (1-based plan index).
    pub step: Option<usize>,
    /// Its action (`publish-topology`).
    pub action: Option<String>,
    pub verdict: &'static str,
    /// The plan's digest, when the decision is about a plan.
    pub plan_digest: Option<String>,
    pub findings: Vec<failback_core::plan::Finding>,
    /// Why, in words, for a refusal.
    pub detail: Option<String>,
    /// Who approved the plan (`run-start`), each `SHA256:… (comment)`.
    pub approvals: Vec<String>,
}

impl Decision {
    /// A decision of `verdict` with nothing else filled in.
    #[must_use]
    pub fn new(verdict: &'static str) -> Self {
        Self {
            at: SystemTime::now(),
            run: None,
            step: None,
            action: None,
            verdict,
            plan_digest: None,
            findings: Vec::new(),
            detail: None,
            approvals: Vec::new(),
        }
    }
}

/// Where audit records and plugin log lines go.
pub trait AuditSink: Send + Sync {
    fn record(&self, record: AuditRecord);
    fn log(&self, line: LogLine);
    /// One HTTP request of a plugin.
    fn http(&self, exchange: HttpExchange);
    /// A decision of apply or resume; sinks that keep no decisions drop it.
    fn decision(&self, _decision: Decision) {}
    /// Make every record so far durable and say where the last one is; sinks
    /// that keep nothing on disk have no place to say (`None`).
    fn checkpoint(&self) -> Result<Option<Anchor>, NotDurable> {
        Ok(None)
    }
}

/// An [`AuditSink`] that keeps everything in memory.
#[derive(Debug, Default)]
pub struct MemoryAuditSink {
    records: Mutex<Vec<AuditRecord>>,
    lines: Mutex<Vec<LogLine>>,
    exchanges: Mutex<Vec<HttpExchange>>,
}

impl MemoryAuditSink {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record so far.
    #[must_use]
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every log line so far.
    #[must_use]
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every HTTP request so far.
    #[must_use]
    pub fn exchanges(&self) -> Vec<HttpExchange> {
        self.exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl AuditSink for MemoryAuditSink {
    fn record(&self, record: AuditRecord) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
    }

    fn log(&self, line: LogLine) {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }

    fn http(&self, exchange: HttpExchange) {
        self.exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(exchange);
    }
}

/// An [`AuditSink`] that drops everything (benchmarks).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullAuditSink;

impl AuditSink for NullAuditSink {
    fn record(&self, _record: AuditRecord) {}
    fn log(&self, _line: LogLine) {}
    fn http(&self, _exchange: HttpExchange) {}
}
