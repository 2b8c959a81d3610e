//! `failback apply` and `failback resume`: take the environment's lock, open
//! the journal and the audit log beside the environment (`.failback/`), and
//! run a plan through the runtime's apply engine.
//!
//! Test only: `FAILBACK_TEST_FAILPOINT=<point>:<n>[:sleep-ms=<ms>]` aborts (or
//! pauses) the process at the n-th pass of a journal point
//! (`failback_runtime::apply::FAILPOINTS`); the crash-safety tests use it. It
//! has no use in operation.

#![expect(clippy::print_stdout, reason = "the command's report goes to stdout")]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result, anyhow, bail};
use failback_core::plan::{Plan, PluginDigest, Provenance};
use failback_core::render;
use failback_runtime::apply::{ApplyOptions, Ended, Failpoint, Halt, diff};
use failback_runtime::audit_log::AUDIT_FILE;
use failback_runtime::journal::{JOURNAL_FILE, RunState};
use failback_runtime::lock::LOCK_FILE;
use failback_runtime::{
    AuditLog, AuditSink, EnvironmentLock, Executor, Holder, Journal, Overrides, Plugins,
};
use sha2::{Digest as _, Sha256};

use crate::Outcome;
use crate::cli::{ApplyArgs, Format, RunArgs};
use crate::commands::plan::{explain_veto, make, overrides};
use crate::commands::progress;
use crate::session::Session;

/// The environment opened for a run: its lock held, its journal and audit
/// log open, its plugins and policies loaded with the audit log as sink.
pub struct Opened {
    /// Held until this value is dropped.
    _lock: EnvironmentLock,
    pub audit: Arc<AuditLog>,
    pub session: Session,
    pub journal: Journal,
    /// The environment file, absolute: what `failback resume --env` takes.
    pub env: PathBuf,
}

impl Opened {
    /// Lock the environment of `env` for `command`, then open it.
    pub fn open(env: &Path, command: &str) -> Result<Self> {
        let root = Session::root_of(env);
        let state = Session::state_dir(&root)?;
        let lock = EnvironmentLock::acquire(&state.join(LOCK_FILE), &Holder::this_process(command))
            .map_err(|e| anyhow!("refusing to {command}: {e}"))?;
        let audit = Arc::new(
            AuditLog::open(&state.join(AUDIT_FILE))
                .context("cannot open the audit log (check it with `failback audit verify`)")?,
        );
        let session = Session::open_audited(env, Some(Arc::clone(&audit) as Arc<dyn AuditSink>))?;
        let journal = Journal::open(&state.join(JOURNAL_FILE))?;
        let env = session.root.join(
            env.file_name()
                .map_or_else(|| PathBuf::from("failback.toml"), PathBuf::from),
        );
        Ok(Self {
            _lock: lock,
            audit,
            session,
            journal,
            env,
        })
    }

    /// The command that resumes this environment's run.
    pub fn resume_command(&self) -> String {
        format!("failback resume --env {}", self.env.display())
    }
}

/// The sha256 of `text`, as hex.
pub fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The digests a saved plan carries, as they are now: the start state, the
/// policy modules and the plugins.
pub fn provenance(session: &Session, start: &failback_core::deployment::Deployment) -> Provenance {
    let start = serde_json::to_string(start).unwrap_or_default();
    Provenance {
        start: sha256(&start),
        policies: session
            .gate
            .digests()
            .into_iter()
            .map(|(name, digest)| (name, digest.to_string()))
            .collect(),
        plugins: plugin_digests(&session.plugins),
    }
}

