//! A policy module that reads a file: its one rule's rationale comes from
//! `/rules.txt` when there is such a file. Built for `wasm32-wasip2` with std,
//! that imports `wasi:filesystem`, which the host never links for a policy
//! module (policies are pure). The runtime's tests check that loading refuses
//! it ("does not link") and that `plugin review` says "cannot link" for that
//! import, before anyone binds it.

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

struct FilesPolicy;

impl Guest for FilesPolicy {
    fn rules() -> Vec<RuleInfo> {
        let rationale = std::fs::read_to_string("/rules.txt").unwrap_or_else(|_| {
            "never fires; it reads a file to import wasi:filesystem".to_owned()
        });
        vec![RuleInfo {
            id: "files.quiet".to_owned(),
            family: "test".to_owned(),
            invariants: Vec::new(),
            scope: Scope::EveryState,
            rationale,
        }]
    }

    fn check(_goal: Goal, _start: State, _steps: Vec<Step>) -> Vec<Finding> {
        Vec::new()
    }
}

export!(FilesPolicy);
