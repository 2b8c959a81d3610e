//! The `failback` command line: the edge where files are opened, arguments are
//! parsed and errors are rendered. The work itself is in `failback-core` (model,
//! plan, rendering) and `failback-runtime` (plugins, policies).
//!
//! Exit codes: 0 ok, 1 error, 2 usage, 3 vetoed by policy, 4 the plan changed
//! (`plan --check`).

mod cli;
mod commands;
mod session;
mod store;

use std::process::ExitCode;

use clap::Parser as _;

/// What a command ended with, beyond "it worked".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done; exit 0.
    Ok,
    /// A mandatory or hard policy finding stands; exit 3.
    Vetoed,
    /// The plan made now is not the approved one (`plan --check`); exit 4.
    Changed,
    /// An apply halted: the deployment is not what the plan predicts (the
    /// message says where and how); exit 1.
    Halted,
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match commands::run(args) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Vetoed) => ExitCode::from(3),
        Ok(Outcome::Changed) => ExitCode::from(4),
        Ok(Outcome::Halted) => ExitCode::from(1),
        Err(error) => {
            // Errors quote what plugins, files and servers said: nothing of it
            // may act on the terminal.
            let shown = |text: &str| failback_core::text::printable_lines(text);
            eprintln!("error: {}", shown(&error.to_string()));
            // A message often already quotes its cause; print each text once.
            let mut last = error.to_string();
            for cause in error.chain().skip(1) {
                let text = cause.to_string();
                if !last.contains(&text) {
                    eprintln!("  caused by: {}", shown(&text));
                }
                last = text;
            }
            ExitCode::from(1)
        }
    }
}
