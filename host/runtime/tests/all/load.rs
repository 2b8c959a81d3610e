use failback_core::observed::RecordData;
use failback_runtime::capability::Denial;
use failback_runtime::{BindError, Digest, LoadError, Outcome, TrustPolicy};

use crate::common::{Fixture, good_component, stamped_manifest};

const GOOD: &str = failback_guests::paths::FAILBACK_TEST_GOOD;

#[test]
fn a_component_whose_sha256_differs_from_the_binding_is_refused() {
    let fixture = Fixture::new();
    let manifest = stamped_manifest("good", &good_component());
    let table = fixture.install("good", GOOD, &manifest, "dns-provider");
    let wrong = Digest::of(b"something else").to_string();
    let table = table.replace(&Digest::of(&good_component()).to_string(), &wrong);
    let env = fixture.environment(&table);
    let error = fixture.load(&env).unwrap_err();
    assert!(matches!(error, LoadError::DigestMismatch { .. }), "{error}");
    assert!(error.to_string().contains("refusing to run it"));
    let records = fixture.audit.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].function, "load");
    assert!(matches!(records[0].outcome, Outcome::Denied(_)));
}

#[test]
fn a_manifest_without_the_component_sha256_is_refused() {
    let fixture = Fixture::new();
    let manifest = stamped_manifest("good", &good_component());
    let manifest = manifest.replace(
        &Digest::of(&good_component()).to_string(),
        &Digest::of(b"other").to_string(),
    );
    let table = fixture.install("good", GOOD, &manifest, "dns-provider");
    let env = fixture.environment(&table);
    assert!(matches!(
        fixture.load(&env).unwrap_err(),
        LoadError::ManifestDigest { .. }
    ));
}

#[test]
fn a_plugin_bound_to_another_kind_is_refused() {
    let fixture = Fixture::new();
    let manifest = stamped_manifest("good", &good_component());
    let table = fixture.install("good", GOOD, &manifest, "port-probe");
    let env = fixture.environment(&table);
    assert!(matches!(
        fixture.load(&env).unwrap_err(),
        LoadError::Bind(BindError::WrongWorld { .. })
    ));
}

#[test]
fn a_requested_capability_that_is_not_granted_refuses_the_plugin() {
    let fixture = Fixture::new();
    let mut manifest = stamped_manifest("good", &good_component());
    manifest.push_str("\n[capabilities]\ndns-lookup = true\n");
    let table = fixture.install("good", GOOD, &manifest, "dns-provider");
    let env = fixture.environment(&table);
    let LoadError::Capability(error) = fixture.load(&env).unwrap_err() else {
        panic!("expected a capability error")
    };
    assert_eq!(
        error.denials,
        vec![Denial::NotGranted {
            capability: "dns-lookup".to_owned()
        }]
    );
    assert!(matches!(
        fixture.audit.records()[0].outcome,
        Outcome::Denied(_)
    ));
}

#[test]
fn a_grant_the_manifest_does_not_request_refuses_the_plugin() {
    let fixture = Fixture::new();
    let manifest = stamped_manifest("good", &good_component());
    let mut table = fixture.install("good", GOOD, &manifest, "dns-provider");
    std::fs::create_dir(fixture.path("data")).unwrap();
    table.push_str(
        "\n[plugins.dns-provider.grants.dirs]\ndata = { path = \"data\", mode = \"read-only\" }\n",
    );
    let env = fixture.environment(&table);
    let LoadError::Capability(error) = fixture.load(&env).unwrap_err() else {
        panic!("expected a capability error")
    };
    assert_eq!(
        error.denials,
        vec![Denial::NotRequested {
            capability: "data".to_owned()
        }]
    );
}

#[test]
fn an_environment_limit_looser_than_the_manifest_is_refused() {
    let fixture = Fixture::new();
    let manifest = stamped_manifest("good", &good_component());
    let mut table = fixture.install("good", GOOD, &manifest, "dns-provider");
    table.push_str("\n[plugins.dns-provider.limits]\nmemory-mib = 512\n");
    let env = fixture.environment(&table);
    assert!(
        fixture
            .load(&env)
            .unwrap_err()
            .to_string()
            .contains("looser")
    );
}

