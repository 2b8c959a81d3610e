//! `failback verify`: every invariant on the deployment as it is now.

use std::io::Write as _;

use anyhow::Result;
use failback_core::intent::Intent;
use failback_core::plan::plan;
use failback_core::render;
use serde_json::json;

use crate::Outcome;
use crate::cli::{Format, VerifyArgs};
use crate::commands::plan::{environment_path, flags, overrides};
use crate::session::Session;

pub fn run(args: VerifyArgs) -> Result<Outcome> {
    let overrides = overrides(&args.overrides)?;
    let (_lab, env) = environment_path(&args.env, args.lab)?;
    let session = Session::open(&env)?;
    let snapshot = session.observe()?;
    let intent = Intent::resolve(&flags(&args.intent), &snapshot.deployment)?;
    // The goal is the plan's: where the failback ends. Only the observed state
    // is checked; it is both the start and the end.
    let goal = plan(&snapshot, &intent)?.goal;
    let findings = session
        .gate
        .check(&goal, &snapshot.deployment, &[], &overrides)?;
    let blocked = findings.iter().any(|f| f.blocking);

    let out = match args.format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&json!({
                "format_version": 1,
                "environment": session.environment.name,
                "goal": goal,
                "ok": !blocked,
                "findings": findings,
            }))?;
            text.push('\n');
            text
        }
        Format::Text => {
            let mut text = format!(
                "verify {} (failback to {} in {})\n",
                session.environment.name, intent.restored_pool, intent.restored_site
            );
            render::findings(&mut text, &findings);
            text.push_str(if blocked {
                "not ok: a blocking finding stands\n"
            } else {
                "ok: no invariant is broken\n"
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
