//! `failback plan`: observe, plan, check every state against the policies,
//! render.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use failback_core::capture::CapturedState;
use failback_core::deployment::{Snapshot, assemble};
use failback_core::intent::{FailedOverFrom, Intent};
use failback_core::plan::{CapturedFrom, Plan, Provenance};
use failback_core::text::printable_lines;
use failback_core::{render, report};
use failback_runtime::approval;
use failback_runtime::journal::{format_time, now};
use failback_runtime::session::{derive, gate_provenance};
use failback_runtime::signature::MAX_SIGNATURE_BYTES;
use failback_runtime::{Gate, Overrides, PluginSet, Runtime};
use serde_json::json;

use crate::Outcome;
use crate::cli::{ApproveArgs, Format, IntentArgs, PlanArgs, PlanFormat};
use crate::commands::plugin::{open_key, write_whole};
use crate::commands::{explain_veto, lab, leave_to_exit, policy};
use crate::session::{self, Session};

pub fn run(args: PlanArgs) -> Result<Outcome> {
    let overrides = args.overrides.overrides()?;
    let (plan, judged) = match &args.from {
        Some(state) => {
            let captured = captured(state)?;
            let mut judge = Judge::of_file(&args.env)?;
            judge.environment = Some(captured.environment.clone());
            let failed_over = crate::store::failed_over_from(&args.env)?;
            let plan = plan_captured(
                &judge,
                &captured,
                &args.intent,
                failed_over.as_ref(),
                &overrides,
            )?;
            (plan, judge)
        }
        None => {
            // A `--lab` plan runs against a fresh lab that lives as long as the command.
            let (_lab, env) = environment_path(&args.env, args.lab)?;
            let session = session::open(&env)?;
            let unfinished = crate::store::unfinished_run(&env)?;
            let failed_over = crate::store::failed_over_from(&env)?;
            let plan = session::plan_now(
                &session,
                &args.intent,
                &overrides,
                unfinished.as_ref(),
                failed_over.as_ref(),
            )?;
            (plan, Judge::of_session(session))
        }
    };
    if let Some(approved) = &args.check {
        return check(approved, &plan, args.format);
    }

    let text = match args.format {
        // What a terminal shows: nothing in it acts on the terminal.
        PlanFormat::Text => printable_lines(&render::text(&plan)),
        PlanFormat::Json => render::json(&plan),
        PlanFormat::Powershell => render::powershell(&plan),
        PlanFormat::Html => judged.report(&plan, None)?,
    };
    match &args.out {
        Some(out) => {
            std::fs::write(out, &text)
                .with_context(|| format!("cannot write the plan to `{}`", out.display()))?;
            eprintln!(
                "wrote the plan to {} (plan sha256 {})",
                out.display(),
                plan.digest
            );
        }
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    leave_to_exit(judged);
    if plan.is_vetoed() {
        explain_veto(&plan);
        return Ok(Outcome::Vetoed);
    }
    Ok(Outcome::Ok)
}

/// The policy gate a plan is judged with, and the name of its environment:
/// from an opened session, or (for a captured state) from the environment
/// file's policy bindings alone.
pub struct Judge {
    pub gate: Gate,
    /// Keeps the gate's engine alive when there is no session.
    _runtime: Option<Runtime>,
    /// The session's plugins, kept so that they end with the judge (and
    /// with it, at the end of a reading command, are left to the process's
    /// exit: [`leave_to_exit`]).
    _plugins: Option<PluginSet>,
    /// The environment's name, when there is one: for the report and
    /// verify's header.
    pub environment: Option<String>,
}

impl Judge {
    pub fn of_session(session: Session) -> Self {
        Self {
            gate: session.gate,
            _runtime: None,
            _plugins: Some(session.plugins),
            environment: Some(session.environment.name),
        }
    }

    /// The gate of the environment file `env` when it exists (no plugin
    /// loaded), else of the standard modules at their default levels.
    pub fn of_file(env: &Path) -> Result<Self> {
        let (runtime, gate, environment) = policy::gate(env)?;
        Ok(Self {
            gate,
            _runtime: Some(runtime),
            _plugins: None,
            environment,
        })
    }

    /// The change report of `plan` (and of the run that applied it), with
    /// why each step comes where it does.
    pub fn report(&self, plan: &Plan, run: Option<&report::RunSummary>) -> Result<String> {
        let order = self
            .gate
            .explain_order(plan)
            .context("cannot judge the steps' order")?;
        Ok(report::html(&report::Report {
            environment: self.environment.as_deref().unwrap_or("(unnamed)"),
            plan,
            order: &order,
            run,
        })?)
    }
}

/// Read the captured state `path` (`failback observe --out`).
pub fn captured(path: &Path) -> Result<CapturedState> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the captured state `{}`", path.display()))?;
    CapturedState::read(&text).with_context(|| {
        format!(
            "`{}` is not a captured state this failback can plan from (make one with `failback observe --out FILE`)",
            path.display()
        )
    })
}

