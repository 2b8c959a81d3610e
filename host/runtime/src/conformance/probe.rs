//! The port-probe cases (`wit/plugin/probe.wit`): what the host relies on when
//! it checks that an Edge pool's XMPP port answers from outside (DESIGN §2,
//! invariant 5: the port is open and, for `xmpp-server`, a stream header came
//! back).
//!
//! Every case probes one of the kit's loopback endpoints ([`Listeners`]), and
//! one probes a real XMPP server when one is given.
//!
//! [`Listeners`]: super::Listeners

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use failback_core::observed::{PortState, ProbeKind, ProbeReport, ProbeRequest, XmppAnswer};

use super::listeners::{Endpoints, STREAM_ID, XMPP_DOMAIN};
use super::{Case, CaseReport, Checked, Miss, Relabel, XmppServer, answer, run_cases_as, shown};
use crate::bindings::plugin::PortProbe;
use crate::manifest::PluginTrack;

const PROBE: &str = "probe.probe";
const PROBE_ENDPOINTS: &str = "probe.probe-endpoints";

/// The time-out of a probe that gets an answer at once.
const PROMPT_MS: u32 = 5_000;
/// The time-out of a probe that gets no answer: the case checks it is honoured.
const WAIT_MS: u32 = 500;
/// How much later than its time-out a probe may come back (the call's own
/// start-up, a slow machine).
const MARGIN: Duration = Duration::from_millis(1_500);

pub(super) struct Probe {
    plugin: PortProbe,
    endpoints: Endpoints,
    xmpp_server: Option<XmppServer>,
}

pub(super) const CASES: &[Case<Probe>] = &[
    Case {
        id: "tcp-open",
        function: PROBE,
        uses: &[],
        promise: "a tcp probe of a port that accepts the connection is open, with no xmpp answer",
        check: tcp_open,
    },
    Case {
        id: "tcp-closed",
        function: PROBE,
        uses: &[],
        promise: "a tcp probe of a port that refuses the connection is a report, closed, not an \
                  error",
        check: tcp_closed,
    },
    Case {
        id: "tcp-filtered",
        function: PROBE,
        uses: &[],
        promise: "a tcp probe of a port that never answers is a report, filtered, that comes back \
                  once timeout-ms has passed, not much later",
        check: tcp_filtered,
    },
    Case {
        id: "xmpp-server",
        function: PROBE,
        uses: &[],
        promise: "an xmpp-server probe of an XMPP server is open, with a jabber:server stream \
                  header, features and STARTTLS (and the server's stream id, if it reports one)",
        check: xmpp_server,
    },
    Case {
        id: "xmpp-not-xmpp",
        function: PROBE,
        uses: &[],
        promise: "an xmpp-server probe of a service that is not XMPP is open, without a stream \
                  header, and shows what came back in `other`",
        check: xmpp_not_xmpp,
    },
    Case {
        id: "xmpp-silent",
        function: PROBE,
        uses: &[],
        promise: "an xmpp-server probe of a port that accepts but never answers is open, without a \
                  stream header, and comes back once timeout-ms has passed, not much later",
        check: xmpp_silent,
    },
    Case {
        id: "xmpp-closed",
        function: PROBE,
        uses: &[],
        promise: "an xmpp-server probe of a port that refuses the connection is closed, with no \
                  xmpp answer",
        check: xmpp_closed,
    },
    Case {
        id: "batch",
        function: PROBE_ENDPOINTS,
        uses: &[],
        promise: "endpoints probed in one call are each answered in the order asked: open, \
                  closed, open",
        check: batch,
    },
    Case {
        id: "real-xmpp-server",
        function: PROBE,
        uses: &[],
        promise: "an xmpp-server probe of a real XMPP server is open, with a jabber:server stream \
                  header and features",
        check: real_xmpp_server,
    },
];

