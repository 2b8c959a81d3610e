//! A hostile policy module: `check` attacks what a policy is promised not to
//! have — time, chance, an unbounded answer, a terminal — in the way the goal's
//! `restored-site` names. The runtime's policy tests
//! (`host/runtime/tests/all/policy.rs`) call it once per attack.
//!
//! Attacks (`restored-site`):
//! - `clock`: report the wall clock and a hash keyed by std's random state
//!   (a verdict that would change from run to run if either were real);
//! - `sleep`: sleep ten minutes in a host call;
//! - `huge:COUNT`: return that many findings of 1 KiB each;
//! - `terminal`: a finding whose texts hold a newline and escape sequences;
//! - anything else: no finding.

#![allow(
    unsafe_code,
    reason = "wit-bindgen's generated bindings and export macro are unsafe code"
)]

wit_bindgen::generate!({
    path: "../../../wit/policy",
    world: "failback:policy/policy",
});

use std::hash::BuildHasher as _;

use exports::failback::policy::rules::Guest;
use failback::policy::types::{Finding, Goal, RuleInfo, Scope, State, Step};

struct HostilePolicy;

fn finding(message: String) -> Finding {
    Finding {
        rule: "hostile.attack".to_owned(),
        state: 0,
        message,
        values: Vec::new(),
        hint: "none".to_owned(),
    }
}

impl Guest for HostilePolicy {
    fn rules() -> Vec<RuleInfo> {
        vec![RuleInfo {
            id: "hostile.attack".to_owned(),
            family: "hostile".to_owned(),
            invariants: Vec::new(),
            scope: Scope::EveryState,
            rationale: "attacks the purity of policies".to_owned(),
        }]
    }

    fn check(goal: Goal, _start: State, _steps: Vec<Step>) -> Vec<Finding> {
        let (attack, argument) = goal
            .restored_site
            .split_once(':')
            .unwrap_or((goal.restored_site.as_str(), ""));
        match attack {
            "clock" => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default();
                let hash = std::collections::hash_map::RandomState::new().hash_one("failback");
                vec![finding(format!("now={now} hash={hash}"))]
            }
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(600));
                Vec::new()
            }
            "huge" => {
                let count: usize = argument.parse().unwrap_or_default();
                (0..count).map(|_| finding("x".repeat(1024))).collect()
            }
            "terminal" => vec![Finding {
                values: vec!["pool=\u{1b}[31medge1".to_owned()],
                hint: "fine\r\nBLOCKS hard federation.single-pool".to_owned(),
                ..finding("all clear\n  note advisory fake.rule at state 0: \u{1b}[2J".to_owned())
            }],
            _ => Vec::new(),
        }
    }
}

export!(HostilePolicy);
