use failback_core::deployment::{Change, Deployment, EdgeMachineState, EdgePoolState};
use failback_core::plan::{Action, Goal, Level, Step, StepStatus};
use failback_guests::{Group, STANDARD};
use failback_runtime::{
    Digest, Gate, GateError, Overrides, PolicyBindings, PolicyComponent, TrustPolicy,
};

use crate::common::Fixture;

fn pool(fqdn: &str, site: &str, federation: bool) -> EdgePoolState {
    EdgePoolState {
        fqdn: fqdn.to_owned(),
        site: site.to_owned(),
        federation_enabled: federation,
        next_hop: None,
        access_edge_fqdn: None,
        access_edge_ips: Vec::new(),
        machines: vec![EdgeMachineState {
            fqdn: fqdn.replace("pool", ""),
            services_running: true,
            replica_up_to_date: true,
            setup_version: 1,
        }],
        xmpp_port_open: true,
    }
}

/// Federation on edgepool2; step 1 enables it on edgepool1 too, step 2 clears
/// it on edgepool2: state 1 has two federation-enabled pools.
fn enable_before_disable() -> (Deployment, Vec<Step>) {
    let start = Deployment {
        sites: Vec::new(),
        edge_pools: vec![
            pool("edgepool1.contoso.com", "Site1", false),
            pool("edgepool2.contoso.com", "Site2", true),
        ],
        front_end_pools: Vec::new(),
        zone: "contoso.com".to_owned(),
        dns: Vec::new(),
        cms_available: true,
        topology_version: 1,
        draft_pending: false,
    };
    let step = |index: usize, edge_pool: &str, enabled: bool| Step {
        index,
        id: Action::SetFederationEdge.id().to_owned(),
        action: Action::SetFederationEdge,
        status: StepStatus::Planned,
        target: None,
        arguments: Default::default(),
        preconditions: Vec::new(),
        changes: vec![Change::Federation {
            edge_pool: edge_pool.to_owned(),
            enabled,
        }],
        summary: Vec::new(),
        verify: String::new(),
        operations: Vec::new(),
    };
    (
        start,
        vec![
            step(1, "edgepool1.contoso.com", true),
            step(2, "edgepool2.contoso.com", false),
        ],
    )
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

fn standard() -> Vec<PolicyComponent<'static>> {
    STANDARD
        .iter()
        .filter(|g| g.group == Group::Policy)
        .map(|g| PolicyComponent {
            name: g.package,
            bytes: g.bytes,
            sha256: g.sha256.parse().unwrap(),
        })
        .collect()
}

/// The standard modules, and the echo module bound from the environment.
fn gate_with_echo(fixture: &Fixture) -> Result<Gate, GateError> {
    let bytes = std::fs::read(failback_guests::paths::FAILBACK_TEST_ECHO_POLICY).unwrap();
    fixture.write("policies/echo.wasm", &bytes);
    let table: toml::Table = toml::from_str(&format!(
        "[[modules]]\nname = \"echo\"\npath = \"policies/echo.wasm\"\nsha256 = \"{}\"\n",
        Digest::of(&bytes)
    ))
    .unwrap();
    let bindings = PolicyBindings::parse(Some(&table)).unwrap();
    Gate::load(
        &fixture.runtime,
        &fixture.cache,
        &standard(),
        &bindings,
        &TrustPolicy::open(),
        &fixture.dir(),
    )
}

#[test]
fn a_real_intermediate_hard_finding_blocks() {
    let fixture = Fixture::new();
    let gate = Gate::load(
        &fixture.runtime,
        &fixture.cache,
        &standard(),
        &PolicyBindings::parse(None).unwrap(),
        &TrustPolicy::open(),
        &fixture.dir(),
    )
    .unwrap();
    let (start, steps) = enable_before_disable();
    let findings = gate
        .check(&goal(), &start, &steps, &Overrides::default())
        .unwrap();
    let single = findings
        .iter()
        .find(|f| f.rule == "federation.single-pool")
        .unwrap();
    assert_eq!(
        (single.state, single.standing, single.blocking, single.level),
        (1, false, true, Level::Hard)
    );
    assert_eq!(single.module, "failback-policies");
}

