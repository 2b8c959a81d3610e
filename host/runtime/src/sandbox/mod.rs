//! The sandbox's walls: what a guest may reach and how a call into it can
//! end. It names only the records (`crate::record`), where each call, denial
//! and request is audited.
//!
//! [`capability`] pairs a manifest's requests with the environment's grants
//! (the one place they are compared) and holds what a guest was granted;
//! [`http`] judges and sends a plugin's outgoing requests within its grant.
//! `guest_error` is what a call can end in. [`cache`] keeps compiled
//! components on disk, sealed with a per-user key and checked before they are
//! loaded; `code` is the memory the host maps that compiled code into.

pub mod cache;
pub mod capability;
pub(crate) mod code;
pub(crate) mod guest_error;
pub mod http;