/// The snapshot of a captured state: what the planner starts from.
pub fn captured_snapshot(captured: &CapturedState) -> Result<Snapshot> {
    assemble(&captured.observation).context("the captured deployment is not consistent")
}

/// Plan from a captured state with no plugin loaded, judged by `judge`: its
/// provenance names the state (digest, time) and the plugins that observed
/// it, and the environment file they were bound by.
fn plan_captured(
    judge: &Judge,
    captured: &CapturedState,
    intent: &IntentArgs,
    failed_over: Option<&FailedOverFrom>,
    overrides: &Overrides,
) -> Result<Plan> {
    let snapshot = captured_snapshot(captured)?;
    let intent = Intent::resolve_after(&intent.flags(), &snapshot.deployment, failed_over)?;
    let provenance = Provenance {
        environment: Some(captured.environment_sha256.clone()),
        plugins: captured.plugins.clone(),
        captured: Some(CapturedFrom {
            sha256: captured.digest.clone(),
            observed_at: captured.observed_at.clone(),
        }),
        ..gate_provenance(&judge.gate)
    };
    Ok(derive(
        &judge.gate,
        provenance,
        &snapshot,
        &intent,
        overrides,
    )?)
}

/// `plan --check APPROVED`: the plan made now against the approved one.
fn check(approved: &Path, plan: &Plan, format: PlanFormat) -> Result<Outcome> {
    let text = std::fs::read_to_string(approved)
        .with_context(|| format!("cannot read the approved plan `{}`", approved.display()))?;
    let approved_plan = failback_core::document::read(&text).with_context(|| {
        format!(
            "`{}` is not a plan document (make one with `failback plan --format json --out FILE`)",
            approved.display()
        )
    })?;
    let differences = failback_core::document::differences(&approved_plan, plan);
    let out = match format {
        PlanFormat::Json => {
            let mut text = serde_json::to_string_pretty(&json!({
                "format_version": 1,
                "approved": approved_plan.digest,
                "now": plan.digest,
                "same": differences.is_empty(),
                "differences": differences.iter().map(|d| json!({
                    "step": d.step.map(|(index, _)| index),
                    "action": d.step.map(|(_, action)| action.name()),
                    "field": d.field,
                    "published_by": d.published_by,
                    "approved": d.left,
                    "now": d.right,
                })).collect::<Vec<_>>(),
            }))?;
            text.push('\n');
            text
        }
        PlanFormat::Text => {
            let mut text = String::new();
            if differences.is_empty() {
                text.push_str(&format!(
                    "the plan is the approved one (plan sha256 {})\n",
                    plan.digest
                ));
            } else {
                text.push_str(&format!(
                    "the plan changed since it was approved: {} difference{} (approved, then now)\n  approved plan sha256 {}\n  plan now     sha256 {}\n",
                    differences.len(),
                    if differences.len() == 1 { "" } else { "s" },
                    approved_plan.digest,
                    plan.digest
                ));
                for d in &differences {
                    text.push_str(&format!("  {d}\n"));
                }
            }
            printable_lines(&text)
        }
        PlanFormat::Powershell | PlanFormat::Html => {
            bail!("`--check` writes text or JSON (`--format text|json`)")
        }
    };
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(if !differences.is_empty() {
        Outcome::Changed
    } else if plan.is_vetoed() {
        Outcome::Vetoed
    } else {
        Outcome::Ok
    })
}

