//! The failback plugin runtime: the sandbox every environment-specific action
//! and every policy runs in.
//!
//! It loads WASM components (plugins of `failback:plugin@0.1.0`, policy modules
//! of `failback:policy@0.1.0`) into one wasmtime engine ([`Runtime`]), after
//! checking each plugin against the operator's environment file
//! ([`Environment`]), its manifest ([`Manifest`]) and the capabilities granted
//! to it ([`capability`]). Compiled components are cached on disk
//! ([`ComponentCache`]). Each call runs in a fresh store, within the plugin's
//! memory and time limits, and is audited ([`audit`]); it returns the guest's
//! value, the guest's own [`PluginError`], or a typed runtime failure
//! ([`CallError`]). [`inspect()`] describes a component for `failback plugin
//! inspect`.
//!
//! The runtime holds no ambient authority over files: the CLI opens the
//! environment directory and the cache directory as `cap_std` [`Dir`]s and hands
//! them in. Core (`failback_core`) gets plain values from here
//! (`failback_core::observed`); the CLI renders the errors.
//!
//! [`Dir`]: cap_std::fs::Dir

pub mod audit;
pub mod cache;
mod call;
pub mod capability;
pub mod digest;
mod engine;
pub mod environment;
pub mod gate;
mod inspect;
pub mod manifest;
pub mod observe;
mod plugin;
mod policy;
pub mod wit;

pub use audit::{AuditRecord, AuditSink, MemoryAuditSink, NullAuditSink, Outcome};
pub use cache::{CacheError, CacheOutcome, ComponentCache};
pub use call::CallError;
pub use capability::CapabilityError;
pub use digest::Digest;
pub use engine::{LoadError, MAX_COMPONENT_BYTES, Runtime, RuntimeError, RuntimeOptions};
pub use environment::{ENVIRONMENT_FILE, Environment, EnvironmentError, PluginBinding};
pub use gate::{Gate, GateError, Overrides, PolicyBindings};
pub use inspect::{InspectError, Inspection, Item, inspect};
pub use manifest::{Limits, Manifest, ManifestError, PluginKind};
pub use observe::{ObserveError, observe};
pub use plugin::{
    DnsProvider, ManagementStore, Plugin, PluginError, Plugins, PoolControl, PortProbe,
    ServerControl,
};
pub use policy::{PolicyModule, types as policy_types};
