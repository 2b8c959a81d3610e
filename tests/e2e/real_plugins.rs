//! The real-world plugins, run through the real runtime against real servers
//! on loopback: `dns-rfc2136` against BIND 9 `named`, `probe-xmpp` against
//! Prosody and plain listeners. Every answer the plugin reports is checked
//! with an independent client (`dig`).

/// dns-rfc2136 against named.
mod dns {
    use failback_core::observed::{RecordData, RecordType, SrvData};
    use failback_runtime::{CallError, PluginError};

    use crate::servers::forger::{Forger, Forgery};
    use crate::servers::named::{KEY_NAME, Named, ZONE};
    use crate::servers::runtime::{Harness, plugin_error};

    fn named() -> Named {
        Named::start().unwrap_or_else(|e| panic!("cannot start named: {e}"))
    }

    fn srv(port: u16, target: &str) -> RecordData {
        RecordData::Srv(SrvData {
            priority: 0,
            weight: 5,
            port,
            target: target.to_owned(),
        })
    }

    fn a(ip: &str) -> RecordData {
        RecordData::A(ip.to_owned())
    }

    #[test]
    fn list_records_reads_the_zone_by_transfer() {
        let named = named();
        let harness = Harness::new();
        let address = named.address.to_string();
        let dns = harness.dns(&address, KEY_NAME, &named.secret, &address);
        let mut records = dns.list_records(ZONE).unwrap();
        records.sort();
        let shown: Vec<String> = records
            .iter()
            .map(|r| format!("{} {} {:?}", r.name, r.ttl, r.data))
            .collect();
        assert_eq!(
            shown,
            [
                "_sipfederationtls._tcp.contoso.com 300 Srv(SrvData { priority: 0, weight: 0, port: 5061, target: \"sip.contoso.com\" })",
                "_xmpp-server._tcp.contoso.com 300 Srv(SrvData { priority: 0, weight: 0, port: 5269, target: \"xmpp.contoso.com\" })",
                "ns1.contoso.com 300 A(\"127.0.0.1\")",
                "sip.contoso.com 300 A(\"192.0.2.20\")",
                "xmpp.contoso.com 300 A(\"192.0.2.20\")",
            ]
        );
    }

    #[test]
    fn srv_and_a_records_are_replaced_and_deleted() {
        let named = named();
        let harness = Harness::new();
        let address = named.address.to_string();
        let dns = harness.dns(&address, KEY_NAME, &named.secret, &address);

        let sip_srv = "_sipfederationtls._tcp.contoso.com";
        dns.replace_rrset(
            ZONE,
            sip_srv,
            RecordType::Srv,
            600,
            &[srv(5061, "sip.contoso.com")],
        )
        .unwrap();
        assert_eq!(named.dig(sip_srv, "SRV"), ["0 5 5061 sip.contoso.com."]);

        // The restored pool has two Access Edge addresses.
        dns.replace_rrset(
            ZONE,
            "sip.contoso.com",
            RecordType::A,
            60,
            &[a("192.0.2.10"), a("192.0.2.11")],
        )
        .unwrap();
        assert_eq!(
            named.dig("sip.contoso.com", "A"),
            ["192.0.2.10", "192.0.2.11"]
        );

        // A set that did not exist is created.
        dns.replace_rrset(
            ZONE,
            "xmpp2.contoso.com",
            RecordType::A,
            60,
            &[a("192.0.2.12")],
        )
        .unwrap();
        assert_eq!(named.dig("xmpp2.contoso.com", "A"), ["192.0.2.12"]);

        // The TTL given is the TTL served, and list-records sees the change.
        let listed = dns.list_records(ZONE).unwrap();
        let sip: Vec<_> = listed
            .iter()
            .filter(|r| r.name == "sip.contoso.com")
            .collect();
        assert_eq!(sip.len(), 2);
        assert!(sip.iter().all(|r| r.ttl == 60));

        dns.delete_rrset(ZONE, "xmpp2.contoso.com", RecordType::A)
            .unwrap();
        assert!(named.dig("xmpp2.contoso.com", "A").is_empty());
        dns.delete_rrset(ZONE, "_xmpp-server._tcp.contoso.com", RecordType::Srv)
            .unwrap();
        assert!(named.dig("_xmpp-server._tcp.contoso.com", "SRV").is_empty());
        // The other sets are untouched.
        assert_eq!(named.dig("xmpp.contoso.com", "A"), ["192.0.2.20"]);
        assert_eq!(named.dig(sip_srv, "SRV"), ["0 5 5061 sip.contoso.com."]);
    }

