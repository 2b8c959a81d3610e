//! The apply journal: what a run intended and what came of it, durable before
//! each side effect, in an embedded SQLite database beside the environment
//! (`<environment dir>/.failback/journal.sqlite`).
//!
//! A *run* is one application of one plan. Its row keeps the plan itself (so
//! `failback resume` needs nothing else), the plan's digest, when it started
//! and how it stands. Each step of the run gets a row whose *intent* is written
//! (and synced: WAL with `synchronous=FULL`) before the step's first side
//! effect and whose *outcome* is written right after it; each operation of a
//! step gets the same pair, its outcome synced with the next write that syncs
//! ([`Journal::op_outcome`]). A step or operation with an intent and no outcome
//! is *in doubt*: the process stopped between the two, and the apply engine
//! ([`crate::apply`]) re-verifies it before deciding whether to run it again.
//!
//! A step that halted or failed gets that outcome; resuming the run starts
//! the step anew ([`Journal::reopen_step`]), judged again like a step that
//! never ran (see [`crate::apply`]).
//!
//! Each run is also the anchor of its part of the audit log
//! ([`crate::audit_log`]): the run's row keeps the sequence number and hash of
//! its first audit record and of the last one made durable, updated before
//! each step's outcome is written. `failback audit verify` checks the log
//! against these, so a cut-off tail, a deleted log or a moved run shows.
//!
//! The journal is one contract, [`JournalStore`], with two stores: the
//! embedded SQLite database here ([`SqliteJournal`], the default), and a
//! PostgreSQL database shared by every machine that runs failbacks of one
//! deployment ([`crate::pg`], `[journal]` in the environment file).
//!
//! The SQLite journal takes a path, not a capability directory: SQLite opens
//! its own files. The CLI derives the path from the environment file it
//! opened.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension as _, params};
use serde::Serialize;

pub use failback_formats::audit_log::{Anchor, RunAnchors};

/// The journal's file name inside the environment's state directory.
pub const JOURNAL_FILE: &str = "journal.sqlite";

/// The journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the journal `{path}` cannot be opened")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the journal cannot be {what}")]
    Sql {
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the journal has no run `{0}`")]
    NoRun(i64),
    #[error("the shared journal cannot be {what}")]
    Shared {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "this process no longer holds the deployment's lock (its database session ended): it stops here, and the run is resumable"
    )]
    LockLost,
}

fn sql(what: &'static str) -> impl FnOnce(rusqlite::Error) -> JournalError {
    move |source| JournalError::Sql { what, source }
}

/// How a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Started and not ended: running now, or interrupted (a crash).
    Running,
    /// Every step done and verified.
    Done,
    /// Stopped before acting: drift, a postcondition mismatch or a veto.
    Halted,
    /// Stopped by a plugin error, a trap or a failed verification.
    Failed,
}

impl RunState {
    /// The name stored and shown.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Halted => "halted",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "done" => Self::Done,
            "halted" => Self::Halted,
            "failed" => Self::Failed,
            _ => Self::Running,
        }
    }
}

/// One run, as `failback status` and `failback history` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    pub id: i64,
    /// The plan's digest (`failback_core::document::digest`).
    pub plan_digest: String,
    /// Seconds since the Unix epoch.
    pub started: u64,
    pub ended: Option<u64>,
    pub state: RunState,
    /// Why it stopped, when it did not finish.
    pub message: Option<String>,
    /// Planned steps in the plan.
    pub steps: u32,
    /// Steps with an outcome.
    pub done: u32,
    /// The step whose intent has no outcome, if any.
    pub in_doubt: Option<usize>,
    /// The operator's overrides, each `rule: reason`.
    pub overrides: Vec<String>,
    /// Who approved the plan (`[approvals]`), each `SHA256:… (comment)`; the
    /// signatures themselves are in the journaled plan's `approvals`.
    pub approvals: Vec<String>,
}

