//! Opening an environment: the one place the CLI turns paths into capabilities.
//!
//! The environment directory and the compiled-component cache are opened here
//! as `cap_std` directories and handed to the runtime, which holds no ambient
//! authority over files; what comes back is the runtime's [`Session`], which
//! observes, plans, judges and re-derives (`failback_runtime::session`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use failback_core::intent::{FailedOverFrom, RecordTtl};
use failback_core::observed::rtype_name;
use failback_core::plan::Plan;
use failback_guests::Group;
use failback_runtime::{
    AuditSink, ComponentCache, Digest, Environment, Gate, NullAuditSink, Overrides, PolicyBindings,
    PolicyComponent, Runtime, TrustPolicy,
};

use crate::cli::IntentArgs;

/// The directory beside the environment file where apply keeps its journal,
/// lock and audit log.
pub use failback_runtime::state::STATE_DIR;

/// The runtime's session: an environment opened, its plugins and policies
/// loaded. The plugins and policy modules keep what they need of the runtime
/// alive (the engine and its epoch ticker), so it holds no runtime of its own.
pub use failback_runtime::Session;

/// Open the environment file `env` and load what it binds. Reading commands
/// (plan, verify) keep no audit log: only the commands that hold the
/// environment's lock write one.
pub fn open(env: &Path) -> Result<Session> {
    open_audited(env, None)
}

/// As [`open`], with every audit record also sent to `sink` (apply's
/// hash-chained log on disk).
pub fn open_audited(env: &Path, sink: Option<Arc<dyn AuditSink>>) -> Result<Session> {
    let OpenedEnvironment {
        environment,
        sha256: environment_sha256,
        dir,
    } = open_environment(env)?;
    let sink = sink.unwrap_or_else(|| Arc::new(NullAuditSink));
    let runtime = Runtime::new(sink).context("cannot start the plugin runtime")?;
    let cache = open_cache()?;
    let trust = trust_policy(&environment, &dir)?;
    let approvals = environment
        .approvals
        .resolve(&dir)
        .context("cannot read the environment's `[approvals]`")?;
    // The plugins and the policy modules load side by side: loading is most
    // of a short command (reading, checking and mapping each compiled
    // component), and each is independent of the others. A plugin's error is
    // reported before the gate's, as when they loaded one after the other.
    let (plugins, gate) = std::thread::scope(|scope| {
        let gate = scope.spawn(|| load_gate(&runtime, &cache, &environment, &trust, &dir));
        let plugins = runtime.load_plugins(&environment, &trust, &dir, &cache, &|name| {
            std::env::var(name).ok()
        });
        let gate = gate
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (plugins, gate)
    });
    let plugins = plugins
        .context("cannot load the environment's plugins")?
        .complete()?;
    let gate = gate?;
    Ok(Session {
        environment,
        environment_sha256,
        plugins,
        gate,
        approvals,
    })
}

/// `<environment dir>/.failback`, created if missing, private to this user
/// (`failback_runtime::state`).
pub fn state_dir(root: &Path) -> Result<PathBuf> {
    Ok(failback_runtime::state::prepare(root)?)
}

/// The environment directory of the environment file `env`.
pub fn root_of(env: &Path) -> PathBuf {
    env.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
        .to_path_buf()
}

/// The last run of the environment of `env` when it did not finish: its id
/// and the TTLs its plan restores, which a new plan inherits (the run lowered
/// them, so the new plan cannot observe them).
pub struct Unfinished {
    pub run: i64,
    pub ttls: Vec<RecordTtl>,
}

