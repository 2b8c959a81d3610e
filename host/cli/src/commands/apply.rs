//! `failback apply` and `failback resume`: take the environment's lock, open
//! the journal and the audit log beside the environment (`.failback/`), and
//! run a plan through the runtime's apply engine.
//!
//! Test only: `FAILBACK_TEST_FAILPOINT=<point>:<n>[:sleep-ms=<ms>|:wait-stdin]`
//! aborts (or pauses) the process at the n-th pass of a journal point
//! (`failback_runtime::apply::FAILPOINTS`); the crash-safety tests use it. It
//! has no use in operation.

#![expect(clippy::print_stdout, reason = "the command's report goes to stdout")]

use std::fmt::Write as _;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use failback_core::document;
use failback_core::plan::Plan;
use failback_core::render;
use failback_runtime::apply::{ApplyOptions, Ended, Failpoint, Halt, diff};
use failback_runtime::audit_log::AUDIT_FILE;
use failback_runtime::journal::{JOURNAL_FILE, RunState};
use failback_runtime::lock::LOCK_FILE;
use failback_runtime::pg::PgJournal;
use failback_runtime::session::changed_components;
use failback_runtime::{
    AuditLog, AuditSink, Decision, EnvironmentLock, Executor, GateError, Holder, Journal,
    LockError, Overrides, SessionError, SqliteJournal,
};

use crate::Outcome;
use crate::cli::{ApplyArgs, Format, ResumeArgs};
use crate::commands::{explain_veto, progress};
use crate::session::{self, Session};
use crate::store::Store;

/// The environment opened for a run: its lock held, its journal and audit
/// trail open — beside the environment (`.failback/`), or in the
/// deployment's shared journal — its plugins and policies loaded with the
/// audit trail as sink.
pub struct Opened {
    /// The local lock, held until this value is dropped (a shared journal's
    /// lock is its connection's, held as long as the journal).
    _lock: Option<EnvironmentLock>,
    pub audit: Arc<dyn AuditSink>,
    pub session: Session,
    pub journal: Box<Journal>,
    /// The environment file, absolute: what `failback resume --env` takes.
    pub env: PathBuf,
    /// Whether the journal is shared between machines (`[journal]`).
    pub shared: bool,
}

impl Opened {
    /// Lock the environment of `env` for `command`, waiting up to
    /// `lock_wait` for another holder to let go, then open it.
    pub fn open(env: &Path, command: &str, lock_wait: Duration) -> Result<Self> {
        let root = session::root_of(env);
        let state = session::state_dir(&root)?;
        let store = Store::of(env)?;
        let holder = Holder::this_process(command);
        let (lock, audit, journal): (_, Arc<dyn AuditSink>, Option<Box<Journal>>) = match &store {
            Store::Local { .. } => {
                let lock = lock_local(&state.join(LOCK_FILE), &holder, lock_wait)
                    .map_err(|e| anyhow!("refusing to {command}: {e}"))?;
                let audit = AuditLog::open(&state.join(AUDIT_FILE))
                    .context("cannot open the audit log (check it with `failback audit verify`)")?;
                if let Some(torn) = audit.repaired() {
                    eprintln!(
                        "note: the audit log's last line (line {}, {} bytes) was cut short by a crash; it was dropped, and the repair is recorded",
                        torn.line, torn.bytes
                    );
                }
                (Some(lock), Arc::new(audit) as Arc<dyn AuditSink>, None)
            }
            Store::Shared { target, deployment } => {
                let journal = PgJournal::open(target, deployment).with_context(|| {
                    format!("refusing to {command}: the shared journal cannot be used")
                })?;
                journal
                    .lock(&holder, lock_wait)
                    .map_err(|e| anyhow!("refusing to {command}: {e}"))?;
                let audit = journal.audit()?;
                (
                    None,
                    Arc::new(audit) as Arc<dyn AuditSink>,
                    Some(Box::new(journal) as Box<Journal>),
                )
            }
        };
        let session = match session::open_audited(env, Some(Arc::clone(&audit))) {
            Ok(session) => session,
            Err(error) => {
                // A plugin or policy module that may not load is a
                // decision too.
                audit.decision(Decision {
                    detail: Some(
                        error
                            .chain()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(": "),
                    ),
                    ..Decision::new("plugin-refused")
                });
                let _ = audit.checkpoint();
                return Err(error);
            }
        };
        let journal = match journal {
            Some(journal) => journal,
            None => Box::new(SqliteJournal::open(&state.join(JOURNAL_FILE))?),
        };
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot resolve `{}`", root.display()))?;
        let env = root.join(
            env.file_name()
                .map_or_else(|| PathBuf::from("failback.toml"), PathBuf::from),
        );
        Ok(Self {
            _lock: lock,
            audit,
            session,
            journal,
            env,
            shared: store.is_shared(),
        })
    }

