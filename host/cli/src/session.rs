//! Opening an environment: the one place the CLI turns paths into capabilities.
//!
//! The environment directory and the compiled-component cache are opened here
//! as `cap_std` directories and handed to the runtime, which holds no ambient
//! authority over files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use failback_core::deployment::{Snapshot, assemble};
use failback_core::observed::Observation;
use failback_guests::Group;
use failback_runtime::{
    ApprovalPolicy, AuditSink, ComponentCache, Digest, Environment, Gate, NullAuditSink, Plugins,
    PolicyBindings, Runtime, TrustPolicy, observe,
};

/// The directory beside the environment file where apply keeps its journal,
/// lock and audit log.
pub use failback_runtime::state::STATE_DIR;

/// An opened environment with its plugins and policies loaded. The plugins
/// and policy modules keep what they need of the runtime alive (the engine and
/// its epoch ticker), so the session holds no runtime of its own.
pub struct Session {
    pub environment: Environment,
    /// The sha256 of the environment file's bytes, as they were loaded.
    pub environment_sha256: Digest,
    /// The environment directory's host path.
    pub root: PathBuf,
    pub plugins: Plugins,
    pub gate: Gate,
    /// Who must approve a saved plan before it is applied (`[approvals]`).
    pub approvals: ApprovalPolicy,
}

impl Session {
    /// Open the environment file `env` and load what it binds. Reading
    /// commands (plan, verify) keep no audit log: only the commands that hold
    /// the environment's lock write one.
    pub fn open(env: &Path) -> Result<Self> {
        Self::open_audited(env, None)
    }

    /// As [`Session::open`], with every audit record also sent to `sink`
    /// (apply's hash-chained log on disk).
    pub fn open_audited(env: &Path, sink: Option<Arc<dyn AuditSink>>) -> Result<Self> {
        let OpenedEnvironment {
            environment,
            sha256: environment_sha256,
            dir,
            root,
        } = open_environment(env)?;
        let sink = sink.unwrap_or_else(|| Arc::new(NullAuditSink));
        let runtime = Runtime::new(sink).context("cannot start the plugin runtime")?;
        let cache = open_cache()?;
        let trust = trust_policy(&environment, &dir)?;
        let approvals = environment
            .approvals
            .resolve(&dir)
            .context("cannot read the environment's `[approvals]`")?;
        let plugins = runtime
            .load_plugins(&environment, &trust, &dir, &cache, &|name| {
                std::env::var(name).ok()
            })
            .context("cannot load the environment's plugins")?;
        let gate = load_gate(&runtime, &cache, &environment, &trust, &dir)?;
        Ok(Self {
            environment,
            environment_sha256,
            root,
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

    /// Observe the deployment now, through the plugins.
    pub fn observe(&self) -> Result<Snapshot> {
        Ok(self.capture()?.1)
    }

    /// Observe the deployment now and write it down: the raw observation, and
    /// the snapshot it checks into (so that a state that cannot be planned is
    /// never captured).
    pub fn capture(&self) -> Result<(Observation, Snapshot)> {
        let observation = observe(&self.plugins, &self.environment.zone)
            .context("cannot observe the deployment")?;
        let snapshot =
            assemble(&observation).context("the observed deployment is not consistent")?;
        Ok((observation, snapshot))
    }
}

/// An environment file read and checked, with what the commands need beside it.
#[derive(Debug)]
pub struct OpenedEnvironment {
    pub environment: Environment,
    /// The sha256 of exactly the text that was parsed (the plan's provenance).
    pub sha256: Digest,
    /// The environment directory, opened as a capability.
    pub dir: Dir,
    /// That directory's host path.
    pub root: PathBuf,
}

/// Read the environment file `env` through the runtime's bounded, confined read.
pub fn open_environment(env: &Path) -> Result<OpenedEnvironment> {
    let root = Session::root_of(env);
    let file = env
        .file_name()
        .and_then(|f| f.to_str())
        .with_context(|| format!("`{}` is not an environment file name", env.display()))?;
    let dir = Dir::open_ambient_dir(&root, ambient_authority())
        .with_context(|| format!("cannot open the environment directory `{}`", root.display()))?;
    let root = root
        .canonicalize()
        .with_context(|| format!("cannot resolve `{}`", root.display()))?;
    let (environment, sha256) = Environment::load_digested(&dir, file)
        .with_context(|| format!("cannot load the environment `{}`", env.display()))?;
    Ok(OpenedEnvironment {
        environment,
        sha256,
        dir,
        root,
    })
}

/// The standard policy modules the binary carries, by package name.
pub fn standard_policies() -> Vec<(&'static str, &'static [u8])> {
    failback_guests::STANDARD
        .iter()
        .filter(|guest| guest.group == Group::Policy)
        .map(|guest| (guest.package, guest.bytes))
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
    Gate::load(runtime, cache, &standard_policies(), &bindings, trust, dir)
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
        .with_built_in(built_in_digests()))
}

/// The sha256 of every component this binary carries — the lab plugins and the
/// standard policy modules — and of the manifests it writes beside them
/// (`plugin export`, `lab init`).
pub fn built_in_digests() -> Vec<Digest> {
    failback_guests::STANDARD
        .iter()
        .flat_map(|guest| {
            std::iter::once(Digest::of(guest.bytes))
                .chain(guest.manifest.map(|text| Digest::of(text.as_bytes())))
        })
        .collect()
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
