//! `failback report [RUN]`: the change report (`failback_core::report`) of a
//! run from the journal: its journaled plan, each step's outcome, why the
//! steps come in their order (judged by the policies bound now).

use std::io::Write as _;

use anyhow::{Context as _, Result, bail};
use failback_core::report::RunSummary;
use failback_runtime::journal::format_time;

use crate::Outcome;
use crate::cli::ReportArgs;
use crate::commands::plan::Judge;
use crate::store::Store;

pub fn run(args: &ReportArgs) -> Result<Outcome> {
    let Some(journal) = Store::of(&args.env)?.read()? else {
        bail!(
            "no run yet in the environment `{}`: it has no journal",
            args.env.display()
        );
    };
    let runs = journal.runs(u32::MAX)?;
    let record = match args.run {
        Some(id) => runs.into_iter().find(|r| r.id == id).with_context(|| {
            format!("the journal has no run {id} (`failback history` lists them)")
        })?,
        None => runs
            .into_iter()
            .max_by_key(|r| r.id)
            .context("no run yet in this environment")?,
    };
    let plan = failback_core::document::read(&journal.plan_of(record.id)?)
        .with_context(|| format!("the journaled plan of run {} cannot be read", record.id))?;
    let outcomes = journal
        .steps(record.id)?
        .into_iter()
        .map(|s| (s.index, s.outcome.unwrap_or_else(|| "in doubt".to_owned())))
        .collect();
    let summary = RunSummary {
        id: record.id,
        state: record.state.name().to_owned(),
        started: format_time(record.started),
        outcomes,
    };
    let judge = Judge::of_file(&args.env)?;
    let html = judge.report(&plan, Some(&summary))?;
    match &args.out {
        Some(out) => {
            std::fs::write(out, &html)
                .with_context(|| format!("cannot write the report to `{}`", out.display()))?;
            eprintln!("wrote the report of run {} to {}", record.id, out.display());
        }
        None => std::io::stdout().write_all(html.as_bytes())?,
    }
    Ok(Outcome::Ok)
}
