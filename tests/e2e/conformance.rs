//! `failback plugin test`: every plugin of this repository passes its world's
//! conformance kit — the lab plugins on a lab, dns-rfc2136 against BIND,
//! probe-xmpp against the kit's listeners and Prosody — in each report
//! format, and bad input is refused with a message saying what to do.

use std::path::Path;
use std::sync::Arc;

use cap_std::fs::Dir;
use failback_runtime::conformance::{Kit, Listeners, OutcomeKind, Subject};
use failback_runtime::manifest::PluginKind;
use failback_runtime::{ComponentCache, Environment, NullAuditSink, Runtime, TrustPolicy};

use crate::servers::named::{KEY_NAME, Named, ZONE};
use crate::servers::prosody::{DOMAIN, Prosody};
use crate::support::{failback, lab, lab_digests, placeholders, run, sha256_of};

/// Snapshot a report, with what changes from run to run filtered out: each
/// digest by its own placeholder (`known` names the ones the test computed),
/// times.
fn snapshot(name: &str, report: &str, known: &[(String, String)]) {
    let report = placeholders(report, known);
    insta::with_settings!({filters => vec![
        (r#""duration_ms": \d+"#, r#""duration_ms": "[MS]""#),
        (r#"time="[0-9.]+""#, r#"time="[S]""#),
    ]}, {
        insta::assert_snapshot!(name, report);
    });
}

#[test]
fn each_lab_plugin_passes_its_world_on_a_lab() {
    let dir = lab("edge-and-front-end-failover");
    for kind in [
        "dns-provider",
        "management-store",
        "server-control",
        "pool-control",
    ] {
        let (code, stdout, stderr) = run(failback()
            .args(["plugin", "test", "--kind", kind, "--env"])
            .arg(dir.path().join("failback.toml")));
        assert_eq!(code, 0, "{kind}: {stdout}\n{stderr}");
        snapshot(
            &format!("kit-lab-{kind}"),
            &stdout,
            &lab_digests(dir.path()),
        );
    }
}

/// lab-probe answers from the lab firewall's file, not from sockets: it
/// passes once that file describes the kit's listeners as they are.
#[test]
fn lab_probe_passes_when_the_lab_firewall_describes_the_kits_listeners() {
    let dir = lab("edge-failover");
    let listeners = Listeners::start().unwrap();
    let e = listeners.endpoints();
    let endpoint = |address: std::net::SocketAddr, state: &str, xmpp: bool| {
        format!(
            "{{ \"host\": \"{}\", \"port\": {}, \"state\": \"{state}\", \"xmpp\": {xmpp} }}",
            address.ip(),
            address.port()
        )
    };
    // The filtered port is not listed: the lab filters what it does not list.
    let reachability = format!(
        "{{ \"endpoints\": [ {}, {}, {}, {} ] }}\n",
        endpoint(e.xmpp, "open", true),
        endpoint(e.other, "open", false),
        endpoint(e.silent, "open", false),
        endpoint(e.closed, "closed", false),
    );
    std::fs::write(dir.path().join("network/reachability.json"), reachability).unwrap();

    let env_dir = Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
    let environment = Environment::load(&env_dir, "failback.toml").unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = ComponentCache::open(cache_dir.path()).unwrap();
    let runtime = Runtime::new(Arc::new(NullAuditSink)).unwrap();
    let report = Kit {
        runtime: &runtime,
        cache: &cache,
    }
    .test_binding(
        &environment,
        &TrustPolicy::open(),
        PluginKind::PortProbe,
        &env_dir,
        &|_| None,
        Subject {
            listeners: Some(listeners),
            ..Subject::default()
        },
    )
    .unwrap();
    let not_passed: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.outcome.kind() != OutcomeKind::Passed)
        .map(|c| (c.case.id, &c.outcome))
        .collect();
    assert_eq!(not_passed.len(), 1, "{not_passed:#?}");
    assert_eq!(not_passed[0].0, "real-xmpp-server");
}

#[test]
fn dns_rfc2136_passes_against_bind_and_reports_in_junit() {
    let named = Named::start().unwrap_or_else(|e| panic!("cannot start named: {e}"));
    let server = named.address.to_string();
    let (code, stdout, stderr) = run(failback()
        .args(["plugin", "test"])
        .arg(failback_guests::paths::FAILBACK_DNS_RFC2136)
        .args(["--world", "dns-provider", "--manifest"])
        .arg(failback_guests::paths::FAILBACK_DNS_RFC2136_MANIFEST)
        .args(["--zone", ZONE, "--format", "junit"])
        .args(["--config", &format!("server={server}")])
        .args(["--config", &format!("key-name={KEY_NAME}")])
        .args(["--config", &format!("key-secret={}", named.secret)])
        .args(["--grant", &format!("dns-server={server}")]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    snapshot(
        "kit-dns-rfc2136-junit",
        &stdout,
        &[(
            sha256_of(Path::new(failback_guests::paths::FAILBACK_DNS_RFC2136)),
            "sha256 dns-rfc2136.wasm".to_owned(),
        )],
    );
    // The kit left nothing of its own in the zone.
    assert!(named.dig(&format!("a.failback-kit.{ZONE}"), "A").is_empty());
}

#[test]
fn probe_xmpp_passes_against_the_kits_listeners_and_prosody_and_reports_in_json() {
    let prosody = Prosody::start().unwrap_or_else(|e| panic!("cannot start Prosody: {e}"));
    let (code, stdout, stderr) = run(failback()
        .args(["plugin", "test"])
        .arg(failback_guests::paths::FAILBACK_PROBE_XMPP)
        .args(["--world", "port-probe", "--manifest"])
        .arg(failback_guests::paths::FAILBACK_PROBE_XMPP_MANIFEST)
        .args(["--xmpp-server", &prosody.s2s.to_string()])
        .args(["--xmpp-domain", DOMAIN, "--format", "json"]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["summary"]["failed"], 0);
    assert_eq!(report["summary"]["skipped"], 0, "{stdout}");
    snapshot(
        "kit-probe-xmpp-json",
        &stdout,
        &[(
            sha256_of(Path::new(failback_guests::paths::FAILBACK_PROBE_XMPP)),
            "sha256 probe-xmpp.wasm".to_owned(),
        )],
    );
}

/// The last line of stderr, with the temporary directory named `[DIR]`.
fn error(stderr: &str, dir: &Path) -> String {
    stderr.replace(&dir.display().to_string(), "[DIR]")
}

#[test]
fn bad_input_is_refused_saying_what_to_do() {
    let dir = lab("edge-failover");
    let lab_dns = dir.path().join("plugins/lab-dns.wasm");
    // A copy with no manifest beside it.
    let alone = dir.path().join("alone.wasm");
    std::fs::copy(&lab_dns, &alone).unwrap();
    let mut out = String::new();
    let cases: [(&str, Vec<String>); 5] = [
        (
            "a component without a manifest",
            vec![
                alone.display().to_string(),
                "--world".into(),
                "dns-provider".into(),
            ],
        ),
        (
            "a manifest of another world",
            vec![
                lab_dns.display().to_string(),
                "--world".into(),
                "port-probe".into(),
            ],
        ),
        (
            "a plugin that needs a directory, outside an environment",
            vec![
                lab_dns.display().to_string(),
                "--world".into(),
                "dns-provider".into(),
                "--zone".into(),
                "contoso.com".into(),
            ],
        ),
        (
            "a capability the manifest requests, not granted",
            vec![
                failback_guests::paths::FAILBACK_DNS_RFC2136.into(),
                "--world".into(),
                "dns-provider".into(),
                "--manifest".into(),
                failback_guests::paths::FAILBACK_DNS_RFC2136_MANIFEST.into(),
                "--zone".into(),
                "contoso.com".into(),
            ],
        ),
        (
            "a dns-provider without a zone",
            vec![
                failback_guests::paths::FAILBACK_DNS_RFC2136.into(),
                "--world".into(),
                "dns-provider".into(),
                "--manifest".into(),
                failback_guests::paths::FAILBACK_DNS_RFC2136_MANIFEST.into(),
                "--grant".into(),
                "dns-server=127.0.0.1:53".into(),
            ],
        ),
    ];
    for (what, args) in cases {
        let (code, stdout, stderr) = run(failback().args(["plugin", "test"]).args(&args));
        assert_eq!(code, 1, "{what}: {stdout}\n{stderr}");
        assert!(stdout.is_empty(), "{what}: {stdout}");
        out.push_str(&format!("# {what}\n{}\n", error(&stderr, dir.path())));
    }
    let guests = Path::new(failback_guests::paths::FAILBACK_DNS_RFC2136)
        .parent()
        .unwrap()
        .display()
        .to_string();
    insta::assert_snapshot!("kit-bad-input", out.replace(&guests, "[GUESTS]"));
}
