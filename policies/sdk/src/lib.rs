//! The crate a policy module depends on: the bindings of the WIT world
//! `failback:policy/policy@0.2.0`, an evaluation engine that walks a plan's
//! trajectory, and a small API that makes a rule a few readable lines.
//!
//! A module lists its [`Rule`]s and exports them; the engine answers the
//! world's `rules()` and `check(goal, start, steps)`:
//!
//! ```
//! use failback_policy_sdk::{Ctx, Reads, Rule, Scope, Violation, join};
//!
//! /// DESIGN §2 invariant 1: at most one Edge pool has federation enabled.
//! pub const SINGLE_POOL: Rule = Rule {
//!     id: "federation.single-pool",
//!     family: "federation",
//!     invariants: &[1],
//!     scope: Scope::EveryState,
//!     reads: Reads::FEDERATION,
//!     rationale: "two federated Edge pools split outbound federation",
//!     check: |ctx: &Ctx<'_>| {
//!         let pools = ctx.federated_pools();
//!         if pools.len() <= 1 {
//!             return Vec::new();
//!         }
//!         let names: Vec<&str> = pools.iter().map(|p| p.fqdn.as_str()).collect();
//!         vec![Violation::new(format!(
//!             "{} pools with federation enabled: {}", pools.len(), join(&names)
//!         ))
//!         .value("count", pools.len())
//!         .hint("enable federation on one pool only")]
//!     },
//! };
//!
//! pub static RULES: &[Rule] = &[SINGLE_POOL];
//! // In the module's cdylib crate: failback_policy_sdk::export_rules!(RULES);
//! ```
//!
//! A rule runs where its [`Scope`] says: on every state, on each transition,
//! on the final state, or — for rules that compare DNS with routing, which
//! the runbook moves in separate steps — on the start, after each DNS step
//! and at the end ([`Scope::RestOrDnsStep`], reported as `every-state`). A
//! module that lists [`UNKNOWN_OBJECT`] reports changes naming objects the
//! state does not hold (the standard module does, through the federation
//! family's rules; see `docs/policies.md`).
//!
//! The modules are built for `wasm32-wasip2` and get no WASI capability; they
//! also compile natively, so their rules are tested with `cargo test` against
//! the states of [`testing`]. [`reference`] holds plain-Rust versions of
//! invariants for the host's property tests.

#![allow(
    unsafe_code,
    reason = "wit-bindgen's generated bindings convert between the canonical ABI and Rust with unsafe code"
)]

/// Bindings of the `policy` world.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/policy",
        world: "policy",
        pub_export_macro: true,
        export_macro_name: "export_policy",
        default_bindings_module: "failback_policy_sdk::bindings",
        additional_derives: [PartialEq, Eq],
    });
}

mod engine;
mod reads;
pub mod reference;
pub mod routes;
mod rule;
pub mod testing;
#[cfg(test)]
mod tests;
mod transition;
mod world;

pub use bindings::exports::failback::policy::rules::Guest;
/// The WIT `scope` a rule is reported with (see [`Scope::wit`]).
pub use bindings::failback::policy::types::Scope as WitScope;
pub use bindings::failback::policy::types::{
    Action, Change, EdgeMachine, EdgePool, Finding, FrontEndPool, Goal, NextHopGoal, PoolState,
    RecordData, RecordType, RouteChange, RouteKind, Rrset, RuleInfo, Site, SrvData, State, Step,
};
pub use engine::{UNKNOWN_OBJECT, check, rule_infos};
pub use failback_transition::{UnknownObject, name_key, same_name};
pub use reads::{Reads, edge_identity, identity_fqdn, route_name, route_of};
pub use rule::{Ctx, RouteProblem, Rule, Scope, Violation, join};
pub use world::World;

/// Export `rules` (a `&'static [Rule]`) as the module's `failback:policy/rules`
/// interface. Use once, in the module's `cdylib` crate (which needs
/// `#![allow(unsafe_code)]` for the generated export glue).
#[macro_export]
macro_rules! export_rules {
    ($rules:expr) => {
        #[doc(hidden)]
        #[derive(Debug)]
        pub struct FailbackPolicy;

        impl $crate::Guest for FailbackPolicy {
            fn rules() -> ::std::vec::Vec<$crate::RuleInfo> {
                $crate::rule_infos($rules)
            }

            fn check(
                goal: $crate::Goal,
                start: $crate::State,
                steps: ::std::vec::Vec<$crate::Step>,
            ) -> ::std::vec::Vec<$crate::Finding> {
                $crate::check($rules, goal, start, steps)
            }
        }

        // Only a WASM component exports the interface. Natively (the module's
        // tests, the host's benchmarks running its `RULES`) there is no
        // component to export from, and the export symbols' names (with `:`)
        // cannot link into a native shared library, nor several modules' into
        // one binary.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export_policy!(FailbackPolicy with_types_in $crate::bindings);
    };
}
