//! `failback verify`: every invariant on the deployment as it is now.
//!
//! The safety invariants are checked whatever the goal. The goal invariants
//! (the final-state rules) need the goal — the pool everything fails back to —
//! which comes from `--to`, or is inferred from the state; when it cannot be
//! inferred (two pools with federation, say: exactly when verify is needed),
//! they are reported as not evaluated, naming `--to`, and the safety
//! invariants are still checked. Exit 3 when a blocking finding stands.

use std::io::Write as _;

use anyhow::Result;
use failback_core::intent::{DEFAULT_CUTOVER_TTL, Intent, IntentError};
use failback_core::plan::{Goal, plan};
use failback_core::render;
use serde_json::json;

use crate::Outcome;
use crate::cli::{Format, VerifyArgs};
use crate::commands::plan::{
    Judge, captured, captured_snapshot, environment_path, flags, overrides,
};
use crate::session::Session;

/// The goal invariants left unevaluated, and why.
struct NotEvaluated {
    rules: Vec<String>,
    reason: String,
}

pub fn run(args: VerifyArgs) -> Result<Outcome> {
    let overrides = overrides(&args.overrides)?;
    // A `--lab` environment lives as long as the command.
    let (_lab, judge, snapshot) = match &args.from {
        Some(state) => {
            let captured = captured(state)?;
            let snapshot = captured_snapshot(&captured)?;
            let mut judge = Judge::of_file(&args.env)?;
            judge.environment = Some(captured.environment);
            (None, judge, snapshot)
        }
        None => {
            let (lab, env) = environment_path(&args.env, args.lab)?;
            let session = Session::open(&env)?;
            let snapshot = session.observe()?;
            (lab, Judge::of_session(session), snapshot)
        }
    };
    let gate = &judge.gate;
    let name = judge.environment.as_deref().unwrap_or("(unnamed)");
    // The goal is the plan's: where the failback ends. Only the observed state
    // is checked; it is both the start and the end.
    let (intent, goal, not_evaluated) =
        match Intent::resolve(&flags(&args.intent), &snapshot.deployment) {
            Ok(intent) => {
                let goal = plan(&snapshot, &intent)?.goal;
                (Some(intent), goal, None)
            }
            // Without `--to`, an intent that cannot be inferred leaves the goal
            // unknown; a `--to` the deployment does not have is an error.
            Err(e @ IntentError::Ambiguous { .. }) if args.intent.to.is_none() => {
                let rules = gate
                    .rules()
                    .iter()
                    .filter(|r| r.scope == "final-state")
                    .map(|r| r.id.clone())
                    .collect();
                let goal = Goal {
                    restored_site: String::new(),
                    federation_pool: None,
                    xmpp_pool: None,
                    media_pool: None,
                    cutover_ttl: DEFAULT_CUTOVER_TTL,
                };
                let reason = e.to_string();
                (None, goal, Some(NotEvaluated { rules, reason }))
            }
            Err(e) => return Err(e.into()),
        };
    let findings = gate.check(&goal, &snapshot.deployment, &[], &overrides)?;
    let blocked = findings.iter().any(|f| f.blocking);

    let out = match args.format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&json!({
                "format_version": 2,
                "environment": name,
                "goal": intent.is_some().then_some(&goal),
                "ok": !blocked,
                "findings": findings,
                "not_evaluated": not_evaluated.as_ref().map(|n| json!({
                    "rules": n.rules,
                    "reason": n.reason,
                })),
            }))?;
            text.push('\n');
            text
        }
        Format::Text => {
            let mut text = match &intent {
                Some(intent) => format!(
                    "verify {} (failback to {} in {})\n",
                    name, intent.restored_pool, intent.restored_site
                ),
                None => format!(
                    "verify {} (safety invariants only: the goal is unknown)\n",
                    name
                ),
            };
            render::findings(&mut text, &findings);
            if let Some(n) = &not_evaluated {
                text.push_str(&format!(
                    "not evaluated: the goal invariants ({}): {}\n",
                    n.rules.join(", "),
                    n.reason
                ));
            }
            text.push_str(match (blocked, &not_evaluated) {
                (true, _) => "not ok: a blocking finding stands\n",
                (false, None) => "ok: no invariant is broken\n",
                (false, Some(_)) => "ok: no safety invariant is broken\n",
            });
            text
        }
    };
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(if blocked {
        Outcome::Vetoed
    } else {
        Outcome::Ok
    })
}