    #[test]
    fn re_applying_the_same_set_or_deleting_an_absent_one_changes_nothing() {
        let named = named();
        let harness = Harness::new();
        let address = named.address.to_string();
        let dns = harness.dns(&address, KEY_NAME, &named.secret, &address);
        let xmpp_srv = "_xmpp-server._tcp.contoso.com";
        let data = [srv(5269, "xmpp.contoso.com")];
        dns.replace_rrset(ZONE, xmpp_srv, RecordType::Srv, 300, &data)
            .unwrap();
        let serial = named.serial();
        dns.replace_rrset(ZONE, xmpp_srv, RecordType::Srv, 300, &data)
            .unwrap();
        assert_eq!(named.dig(xmpp_srv, "SRV"), ["0 5 5269 xmpp.contoso.com."]);
        assert_eq!(
            named.serial(),
            serial,
            "re-applying the set changed the zone"
        );

        dns.delete_rrset(ZONE, "absent.contoso.com", RecordType::A)
            .unwrap();
        dns.delete_rrset(ZONE, "absent.contoso.com", RecordType::A)
            .unwrap();
        assert_eq!(
            named.serial(),
            serial,
            "deleting an absent set changed the zone"
        );
    }

    /// A server that answers every UPDATE and transfer with NOERROR, signed
    /// as `forgery` says; the plugin shares its key.
    fn forged(forgery: Forgery) -> (Forger, Harness) {
        const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=";
        let forger = Forger::start(forgery, KEY_NAME, SECRET);
        (forger, Harness::new())
    }

    fn update_and_transfer(
        forger: &Forger,
        harness: &Harness,
    ) -> (Result<(), CallError>, Result<Vec<String>, CallError>) {
        const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=";
        let address = forger.address.to_string();
        let dns = harness.dns(&address, KEY_NAME, SECRET, &address);
        let update = dns.replace_rrset(
            ZONE,
            "sip.contoso.com",
            RecordType::A,
            60,
            &[a("198.51.100.1")],
        );
        let transfer = dns.list_records(ZONE).map(|records| {
            records
                .iter()
                .map(|r| format!("{} {:?}", r.name, r.data))
                .collect()
        });
        (update, transfer)
    }

    /// The control: the test's server signs correctly, and the plugin takes
    /// its answers — so the refusals below are the plugin's checks.
    #[test]
    fn answers_signed_with_the_shared_key_are_accepted_from_the_tests_own_server() {
        let (forger, harness) = forged(Forgery::Honest);
        let (update, transfer) = update_and_transfer(&forger, &harness);
        update.unwrap();
        assert_eq!(transfer.unwrap(), ["sip.contoso.com A(\"192.0.2.20\")"]);
    }

    /// The attack: a server (or someone on the path) answers NOERROR without
    /// a signature; believing it, the plugin would report a change that never
    /// happened.
    #[test]
    fn an_unsigned_noerror_answer_is_refused() {
        let (forger, harness) = forged(Forgery::Unsigned);
        let (update, transfer) = update_and_transfer(&forger, &harness);
        for error in [plugin_error(update), plugin_error(transfer)] {
            assert!(
                matches!(&error, PluginError::Refused(m) if m.contains("unsigned") || m.contains("not signed")),
                "{error:?}"
            );
        }
    }

    #[test]
    fn a_noerror_answer_signed_with_another_key_is_refused() {
        let (forger, harness) = forged(Forgery::WrongKey);
        let (update, transfer) = update_and_transfer(&forger, &harness);
        for error in [plugin_error(update), plugin_error(transfer)] {
            assert!(
                matches!(&error, PluginError::Refused(m) if m.starts_with("BADSIG")),
                "{error:?}"
            );
        }
    }

    /// RFC 8945 §5.3.1: a transfer's messages after the first may go unsigned,
    /// but not the last: records appended after the last signature are
    /// anyone's.
    #[test]
    fn a_transfer_whose_last_message_is_unsigned_is_refused() {
        let (forger, harness) = forged(Forgery::TransferEndsUnsigned);
        let (update, transfer) = update_and_transfer(&forger, &harness);
        update.unwrap();
        let error = plugin_error(transfer);
        assert!(
            matches!(&error, PluginError::Refused(m) if m.contains("unsigned") || m.contains("not signed")),
            "{error:?}"
        );
        // The host keeps serving: the honest server's answers are taken after.
        let (honest, harness) = forged(Forgery::Honest);
        let (update, transfer) = update_and_transfer(&honest, &harness);
        update.unwrap();
        transfer.unwrap();
    }

