use failback_core::deployment::{Deployment, EdgePoolState};
use failback_core::plan::Goal;
use failback_runtime::TrustPolicy;
use failback_runtime::manifest::Limits;
use failback_runtime::{CheckError, Track, Trajectory};

use crate::common::Fixture;

fn state(federation: &[bool]) -> Deployment {
    Deployment {
        sites: Vec::new(),
        edge_pools: federation
            .iter()
            .enumerate()
            .map(|(i, enabled)| EdgePoolState {
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
        cms_available: true,
        topology_version: 1,
        draft_pending: false,
    }
}

fn goal() -> Goal {
    Goal {
        restored_site: "Site1".to_owned(),
        federation_pool: None,
        xmpp_pool: None,
        media_edge_pool: None,
        cutover_ttl: 300,
        next_hop: None,
    }
}

#[test]
fn a_policy_module_lists_its_rules_and_checks_a_trajectory() {
    let fixture = Fixture::new();
    let bytes = std::fs::read(failback_guests::paths::FAILBACK_TEST_POLICY).unwrap();
    let policy = fixture
        .runtime
        .load_policy(
            "test-policy",
            &bytes,
            &fixture.cache,
            Limits::default(),
            &TrustPolicy::open(),
            None,
        )
        .unwrap();
    // Built against the frozen 0.1 package, and bound to it.
    assert_eq!(policy.track(), Track::V0_1);
    let rules = policy.rules().unwrap();
    assert_eq!(rules[0].id, "test.single-federation");

    let goal = goal();
    let (one, two) = (state(&[true, false]), state(&[true, true]));
    assert!(
        policy
            .check(&Trajectory::new(&goal, &one, Vec::new()))
            .unwrap()
            .is_empty()
    );
    let findings = policy
        .check(&Trajectory::new(&goal, &two, Vec::new()))
        .unwrap();
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
        .load_policy(
            "not-a-policy",
            &bytes,
            &fixture.cache,
            Limits::default(),
            &TrustPolicy::open(),
            None,
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            failback_runtime::LoadError::Bind(failback_runtime::BindError::Link { .. })
        ),
        "{error}"
    );
}

fn hostile_policy(fixture: &Fixture, limits: Limits) -> failback_runtime::PolicyModule {
    let bytes = std::fs::read(failback_guests::paths::FAILBACK_TEST_HOSTILE_POLICY).unwrap();
    fixture
        .runtime
        .load_policy(
            "hostile-policy",
            &bytes,
            &fixture.cache,
            limits,
            &TrustPolicy::open(),
            None,
        )
        .unwrap()
}

fn attack(goal_site: &str) -> Goal {
    Goal {
        restored_site: goal_site.to_owned(),
        ..goal()
    }
}

/// The hostile module's answer to a goal naming `attack` as the site.
fn check_attack(
    policy: &failback_runtime::PolicyModule,
    attack_site: &str,
) -> Result<Vec<failback_runtime::ModuleFinding>, CheckError> {
    let goal = attack(attack_site);
    let start = state(&[]);
    policy.check(&Trajectory::new(&goal, &start, Vec::new()))
}

/// Policies are documented as pure, but got real clocks and random numbers: a
/// verdict could depend on time or chance. Both are fixed now.
#[test]
fn a_policy_sees_a_fixed_clock_and_fixed_random_numbers() {
    let fixture = Fixture::new();
    let policy = hostile_policy(&fixture, Limits::default());
    let first = check_attack(&policy, "clock").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let again = check_attack(&policy, "clock").unwrap();
    assert!(
        first[0].message.starts_with("now=0 "),
        "{}",
        first[0].message
    );
    assert_eq!(first[0].message, again[0].message);
}

#[test]
fn a_policy_sleeping_in_a_host_call_is_stopped_at_its_deadline() {
    let fixture = Fixture::new();
    let policy = hostile_policy(
        &fixture,
        Limits {
            memory_mib: 64,
            call_timeout_ms: 300,
        },
    );
    let started = std::time::Instant::now();
    let error = check_attack(&policy, "sleep").unwrap_err();
    assert!(
        matches!(
            error,
            CheckError::Call(failback_runtime::CallError::Timeout { .. })
        ),
        "{error:?}"
    );
    // The module sleeps 600 s; stopped at its 300 ms limit, the call returns
    // far under 60 s however loaded the machine (the `Timeout` says the limit
    // stopped it; how soon after is a benchmark's question).
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert!(check_attack(&policy, "none").unwrap().is_empty());
}

/// Policy results were not size-limited at all.
#[test]
fn an_oversized_policy_result_is_refused_before_it_is_lifted() {
    let fixture = Fixture::with_options(failback_runtime::RuntimeOptions {
        max_result_bytes: 1 << 20,
        ..failback_runtime::RuntimeOptions::default()
    });
    let policy = hostile_policy(&fixture, Limits::default());
    let error = check_attack(&policy, "huge:4096").unwrap_err();
    assert!(
        matches!(
            error,
            CheckError::Call(failback_runtime::CallError::ResultTooLarge { .. })
        ),
        "{error:?}"
    );
    // The host keeps serving, and a result within the limit passes.
    assert_eq!(check_attack(&policy, "huge:10").unwrap().len(), 10);
}

#[test]
fn a_policys_texts_reach_the_operator_escaped() {
    let fixture = Fixture::new();
    let policy = hostile_policy(&fixture, Limits::default());
    let found = check_attack(&policy, "terminal").unwrap();
    for text in [&found[0].message, &found[0].hint, &found[0].values[0]] {
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
    assert_eq!(
        found[0].message,
        "all clear\\n  note advisory fake.rule at state 0: \\u{1b}[2J"
    );
}

/// Policies get no `host` import, no files and no sockets: a component that
/// imports them does not link as a policy.
#[test]
fn a_component_importing_host_or_files_does_not_link_as_a_policy() {
    let fixture = Fixture::new();
    for path in [
        failback_guests::paths::FAILBACK_TEST_HOSTILE,
        failback_guests::paths::FAILBACK_LAB_DNS,
    ] {
        let bytes = std::fs::read(path).unwrap();
        let error = fixture
            .runtime
            .load_policy(
                "impostor",
                &bytes,
                &fixture.cache,
                Limits::default(),
                &TrustPolicy::open(),
                None,
            )
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("failback:plugin/host") || text.contains("wasi:filesystem"),
            "{text}"
        );
    }
}
