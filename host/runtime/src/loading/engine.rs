//! The one wasmtime engine of a failback process, and loading guests into it.
//!
//! The engine uses the pooling allocator (instantiation reuses pre-reserved
//! slots, and a linear memory starts as a copy of its module's data), epoch
//! interruption (a ticker thread advances the epoch; each call has
//! a deadline), asynchronous calls (so that a wait in a host call ends at the
//! deadline too) and no component-model concurrency. Loading a plugin checks its
//! component against the digest the environment pins, reads its manifest from
//! inside it ([`crate::package`]) or, for a development build, from the file
//! the environment pins beside it, judges who signed it against the trust
//! policy ([`crate::trust`]), checks its grants against its manifest
//! ([`crate::sandbox::capability`]), loads its compiled form
//! through the cache ([`crate::sandbox::cache`], which audits an entry it refuses) and
//! pre-instantiates it once; each call then instantiates it in a fresh store
//! ([`crate::bindings::call`]).

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher};
use std::sync::Arc;
use std::time::Duration;

use cap_std::fs::Dir;
use sha2::{Digest as _, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings::call::{
    CallState, Guest, Redactor, Shared, TICK, Ticker, link_plugin, link_policy,
};
use crate::bindings::plugin::{
    DnsProvider, ManagementStore, Plugin, Plugins, PoolControl, PortProbe, ServerControl,
};
use crate::bindings::policy::PolicyModule;
use crate::digest::Digest;
use crate::environment::{
    Environment, EnvironmentError, ManifestSource, PluginBinding, ResolvedValue,
};
use crate::files::{FileError, MAX_TEXT_FILE_BYTES, RelativePath, read_bytes};
use crate::manifest::{Limits, MAX_MEMORY_MIB, Manifest, ManifestError, PluginKind, Role};
use crate::package::{self, PackError};
use crate::record::audit::{AuditRecord, AuditSink, Outcome};
use crate::sandbox::cache::{CacheError, CacheOutcome, ComponentCache};
use crate::sandbox::capability::{self, CapabilityError, Sandbox};
use crate::sandbox::code::HostCode;
use crate::sandbox::guest_error::BindError;
use crate::sandbox::http::send::HttpAccess;
use crate::signature::{self, MAX_SIGNATURE_BYTES, SignatureError};
use crate::trust::{Origin, Signer, TrustError, TrustPolicy};

/// The largest component file the host reads (64 MiB).
pub const MAX_COMPONENT_BYTES: u64 = 64 << 20;

/// Settings of a [`Runtime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeOptions {
    /// The most data a guest may hand the host in one transfer — the value a
    /// call returns, a log line, a write — counted as wasmtime lifts it (the
    /// store's hostcall fuel: string bytes, and list elements at their size in
    /// the host), and refused before it is lifted.
    pub max_result_bytes: usize,
    /// How many guest instances may be alive at once (pooling allocator slots).
    pub max_instances: u32,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            max_result_bytes: 16 << 20,
            max_instances: 64,
        }
    }
}

/// Why the runtime could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot configure the wasm engine: {0}")]
    Engine(String),
    #[error("cannot link the host imports: {0}")]
    Link(String),
    #[error("cannot start the epoch ticker: {0}")]
    Ticker(std::io::Error),
}

/// Why a plugin or a policy module could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Environment(#[from] EnvironmentError),
    #[error("{0}")]
    File(#[from] FileError),
    #[error("manifest `{path}`: {source}")]
    Manifest { path: String, source: ManifestError },
    #[error("component `{path}`: {source}")]
    Package { path: String, source: PackError },
    #[error(
        "component `{path}` of plugin `{kind}` carries no manifest, and the binding names none: pack it (`failback plugin pack`), or pin a development build's `manifest` and `manifest-sha256`"
    )]
    NoManifest { kind: PluginKind, path: String },
    #[error(
        "component `{path}` carries its own manifest, and the binding names another (`{manifest}`): drop the binding's `manifest` and `manifest-sha256`"
    )]
    TwoManifests { path: String, manifest: String },
    #[error("signature of `{path}`: {source}")]
    Signature {
        path: String,
        source: SignatureError,
    },
    /// Boxed: a refusal names keys and roles, and would make every
    /// `LoadError` as large.
    #[error("{0}")]
    Trust(Box<TrustError>),
    #[error(
        "component `{path}` of plugin `{kind}` has sha256 `{actual}`, but the environment expects `{expected}`: refusing to run it"
    )]
    DigestMismatch {
        kind: PluginKind,
        path: String,
        expected: Digest,
        actual: Digest,
    },
    #[error(
        "manifest `{path}` has sha256 `{actual}`, but the environment pins `{expected}`: refusing to read it"
    )]
    ManifestPin {
        kind: PluginKind,
        path: String,
        expected: Digest,
        actual: Digest,
    },
    #[error(
        "manifest `{path}` gives sha256 `{manifest}`, but the component's is `{actual}`: refusing to run it"
    )]
    ManifestDigest {
        path: String,
        manifest: String,
        actual: Digest,
    },
    #[error("{0}")]
    Capability(#[from] CapabilityError),
    #[error("{0}")]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Bind(#[from] BindError),
}

