use failback_runtime::inspect;

use crate::common::{Fixture, good_component, stamped_manifest};

#[test]
fn inspect_names_the_track_a_0_1_plugin_was_built_against() {
    let fixture = Fixture::new();
    let bytes = std::fs::read(failback_guests::paths::FAILBACK_PROBE_XMPP).unwrap();
    let inspection = inspect(&fixture.runtime, &bytes, None).unwrap();
    assert_eq!(inspection.worlds, vec!["failback:plugin/port-probe@0.1.0"]);
    assert!(inspection.foreign_imports.is_empty());
}

#[test]
fn inspect_names_the_worlds_imports_exports_and_requested_capabilities() {
    let fixture = Fixture::new();
    let bytes = std::fs::read(failback_guests::paths::FAILBACK_TEST_HOSTILE).unwrap();
    let manifest = stamped_manifest("hostile", &bytes);
    let inspection = inspect(&fixture.runtime, &bytes, Some(&manifest)).unwrap();
    assert_eq!(
        inspection.worlds,
        vec![
            "failback:plugin/dns-provider@0.3.0",
            "failback:plugin/port-probe@0.3.0"
        ]
    );
    assert!(inspection.foreign_imports.is_empty());
    // A component imports only the host functions it uses.
    let host = inspection
        .imports
        .iter()
        .find(|i| i.name == "failback:plugin/host@0.3.0")
        .unwrap();
    assert_eq!(host.functions, ["log", "config"]);
    let dns = inspection
        .exports
        .iter()
        .find(|e| e.name == "failback:plugin/dns@0.3.0")
        .unwrap();
    assert_eq!(
        dns.functions,
        ["list-records", "replace-rrset", "delete-rrset"]
    );
    assert_eq!(inspection.manifest_matches, Some(true));
    let manifest = inspection.manifest.as_ref().unwrap();
    assert_eq!(manifest.capabilities.dirs.len(), 2);

    let json = serde_json::to_value(&inspection).unwrap();
    assert_eq!(json["sha256"], inspection.sha256.to_string());
    assert_eq!(
        json["manifest"]["capabilities"]["network"][0]["protocol"],
        "tcp"
    );
}

#[test]
fn inspect_finds_every_world_a_component_implements() {
    let fixture = Fixture::new();
    let inspection = inspect(&fixture.runtime, &good_component(), None).unwrap();
    assert_eq!(inspection.worlds.len(), 5);
    assert_eq!(inspection.manifest_matches, None);

    let policy = std::fs::read(failback_guests::paths::FAILBACK_TEST_POLICY).unwrap();
    let inspection = inspect(&fixture.runtime, &policy, None).unwrap();
    assert_eq!(inspection.worlds, vec!["failback:policy/policy@0.1.0"]);
}

#[test]
fn inspect_refuses_bytes_that_are_not_a_component() {
    let fixture = Fixture::new();
    assert!(inspect(&fixture.runtime, b"not wasm", None).is_err());
}
