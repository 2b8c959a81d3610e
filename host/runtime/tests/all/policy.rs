use failback_runtime::manifest::Limits;
use failback_runtime::policy_types::{EdgePool, Goal, State};

use crate::common::Fixture;

fn state(federation: &[bool]) -> State {
    State {
        sites: Vec::new(),
        edge_pools: federation
            .iter()
            .enumerate()
            .map(|(i, enabled)| EdgePool {
                fqdn: format!("edge{i}.contoso.com"),
                site: format!("Site{i}"),
                federation_enabled: *enabled,
                next_hop: None,
                access_edge_fqdn: None,
                access_edge_ips: Vec::new(),
                machines: Vec::new(),
                xmpp_port_open: false,
            })
            .collect(),
        front_end_pools: Vec::new(),
        zone: "contoso.com".to_owned(),
        dns: Vec::new(),
        store_available: true,
        topology_version: 1,
        draft_pending: false,
    }
}

fn goal() -> Goal {
    Goal {
        restored_site: "Site1".to_owned(),
        federation_pool: None,
        xmpp_pool: None,
        media_pool: None,
        cutover_ttl: 300,
    }
}

#[test]
fn a_policy_module_lists_its_rules_and_checks_a_trajectory() {
    let fixture = Fixture::new();
    let bytes = std::fs::read(failback_guests::paths::FAILBACK_TEST_POLICY).unwrap();
    let policy = fixture
        .runtime
        .load_policy("test-policy", &bytes, &fixture.cache, Limits::default())
        .unwrap();
    let rules = policy.rules().unwrap();
    assert_eq!(rules[0].id, "test.single-federation");

    assert!(
        policy
            .check(&goal(), &state(&[true, false]), &[])
            .unwrap()
            .is_empty()
    );
    let findings = policy.check(&goal(), &state(&[true, true]), &[]).unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, "test.single-federation");
    assert_eq!(fixture.audit.records().len(), 3);
}

#[test]
fn a_plugin_component_is_not_a_policy_module() {
    let fixture = Fixture::new();
    let bytes = std::fs::read(failback_guests::paths::FAILBACK_TEST_GOOD).unwrap();
    let error = fixture
        .runtime
        .load_policy("not-a-policy", &bytes, &fixture.cache, Limits::default())
        .unwrap_err();
    assert!(
        matches!(error, failback_runtime::LoadError::Link { .. }),
        "{error}"
    );
}
