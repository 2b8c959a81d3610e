//! `failback observe`: the deployment as the plugins see it now, written down
//! as a captured state (`failback_core::capture`) for `plan --from` and
//! `verify --from`.

use std::io::Write as _;

use anyhow::{Context as _, Result};
use failback_core::capture::CapturedState;
use failback_core::render;
use failback_core::text::printable_lines;
use failback_runtime::journal::{format_time, now};

use crate::Outcome;
use crate::cli::{Format, ObserveArgs};
use crate::commands::plan::environment_path;
use crate::session;

pub fn run(args: &ObserveArgs) -> Result<Outcome> {
    let (_lab, env) = environment_path(&args.env, args.lab)?;
    let session = session::open(&env)?;
    let observed_at = format_time(now());
    let (observation, snapshot) = session.capture()?;
    let state = CapturedState::new(
        observed_at,
        session.environment.name.clone(),
        session.environment_sha256.to_string(),
        session.provenance().plugins,
        observation,
    )?;
    let json = state.to_json();
    if let Some(out) = &args.out {
        std::fs::write(out, &json)
            .with_context(|| format!("cannot write the captured state to `{}`", out.display()))?;
        eprintln!(
            "wrote the captured state to {} (state sha256 {})",
            out.display(),
            state.digest
        );
    }
    let shown = match args.format {
        Format::Json if args.out.is_none() => json,
        Format::Json => String::new(),
        Format::Text => printable_lines(&render::captured(&state, &snapshot.deployment)),
    };
    std::io::stdout().write_all(shown.as_bytes())?;
    Ok(Outcome::Ok)
}
