//! The conformance kit against the deliberately broken guest
//! (`tests/guests/broken`): unbroken it keeps every promise of each world; each
//! break fails exactly the cases of the promise it breaks, with a message that
//! names what was expected and what came back.

use std::path::Path;

use failback_guests::paths::FAILBACK_TEST_BROKEN;
use failback_runtime::conformance::{Kit, OutcomeKind, Report, Subject, cases};
use failback_runtime::manifest::PluginKind;
use failback_runtime::{ComponentCache, TrustPolicy};

use crate::common::Fixture;

/// What the guest starts from: a zone, a topology, two sites, a replica, a
/// machine, a failed-over Front End pool and its backup pool.
const STATE: &str = r#"{
  "zones": { "contoso.com": [ { "name": "sip.contoso.com", "ttl": 3600, "data": { "a": "192.0.2.20" } } ] },
  "topology": { "xml": "<Topology/>", "version": 7, "enabled": true },
  "sites": [
    { "site": "Site1", "federation": null, "xmpp": null },
    { "site": "Site2", "federation": "EdgeServer:edgepool2.contoso.com", "xmpp": "EdgeServer:edgepool2.contoso.com" }
  ],
  "replicas": ["edge1.contoso.com"],
  "machines": { "edge1.contoso.com": { "services": { "RTCSRV": "stopped" }, "setup_version": 5 } },
  "pools": [
    { "fqdn": "fepool1.contoso.com", "failed_over": true, "backup_pool": "fepool2.contoso.com", "failover_fqdn": "fepool1.contoso.com" },
    { "fqdn": "fepool2.contoso.com", "failed_over": false, "backup_pool": null, "failover_fqdn": null }
  ]
}"#;

/// Run the kit on the broken guest bound as `kind`, broken as `broken` (or
/// not at all, with "").
fn kit(kind: PluginKind, broken: &str) -> Report {
    let fixture = Fixture::new();
    let bytes = std::fs::read(FAILBACK_TEST_BROKEN).unwrap();
    let world = format!("failback:plugin/{kind}@0.3.0");
    // The probe needs no state but a network capability the kit grants.
    let capabilities = if kind == PluginKind::PortProbe {
        "[[capabilities.network]]\nname = \"endpoints\"\nprotocol = \"tcp\"\n"
    } else {
        "[[capabilities.dirs]]\nname = \"state\"\nguest-path = \"/state\"\nmode = \"read-write\"\n"
    };
    let manifest = format!(
        "sha256 = \"{}\"\nname = \"test-broken\"\nversion = \"0.1.0\"\nworld = \"{world}\"\n\n\
         {capabilities}\n[limits]\nmemory-mib = 16\ncall-timeout-ms = 10000\n",
        failback_runtime::Digest::of(&bytes)
    );
    let mut table = fixture.install("broken", FAILBACK_TEST_BROKEN, &manifest, kind.name());
    table.push_str(&format!(
        "\n[plugins.{kind}.config]\nbreak = \"{broken}\"\n"
    ));
    if kind != PluginKind::PortProbe {
        fixture.write("state/state.json", STATE);
        table.push_str(&format!(
            "\n[plugins.{kind}.grants.dirs]\nstate = {{ path = \"state\", mode = \"read-write\" }}\n"
        ));
    }
    let environment = fixture.environment(&table);
    let subject = Subject {
        machine: Some("edge1.contoso.com".to_owned()),
        ..Subject::default()
    };
    Kit {
        runtime: &fixture.runtime,
        cache: &shared_cache(),
    }
    .test_binding(
        &environment,
        &TrustPolicy::open(),
        kind,
        &fixture.dir(),
        &|_| None,
        subject,
    )
    .unwrap()
}

/// One compiled-component cache for every run of this module: the guest
/// compiles once, not once per break.
fn shared_cache() -> ComponentCache {
    ComponentCache::open(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-component-cache"),
    )
    .unwrap()
}

fn failed(report: &Report) -> Vec<&'static str> {
    report
        .cases
        .iter()
        .filter(|c| c.outcome.kind() == OutcomeKind::Failed)
        .map(|c| c.case.id)
        .collect()
}

/// The text of a failed case: expected, then what came back.
fn failure(report: &Report, id: &str) -> String {
    let case = report.cases.iter().find(|c| c.case.id == id).unwrap();
    match &case.outcome {
        failback_runtime::conformance::Outcome::Failed { expected, actual } => {
            format!("expected {expected}; came back {actual}")
        }
        other => panic!("`{id}` did not fail: {other:?}"),
    }
}

