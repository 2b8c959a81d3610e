//! `failback status` and `failback history`: the apply journal of an
//! environment — beside it, or the deployment's shared one — read only (no
//! lock needed: SQLite and PostgreSQL serve readers beside the writer).

#![expect(clippy::print_stdout, reason = "the command's report goes to stdout")]

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use failback_runtime::journal::format_time;
use failback_runtime::{Journal, RunRecord};
use serde_json::json;

use crate::Outcome;
use crate::cli::{Format, RunArgs};
use crate::store::Store;

fn open(env: &Path) -> Result<Option<Box<Journal>>> {
    Store::of(env)?.read()
}

fn run_line(r: &RunRecord) -> String {
    let mut line = format!(
        "run {}  {}  started {}",
        r.id,
        r.state.name(),
        format_time(r.started)
    );
    if let Some(ended) = r.ended {
        let _ = write!(line, "  ended {}", format_time(ended));
    }
    let _ = write!(line, "  {}/{} steps", r.done, r.steps);
    if let Some(step) = r.in_doubt {
        let _ = write!(line, "  in doubt: step {step}");
    }
    let _ = write!(
        line,
        "  plan sha256 {}",
        &r.plan_digest[..r.plan_digest.len().min(12)]
    );
    line
}

pub fn status(args: &RunArgs) -> Result<Outcome> {
    let journal = open(&args.env)?;
    let last = match &journal {
        Some(j) => j.last_run()?,
        None => None,
    };
    let (Some(journal), Some(run)) = (journal, last) else {
        match args.format {
            Format::Json => println!("{}", json!({"format_version": 1, "run": null})),
            Format::Text => println!("no run yet in this environment"),
        }
        return Ok(Outcome::Ok);
    };
    let steps = journal.steps(run.id)?;
    match args.format {
        Format::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "format_version": 1,
                    "run": run,
                    "steps": steps,
                }))?
            );
        }
        Format::Text => {
            let mut out = run_line(&run);
            out.push('\n');
            for o in &run.overrides {
                let _ = writeln!(out, "  override {o}");
            }
            for a in &run.approvals {
                let _ = writeln!(out, "  approved by {a}");
            }
            if let Some(m) = &run.message {
                let _ = writeln!(out, "  {m}");
            }
            for s in &steps {
                let _ = writeln!(
                    out,
                    "  step {:>2} {:<27} {}",
                    s.index,
                    s.action,
                    s.outcome
                        .as_deref()
                        .unwrap_or("in doubt (intent, no outcome)")
                );
            }
            let left = run.steps.saturating_sub(run.done);
            let steps = if left == 1 { "" } else { "s" };
            if left > 0 && run.resumable() {
                let _ = writeln!(
                    out,
                    "  {left} step{steps} not done; `failback resume` continues the run"
                );
            } else if left > 0 && run.state != failback_runtime::RunState::Done {
                let _ = writeln!(
                    out,
                    "  {left} step{steps} not done; resuming would stop where the run stopped: {}",
                    crate::commands::apply::fresh_plan_way(&args.env)
                );
            }
            print!("{out}");
        }
    }
    Ok(Outcome::Ok)
}

pub fn history(args: &RunArgs) -> Result<Outcome> {
    let runs = match open(&args.env)? {
        Some(j) => j.runs(u32::MAX)?,
        None => Vec::new(),
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({"format_version": 1, "runs": runs}))?
        ),
        Format::Text => {
            if runs.is_empty() {
                println!("no run yet in this environment");
            }
            for r in &runs {
                println!("{}", run_line(r));
                if !r.approvals.is_empty() {
                    println!("  approved by {}", r.approvals.join(", "));
                }
                if let Some(m) = &r.message {
                    println!("  {m}");
                }
            }
        }
    }
    Ok(Outcome::Ok)
}
