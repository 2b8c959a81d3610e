//! `failback demo`: the whole job on the embedded lab — write a lab (in a
//! temporary directory, or `--dir`), plan, apply without asking (it is the
//! demo's own lab), verify, and say what changed.

#![expect(clippy::print_stdout, reason = "the command's report goes to stdout")]

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use failback_core::intent::Intent;
use failback_core::render;
use failback_runtime::{ENVIRONMENT_FILE, Overrides};

use crate::Outcome;
use crate::cli::{DemoArgs, Format, IntentArgs};
use crate::commands::apply::{Opened, execute};
use crate::commands::explain_veto;
use crate::commands::lab;
use crate::session;

fn no_intent() -> IntentArgs {
    IntentArgs {
        failover: false,
        sip_federation: false,
        xmpp: false,
        front_ends: false,
        pool_failback: false,
        to: None,
        next_hop: None,
        cutover_ttl: None,
    }
}

pub fn run(args: DemoArgs) -> Result<Outcome> {
    let started = Instant::now();
    let (_temp, dir): (Option<tempfile::TempDir>, PathBuf) = match &args.dir {
        Some(dir) => (None, dir.clone()),
        None => {
            let t = tempfile::Builder::new()
                .prefix("failback-demo-")
                .tempdir()
                .context("cannot create a temporary directory for the lab")?;
            let path = t.path().to_path_buf();
            (Some(t), path)
        }
    };
    let text = args.format == Format::Text;
    lab::write(&dir, failback_core::lab::Scenario::EdgeFailover)?;
    if text {
        println!(
            "lab: contoso.com after its Edge pool failed over from Site1 to Site2, in {}",
            if args.dir.is_some() {
                dir.display().to_string()
            } else {
                "a temporary directory".to_owned()
            }
        );
    }
    let env = dir.join(ENVIRONMENT_FILE);
    let opened = Opened::open(&env, "demo", std::time::Duration::ZERO)?;
    let overrides = Overrides::default();
    let plan = session::plan_now(&opened.session, &no_intent(), &overrides, None, None)?;
    if text {
        println!();
        print!("{}", render::text(&plan));
        println!();
    }
    if plan.is_vetoed() {
        explain_veto(&plan);
        return Ok(Outcome::Vetoed);
    }
    let outcome = execute(&opened, &plan, &overrides, &[], None, args.format)?;
    if outcome != Outcome::Ok {
        return Ok(outcome);
    }

    // Verify: every invariant on the live state, against the plan's goal; and
    // a new plan from it has nothing left to do.
    let snapshot = opened.session.observe()?;
    let findings = opened
        .session
        .gate
        .check(&plan.goal, &snapshot.deployment, &[], &overrides)?;
    let intent = Intent::resolve(&no_intent().flags(), &snapshot.deployment)?;
    let again = failback_core::plan::plan(&snapshot, &intent)?;
    if findings.iter().any(|f| f.blocking) {
        let mut out = String::new();
        render::findings(&mut out, &findings);
        bail!("verify after the demo's apply found a blocking finding:\n{out}");
    }
    if !again.is_satisfied() {
        bail!(
            "after the demo's apply, a new plan still has {} steps to do",
            again.planned().count()
        );
    }
    if text {
        println!(
            "verify: ok, no invariant is broken; a new plan has nothing to do ({} findings, none blocking)",
            findings.len()
        );
        println!("demo done in {:.1} s", started.elapsed().as_secs_f64());
        if let Some(dir) = &args.dir {
            println!(
                "the lab stays in {}: try `failback status --env {}`",
                dir.display(),
                env.display()
            );
        }
    }
    Ok(Outcome::Ok)
}
