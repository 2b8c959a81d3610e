//! A session: one environment opened, its plugins and policies loaded — and
//! what is done with them before anything runs: observe the deployment, make
//! and judge a plan ([`Session::plan`]), tell whether a saved plan is still
//! the plan of the deployment now ([`Session::freshness`]), and verify a
//! deployment against every invariant ([`verify`]).
//!
//! The CLI opens the session (it turns paths into capabilities and loads the
//! plugins and policy modules through [`crate::Runtime`]), then only parses
//! arguments and renders what comes back. Running a plan is the apply
//! engine's ([`crate::run::apply`]), with the session's plugins and gate.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use failback_core::deployment::{AssembleError, Snapshot, assemble_read};
use failback_core::diff::{FieldDiff, diff};
use failback_core::document::{self, DocumentError};
use failback_core::intent::{
    DEFAULT_CUTOVER_TTL, FailedOverFrom, Intent, IntentError, IntentFlags,
};
use failback_core::observed::Observation;
use failback_core::plan::{
    Finding, Goal, Level, Override, Plan, PlanError, PluginDigest, Provenance,
};

use crate::approval::ApprovalPolicy;
use crate::bindings::plugin::PluginSet;
use crate::digest::Digest;
use crate::environment::Environment;
use crate::judgment::gate::{Gate, GateError, Overrides};
use crate::judgment::observe::{ObserveError, observe_read};

/// An environment opened: what it binds, loaded and checked.
#[derive(Debug)]
pub struct Session {
    pub environment: Environment,
    /// The sha256 of the environment file's bytes, as they were loaded.
    pub environment_sha256: Digest,
    pub plugins: PluginSet,
    pub gate: Gate,
    /// Who must approve a saved plan before it is applied (`[approvals]`).
    pub approvals: ApprovalPolicy,
}

/// Why a session could not observe, plan or judge.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot observe the deployment")]
    Observe(#[source] ObserveError),
    #[error("the observed deployment is not consistent")]
    Assemble(#[source] AssembleError),
    #[error(transparent)]
    Intent(#[from] IntentError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error(transparent)]
    Document(#[from] DocumentError),
}

/// Whether a saved plan is the plan of the deployment now.
#[derive(Debug)]
pub struct Freshness {
    /// The plan made now: equal to the saved one when `stale` is empty.
    pub derived: Plan,
    /// Why the saved plan is not the one made now: the deployment changed,
    /// a component changed, or (neither) the first difference. Empty when it
    /// is the same plan.
    pub stale: Vec<Stale>,
}

impl Freshness {
    /// The reasons as the operator reads them, one line each (a changed
    /// deployment's fields indented under it).
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for reason in &self.stale {
            match reason {
                Stale::Deployment { changes, .. } => {
                    lines.push(reason.to_string());
                    lines.extend(changes.iter().map(|d| format!("  {}", d.as_change())));
                }
                Stale::Component(_) | Stale::Document { .. } => lines.push(reason.to_string()),
            }
        }
        lines
    }
}

/// Why a saved plan is not the plan made now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// The deployment changed since the plan was made, or since the state it
    /// was made from (`captured`, observed at that time) was observed.
    Deployment {
        captured: Option<String>,
        changes: Vec<FieldDiff>,
    },
    /// A component the plan was made and judged with changed.
    Component(Changed),
    /// Same deployment and components, yet another document: where the two
    /// first differ.
    Document { at: String },
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Deployment {
                captured: Some(observed_at),
                ..
            } => write!(
                f,
                "the deployment changed since the state the plan was made from was observed ({observed_at}):"
            ),
            Self::Deployment { captured: None, .. } => {
                f.write_str("the deployment changed since the plan was made:")
            }
            Self::Component(changed) => changed.fmt(f),
            Self::Document { at } => write!(
                f,
                "it is not the plan made from it now: at {at} (saved, then re-derived)"
            ),
        }
    }
}

/// A component a plan was made with that differs now: `then` and `now` are
/// its sha256 (or level), `None` where it was not there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// The environment file.
    Environment {
        then: Option<String>,
        now: Option<String>,
    },
    /// A policy module, by name.
    Policy {
        name: String,
        then: Option<String>,
        now: Option<String>,
    },
    /// The plugin bound to a kind.
    Plugin {
        kind: String,
        then: Option<PluginDigest>,
        now: Option<PluginDigest>,
    },
    /// A rule's level.
    Level {
        rule: String,
        then: Option<Level>,
        now: Option<Level>,
    },
}

