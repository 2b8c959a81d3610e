//! `network/reachability.json`: one entry per endpoint the firewall lets
//! through (or refuses); anything not listed is filtered. An entry may name
//! the machine and service that listen behind it: the endpoint then answers
//! only while `servers/servers.json` says that service runs, and refuses the
//! connection otherwise — a stopped Access Edge listens on nothing.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use failback_plugin_sdk::files;
use failback_plugin_sdk::probe::{
    PluginError, PortState, ProbeKind, ProbeReport, ProbeRequest, XmppAnswer,
};
use serde::Deserialize;

const FILE: &str = "reachability.json";
const SERVERS: &str = "servers.json";

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
    /// The machine whose service listens on the endpoint, behind the
    /// firewall; absent when the lab does not say who listens.
    #[serde(default, borrow)]
    machine: Option<Cow<'a, str>>,
    /// The service of `machine` that listens (`RTCXMPPTGWPX` on 5269,
    /// `RTCSRV` on 5061).
    #[serde(default, borrow)]
    service: Option<Cow<'a, str>>,
}

/// `servers/servers.json`, as far as the probe reads it: which services run.
#[derive(Debug, Deserialize)]
struct ServersFile<'a> {
    #[serde(borrow)]
    machines: Vec<Machine<'a>>,
}

#[derive(Debug, Deserialize)]
struct Machine<'a> {
    #[serde(borrow)]
    fqdn: Cow<'a, str>,
    #[serde(borrow)]
    services: Vec<Service<'a>>,
}

#[derive(Debug, Deserialize)]
struct Service<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    state: Cow<'a, str>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum State {
    Open,
    Closed,
    Filtered,
}

/// Probe each of `requests` against the reachability file in `dir` and, for
/// an endpoint that names its listener, the servers file in `servers`: one
/// report per request, in order. Nothing here waits, so the batch takes one
/// read of each file however many endpoints it names; the servers file is
/// read only when an endpoint asked about names a listener.
pub(crate) fn probe_all(
    dir: &Path,
    servers: &Path,
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
    let asked: Vec<Option<&Endpoint<'_>>> = requests
        .iter()
        .map(|request| endpoints.get(&(key(&request.host), request.port)).copied())
        .collect();
    let servers_text = if asked
        .iter()
        .flatten()
        .any(|endpoint| endpoint.machine.is_some())
    {
        files::read_text(&servers.join(SERVERS), SERVERS)?
    } else {
        String::new()
    };
    let running = if servers_text.is_empty() {
        BTreeMap::new()
    } else {
        let file: ServersFile<'_> = files::parse_json(&servers_text, SERVERS)?;
        file.machines
            .iter()
            .flat_map(|machine| {
                machine.services.iter().map(|service| {
                    (
                        (key(&machine.fqdn), service.name.to_ascii_uppercase()),
                        service.state == "running",
                    )
                })
            })
            .collect::<BTreeMap<(String, String), bool>>()
    };
    Ok(requests
        .iter()
        .zip(asked)
        .map(|(request, endpoint)| {
            let listening = endpoint.is_none_or(|endpoint| listens(endpoint, &running));
            Ok(report(endpoint, listening, request))
        })
        .collect())
}

/// Whether something listens on `endpoint`: the service it names runs on the
/// machine it names (a machine or service the servers file lacks listens on
/// nothing), or it names no listener.
fn listens(endpoint: &Endpoint<'_>, running: &BTreeMap<(String, String), bool>) -> bool {
    match (&endpoint.machine, &endpoint.service) {
        (Some(machine), Some(service)) => running
            .get(&(key(machine), service.to_ascii_uppercase()))
            .copied()
            .unwrap_or(false),
        // A machine without a service: every service of it must run.
        (Some(machine), None) => {
            let machine = key(machine);
            let states: Vec<bool> = running
                .iter()
                .filter(|((m, _), _)| *m == machine)
                .map(|(_, running)| *running)
                .collect();
            !states.is_empty() && states.iter().all(|running| *running)
        }
        (None, _) => true,
    }
}