    #[test]
    fn a_wrong_secret_is_refused_as_badsig_and_an_unknown_key_as_badkey() {
        let named = named();
        let harness = Harness::new();
        let address = named.address.to_string();
        let wrong = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZyE=";
        let dns = harness.dns(&address, KEY_NAME, wrong, &address);
        let error = plugin_error(dns.replace_rrset(
            ZONE,
            "sip.contoso.com",
            RecordType::A,
            60,
            &[a("198.51.100.1")],
        ));
        assert!(
            matches!(&error, PluginError::Refused(m) if m.starts_with("BADSIG")),
            "{error:?}"
        );
        let error = plugin_error(dns.list_records(ZONE));
        assert!(
            matches!(&error, PluginError::Refused(m) if m.starts_with("BADSIG")),
            "{error:?}"
        );

        let harness = Harness::new();
        let dns = harness.dns(&address, "no-such-key", &named.secret, &address);
        let error = plugin_error(dns.delete_rrset(ZONE, "sip.contoso.com", RecordType::A));
        assert!(
            matches!(&error, PluginError::Refused(m) if m.starts_with("BADKEY")),
            "{error:?}"
        );
        // Nothing changed, and the secret is in no log line or audit record.
        assert_eq!(named.dig("sip.contoso.com", "A"), ["192.0.2.20"]);
        let audit = format!("{:?} {:?}", harness.audit.records(), harness.audit.lines());
        assert!(!audit.contains(&named.secret));
    }

    #[test]
    fn a_zone_the_server_does_not_serve_and_a_name_outside_the_zone_are_not_found() {
        let named = named();
        let harness = Harness::new();
        let address = named.address.to_string();
        let dns = harness.dns(&address, KEY_NAME, &named.secret, &address);
        let error = plugin_error(dns.list_records("fabrikam.com"));
        assert!(
            matches!(&error, PluginError::NotFound(m) if m.contains("`fabrikam.com`")),
            "{error:?}"
        );
        let error = plugin_error(dns.replace_rrset(
            "fabrikam.com",
            "sip.fabrikam.com",
            RecordType::A,
            60,
            &[a("192.0.2.1")],
        ));
        assert!(matches!(&error, PluginError::NotFound(_)), "{error:?}");
        let error = plugin_error(dns.replace_rrset(
            ZONE,
            "sip.fabrikam.com",
            RecordType::A,
            60,
            &[a("192.0.2.1")],
        ));
        assert!(
            matches!(&error, PluginError::NotFound(m) if m.starts_with("NOTZONE")),
            "{error:?}"
        );
    }

    #[test]
    fn data_of_the_wrong_type_is_invalid_before_anything_is_sent() {
        let named = named();
        let harness = Harness::new();
        let address = named.address.to_string();
        let dns = harness.dns(&address, KEY_NAME, &named.secret, &address);
        let error = plugin_error(dns.replace_rrset(
            ZONE,
            "sip.contoso.com",
            RecordType::Srv,
            60,
            &[a("192.0.2.1")],
        ));
        assert!(matches!(error, PluginError::Invalid(_)), "{error:?}");
        assert_eq!(named.dig("sip.contoso.com", "A"), ["192.0.2.20"]);
    }

    #[test]
    fn a_server_that_accepts_but_never_answers_is_unavailable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let harness = Harness::new();
        let dns = harness.dns(&address, KEY_NAME, "c2VjcmV0", &address);
        let started = std::time::Instant::now();
        let error = plugin_error(dns.list_records(ZONE));
        assert!(
            matches!(&error, PluginError::Unavailable(m) if m.contains("3000 ms")),
            "{error:?}"
        );
        // The server never answers: the plugin's 3 s deadline ended the call
        // (the message says so); 60 s bounds it however loaded the machine.
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
        drop(listener);
    }

    #[test]
    fn a_server_other_than_the_granted_one_is_denied_by_the_host() {
        let named = named();
        let harness = Harness::new();
        let dns = harness.dns(
            &named.address.to_string(),
            KEY_NAME,
            &named.secret,
            "127.0.0.1:9",
        );
        let result = dns.list_records(ZONE);
        assert!(
            matches!(result, Err(CallError::Denied { .. })),
            "{result:?}"
        );
    }
}

