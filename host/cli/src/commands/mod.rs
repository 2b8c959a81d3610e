//! One module per command; [`run`] dispatches.

mod lab;

use anyhow::Result;

use crate::Outcome;
use crate::cli::{Cli, Command, LabCommand};

pub fn run(args: Cli) -> Result<Outcome> {
    match args.command {
        Command::Lab(LabCommand::Init { dir, scenario }) => lab::init(&dir, scenario),
        Command::Lab(LabCommand::Scenarios) => lab::scenarios(),
        Command::Plan(_) | Command::Plugin(_) => anyhow::bail!("not wired yet"),
    }
}
