//! `fuzz-seeds DIR`: write every fuzz target's generated seeds to
//! `DIR/<target>/` (the corpus directories `cargo fuzz run` starts from).

#![allow(
    clippy::print_stdout,
    reason = "a command-line tool reports what it wrote"
)]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: fuzz-seeds DIR (writes DIR/<target>/<seed>)");
        return ExitCode::from(2);
    };
    match failback_fuzz_checks::seeds::write(&dir) {
        Ok(count) => {
            println!("{count} seeds written under {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write the seeds under {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
