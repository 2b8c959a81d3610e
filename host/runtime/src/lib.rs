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
//! The modules are layered one way (a test, `layers`, keeps it so): the
//! bindings (`wit`) and what a call can end in (`guest_error`) at the bottom;
//! one call into a guest (`call`); plugins and policy modules (`plugin`,
//! `policy`); the engine that loads them (`engine`) and the gate; observing,
//! the operations and the apply engine; the session on top. The environment's
//! files ([`files`]) sit under the environment file, its `[trust]` and its
//! `[approvals]`.
//!
//! [`Dir`]: cap_std::fs::Dir

pub mod apply;
pub use failback_formats::{
    approval, digest, environment, files, manifest, package, signature, trust,
};
pub mod audit;
pub mod audit_log;
pub mod cache;
mod call;
pub mod capability;
mod code;
pub mod conformance;
mod engine;
pub mod gate;
mod guest_error;
pub mod http;
mod inspect;
pub mod journal;
pub mod lock;
pub mod observe;
mod operation;
pub mod pg;
mod plugin;
mod policy;
pub mod progress;
pub mod review;
pub mod session;
pub mod state;
pub mod wit;

pub use apply::{ApplyError, ApplyOptions, Ended, Executor, FieldDiff, Halt};
pub use approval::{ApprovalError, ApprovalPolicy};
pub use audit::{
    AuditRecord, AuditSink, Decision, HttpExchange, MemoryAuditSink, NotDurable, NullAuditSink,
    Outcome,
};
pub use audit_log::{AuditLog, AuditLogError};
pub use cache::{CacheError, CacheOutcome, ComponentCache, Refusal};
pub use capability::CapabilityError;
pub use digest::Digest;
pub use engine::{LoadError, MAX_COMPONENT_BYTES, Runtime, RuntimeError, RuntimeOptions};
pub use environment::{
    ENVIRONMENT_FILE, Environment, EnvironmentError, ManifestSource, PluginBinding,
};
pub use gate::{Gate, GateError, Overrides, PolicyBindings, PolicyComponent};
pub use guest_error::{BindError, CallError, PluginError};
pub use inspect::{InspectError, Inspection, Item, inspect};
pub use journal::{Journal, JournalError, JournalStore, RunRecord, RunState, SqliteJournal};
pub use lock::{EnvironmentLock, Holder, LockError};
pub use manifest::{Limits, Manifest, ManifestError, PluginKind, PluginTrack, Role};
pub use observe::{ObserveError, observe};
pub use operation::StepError;
pub use package::{PackError, Packed, embedded_manifest, pack};
pub use plugin::{
    Answer, DnsProvider, ManagementStore, Plugin, PluginSet, Plugins, PoolControl, PortProbe,
    ServerControl, Unbound,
};
pub use policy::{CheckError, ModuleFinding, PolicyModule, RuleInfo, Track, Trajectory};
pub use progress::{Event, NoProgress, Progress, StepEnd};
pub use session::{Changed, Freshness, Session, SessionError, Stale, Verification};
pub use signature::{Fingerprint, KeyError, Placement, PublicKey, SignatureError, SigningKey};
pub use trust::{Signer, TrustError, TrustPolicy};
