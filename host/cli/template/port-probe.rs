//! {name}: a failback `port-probe` plugin. It reports whether an Edge pool's
//! port answers as a federation partner on the internet would find it (TCP
//! 5269 for XMPP federation, 5061 for SIP federation).
//!
//! The function says what the host relies on (the WIT's own words are in
//! `wit/probe.wit`); `failback plugin test` checks every promise against
//! listeners it starts on loopback. Until it is written it answers
//! `plugin-error::failed("not implemented: …")`.

wit_bindgen::generate!({
    path: "wit",
    world: "failback:plugin/port-probe@0.1.0",
});

use exports::failback::plugin::probe::{Guest, ProbeReport, ProbeRequest};
use failback::plugin::types::PluginError;

struct Plugin;

impl Guest for Plugin {
    /// Probe `request.host`:`request.port` within `request.timeout_ms`: `open`,
    /// `closed` (refused) or `filtered` (no answer in time) — a report, not an
    /// error. For an `xmpp-server` probe of an open port, open a
    /// server-to-server stream to `request.stream_to` and report what came back
    /// in `xmpp`. An error means the probe itself could not be carried out.
    fn probe(request: ProbeRequest) -> Result<ProbeReport, PluginError> {
        let _ = request;
        Err(not_implemented("probe.probe"))
    }
}

/// What a function answers until it is written.
fn not_implemented(function: &str) -> PluginError {
    PluginError::Failed(format!("not implemented: `{function}`"))
}

export!(Plugin);