/// An endpoint's host as the file and a request are compared: without a final
/// dot, in lower case.
fn key(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// What a partner would find on `request`'s endpoint, listed as `endpoint`,
/// with or without something `listening` behind the firewall: a port the
/// firewall lets through where nothing listens refuses the connection.
fn report(endpoint: Option<&Endpoint<'_>>, listening: bool, request: &ProbeRequest) -> ProbeReport {
    let target = format!("{}:{}", request.host, request.port);
    let state = match endpoint.map_or(State::Filtered, |endpoint| endpoint.state) {
        State::Open if !listening => State::Closed,
        state => state,
    };
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

    /// One request, as a batch of one, with the servers file beside the
    /// reachability file.
    fn probe(dir: &Path, request: &ProbeRequest) -> Result<ProbeReport, PluginError> {
        probe_all(dir, dir, std::slice::from_ref(request))?.remove(0)
    }

    const REACHABILITY: &str = r#"{
  "endpoints": [
    { "host": "131.107.155.10", "port": 5269, "state": "open", "xmpp": true },
    { "host": "131.107.155.10", "port": 5061, "state": "open", "xmpp": false },
    { "host": "131.107.155.20", "port": 5269, "state": "open", "xmpp": false },
    { "host": "131.107.155.30", "port": 5269, "state": "closed", "xmpp": false },
    { "host": "sip.contoso.com", "port": 5061, "state": "open", "xmpp": false },
    { "host": "131.107.156.10", "port": 5269, "state": "open", "xmpp": true,
      "machine": "edge3.contoso.com", "service": "RTCXMPPTGWPX" },
    { "host": "131.107.156.10", "port": 5061, "state": "open", "xmpp": false,
      "machine": "edge3.contoso.com", "service": "RTCSRV" },
    { "host": "131.107.156.20", "port": 5269, "state": "filtered", "xmpp": true,
      "machine": "edge4.contoso.com", "service": "RTCXMPPTGWPX" }
  ]
}
"#;

    /// edge3's and edge4's services, each `running` or `stopped`.
    fn servers(state: &str) -> String {
        format!(
            r#"{{ "machines": [
  {{ "fqdn": "edge3.contoso.com", "setup_version": 7, "services": [
    {{ "name": "RTCSRV", "state": "{state}" }}, {{ "name": "RTCXMPPTGWPX", "state": "{state}" }} ] }},
  {{ "fqdn": "edge4.contoso.com", "setup_version": 7, "services": [
    {{ "name": "RTCSRV", "state": "{state}" }}, {{ "name": "RTCXMPPTGWPX", "state": "{state}" }} ] }}
] }}
"#
        )
    }

    fn dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), REACHABILITY).unwrap();
        std::fs::write(dir.path().join(SERVERS), servers("running")).unwrap();
        dir
    }

    #[test]
    fn a_stopped_access_edge_refuses_5269_and_5061() {
        let dir = dir();
        std::fs::write(dir.path().join(SERVERS), servers("stopped")).unwrap();
        for (port, kind) in [(5269, ProbeKind::XmppServer), (5061, ProbeKind::Tcp)] {
            let report = probe(dir.path(), &request("131.107.156.10", port, kind)).unwrap();
            assert!(
                matches!(report.state, PortState::Closed),
                "{port}: {report:?}"
            );
            assert!(report.xmpp.is_none());
            assert_eq!(
                report.detail,
                format!("131.107.156.10:{port}: connection refused")
            );
        }
        // Started, the same endpoints answer.
        std::fs::write(dir.path().join(SERVERS), servers("running")).unwrap();
        let report = probe(
            dir.path(),
            &request("131.107.156.10", 5269, ProbeKind::XmppServer),
        )
        .unwrap();
        assert!(matches!(report.state, PortState::Open));
        assert!(report.xmpp.unwrap().stream_header);
        let report = probe(dir.path(), &request("131.107.156.10", 5061, ProbeKind::Tcp)).unwrap();
        assert!(matches!(report.state, PortState::Open));
    }

    #[test]
    fn a_firewall_that_filters_a_port_filters_it_whatever_runs_behind_it() {
        let dir = dir();
        for state in ["running", "stopped"] {
            std::fs::write(dir.path().join(SERVERS), servers(state)).unwrap();
            let report = probe(
                dir.path(),
                &request("131.107.156.20", 5269, ProbeKind::XmppServer),
            )
            .unwrap();
            assert!(matches!(report.state, PortState::Filtered), "{state}");
        }
    }

    #[test]
    fn a_listener_the_servers_file_does_not_hold_listens_on_nothing() {
        let dir = dir();
        std::fs::write(dir.path().join(SERVERS), r#"{ "machines": [] }"#).unwrap();
        let report = probe(dir.path(), &request("131.107.156.10", 5061, ProbeKind::Tcp)).unwrap();
        assert!(matches!(report.state, PortState::Closed));
    }

    #[test]
    fn the_servers_file_is_read_only_for_an_endpoint_that_names_a_listener() {
        let dir = dir();
        std::fs::remove_file(dir.path().join(SERVERS)).unwrap();
        // No listener named: answered without the servers file.
        let report = probe(dir.path(), &request("131.107.155.10", 5269, ProbeKind::Tcp)).unwrap();
        assert!(matches!(report.state, PortState::Open));
        // A listener named: the servers file is needed, and its absence is said.
        let err = probe(dir.path(), &request("131.107.156.10", 5269, ProbeKind::Tcp)).unwrap_err();
        assert!(
            matches!(&err, PluginError::Failed(m) if m.contains("cannot read `servers.json`")),
            "{err:?}"
        );
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
        let states: Vec<_> = probe_all(dir.path(), dir.path(), &asked)
            .unwrap()
            .into_iter()
            .map(|report| report.unwrap().state)
            .collect();
        assert!(matches!(
            states[..],
            [PortState::Filtered, PortState::Open, PortState::Filtered]
        ));
        assert!(probe_all(dir.path(), dir.path(), &[]).unwrap().is_empty());
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
