//! Plan → apply → verify with the external zone in PowerDNS, the way
//! `examples/powerdns` tells an operator to run it: a lab directory, the
//! example's environment file with each plugin exported and bound by `plugin
//! add`, the zone served by a real PowerDNS whose API is reached over HTTPS
//! through a TLS front signed by the operator's CA, the API key in a file only
//! the host reads. Every result is checked independently: the records with
//! `dig` and through the API, the requests in the audit.

use std::fs;

use crate::servers::powerdns::{EXAMPLE_API_HOST as API_HOST, PowerDns, write_example_environment};
use crate::servers::tls::{TestCa, TlsFront};
use crate::support::{fail_back_with_dns, failback, lab, run};

/// The lab's home pool (edgepool1) Access Edge external IPs, where the
/// failback points SIP federation and XMPP back.
const HOME_IPS: [&str; 2] = ["131.107.155.10", "131.107.155.11"];
/// The failover pool's (edgepool2).
const FAILOVER_IP: &str = "131.107.156.10";

#[test]
fn the_powerdns_example_fails_back_over_https_with_the_key_held_by_the_host() {
    let dir = lab("edge-failover");
    let root = dir.path();
    let zone_file = fs::read_to_string(root.join("dns/contoso.com.zone")).unwrap();
    let pdns =
        PowerDns::start_zone(&zone_file).unwrap_or_else(|e| panic!("cannot start PowerDNS: {e}"));
    let ca = TestCa::new("contoso test CA");
    let front = TlsFront::start(ca.server_config(&[API_HOST]), pdns.api);
    assert_eq!(pdns.dig("sip.contoso.com", "A"), [FAILOVER_IP]);
    assert_eq!(pdns.dig("xmpp.contoso.com", "A"), [FAILOVER_IP]);
    let serial_before = pdns.serial();

    let env = write_example_environment(root, failback, &pdns, &ca.pem(), front.address.port());

    // README step 3: the review names the origin and the header the host
    // adds, never its value; the kit passes against this PowerDNS.
    let (code, stdout, stderr) = run(failback()
        .current_dir(root)
        .args(["plugin", "review", "plugins/dns-powerdns.wasm", "--env"])
        .arg(&env));
    assert_eq!(code, 0, "review failed:\n{stdout}\n{stderr}");
    let origin = format!("https://{API_HOST}:{}", front.address.port());
    assert!(stdout.contains(&origin), "{stdout}");
    assert!(stdout.contains("x-api-key"), "{stdout}");
    let mut shown = stdout + &stderr;
    let (code, stdout, stderr) = run(failback()
        .args(["plugin", "test", "--kind", "dns-provider", "--env"])
        .arg(&env));
    assert_eq!(
        code, 0,
        "the kit failed against PowerDNS:\n{stdout}\n{stderr}"
    );
    shown += &(stdout + &stderr);

    shown += &fail_back_with_dns(&env, &|| pdns.log());

    // PowerDNS's answers: both names on the home pool again, the SRV intact,
    // the failover pool's own name untouched, the serial moved on by
    // PowerDNS (the plugin never edits the SOA). The lab's zone file is not
    // what changed.
    for name in ["sip.contoso.com", "xmpp.contoso.com"] {
        assert_eq!(pdns.dig(name, "A"), HOME_IPS, "{name}");
    }
    assert_eq!(pdns.dig("sip2.contoso.com", "A"), [FAILOVER_IP]);
    assert_eq!(
        pdns.dig("_sipfederationtls._tcp.contoso.com", "SRV"),
        ["0 0 5061 sip.contoso.com."]
    );
    assert!(pdns.serial() > serial_before);
    let (status, body) = pdns.api_get("/servers/localhost/zones/contoso.com.");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("131.107.155.11"), "{body}");
    assert_eq!(
        fs::read_to_string(root.join("dns/contoso.com.zone")).unwrap(),
        zone_file
    );

    // Every change went through the granted origin: PATCHes answered 204, one
    // `http` record each, under the API's prefix.
    let audit = fs::read_to_string(root.join(".failback/audit.jsonl")).unwrap();
    let requests: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["kind"] == "http")
        .collect();
    let patches: Vec<&serde_json::Value> =
        requests.iter().filter(|r| r["method"] == "PATCH").collect();
    assert!(!patches.is_empty(), "no PATCH in the audit: {requests:?}");
    for request in &requests {
        assert_eq!(request["plugin"], "dns-powerdns", "{request}");
        assert_eq!(request["origin"], origin.as_str(), "{request}");
        assert!(
            request["path"]
                .as_str()
                .unwrap()
                .starts_with("/api/v1/servers/localhost/zones/contoso.com."),
            "{request}"
        );
    }
    for patch in &patches {
        assert_eq!(patch["status"], 204, "{patch}");
    }
    let (code, stdout, stderr) = run(failback().args(["audit", "verify", "--env"]).arg(&env));
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    // The API key was given by reference and stays there.
    let journal = fs::read(root.join(".failback/journal.sqlite")).unwrap();
    for (what, text) in [
        ("the audit", audit.as_str()),
        ("the output", shown.as_str()),
        ("the journal", &String::from_utf8_lossy(&journal)),
        ("the environment file", &fs::read_to_string(&env).unwrap()),
    ] {
        assert!(!text.contains(&pdns.key), "the API key is in {what}");
    }
}