    /// The command that resumes this environment's run.
    pub fn resume_command(&self) -> String {
        format!("failback resume --env {}", self.env.display())
    }
}

/// The way on from a run that resuming cannot continue, for the environment
/// file `env`: where the deployment stands, then a fresh plan over the run.
pub fn fresh_plan_way(env: &Path) -> String {
    format!(
        "see where the deployment stands with `failback verify --env {env}`, then make a fresh plan with `failback plan --env {env}` (it restores the TTLs the run lowered) and apply it with `failback apply --env {env}`",
        env = env.display()
    )
}

/// Take the local lock at `path`, trying again until `wait` has passed.
fn lock_local(path: &Path, holder: &Holder, wait: Duration) -> Result<EnvironmentLock, LockError> {
    let started = Instant::now();
    loop {
        match EnvironmentLock::acquire(path, holder) {
            Err(LockError::Held { .. }) if started.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(100));
            }
            taken => return taken,
        }
    }
}

/// Audit a decision taken before any run (a refusal), and make it durable.
fn audit_refusal(opened: &Opened, decision: Decision) {
    opened.audit.decision(decision);
    // The refusal is reported either way; a log that cannot be written shows
    // at the next apply.
    let _ = opened.audit.checkpoint();
}

/// Read the saved plan at `path`: a plan document of this format, its digest
/// matching its content.
fn load_saved(path: &Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the saved plan `{}`", path.display()))?;
    document::read(&text).with_context(|| {
        format!(
            "`{}` is not a plan this failback can apply (make one with `failback plan --out FILE --format json`)",
            path.display()
        )
    })
}

fn confirm(plan: &Plan, env: &Path) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to apply without confirmation: standard input is not a terminal; \
             review the plan above and pass `--yes` to apply it"
        );
    }
    eprint!(
        "apply these {} steps to `{}`? [y/N] ",
        plan.planned().count(),
        env.display()
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// A refused `--override` (unknown, hard, or without a reason), if `error`
/// is one.
fn refused_override(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        let gate = match cause.downcast_ref::<SessionError>() {
            Some(SessionError::Gate(e)) => Some(e),
            _ => cause.downcast_ref::<GateError>(),
        };
        gate.and_then(|e| match e {
            GateError::OverrideUnknown { .. }
            | GateError::OverrideHard { .. }
            | GateError::OverrideReason { .. } => Some(e.to_string()),
            _ => None,
        })
    })
}