/// Run every port-probe case against `plugin`.
pub(super) fn run(
    plugin: &PortProbe,
    endpoints: Endpoints,
    xmpp_server: Option<&XmppServer>,
) -> Vec<CaseReport> {
    let mut probe = Probe {
        plugin: plugin.clone(),
        endpoints,
        xmpp_server: xmpp_server.cloned(),
    };
    let relabel: Relabel = match plugin.plugin().manifest().plugin_track() {
        Some(PluginTrack::V0_2 | PluginTrack::V0_3) => {
            |f| if f == PROBE { PROBE_ENDPOINTS } else { f }
        }
        // 0.1.0 is asked one endpoint per call.
        _ => |f| if f == PROBE_ENDPOINTS { PROBE } else { f },
    };
    run_cases_as(CASES, &mut probe, relabel)
}

fn request(address: SocketAddr, kind: ProbeKind, timeout_ms: u32) -> ProbeRequest {
    ProbeRequest {
        host: address.ip().to_string(),
        port: address.port(),
        kind,
        timeout_ms,
        stream_to: (kind == ProbeKind::XmppServer).then(|| XMPP_DOMAIN.to_owned()),
    }
}

impl Probe {
    /// Probe, and the report with how long the call took.
    fn probe(&self, request: &ProbeRequest) -> Result<(ProbeReport, Duration), Miss> {
        let started = Instant::now();
        let report = answer(
            self.plugin.probe(request),
            &format!(
                "a report on {}:{} (a closed or filtered port is a report, not an error)",
                request.host, request.port
            ),
        )?;
        Ok((report, started.elapsed()))
    }
}

/// A report whose state is `state`, else a failure naming what came back.
fn expect_state(report: &ProbeReport, state: PortState) -> Checked {
    if report.state == state {
        Ok(())
    } else {
        Err(Miss::failed(
            format!("state `{}`", name(state)),
            format!("the report {}", shown(report)),
        ))
    }
}

fn name(state: PortState) -> &'static str {
    match state {
        PortState::Open => "open",
        PortState::Closed => "closed",
        PortState::Filtered => "filtered",
    }
}

fn expect_no_answer(report: &ProbeReport) -> Checked {
    match &report.xmpp {
        None => Ok(()),
        Some(_) => Err(Miss::failed(
            "no xmpp answer (it is present only for an xmpp-server probe of an open port)",
            format!("the report {}", shown(report)),
        )),
    }
}

/// The xmpp answer of an open port's report.
fn xmpp_answer(report: &ProbeReport) -> Result<&XmppAnswer, Miss> {
    expect_state(report, PortState::Open)?;
    report.xmpp.as_ref().ok_or_else(|| {
        Miss::failed(
            "an xmpp answer (present for an xmpp-server probe of an open port)",
            format!("the report {}", shown(report)),
        )
    })
}

/// The call came back within `timeout_ms` and the margin.
fn in_time(took: Duration, timeout_ms: u32) -> Checked {
    let limit = Duration::from_millis(u64::from(timeout_ms)) + MARGIN;
    if took <= limit {
        Ok(())
    } else {
        Err(Miss::failed(
            format!(
                "the report within timeout-ms {timeout_ms} ms (and {} ms of margin)",
                MARGIN.as_millis()
            ),
            format!("it came back after {} ms", took.as_millis()),
        ))
    }
}

fn batch(probe: &mut Probe) -> Checked {
    let e = probe.endpoints;
    let asked = [
        request(e.xmpp, ProbeKind::Tcp, PROMPT_MS),
        request(e.closed, ProbeKind::Tcp, PROMPT_MS),
        request(e.other, ProbeKind::Tcp, PROMPT_MS),
    ];
    let answers = answer(probe.plugin.probe_all(&asked), "a report for each endpoint")?;
    let states: Vec<Option<&'static str>> = answers
        .iter()
        .map(|answer| answer.as_ref().ok().map(|report| name(report.state)))
        .collect();
    if states == [Some("open"), Some("closed"), Some("open")] {
        Ok(())
    } else {
        Err(Miss::failed(
            "reports open, closed, open",
            answers
                .iter()
                .map(|answer| match answer {
                    Ok(report) => format!("the report {}", shown(report)),
                    Err(error) => super::came_back(error),
                })
                .collect::<Vec<_>>()
                .join("; "),
        ))
    }
}

