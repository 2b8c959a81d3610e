//! End-to-end tests of the `failback` binary. One module per area; each test
//! runs the real binary with the real WASM plugins and policies.
//!
//! The sources live in the repository's `tests/`; the binary is the `failback`
//! package's integration test (host/cli/Cargo.toml), so that cargo builds the
//! binary under test first and names it in `CARGO_BIN_EXE_failback`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Starting `named` and Prosody on loopback.
#[path = "../servers/mod.rs"]
mod servers;
/// The shared journal on a real PostgreSQL: two operators, the lock, unlock,
/// the append-only audit trail, resume from elsewhere, migrate.
mod shared_journal;
/// Helpers: the binary, temporary labs, output filters.
mod support;

/// `failback apply`, `resume`, `status`, `history`, `audit verify`, `demo`.
mod apply;
/// `failback plan approve`; `apply PLAN` under `[approvals]`: the attacks on approvals.
mod approvals;
/// `failback plugin test`: the conformance kit on every plugin of the repository.
mod conformance;
/// A plan runs exactly as it was judged: the attacks on saved plans, levels,
/// resume and the audit log.
mod integrity;
/// `failback lab init` and `lab scenarios`.
mod lab;
/// `failback plan` on every lab scenario, in every format.
mod plan;
/// `failback plugin pack`, `sign`, `verify`, `review`; `[trust]` requiring signatures.
mod plugin_sign;
/// The policy corpus (`failback policy test`), `policy list` and a vetoed plan.
mod policy;
/// The realistic start: a stopped Access Edge refuses 5269; A10 after A1; a
/// firewall that filters or rejects the port.
mod ports;
/// Plan → apply → verify as examples/powerdns binds it: the zone in a real
/// PowerDNS, reached over HTTPS through a TLS front.
mod powerdns_example;
/// Plan → apply → verify with dns-rfc2136 against BIND and probe-xmpp against
/// Prosody, as examples/real-dns-xmpp binds them.
mod real_dns_xmpp;
/// dns-rfc2136 and probe-xmpp through the runtime against named and Prosody.
mod real_plugins;
/// Rehearsal: `failback observe`, `plan --from`, `verify --from`, `plan
/// --check`, and the change report (`plan --format html`, `report`) in
/// headless Chromium.
mod report;
/// `failback plugin new`: a crate built outside the repository, against the kit.
mod template;
/// `failback verify` and `failback plugin inspect`.
mod verify_inspect;