/// probe-xmpp against Prosody and plain listeners.
mod probe {
    use std::io::{Read as _, Write as _};
    use std::net::{SocketAddr, TcpListener};

    use failback_core::observed::{PortState, ProbeKind, ProbeRequest};
    use failback_runtime::CallError;

    use crate::servers::prosody::{DOMAIN, Prosody};
    use crate::servers::runtime::Harness;

    fn request(address: SocketAddr, kind: ProbeKind) -> ProbeRequest {
        ProbeRequest {
            host: address.ip().to_string(),
            port: address.port(),
            kind,
            timeout_ms: 3_000,
            stream_to: Some(DOMAIN.to_owned()),
        }
    }

    #[test]
    fn prosody_answers_the_server_stream_with_features_and_starttls() {
        let prosody = Prosody::start().unwrap_or_else(|e| panic!("cannot start prosody: {e}"));
        let harness = Harness::new();
        let probe = harness.probe(&[prosody.s2s.to_string()]);
        let report = probe
            .probe(&request(prosody.s2s, ProbeKind::XmppServer))
            .unwrap();
        assert_eq!(report.state, PortState::Open, "{}", report.detail);
        let xmpp = report.xmpp.expect("an xmpp answer");
        assert!(
            xmpp.stream_header && xmpp.features && xmpp.starttls,
            "{xmpp:?}\nprosody's log:\n{}",
            prosody.log()
        );
        assert!(xmpp.stream_id.is_some_and(|id| !id.is_empty()));
        assert!(xmpp.other.is_none());
        assert!(
            report.detail.contains("STARTTLS offered"),
            "{}",
            report.detail
        );

        let report = probe.probe(&request(prosody.s2s, ProbeKind::Tcp)).unwrap();
        assert_eq!(report.state, PortState::Open);
        assert!(report.xmpp.is_none());
    }

    #[test]
    fn a_closed_port_is_closed() {
        let address = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let harness = Harness::new();
        let probe = harness.probe(&[address.to_string()]);
        let report = probe
            .probe(&request(address, ProbeKind::XmppServer))
            .unwrap();
        assert_eq!(report.state, PortState::Closed, "{}", report.detail);
        assert!(report.xmpp.is_none());
    }

    #[test]
    fn an_http_listener_is_open_but_not_xmpp() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = [0u8; 512];
            let _ = socket.read(&mut request);
            socket
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .unwrap();
        });
        let harness = Harness::new();
        let probe = harness.probe(&[address.to_string()]);
        let report = probe
            .probe(&request(address, ProbeKind::XmppServer))
            .unwrap();
        server.join().unwrap();
        assert_eq!(report.state, PortState::Open);
        let xmpp = report.xmpp.expect("an xmpp answer");
        assert!(!xmpp.stream_header && !xmpp.features && !xmpp.starttls);
        assert!(
            xmpp.other
                .as_deref()
                .is_some_and(|o| o.starts_with("HTTP/1.1 400")),
            "{xmpp:?}"
        );
    }

    #[test]
    fn an_endpoint_not_granted_is_denied_by_the_host() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let harness = Harness::new();
        let probe = harness.probe(&["127.0.0.1:9".to_owned()]);
        let result = probe.probe(&request(address, ProbeKind::Tcp));
        assert!(
            matches!(result, Err(CallError::Denied { .. })),
            "{result:?}"
        );
    }
}

/// dns-powerdns against PowerDNS's HTTP API, plain and behind a TLS front with
/// a test CA; every change read back through the API and through DNS.
mod powerdns {
    use failback_core::observed::{RecordData, RecordType, SrvData};
    use failback_runtime::{CallError, LoadError, PluginError};

    use crate::servers::powerdns::{PowerDns, ZONE};
    use crate::servers::runtime::Harness;
    use crate::servers::tls::{TestCa, TlsFront};
    use crate::support::{failback, run};

    fn powerdns() -> PowerDns {
        PowerDns::start().unwrap_or_else(|e| panic!("cannot start PowerDNS: {e}"))
    }

    fn a(ip: &str) -> RecordData {
        RecordData::A(ip.to_owned())
    }