fn tcp_open(probe: &mut Probe) -> Checked {
    let (report, _) = probe.probe(&request(probe.endpoints.xmpp, ProbeKind::Tcp, PROMPT_MS))?;
    expect_state(&report, PortState::Open)?;
    expect_no_answer(&report)
}

fn tcp_closed(probe: &mut Probe) -> Checked {
    let (report, _) = probe.probe(&request(probe.endpoints.closed, ProbeKind::Tcp, PROMPT_MS))?;
    expect_state(&report, PortState::Closed)?;
    expect_no_answer(&report)
}

fn tcp_filtered(probe: &mut Probe) -> Checked {
    let (report, took) =
        probe.probe(&request(probe.endpoints.filtered, ProbeKind::Tcp, WAIT_MS))?;
    expect_state(&report, PortState::Filtered)?;
    in_time(took, WAIT_MS)
}

fn xmpp_server(probe: &mut Probe) -> Checked {
    let (report, _) = probe.probe(&request(
        probe.endpoints.xmpp,
        ProbeKind::XmppServer,
        PROMPT_MS,
    ))?;
    let xmpp = xmpp_answer(&report)?;
    let id_ok = xmpp.stream_id.as_deref().is_none_or(|id| id == STREAM_ID);
    if xmpp.stream_header && xmpp.features && xmpp.starttls && id_ok {
        Ok(())
    } else {
        Err(Miss::failed(
            format!("stream-header, features and starttls true, stream-id `{STREAM_ID}` or none"),
            format!("the answer {}", shown(xmpp)),
        ))
    }
}

fn xmpp_not_xmpp(probe: &mut Probe) -> Checked {
    let (report, _) = probe.probe(&request(
        probe.endpoints.other,
        ProbeKind::XmppServer,
        PROMPT_MS,
    ))?;
    let xmpp = xmpp_answer(&report)?;
    let other = xmpp.other.as_deref().is_some_and(|o| !o.is_empty());
    if !xmpp.stream_header && other {
        Ok(())
    } else {
        Err(Miss::failed(
            "stream-header false, and `other` holding what the service sent",
            format!("the answer {}", shown(xmpp)),
        ))
    }
}

fn xmpp_silent(probe: &mut Probe) -> Checked {
    let (report, took) = probe.probe(&request(
        probe.endpoints.silent,
        ProbeKind::XmppServer,
        WAIT_MS,
    ))?;
    in_time(took, WAIT_MS)?;
    let xmpp = xmpp_answer(&report)?;
    if xmpp.stream_header {
        Err(Miss::failed(
            "stream-header false: nothing came back",
            format!("the answer {}", shown(xmpp)),
        ))
    } else {
        Ok(())
    }
}

fn xmpp_closed(probe: &mut Probe) -> Checked {
    let (report, _) = probe.probe(&request(
        probe.endpoints.closed,
        ProbeKind::XmppServer,
        PROMPT_MS,
    ))?;
    expect_state(&report, PortState::Closed)?;
    expect_no_answer(&report)
}

fn real_xmpp_server(probe: &mut Probe) -> Checked {
    let Some(server) = probe.xmpp_server.clone() else {
        return Err(Miss::NotApplicable(
            "no real XMPP server was given to probe".to_owned(),
        ));
    };
    let mut request = request(server.address, ProbeKind::XmppServer, PROMPT_MS);
    request.stream_to = Some(server.domain.clone());
    let (report, _) = probe.probe(&request)?;
    let xmpp = xmpp_answer(&report)?;
    if xmpp.stream_header && xmpp.features {
        Ok(())
    } else {
        Err(Miss::failed(
            format!(
                "stream-header and features true from the XMPP server for `{}` at {}",
                server.domain, server.address
            ),
            format!("the answer {}", shown(xmpp)),
        ))
    }
}
