//! A tiny policy module for the runtime's policy tests, built against the
//! frozen `failback:policy@0.1.0` (`wit/policy-0.1.0`): the host must keep
//! running a module built before 0.2. Two rules:
//! - `test.single-federation` fires on the start state when more than one Edge
//!   pool has federation enabled;
//! - `test.next-hop-moved` fires on each state where an Edge pool's next hop
//!   differs from the state before, naming the step's action as 0.1 names it:
//!   what shows how the host gives a 0.1 module a step whose action 0.1 does
//!   not have (A14 `restore-next-hop`, new in 0.2).
//!
//! The real policies live under `policies/`.

#![allow(
    unsafe_code,
    reason = "wit-bindgen's generated bindings and export macro are unsafe code"
)]

wit_bindgen::generate!({
    path: "../../../wit/policy-0.1.0",
    world: "failback:policy/policy@0.1.0",
});

use exports::failback::policy::rules::Guest;
use failback::policy::types::{Change, Finding, Goal, RuleInfo, Scope, State, Step};

struct TestPolicy;

impl Guest for TestPolicy {
    fn rules() -> Vec<RuleInfo> {
        vec![
            RuleInfo {
                id: "test.single-federation".to_owned(),
                family: "federation".to_owned(),
                invariants: vec![1],
                scope: Scope::EveryState,
                rationale: "at most one Edge pool has federation enabled".to_owned(),
            },
            RuleInfo {
                id: "test.next-hop-moved".to_owned(),
                family: "front-end".to_owned(),
                invariants: Vec::new(),
                scope: Scope::Transition,
                rationale: "reports each step that moves an Edge pool's next hop".to_owned(),
            },
        ]
    }

    fn check(_goal: Goal, start: State, steps: Vec<Step>) -> Vec<Finding> {
        let mut findings = Vec::new();
        let enabled: Vec<String> = start
            .edge_pools
            .iter()
            .filter(|pool| pool.federation_enabled)
            .map(|pool| format!("pool={}", pool.fqdn))
            .collect();
        if enabled.len() > 1 {
            findings.push(Finding {
                rule: "test.single-federation".to_owned(),
                state: 0,
                message: format!("{} Edge pools have federation enabled", enabled.len()),
                values: enabled,
                hint: "clear federation on all but one Edge pool".to_owned(),
            });
        }
        let mut next_hops: Vec<(String, Option<String>)> = start
            .edge_pools
            .iter()
            .map(|pool| (pool.fqdn.clone(), pool.next_hop.clone()))
            .collect();
        for (i, step) in steps.iter().enumerate() {
            for change in &step.changes {
                let Change::NextHop((fqdn, next_hop)) = change else {
                    continue;
                };
                let Some(pool) = next_hops.iter_mut().find(|(name, _)| name == fqdn) else {
                    continue;
                };
                if pool.1 == *next_hop {
                    continue;
                }
                pool.1.clone_from(next_hop);
                findings.push(Finding {
                    rule: "test.next-hop-moved".to_owned(),
                    state: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    message: format!("the next hop of {fqdn} moved"),
                    values: vec![
                        format!("edge-pool={fqdn}"),
                        format!("next-hop={}", next_hop.as_deref().unwrap_or("none")),
                        format!("action={:?}", step.action),
                        format!("changes={}", step.changes.len()),
                    ],
                    hint: "nothing to do".to_owned(),
                });
            }
        }
        findings
    }
}

export!(TestPolicy);