/// A second module echoing the federation module's intermediate finding on
/// the start state cannot make it standing: a module reports only the rules
/// it holds, and findings are keyed by module. The gate keeps judging
/// afterwards.
#[test]
fn a_second_policy_module_echoing_a_finding_does_not_make_it_standing() {
    let fixture = Fixture::new();
    let gate = gate_with_echo(&fixture).unwrap();
    let (start, steps) = enable_before_disable();
    let err = gate
        .check(&goal(), &start, &steps, &Overrides::default())
        .unwrap_err();
    assert!(
        matches!(&err, GateError::ForeignRule { module, rule }
            if module == "echo" && rule == "federation.single-pool"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "policy module `echo` reported rule `federation.single-pool`, which it does not hold"
    );
    // A trajectory the echo has nothing to say about is judged as ever.
    let findings = gate
        .check(&goal(), &start, &steps[1..], &Overrides::default())
        .unwrap();
    assert!(findings.iter().all(|f| !f.blocking), "{findings:?}");
}

/// `[policies.levels]` may raise a rule, never lower a hard one.
#[test]
fn a_hard_rule_cannot_be_lowered_by_configuration() {
    let fixture = Fixture::new();
    let load = |levels: &str| {
        let table: toml::Table = toml::from_str(&format!("[levels]\n{levels}")).unwrap();
        Gate::load(
            &fixture.runtime,
            &fixture.cache,
            &standard(),
            &PolicyBindings::parse(Some(&table)).unwrap(),
            &TrustPolicy::open(),
            &fixture.dir(),
        )
    };
    let err = load("\"federation.single-pool\" = \"advisory\"").unwrap_err();
    assert_eq!(
        err.to_string(),
        "rule `federation.single-pool` is hard and cannot be lowered to `advisory`: `[policies.levels]` may only raise it"
    );
    let gate = load("\"dns.ttl-lowered\" = \"hard\"").unwrap();
    assert_eq!(gate.levels()["dns.ttl-lowered"], Level::Hard);
    assert_eq!(gate.levels()["federation.single-pool"], Level::Hard);
}

/// The standard modules (0.2), and the test module built for
/// `failback:policy@0.1.0` bound from the environment.
fn gate_with_a_0_1_module(fixture: &Fixture) -> Gate {
    let bytes = std::fs::read(failback_guests::paths::FAILBACK_TEST_POLICY).unwrap();
    fixture.write("policies/old.wasm", &bytes);
    let table: toml::Table = toml::from_str(&format!(
        "[[modules]]\nname = \"old\"\npath = \"policies/old.wasm\"\nsha256 = \"{}\"\n",
        Digest::of(&bytes)
    ))
    .unwrap();
    Gate::load(
        &fixture.runtime,
        &fixture.cache,
        &standard(),
        &PolicyBindings::parse(Some(&table)).unwrap(),
        &TrustPolicy::open(),
        &fixture.dir(),
    )
    .unwrap()
}

/// edgepool1 routes through fepool2; `actions` each make one step, A14
/// moving the next hop home (with the draft), A3 publishing.
fn next_hop_trajectory(actions: &[Action]) -> (Deployment, Vec<Step>) {
    let (mut start, _) = enable_before_disable();
    start.edge_pools[0].next_hop = Some("fepool2.contoso.com".to_owned());
    let steps = actions
        .iter()
        .enumerate()
        .map(|(i, &action)| Step {
            index: i + 1,
            id: action.id().to_owned(),
            action,
            status: StepStatus::Planned,
            target: None,
            arguments: Default::default(),
            preconditions: Vec::new(),
            changes: match action {
                Action::RestoreNextHop => vec![
                    Change::NextHop {
                        edge_pool: "edgepool1.contoso.com".to_owned(),
                        next_hop: Some("fepool1.contoso.com".to_owned()),
                    },
                    Change::DraftPending { pending: true },
                ],
                _ => vec![
                    Change::TopologyVersion {
                        version: 2 + i as u64,
                    },
                    Change::DraftPending { pending: false },
                ],
            },
            summary: Vec::new(),
            verify: String::new(),
            operations: Vec::new(),
        })
        .collect();
    (start, steps)
}

/// What the 0.1 module reported: (state, action it was shown, changes).
fn next_hop_moves(findings: &[failback_core::plan::Finding]) -> Vec<(u32, String, String)> {
    findings
        .iter()
        .filter(|f| f.rule == "test.next-hop-moved")
        .map(|f| (f.state, f.values[2].clone(), f.values[3].clone()))
        .collect()
}

#[test]
fn a_module_built_for_0_1_sees_the_next_hop_restore_folded_into_the_publish_after_it() {
    let fixture = Fixture::new();
    let gate = gate_with_a_0_1_module(&fixture);
    let (start, steps) = next_hop_trajectory(&[
        Action::PublishTopology,
        Action::RestoreNextHop,
        Action::PublishTopology,
    ]);
    let findings = gate
        .check(&goal(), &start, &steps, &Overrides::default())
        .unwrap();
    // Never shown as another action: A14's two changes arrive with the
    // publish's two, on the publish's state (3, not the 0.1 module's 2).
    assert_eq!(
        next_hop_moves(&findings),
        [(
            3,
            "action=Action::PublishTopology".to_owned(),
            "changes=4".to_owned()
        )]
    );
}

#[test]
fn a_module_built_for_0_1_sees_a_trailing_next_hop_restore_with_the_step_before_it() {
    let fixture = Fixture::new();
    let gate = gate_with_a_0_1_module(&fixture);
    let (start, steps) = next_hop_trajectory(&[Action::PublishTopology, Action::RestoreNextHop]);
    let findings = gate
        .check(&goal(), &start, &steps, &Overrides::default())
        .unwrap();
    // The end state is the trajectory's end (2), reached by the step before.
    assert_eq!(
        next_hop_moves(&findings),
        [(
            2,
            "action=Action::PublishTopology".to_owned(),
            "changes=4".to_owned()
        )]
    );
}

#[test]
fn a_trajectory_of_only_a_next_hop_restore_is_refused_for_a_0_1_module_and_the_gate_keeps_judging()
{
    let fixture = Fixture::new();
    let gate = gate_with_a_0_1_module(&fixture);
    let (start, steps) = next_hop_trajectory(&[Action::RestoreNextHop]);
    let error = gate
        .check(&goal(), &start, &steps, &Overrides::default())
        .unwrap_err();
    assert_eq!(
        format!("{error}: {}", std::error::Error::source(&error).unwrap()),
        "policy module `old` cannot be given the trajectory: the module exports failback:policy@0.1.0, which has no `restore-next-hop` action, and the trajectory has no step of an action it has to show the changes with"
    );
    // The gate still judges a trajectory it can give every module.
    let (start, steps) = next_hop_trajectory(&[Action::RestoreNextHop, Action::PublishTopology]);
    let findings = gate
        .check(&goal(), &start, &steps, &Overrides::default())
        .unwrap();
    assert_eq!(next_hop_moves(&findings).len(), 1);
}
