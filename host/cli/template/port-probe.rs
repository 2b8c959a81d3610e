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
    world: "failback:plugin/port-probe@0.3.0",
});

use exports::failback::plugin::probe::{Guest, ProbeReport, ProbeRequest};
use failback::plugin::types::PluginError;

struct Plugin;

impl Guest for Plugin {
    /// Probe every endpoint of `requests`, one answer per request, in the
    /// order asked. For each: `request.host`:`request.port` within
    /// `request.timeout_ms` is `open`, `closed` (refused) or `filtered` (no
    /// answer in time) — a report, not an error. For an `xmpp-server` probe of
    /// an open port, open a server-to-server stream to `request.stream_to` and
    /// report what came back in `xmpp`. An error in a request's place means
    /// that probe could not be carried out.
    ///
    /// The whole call has one deadline: probe the endpoints concurrently (a
    /// poll over every socket's pollable), so that ten filtered ports cost one
    /// time-out, not ten.
    fn probe_endpoints(
        requests: Vec<ProbeRequest>,
    ) -> Result<Vec<Result<ProbeReport, PluginError>>, PluginError> {
        Ok(requests
            .into_iter()
            .map(|request| {
                let _ = request;
                Err(not_implemented("probe.probe-endpoints"))
            })
            .collect())
    }
}

/// What a function answers until it is written.
fn not_implemented(function: &str) -> PluginError {
    PluginError::Failed(format!("not implemented: `{function}`"))
}

export!(Plugin);
