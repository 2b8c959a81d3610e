//! `network/reachability.json`: one entry per endpoint the firewall lets
//! through (or refuses); anything not listed is filtered.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use failback_plugin_sdk::files;
use failback_plugin_sdk::probe::{
    PluginError, PortState, ProbeKind, ProbeReport, ProbeRequest, XmppAnswer,
};
use serde::Deserialize;

const FILE: &str = "reachability.json";

/// What the lab reports as the first bytes of a service on an open port that
/// is not an XMPP server (the file says only that something else answers).
const NOT_XMPP: &str = "a service that is not an XMPP server answered";

/// The file, borrowed from its text: a batch reads and indexes it once, and
/// copies none of the endpoints it was not asked about.
#[derive(Debug, Deserialize)]
struct ReachabilityFile<'a> {
    #[serde(borrow)]
    endpoints: Vec<Endpoint<'a>>,
}

#[derive(Debug, Deserialize)]
struct Endpoint<'a> {
    #[serde(borrow)]
    host: Cow<'a, str>,
    port: u16,
    state: State,
    /// An XMPP server answers a stream open (meaningful when open).
    #[serde(default)]
    xmpp: bool,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum State {
    Open,
    Closed,
    Filtered,
}

/// Probe each of `requests` against the reachability file in `dir`: one
/// report per request, in order. Nothing here waits, so the batch takes one
/// read of the file however many endpoints it names.
pub(crate) fn probe_all(
    dir: &Path,
    requests: &[ProbeRequest],
) -> Result<Vec<Result<ProbeReport, PluginError>>, PluginError> {
    let text = files::read_text(&dir.join(FILE), FILE)?;
    let file: ReachabilityFile<'_> = files::parse_json(&text, FILE)?;
    let mut endpoints: BTreeMap<(String, u16), &Endpoint<'_>> = BTreeMap::new();
    for endpoint in &file.endpoints {
        // The first entry of an endpoint listed twice is the one that counts.
        endpoints
            .entry((key(&endpoint.host), endpoint.port))
            .or_insert(endpoint);
    }
    Ok(requests
        .iter()
        .map(|request| {
            let endpoint = endpoints.get(&(key(&request.host), request.port));
            Ok(report(endpoint.copied(), request))
        })
        .collect())
}

