//! Policy gate benchmarks (DESIGN §5): the policy check per transition on
//! generated 10-, 100- and 1,000-pool deployments and on the whole demo plan
//! (the `edge-failover` lab), through the standard WASM policy module (the real
//! `Gate`), beside the same rules run natively (`failback_policies::RULES`
//! through the SDK's engine) and the federation single-pool rule in Rego
//! (regorus). Results and the command are in BENCHMARKS.md, "Policy gate".
//!
//! Per transition: a trajectory of K steps on an N-pool deployment, each step
//! moving federation from one pool to the next and the SIP A record with it
//! (a DNS step, so every state rule runs on every state, none is skipped as
//! unchanged). The figure is (time(K) − time(0)) / K: time(0) is the call
//! with the start state and no steps (lowering the start state into the
//! module, the start state's rules); what each further step adds is the
//! transition's cost.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

#[path = "../tests/policy_support/mod.rs"]
mod policy_support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use failback_core::deployment::{Change, Deployment, RrSet};
use failback_core::lab::Scenario;
use failback_core::observed::{RecordData, RecordType};
use failback_core::plan::{Action, Goal, Step, StepStatus};
use failback_policy_sdk as sdk;
use failback_runtime::{Overrides, RuntimeOptions};
use policy_support::{generated, native};

/// Steps per trajectory for the per-transition figure.
const K: usize = 64;

/// The families, in the order of [`families`].
const FAMILIES: [&str; 5] = ["federation", "xmpp", "dns", "cms", "front-end"];

/// Every family's rules, natively: the standard module holds them all.
fn families() -> [&'static [sdk::Rule]; 5] {
    [
        failback_policy_federation::RULES,
        failback_policy_xmpp::RULES,
        failback_policy_dns::RULES,
        failback_policy_cms::RULES,
        failback_policy_front_end::RULES,
    ]
}

/// The federation single-pool rule (DESIGN §2 invariant 1) in Rego.
const SINGLE_POOL_REGO: &str = r#"
package failback.federation

import rego.v1

federated contains pool.fqdn if {
    some pool in input.edge_pools
    pool.federation_enabled
}

single_pool_violated if count(federated) > 1
"#;

/// A goal without final-state targets: the per-transition trajectories are
/// judged on their every-state and transition rules.
fn open_goal() -> Goal {
    Goal {
        restored_site: "Site0".to_owned(),
        federation_pool: None,
        xmpp_pool: None,
        media_edge_pool: None,
        cutover_ttl: 300,
        next_hop: None,
    }
}

/// `k` steps on `start` (from [`generated`]): step j moves federation from
/// pool j to pool j+1 (pool 1 holds it at the start) and the SIP A record to
/// that pool's IPs. Every state has one federated pool.
fn trajectory(start: &Deployment, k: usize) -> Vec<Step> {
    let n = start.edge_pools.len();
    (1..=k)
        .map(|j| {
            let from = &start.edge_pools[j % n];
            let to = &start.edge_pools[(j + 1) % n];
            Step {
                index: j,
                id: Action::SetFederationEdge.id().to_owned(),
                action: Action::SetFederationEdge,
                status: StepStatus::Planned,
                target: Some(to.fqdn.clone()),
                arguments: Default::default(),
                preconditions: Vec::new(),
                summary: Vec::new(),
                changes: vec![
                    Change::Federation {
                        edge_pool: from.fqdn.clone(),
                        enabled: false,
                    },
                    Change::Federation {
                        edge_pool: to.fqdn.clone(),
                        enabled: true,
                    },
                    Change::Rrset(RrSet {
                        name: format!("sip.{}", start.zone),
                        rtype: RecordType::A,
                        ttl: 300,
                        data: to
                            .access_edge_ips
                            .iter()
                            .cloned()
                            .map(RecordData::A)
                            .collect(),
                    }),
                ],
                verify: String::new(),
                operations: Vec::new(),
            }
        })
        .collect()
}

