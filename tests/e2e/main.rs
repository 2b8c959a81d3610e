//! End-to-end tests of the `failback` binary. One module per area; each test
//! runs the real binary with the real WASM plugins and policies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Helpers: the binary, temporary labs, output filters.
mod support;

/// `failback lab init` and `lab scenarios`.
mod lab;
/// `failback plan` on every lab scenario, in every format.
mod plan;
/// `failback verify` and `failback plugin inspect`.
mod verify_inspect;