    /// The plugin over plain HTTP, granted the webserver's origin.
    fn plain(harness: &Harness, pdns: &PowerDns) -> failback_runtime::DnsProvider {
        harness.powerdns(
            &pdns.api_url(),
            &format!("http://{}", pdns.api),
            &pdns.key,
            None,
        )
    }

    #[test]
    fn list_records_reads_the_zone_through_the_api() {
        let pdns = powerdns();
        let harness = Harness::new();
        let dns = plain(&harness, &pdns);
        let mut records = dns.list_records(ZONE).unwrap();
        records.sort();
        let shown: Vec<String> = records
            .iter()
            .map(|r| format!("{} {} {:?}", r.name, r.ttl, r.data))
            .collect();
        assert_eq!(
            shown,
            [
                "_sipfederationtls._tcp.contoso.com 300 Srv(SrvData { priority: 0, weight: 0, port: 5061, target: \"sip.contoso.com\" })",
                "_xmpp-server._tcp.contoso.com 300 Srv(SrvData { priority: 0, weight: 0, port: 5269, target: \"xmpp.contoso.com\" })",
                "ns1.contoso.com 300 A(\"127.0.0.1\")",
                "sip.contoso.com 300 A(\"192.0.2.20\")",
                "xmpp.contoso.com 300 A(\"192.0.2.20\")",
            ]
        );
        // One audit record per request, without the key.
        let exchanges = harness.audit.exchanges();
        assert_eq!(exchanges.len(), 1, "{exchanges:?}");
        assert_eq!(exchanges[0].method, "GET");
        assert_eq!(
            exchanges[0].path,
            "/api/v1/servers/localhost/zones/contoso.com."
        );
        assert_eq!(exchanges[0].status, Some(200));
        assert!(!format!("{exchanges:?}").contains(&pdns.key));
    }

