//! Plan → apply → verify with the real-world plugins against real servers, the
//! way `examples/real-dns-xmpp` tells an operator to run them: the lab's store,
//! servers and pools, but the external zone served by BIND 9 `named` (changed
//! by `dns-rfc2136` over RFC 2136 UPDATE with TSIG) and the home Edge pool's
//! XMPP federation port answered by Prosody (probed by `probe-xmpp`).
//!
//! The lab's Access Edge external IPs are moved to loopback so that the probes
//! the plan makes (TCP 5269 of each of them) reach the test's Prosody:
//! edgepool1 (home) 127.0.0.10 and .11, where Prosody listens; edgepool2
//! (failover) 127.0.0.20, where nothing does (its port is closed, as when the
//! failover site is being given up). Every result is checked independently:
//! the records with `dig`, the streams in Prosody's log.

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use failback_core::deployment::XMPP_PORT;

use crate::servers::named::{KEY_NAME, Named};
use crate::servers::prosody::Prosody;
use crate::support::{fail_back_with_dns, failback, lab, run};

/// The lab's Access Edge external IPs and where the test moves them.
const MOVED: [(&str, &str); 3] = [
    ("131.107.155.10", "127.0.0.10"), // edge1, edgepool1 (home)
    ("131.107.155.11", "127.0.0.11"), // edge2, edgepool1 (home)
    ("131.107.156.10", "127.0.0.20"), // edge3, edgepool2 (failover)
];
const HOME: [Ipv4Addr; 2] = [Ipv4Addr::new(127, 0, 0, 10), Ipv4Addr::new(127, 0, 0, 11)];

/// The kind each of [`PLUGINS`] is bound as.
const KINDS: [&str; 5] = [
    "dns-provider",
    "port-probe",
    "management-store",
    "server-control",
    "pool-control",
];

/// The plugins the example binds, by name, as `failback plugin export` knows them.
const PLUGINS: [&str; 5] = [
    "dns-rfc2136",
    "probe-xmpp",
    "lab-store",
    "lab-servers",
    "lab-pools",
];

