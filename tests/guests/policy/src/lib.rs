//! A tiny policy module for the runtime's policy tests: one rule,
//! `test.single-federation`, that fires on the start state when more than one
//! Edge pool has federation enabled. The real policies live under `policies/`.

#![allow(
    unsafe_code,
    reason = "wit-bindgen's generated bindings and export macro are unsafe code"
)]

wit_bindgen::generate!({
    path: "../../../wit/policy",
    world: "failback:policy/policy",
});

use exports::failback::policy::rules::Guest;
use failback::policy::types::{Finding, Goal, RuleInfo, Scope, State, Step};

struct TestPolicy;

impl Guest for TestPolicy {
    fn rules() -> Vec<RuleInfo> {
        vec![RuleInfo {
            id: "test.single-federation".to_owned(),
            family: "federation".to_owned(),
            invariants: vec![1],
            scope: Scope::EveryState,
            rationale: "at most one Edge pool has federation enabled".to_owned(),
        }]
    }

    fn check(_goal: Goal, start: State, _steps: Vec<Step>) -> Vec<Finding> {
        let enabled: Vec<String> = start
            .edge_pools
            .iter()
            .filter(|pool| pool.federation_enabled)
            .map(|pool| format!("pool={}", pool.fqdn))
            .collect();
        if enabled.len() <= 1 {
            return Vec::new();
        }
        vec![Finding {
            rule: "test.single-federation".to_owned(),
            state: 0,
            message: format!("{} Edge pools have federation enabled", enabled.len()),
            values: enabled,
            hint: "clear federation on all but one Edge pool".to_owned(),
        }]
    }
}

export!(TestPolicy);