impl fmt::Display for Changed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment { then, now } => write!(
                f,
                "the environment file changed: sha256 {} then, {} now",
                then.as_deref().unwrap_or("(none)"),
                now.as_deref().unwrap_or("(none)")
            ),
            Self::Policy { name, then, now } => match (then, now) {
                (Some(a), Some(b)) => {
                    write!(
                        f,
                        "policy module `{name}` changed: sha256 {a} then, {b} now"
                    )
                }
                (Some(_), None) => write!(f, "policy module `{name}` is no longer loaded"),
                (None, _) => write!(f, "policy module `{name}` was not loaded then"),
            },
            Self::Plugin { kind, then, now } => match (then, now) {
                (Some(a), Some(b)) => write!(
                    f,
                    "the `{kind}` plugin changed: `{}` sha256 {} then, `{}` sha256 {} now",
                    a.name, a.sha256, b.name, b.sha256
                ),
                (Some(a), None) => write!(f, "the `{kind}` plugin `{}` is no longer bound", a.name),
                (None, Some(b)) => write!(f, "the `{kind}` plugin `{}` was not bound then", b.name),
                (None, None) => write!(f, "the `{kind}` plugin changed"),
            },
            Self::Level { rule, then, now } => match (then, now) {
                (Some(a), Some(b)) => write!(
                    f,
                    "rule `{rule}` changed level: {} then, {} now",
                    a.name(),
                    b.name()
                ),
                (Some(_), None) => write!(f, "rule `{rule}` is no longer held"),
                (None, _) => write!(f, "rule `{rule}` was not held then"),
            },
        }
    }
}

impl Session {
    /// Observe the deployment now, through the plugins.
    ///
    /// # Errors
    /// A plugin call failed, or what the plugins report is not consistent.
    pub fn observe(&self) -> Result<Snapshot, SessionError> {
        Ok(self.capture()?.1)
    }

    /// Observe the deployment now and write it down: the raw observation,
    /// and the snapshot it checks into (so that a state that cannot be
    /// planned is never captured).
    ///
    /// # Errors
    /// As [`Session::observe`].
    pub fn capture(&self) -> Result<(Observation, Snapshot), SessionError> {
        let (observation, topology) =
            observe_read(&self.plugins, &self.environment.zone).map_err(SessionError::Observe)?;
        let snapshot = assemble_read(&observation, topology).map_err(SessionError::Assemble)?;
        Ok((observation, snapshot))
    }

    /// Observe the deployment, plan `flags` from it, and judge the plan's
    /// trajectory with the session's policies. A plan over an unfinished run
    /// inherits the TTLs that run lowered (`intent.inherited_ttls`, which
    /// the caller sets from the journal), because it cannot observe them; a
    /// failback after a finished failover (`failed_over`, from the journal)
    /// aims at the home it moved federation from ([`Intent::resolve_after`]).
    ///
    /// # Errors
    /// The deployment cannot be observed, the intent does not fit it, the
    /// planner refuses, or the gate cannot judge.
    pub fn plan(
        &self,
        flags: &IntentFlags,
        inherited: &[failback_core::intent::RecordTtl],
        failed_over: Option<&FailedOverFrom>,
        overrides: &Overrides,
    ) -> Result<Plan, SessionError> {
        let snapshot = self.observe()?;
        let mut intent = Intent::resolve_after(flags, &snapshot.deployment, failed_over)?;
        if !inherited.is_empty() {
            inherited.clone_into(&mut intent.inherited_ttls);
        }
        derive(&self.gate, self.provenance(), &snapshot, &intent, overrides)
    }

    /// Re-derive the saved plan now — from the observed start, its intent and
    /// overrides (and `added`, the overrides given now), with the plugins,
    /// policies and levels bound now — and compare the two documents.
    ///
    /// # Errors
    /// The deployment cannot be observed, or the plan cannot be made now.
    pub fn freshness(&self, saved: &Plan, added: &Overrides) -> Result<Freshness, SessionError> {
        let snapshot = self.observe()?;
        let mut overrides: BTreeMap<String, String> = saved
            .overrides
            .iter()
            .map(|o| (o.rule.clone(), o.reason.clone()))
            .collect();
        overrides.extend(added.0.clone());
        let mut derived = derive(
            &self.gate,
            self.provenance(),
            &snapshot,
            &saved.intent,
            &Overrides(overrides),
        )?;
        // A plan made from a captured state (`plan --from`) is the plan of
        // the live deployment when that deployment is still the captured one
        // and the plugins bound now are the ones that observed it: the same
        // document then, but for the state it names.
        if let Some(captured) = &saved.provenance.captured {
            derived.provenance.captured = Some(captured.clone());
            derived.seal()?;
        }
        let mut stale = Vec::new();
        if derived.digest == saved.digest {
            return Ok(Freshness { derived, stale });
        }
        if saved.start != derived.start {
            stale.push(Stale::Deployment {
                captured: saved
                    .provenance
                    .captured
                    .as_ref()
                    .map(|c| c.observed_at.clone()),
                changes: diff(&saved.start, &derived.start),
            });
        }
        stale.extend(
            changed_components(&saved.provenance, &derived.provenance)
                .into_iter()
                .map(Stale::Component),
        );
        if stale.is_empty()
            && let Some(d) = document::first_difference(saved, &derived)
        {
            stale.push(Stale::Document { at: d.to_string() });
        }
        Ok(Freshness { derived, stale })
    }