pub fn apply(args: ApplyArgs) -> Result<Outcome> {
    let overrides = args.overrides.overrides()?;
    let opened = Opened::open(&args.env, "apply", args.lock_wait.wait())?;
    if let Some(last) = opened.journal.last_run()?
        && last.state == RunState::Running
    {
        bail!(
            "run {} of this environment was interrupted{}; continue it first with `{}`",
            last.id,
            last.in_doubt
                .map(|s| format!(" at step {s}"))
                .unwrap_or_default(),
            opened.resume_command()
        );
    }
    let required = opened.session.approvals.required();
    if required > 0 && args.plan.is_none() {
        let why = format!(
            "`[approvals]` requires {required} approval{} of a saved plan, and a fresh plan has none",
            if required == 1 { "" } else { "s" }
        );
        audit_refusal(
            &opened,
            Decision {
                detail: Some(why.clone()),
                ..Decision::new("unapproved")
            },
        );
        bail!(
            "refusing to apply: {why}; save the plan with `failback plan --env {env} --out plan.json --format json`, have it approved with `failback plan approve plan.json --key KEY`, then `failback apply plan.json --env {env}`",
            env = opened.env.display()
        );
    }
    let mut approvers = Vec::new();
    let made = match &args.plan {
        Some(path) => load_saved(path).and_then(|saved| {
            approvers = approved(&opened, path, &saved)?;
            let freshness = opened.session.freshness(&saved, &overrides)?;
            let why = freshness.lines();
            let mut plan = freshness.derived;
            if why.is_empty() {
                // The run journals the approvals it was started with.
                plan.approvals = saved.approvals;
                return Ok(plan);
            }
            audit_refusal(
                &opened,
                Decision {
                    plan_digest: Some(saved.digest.clone()),
                    detail: Some(why.join("\n")),
                    ..Decision::new("digest-mismatch")
                },
            );
            bail!(
                "refusing the saved plan `{}` (sha256 {}): re-derived now, it is another plan (sha256 {})\n  {}\nmake a new one with `failback plan --env {} --out FILE --format json`",
                path.display(),
                saved.digest,
                plan.digest,
                why.join("\n  "),
                opened.env.display()
            );
        }),
        None => {
            let unfinished = crate::store::unfinished_in(opened.journal.as_ref())?;
            let failed_over = crate::store::failed_over_in(opened.journal.as_ref())?;
            session::plan_now(&opened.session, &args.intent, &overrides, unfinished.as_ref(), failed_over.as_ref()).inspect(|plan| {
                if args.format == Format::Text {
                    print!("{}", render::text(plan));
                }
            })
        }
    };
    let plan = match made {
        Ok(plan) => plan,
        Err(error) => {
            if let Some(refusal) = refused_override(&error) {
                audit_refusal(
                    &opened,
                    Decision {
                        detail: Some(refusal),
                        ..Decision::new("override-refused")
                    },
                );
            }
            return Err(error);
        }
    };
    if plan.is_vetoed() {
        audit_refusal(
            &opened,
            Decision {
                plan_digest: Some(plan.digest.clone()),
                findings: plan
                    .findings
                    .iter()
                    .filter(|f| f.blocking)
                    .cloned()
                    .collect(),
                ..Decision::new("vetoed")
            },
        );
        explain_veto(&plan);
        eprintln!("nothing was applied");
        return Ok(Outcome::Vetoed);
    }
    if plan.is_satisfied() {
        println!("nothing to do: every step's postcondition already holds");
        return Ok(Outcome::Ok);
    }
    if args.plan.is_none() && !args.yes && !confirm(&plan, &opened.env)? {
        eprintln!("not applied");
        return Ok(Outcome::Ok);
    }
    execute(
        &opened,
        &plan,
        &overrides_of(&plan),
        &approvers,
        None,
        args.format,
    )
}

/// Who approved the saved plan at `path`, each `SHA256:… (comment)`, when
/// `[approvals]` requires it and enough distinct trusted keys did; otherwise
/// the refusal, audited, naming who approved, what did not count and who is
/// missing.
fn approved(opened: &Opened, path: &Path, saved: &Plan) -> Result<Vec<String>> {
    let policy = &opened.session.approvals;
    if policy.required() == 0 {
        return Ok(Vec::new());
    }
    match policy.judge(&saved.digest, &saved.approvals) {
        Ok(tally) => {
            for r in &tally.rejected {
                eprintln!(
                    "note: approval {}, by {}, not counted: {}",
                    r.number, r.by, r.why
                );
            }
            Ok(tally.approvers.iter().map(ToString::to_string).collect())
        }
        Err(error) => {
            audit_refusal(
                opened,
                Decision {
                    plan_digest: Some(saved.digest.clone()),
                    detail: Some(error.to_string()),
                    ..Decision::new("unapproved")
                },
            );
            bail!(
                "refusing the saved plan `{}` (sha256 {}): {error}
approve it with `failback plan approve {} --key KEY` (docs/apply.md)",
                path.display(),
                saved.digest,
                path.display()
            );
        }
    }
}

/// A plan's overrides, as the gate takes them.
fn overrides_of(plan: &Plan) -> Overrides {
    Overrides(
        plan.overrides
            .iter()
            .map(|o| (o.rule.clone(), o.reason.clone()))
            .collect(),
    )
}