/// An endpoint's host as the file and a request are compared: without a final
/// dot, in lower case.
fn key(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// What a partner would find on `request`'s endpoint, listed as `endpoint`.
fn report(endpoint: Option<&Endpoint<'_>>, request: &ProbeRequest) -> ProbeReport {
    let target = format!("{}:{}", request.host, request.port);
    let state = endpoint.map_or(State::Filtered, |endpoint| endpoint.state);
    match state {
        State::Closed => ProbeReport {
            state: PortState::Closed,
            xmpp: None,
            detail: format!("{target}: connection refused"),
        },
        State::Filtered => ProbeReport {
            state: PortState::Filtered,
            xmpp: None,
            detail: format!("{target}: no answer within {} ms", request.timeout_ms),
        },
        State::Open => match request.kind {
            ProbeKind::Tcp => ProbeReport {
                state: PortState::Open,
                xmpp: None,
                detail: format!("{target}: connection accepted"),
            },
            ProbeKind::XmppServer => {
                let is_xmpp = endpoint.is_some_and(|endpoint| endpoint.xmpp);
                xmpp_report(&target, request.stream_to.as_deref(), is_xmpp)
            }
        },
    }
}

fn xmpp_report(target: &str, stream_to: Option<&str>, is_xmpp: bool) -> ProbeReport {
    let to = stream_to.map_or_else(String::new, |to| format!(" to `{to}`"));
    if is_xmpp {
        ProbeReport {
            state: PortState::Open,
            xmpp: Some(XmppAnswer {
                stream_header: true,
                stream_id: None,
                features: true,
                starttls: true,
                other: None,
            }),
            detail: format!(
                "{target}: connection accepted; a jabber:server stream{to} was answered with stream features offering STARTTLS"
            ),
        }
    } else {
        ProbeReport {
            state: PortState::Open,
            xmpp: Some(XmppAnswer {
                stream_header: false,
                stream_id: None,
                features: false,
                starttls: false,
                other: Some(NOT_XMPP.to_owned()),
            }),
            detail: format!(
                "{target}: connection accepted, but a stream open{to} got no XMPP stream back"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]

    use super::*;

    /// One request, as a batch of one.
    fn probe(dir: &Path, request: &ProbeRequest) -> Result<ProbeReport, PluginError> {
        probe_all(dir, std::slice::from_ref(request))?.remove(0)
    }

    const REACHABILITY: &str = r#"{
  "endpoints": [
    { "host": "131.107.155.10", "port": 5269, "state": "open", "xmpp": true },
    { "host": "131.107.155.10", "port": 5061, "state": "open", "xmpp": false },
    { "host": "131.107.155.20", "port": 5269, "state": "open", "xmpp": false },
    { "host": "131.107.155.30", "port": 5269, "state": "closed", "xmpp": false },
    { "host": "sip.contoso.com", "port": 5061, "state": "open", "xmpp": false }
  ]
}
"#;

    fn dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), REACHABILITY).unwrap();
        dir
    }

    fn request(host: &str, port: u16, kind: ProbeKind) -> ProbeRequest {
        ProbeRequest {
            host: host.to_owned(),
            port,
            kind,
            timeout_ms: 3000,
            stream_to: Some("contoso.com".to_owned()),
        }
    }

    #[test]
    fn an_xmpp_server_answers_the_stream_open() {
        let dir = dir();
        let report = probe(
            dir.path(),
            &request("131.107.155.10", 5269, ProbeKind::XmppServer),
        )
        .unwrap();
        assert!(matches!(report.state, PortState::Open));
        let xmpp = report.xmpp.unwrap();
        assert!(xmpp.stream_header && xmpp.features && xmpp.starttls);
        assert_eq!(xmpp.other, None);
        assert!(
            report.detail.starts_with("131.107.155.10:5269: "),
            "{}",
            report.detail
        );
    }

    #[test]
    fn an_open_port_without_xmpp_reports_what_answered() {
        let dir = dir();
        let report = probe(
            dir.path(),
            &request("131.107.155.20", 5269, ProbeKind::XmppServer),
        )
        .unwrap();
        assert!(matches!(report.state, PortState::Open));
        let xmpp = report.xmpp.unwrap();
        assert!(!xmpp.stream_header && !xmpp.features && !xmpp.starttls);
        assert_eq!(xmpp.other.as_deref(), Some(NOT_XMPP));
    }

    #[test]
    fn a_tcp_probe_only_connects() {
        let dir = dir();
        let report = probe(dir.path(), &request("131.107.155.10", 5269, ProbeKind::Tcp)).unwrap();
        assert!(matches!(report.state, PortState::Open));
        assert!(report.xmpp.is_none());
    }

    #[test]
    fn closed_and_unlisted_endpoints() {
        let dir = dir();
        let closed = probe(
            dir.path(),
            &request("131.107.155.30", 5269, ProbeKind::XmppServer),
        )
        .unwrap();
        assert!(matches!(closed.state, PortState::Closed));
        assert!(closed.xmpp.is_none());
        // Not listed: the host on another port, or another host.
        for (host, port) in [("131.107.155.30", 5061), ("131.107.155.99", 5269)] {
            let report = probe(dir.path(), &request(host, port, ProbeKind::XmppServer)).unwrap();
            assert!(matches!(report.state, PortState::Filtered), "{host}:{port}");
            assert!(report.xmpp.is_none());
        }
    }

    #[test]
    fn names_match_without_regard_to_case_or_final_dot() {
        let dir = dir();
        let report = probe(
            dir.path(),
            &request("SIP.contoso.com.", 5061, ProbeKind::Tcp),
        )
        .unwrap();
        assert!(matches!(report.state, PortState::Open));
    }

    #[test]
    fn a_batch_answers_each_endpoint_in_the_order_asked() {
        let dir = dir();
        let asked = [
            request("192.0.2.99", 5269, ProbeKind::Tcp),
            request("sip.contoso.com", 5061, ProbeKind::Tcp),
            request("192.0.2.99", 5269, ProbeKind::Tcp),
        ];
        let states: Vec<_> = probe_all(dir.path(), &asked)
            .unwrap()
            .into_iter()
            .map(|report| report.unwrap().state)
            .collect();
        assert!(matches!(
            states[..],
            [PortState::Filtered, PortState::Open, PortState::Filtered]
        ));
        assert!(probe_all(dir.path(), &[]).unwrap().is_empty());
    }

    #[test]
    fn a_missing_or_malformed_file_is_failed() {
        let dir = tempfile::tempdir().unwrap();
        let err = probe(dir.path(), &request("131.107.155.10", 5269, ProbeKind::Tcp)).unwrap_err();
        assert!(
            matches!(&err, PluginError::Failed(m) if m.contains("cannot read `reachability.json`")),
            "{err:?}"
        );
        std::fs::write(
            dir.path().join(FILE),
            r#"{ "endpoints": [ { "host": "a", "port": 70000, "state": "open" } ] }"#,
        )
        .unwrap();
        let err = probe(dir.path(), &request("a", 5269, ProbeKind::Tcp)).unwrap_err();
        assert!(
            matches!(&err, PluginError::Failed(m) if m.contains("`reachability.json` is malformed")),
            "{err:?}"
        );
    }
}