    /// What plans are made and judged with now: the environment file, the
    /// plugins, the policy modules and every rule's level.
    #[must_use]
    pub fn provenance(&self) -> Provenance {
        let bound = self
            .plugins
            .each()
            .into_iter()
            .map(|plugin| {
                let digest = PluginDigest {
                    name: plugin.name().to_owned(),
                    sha256: plugin.digest().to_string(),
                };
                (plugin.kind().to_string(), digest)
            })
            .collect();
        Provenance {
            environment: Some(self.environment_sha256.to_string()),
            plugins: bound,
            ..gate_provenance(&self.gate)
        }
    }
}

/// The plan of `intent` from `snapshot`, judged with `gate` and `overrides`,
/// with `provenance`, sealed with its digest: what `plan` prints and what
/// [`Session::freshness`] re-derives to compare.
///
/// # Errors
/// The planner refuses, the gate cannot judge (an override it does not
/// allow included), or the plan cannot be sealed.
pub fn derive(
    gate: &Gate,
    provenance: Provenance,
    snapshot: &Snapshot,
    intent: &Intent,
    overrides: &Overrides,
) -> Result<Plan, SessionError> {
    let mut plan = failback_core::plan::plan(snapshot, intent)?;
    plan.overrides = overrides
        .0
        .iter()
        .map(|(rule, reason)| Override {
            rule: rule.clone(),
            reason: reason.clone(),
        })
        .collect();
    plan.findings = gate.check(&plan.goal, &plan.start, &plan.steps, overrides)?;
    plan.provenance = provenance;
    plan.seal()?;
    Ok(plan)
}

/// What plans are judged with: each policy module's sha256 and every rule's
/// level.
#[must_use]
pub fn gate_provenance(gate: &Gate) -> Provenance {
    Provenance {
        policies: gate
            .digests()
            .into_iter()
            .map(|(name, digest)| (name, digest.to_string()))
            .collect(),
        levels: gate.levels(),
        ..Provenance::default()
    }
}

/// What differs between what `then` was made with and `now`: the environment
/// file, the policy modules, the plugins and the rules' levels.
#[must_use]
pub fn changed_components(then: &Provenance, now: &Provenance) -> Vec<Changed> {
    let mut out = Vec::new();
    if then.environment != now.environment {
        out.push(Changed::Environment {
            then: then.environment.clone(),
            now: now.environment.clone(),
        });
    }
    out.extend(changed(&then.policies, &now.policies, |name, then, now| {
        Changed::Policy { name, then, now }
    }));
    out.extend(changed(&then.plugins, &now.plugins, |kind, then, now| {
        Changed::Plugin { kind, then, now }
    }));
    out.extend(changed(&then.levels, &now.levels, |rule, then, now| {
        Changed::Level { rule, then, now }
    }));
    out
}

/// Each key whose value differs between `then` and `now` (or is in one only).
fn changed<V: Clone + PartialEq>(
    then: &BTreeMap<String, V>,
    now: &BTreeMap<String, V>,
    change: impl Fn(String, Option<V>, Option<V>) -> Changed,
) -> Vec<Changed> {
    keys(then, now)
        .into_iter()
        .filter(|key| then.get(*key) != now.get(*key))
        .map(|key| change(key.clone(), then.get(key).cloned(), now.get(key).cloned()))
        .collect()
}

/// The keys of two maps, each once, in order.
fn keys<'m, V>(a: &'m BTreeMap<String, V>, b: &'m BTreeMap<String, V>) -> BTreeSet<&'m String> {
    a.keys().chain(b.keys()).collect()
}

/// A deployment verified: the findings of every invariant on it.
#[derive(Debug)]
pub struct Verification {
    /// The failback the goal invariants were judged against, when known.
    pub intent: Option<Intent>,
    /// Its goal: where the failback ends (empty when the intent is unknown).
    pub goal: Goal,
    pub findings: Vec<Finding>,
    /// The goal invariants left unevaluated, and why.
    pub not_evaluated: Option<NotEvaluated>,
}