fn plugin_digests(plugins: &Plugins) -> BTreeMap<String, PluginDigest> {
    let mut out = BTreeMap::new();
    let mut put = |plugin: Option<&failback_runtime::Plugin>| {
        if let Some(p) = plugin {
            out.insert(
                p.kind().to_string(),
                PluginDigest {
                    name: p.name().to_owned(),
                    sha256: p.digest().to_string(),
                },
            );
        }
    };
    put(plugins.dns_provider.as_ref().map(|p| p.plugin()));
    put(plugins.port_probe.as_ref().map(|p| p.plugin()));
    put(plugins.management_store.as_ref().map(|p| p.plugin()));
    put(plugins.server_control.as_ref().map(|p| p.plugin()));
    put(plugins.pool_control.as_ref().map(|p| p.plugin()));
    out
}

/// What differs between a saved plan's provenance and now; empty when fresh.
fn staleness(saved: &Plan, session: &Session) -> Result<Vec<String>> {
    let Some(then) = &saved.provenance else {
        bail!(
            "the saved plan carries no digests of the state, policies and plugins it was made from; \
             save one with `failback plan --out FILE --format json`"
        );
    };
    let observed = session.observe()?.deployment;
    let now = provenance(session, &observed);
    let mut out = Vec::new();
    if then.start != now.start || sha256(&serde_json::to_string(&saved.start)?) != then.start {
        out.push("the deployment changed since the plan was made:".to_owned());
        for d in diff(&saved.start, &observed) {
            out.push(format!("  {}", d.as_change()));
        }
    }
    out.extend(changed_components(then, &now));
    Ok(out)
}

/// The policy modules and plugins whose sha256 differs between `then` and `now`.
fn changed_components(then: &Provenance, now: &Provenance) -> Vec<String> {
    let mut out = Vec::new();
    let keys = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
        a.keys()
            .chain(b.keys())
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
    };
    for name in keys(&then.policies, &now.policies) {
        match (then.policies.get(&name), now.policies.get(&name)) {
            (Some(a), Some(b)) if a != b => {
                out.push(format!(
                    "policy module `{name}` changed: sha256 {a} then, {b} now"
                ));
            }
            (Some(_), None) => out.push(format!("policy module `{name}` is no longer loaded")),
            (None, Some(_)) => out.push(format!("policy module `{name}` was not loaded then")),
            _ => {}
        }
    }
    let kinds: std::collections::BTreeSet<&String> =
        then.plugins.keys().chain(now.plugins.keys()).collect();
    for kind in kinds {
        match (then.plugins.get(kind), now.plugins.get(kind)) {
            (Some(a), Some(b)) if a != b => out.push(format!(
                "the `{kind}` plugin changed: `{}` sha256 {} then, `{}` sha256 {} now",
                a.name, a.sha256, b.name, b.sha256
            )),
            (Some(a), None) => out.push(format!(
                "the `{kind}` plugin `{}` is no longer bound",
                a.name
            )),
            (None, Some(b)) => out.push(format!(
                "the `{kind}` plugin `{}` was not bound then",
                b.name
            )),
            _ => {}
        }
    }
    out
}

