//! Policy modules: WASM components of world `failback:policy/policy@0.1.0` that
//! veto unsafe transitions. They are pure: they link against the policy imports
//! only (`crate::call::link_policy`: no files, no sockets, no `host`), their
//! context holds no environment, arguments or configuration, and its clocks and
//! random numbers are fixed, so that a verdict cannot depend on time or chance.
//! Each call runs in a fresh store with the module's memory and time limits,
//! like a plugin call, and what a module returns is bounded before it is lifted.
//! The texts of its findings are escaped ([`failback_core::text::printable`])
//! before anyone reads them.
//!
//! The typed calls take and return the bindgen types of the policy package
//! ([`types`]); the policy gate converts the core model to them.

use std::fmt;

use failback_core::text::printable;

use wasmtime::component::InstancePre;

use crate::call::{CallError, CallState, Guest};
use crate::digest::Digest;
use crate::engine::LoadError;
use crate::wit::v0_1_0::policy;

/// The types of `failback:policy/types@0.1.0`.
pub use crate::wit::v0_1_0::policy::failback::policy::types;

/// A loaded policy module.
#[derive(Clone)]
pub struct PolicyModule {
    guest: Guest,
    pre: policy::PolicyPre<CallState>,
}

impl fmt::Debug for PolicyModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyModule")
            .field("guest", &self.guest)
            .finish_non_exhaustive()
    }
}

impl PolicyModule {
    pub(crate) fn new(guest: Guest, pre: InstancePre<CallState>) -> Result<Self, LoadError> {
        let pre = policy::PolicyPre::new(pre).map_err(|e| LoadError::Link {
            plugin: guest.name.to_string(),
            message: format!("{e:#}"),
        })?;
        Ok(Self { guest, pre })
    }

    /// The module's name, as it was loaded.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.guest.name
    }

    /// The component's sha256.
    #[must_use]
    pub fn digest(&self) -> Digest {
        self.guest.digest
    }

    /// Who vouches for the module ([`crate::trust`]).
    #[must_use]
    pub fn signer(&self) -> &crate::trust::Signer {
        &self.guest.signer
    }

    /// `rules.rules`: the rules this module holds.
    pub fn rules(&self) -> Result<Vec<types::RuleInfo>, CallError> {
        self.guest.call(
            "rules.rules",
            async |store| self.pre.instantiate_async(store).await,
            async |bindings, store| {
                bindings
                    .failback_policy_rules()
                    .call_rules(store)
                    .await
                    .map(Ok)
            },
            |rules| rules.into_iter().map(printable_rule).collect(),
        )
    }

    /// `rules.check`: every finding on the trajectory `start`, then `steps`.
    pub fn check(
        &self,
        goal: &types::Goal,
        start: &types::State,
        steps: &[types::Step],
    ) -> Result<Vec<types::Finding>, CallError> {
        self.guest.call(
            "rules.check",
            async |store| self.pre.instantiate_async(store).await,
            async |bindings, store| {
                bindings
                    .failback_policy_rules()
                    .call_check(store, goal, start, steps)
                    .await
                    .map(Ok)
            },
            |findings| findings.into_iter().map(printable_finding).collect(),
        )
    }
}

fn escaped(text: String) -> String {
    printable(&text).into_owned()
}

fn printable_rule(rule: types::RuleInfo) -> types::RuleInfo {
    types::RuleInfo {
        id: escaped(rule.id),
        family: escaped(rule.family),
        rationale: escaped(rule.rationale),
        ..rule
    }
}

fn printable_finding(finding: types::Finding) -> types::Finding {
    types::Finding {
        rule: escaped(finding.rule),
        message: escaped(finding.message),
        values: finding.values.into_iter().map(escaped).collect(),
        hint: escaped(finding.hint),
        ..finding
    }
}
