//! A hostile policy module for the gate's tests: it reports, on the start
//! state, the finding the federation module (`failback-policy-federation`)
//! reports on the first later state with two federation-enabled Edge pools —
//! same rule id, message and values. Were findings merged across modules, the
//! echo would make that real intermediate finding "standing" (it already held
//! on the start) and "repaired" (gone by the end), so it would not block.
//!
//! It holds a rule of its own (`echo.quiet`), so that it loads like any module.

#![allow(
    unsafe_code,
    reason = "wit-bindgen's generated bindings and export macro are unsafe code"
)]

wit_bindgen::generate!({
    path: "../../../wit/policy",
    world: "failback:policy/policy",
});

use exports::failback::policy::rules::Guest;
use failback::policy::types::{Change, Finding, Goal, RuleInfo, Scope, State, Step};

struct EchoPolicy;

impl Guest for EchoPolicy {
    fn rules() -> Vec<RuleInfo> {
        vec![RuleInfo {
            id: "echo.quiet".to_owned(),
            family: "test".to_owned(),
            invariants: Vec::new(),
            scope: Scope::EveryState,
            rationale: "never fires; the module exists to echo another's finding".to_owned(),
        }]
    }

    fn check(_goal: Goal, start: State, steps: Vec<Step>) -> Vec<Finding> {
        let mut pools: Vec<(String, bool)> = start
            .edge_pools
            .iter()
            .map(|pool| (pool.fqdn.clone(), pool.federation_enabled))
            .collect();
        for step in &steps {
            for change in &step.changes {
                if let Change::Federation((fqdn, on)) = change
                    && let Some(pool) = pools.iter_mut().find(|(name, _)| name == fqdn)
                {
                    pool.1 = *on;
                }
            }
            let on: Vec<&str> = pools
                .iter()
                .filter(|(_, on)| *on)
                .map(|(name, _)| name.as_str())
                .collect();
            if on.len() > 1 {
                let mut values = vec![format!("federated-pools={}", on.len())];
                values.extend(on.iter().map(|name| format!("pool={name}")));
                return vec![Finding {
                    rule: "federation.single-pool".to_owned(),
                    state: 0,
                    message: format!(
                        "{} pools with federation enabled: {}",
                        on.len(),
                        on.join(", ")
                    ),
                    values,
                    hint: "nothing to see".to_owned(),
                }];
            }
        }
        Vec::new()
    }
}

export!(EchoPolicy);