#[test]
fn plan_apply_verify_against_bind_and_prosody() {
    let dir = lab("edge-failover");
    let root = dir.path();
    // Every Access Edge IP is in the topology; the zone names only those the
    // records point at (the failover pool's, after the failover).
    assert_eq!(move_edge_ips(&root.join("store/topology.xml")), MOVED.len());
    assert_eq!(move_edge_ips(&root.join("dns/contoso.com.zone")), 1);
    let zone_file = fs::read_to_string(root.join("dns/contoso.com.zone")).unwrap();

    let named = Named::start_zone(&zone_file).unwrap_or_else(|e| panic!("cannot start named: {e}"));
    let home: Vec<IpAddr> = HOME.iter().copied().map(IpAddr::V4).collect();
    let prosody = Prosody::start_s2s_on(&home, XMPP_PORT)
        .unwrap_or_else(|e| panic!("cannot start Prosody where the plan probes XMPP: {e}"));
    let serial_before = named.serial();
    assert_eq!(named.dig("xmpp.contoso.com", "A"), ["127.0.0.20"]);

    fs::create_dir(root.join("secrets")).unwrap();
    fs::write(root.join("secrets/tsig.key"), format!("{}\n", named.secret)).unwrap();
    write_environment(root, &named);
    let env = root.join("failback.toml");

    let shown = fail_back_with_dns(&env, &|| named.log());

    // named's answers: both names on the home pool's Access Edge IPs at the
    // zone's usual TTL again, the SRVs intact, the failover pool's own name
    // untouched, the serial moved on.
    for name in ["sip.contoso.com", "xmpp.contoso.com"] {
        assert_eq!(
            named.answer(name, "A"),
            [
                format!("{name}. 3600 IN A 127.0.0.10"),
                format!("{name}. 3600 IN A 127.0.0.11"),
            ]
        );
    }
    assert_eq!(named.dig("sip2.contoso.com", "A"), ["127.0.0.20"]);
    assert_eq!(
        named.answer("_sipfederationtls._tcp.contoso.com", "SRV"),
        ["_sipfederationtls._tcp.contoso.com. 3600 IN SRV 0 0 5061 sip.contoso.com."]
    );
    assert_eq!(
        named.answer("_xmpp-server._tcp.contoso.com", "SRV"),
        ["_xmpp-server._tcp.contoso.com. 3600 IN SRV 0 0 5269 xmpp.contoso.com."]
    );
    assert!(named.serial() > serial_before);
    // The lab's own zone file was not the one changed.
    assert_eq!(
        fs::read_to_string(root.join("dns/contoso.com.zone")).unwrap(),
        zone_file
    );

    // The probes really ran against Prosody: the plugin's own reports in the
    // audit, and the streams in Prosody's log.
    let audit = fs::read_to_string(root.join(".failback/audit.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let probe_calls: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["kind"] == "call" && e["function"] == "probe.probe")
        .collect();
    assert!(!probe_calls.is_empty(), "no probe was called");
    for call in &probe_calls {
        assert_eq!(call["plugin"], "probe-xmpp");
        assert_eq!(call["outcome"]["kind"], "ok", "{call}");
    }
    let reports: Vec<&str> = entries
        .iter()
        .filter(|e| e["kind"] == "log" && e["plugin"] == "probe-xmpp")
        .filter_map(|e| e["message"].as_str())
        .collect();
    for ip in HOME {
        let answered = format!(
            "`{ip}:{XMPP_PORT}` answered an XMPP server stream with features, STARTTLS offered"
        );
        assert!(
            reports.iter().any(|r| r.starts_with(&answered)),
            "no probe of {ip} found Prosody: {reports:?}"
        );
    }
    assert!(
        reports
            .iter()
            .any(|r| r.starts_with("`127.0.0.20:5269` refused the connection")),
        "the failover pool's closed port was not reported: {reports:?}"
    );
    assert!(
        prosody.log().contains("Incoming s2s stream"),
        "Prosody saw no server-to-server stream:\n{}",
        prosody.log()
    );
    // The DNS changes went through the real plugin, signed.
    assert!(
        entries.iter().any(|e| e["kind"] == "call"
            && e["plugin"] == "dns-rfc2136"
            && e["function"] == "dns.replace-rrset"
            && e["outcome"]["kind"] == "ok"),
        "no UPDATE in the audit"
    );

    let (code, stdout, stderr) = run(failback().args(["audit", "verify", "--env"]).arg(&env));
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    // The TSIG secret was given by reference and stays there.
    let journal = fs::read(root.join(".failback/journal.sqlite")).unwrap();
    for (what, text) in [
        ("the audit", audit.as_str()),
        ("the output", shown.as_str()),
        ("the journal", &String::from_utf8_lossy(&journal)),
    ] {
        assert!(
            !text.contains(&named.secret),
            "the TSIG secret is in {what}"
        );
    }
}

/// Replace the lab's Access Edge external IPs in `path` by loopback ones;
/// how many of them were there.
fn move_edge_ips(path: &Path) -> usize {
    let mut text = fs::read_to_string(path).unwrap();
    let mut found = 0;
    for (from, to) in MOVED {
        if text.contains(from) {
            found += 1;
            text = text.replace(from, to);
        }
    }
    fs::write(path, text).unwrap();
    found
}

/// The lab's `failback.toml` replaced by the example's, filled in as its README
/// says: each plugin exported into `plugins/` and bound with `failback plugin
/// add`, which pins its sha256 and its manifest's in place of the zeros and
/// keeps the file's comments; the DNS server, the TSIG key and the probe's
/// endpoints are the test's.
fn write_environment(root: &Path, named: &Named) {
    let example = crate::support::repository().join("examples/real-dns-xmpp/failback.toml");
    fs::copy(&example, root.join("failback.toml")).unwrap();

    let mut exported: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for (name, kind) in PLUGINS.into_iter().zip(KINDS) {
        let (code, _, stderr) = run(failback()
            .current_dir(root)
            .args(["plugin", "export", name, "plugins"]));
        assert_eq!(code, 0, "plugin export {name}: {stderr}");
        let component = format!("plugins/{name}.wasm");
        let (code, stdout, stderr) = run(failback()
            .current_dir(root)
            .args(["plugin", "add", &component, "--kind", kind]));
        assert_eq!(code, 0, "plugin add {name}: {stderr}");
        assert!(stdout.starts_with(&format!("bound `{name}`")), "{stdout}");
        exported.insert(name, fs::read(root.join(&component)).unwrap());
    }
    let text = fs::read_to_string(root.join("failback.toml")).unwrap();
    // The example's comments are kept; no zero is left.
    assert!(text.contains("# --- DNS: dns-rfc2136"), "{text}");
    assert!(!text.contains(&"0".repeat(64)), "{text}");
    let mut environment: toml::Table = toml::from_str(&text).unwrap();
    // The binary carries the components this build made from plugins/.
    assert!(
        exported["dns-rfc2136"] == fs::read(failback_guests::paths::FAILBACK_DNS_RFC2136).unwrap()
            && exported["probe-xmpp"]
                == fs::read(failback_guests::paths::FAILBACK_PROBE_XMPP).unwrap(),
        "the failback binary carries other real plugins than this build's"
    );

    let server = named.address.to_string();
    let dns = environment["plugins"]["dns-provider"]
        .as_table_mut()
        .unwrap();
    let config = dns["config"].as_table_mut().unwrap();
    assert_eq!(
        config["key-secret"]["file"].as_str(),
        Some("secrets/tsig.key")
    );
    config.insert("server".to_owned(), server.clone().into());
    config.insert("key-name".to_owned(), KEY_NAME.into());
    dns["grants"]["network"]
        .as_table_mut()
        .unwrap()
        .insert("dns-server".to_owned(), vec![server].into());
    let endpoints: Vec<String> = MOVED
        .iter()
        .map(|(_, ip)| format!("{ip}:{XMPP_PORT}"))
        .collect();
    environment["plugins"]["port-probe"]["grants"]["network"]
        .as_table_mut()
        .unwrap()
        .insert("edge-endpoints".to_owned(), endpoints.into());

    fs::write(
        root.join("failback.toml"),
        toml::to_string(&environment).unwrap(),
    )
    .unwrap();
}

#[test]
fn plugin_export_of_a_name_not_carried_lists_the_carried_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(failback()
        .current_dir(dir.path())
        .args(["plugin", "export", "dns-bind", "plugins"]));
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("carries no plugin `dns-bind`")
            && PLUGINS.iter().all(|p| stderr.contains(p)),
        "{stderr}"
    );
    assert!(!dir.path().join("plugins").exists());
}