fn load_saved(path: &Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the saved plan `{}`", path.display()))?;
    let plan: Plan = serde_json::from_str(&text).with_context(|| {
        format!(
            "`{}` is not a saved plan (make one with `failback plan --out FILE --format json`)",
            path.display()
        )
    })?;
    if plan.format_version != failback_core::plan::FORMAT_VERSION {
        bail!(
            "the saved plan `{}` has format version {}, this failback reads {}",
            path.display(),
            plan.format_version,
            failback_core::plan::FORMAT_VERSION
        );
    }
    Ok(plan)
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

pub fn apply(args: ApplyArgs) -> Result<Outcome> {
    let overrides = overrides(&args.overrides)?;
    let opened = Opened::open(&args.env, "apply")?;
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
    let plan = match &args.plan {
        Some(path) => {
            let mut plan = load_saved(path)?;
            let stale = staleness(&plan, &opened.session)?;
            if !stale.is_empty() {
                bail!(
                    "refusing the saved plan `{}`: it is stale\n  {}\nmake a new one with `failback plan --env {} --out FILE --format json`",
                    path.display(),
                    stale.join("\n  "),
                    opened.env.display()
                );
            }
            // Judged again now, with this run's overrides.
            plan.findings =
                opened
                    .session
                    .gate
                    .check(&plan.goal, &plan.start, &plan.steps, &overrides)?;
            plan
        }
        None => {
            let mut plan = make(&opened.session, &args.intent, &overrides)?;
            // Journaled with the run, so that `resume` can tell whether the
            // plugins or policies changed in between.
            plan.provenance = Some(provenance(&opened.session, &plan.start));
            if args.format == Format::Text {
                std::io::stdout().write_all(render::text(&plan).as_bytes())?;
            }
            plan
        }
    };
    if plan.is_vetoed() {
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
    execute(&opened, &plan, &overrides, None, args.format)
}

pub fn resume(args: &RunArgs) -> Result<Outcome> {
    let opened = Opened::open(&args.env, "resume")?;
    let Some(last) = opened.journal.last_run()? else {
        bail!("nothing to resume: this environment has no run (start one with `failback apply`)");
    };
    if last.state == RunState::Done {
        println!("nothing to resume: run {} is done", last.id);
        return Ok(Outcome::Ok);
    }
    let plan: Plan = serde_json::from_str(&opened.journal.plan_of(last.id)?)
        .context("the journal's plan cannot be read")?;
    // The run continues with the plugins and policies it was judged with, or
    // not at all. (The deployment itself is re-observed before each step.)
    if let Some(then) = &plan.provenance {
        let changed = changed_components(then, &provenance(&opened.session, &plan.start));
        if !changed.is_empty() {
            bail!(
                "refusing to resume run {}: what it was planned and judged with changed\n  {}\nbind the plugins and policies the run was made with again (the sha256s above), then resume",
                last.id,
                changed.join("\n  ")
            );
        }
    }
    let overrides = Overrides(opened.journal.overrides_of(last.id)?.into_iter().collect());
    opened.journal.reopen_run(last.id)?;
    execute(&opened, &plan, &overrides, Some(last.id), args.format)
}

/// Run `plan` (as a new run, or as run `resume`), report how it ended.
pub fn execute(
    opened: &Opened,
    plan: &Plan,
    overrides: &Overrides,
    resume: Option<i64>,
    format: Format,
) -> Result<Outcome> {
    let plan_json = render::json(plan);
    let run = match resume {
        Some(run) => run,
        None => opened.journal.start_run(
            &sha256(&plan_json),
            &plan_json,
            &overrides
                .0
                .iter()
                .map(|(r, why)| format!("{r}: {why}"))
                .collect::<Vec<_>>(),
            u32::try_from(plan.planned().count()).unwrap_or(u32::MAX),
        )?,
    };
    let failpoint = std::env::var("FAILBACK_TEST_FAILPOINT")
        .ok()
        .and_then(|f| Failpoint::parse(&f));
    let executor = Executor {
        plugins: &opened.session.plugins,
        gate: &opened.session.gate,
        audit: Arc::clone(&opened.audit) as Arc<dyn AuditSink>,
        zone: &opened.session.environment.zone,
        journal: &opened.journal,
        options: ApplyOptions {
            failpoint,
            ..ApplyOptions::default()
        },
    };
    let started = Instant::now();
    let mut progress = progress::for_format(format);
    let result = executor.run(plan, run, overrides, progress.as_mut());
    drop(progress);
    let synced = opened.audit.sync();
    let resume_hint = format!("resume it with: {}", opened.resume_command());
    let ended = result
        .with_context(|| format!("run {run} stopped; its state is journaled; {resume_hint}"))?;
    synced.context("the audit log could not be written")?;
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
                Halt::Drift { .. } | Halt::Postcondition { .. } => Outcome::Halted,
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
    }
    let _ = writeln!(out, "run {run} is halted; {resume_hint}");
    out
}