/// Plan `intent` on the deployment as the session observes it now, judged
/// with its policies. Over an unfinished run, the plan inherits the TTLs that
/// run lowered, and says so on stderr. After a finished failover
/// (`failed_over`), a failback without `--to` aims at the home it moved
/// federation from, and the plan says so.
pub fn plan_now(
    session: &Session,
    intent: &IntentArgs,
    overrides: &Overrides,
    unfinished: Option<&Unfinished>,
    failed_over: Option<&FailedOverFrom>,
) -> Result<Plan> {
    let inherited = unfinished.map_or(&[][..], |run| &run.ttls);
    let plan = session.plan(&intent.flags(), inherited, failed_over, overrides)?;
    if let Some(run) = unfinished
        && !run.ttls.is_empty()
    {
        eprintln!(
            "note: run {} did not finish; this plan restores the TTLs it lowered: {}",
            run.run,
            run.ttls
                .iter()
                .map(|t| format!("{} {} {}", t.name, rtype_name(t.rtype), t.ttl))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(plan)
}

/// An environment file read and checked, with what the commands need beside it.
#[derive(Debug)]
pub struct OpenedEnvironment {
    pub environment: Environment,
    /// The sha256 of exactly the text that was parsed (the plan's provenance).
    pub sha256: Digest,
    /// The environment directory, opened as a capability.
    pub dir: Dir,
}

/// Read the environment file `env` through the runtime's bounded, confined read.
pub fn open_environment(env: &Path) -> Result<OpenedEnvironment> {
    let root = root_of(env);
    let file = env
        .file_name()
        .and_then(|f| f.to_str())
        .with_context(|| format!("`{}` is not an environment file name", env.display()))?;
    if std::fs::symlink_metadata(env).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        bail!(missing_environment(env));
    }
    let dir = Dir::open_ambient_dir(&root, ambient_authority())
        .with_context(|| format!("cannot open the environment directory `{}`", root.display()))?;
    let (environment, sha256) = Environment::load_digested(&dir, file)
        .with_context(|| format!("cannot load the environment `{}`", env.display()))?;
    Ok(OpenedEnvironment {
        environment,
        sha256,
        dir,
    })
}

/// There is no environment file `env`: where a newcomer goes from here.
fn missing_environment(env: &Path) -> String {
    format!(
        "there is no environment file `{}`\n\
         name the one to use with `--env FILE`,\n\
         or make a lab deployment to try failback on with `failback lab init DIR` (then `--env DIR/failback.toml`),\n\
         or watch the whole job on a fresh lab with `failback demo`",
        env.display()
    )
}

/// The standard policy modules the binary carries, by package name, each
/// with the sha256 computed when the binary was built.
pub fn standard_policies() -> Result<Vec<PolicyComponent<'static>>> {
    failback_guests::STANDARD
        .iter()
        .filter(|guest| guest.group == Group::Policy)
        .map(|guest| {
            Ok(PolicyComponent {
                name: guest.package,
                bytes: guest.bytes,
                sha256: built_in_digest(guest)?,
            })
        })
        .collect()
}

/// The policy gate of `environment`: the standard modules and the ones it binds,
/// each judged by `trust`.
pub fn load_gate(
    runtime: &Runtime,
    cache: &ComponentCache,
    environment: &Environment,
    trust: &TrustPolicy,
    dir: &Dir,
) -> Result<Gate> {
    let bindings = PolicyBindings::parse(environment.policies.as_ref())?;
    Gate::load(runtime, cache, &standard_policies()?, &bindings, trust, dir)
        .context("cannot load the policy modules")
}

/// The trust policy of `environment` (its `[trust]` table, key files read
/// through `dir`), with the components this binary carries trusted as the
/// binary is (`failback_runtime::trust`, docs/environment.md).
pub fn trust_policy(environment: &Environment, dir: &Dir) -> Result<TrustPolicy> {
    Ok(environment
        .trust
        .resolve(dir)
        .context("cannot read the environment's `[trust]` keys")?
        .with_built_in(built_in_digests()?))
}

/// The sha256 of every component this binary carries — the lab plugins and the
/// standard policy modules — and of the manifests it writes beside them
/// (`plugin export`, `lab init`). The components' digests were computed when
/// the binary was built (hashing the ~3 MB of components on every run was a
/// fifth of a `plan` on the lab); a test checks each against its bytes.
pub fn built_in_digests() -> Result<Vec<Digest>> {
    let mut digests = Vec::new();
    for guest in failback_guests::STANDARD {
        digests.push(built_in_digest(guest)?);
        digests.extend(guest.manifest.map(|text| Digest::of(text.as_bytes())));
    }
    Ok(digests)
}

/// The sha256 of the component `guest`, as the build computed it.
fn built_in_digest(guest: &failback_guests::Guest) -> Result<Digest> {
    guest
        .sha256
        .parse()
        .with_context(|| format!("the built-in `{}` has no valid sha256", guest.package))
}

/// The compiled-component cache: `$FAILBACK_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/failback`, else `~/.cache/failback`.
pub fn open_cache() -> Result<ComponentCache> {
    let root = std::env::var_os("FAILBACK_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("failback")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/failback")))
        .context("no cache directory: set FAILBACK_CACHE_DIR, XDG_CACHE_HOME or HOME")?;
    Ok(ComponentCache::open(&root)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_built_in_digest_is_the_sha256_of_the_component_the_binary_carries() {
        for guest in failback_guests::STANDARD {
            assert_eq!(
                guest.sha256,
                Digest::of(guest.bytes).to_string(),
                "{}",
                guest.package
            );
        }
    }
}
