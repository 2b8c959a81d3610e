//! What each fuzz target checks, one function a target: the instrumented
//! targets in `fuzz/fuzz_targets/` call it on every input libFuzzer makes,
//! and `tests/regressions.rs` calls it on every input kept in
//! `fuzz/regressions/<target>/` and on every generated seed, so a crash once
//! found stays a plain test of the main workspace, run without cargo-fuzz.
//!
//! Each check asserts a property where the format has one, not only "no
//! panic"; a broken property panics, which is how libFuzzer learns of it.
//! Each returns whether the input got past the parser (the property was
//! exercised), so the replay test can tell that the seeds still reach it as
//! the formats change.
//!
//! [`seeds`] writes the targets' seeds from the lab, the plan snapshots and
//! signed DNS answers: generated, not copied, so the corpus follows the
//! formats.

#![allow(
    clippy::panic,
    reason = "a fuzz check reports a broken property by panicking: libFuzzer keeps the input that did it"
)]

// The plugins' parsers, compiled here from their own source files: the
// plugin crates are `cdylib` only, and adding `rlib` (to depend on them)
// changes the components' bytes, which the plans' provenance pins. The
// files' own tests run here too.
#[allow(dead_code, reason = "the plugin uses the rest of its module")]
#[path = "../../../plugins/lab-dns/src/zone.rs"]
pub mod lab_zone;
#[allow(dead_code, reason = "the plugin uses the rest of its module")]
#[path = "../../../plugins/dns-rfc2136/src/records.rs"]
pub mod records;
#[allow(dead_code, reason = "the plugin uses the rest of its module")]
#[path = "../../../plugins/dns-rfc2136/src/tsig.rs"]
pub mod tsig;
#[allow(dead_code, reason = "the plugin uses the rest of its module")]
#[path = "../../../plugins/probe-xmpp/src/stream.rs"]
pub mod xmpp;

pub mod dns_answer;
pub mod formats;
pub mod lab;
pub mod observation;
pub mod plan_document;
pub mod seeds;
pub mod state_document;
pub mod topology;
pub mod xmpp_stream;
pub mod zone;

/// A target's check: `true` when the input was read and the properties
/// checked, `false` when the parser refused it (as it may).
pub type Check = fn(&[u8]) -> bool;

/// Every target, by the name of its binary in `fuzz/fuzz_targets/` and its
/// directories under `fuzz/corpus/` and `fuzz/regressions/`.
pub const TARGETS: &[(&str, Check)] = &[
    ("topology", topology::check),
    ("zone", zone::check),
    ("plan_document", plan_document::check),
    ("state_document", state_document::check),
    ("observation", observation::check),
    ("dns_answer", dns_answer::check),
    ("xmpp_stream", xmpp_stream::check),
    ("environment_file", formats::environment_file),
    ("manifest", formats::manifest),
    ("keys_and_approvals", formats::keys_and_approvals),
    ("component", formats::component),
    ("audit_log", formats::audit_log),
];

/// The text of `data`, when it is UTF-8 (every format here is text).
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
