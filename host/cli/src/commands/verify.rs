//! `failback verify`: every invariant on the deployment as it is now (the
//! runtime's `session::verify`: the goal invariants are reported as not
//! evaluated, naming `--to`, when the goal cannot be inferred), rendered as
//! text or JSON. Exit 3 when a blocking finding stands.

use std::io::Write as _;

use anyhow::Result;
use failback_core::render;
use failback_runtime::Verification;
use failback_runtime::session::verify;
use serde_json::json;

use crate::Outcome;
use crate::cli::{Format, VerifyArgs};
use crate::commands::leave_to_exit;
use crate::commands::plan::{Judge, captured, captured_snapshot, environment_path};
use crate::session;

pub fn run(args: VerifyArgs) -> Result<Outcome> {
    let overrides = args.overrides.overrides()?;
    // A `--lab` environment lives as long as the command.
    let (_lab, judge, snapshot, failed_over) = match &args.from {
        Some(state) => {
            let captured = captured(state)?;
            let snapshot = captured_snapshot(&captured)?;
            let mut judge = Judge::of_file(&args.env)?;
            judge.environment = Some(captured.environment);
            (
                None,
                judge,
                snapshot,
                crate::store::failed_over_from(&args.env)?,
            )
        }
        None => {
            let (lab, env) = environment_path(&args.env, args.lab)?;
            let session = session::open(&env)?;
            let snapshot = session.observe()?;
            let failed_over = crate::store::failed_over_from(&env)?;
            (lab, Judge::of_session(session), snapshot, failed_over)
        }
    };
    let name = judge.environment.as_deref().unwrap_or("(unnamed)");
    let verification = verify(
        &judge.gate,
        &snapshot,
        &args.intent.flags(),
        failed_over.as_ref(),
        &overrides,
    )?;
    let blocked = verification.blocked();
    let Verification {
        intent,
        goal,
        findings,
        not_evaluated,
    } = verification;

    let out = match args.format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&json!({
                "format_version": 3,
                "environment": name,
                "goal": intent.is_some().then_some(&goal),
                "failed_over_from": intent.as_ref().and_then(|i| i.failed_over_from.as_ref()),
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
                Some(intent) => {
                    let mut header = format!(
                        "verify {} (failback to {} in {})\n",
                        name, intent.restored_pool, intent.restored_site
                    );
                    if let Some(from) = &intent.failed_over_from {
                        header.push_str(&format!("home: {from}\n"));
                    }
                    header
                }
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
    leave_to_exit(judge);
    Ok(if blocked {
        Outcome::Vetoed
    } else {
        Outcome::Ok
    })
}