impl RunRecord {
    /// Whether `failback resume` can continue it: not when it stopped where
    /// resuming would stop again (its message ends with
    /// [`NOT_RESUMABLE`]).
    #[must_use]
    pub fn resumable(&self) -> bool {
        self.state != RunState::Done
            && !self
                .message
                .as_deref()
                .is_some_and(|m| m.ends_with(NOT_RESUMABLE))
    }
}

/// One step's journal row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRecord {
    pub index: usize,
    pub action: String,
    pub intent_at: u64,
    pub outcome_at: Option<u64>,
    /// `done`, `already-held` (verified on resume), `halted`, `failed`.
    pub outcome: Option<String>,
    pub detail: Option<String>,
}

/// The end of a run's journaled message when resuming it would meet the same
/// stop: what [`RunRecord::resumable`] reads.
pub const NOT_RESUMABLE: &str = "resuming meets the same stop: the way on is a fresh plan, which restores the TTLs this run lowered";

/// What the apply engine and the commands that read runs need of a journal,
/// whichever store keeps it: the SQLite file of one environment
/// ([`SqliteJournal`]) or the PostgreSQL database of one deployment
/// ([`crate::pg::PgJournal`]). Each write is durable when it returns, but
/// [`JournalStore::op_outcome`] (see there).
pub trait JournalStore: Send {
    /// Record where run `run`'s first audit record is.
    fn anchor_first(&self, run: i64, anchor: &Anchor) -> Result<(), JournalError>;
    /// Record where run `run`'s last durable audit record is.
    fn anchor_last(&self, run: i64, anchor: &Anchor) -> Result<(), JournalError>;
    /// Every run's audit anchors, oldest run first.
    fn anchors(&self) -> Result<Vec<RunAnchors>, JournalError>;
    /// The plan digest journaled with run `run`.
    fn digest_of(&self, run: i64) -> Result<String, JournalError>;
    /// Forget the operations of step `step` of run `run`: the step starts
    /// anew, every operation run again.
    fn reset_operations(&self, run: i64, step: usize) -> Result<(), JournalError>;
    /// Start a run of the plan whose JSON is `plan_json`, approved by
    /// `approvals` (each `SHA256:… (comment)`).
    fn start_run(
        &self,
        plan_digest: &str,
        plan_json: &str,
        overrides: &[String],
        approvals: &[String],
        steps: u32,
    ) -> Result<i64, JournalError>;
    /// End run `run` in `state`, with `message` when it did not finish.
    fn end_run(&self, run: i64, state: RunState, message: Option<&str>)
    -> Result<(), JournalError>;
    /// Mark run `run` as running again (`failback resume`).
    fn reopen_run(&self, run: i64) -> Result<(), JournalError> {
        self.end_run(run, RunState::Running, None)
    }
    /// The plan JSON of run `run`.
    fn plan_of(&self, run: i64) -> Result<String, JournalError>;
    /// The overrides of run `run`, each (rule, reason).
    fn overrides_of(&self, run: i64) -> Result<Vec<(String, String)>, JournalError>;
    /// Record that step `step` of run `run` is about to act. Durable when this
    /// returns.
    fn step_intent(&self, run: i64, step: usize, action: &str) -> Result<(), JournalError>;
    /// Record how step `step` of run `run` ended.
    fn step_outcome(
        &self,
        run: i64,
        step: usize,
        outcome: &str,
        detail: Option<&str>,
    ) -> Result<(), JournalError>;
    /// Forget a step's failed or halted outcome: resume attempts the step
    /// again (its intent stays).
    fn reopen_step(&self, run: i64, step: usize) -> Result<(), JournalError>;
    /// Record that operation `op` of step `step` is about to act. Durable
    /// when this returns.
    fn op_intent(&self, run: i64, step: usize, op: usize) -> Result<(), JournalError>;
    /// Record that operation `op` of step `step` took effect. A store may
    /// make it durable only with its next durable write: lost, it leaves the
    /// operation in doubt, which resuming judges by its effect.
    fn op_outcome(&self, run: i64, step: usize, op: usize) -> Result<(), JournalError>;
    /// The operations of run `run` with an intent: (step, op, has outcome).
    fn operations(&self, run: i64) -> Result<Vec<(usize, usize, bool)>, JournalError>;
    /// The steps of run `run` with an intent, in order.
    fn steps(&self, run: i64) -> Result<Vec<StepRecord>, JournalError>;
    /// Every run, newest first (at most `limit`).
    fn runs(&self, limit: u32) -> Result<Vec<RunRecord>, JournalError>;
    /// The newest run, if any.
    fn last_run(&self) -> Result<Option<RunRecord>, JournalError> {
        Ok(self.runs(1)?.into_iter().next())
    }
    /// The newest run that finished (`done`) a failover plan (`plan
    /// --failover`): its id and its plan JSON, from whose start a failback
    /// learns where federation was moved from
    /// (`failback_core::intent::FailedOverFrom`). Read through
    /// [`JournalStore::runs`] and [`JournalStore::plan_of`], so every store
    /// answers it the same way.
    fn last_finished_failover(&self) -> Result<Option<(i64, String)>, JournalError> {
        for run in self.runs(u32::MAX)? {
            if run.state != RunState::Done {
                continue;
            }
            let plan = self.plan_of(run.id)?;
            let runbook = serde_json::from_str::<serde_json::Value>(&plan)
                .ok()
                .and_then(|p| p["intent"]["runbook"].as_str().map(str::to_owned));
            if runbook.as_deref() == Some("failover") {
                return Ok(Some((run.id, plan)));
            }
        }
        Ok(None)
    }
}

