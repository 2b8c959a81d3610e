//! Batches: the probes of an observation under one deadline — concurrent calls
//! of a `failback:plugin@0.1.0` plugin (probe-xmpp, against real listeners on
//! loopback) —, the attacks of a `0.3.0` plugin on the host's reading of a
//! batch answer (the hostile guest as a port probe), and the management
//! store's batches sent to a `0.2.0` plugin one object per call, in order,
//! under one deadline (the 0.2 store guest).

use std::time::{Duration, Instant};

use failback_core::observed::{PortState, ProbeKind, ProbeRequest, RouteKind, SiteRoute};
use failback_runtime::conformance::Listeners;
use failback_runtime::{CallError, ManagementStore, Outcome, PluginError, PluginTrack, PortProbe};

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
    // One after another the ten filtered probes take at least ten time-outs
    // each (a filtered port answers nothing until the time-out): any batch
    // shorter than that overlapped them. At once they take about one; the
    // bound is the sequential floor itself, which load cannot lower.
    assert!(
        took < Duration::from_millis(10 * u64::from(TIMEOUT_MS)),
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

/// The hostile guest bound as a `0.3.0` port probe, with its `secret`.
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
        Some(PluginTrack::V0_3)
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

/// The 0.2 store guest bound as the management store, over three sites and
/// two replicas, each write waiting `sleep_ms` first.
fn store_v0_2(fixture: &Fixture, sleep_ms: u32) -> ManagementStore {
    let bytes = std::fs::read(failback_guests::paths::FAILBACK_TEST_STORE_V0_2).unwrap();
    let manifest = stamped_manifest("store-v0-2", &bytes);
    let mut table = fixture.install(
        "store-v0-2",
        failback_guests::paths::FAILBACK_TEST_STORE_V0_2,
        &manifest,
        "management-store",
    );
    fixture.write(
        "state/store.json",
        r#"{"sites": [
            {"site": "Site1", "federation": null, "xmpp": null},
            {"site": "Site2", "federation": null, "xmpp": null},
            {"site": "Site3", "federation": null, "xmpp": null}],
          "replicas": [
            {"fqdn": "edge1.contoso.com", "up_to_date": false},
            {"fqdn": "edge2.contoso.com", "up_to_date": false}]}"#,
    );
    table.push_str(&format!(
        "\n[plugins.management-store.grants.dirs]\n\
         state = {{ path = \"state\", mode = \"read-write\" }}\n\
         [plugins.management-store.config]\n\
         sleep-ms = \"{sleep_ms}\"\n"
    ));
    let env = fixture.environment(&table);
    let store = fixture.load(&env).unwrap().management_store.unwrap();
    assert_eq!(
        store.plugin().manifest().plugin_track(),
        Some(PluginTrack::V0_2)
    );
    store
}

fn federation_route(site: &str) -> SiteRoute {
    SiteRoute {
        site: site.to_owned(),
        kind: RouteKind::Federation,
        identity: Some("EdgeServer:edgepool1.contoso.com".to_owned()),
    }
}

/// What the guest logged, in order: one line per write it made.
fn logged(fixture: &Fixture) -> Vec<String> {
    fixture
        .audit
        .lines()
        .into_iter()
        .map(|line| line.message)
        .collect()
}

/// The federation route of each site, as the plugin lists them.
fn federation_routes(store: &ManagementStore) -> Vec<Option<String>> {
    store
        .list_sites()
        .unwrap()
        .into_iter()
        .map(|site| site.federation_route)
        .collect()
}

#[test]
fn a_batch_of_routes_reaches_a_0_2_store_one_route_per_call_in_order() {
    let fixture = Fixture::new();
    let store = store_v0_2(&fixture, 0);
    store
        .set_site_routes(&[
            federation_route("Site3"),
            federation_route("Site1"),
            SiteRoute {
                kind: RouteKind::XmppFederation,
                ..federation_route("Site2")
            },
        ])
        .unwrap();
    assert_eq!(
        logged(&fixture),
        [
            "set-site-route Site3 federation",
            "set-site-route Site1 federation",
            "set-site-route Site2 xmpp-federation",
        ]
    );
    let identity = Some("EdgeServer:edgepool1.contoso.com".to_owned());
    assert_eq!(
        federation_routes(&store),
        [identity.clone(), None, identity]
    );
    store
        .replicate(&[
            "edge2.contoso.com".to_owned(),
            "edge1.contoso.com".to_owned(),
        ])
        .unwrap();
    assert!(
        store
            .replication_status()
            .unwrap()
            .iter()
            .all(|r| r.up_to_date)
    );
    assert_eq!(
        logged(&fixture)[3..],
        ["replicate edge2.contoso.com", "replicate edge1.contoso.com"]
    );
    let calls: Vec<String> = fixture
        .audit
        .records()
        .into_iter()
        .map(|r| r.function)
        .filter(|f| f == "management.set-site-route" || f == "management.replicate")
        .collect();
    assert_eq!(calls.len(), 5, "{calls:?}");
}

/// A route the 0.2 store refuses stops the batch there: the routes before it
/// are set (the host reads the sites back and sends the whole batch again,
/// docs/apply.md), the ones after it are never sent.
#[test]
fn a_route_a_0_2_store_refuses_stops_the_rest_of_the_batch() {
    let fixture = Fixture::new();
    let store = store_v0_2(&fixture, 0);
    let error = store
        .set_site_routes(&[
            federation_route("Site1"),
            federation_route("Site9"),
            federation_route("Site3"),
        ])
        .unwrap_err();
    assert!(
        matches!(
            &error,
            CallError::Plugin {
                function: "management.set-site-route",
                error: PluginError::NotFound(_),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(logged(&fixture), ["set-site-route Site1 federation"]);
    assert_eq!(federation_routes(&store)[2], None);
}

/// One deadline for the whole batch, not one per call: five writes of 300 ms
/// under a 1 s call time-out end in a time-out at the fourth, though each
/// call alone would finish well within it; the fifth is never sent, and the
/// host keeps serving.
#[test]
fn a_batch_sent_to_a_0_2_store_one_call_at_a_time_has_the_deadline_of_one_call() {
    let fixture = Fixture::new();
    let store = store_v0_2(&fixture, 300);
    let error = store
        .set_site_routes(&[
            federation_route("Site1"),
            federation_route("Site2"),
            federation_route("Site3"),
            federation_route("Site1"),
            federation_route("Site2"),
        ])
        .unwrap_err();
    assert!(
        matches!(
            &error,
            CallError::Timeout {
                function: "management.set-site-route",
                timeout_ms: 1000,
                ..
            }
        ),
        "{error:?}"
    );
    // No timed bound: with a deadline per call each 300 ms write would finish
    // under its 1 s and all five succeed. A time-out at all, with exactly
    // three writes logged, is what one deadline for the batch does.
    assert_eq!(logged(&fixture).len(), 3, "{:?}", logged(&fixture));
    // Still serving: a batch of one, in a fresh deadline.
    store.set_site_routes(&[federation_route("Site3")]).unwrap();
}
