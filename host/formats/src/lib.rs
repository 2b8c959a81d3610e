//! What failback reads and checks without an engine: the operator's
//! environment file, plugin manifests, OpenSSH keys, component signatures and
//! plan approvals as data, the sections of a packed component, and the audit
//! log's lines and chain. Nothing here loads or runs WebAssembly: the runtime
//! (`failback-runtime`) uses these to decide what it loads, and a fuzz target,
//! a test or a tool reads them without building wasmtime.
//!
//! Each format has an entry point over text or bytes, the first thing a fuzz
//! target calls:
//!
//! | format | entry point |
//! |---|---|
//! | the environment file | [`Environment::parse`] (`&str`) |
//! | a manifest | [`Manifest::parse`] (`&str`) |
//! | an OpenSSH public key line / private key | [`PublicKey::parse`], [`SigningKey::parse`] (`&str`) |
//! | an SSHSIG approval | [`approval::from_signature`] (`&str`), judged by [`ApprovalPolicy::judge`] |
//! | a component's signatures | [`signature::check`] (`&[u8]`, embedded or detached) |
//! | a packed component's sections | [`package::sections`], [`package::embedded_manifest`] (`&[u8]`) |
//! | the audit log | [`audit_log::verify_bytes`], [`audit_log::verify_text_anchored`] (`&[u8]`) |
//!
//! The modules, leaves first: [`digest`] (a sha256 digest), [`files`] (paths
//! inside the environment's directory, bounded reads), [`http`] (an origin, a
//! method, a secret header's name), [`manifest`], [`package`] (a component's
//! sections), [`signature`] (keys and signatures), [`trust`] (the
//! environment's `[trust]`), [`approval`] (its `[approvals]`),
//! [`environment`] (the whole file), and [`audit_log`] (a leaf of its own).
//!
//! Like `failback_core`, this crate depends on no wasmtime, tokio or clap
//! (`./scripts/test` checks it).

pub mod approval;
pub mod audit_log;
pub mod digest;
pub mod environment;
pub mod files;
pub mod http;
pub mod manifest;
pub mod package;
pub mod signature;
pub mod trust;

pub use approval::{ApprovalError, ApprovalPolicy};
pub use audit_log::{AuditLogError, Verified, verify_bytes};
pub use digest::Digest;
pub use environment::{
    ENVIRONMENT_FILE, Environment, EnvironmentError, ManifestSource, PluginBinding,
};
pub use manifest::{Limits, Manifest, ManifestError, PluginKind, PluginTrack, Role};
pub use package::{PackError, Packed, embedded_manifest, pack};
pub use signature::{Fingerprint, KeyError, Placement, PublicKey, SignatureError, SigningKey};
pub use trust::{Signer, TrustError, TrustPolicy};