impl Verification {
    /// Whether a blocking finding stands.
    #[must_use]
    pub fn blocked(&self) -> bool {
        self.findings.iter().any(|f| f.blocking)
    }
}

/// The goal invariants left unevaluated, and why.
#[derive(Debug)]
pub struct NotEvaluated {
    pub rules: Vec<String>,
    pub reason: String,
}

/// Every invariant on `snapshot`, judged by `gate`. The safety invariants
/// are checked whatever the goal. The goal invariants (the final-state
/// rules) need the goal — the pool everything fails back to — which comes
/// from `flags.to`, or the last finished failover of the deployment
/// (`failed_over`, from the journal), or is inferred from the state; when it
/// cannot be inferred (two pools with federation, say: exactly when verify is
/// needed; or everything on one site's pool while another site's own pool
/// runs), they are reported as not evaluated, naming why and `--to`, and the
/// safety invariants are still checked. Only the observed state is checked; it is both the start
/// and the end.
///
/// # Errors
/// A `--to` the deployment does not have, the planner refuses the goal, or
/// the gate cannot judge.
pub fn verify(
    gate: &Gate,
    snapshot: &Snapshot,
    flags: &IntentFlags,
    failed_over: Option<&FailedOverFrom>,
    overrides: &Overrides,
) -> Result<Verification, SessionError> {
    let resolved = Intent::resolve_after(flags, &snapshot.deployment, failed_over);
    let (intent, goal, not_evaluated) = match resolved {
        Ok(intent) => {
            let goal = failback_core::plan::plan(snapshot, &intent)?.goal;
            (Some(intent), goal, None)
        }
        // Without `--to`, an intent that cannot be inferred leaves the goal
        // unknown; a `--to` the deployment does not have is an error.
        Err(e @ (IntentError::Ambiguous { .. } | IntentError::HomeUnknown { .. }))
            if flags.to.is_none() =>
        {
            let rules = gate
                .rules()
                .iter()
                .filter(|r| r.scope == "final-state")
                .map(|r| r.id.clone())
                .collect();
            let goal = Goal {
                restored_site: String::new(),
                federation_pool: None,
                xmpp_pool: None,
                media_edge_pool: None,
                cutover_ttl: DEFAULT_CUTOVER_TTL,
                next_hop: None,
            };
            let reason = e.to_string();
            (None, goal, Some(NotEvaluated { rules, reason }))
        }
        Err(e) => return Err(e.into()),
    };
    let findings = gate.check(&goal, &snapshot.deployment, &[], overrides)?;
    Ok(Verification {
        intent,
        goal,
        findings,
        not_evaluated,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn digest(name: &str, sha256: &str) -> PluginDigest {
        PluginDigest {
            name: name.to_owned(),
            sha256: sha256.to_owned(),
        }
    }

    #[test]
    fn every_component_that_changed_came_or_went_is_one_reason_in_the_operators_words() {
        let then = Provenance {
            environment: Some("e1".to_owned()),
            plugins: BTreeMap::from([
                ("dns-provider".to_owned(), digest("lab-dns", "d1")),
                ("port-probe".to_owned(), digest("lab-probe", "p1")),
            ]),
            policies: BTreeMap::from([
                ("dns".to_owned(), "a1".to_owned()),
                ("xmpp".to_owned(), "x1".to_owned()),
            ]),
            levels: BTreeMap::from([("dns.ttl".to_owned(), Level::Mandatory)]),
            captured: None,
        };
        let now = Provenance {
            environment: Some("e2".to_owned()),
            plugins: BTreeMap::from([
                ("dns-provider".to_owned(), digest("lab-dns", "d2")),
                ("pool-control".to_owned(), digest("lab-pools", "c1")),
            ]),
            policies: BTreeMap::from([("dns".to_owned(), "a1".to_owned())]),
            levels: BTreeMap::from([("dns.ttl".to_owned(), Level::Advisory)]),
            captured: None,
        };
        let lines: Vec<String> = changed_components(&then, &now)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "the environment file changed: sha256 e1 then, e2 now",
                "policy module `xmpp` is no longer loaded",
                "the `dns-provider` plugin changed: `lab-dns` sha256 d1 then, `lab-dns` sha256 d2 now",
                "the `pool-control` plugin `lab-pools` was not bound then",
                "the `port-probe` plugin `lab-probe` is no longer bound",
                "rule `dns.ttl` changed level: mandatory then, advisory now",
            ]
        );
        assert!(changed_components(&then, &then).is_empty());
    }
}
