use failback_core::observed::{
    PoolState, ProbeKind, ProbeRequest, RecordData, RecordType, RouteKind, ServiceState, SiteRoute,
};
use failback_runtime::audit::LogLevel;
use failback_runtime::{CallError, Outcome, PluginError};

use crate::common::{Fixture, good};

#[test]
fn dns_provider_answers_from_its_config_and_logs_through_the_host() {
    let fixture = Fixture::new();
    let env = good(&fixture, "dns-provider", "address = \"198.51.100.7\"");
    let dns = fixture.load(&env).unwrap().dns_provider.unwrap();

    let records = dns.list_records("contoso.com").unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].name, "www.contoso.com");
    assert_eq!(records[0].data, RecordData::A("198.51.100.7".to_owned()));

    let lines = fixture.audit.lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].plugin, "test-good");
    assert_eq!(lines[0].function, "dns.list-records");
    assert_eq!(lines[0].level, LogLevel::Info);
    assert_eq!(lines[0].message, "listing `contoso.com`");

    dns.replace_rrset(
        "contoso.com",
        "sip.contoso.com",
        RecordType::A,
        300,
        &[RecordData::A("192.0.2.9".to_owned())],
    )
    .unwrap();
    dns.delete_rrset("contoso.com", "sip.contoso.com", RecordType::A)
        .unwrap();
}

#[test]
fn a_plugin_error_is_the_guest_answer_not_a_runtime_failure() {
    let fixture = Fixture::new();
    let env = good(&fixture, "dns-provider", "");
    let dns = fixture.load(&env).unwrap().dns_provider.unwrap();
    let error = dns
        .replace_rrset("contoso.com", "sip.contoso.com", RecordType::A, 300, &[])
        .unwrap_err();
    assert!(error.is_plugin_error());
    let CallError::Plugin {
        plugin,
        function,
        error,
    } = error
    else {
        panic!("{error:?}")
    };
    assert_eq!(plugin, "test-good");
    assert_eq!(function, "dns.replace-rrset");
    assert_eq!(
        error,
        PluginError::Invalid("`sip.contoso.com`: no data".to_owned())
    );
}

#[test]
fn every_call_is_audited_with_digest_function_and_outcome() {
    let fixture = Fixture::new();
    let env = good(&fixture, "dns-provider", "");
    let dns = fixture.load(&env).unwrap().dns_provider.unwrap();
    dns.list_records("contoso.com").unwrap();
    let _ = dns.replace_rrset("contoso.com", "x", RecordType::A, 1, &[]);
    let records = fixture.audit.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].plugin, "test-good");
    assert_eq!(records[0].digest, dns.plugin().digest());
    assert_eq!(records[0].function, "dns.list-records");
    assert_eq!(records[0].outcome, Outcome::Ok);
    assert_eq!(records[1].function, "dns.replace-rrset");
    assert!(matches!(records[1].outcome, Outcome::PluginError(_)));
}

#[test]
fn port_probe_reports() {
    let fixture = Fixture::new();
    let env = good(&fixture, "port-probe", "");
    let probe = fixture.load(&env).unwrap().port_probe.unwrap();
    let report = probe
        .probe(&ProbeRequest {
            host: "192.0.2.1".to_owned(),
            port: 5269,
            kind: ProbeKind::XmppServer,
            timeout_ms: 1000,
            stream_to: Some("contoso.com".to_owned()),
        })
        .unwrap();
    assert_eq!(report.detail, "192.0.2.1:5269 not probed");
}

#[test]
fn management_store_reads_and_publishes() {
    let fixture = Fixture::new();
    let env = good(&fixture, "management-store", "");
    let store = fixture.load(&env).unwrap().management_store.unwrap();
    let topology = store.read_topology().unwrap();
    assert_eq!(topology.version, 7);
    assert_eq!(store.publish_topology(&topology.xml, 7).unwrap(), 8);
    let conflict = store.publish_topology(&topology.xml, 6).unwrap_err();
    assert!(matches!(
        conflict,
        CallError::Plugin {
            error: PluginError::Conflict(_),
            ..
        }
    ));
    store.enable_topology(8).unwrap();
    assert_eq!(store.list_sites().unwrap()[0].site, "Site1");
    store
        .set_site_routes(&[SiteRoute {
            site: "Site1".to_owned(),
            kind: RouteKind::XmppFederation,
            identity: Some("EdgeServer:edge1.contoso.com".to_owned()),
        }])
        .unwrap();
    assert_eq!(
        store.read_store_status().unwrap().active_master.as_deref(),
        Some("fe1.contoso.com")
    );
    assert!(store.replication_status().unwrap()[0].up_to_date);
    store.replicate(&["edge1.contoso.com".to_owned()]).unwrap();
}

#[test]
fn server_control_lists_starts_and_runs_setup() {
    let fixture = Fixture::new();
    let env = good(&fixture, "server-control", "");
    let servers = fixture.load(&env).unwrap().server_control.unwrap();
    let services = servers.list_services("edge1.contoso.com").unwrap();
    assert_eq!(services[0].state, ServiceState::Running);
    servers.start_services("edge1.contoso.com").unwrap();
    assert_eq!(servers.setup_version("edge1.contoso.com").unwrap(), Some(7));
    assert_eq!(
        servers
            .run_setup("edge1.contoso.com")
            .unwrap()
            .applied_version,
        7
    );
    assert!(matches!(
        servers.list_services("").unwrap_err(),
        CallError::Plugin {
            error: PluginError::NotFound(_),
            ..
        }
    ));
}

#[test]
fn pool_control_lists_and_fails_back() {
    let fixture = Fixture::new();
    let env = good(&fixture, "pool-control", "");
    let pools = fixture.load(&env).unwrap().pool_control.unwrap();
    assert_eq!(pools.list_pools().unwrap()[0].state, PoolState::FailedOver);
    pools.pool_failback("pool1.contoso.com").unwrap();
}

#[test]
fn calls_from_many_threads_each_get_their_own_store() {
    let fixture = Fixture::new();
    let env = good(&fixture, "dns-provider", "");
    let dns = fixture.load(&env).unwrap().dns_provider.unwrap();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..10 {
                    dns.list_records("contoso.com").unwrap();
                }
            });
        }
    });
    assert_eq!(fixture.audit.records().len(), 40);
}