#[test]
fn unbroken_it_passes_every_case_of_every_world() {
    for kind in PluginKind::ALL {
        let report = kit(kind, "");
        assert_eq!(failed(&report), Vec::<&str>::new(), "{kind}: {report:#?}");
        let skipped: Vec<_> = report
            .cases
            .iter()
            .filter(|c| c.outcome.kind() == OutcomeKind::Skipped)
            .map(|c| c.case.id)
            .collect();
        // Only the case that needs a real XMPP server, which none was given.
        let expected: &[&str] = if kind == PluginKind::PortProbe {
            &["real-xmpp-server"]
        } else {
            &[]
        };
        assert_eq!(skipped, expected, "{kind}");
        assert_eq!(report.cases.len(), cases(kind).len());
        assert!(report.notes.is_empty(), "{:?}", report.notes);
    }
}

/// Each break: the world, the `break` value, the cases it must fail and what
/// the failure of the first of them must say.
const BREAKS: &[(PluginKind, &str, &[&str], &str)] = &[
    (
        PluginKind::DnsProvider,
        "final-dot",
        &[
            "names",
            "replace-then-list",
            "replace-shrinks",
            "round-trip-aaaa",
            "round-trip-cname",
            "round-trip-srv",
            "round-trip-txt",
            "delete-then-list",
        ],
        "\"name\":\"sip.contoso.com.\"",
    ),
    (
        PluginKind::DnsProvider,
        "replace-appends",
        &["replace-then-list", "replace-again", "replace-shrinks"],
        "it shows [{\"ttl\":300,\"data\":{\"type\":\"a\",\"address\":\"192.0.2.1\"}},{\"ttl\":300,\"data\":{\"type\":\"a\",\"address\":\"192.0.2.1\"}}",
    ),
    (
        PluginKind::DnsProvider,
        "delete-absent-fails",
        &["delete-absent"],
        "expected ok; came back plugin-error::not-found(\"no such set at `absent.failback-kit.contoso.com`\")",
    ),
    (
        PluginKind::DnsProvider,
        "unknown-zone-empty",
        &["unknown-zone"],
        "expected plugin-error::not-found; came back ok: []",
    ),
    (
        PluginKind::PortProbe,
        "closed-is-error",
        &["tcp-closed", "xmpp-closed", "batch"],
        "expected a report on 127.0.0.1:",
    ),
    (
        PluginKind::PortProbe,
        "ignores-timeout",
        &["tcp-filtered", "xmpp-silent"],
        "expected the report within timeout-ms 500 ms (and 1500 ms of margin); came back it came back after",
    ),
    (
        PluginKind::PortProbe,
        "not-xmpp-is-xmpp",
        &["xmpp-not-xmpp"],
        "expected stream-header false, and `other` holding what the service sent",
    ),
    (
        PluginKind::ManagementStore,
        "stale-publish-accepted",
        &["publish-refused"],
        "expected plugin-error::conflict or plugin-error::invalid; came back ok: 8",
    ),
    (
        PluginKind::ServerControl,
        "unknown-machine-empty",
        &[
            "list-services-unknown",
            "read-machines-batch",
            "setup-version-unknown",
        ],
        "expected plugin-error::not-found; came back ok: []",
    ),
    (
        PluginKind::PoolControl,
        "failback-backup-fqdn",
        &["pool-failback-wrong-fqdn"],
        "expected plugin-error::invalid; came back ok: null",
    ),
    (
        PluginKind::PoolControl,
        "failback-normal-ok",
        &[
            "pool-failback-wrong-fqdn",
            "pool-failback-not-failed-over",
            "pool-failback-again",
        ],
        "expected plugin-error::invalid; came back ok: null",
    ),
];

#[test]
fn each_broken_promise_fails_its_cases_with_what_was_expected_and_what_came_back() {
    let mut wrong = Vec::new();
    for (kind, broken, cases, message) in BREAKS {
        let report = kit(*kind, broken);
        let failed = failed(&report);
        if failed != *cases {
            wrong.push(format!(
                "{kind} broken as `{broken}` failed {failed:?}, not {cases:?}"
            ));
            continue;
        }
        let text = failure(&report, cases[0]);
        if !text.contains(message) {
            wrong.push(format!(
                "{kind} broken as `{broken}`: `{}` says {text}",
                cases[0]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn docs_vendors_lists_every_case_of_every_world_in_its_table() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/vendors.md"
    ))
    .unwrap();
    for kind in PluginKind::ALL {
        let heading = format!("**{kind}**");
        let start = docs
            .find(&heading)
            .unwrap_or_else(|| panic!("no {heading}"));
        let section = &docs[start..];
        let end = section[heading.len()..]
            .find("\n**")
            .map_or(section.len(), |end| end + heading.len());
        let section = &section[..end];
        for case in cases(kind) {
            let row = section
                .lines()
                .find(|line| line.starts_with('|') && line.contains(&format!("`{}`", case.id)))
                .unwrap_or_else(|| {
                    panic!("docs/vendors.md lists no `{}` under {heading}", case.id)
                });
            assert!(
                row.contains(&format!("`{}`", case.function)),
                "docs/vendors.md: `{}` is of `{}`: {row}",
                case.id,
                case.function
            );
        }
    }
}
