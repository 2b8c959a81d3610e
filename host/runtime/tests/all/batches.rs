//! Batches: the probes of an observation under one deadline — concurrent calls
//! of a `failback:plugin@0.1.0` plugin (probe-xmpp, against real listeners on
//! loopback) — and the attacks of a `0.2.0` plugin on the host's reading of a
//! batch answer (the hostile guest as a port probe).

use std::time::{Duration, Instant};

use failback_core::observed::{PortState, ProbeKind, ProbeRequest};
use failback_runtime::conformance::Listeners;
use failback_runtime::{CallError, Outcome, PluginError, PluginTrack, PortProbe};

use crate::common::{Fixture, stamped_manifest};

/// The hostile plugin's `secret` configuration value.
const SECRET: &str = "batch-s3cret-value";

fn request(host: &str, port: u16, timeout_ms: u32) -> ProbeRequest {
    ProbeRequest {
        host: host.to_owned(),
        port,
        kind: ProbeKind::Tcp,
        timeout_ms,
        stream_to: None,
    }
}

#[test]
fn ten_filtered_endpoints_and_an_open_one_cost_one_time_out_through_a_0_1_probe() {
    const TIMEOUT_MS: u32 = 1_000;
    let listeners = Listeners::start().unwrap();
    let endpoints = listeners.endpoints();
    let fixture = Fixture::new();
    let manifest =
        std::fs::read_to_string(failback_guests::paths::FAILBACK_PROBE_XMPP_MANIFEST).unwrap();
    let mut table = fixture.install(
        "probe-xmpp",
        failback_guests::paths::FAILBACK_PROBE_XMPP,
        &manifest,
        "port-probe",
    );
    table.push_str(&format!(
        "\n[plugins.port-probe.grants.network]\nedge-endpoints = [\"{}\", \"{}\"]\n",
        endpoints.filtered, endpoints.xmpp
    ));
    let env = fixture.environment(&table);
    let probe = fixture.load(&env).unwrap().port_probe.unwrap();
    assert_eq!(
        probe.plugin().manifest().plugin_track(),
        Some(PluginTrack::V0_1)
    );

    let filtered = endpoints.filtered.ip().to_string();
    let mut requests: Vec<_> = (0..10)
        .map(|_| request(&filtered, endpoints.filtered.port(), TIMEOUT_MS))
        .collect();
    requests.push(request(
        &endpoints.xmpp.ip().to_string(),
        endpoints.xmpp.port(),
        TIMEOUT_MS,
    ));
    let started = Instant::now();
    let reports = probe.probe_all(&requests).unwrap();
    let took = started.elapsed();

    let states: Vec<PortState> = reports.into_iter().map(|r| r.unwrap().state).collect();
    assert_eq!(states[..10], [PortState::Filtered; 10]);
    assert_eq!(states[10], PortState::Open);
    // One after another they would take ten time-outs; at once, about one.
    assert!(
        took < Duration::from_millis(2 * u64::from(TIMEOUT_MS)),
        "took {took:?}"
    );
    // Each endpoint is its own audited call.
    let calls = fixture
        .audit
        .records()
        .into_iter()
        .filter(|r| r.function == "probe.probe")
        .count();
    assert_eq!(calls, 11);
}

/// The hostile guest bound as a `0.2.0` port probe, with its `secret`.
fn hostile(fixture: &Fixture) -> PortProbe {
    let bytes = std::fs::read(failback_guests::paths::FAILBACK_TEST_HOSTILE).unwrap();
    let manifest = stamped_manifest("hostile", &bytes).replace("dns-provider", "port-probe");
    fixture.write("secrets/hostile.key", format!("{SECRET}\n"));
    let mut table = fixture.install(
        "hostile",
        failback_guests::paths::FAILBACK_TEST_HOSTILE,
        &manifest,
        "port-probe",
    );
    std::fs::create_dir_all(fixture.path("data")).unwrap();
    std::fs::create_dir_all(fixture.path("scratch")).unwrap();
    table.push_str(
        "\n[plugins.port-probe.grants.dirs]\n\
         data = { path = \"data\", mode = \"read-only\" }\n\
         scratch = { path = \"scratch\", mode = \"read-write\" }\n\
         [plugins.port-probe.grants.network]\n\
         server = [\"127.0.0.1:9\"]\n\
         datagrams = [\"127.0.0.1:9\"]\n\
         [plugins.port-probe.config]\n\
         secret = { file = \"secrets/hostile.key\" }\n",
    );
    let env = fixture.environment(&table);
    let probe = fixture.load(&env).unwrap().port_probe.unwrap();
    assert_eq!(
        probe.plugin().manifest().plugin_track(),
        Some(PluginTrack::V0_2)
    );
    probe
}

/// The host keeps serving: the same plugin (a fresh instance) answers a
/// harmless batch, one report per endpoint.
fn assert_still_serving(probe: &PortProbe) {
    let asked = [
        request("192.0.2.1", 5269, 100),
        request("192.0.2.2", 5061, 100),
    ];
    let reports = probe.probe_all(&asked).unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1].as_ref().unwrap().detail, "192.0.2.2:5061 closed");
}

#[test]
fn a_batch_answer_one_report_short_is_refused_whole() {
    let fixture = Fixture::new();
    let probe = hostile(&fixture);
    let asked = [request("short", 5269, 100), request("192.0.2.2", 5269, 100)];
    let error = probe.probe_all(&asked).unwrap_err();
    assert!(
        matches!(
            error,
            CallError::AnswerCount {
                asked: 2,
                answered: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "`test-hostile` answered `probe.probe-endpoints` with 1 answers for 2 objects: refusing the whole batch"
    );
    // The refusal is audited, after the call that returned the answer.
    let outcomes: Vec<Outcome> = fixture
        .audit
        .records()
        .into_iter()
        .map(|r| r.outcome)
        .collect();
    assert_eq!(outcomes[0], Outcome::Ok);
    assert_eq!(outcomes[1], Outcome::Failed(error.to_string()));
    assert_still_serving(&probe);
}

#[test]
fn a_batch_answer_one_report_long_is_refused_whole() {
    let fixture = Fixture::new();
    let probe = hostile(&fixture);
    let error = probe.probe(&request("long", 5269, 100)).unwrap_err();
    assert!(
        matches!(
            error,
            CallError::AnswerCount {
                asked: 1,
                answered: 2,
                ..
            }
        ),
        "{error:?}"
    );
    assert_still_serving(&probe);
}

#[test]
fn a_secret_in_an_answer_of_a_batch_is_redacted() {
    let fixture = Fixture::new();
    let probe = hostile(&fixture);
    let asked = [request("error-secret", 5269, 100), request("x", 5269, 100)];
    let answers = probe.probe_all(&asked).unwrap();
    for answer in answers {
        let error = answer.unwrap_err();
        assert!(
            matches!(&error, CallError::Plugin { error: PluginError::Failed(m), .. } if m == "the secret is <redacted>"),
            "{error:?}"
        );
        assert!(!error.to_string().contains("s3cret"));
    }
    assert_still_serving(&probe);
}