/// A journal, whichever store keeps it.
pub type Journal = dyn JournalStore;

/// The overrides journaled as a JSON list of `rule: reason`, each (rule,
/// reason).
#[must_use]
pub fn parse_overrides(text: &str) -> Vec<(String, String)> {
    let list: Vec<String> = serde_json::from_str(text).unwrap_or_default();
    list.into_iter()
        .filter_map(|o| {
            o.split_once(": ")
                .map(|(r, why)| (r.to_owned(), why.to_owned()))
        })
        .collect()
}

/// A list journaled as JSON (overrides, approvals).
#[must_use]
pub fn list_json(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// The journal of one environment, in SQLite.
#[derive(Debug)]
pub struct SqliteJournal {
    db: Connection,
}

/// Seconds since the Unix epoch, now.
#[must_use]
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `secs` since the Unix epoch as RFC 3339 UTC (`2026-11-26T15:04:05Z`).
#[must_use]
pub fn format_time(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl SqliteJournal {
    /// Open (or create) the journal at `path`.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let db = Connection::open(path).map_err(|source| JournalError::Open {
            path: path.display().to_string(),
            source,
        })?;
        // WAL with FULL sync: a committed intent survives a crash or a power
        // cut; the busy timeout covers a concurrent `status` reader.
        db.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql("set to write-ahead logging"))?;
        db.pragma_update(None, "synchronous", "FULL")
            .map_err(sql("set to synchronous writes"))?;
        db.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql("given a busy timeout"))?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                plan_digest TEXT NOT NULL,
                plan TEXT NOT NULL,
                overrides TEXT NOT NULL,
                steps INTEGER NOT NULL,
                started INTEGER NOT NULL,
                ended INTEGER,
                state TEXT NOT NULL,
                message TEXT
            );
            CREATE TABLE IF NOT EXISTS steps (
                run INTEGER NOT NULL REFERENCES runs(id),
                step INTEGER NOT NULL,
                action TEXT NOT NULL,
                intent_at INTEGER NOT NULL,
                outcome_at INTEGER,
                outcome TEXT,
                detail TEXT,
                PRIMARY KEY (run, step)
            );
            CREATE TABLE IF NOT EXISTS operations (
                run INTEGER NOT NULL REFERENCES runs(id),
                step INTEGER NOT NULL,
                op INTEGER NOT NULL,
                intent_at INTEGER NOT NULL,
                outcome_at INTEGER,
                PRIMARY KEY (run, step, op)
            );",
        )
        .map_err(sql("created"))?;
        // The audit anchors came with plan format 2, the approvals after it:
        // add them to a journal an older failback made.
        let columns: Vec<String> = db
            .prepare("SELECT name FROM pragma_table_info('runs')")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(sql("read (its columns)"))?;
        for column in [
            "audit_first_seq INTEGER",
            "audit_first_hash TEXT",
            "audit_last_seq INTEGER",
            "audit_last_hash TEXT",
            "approvals TEXT",
        ] {
            let name = column.split(' ').next().unwrap_or_default();
            if !columns.iter().any(|c| c == name) {
                db.execute_batch(&format!("ALTER TABLE runs ADD COLUMN {column}"))
                    .map_err(sql("upgraded"))?;
            }
        }
        Ok(Self { db })
    }

    /// Run `write` with `synchronous=NORMAL` (in WAL mode: the commit is
    /// written to the log, not synced), then back to `FULL`.
    fn unsynced<T>(
        &self,
        write: impl FnOnce(&Connection) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        self.db
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql("set to unsynced writes"))?;
        let written = write(&self.db);
        self.db
            .pragma_update(None, "synchronous", "FULL")
            .map_err(sql("set to synchronous writes"))?;
        written
    }
}