    #[test]
    fn record_sets_are_replaced_and_deleted_over_https() {
        let pdns = powerdns();
        let ca = TestCa::new("failback test CA");
        let front = TlsFront::start(ca.server_config(&["pdns.contoso.test"]), pdns.api);
        let harness = Harness::new();
        // The name is not in any resolver: the grant pins the front's address.
        let origin = format!("https://pdns.contoso.test:{}", front.address.port());
        let dns = harness
            .powerdns_plugins(
                &format!("{origin}/api/v1"),
                &origin,
                &pdns.key,
                Some(&ca.pem()),
                "addresses = [\"127.0.0.1\"]",
            )
            .unwrap()
            .dns_provider
            .unwrap();
        let serial = pdns.serial();
        let sip_srv = "_sipfederationtls._tcp.contoso.com";
        dns.replace_rrset(
            ZONE,
            sip_srv,
            RecordType::Srv,
            600,
            &[RecordData::Srv(SrvData {
                priority: 0,
                weight: 5,
                port: 5061,
                target: "sip.contoso.com".to_owned(),
            })],
        )
        .unwrap();
        assert_eq!(pdns.dig(sip_srv, "SRV"), ["0 5 5061 sip.contoso.com."]);
        dns.replace_rrset(
            ZONE,
            "sip.contoso.com",
            RecordType::A,
            60,
            &[a("192.0.2.10"), a("192.0.2.11")],
        )
        .unwrap();
        assert_eq!(
            pdns.dig("sip.contoso.com", "A"),
            ["192.0.2.10", "192.0.2.11"]
        );
        // Read back through the API with the test's own client: the TTL given.
        let (status, body) = pdns.api_get("/servers/localhost/zones/contoso.com.");
        assert_eq!(status, 200);
        let zone: serde_json::Value = serde_json::from_str(&body).unwrap();
        let sip = zone["rrsets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "sip.contoso.com." && s["type"] == "A")
            .unwrap();
        assert_eq!(sip["ttl"], 60);
        // PowerDNS, not the plugin, moved the serial on.
        assert_ne!(pdns.serial(), serial);

        dns.delete_rrset(ZONE, "_xmpp-server._tcp.contoso.com", RecordType::Srv)
            .unwrap();
        assert!(pdns.dig("_xmpp-server._tcp.contoso.com", "SRV").is_empty());
        dns.delete_rrset(ZONE, "absent.contoso.com", RecordType::A)
            .unwrap();
        assert_eq!(pdns.dig("xmpp.contoso.com", "A"), ["192.0.2.20"]);
        let exchanges = harness.audit.exchanges();
        assert!(
            exchanges
                .iter()
                .all(|e| e.origin == origin && e.status == Some(204)),
            "{exchanges:?}"
        );
    }

    #[test]
    fn errors_map_onto_plugin_errors_by_status() {
        let pdns = powerdns();
        let harness = Harness::new();
        let dns = plain(&harness, &pdns);
        let error = dns.list_records("absent.example").unwrap_err();
        assert!(
            matches!(
                error,
                CallError::Plugin {
                    error: PluginError::NotFound(_),
                    ..
                }
            ),
            "{error}"
        );
        // A CNAME beside the A set: PowerDNS answers 422 with its message.
        let error = dns
            .replace_rrset(
                ZONE,
                "sip.contoso.com",
                RecordType::Cname,
                300,
                &[RecordData::Cname("xmpp.contoso.com".to_owned())],
            )
            .unwrap_err();
        match &error {
            CallError::Plugin {
                error: PluginError::Invalid(message),
                ..
            } => assert!(message.contains("sip.contoso.com"), "{message}"),
            other => panic!("expected invalid, got {other}"),
        }
        // A key PowerDNS does not know.
        let wrong = Harness::new();
        let refused = wrong.powerdns(
            &pdns.api_url(),
            &format!("http://{}", pdns.api),
            "not-the-key",
            None,
        );
        let error = refused.list_records(ZONE).unwrap_err();
        assert!(
            matches!(
                error,
                CallError::Plugin {
                    error: PluginError::Refused(_),
                    ..
                }
            ),
            "{error}"
        );
        assert!(!error.to_string().contains("not-the-key"), "{error}");
    }

    #[test]
    fn a_certificate_from_another_ca_is_refused() {
        let pdns = powerdns();
        let granted = TestCa::new("failback test CA");
        let other = TestCa::new("another CA");
        let front = TlsFront::start(other.server_config(&["localhost"]), pdns.api);
        let harness = Harness::new();
        let origin = format!("https://localhost:{}", front.address.port());
        let dns = harness.powerdns(
            &format!("{origin}/api/v1"),
            &origin,
            &pdns.key,
            Some(&granted.pem()),
        );
        let error = dns.list_records(ZONE).unwrap_err();
        assert!(
            matches!(
                &error,
                CallError::Plugin {
                    error: PluginError::Unavailable(message),
                    ..
                } if message.contains("TlsCertificateError")
            ),
            "{error}"
        );
    }

    #[test]
    fn an_api_url_outside_the_grant_is_refused_by_the_host() {
        let pdns = powerdns();
        let harness = Harness::new();
        let dns = harness.powerdns(
            &format!("http://{}/metrics", pdns.api),
            &format!("http://{}", pdns.api),
            &pdns.key,
            None,
        );
        let error = dns.list_records(ZONE).unwrap_err();
        assert!(matches!(error, CallError::Denied { .. }), "{error}");
        assert!(
            error.to_string().contains("is outside `/api/v1`"),
            "{error}"
        );
    }

    #[test]
    fn a_grant_whose_ca_file_is_missing_does_not_load() {
        let harness = Harness::new();
        let error = harness
            .powerdns_plugins(
                "https://pdns.contoso.test:8443/api/v1",
                "https://pdns.contoso.test:8443",
                "key",
                None,
                "ca = \"certs/missing.pem\"",
            )
            .unwrap_err();
        assert!(matches!(error, LoadError::Capability(_)), "{error}");
        assert!(
            error
                .to_string()
                .contains("HTTP grant `powerdns-api` cannot be used"),
            "{error}"
        );
    }

    /// The kit without an environment file: the origin granted by `--grant
    /// NAME=URL`, the API key bound by `--grant-header` to a variable of the
    /// kit's own environment, never to a value on the command line.
    #[test]
    fn the_kit_takes_an_http_grant_and_a_secret_header_from_its_flags() {
        let pdns = powerdns();
        let kit = |extra: &[String], key: Option<&str>| {
            let mut command = failback();
            command
                .args(["plugin", "test"])
                .arg(failback_guests::paths::FAILBACK_DNS_POWERDNS)
                .args(["--world", "dns-provider", "--manifest"])
                .arg(failback_guests::paths::FAILBACK_DNS_POWERDNS_MANIFEST)
                .args(["--zone", ZONE, "--config"])
                .arg(format!("api={}", pdns.api_url()))
                .args(extra)
                .env_remove("FAILBACK_KIT_PDNS_KEY");
            if let Some(key) = key {
                command.env("FAILBACK_KIT_PDNS_KEY", key);
            }
            run(&mut command)
        };
        let grant = format!("--grant=powerdns-api=http://{}/api/v1", pdns.api);
        let header = "--grant-header=powerdns-api:X-API-Key=FAILBACK_KIT_PDNS_KEY".to_owned();

        let (code, stdout, stderr) = kit(&[grant.clone(), header.clone()], Some(&pdns.key));
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(!stdout.contains(&pdns.key) && !stderr.contains(&pdns.key));
        assert!(pdns.dig(&format!("a.failback-kit.{ZONE}"), "A").is_empty());

        // Without the header PowerDNS refuses every request: the cases fail,
        // saying the key was refused.
        let (code, stdout, _) = kit(std::slice::from_ref(&grant), None);
        assert_ne!(code, 0, "{stdout}");
        assert!(stdout.contains("401"), "{stdout}");

        // A prefix the plugin's URL is not under: the host refuses the
        // requests before they are sent.
        let (code, stdout, _) = kit(
            &[
                format!("--grant=powerdns-api=http://{}/other", pdns.api),
                header.clone(),
            ],
            Some(&pdns.key),
        );
        assert_ne!(code, 0, "{stdout}");
        assert!(stdout.contains("/other"), "{stdout}");

        // The variable unset: refused before anything runs, naming it.
        let (code, stdout, stderr) = kit(&[grant.clone(), header.clone()], None);
        assert_eq!(code, 1, "{stdout}");
        assert!(
            stderr.contains(
                "--grant-header `powerdns-api:X-API-Key=FAILBACK_KIT_PDNS_KEY`: environment variable `FAILBACK_KIT_PDNS_KEY` is not set"
            ),
            "{stderr}"
        );
        // A header for a name no --grant gives an origin.
        let (code, _, stderr) = kit(
            &["--grant-header=other:X-API-Key=FAILBACK_KIT_PDNS_KEY".to_owned()],
            Some(&pdns.key),
        );
        assert_eq!(code, 1);
        assert!(
            stderr.contains("`other` is not granted an origin by --grant other=URL"),
            "{stderr}"
        );
    }

    #[test]
    fn the_conformance_kit_passes_against_powerdns() {
        let pdns = powerdns();
        let dir = tempfile::tempdir().unwrap();
        let component = std::fs::read(failback_guests::paths::FAILBACK_DNS_POWERDNS).unwrap();
        let manifest =
            std::fs::read(failback_guests::paths::FAILBACK_DNS_POWERDNS_MANIFEST).unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("plugins/dns-powerdns.wasm"), &component).unwrap();
        std::fs::write(
            dir.path().join("plugins/dns-powerdns.plugin.toml"),
            &manifest,
        )
        .unwrap();
        std::fs::write(dir.path().join("secrets/pdns.key"), &pdns.key).unwrap();
        let digest = |bytes: &[u8]| {
            use sha2::Digest as _;
            hex::encode(sha2::Sha256::digest(bytes))
        };
        std::fs::write(
            dir.path().join("failback.toml"),
            format!(
                "[environment]\nname = \"powerdns\"\nzone = \"{ZONE}\"\n\n\
                 [plugins.dns-provider]\npath = \"plugins/dns-powerdns.wasm\"\n\
                 sha256 = \"{}\"\nmanifest-sha256 = \"{}\"\n\n\
                 [plugins.dns-provider.config]\napi = \"{}\"\n\n\
                 [plugins.dns-provider.grants.http.powerdns-api]\n\
                 origin = \"http://{}\"\npath-prefix = \"/api/v1\"\n\
                 headers = {{ x-api-key = {{ file = \"secrets/pdns.key\" }} }}\n",
                digest(&component),
                digest(&manifest),
                pdns.api_url(),
                pdns.api
            ),
        )
        .unwrap();
        let (code, stdout, stderr) = run(failback()
            .args(["plugin", "test", "--kind", "dns-provider", "--env"])
            .arg(dir.path().join("failback.toml")));
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(!stdout.contains(&pdns.key) && !stderr.contains(&pdns.key));
        // The kit left nothing of its own in the zone.
        assert!(pdns.dig(&format!("a.failback-kit.{ZONE}"), "A").is_empty());
    }
}
