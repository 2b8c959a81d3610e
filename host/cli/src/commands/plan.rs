//! `failback plan`: observe, plan, check every state against the policies,
//! render.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use failback_core::capture::CapturedState;
use failback_core::deployment::{Snapshot, assemble};
use failback_core::intent::{Intent, IntentFlags, RecordTtl};
use failback_core::plan::{
    CapturedFrom, Override, Plan, PluginDigest, Provenance, plan, rtype_name,
};
use failback_core::text::printable_lines;
use failback_core::{render, report};
use failback_runtime::approval;
use failback_runtime::journal::{JOURNAL_FILE, format_time, now};
use failback_runtime::signature::MAX_SIGNATURE_BYTES;
use failback_runtime::{Gate, Journal, Overrides, RunState, Runtime};
use serde_json::json;

use crate::Outcome;
use crate::cli::{ApproveArgs, Format, IntentArgs, OverrideArgs, PlanArgs, PlanFormat};
use crate::commands::plugin::{open_key, write_whole};
use crate::commands::{lab, policy};
use crate::session::{STATE_DIR, Session};

pub fn run(args: PlanArgs) -> Result<Outcome> {
    let overrides = overrides(&args.overrides)?;
    let (plan, judged) = match &args.from {
        Some(state) => {
            let captured = captured(state)?;
            let mut judge = Judge::of_file(&args.env)?;
            judge.environment = Some(captured.environment.clone());
            let plan = plan_captured(&judge, &captured, &args.intent, &overrides)?;
            (plan, judge)
        }
        None => {
            // A `--lab` plan runs against a fresh lab that lives as long as the command.
            let (_lab, env) = environment_path(&args.env, args.lab)?;
            let session = Session::open(&env)?;
            let inherited = unfinished_run(&env)?;
            let plan = make(&session, &args.intent, &overrides, inherited.as_ref())?;
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
    /// The environment's name, when there is one: for the report and
    /// verify's header.
    pub environment: Option<String>,
}

impl Judge {
    pub fn of_session(session: Session) -> Self {
        Self {
            gate: session.gate,
            _runtime: None,
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
    overrides: &Overrides,
) -> Result<Plan> {
    let snapshot = captured_snapshot(captured)?;
    let intent = Intent::resolve(&flags(intent), &snapshot.deployment)?;
    let provenance = Provenance {
        environment: Some(captured.environment_sha256.clone()),
        plugins: captured.plugins.clone(),
        captured: Some(CapturedFrom {
            sha256: captured.digest.clone(),
            observed_at: captured.observed_at.clone(),
        }),
        ..gate_provenance(&judge.gate)
    };
    derive(&judge.gate, provenance, &snapshot, &intent, overrides)
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

/// The last run of the environment of `env` when it did not finish: its id
/// and the TTLs its plan restores, which a new plan inherits (the run lowered
/// them, so the new plan cannot observe them).
pub struct Unfinished {
    pub run: i64,
    pub ttls: Vec<RecordTtl>,
}

/// The environment's unfinished last run, if any (see [`Unfinished`]).
pub fn unfinished_run(env: &Path) -> Result<Option<Unfinished>> {
    let path = Session::root_of(env).join(STATE_DIR).join(JOURNAL_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let journal = Journal::open(&path)?;
    let Some(last) = journal.last_run()? else {
        return Ok(None);
    };
    if last.state == RunState::Done {
        return Ok(None);
    }
    let plan = failback_core::document::read(&journal.plan_of(last.id)?).with_context(|| {
        format!(
            "run {} did not finish, and its journaled plan cannot be read (the TTLs it lowered are in it)",
            last.id
        )
    })?;
    Ok(Some(Unfinished {
        run: last.id,
        ttls: plan.restored_ttls(),
    }))
}

/// Observe the deployment through the session's plugins, plan from it, and
/// judge the plan's trajectory with the session's policies. Over an
/// unfinished run, the plan inherits the TTLs that run lowered.
pub fn make(
    session: &Session,
    intent: &IntentArgs,
    overrides: &Overrides,
    unfinished: Option<&Unfinished>,
) -> Result<Plan> {
    let snapshot = session.observe()?;
    let mut intent = Intent::resolve(&flags(intent), &snapshot.deployment)?;
    if let Some(run) = unfinished
        && !run.ttls.is_empty()
    {
        eprintln!(
            "note: run {} did not finish; this plan restores the TTLs it lowered: {}",
            run.run,
            run.ttls
                .iter()
                .map(|t| format!("{} {} {}", t.name, rtype_name(t.rtype), t.ttl))
                .collect::<Vec<_>>()
                .join(", ")
        );
        intent.inherited_ttls.clone_from(&run.ttls);
    }
    derive(
        &session.gate,
        provenance(session),
        &snapshot,
        &intent,
        overrides,
    )
}

/// The plan of `intent` from `snapshot`, judged with `gate` and `overrides`,
/// with `provenance`, sealed with its digest: what
/// `plan` prints and what `apply PLAN` re-derives to compare.
pub fn derive(
    gate: &Gate,
    provenance: Provenance,
    snapshot: &Snapshot,
    intent: &Intent,
    overrides: &Overrides,
) -> Result<Plan> {
    let mut plan = plan(snapshot, intent)?;
    plan.overrides = overrides
        .0
        .iter()
        .map(|(rule, reason)| Override {
            rule: rule.clone(),
            reason: reason.clone(),
        })
        .collect();
    plan.findings = gate.check(&plan.goal, &plan.start, &plan.steps, overrides)?;
    plan.provenance = provenance;
    plan.seal()?;
    Ok(plan)
}

/// What plans are made and judged with now: the environment file, the plugins,
/// the policy modules and every rule's level.
pub fn provenance(session: &Session) -> Provenance {
    let plugins = &session.plugins;
    let mut bound = BTreeMap::new();
    for plugin in [
        plugins.dns_provider.as_ref().map(|p| p.plugin()),
        plugins.port_probe.as_ref().map(|p| p.plugin()),
        plugins.management_store.as_ref().map(|p| p.plugin()),
        plugins.server_control.as_ref().map(|p| p.plugin()),
        plugins.pool_control.as_ref().map(|p| p.plugin()),
    ]
    .into_iter()
    .flatten()
    {
        bound.insert(
            plugin.kind().to_string(),
            PluginDigest {
                name: plugin.name().to_owned(),
                sha256: plugin.digest().to_string(),
            },
        );
    }
    Provenance {
        environment: Some(session.environment_sha256.to_string()),
        plugins: bound,
        ..gate_provenance(&session.gate)
    }
}

/// What plans are judged with: each policy module's sha256 and every rule's
/// level.
fn gate_provenance(gate: &Gate) -> Provenance {
    Provenance {
        policies: gate
            .digests()
            .into_iter()
            .map(|(name, digest)| (name, digest.to_string()))
            .collect(),
        levels: gate.levels(),
        ..Provenance::default()
    }
}

pub fn flags(args: &IntentArgs) -> IntentFlags {
    IntentFlags {
        sip_federation: args.sip_federation,
        xmpp: args.xmpp,
        front_ends: args.front_ends,
        pool_failback: args.pool_failback,
        to: args.to.clone(),
        cutover_ttl: args.cutover_ttl,
        failover: args.failover,
    }
}

/// Pair each `--override RULE` with its `--reason TEXT`, in order.
pub fn overrides(args: &OverrideArgs) -> Result<Overrides> {
    if args.rules.len() != args.reasons.len() {
        bail!(
            "each `--override RULE` needs its own `--reason TEXT` ({} overrides, {} reasons)",
            args.rules.len(),
            args.reasons.len()
        );
    }
    Ok(Overrides(
        args.rules
            .iter()
            .cloned()
            .zip(args.reasons.iter().cloned())
            .collect(),
    ))
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

/// Say on stderr why the plan may not run.
pub fn explain_veto(plan: &Plan) {
    let blocking: Vec<_> = plan.findings.iter().filter(|f| f.blocking).collect();
    eprintln!(
        "vetoed: {} blocking finding{} (exit 3)",
        blocking.len(),
        if blocking.len() == 1 { "" } else { "s" }
    );
    for f in blocking {
        eprintln!(
            "  {} at state {} [{}]: {}",
            f.rule, f.state, f.module, f.message
        );
    }
}
