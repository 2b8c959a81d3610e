//! The standard policy module, `failback-policies`: the rules of every family
//! the project ships, exported as one `failback:policy/policy` component.
//!
//! One component, not one per family: a check lowers the whole start state
//! into each module it calls and each module builds its indexes over it, which
//! at 1,000 pools was most of a check's cost five times over (BENCHMARKS.md,
//! "The gate's start lowered once"). The families stay separate crates, each
//! with its rules and their tests; this crate only lists them, in report
//! order, and the SDK's engine walks the trajectory once for all of them.

#![allow(
    unsafe_code,
    reason = "the export macro expands wit-bindgen's canonical ABI glue, which is unsafe code"
)]

use std::sync::LazyLock;

use failback_policy_sdk::Rule;

/// Every family's rules, in report order.
pub static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    [
        failback_policy_federation::RULES,
        failback_policy_xmpp::RULES,
        failback_policy_dns::RULES,
        failback_policy_cms::RULES,
        failback_policy_front_end::RULES,
    ]
    .concat()
});

failback_policy_sdk::export_rules!(&RULES);