impl From<TrustError> for LoadError {
    fn from(error: TrustError) -> Self {
        Self::Trust(Box::new(error))
    }
}

/// The plugin runtime: one engine, one linker, an audit sink.
#[derive(Clone)]
pub struct Runtime {
    shared: Shared,
    /// The engine's code memory: what cache entries are loaded into.
    code: Arc<HostCode>,
    engine_hash: String,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("engine_hash", &self.engine_hash)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime with default options, auditing to `audit`.
    pub fn new(audit: Arc<dyn AuditSink>) -> Result<Self, RuntimeError> {
        Self::with_options(audit, RuntimeOptions::default())
    }

    pub fn with_options(
        audit: Arc<dyn AuditSink>,
        options: RuntimeOptions,
    ) -> Result<Self, RuntimeError> {
        let mut pool = PoolingAllocationConfig::default();
        let instances = options.max_instances.max(1);
        pool.total_component_instances(instances);
        pool.total_core_instances(instances.saturating_mul(16));
        pool.total_memories(instances.saturating_mul(2));
        pool.total_tables(instances.saturating_mul(16));
        pool.max_memory_size((MAX_MEMORY_MIB as usize) << 20);
        // One fiber stack per call in flight.
        pool.total_stacks(instances);

        let code = Arc::new(HostCode::default());
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .concurrency_support(false)
            .epoch_interruption(true)
            // A linear memory starts as a copy of its module's data segments
            // (7–20 KiB for our guests), not as a copy-on-write mapping of
            // an image: a component loaded in place from a cache entry
            // ([`crate::sandbox::code`]) has no file to map, so wasmtime would make an
            // in-memory file of each module's image first (`memfd_create`
            // and a write per module, then a mapping per instance), more
            // than the copy costs for the few calls a command makes
            // (BENCHMARKS.md, "Start-up, a third time").
            .memory_init_cow(false)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        code.configure(&mut config);
        let engine = Engine::new(&config).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;

        let link = |add: fn(&mut Linker<CallState>) -> wasmtime::Result<()>| {
            let mut linker = Linker::<CallState>::new(&engine);
            add(&mut linker).map_err(|e| RuntimeError::Link(format!("{e:#}")))?;
            Ok::<_, RuntimeError>(Arc::new(linker))
        };
        let plugin_linker = link(link_plugin)?;
        let policy_linker = link(link_policy)?;

        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = hex::encode(&hasher.0.finalize()[..8]);

        let ticker = Ticker::start(engine.clone()).map_err(RuntimeError::Ticker)?;

        Ok(Self {
            shared: Shared {
                engine,
                plugin_linker,
                policy_linker,
                audit,
                tick_ms: TICK.as_millis().try_into().unwrap_or(1),
                max_result_bytes: options.max_result_bytes,
                _ticker: Arc::new(ticker),
            },
            code,
            engine_hash,
        })
    }