/// `failback plan approve PLAN (--key KEY | --signature FILE)`: the plan read
/// as `apply` reads it (an edited plan is refused here already), its digest
/// signed, the approval written into the file. An earlier approval by the same
/// key is replaced.
#[expect(clippy::print_stdout, reason = "the command's report goes to stdout")]
pub fn approve(args: &ApproveArgs) -> Result<Outcome> {
    let path = &args.plan;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the saved plan `{}`", path.display()))?;
    let mut plan = failback_core::document::read(&text).with_context(|| {
        format!(
            "`{}` is not a plan this failback can approve (make one with `failback plan --out FILE --format json`)",
            path.display()
        )
    })?;
    let at = format_time(now());
    let approval = match (&args.key, &args.signature) {
        (Some(key), _) => approval::approve(&plan.digest, &open_key(key)?, at)?,
        (None, Some(signature)) => {
            let armored = read_signature(signature)?;
            approval::from_signature(&plan.digest, &armored, at).with_context(|| {
                format!(
                    "`{}` is not an approval of `{}` (plan sha256 {})",
                    signature.display(),
                    path.display(),
                    plan.digest
                )
            })?
        }
        (None, None) => bail!("give `--key KEY` or `--signature FILE.sig`"),
    };
    let replaced = plan.approvals.iter().any(|a| a.key == approval.key);
    plan.approvals.retain(|a| a.key != approval.key);
    plan.approvals.push(approval.clone());
    write_whole(path, plan.to_json().as_bytes())?;
    let by = if approval.comment.is_empty() {
        approval.key.clone()
    } else {
        format!("{} ({})", approval.key, approval.comment)
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({
                "plan": path,
                "digest": plan.digest,
                "approval": approval,
                "replaced": replaced,
                "approvals": plan.approvals.len(),
            })
        ),
        Format::Text => println!(
            "approved {} (plan sha256 {}) by {by}{}; it carries {} approval{}",
            path.display(),
            plan.digest,
            if replaced {
                ", replacing this key's earlier approval"
            } else {
                ""
            },
            plan.approvals.len(),
            if plan.approvals.len() == 1 { "" } else { "s" }
        ),
    }
    Ok(Outcome::Ok)
}

/// An armored signature file, bounded as detached plugin signatures are.
fn read_signature(path: &Path) -> Result<String> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read the signature `{}`", path.display()))?
        .len();
    if size > MAX_SIGNATURE_BYTES {
        bail!(
            "the signature `{}` is larger than {MAX_SIGNATURE_BYTES} bytes",
            path.display()
        );
    }
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the signature `{}`", path.display()))
}

/// The environment file to use: `env`, or that of a fresh lab of `scenario` in
/// a temporary directory (returned so that it lives as long as the caller needs).
pub fn environment_path(
    env: &Path,
    scenario: Option<failback_core::lab::Scenario>,
) -> Result<(Option<tempfile::TempDir>, PathBuf)> {
    let Some(scenario) = scenario else {
        return Ok((None, env.to_path_buf()));
    };
    let dir = tempfile::Builder::new()
        .prefix("failback-lab-")
        .tempdir()
        .context("cannot create a temporary directory for the lab")?;
    lab::write(dir.path(), scenario)?;
    let env = dir.path().join(failback_runtime::ENVIRONMENT_FILE);
    Ok((Some(dir), env))
}
