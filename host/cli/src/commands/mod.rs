//! One module per command; [`run`] dispatches.

mod apply;
mod audit;
mod bind;
mod conformance;
mod demo;
mod journal;
pub mod lab;
mod observe;
pub mod plan;
pub mod plugin;
mod policy;
mod progress;
mod report;
mod review;
mod runs;
mod template;
mod verify;

use anyhow::Result;
use failback_core::plan::Plan;

use crate::Outcome;
use crate::cli::{
    AuditCommand, Cli, Command, JournalCommand, LabCommand, PlanArgs, PlanCommand, PluginCommand,
    PolicyCommand,
};

pub fn run(args: Cli) -> Result<Outcome> {
    match args.command {
        Command::Plan(PlanArgs {
            command: Some(PlanCommand::Approve(args)),
            ..
        }) => plan::approve(&args),
        Command::Plan(args) => plan::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Observe(args) => observe::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Policy(PolicyCommand::List { env, format }) => policy::list(&env, format),
        Command::Policy(PolicyCommand::Test { path }) => policy::test(&path),
        Command::Lab(LabCommand::Init {
            dir,
            scenario,
            sites,
        }) => lab::init(&dir, scenario, sites),
        Command::Lab(LabCommand::Scenarios) => lab::scenarios(),
        Command::Plugin(PluginCommand::Inspect {
            file,
            manifest,
            format,
        }) => plugin::inspect_file(&file, manifest.as_deref(), format),
        Command::Plugin(PluginCommand::Export { name, dir }) => plugin::export(&name, &dir),
        Command::Plugin(PluginCommand::Add(args)) => bind::add(&args),
        Command::Plugin(PluginCommand::Pack {
            component,
            manifest,
            out,
        }) => plugin::pack(&component, manifest.as_deref(), &out),
        Command::Plugin(PluginCommand::Sign {
            file,
            key,
            detached,
            out,
        }) => plugin::sign(&file, &key, detached, out.as_deref()),
        Command::Plugin(PluginCommand::Verify {
            file,
            key,
            signature,
            format,
        }) => plugin::verify(&file, &key, signature.as_deref(), format),
        Command::Plugin(PluginCommand::Review {
            file,
            env,
            since,
            manifest,
            signature,
            format,
        }) => review::run(&review::Args {
            file,
            env,
            since,
            manifest,
            signature,
            format,
        }),
        Command::Plugin(PluginCommand::New { name, world, dir }) => {
            template::new(&name, world, dir.as_deref())
        }
        Command::Plugin(PluginCommand::Test(args)) => conformance::run(args),
        Command::Apply(args) => apply::apply(args),
        Command::Resume(args) => apply::resume(&args),
        Command::Status(args) => runs::status(&args),
        Command::History(args) => runs::history(&args),
        Command::Audit(AuditCommand::Verify { env }) => audit::verify(&env),
        Command::Audit(AuditCommand::Export { env, out }) => audit::export(&env, &out),
        Command::Unlock(args) => journal::unlock(&args),
        Command::Journal(JournalCommand::Setup {
            env,
            owner,
            owner_password_env,
        }) => journal::setup(&env, &owner, owner_password_env.as_deref()),
        Command::Journal(JournalCommand::Migrate {
            env,
            to,
            deployment,
            password_env,
            ca,
        }) => journal::migrate(&journal::Migrate {
            env,
            to,
            deployment,
            password_env,
            ca,
        }),
        Command::Demo(args) => demo::run(args),
    }
}

/// Leave what a reading command loaded — its plugins, policy modules and
/// their engine — to the end of the process, which follows the command,
/// rather than tearing it down first: the operating system takes back
/// memory, mappings and threads at exit anyway, all at once.
///
/// Only for what holds nothing to write: the reading commands keep no
/// journal and no audit log on disk (their audit sink drops every record),
/// and their output is written before this (stdout is flushed when `main`
/// returns). What is skipped: unmapping each component's code and the
/// instance pool's reservations one by one, and joining the epoch ticker
/// thread (BENCHMARKS.md, "Start-up, again").
pub fn leave_to_exit<T>(loaded: T) {
    std::mem::forget(loaded);
}

/// Say on stderr why the plan may not run.
pub fn explain_veto(plan: &Plan) {
    let blocking: Vec<_> = plan.findings.iter().filter(|f| f.blocking).collect();
    eprintln!(
        "vetoed: {} blocking finding{} (exit 3)",
        blocking.len(),
        if blocking.len() == 1 { "" } else { "s" }
    );
    for f in blocking {
        eprintln!(
            "  {} at state {} [{}]: {}",
            f.rule, f.state, f.module, f.message
        );
    }
}