/// `FAILBACK_BENCH_COUNT=ENGINE:N:K:I` (ENGINE `native` or `wasm`): run the
/// check of a K-step trajectory on N pools I times and return, without
/// criterion, so that an instruction counter (`valgrind --tool=callgrind`)
/// gives a figure the machine's load does not move: per transition,
/// (count(K) − count(0)) / (K × I).
///
/// `wasm` runs the real gate with two instance slots (the default pooling
/// allocator reserves more address space than valgrind gives) and compiles
/// into the cache `FAILBACK_BENCH_CACHE` names, so that a counted run loads
/// the modules instead of compiling them under the counter: run it once
/// without the counter first.
fn count(spec: &str) {
    let (engine, numbers) = spec
        .split_once(':')
        .expect("FAILBACK_BENCH_COUNT is ENGINE:N:K:I");
    let numbers: Vec<usize> = numbers
        .split(':')
        .map(|n| n.parse().expect("FAILBACK_BENCH_COUNT is ENGINE:N:K:I"))
        .collect();
    let [n, k, iterations] = numbers[..] else {
        panic!("FAILBACK_BENCH_COUNT is ENGINE:N:K:I, not `{spec}`");
    };
    let deployment = generated(n);
    let trajectory = trajectory(&deployment, k);
    match engine {
        "native" => {
            let goal = native::goal(&open_goal());
            let steps = native::steps(&trajectory);
            let start = native::state(&deployment);
            for _ in 0..iterations {
                black_box(
                    sdk::check(
                        &failback_policies::RULES,
                        goal.clone(),
                        start.clone(),
                        steps.clone(),
                    )
                    .len(),
                );
            }
        }
        "wasm" => {
            let cache = std::env::var_os("FAILBACK_BENCH_CACHE")
                .expect("FAILBACK_BENCH_CACHE names the cache a wasm count compiles into");
            let options = RuntimeOptions {
                max_instances: 2,
                ..RuntimeOptions::default()
            };
            let lab = policy_support::open_with(
                Scenario::EdgeFailover,
                options,
                Some(std::path::Path::new(&cache)),
            );
            let goal = open_goal();
            let none = Overrides::default();
            for _ in 0..iterations {
                black_box(
                    lab.gate
                        .check(&goal, &deployment, &trajectory, &none)
                        .unwrap(),
                );
            }
        }
        other => panic!("FAILBACK_BENCH_COUNT's engine is `native` or `wasm`, not `{other}`"),
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

fn benches(c: &mut Criterion) {
    if let Ok(spec) = std::env::var("FAILBACK_BENCH_COUNT") {
        count(&spec);
        return;
    }
    let lab = policy_support::open(Scenario::EdgeFailover);
    let gate = &lab.gate;
    let none = Overrides::default();

    // The whole demo plan, every rule.
    {
        let plan = &lab.plan;
        let findings = gate
            .check(&plan.goal, &plan.start, &plan.steps, &none)
            .unwrap();
        assert!(findings.is_empty(), "the demo plan passes: {findings:?}");
        let mut group = c.benchmark_group("policy/demo-plan");
        group.bench_function("wasm", |b| {
            b.iter(|| {
                gate.check(&plan.goal, black_box(&plan.start), &plan.steps, &none)
                    .unwrap()
            });
        });
        let goal = native::goal(&plan.goal);
        let start = native::state(&plan.start);
        let steps = native::steps(&plan.steps);
        group.bench_function("native", |b| {
            b.iter(|| {
                sdk::check(
                    &failback_policies::RULES,
                    goal.clone(),
                    black_box(start.clone()),
                    steps.clone(),
                )
                .len()
            });
        });
        group.finish();
    }

    // Per transition on generated deployments.
    for n in [10, 100, 1_000] {
        let start = generated(n);
        let goal = open_goal();
        let steps = trajectory(&start, K);
        let findings = gate.check(&goal, &start, &steps, &none).unwrap();
        assert!(
            findings.is_empty(),
            "the generated trajectory is clean: {findings:?}"
        );
        let mut group = c.benchmark_group(format!("policy/{n}-pools"));
        for k in [0, K] {
            let steps = &steps[..k];
            group.bench_with_input(BenchmarkId::new("wasm", k), &k, |b, _| {
                b.iter(|| gate.check(&goal, black_box(&start), steps, &none).unwrap());
            });
            let n_goal = native::goal(&goal);
            let n_start = native::state(&start);
            let n_steps = native::steps(steps);
            group.bench_with_input(BenchmarkId::new("native", k), &k, |b, _| {
                b.iter(|| {
                    sdk::check(
                        &failback_policies::RULES,
                        n_goal.clone(),
                        black_box(n_start.clone()),
                        n_steps.clone(),
                    )
                    .len()
                });
            });
            // Each family alone, natively, at 1,000 pools: where the time goes.
            if n == 1_000 {
                for (name, rules) in FAMILIES.iter().zip(families()) {
                    group.bench_with_input(
                        BenchmarkId::new(format!("native-{name}"), k),
                        &k,
                        |b, _| {
                            b.iter(|| {
                                sdk::check(
                                    rules,
                                    n_goal.clone(),
                                    black_box(n_start.clone()),
                                    n_steps.clone(),
                                )
                                .len()
                            });
                        },
                    );
                }
            }
            // The single-pool rule alone, natively: the Rego comparison.
            group.bench_with_input(BenchmarkId::new("native-single-pool", k), &k, |b, _| {
                b.iter(|| {
                    sdk::check(
                        &[failback_policy_federation::SINGLE_POOL],
                        n_goal.clone(),
                        black_box(n_start.clone()),
                        n_steps.clone(),
                    )
                    .len()
                });
            });
        }
        // Rego: the single-pool rule on each state of the trajectory (the
        // start and K states after it), each state's input built beforehand
        // (serde JSON of the state, parsed into a regorus value).
        let mut states = vec![start.clone()];
        for step in &steps {
            let next = states.last().unwrap().after(&step.changes).unwrap();
            states.push(next);
        }
        let inputs: Vec<regorus::Value> = states
            .iter()
            .map(|s| regorus::Value::from_json_str(&serde_json::to_string(s).unwrap()).unwrap())
            .collect();
        let mut engine = regorus::Engine::new();
        engine
            .add_policy("single_pool.rego".to_owned(), SINGLE_POOL_REGO.to_owned())
            .unwrap();
        // The rule fires on two federated pools (so "undefined" below means
        // it holds, not that it never evaluates).
        let mut two = start.clone();
        two.apply(&Change::Federation {
            edge_pool: start.edge_pools[0].fqdn.clone(),
            enabled: true,
        })
        .unwrap();
        engine.set_input(
            regorus::Value::from_json_str(&serde_json::to_string(&two).unwrap()).unwrap(),
        );
        assert_eq!(
            engine
                .eval_rule("data.failback.federation.single_pool_violated".to_owned())
                .unwrap(),
            regorus::Value::from(true)
        );
        for input in &inputs {
            engine.set_input(input.clone());
            let v = engine
                .eval_rule("data.failback.federation.single_pool_violated".to_owned())
                .unwrap();
            assert_eq!(v, regorus::Value::Undefined, "one federated pool");
        }
        for k in [0, K] {
            group.bench_with_input(BenchmarkId::new("rego-single-pool", k), &k, |b, _| {
                b.iter(|| {
                    for input in &inputs[..=k] {
                        engine.set_input(black_box(input.clone()));
                        black_box(
                            engine
                                .eval_rule(
                                    "data.failback.federation.single_pool_violated".to_owned(),
                                )
                                .unwrap(),
                        );
                    }
                });
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = policy;
    config = config();
    targets = benches
}
criterion_main!(policy);