impl JournalStore for SqliteJournal {
    /// Record where run `run`'s first audit record is.
    fn anchor_first(&self, run: i64, anchor: &Anchor) -> Result<(), JournalError> {
        self.db
            .execute(
                "UPDATE runs SET audit_first_seq = ?2, audit_first_hash = ?3,
                    audit_last_seq = ?2, audit_last_hash = ?3 WHERE id = ?1",
                params![run, to_i64(anchor.seq), anchor.hash],
            )
            .map_err(sql("written (a run's first audit record)"))?;
        Ok(())
    }

    /// Record where run `run`'s last durable audit record is.
    fn anchor_last(&self, run: i64, anchor: &Anchor) -> Result<(), JournalError> {
        self.db
            .execute(
                "UPDATE runs SET audit_last_seq = ?2, audit_last_hash = ?3 WHERE id = ?1",
                params![run, to_i64(anchor.seq), anchor.hash],
            )
            .map_err(sql("written (a run's last audit record)"))?;
        Ok(())
    }

    /// Every run's audit anchors, oldest run first.
    fn anchors(&self) -> Result<Vec<RunAnchors>, JournalError> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT id, audit_first_seq, audit_first_hash, audit_last_seq, audit_last_hash
                 FROM runs ORDER BY id",
            )
            .map_err(sql("read (audit anchors)"))?;
        let anchor = |seq: Option<i64>, hash: Option<String>| {
            seq.zip(hash).map(|(seq, hash)| Anchor {
                seq: to_u64(seq),
                hash,
            })
        };
        let rows = stmt
            .query_map([], |r| {
                Ok(RunAnchors {
                    run: r.get(0)?,
                    first: anchor(r.get(1)?, r.get(2)?),
                    last: anchor(r.get(3)?, r.get(4)?),
                })
            })
            .map_err(sql("read (audit anchors)"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("read (audit anchors)"))
    }

    /// The plan digest journaled with run `run`.
    fn digest_of(&self, run: i64) -> Result<String, JournalError> {
        self.db
            .query_row("SELECT plan_digest FROM runs WHERE id = ?1", [run], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql("read (a run's plan digest)"))?
            .ok_or(JournalError::NoRun(run))
    }

    /// Forget the operations of step `step` of run `run`: the step starts
    /// anew, every operation run again.
    fn reset_operations(&self, run: i64, step: usize) -> Result<(), JournalError> {
        self.db
            .execute(
                "DELETE FROM operations WHERE run = ?1 AND step = ?2",
                params![run, to_i64(step as u64)],
            )
            .map_err(sql("written (a step's operations reset)"))?;
        Ok(())
    }

    /// Start a run of the plan whose JSON is `plan_json`, approved by
    /// `approvals` (each `SHA256:… (comment)`).
    fn start_run(
        &self,
        plan_digest: &str,
        plan_json: &str,
        overrides: &[String],
        approvals: &[String],
        steps: u32,
    ) -> Result<i64, JournalError> {
        self.db
            .execute(
                "INSERT INTO runs (plan_digest, plan, overrides, approvals, steps, started, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running')",
                params![
                    plan_digest,
                    plan_json,
                    list_json(overrides),
                    list_json(approvals),
                    steps,
                    to_i64(now())
                ],
            )
            .map_err(sql("written (a new run)"))?;
        Ok(self.db.last_insert_rowid())
    }

    /// End run `run` in `state`, with `message` when it did not finish.
    fn end_run(
        &self,
        run: i64,
        state: RunState,
        message: Option<&str>,
    ) -> Result<(), JournalError> {
        let ended = (state != RunState::Running).then(|| to_i64(now()));
        self.db
            .execute(
                "UPDATE runs SET state = ?2, ended = ?3, message = ?4 WHERE id = ?1",
                params![run, state.name(), ended, message],
            )
            .map_err(sql("written (a run's end)"))?;
        Ok(())
    }

    /// The plan JSON of run `run`.
    fn plan_of(&self, run: i64) -> Result<String, JournalError> {
        self.db
            .query_row("SELECT plan FROM runs WHERE id = ?1", [run], |r| r.get(0))
            .optional()
            .map_err(sql("read (a run's plan)"))?
            .ok_or(JournalError::NoRun(run))
    }

    /// The overrides of run `run`, each (rule, reason).
    fn overrides_of(&self, run: i64) -> Result<Vec<(String, String)>, JournalError> {
        let text: String = self
            .db
            .query_row("SELECT overrides FROM runs WHERE id = ?1", [run], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql("read (a run's overrides)"))?
            .ok_or(JournalError::NoRun(run))?;
        Ok(parse_overrides(&text))
    }

    /// Record that step `step` of run `run` is about to act. Durable when this
    /// returns.
    fn step_intent(&self, run: i64, step: usize, action: &str) -> Result<(), JournalError> {
        self.db
            .execute(
                "INSERT OR IGNORE INTO steps (run, step, action, intent_at) VALUES (?1, ?2, ?3, ?4)",
                params![run, to_i64(step as u64), action, to_i64(now())],
            )
            .map_err(sql("written (a step's intent)"))?;
        Ok(())
    }

    /// Record how step `step` of run `run` ended.
    fn step_outcome(
        &self,
        run: i64,
        step: usize,
        outcome: &str,
        detail: Option<&str>,
    ) -> Result<(), JournalError> {
        self.db
            .execute(
                "UPDATE steps SET outcome_at = ?3, outcome = ?4, detail = ?5 WHERE run = ?1 AND step = ?2",
                params![run, to_i64(step as u64), to_i64(now()), outcome, detail],
            )
            .map_err(sql("written (a step's outcome)"))?;
        Ok(())
    }

    /// Forget a step's failed or halted outcome: resume attempts the step
    /// again (its intent stays).
    fn reopen_step(&self, run: i64, step: usize) -> Result<(), JournalError> {
        self.db
            .execute(
                "UPDATE steps SET outcome_at = NULL, outcome = NULL, detail = NULL
                 WHERE run = ?1 AND step = ?2 AND outcome IN ('halted', 'failed')",
                params![run, to_i64(step as u64)],
            )
            .map_err(sql("written (a step reopened)"))?;
        Ok(())
    }

    /// Record that operation `op` of step `step` is about to act.
    fn op_intent(&self, run: i64, step: usize, op: usize) -> Result<(), JournalError> {
        self.db
            .execute(
                "INSERT OR IGNORE INTO operations (run, step, op, intent_at) VALUES (?1, ?2, ?3, ?4)",
                params![run, to_i64(step as u64), to_i64(op as u64), to_i64(now())],
            )
            .map_err(sql("written (an operation's intent)"))?;
        Ok(())
    }

    /// Record that operation `op` of step `step` took effect. Written without
    /// its own sync: it is durable with the next write that syncs (the next
    /// operation's intent, the step's outcome), which reaches the disk after
    /// it or not at all (the write-ahead log is replayed in order). Lost in a
    /// power cut, it leaves the operation in doubt, and resuming judges an
    /// operation in doubt by its effect before running it again
    /// ([`crate::apply`]): one sync per operation saved, no side effect
    /// repeated.
    fn op_outcome(&self, run: i64, step: usize, op: usize) -> Result<(), JournalError> {
        self.unsynced(|db| {
            db.execute(
                "UPDATE operations SET outcome_at = ?4 WHERE run = ?1 AND step = ?2 AND op = ?3",
                params![run, to_i64(step as u64), to_i64(op as u64), to_i64(now())],
            )
            .map_err(sql("written (an operation's outcome)"))
        })?;
        Ok(())
    }

    /// The operations of run `run` with an intent: (step, op, has outcome).
    fn operations(&self, run: i64) -> Result<Vec<(usize, usize, bool)>, JournalError> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT step, op, outcome_at IS NOT NULL FROM operations WHERE run = ?1 ORDER BY step, op",
            )
            .map_err(sql("read (operations)"))?;
        let rows = stmt
            .query_map([run], |r| {
                Ok((
                    usize::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    r.get::<_, bool>(2)?,
                ))
            })
            .map_err(sql("read (operations)"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("read (operations)"))
    }

    /// The steps of run `run` with an intent, in order.
    fn steps(&self, run: i64) -> Result<Vec<StepRecord>, JournalError> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT step, action, intent_at, outcome_at, outcome, detail FROM steps
                 WHERE run = ?1 ORDER BY step",
            )
            .map_err(sql("read (steps)"))?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(StepRecord {
                    index: usize::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    action: r.get(1)?,
                    intent_at: to_u64(r.get(2)?),
                    outcome_at: r.get::<_, Option<i64>>(3)?.map(to_u64),
                    outcome: r.get(4)?,
                    detail: r.get(5)?,
                })
            })
            .map_err(sql("read (steps)"))?;
        rows.collect::<Result<_, _>>().map_err(sql("read (steps)"))
    }

    /// Every run, newest first (at most `limit`).
    fn runs(&self, limit: u32) -> Result<Vec<RunRecord>, JournalError> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT id, plan_digest, started, ended, state, message, steps, overrides,
                    (SELECT COUNT(*) FROM steps s WHERE s.run = runs.id AND s.outcome IS NOT NULL
                        AND s.outcome IN ('done', 'already-held')),
                    (SELECT MIN(step) FROM steps s WHERE s.run = runs.id AND s.outcome IS NULL),
                    approvals
                 FROM runs ORDER BY id DESC LIMIT ?1",
            )
            .map_err(sql("read (runs)"))?;
        let rows = stmt
            .query_map([limit], |r| {
                let overrides: String = r.get(7)?;
                let approvals: Option<String> = r.get(10)?;
                Ok(RunRecord {
                    id: r.get(0)?,
                    plan_digest: r.get(1)?,
                    started: to_u64(r.get(2)?),
                    ended: r.get::<_, Option<i64>>(3)?.map(to_u64),
                    state: RunState::parse(&r.get::<_, String>(4)?),
                    message: r.get(5)?,
                    steps: r.get(6)?,
                    overrides: serde_json::from_str(&overrides).unwrap_or_default(),
                    done: r.get(8)?,
                    in_doubt: r
                        .get::<_, Option<i64>>(9)?
                        .and_then(|s| usize::try_from(s).ok()),
                    approvals: approvals
                        .and_then(|a| serde_json::from_str(&a).ok())
                        .unwrap_or_default(),
                })
            })
            .map_err(sql("read (runs)"))?;
        rows.collect::<Result<_, _>>().map_err(sql("read (runs)"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn the_last_finished_failover_is_the_newest_done_run_of_a_failover_plan() {
        let dir = tempfile::tempdir().unwrap();
        let j = SqliteJournal::open(&dir.path().join(JOURNAL_FILE)).unwrap();
        assert_eq!(j.last_finished_failover().unwrap(), None);
        let failover = r#"{"intent": {"runbook": "failover"}}"#;
        let failback = r#"{"intent": {}}"#;
        let first = j.start_run("a", failover, &[], &[], 1).unwrap();
        j.end_run(first, RunState::Done, None).unwrap();
        let halted = j.start_run("b", failover, &[], &[], 1).unwrap();
        j.end_run(halted, RunState::Halted, Some("drift")).unwrap();
        let back = j.start_run("c", failback, &[], &[], 1).unwrap();
        j.end_run(back, RunState::Done, None).unwrap();
        // A failback after it, and a failover that did not finish, leave the
        // finished failover the last one.
        assert_eq!(
            j.last_finished_failover().unwrap(),
            Some((first, failover.to_owned()))
        );
        let second = j.start_run("d", failover, &[], &[], 1).unwrap();
        assert_eq!(
            j.last_finished_failover().unwrap(),
            Some((first, failover.to_owned()))
        );
        j.end_run(second, RunState::Done, None).unwrap();
        assert_eq!(
            j.last_finished_failover().unwrap(),
            Some((second, failover.to_owned()))
        );
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_795_705_445), "2026-11-26T15:04:05Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn an_operation_outcome_is_written_unsynced_and_every_other_write_synced() {
        let dir = tempfile::tempdir().unwrap();
        let j = SqliteJournal::open(&dir.path().join(JOURNAL_FILE)).unwrap();
        let synchronous = |j: &SqliteJournal| -> i64 {
            j.db.pragma_query_value(None, "synchronous", |row| row.get(0))
                .unwrap()
        };
        let run = j.start_run("abc", "{}", &[], &[], 1).unwrap();
        j.step_intent(run, 1, "set-federation-edge").unwrap();
        j.op_intent(run, 1, 0).unwrap();
        j.op_outcome(run, 1, 0).unwrap();
        // Back to FULL (2) for the next intent.
        assert_eq!(synchronous(&j), 2);
        j.op_intent(run, 1, 1).unwrap();
        drop(j);
        // Reopened: the outcome, synced with the next intent, is there.
        let j = SqliteJournal::open(&dir.path().join(JOURNAL_FILE)).unwrap();
        assert_eq!(j.operations(run).unwrap(), [(1, 0, true), (1, 1, false)]);
    }

    #[test]
    fn a_step_with_an_intent_and_no_outcome_is_in_doubt() {
        let dir = tempfile::tempdir().unwrap();
        let j = SqliteJournal::open(&dir.path().join(JOURNAL_FILE)).unwrap();
        let run = j.start_run("abc", "{}", &[], &[], 3).unwrap();
        j.step_intent(run, 1, "lower-ttl").unwrap();
        j.step_outcome(run, 1, "done", None).unwrap();
        j.step_intent(run, 2, "start-edge-services").unwrap();
        j.op_intent(run, 2, 0).unwrap();
        let r = j.last_run().unwrap().unwrap();
        assert_eq!(
            (r.state, r.done, r.in_doubt),
            (RunState::Running, 1, Some(2))
        );
        assert_eq!(j.operations(run).unwrap(), [(2, 0, false)]);
        drop(j);
        // Reopened: everything is still there.
        let j = SqliteJournal::open(&dir.path().join(JOURNAL_FILE)).unwrap();
        j.end_run(run, RunState::Failed, Some("boom")).unwrap();
        let r = j.last_run().unwrap().unwrap();
        assert_eq!(r.state, RunState::Failed);
        assert_eq!(r.message.as_deref(), Some("boom"));
        assert!(r.ended.is_some());
    }
}
