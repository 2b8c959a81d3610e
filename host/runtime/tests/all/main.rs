//! The runtime's integration tests, with the real guests built from
//! `tests/guests/` and `plugins/` (one binary; a one-line comment per module).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail by panicking"
)]

/// Batches: concurrent probes of a 0.1 plugin under one deadline; attacks on a batch answer.
mod batches;
/// The compiled-component cache: hits, misses, corrupt and stale entries.
mod cache;
/// Fixtures: an environment directory in a temporary directory, a runtime, a cache.
mod common;
/// The conformance kit: every world's cases against the deliberately broken guest.
mod conformance;
/// The policy gate with the standard modules: findings keyed by module, levels.
mod gate;
/// A plugin's HTTP: each attack of the hostile HTTP guest against real HTTP and HTTPS servers.
mod http;
/// `plugin inspect`.
mod inspect;
/// The crates' modules name each other one way: no module cycle in runtime or CLI.
mod layers;
/// Loading plugins from an environment: digests, manifests, grants.
mod load;
/// Each typed plugin API against the well-behaved guest.
mod plugins;
/// Policy modules: no capabilities, typed calls.
mod policy;
/// `plugin review`: what each import can reach, and "cannot link" exactly when loading refuses.
mod review;
/// The hostile guest: each attack fails with its typed error and the host keeps serving.
mod sandbox;
/// A test CA and a TLS front (shared with the end-to-end tests).
#[path = "../../../../tests/servers/tls.rs"]
mod tls;
/// Packed, signed plugins under a trust policy: the attacks on a signature.
mod trust;