pub fn resume(args: &ResumeArgs) -> Result<Outcome> {
    let opened = Opened::open(&args.run.env, "resume", args.lock_wait.wait())?;
    let args = &args.run;
    let Some(last) = opened.journal.last_run()? else {
        bail!("nothing to resume: this environment has no run (start one with `failback apply`)");
    };
    if last.state == RunState::Done {
        println!("nothing to resume: run {} is done", last.id);
        return Ok(Outcome::Ok);
    }
    // The run continues with the very plan it journaled, and only that.
    let journaled = opened.journal.digest_of(last.id)?;
    let plan = match document::read(&opened.journal.plan_of(last.id)?) {
        Ok(plan) if plan.digest == journaled => plan,
        read => {
            let why = match read {
                Ok(plan) => format!(
                    "its plan has sha256 {}, but the run was started with {journaled}",
                    plan.digest
                ),
                Err(e) => format!("its plan cannot be read: {e}"),
            };
            audit_refusal(
                &opened,
                Decision {
                    run: Some(last.id),
                    plan_digest: Some(journaled),
                    detail: Some(why.clone()),
                    ..Decision::new("journal-mismatch")
                },
            );
            bail!(
                "refusing to resume run {}: {why}\n{}",
                last.id,
                fresh_plan_way(&opened.env)
            );
        }
    };
    // The run continues with what it was planned and judged with, or not at
    // all. (The deployment itself is re-observed before each step.)
    // From a shared journal the run may be resumed on another machine, whose
    // environment file has its own paths and bytes: what must be equal is
    // what the run was planned and judged with — each plugin's component,
    // each policy module, every rule's level (docs/apply.md).
    let mut now = opened.session.provenance();
    if opened.shared {
        now.environment.clone_from(&plan.provenance.environment);
    }
    let changed: Vec<String> = changed_components(&plan.provenance, &now)
        .iter()
        .map(ToString::to_string)
        .collect();
    if !changed.is_empty() {
        audit_refusal(
            &opened,
            Decision {
                run: Some(last.id),
                plan_digest: Some(plan.digest.clone()),
                detail: Some(changed.join("\n")),
                ..Decision::new("digest-mismatch")
            },
        );
        bail!(
            "refusing to resume run {}: what it was planned and judged with changed\n  {}\nbind the plugins, policies and levels the run was made with again (the sha256s above), then resume",
            last.id,
            changed.join("\n  ")
        );
    }
    opened.journal.reopen_run(last.id)?;
    execute(
        &opened,
        &plan,
        &overrides_of(&plan),
        &[],
        Some(last.id),
        args.format,
    )
}

