//! A `port-probe` plugin over real sockets: is an Edge pool's external port
//! reachable, and does an XMPP server answer on it?
//!
//! For `tcp` it connects with the request's time-out: accepted → `open`,
//! refused or unreachable → `closed`, nothing within the time → `filtered`. For
//! `xmpp-server` it then opens a server-to-server stream (`jabber:server`) and
//! reports whether a stream header and `<stream:features>` came back and
//! whether STARTTLS was offered; a listener that answers something else is
//! `open`, with its first bytes in `other`.
//!
//! [`probe`] carries out one probe with `std::net` (WASI sockets in the
//! plugin); [`stream`] reads the XMPP answer. The host grants the endpoints it
//! may connect to under `edge-endpoints`; `host` must be an IP address, since
//! the plugin resolves no names.
//!
//! In the operator's `failback.toml`, every endpoint a plan may probe:
//!
//! ```toml
//! [plugins.port-probe]
//! path = "plugins/probe-xmpp.wasm"
//! sha256 = "…"
//!
//! [plugins.port-probe.grants.network]
//! edge-endpoints = ["203.0.113.10:5269", "203.0.113.10:5061"]
//! ```
//!
//! A probe of an endpoint the environment does not list is denied by the host
//! (and audited), not reported as closed.
//!
//! The plugin implements `port-probe` of `failback:plugin@0.1.0`, the frozen
//! copy in `wit/plugin-0.1.0`: one endpoint per call, which the host calls
//! for every endpoint of an observation at once, each call in its own
//! instance, under one deadline — so ten filtered ports cost one time-out.
//! `0.2.0`'s `probe-endpoints` would hand it the whole list in one call, to
//! probe concurrently itself (a poll loop over non-blocking sockets); until it
//! does that, the host's concurrency serves it better. It is also the
//! repository's real `0.1.0` plugin, which keeps the host's `0.1.0` track
//! tested.

#![allow(
    unsafe_code,
    reason = "the SDK's export macro expands to the canonical ABI glue, which is unsafe code"
)]

mod probe;
mod stream;

/// The `port-probe` world of `failback:plugin@0.1.0`.
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/plugin-0.1.0",
        world: "port-probe",
        generate_all,
    });
}

use bindings::exports::failback::plugin::probe::{Guest, PluginError, ProbeReport, ProbeRequest};
use bindings::failback::plugin::host::log;
use bindings::failback::plugin::types::LogLevel;

struct XmppProbe;

impl Guest for XmppProbe {
    fn probe(request: ProbeRequest) -> Result<ProbeReport, PluginError> {
        let report = probe::run(&request)?;
        log(LogLevel::Debug, &report.detail);
        Ok(report)
    }
}

bindings::export!(XmppProbe with_types_in bindings);