    /// The engine's precompile compatibility hash (16 hex digits), part of every
    /// cache entry's name.
    #[must_use]
    pub fn engine_hash(&self) -> &str {
        &self.engine_hash
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// The linker plugins are loaded with (`plugin review` tries it).
    pub(crate) fn plugin_linker(
        &self,
    ) -> &wasmtime::component::Linker<crate::bindings::call::CallState> {
        &self.shared.plugin_linker
    }

    /// The linker policy modules are loaded with (`plugin review` tries it).
    pub(crate) fn policy_linker(
        &self,
    ) -> &wasmtime::component::Linker<crate::bindings::call::CallState> {
        &self.shared.policy_linker
    }

    /// Load the component `bytes` through `cache`.
    pub fn compile(
        &self,
        cache: &ComponentCache,
        bytes: &[u8],
    ) -> Result<(Component, CacheOutcome), CacheError> {
        self.compile_verified(cache, Digest::of(bytes), bytes)
    }

    /// Load the component `bytes`, whose sha256 `digest` the caller has
    /// already checked, through `cache`.
    pub fn compile_verified(
        &self,
        cache: &ComponentCache,
        digest: Digest,
        bytes: &[u8],
    ) -> Result<(Component, CacheOutcome), CacheError> {
        let loaded = cache.load(
            &self.shared.engine,
            &self.code,
            &self.engine_hash,
            digest,
            bytes,
        )?;
        if let CacheOutcome::Replaced(reason) = &loaded.1 {
            self.shared.audit.record(AuditRecord {
                at: std::time::SystemTime::now(),
                plugin: format!("component {digest}"),
                digest,
                signer: None,
                function: "load".to_owned(),
                duration: Duration::ZERO,
                outcome: Outcome::Denied(format!(
                    "the compiled-cache entry `{}` was refused ({reason}): compiled again from the pinned component",
                    ComponentCache::entry_name(digest, &self.engine_hash)
                )),
            });
        }
        Ok(loaded)
    }

    /// Load every plugin `environment` binds, each judged by `trust`, side by
    /// side ([`load_each`]). `dir` is the environment directory; `env` looks
    /// up the host's environment variables for `{ env = … }` secrets. The
    /// first plugin (in the environment's order) that cannot be loaded is the
    /// error; every refusal is audited.
    pub fn load_plugins(
        &self,
        environment: &Environment,
        trust: &TrustPolicy,
        dir: &Dir,
        cache: &ComponentCache,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Plugins, LoadError> {
        capability::check_environment(environment)?;
        let bindings: Vec<&PluginBinding> = environment.plugins.values().collect();
        let loaded = load_each(&bindings, |binding| {
            self.load_plugin(binding, trust, dir, cache, env)
        });
        let mut plugins = Plugins::default();
        for (binding, plugin) in bindings.into_iter().zip(loaded) {
            let plugin = plugin?;
            match binding.kind {
                PluginKind::DnsProvider => {
                    plugins.dns_provider = Some(DnsProvider::new(plugin)?);
                }
                PluginKind::PortProbe => plugins.port_probe = Some(PortProbe::new(plugin)?),
                PluginKind::ManagementStore => {
                    plugins.management_store = Some(ManagementStore::new(plugin)?);
                }
                PluginKind::ServerControl => {
                    plugins.server_control = Some(ServerControl::new(plugin)?);
                }
                PluginKind::PoolControl => plugins.pool_control = Some(PoolControl::new(plugin)?),
            }
        }
        Ok(plugins)
    }

    /// Load the plugin of one binding: check its component against the
    /// digest the binding pins, read its manifest (inside it, or the pinned
    /// file beside it), judge its signer by `trust`, then its grants; open the
    /// granted directories; compile it through the cache and pre-instantiate
    /// it. Wrap the result in its kind's typed API ([`DnsProvider::new`], ...).
    pub fn load_plugin(
        &self,
        binding: &PluginBinding,
        trust: &TrustPolicy,
        dir: &Dir,
        cache: &ComponentCache,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Plugin, LoadError> {
        let bytes = read_bytes(dir, &binding.path, MAX_COMPONENT_BYTES)?;
        let actual = Digest::of(&bytes);
        if actual != binding.sha256 {
            let error = LoadError::DigestMismatch {
                kind: binding.kind,
                path: binding.path.to_string(),
                expected: binding.sha256,
                actual,
            };
            self.deny(binding.kind.name(), actual, &error);
            return Err(error);
        }
        let path = binding.path.to_string();
        let carried = package::embedded_manifest(&bytes)
            .map_err(|source| LoadError::Package {
                path: path.clone(),
                source,
            })
            .inspect_err(|error| self.deny(binding.kind.name(), actual, error))?;
        let (manifest, origin) = match (&binding.manifest, carried) {
            (ManifestSource::Embedded, Some(manifest)) => (manifest, Origin::Component),
            (ManifestSource::Embedded, None) => {
                let error = LoadError::NoManifest {
                    kind: binding.kind,
                    path,
                };
                self.deny(binding.kind.name(), actual, &error);
                return Err(error);
            }
            (ManifestSource::File { path: manifest, .. }, Some(_)) => {
                let error = LoadError::TwoManifests {
                    path,
                    manifest: manifest.to_string(),
                };
                self.deny(binding.kind.name(), actual, &error);
                return Err(error);
            }
            (ManifestSource::File { sha256: pinned, .. }, None) => {
                let manifest = self.pinned_manifest(binding, dir, actual)?;
                if manifest.sha256 != Some(actual) {
                    let error = LoadError::ManifestDigest {
                        path: binding.manifest.to_string(),
                        manifest: manifest
                            .sha256
                            .map_or_else(|| "(none)".to_owned(), |d| d.to_string()),
                        actual,
                    };
                    self.deny(&manifest.name, actual, &error);
                    return Err(error);
                }
                (manifest, Origin::Development { manifest: *pinned })
            }
        };
        if manifest.plugin_kind() != Some(binding.kind) {
            return Err(BindError::WrongWorld {
                plugin: manifest.name,
                kind: Role::Plugin(binding.kind),
                world: manifest.world,
            }
            .into());
        }
        let signer = self
            .judge(
                &manifest.name,
                Role::Plugin(binding.kind),
                &bytes,
                actual,
                origin,
                binding.signature.as_ref().map(|p| (dir, p)),
                trust,
            )
            .inspect_err(|error| self.deny(&manifest.name, actual, error))?;
        let limits = binding.limits.apply(manifest.limits)?;
        let granted = capability::check(&manifest.name, &manifest.capabilities, &binding.grants)
            .inspect_err(|error| self.deny(&manifest.name, actual, error))?;
        let sandbox = Sandbox::resolve(&manifest.name, &granted, dir)
            .inspect_err(|error| self.deny(&manifest.name, actual, error))?;
        let config = binding.resolve_config(dir, env)?;
        let headers = binding.resolve_http_secrets(dir, env)?;
        let config_secrets: Vec<String> = config
            .values()
            .filter_map(|value| match value {
                ResolvedValue::Secret(secret) => Some(secret.expose().to_owned()),
                ResolvedValue::Text(_) => None,
            })
            .collect();
        let http = HttpAccess::resolve(
            &manifest.name,
            &granted.http,
            &headers,
            &config_secrets,
            dir,
        )
        .inspect_err(|error| self.deny(&manifest.name, actual, error))?;
        let redactor = Redactor::with(&config, http.secrets());
        let (component, _) = self.compile_verified(cache, actual, &bytes)?;
        let guest = Guest {
            name: Arc::from(manifest.name.as_str()),
            digest: actual,
            signer: Arc::new(signer),
            limits,
            sandbox,
            http: Arc::new(http),
            redactor,
            config: Arc::new(config),
            shared: self.shared.clone(),
        };
        let pre = self
            .shared
            .plugin_linker
            .instantiate_pre(&component)
            .map_err(|e| BindError::Link {
                plugin: manifest.name.clone(),
                message: format!("{e:#}"),
            })?;
        Ok(Plugin::new(binding.kind, guest, manifest, pre))
    }

    /// The manifest `binding` names, read only when its sha256 is the one the
    /// binding pins (checked before a byte of it is parsed), and checked.
    /// `component` is the component's digest, for the audit of a refusal.
    pub(crate) fn pinned_manifest(
        &self,
        binding: &PluginBinding,
        dir: &Dir,
        component: Digest,
    ) -> Result<Manifest, LoadError> {
        let ManifestSource::File { path, sha256 } = &binding.manifest else {
            return Err(LoadError::NoManifest {
                kind: binding.kind,
                path: binding.path.to_string(),
            });
        };
        let text = read_bytes(dir, path, MAX_TEXT_FILE_BYTES)?;
        let actual = Digest::of(&text);
        if actual != *sha256 {
            let error = LoadError::ManifestPin {
                kind: binding.kind,
                path: path.to_string(),
                expected: *sha256,
                actual,
            };
            self.deny(binding.kind.name(), component, &error);
            return Err(error);
        }
        let manifest = |source| LoadError::Manifest {
            path: path.to_string(),
            source,
        };
        let text = String::from_utf8(text)
            .map_err(|_| manifest(ManifestError::Syntax("not UTF-8".to_owned())))?;
        Manifest::parse(&text).map_err(manifest)
    }

    /// Load a policy module from its component `bytes`, under `name`, judged by
    /// `trust` (with its `detached` signature, if any). Its limits are those
    /// of the manifest it carries, else `limits` (the gate's:
    /// [`crate::manifest::POLICY_LIMITS`]). It
    /// gets no capability at all: it links against the policy imports only
    /// ([`crate::bindings::call::link_policy`]), with an empty context whose clocks and
    /// random numbers are fixed, and no configuration.
    pub fn load_policy(
        &self,
        name: &str,
        bytes: &[u8],
        cache: &ComponentCache,
        limits: Limits,
        trust: &TrustPolicy,
        detached: Option<&[u8]>,
    ) -> Result<PolicyModule, LoadError> {
        let digest = Digest::of(bytes);
        self.load_policy_verified(name, bytes, digest, cache, limits, trust, detached)
    }

    /// As [`Runtime::load_policy`], for a module whose sha256 `digest` the
    /// caller already knows (a built-in module's, computed when the binary was
    /// built: `failback_guests::Guest::sha256`). The digest is the module's
    /// name for what follows — the trust policy's built-ins, its cache entry,
    /// the plan's provenance — so it must be the sha256 of `bytes`: the cache
    /// compiles an entry only from bytes that hash to its digest
    /// ([`CacheError::NotTheComponent`]).
    #[expect(clippy::too_many_arguments, reason = "load_policy's, and the digest")]
    pub fn load_policy_verified(
        &self,
        name: &str,
        bytes: &[u8],
        digest: Digest,
        cache: &ComponentCache,
        limits: Limits,
        trust: &TrustPolicy,
        detached: Option<&[u8]>,
    ) -> Result<PolicyModule, LoadError> {
        let manifest = package::embedded_manifest(bytes)
            .map_err(|source| LoadError::Package {
                path: name.to_owned(),
                source,
            })
            .inspect_err(|error| self.deny(name, digest, error))?;
        if let Some(manifest) = &manifest
            && manifest.role != Role::Policy
        {
            return Err(BindError::WrongWorld {
                plugin: name.to_owned(),
                kind: Role::Policy,
                world: manifest.world.clone(),
            }
            .into());
        }
        let limits = manifest.as_ref().map_or(limits, |m| m.limits);
        let signer = if trust.is_built_in(digest) {
            Signer::BuiltIn
        } else {
            let signatures = signature::check(bytes, detached, &trust.keys_for(Role::Policy))
                .map_err(|source| LoadError::Signature {
                    path: name.to_owned(),
                    source,
                })?;
            trust
                .judge(name, Role::Policy, digest, Origin::Component, &signatures)
                .inspect_err(|error| self.deny(name, digest, error))?
        };
        let (component, _) = self.compile_verified(cache, digest, bytes)?;
        let pre = self
            .shared
            .policy_linker
            .instantiate_pre(&component)
            .map_err(|e| BindError::Link {
                plugin: name.to_owned(),
                message: format!("{e:#}"),
            })?;
        let guest = Guest {
            name: Arc::from(name),
            digest,
            signer: Arc::new(signer),
            limits,
            sandbox: Sandbox::policy(),
            http: Arc::default(),
            config: Arc::new(BTreeMap::new()),
            redactor: Redactor::default(),
            shared: self.shared.clone(),
        };
        Ok(PolicyModule::new(guest, pre)?)
    }

    /// Who vouches for the component `bytes` (of `digest`, named `subject`,
    /// of `role`, from `origin`), with its detached signature at `detached`
    /// if any: its signatures checked against the keys `trust` has for
    /// `role`, then judged. A built-in component or a development build is
    /// judged without reading a signature.
    #[expect(clippy::too_many_arguments, reason = "one judgement, its inputs named")]
    fn judge(
        &self,
        subject: &str,
        role: Role,
        bytes: &[u8],
        digest: Digest,
        origin: Origin,
        detached: Option<(&Dir, &RelativePath)>,
        trust: &TrustPolicy,
    ) -> Result<Signer, LoadError> {
        let unread = signature::Signatures {
            claimed: Vec::new(),
            verified: Vec::new(),
        };
        if trust.is_built_in(digest) || matches!(origin, Origin::Development { .. }) {
            return Ok(trust.judge(subject, role, digest, origin, &unread)?);
        }
        let detached = detached
            .map(|(dir, path)| read_bytes(dir, path, MAX_SIGNATURE_BYTES))
            .transpose()?;
        let signatures = signature::check(bytes, detached.as_deref(), &trust.keys_for(role))
            .map_err(|source| LoadError::Signature {
                path: subject.to_owned(),
                source,
            })?;
        Ok(trust.judge(subject, role, digest, origin, &signatures)?)
    }

    /// Audit a refusal to load.
    fn deny(&self, plugin: &str, digest: Digest, error: &dyn std::fmt::Display) {
        self.shared.audit.record(AuditRecord {
            at: std::time::SystemTime::now(),
            plugin: plugin.to_owned(),
            digest,
            signer: None,
            function: "load".to_owned(),
            duration: Duration::ZERO,
            outcome: Outcome::Denied(error.to_string()),
        });
    }
}

/// `load` of each of `items`, in their order, side by side on rayon's threads
/// (one per core). Loading a component is reading, hashing and mapping it,
/// independent of the others: a lab's `plan` loads ten, most of its time
/// (BENCHMARKS.md, "Start-up, again").
pub(crate) fn load_each<T: Sync, R: Send>(items: &[T], load: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use rayon::iter::{IntoParallelRefIterator as _, ParallelIterator as _};
    items.par_iter().map(&load).collect()
}

/// Feeds `Hash` output into sha256, for a digest stable across processes.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