/// Run `plan` (as a new run approved by `approvals`, or as run `resume`),
/// report how it ended.
pub fn execute(
    opened: &Opened,
    plan: &Plan,
    overrides: &Overrides,
    approvals: &[String],
    resume: Option<i64>,
    format: Format,
) -> Result<Outcome> {
    let run = match resume {
        Some(run) => run,
        None => {
            let run = opened.journal.start_run(
                &plan.digest,
                &plan.to_json(),
                &overrides
                    .0
                    .iter()
                    .map(|(r, why)| format!("{r}: {why}"))
                    .collect::<Vec<_>>(),
                approvals,
                u32::try_from(plan.planned().count()).unwrap_or(u32::MAX),
            )?;
            // The run's first audit record, anchored in the journal.
            opened.audit.decision(Decision {
                run: Some(run),
                plan_digest: Some(plan.digest.clone()),
                approvals: approvals.to_vec(),
                ..Decision::new("run-start")
            });
            if let Some(anchor) = opened
                .audit
                .checkpoint()
                .context("the audit log could not be written")?
            {
                opened.journal.anchor_first(run, &anchor)?;
            }
            run
        }
    };
    if resume.is_some() {
        opened.audit.decision(Decision {
            run: Some(run),
            plan_digest: Some(plan.digest.clone()),
            ..Decision::new("run-resume")
        });
    }
    let failpoint = std::env::var("FAILBACK_TEST_FAILPOINT")
        .ok()
        .and_then(|f| Failpoint::parse(&f));
    let executor = Executor {
        plugins: &opened.session.plugins,
        gate: &opened.session.gate,
        audit: Arc::clone(&opened.audit),
        zone: &opened.session.environment.zone,
        journal: opened.journal.as_ref(),
        options: ApplyOptions {
            failpoint,
            ..ApplyOptions::default()
        },
    };
    let started = Instant::now();
    let mut progress = progress::for_format(format);
    let result = executor.run(plan, run, overrides, progress.as_mut());
    drop(progress);
    let resumable = match &result {
        Ok(Ended::Halted(halt)) => halt.resumable(),
        Ok(Ended::Done { .. }) => true,
        Err(e) => e.resumable(),
    };
    let resume_hint = if resumable {
        format!("resume it with: {}", opened.resume_command())
    } else {
        format!(
            "resuming would stop here again; {}",
            fresh_plan_way(&opened.env)
        )
    };
    let ended = result
        .with_context(|| format!("run {run} stopped; its state is journaled; {resume_hint}"))?;
    match ended {
        Ended::Done { end } => {
            if format == Format::Json {
                println!(
                    "{}",
                    serde_json::json!({
                        "event": "end",
                        "run": run,
                        "state": "done",
                        "changed": diff(&plan.start, &end),
                    })
                );
            } else {
                print!("{}", summary(run, plan, &end, started.elapsed()));
            }
            Ok(Outcome::Ok)
        }
        Ended::Halted(halt) => {
            if format == Format::Json {
                println!(
                    "{}",
                    serde_json::json!({"event": "end", "run": run, "state": "halted", "halt": halt})
                );
            }
            eprint!("{}", explain_halt(run, &halt, &resume_hint));
            Ok(match halt {
                Halt::Veto { .. } => Outcome::Vetoed,
                Halt::Drift { .. } | Halt::Postcondition { .. } | Halt::Draft { .. } => {
                    Outcome::Halted
                }
            })
        }
    }
}

/// What a finished run changed, for the operator.
pub fn summary(
    run: i64,
    plan: &Plan,
    end: &failback_core::deployment::Deployment,
    elapsed: std::time::Duration,
) -> String {
    let changed = diff(&plan.start, end);
    let mut out = format!(
        "run {run} done: {} steps applied and verified in {:.1} s; {} field{} changed:\n",
        plan.planned().count(),
        elapsed.as_secs_f64(),
        changed.len(),
        if changed.len() == 1 { "" } else { "s" }
    );
    for d in &changed {
        let _ = writeln!(out, "  {}", d.as_change());
    }
    out
}

/// Why a run halted, the diff or the findings, and how to go on.
pub fn explain_halt(run: i64, halt: &Halt, resume_hint: &str) -> String {
    let mut out = String::new();
    match halt {
        Halt::Drift { step, action, diff } => {
            let _ = writeln!(
                out,
                "halted before step {step} ({action}): the deployment is not in the state the plan predicts before it; nothing of this step was done"
            );
            for d in diff {
                let _ = writeln!(out, "  {d}");
            }
        }
        Halt::Postcondition { step, action, diff } => {
            let _ = writeln!(
                out,
                "halted after step {step} ({action}): the deployment is not in the state the plan predicts after it"
            );
            for d in diff {
                let _ = writeln!(out, "  {d}");
            }
        }
        Halt::Veto {
            step,
            action,
            findings,
        } => {
            let _ = writeln!(
                out,
                "vetoed before step {step} ({action}) on the observed state: nothing of this step was done"
            );
            render::findings(&mut out, findings);
        }
        Halt::Draft {
            step,
            action,
            draft,
            problem,
            diff,
        } => {
            let _ = writeln!(
                out,
                "halted before publishing in step {step} ({action}): the draft `{draft}` {}; nothing was published",
                problem.as_deref().unwrap_or(
                    "does not describe the state the plan predicts after the step (predicted, then what the draft says)"
                )
            );
            for d in diff {
                let _ = writeln!(
                    out,
                    "  {} {}: predicted {}, the draft says {}",
                    d.object, d.field, d.left, d.right
                );
            }
        }
    }
    if halt.resumable() {
        let _ = writeln!(out, "run {run} is halted; {resume_hint}");
    } else {
        // Resuming would meet the same draft: the way on is a new plan.
        let _ = writeln!(
            out,
            "run {run} is halted; its plan cannot be carried out as it is: {resume_hint}"
        );
    }
    out
}
