//! `failback plan`: observe, plan, check every state against the policies,
//! render.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use failback_core::intent::{Intent, IntentFlags};
use failback_core::plan::{Plan, plan};
use failback_core::render;
use failback_core::text::printable_lines;
use failback_runtime::Overrides;

use crate::Outcome;
use crate::cli::{IntentArgs, OverrideArgs, PlanArgs, PlanFormat};
use crate::commands::lab;
use crate::session::Session;

pub fn run(args: PlanArgs) -> Result<Outcome> {
    let overrides = overrides(&args.overrides)?;
    // A `--lab` plan runs against a fresh lab that lives as long as the command.
    let (_lab, env) = environment_path(&args.env, args.lab)?;
    let session = Session::open(&env)?;
    let mut plan = make(&session, &args.intent, &overrides)?;
    if args.out.is_some() {
        // A saved plan: carry what it was made from, for apply to check.
        plan.provenance = Some(crate::commands::apply::provenance(&session, &plan.start));
    }

    let text = match args.format {
        // What a terminal shows: nothing in it acts on the terminal.
        PlanFormat::Text => printable_lines(&render::text(&plan)),
        PlanFormat::Json => render::json(&plan),
        PlanFormat::Powershell => render::powershell(&plan),
    };
    match &args.out {
        Some(out) => {
            std::fs::write(out, &text)
                .with_context(|| format!("cannot write the plan to `{}`", out.display()))?;
            eprintln!("wrote the plan to {}", out.display());
        }
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    if plan.is_vetoed() {
        explain_veto(&plan);
        return Ok(Outcome::Vetoed);
    }
    Ok(Outcome::Ok)
}

/// Observe the deployment through the session's plugins, plan from it, and
/// judge the plan's trajectory with the session's policies.
pub fn make(session: &Session, intent: &IntentArgs, overrides: &Overrides) -> Result<Plan> {
    let snapshot = session.observe()?;
    let intent = Intent::resolve(&flags(intent), &snapshot.deployment)?;
    let mut plan = plan(&snapshot, &intent)?;
    plan.findings = session
        .gate
        .check(&plan.goal, &plan.start, &plan.steps, overrides)?;
    Ok(plan)
}

pub fn flags(args: &IntentArgs) -> IntentFlags {
    IntentFlags {
        sip_federation: args.sip_federation,
        xmpp: args.xmpp,
        front_ends: args.front_ends,
        pool_failback: args.pool_failback,
        to: args.to.clone(),
        cutover_ttl: args.cutover_ttl,
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
    scenario: Option<crate::cli::Scenario>,
) -> Result<(Option<tempfile::TempDir>, PathBuf)> {
    let Some(scenario) = scenario else {
        return Ok((None, env.to_path_buf()));
    };
    let dir = tempfile::Builder::new()
        .prefix("failback-lab-")
        .tempdir()
        .context("cannot create a temporary directory for the lab")?;
    lab::write(dir.path(), lab::core_scenario(scenario))?;
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
        eprintln!("  {} at state {}: {}", f.rule, f.state, f.message);
    }
}
