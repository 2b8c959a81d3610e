//! The failback plugin runtime: the sandbox every environment-specific action
//! and every policy runs in.
//!
//! It loads WASM components (plugins of `failback:plugin`, policy modules of
//! `failback:policy`, each on any track the host binds: [`wit`]) into one
//! wasmtime engine ([`Runtime`]), after
//! checking each plugin against the operator's environment file
//! ([`Environment`]), its manifest ([`Manifest`]) and the capabilities granted
//! to it ([`capability`]). Compiled components are cached on disk, sealed
//! with a per-user key and checked before they are loaded ([`ComponentCache`]).
//! Each call runs in a fresh store, within the plugin's memory, time and data
//! limits — the deadline ends waits in host calls too — and is audited
//! ([`audit`]); it returns the guest's value, the guest's own [`PluginError`],
//! or a typed runtime failure ([`CallError`]). [`inspect()`] describes a component for `failback plugin
//! inspect`. The conformance kit ([`conformance`]) runs a plugin against what
//! the host relies on from its world, for `failback plugin test`.
//!
//! The runtime holds no ambient authority over files: the CLI opens the
//! environment directory and the cache directory as `cap_std` [`Dir`]s and hands
//! them in. Core (`failback_core`) gets plain values from here
//! (`failback_core::observed`); the CLI renders the errors.
//!
//! A [`Session`] is an environment opened with its plugins and policies
//! loaded: it observes the deployment, makes and judges plans, tells whether
//! a saved plan is still the plan of the deployment now, and verifies a
//! deployment ([`session`]); the CLI opens it and renders what it returns.
//!
//! Applying a plan ([`apply`]) runs its steps through the plugins, verified
//! against the plan's predicted states, journaled in SQLite ([`journal`]),
//! one run per environment at a time ([`lock`]), with every call and policy
//! decision in a hash-chained audit log on disk ([`audit_log`]). These three
//! take paths inside the environment's state directory (`.failback/`, kept
//! private by [`state`]), which the CLI derives from the environment file it
//! opened.
//!
//! The modules live in rooms by concern, one folder each; a room names only
//! the rooms below it (a test, `layers`, keeps it so), so a module's folder
//! tells what it may import. Lowest first:
//!
//! - [`record`]: the run's records: audit records and sinks, the audit log's
//!   writer, the SQLite and PostgreSQL journals, the environment lock, the
//!   private state directory, progress events. Names no other room.
//! - [`sandbox`]: the walls: capability grants, a plugin's HTTP requests
//!   judged and sent, what a call can end in, the sealed compiled-component
//!   cache and the memory its code is mapped into.
//! - [`bindings`]: one call into a guest: the generated bindings per world
//!   track ([`wit`]), the call in a fresh store within its limits, typed
//!   plugin and policy-module calls.
//! - [`loading`]: the trust chain's last link: a component's manifest,
//!   signatures, trust and grants checked, then compiled or taken from the
//!   cache and bound ([`Runtime`]); [`inspect()`] and [`review`].
//! - [`judgment`]: observing the deployment, the policy gate, and the
//!   [`Session`] that holds an opened environment.
//! - [`run`]: a judged plan applied step by step ([`apply`]).
//! - [`conformance`]: the kit `failback plugin test` runs.
//!
//! What is read and checked without an engine (the environment file,
//! manifests, keys, signatures, approvals, packed components, the audit log's
//! lines) is `failback_formats`'s, re-exported here under its old paths.
//!
//! [`Dir`]: cap_std::fs::Dir

pub mod bindings;
pub mod conformance;
pub mod judgment;
pub mod loading;
pub mod record;
pub mod run;
pub mod sandbox;

pub use bindings::wit;
pub use failback_formats::{
    approval, digest, environment, files, manifest, package, signature, trust,
};
pub use judgment::{gate, observe, session};
pub use loading::review;
pub use record::{audit, audit_log, journal, lock, pg, progress, state};
pub use run::apply;
pub use sandbox::{cache, capability, http};

pub use apply::{ApplyError, ApplyOptions, Ended, Executor, FieldDiff, Halt};
pub use approval::{ApprovalError, ApprovalPolicy};
pub use audit::{
    AuditRecord, AuditSink, Decision, HttpExchange, MemoryAuditSink, NotDurable, NullAuditSink,
    Outcome,
};
pub use audit_log::{AuditLog, AuditLogError};
pub use bindings::plugin::{
    Answer, DnsProvider, ManagementStore, Plugin, PluginSet, Plugins, PoolControl, PortProbe,
    ServerControl, Unbound,
};
pub use bindings::policy::{CheckError, ModuleFinding, PolicyModule, RuleInfo, Track, Trajectory};
pub use cache::{CacheError, CacheOutcome, ComponentCache, Refusal};
pub use capability::CapabilityError;
pub use digest::Digest;
pub use environment::{
    ENVIRONMENT_FILE, Environment, EnvironmentError, ManifestSource, PluginBinding,
};
pub use gate::{Gate, GateError, Overrides, PolicyBindings, PolicyComponent};
pub use journal::{Journal, JournalError, JournalStore, RunRecord, RunState, SqliteJournal};
pub use loading::engine::{LoadError, MAX_COMPONENT_BYTES, Runtime, RuntimeError, RuntimeOptions};
pub use loading::inspect::{InspectError, Inspection, Item, inspect};
pub use lock::{EnvironmentLock, Holder, LockError};
pub use manifest::{Limits, Manifest, ManifestError, PluginKind, PluginTrack, Role};
pub use observe::{ObserveError, observe};
pub use package::{PackError, Packed, embedded_manifest, pack};
pub use progress::{Event, NoProgress, Progress, StepEnd};
pub use run::operation::StepError;
pub use sandbox::guest_error::{BindError, CallError, PluginError};
pub use session::{Changed, Freshness, Session, SessionError, Stale, Verification};
pub use signature::{Fingerprint, KeyError, Placement, PublicKey, SignatureError, SigningKey};
pub use trust::{Signer, TrustError, TrustPolicy};