#[test]
fn secrets_reach_the_plugin_but_never_its_log_lines() {
    let fixture = Fixture::new();
    let manifest = stamped_manifest("good", &good_component());
    let mut table = fixture.install("good", GOOD, &manifest, "dns-provider");
    fixture.write("secrets/address", "203.0.113.5\n");
    table.push_str(
        "\n[plugins.dns-provider.config]\naddress = { file = \"secrets/address\" }\nzone = { env = \"TEST_ZONE\" }\n",
    );
    let env = fixture.environment(&table);
    let binding = env.plugins.values().next().unwrap();
    let plugin = fixture
        .runtime
        .load_plugin(
            binding,
            &TrustPolicy::open(),
            &fixture.dir(),
            &fixture.cache,
            &|name| (name == "TEST_ZONE").then(|| "contoso.com".to_owned()),
        )
        .unwrap();
    let dns = failback_runtime::DnsProvider::new(plugin).unwrap();
    let records = dns.list_records("contoso.com").unwrap();
    assert_eq!(records[0].data, RecordData::A("203.0.113.5".to_owned()));
    // The guest logs the zone it lists; the zone is a secret here, so it is redacted.
    assert_eq!(fixture.audit.lines()[0].message, "listing `<redacted>`");
}

/// The attack: with only the component pinned, replacing `plugin.toml` raised
/// the plugin's limits and renamed it in the audit. The manifest is pinned now:
/// a swapped one is refused before it is parsed, and audited.
#[test]
fn a_swapped_manifest_is_refused_before_it_is_read() {
    let fixture = Fixture::new();
    let manifest = stamped_manifest("good", &good_component());
    let table = fixture.install("good", GOOD, &manifest, "dns-provider");
    let swapped = manifest
        .replace("name = \"test-good\"", "name = \"trusted-vendor\"")
        .replace("memory-mib = 16", "memory-mib = 1024")
        .replace("call-timeout-ms = 1000", "call-timeout-ms = 600000");
    fixture.write("plugins/good.plugin.toml", &swapped);
    let env = fixture.environment(&table);
    let error = fixture.load(&env).unwrap_err();
    assert!(matches!(error, LoadError::ManifestPin { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        format!(
            "manifest `plugins/good.plugin.toml` has sha256 `{}`, but the environment pins `{}`: refusing to read it",
            Digest::of(swapped.as_bytes()),
            Digest::of(manifest.as_bytes())
        )
    );
    let records = fixture.audit.records();
    assert_eq!(records[0].plugin, "dns-provider");
    assert!(matches!(&records[0].outcome, Outcome::Denied(text) if text.contains("pins")));

    // Even text that is not a manifest at all is refused by its digest alone.
    fixture.write("plugins/good.plugin.toml", "not toml [[[");
    assert!(matches!(
        fixture.load(&env).unwrap_err(),
        LoadError::ManifestPin { .. }
    ));

    // The host keeps serving: the pinned manifest back, the plugin loads.
    fixture.write("plugins/good.plugin.toml", &manifest);
    let plugins = fixture.load(&env).unwrap();
    let dns = plugins.dns_provider.unwrap();
    assert_eq!(dns.plugin().name(), "test-good");
    assert_eq!(dns.plugin().limits().memory_mib, 16);
}

/// Two plugins may share a directory, but not nest one grant inside another:
/// the outer plugin could change what the inner one is given.
#[test]
fn a_grant_nested_inside_another_plugins_grant_is_refused() {
    let fixture = Fixture::new();
    std::fs::create_dir_all(fixture.path("data/inner")).unwrap();
    let dirs =
        "\n[[capabilities.dirs]]\nname = \"data\"\nguest-path = \"/data\"\nmode = \"read-only\"\n";
    let manifest = stamped_manifest("good", &good_component())
        .replace("\n[limits]", &format!("{dirs}\n[limits]"));
    let mut table = fixture.install("good", GOOD, &manifest, "dns-provider");
    table.push_str("\n[plugins.dns-provider.grants.dirs]\ndata = { path = \"data/inner\", mode = \"read-only\" }\n");
    let probe_manifest = manifest.replace("dns-provider", "port-probe");
    table.push_str(&fixture.install("probe", GOOD, &probe_manifest, "port-probe"));
    table.push_str(
        "\n[plugins.port-probe.grants.dirs]\ndata = { path = \"data\", mode = \"read-only\" }\n",
    );
    let env = fixture.environment(&table);
    let error = fixture.load(&env).unwrap_err();
    assert!(error.to_string().contains("overlaps"), "{error}");

    // The same directory for both is fine.
    let shared = table.replace("data/inner", "data");
    fixture.load(&fixture.environment(&shared)).unwrap();
}
