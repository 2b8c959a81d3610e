//! The policy gate: every policy module checks every state of a trajectory —
//! the observed start, each predicted state, the end — and the gate turns what
//! they find into [`Finding`]s with the enforcement level the environment binds
//! each rule to.
//!
//! A veto is data, not an error: a finding that blocks is a [`Finding`] with
//! `blocking` set. [`GateError`] is for a gate that could not judge at all (a
//! module failed to load or trapped, a binding names an unknown rule).
//!
//! What blocks:
//! - an `advisory` finding never blocks;
//! - a `mandatory` one blocks unless the operator overrides its rule with a
//!   reason (the override is kept in the finding);
//! - a `hard` one always blocks;
//! - a finding that already held on the observed start is *standing*: the plan
//!   inherits it and must repair it, so it blocks only if it still holds on the
//!   end state (DESIGN §2: the plan must repair it, never deepen it).
//!
//! Findings are keyed by the module that reported them: runs of consecutive
//! states and the standing rule compare a module's findings with that
//! module's own only, so one module cannot make another's finding standing by
//! echoing it on the start. A module reports only the rules it holds; a
//! finding of another module's rule is refused ([`GateError::ForeignRule`]).
//!
//! Levels: a rule's level is [`default_level`] unless the environment binds
//! another; a `hard` rule's level cannot be lowered
//! ([`GateError::LoweredHard`]).

use std::collections::BTreeMap;

use cap_std::fs::Dir;
use failback_core::deployment::Deployment;
use failback_core::plan::{Finding, Goal, Level, Plan, Step, StepStatus};
use failback_core::report::{self, OrderReason};
use serde::Deserialize;

use crate::bindings::policy::{CheckError, ModuleFinding, PolicyModule, Trajectory};
use crate::digest::{Digest, DigestParseError};
use crate::files::{FileError, RelativePath, read_bytes};
use crate::loading::engine::{LoadError, MAX_COMPONENT_BYTES, Runtime, load_each};
use crate::sandbox::cache::ComponentCache;
use crate::sandbox::guest_error::CallError;
use crate::signature::MAX_SIGNATURE_BYTES;
use crate::trust::TrustPolicy;

/// Memory and time each policy call gets, unless the module's manifest says less.
pub use crate::manifest::POLICY_LIMITS;

/// The level a rule has when the environment does not bind it. Rules of
/// modules the project does not ship are `mandatory`.
#[must_use]
pub fn default_level(rule: &str) -> Level {
    match rule {
        // Two federated pools split outbound federation; setup on a stale
        // replica, a publish without a store and a failback with the wrong FQDN
        // are refused by Lync itself or break it: never overridable.
        "federation.single-pool"
        | "policy.unknown-object"
        | "cms.setup-after-replication"
        | "cms.available"
        | "cms.pool-failback-fqdn" => Level::Hard,
        "dns.ttl-lowered" => Level::Advisory,
        _ => Level::Mandatory,
    }
}

/// Why the gate could not judge.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("the `[policies]` table of the environment file is not valid: {0}")]
    Bindings(String),
    #[error("policy module `{module}`: `{path}` cannot be read")]
    Read {
        module: String,
        path: String,
        #[source]
        source: FileError,
    },
    #[error("policy module `{module}` has sha256 {actual}, but the environment binds {expected}")]
    DigestMismatch {
        module: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("policy module `{module}` cannot be loaded")]
    Load {
        module: String,
        #[source]
        source: LoadError,
    },
    #[error("policy module `{module}` failed")]
    Call {
        module: String,
        #[source]
        source: CallError,
    },
    #[error("rule `{rule}` is bound in the environment, but no policy module has it")]
    UnknownRule { rule: String },
    #[error("rule `{rule}` is held by both `{first}` and `{second}`")]
    DuplicateRule {
        rule: String,
        first: String,
        second: String,
    },
    #[error("`--override {rule}`: no policy module has that rule")]
    OverrideUnknown { rule: String },
    #[error("`--override {rule}`: the rule is hard, and a hard rule cannot be overridden")]
    OverrideHard { rule: String },
    #[error("`--override {rule}` needs a reason (`--reason TEXT`)")]
    OverrideReason { rule: String },
    #[error(
        "rule `{rule}` is hard and cannot be lowered to `{level}`: `[policies.levels]` may only raise it"
    )]
    LoweredHard { rule: String, level: &'static str },
    #[error("policy module `{module}` cannot be given the trajectory")]
    Untranslatable {
        module: String,
        #[source]
        source: CheckError,
    },
    #[error("policy module `{module}` reported rule `{rule}`, which it does not hold")]
    ForeignRule { module: String, rule: String },
}

/// The environment's `[policies]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyBindings {
    /// Run the policy modules the binary carries (default: yes).
    pub standard: bool,
    /// Further modules, each by path and sha256.
    pub modules: Vec<ModuleBinding>,
    /// Each rule's level, where it differs from [`default_level`].
    pub levels: BTreeMap<String, Level>,
}

/// One `[[policies.modules]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleBinding {
    pub name: String,
    pub path: RelativePath,
    pub sha256: Digest,
    /// A detached signature of the module, if it has one.
    pub signature: Option<RelativePath>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawBindings {
    #[serde(default = "yes")]
    standard: bool,
    #[serde(default)]
    modules: Vec<RawModule>,
    #[serde(default)]
    levels: BTreeMap<String, Level>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModule {
    name: String,
    path: String,
    sha256: String,
    signature: Option<String>,
}

fn yes() -> bool {
    true
}

impl PolicyBindings {
    /// Check the environment's `[policies]` table; none means the defaults.
    pub fn parse(table: Option<&toml::Table>) -> Result<Self, GateError> {
        let Some(table) = table else {
            return Ok(Self {
                standard: true,
                ..Self::default()
            });
        };
        let raw: RawBindings = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| GateError::Bindings(e.message().to_owned()))?;
        let modules = raw
            .modules
            .into_iter()
            .map(|m| {
                let path = |p: &str| {
                    RelativePath::new(p)
                        .map_err(|e| GateError::Bindings(format!("module `{}`: {e}", m.name)))
                };
                Ok(ModuleBinding {
                    path: path(&m.path)?,
                    signature: m.signature.as_deref().map(path).transpose()?,
                    sha256: m.sha256.parse().map_err(|e: DigestParseError| {
                        GateError::Bindings(format!("module `{}`: {e}", m.name))
                    })?,
                    name: m.name,
                })
            })
            .collect::<Result<_, GateError>>()?;
        Ok(Self {
            standard: raw.standard,
            modules,
            levels: raw.levels,
        })
    }
}

/// A rule of a loaded module, with the level it is enforced at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    pub id: String,
    pub family: String,
    /// DESIGN §2 invariant numbers.
    pub invariants: Vec<u8>,
    /// `every-state`, `transition` or `final-state`.
    pub scope: &'static str,
    pub rationale: String,
    pub level: Level,
    /// The module that holds it.
    pub module: String,
}

/// Rules an operator overrides for one run, each with a reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides(pub BTreeMap<String, String>);

/// A policy module's component, with its sha256 known: for a module the
/// binary carries, computed when it was built (`failback_guests::Guest::sha256`,
/// so that a run need not hash it); for a bound one, checked against the pin.
#[derive(Debug, Clone, Copy)]
pub struct PolicyComponent<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
    /// The sha256 of `bytes`.
    pub sha256: Digest,
}

/// The loaded policy modules and their rules.
#[derive(Debug)]
pub struct Gate {
    modules: Vec<PolicyModule>,
    rules: Vec<Rule>,
}

impl Gate {
    /// Load `standard` when the bindings keep them, and every module the
    /// bindings name (read through `dir`, checked against its sha256).
    pub fn load(
        runtime: &Runtime,
        cache: &ComponentCache,
        standard: &[PolicyComponent<'_>],
        bindings: &PolicyBindings,
        trust: &TrustPolicy,
        dir: &Dir,
    ) -> Result<Self, GateError> {
        let mut modules = Vec::new();
        if bindings.standard {
            for module in load_each(standard, |module| load(runtime, cache, module, trust, None)) {
                modules.push(module?);
            }
        }
        for binding in &bindings.modules {
            let bytes = read_bytes(dir, &binding.path, MAX_COMPONENT_BYTES).map_err(|source| {
                GateError::Read {
                    module: binding.name.clone(),
                    path: binding.path.to_string(),
                    source,
                }
            })?;
            let actual = Digest::of(&bytes);
            if actual != binding.sha256 {
                return Err(GateError::DigestMismatch {
                    module: binding.name.clone(),
                    expected: binding.sha256,
                    actual,
                });
            }
            let detached = binding
                .signature
                .as_ref()
                .map(|path| {
                    read_bytes(dir, path, MAX_SIGNATURE_BYTES).map_err(|source| GateError::Read {
                        module: binding.name.clone(),
                        path: path.to_string(),
                        source,
                    })
                })
                .transpose()?;
            let module = PolicyComponent {
                name: &binding.name,
                bytes: &bytes,
                sha256: actual,
            };
            modules.push(load(runtime, cache, &module, trust, detached.as_deref())?);
        }

        let mut rules: Vec<Rule> = Vec::new();
        for module in &modules {
            let infos = module.rules().map_err(|source| GateError::Call {
                module: module.name().to_owned(),
                source,
            })?;
            for info in infos {
                if let Some(other) = rules.iter().find(|r| r.id == info.id) {
                    return Err(GateError::DuplicateRule {
                        rule: info.id,
                        first: other.module.clone(),
                        second: module.name().to_owned(),
                    });
                }
                rules.push(Rule {
                    level: bindings
                        .levels
                        .get(&info.id)
                        .copied()
                        .unwrap_or_else(|| default_level(&info.id)),
                    scope: info.scope.name(),
                    id: info.id,
                    family: info.family,
                    invariants: info.invariants,
                    rationale: info.rationale,
                    module: module.name().to_owned(),
                });
            }
        }
        if let Some(rule) = bindings
            .levels
            .keys()
            .find(|id| !rules.iter().any(|r| &r.id == *id))
        {
            return Err(GateError::UnknownRule { rule: rule.clone() });
        }
        if let Some((rule, level)) = bindings
            .levels
            .iter()
            .find(|(id, level)| default_level(id) == Level::Hard && **level < Level::Hard)
        {
            return Err(GateError::LoweredHard {
                rule: rule.clone(),
                level: level.name(),
            });
        }
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Self { modules, rules })
    }

    /// Every rule, sorted by id.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The sha256 of each module, by name: what a saved plan records.
    #[must_use]
    pub fn digests(&self) -> Vec<(String, Digest)> {
        self.modules
            .iter()
            .map(|m| (m.name().to_owned(), m.digest()))
            .collect()
    }

    /// Every rule's enforcement level, by rule id: what a plan's provenance
    /// records.
    #[must_use]
    pub fn levels(&self) -> BTreeMap<String, Level> {
        self.rules.iter().map(|r| (r.id.clone(), r.level)).collect()
    }

    /// Check `overrides` against the rules: each names a rule that exists and
    /// is not hard, with a reason.
    pub fn check_overrides(&self, overrides: &Overrides) -> Result<(), GateError> {
        for (rule, reason) in &overrides.0 {
            let Some(found) = self.rules.iter().find(|r| &r.id == rule) else {
                return Err(GateError::OverrideUnknown { rule: rule.clone() });
            };
            if found.level == Level::Hard {
                return Err(GateError::OverrideHard { rule: rule.clone() });
            }
            if reason.trim().is_empty() {
                return Err(GateError::OverrideReason { rule: rule.clone() });
            }
        }
        Ok(())
    }

    /// Every finding of every module on the trajectory `start`, then `steps`
    /// (state n is the state after step n), judged with `overrides`.
    ///
    /// Only planned steps are checked: a satisfied step does not run, so it
    /// neither acts (transition rules) nor leads to a new state. Findings keep
    /// the plan's numbering: the state after a planned step is that step's
    /// index.
    pub fn check(
        &self,
        goal: &Goal,
        start: &Deployment,
        steps: &[Step],
        overrides: &Overrides,
    ) -> Result<Vec<Finding>, GateError> {
        self.check_overrides(overrides)?;
        let planned: Vec<&Step> = steps
            .iter()
            .filter(|s| s.status == StepStatus::Planned)
            .collect();
        // The plan's state number of each checked state (0 is the start).
        let numbers: Vec<u32> = std::iter::once(0)
            .chain(
                planned
                    .iter()
                    .map(|s| u32::try_from(s.index).unwrap_or(u32::MAX)),
            )
            .collect();
        let trajectory = Trajectory::new(goal, start, planned);
        let mut raw = Vec::new();
        for module in &self.modules {
            let found = module.check(&trajectory).map_err(|error| match error {
                CheckError::Call(source) => GateError::Call {
                    module: module.name().to_owned(),
                    source,
                },
                source @ CheckError::Untranslatable { .. } => GateError::Untranslatable {
                    module: module.name().to_owned(),
                    source,
                },
            })?;
            for f in found {
                if !self
                    .rules
                    .iter()
                    .any(|r| r.id == f.rule && r.module == module.name())
                {
                    return Err(GateError::ForeignRule {
                        module: module.name().to_owned(),
                        rule: f.rule,
                    });
                }
                raw.push((module.name().to_owned(), f));
            }
        }
        let end = u32::try_from(trajectory.len()).unwrap_or(u32::MAX);
        let mut findings = judge(raw, end, |rule| self.level(rule), overrides);
        let number = |state: u32| numbers.get(state as usize).copied().unwrap_or(state);
        for f in &mut findings {
            f.state = number(f.state);
            f.through = number(f.through);
            f.step = (f.state > 0).then_some(f.state as usize);
        }
        Ok(findings)
    }

    /// Why the plan's steps come in their order: for each planned step after
    /// the first, the findings the trajectory has when that step is swapped
    /// with its predecessor and the plan has not (one [`Gate::check`] per
    /// swap, with the plan's overrides).
    ///
    /// # Errors
    /// As [`Gate::check`].
    pub fn explain_order(&self, plan: &Plan) -> Result<Vec<OrderReason>, GateError> {
        let overrides = Overrides(
            plan.overrides
                .iter()
                .map(|o| (o.rule.clone(), o.reason.clone()))
                .collect(),
        );
        report::swaps(plan)
            .into_iter()
            .map(|(step, predecessor, steps)| {
                let found = self.check(&plan.goal, &plan.start, &steps, &overrides)?;
                Ok(OrderReason {
                    step,
                    predecessor,
                    findings: report::new_findings(plan, found),
                })
            })
            .collect()
    }

    fn level(&self, rule: &str) -> Level {
        self.rules
            .iter()
            .find(|r| r.id == rule)
            .map_or_else(|| default_level(rule), |r| r.level)
    }
}

fn load(
    runtime: &Runtime,
    cache: &ComponentCache,
    module: &PolicyComponent<'_>,
    trust: &TrustPolicy,
    detached: Option<&[u8]>,
) -> Result<PolicyModule, GateError> {
    runtime
        .load_policy_verified(
            module.name,
            module.bytes,
            module.sha256,
            cache,
            POLICY_LIMITS,
            trust,
            detached,
        )
        .map_err(|source| GateError::Load {
            module: module.name.to_owned(),
            source,
        })
}

/// Turn the modules' findings, each with its module, into the gate's: runs of
/// the same finding (module, rule and values) on consecutive states are one
/// finding `state..=through`; a finding its module reported on the start is
/// standing; then each gets its level and whether it blocks.
fn judge(
    mut raw: Vec<(String, ModuleFinding)>,
    end: u32,
    level: impl Fn(&str) -> Level,
    overrides: &Overrides,
) -> Vec<Finding> {
    type Key = (String, String, Vec<String>, String);
    let key = |(module, f): &(String, ModuleFinding)| -> Key {
        (
            module.clone(),
            f.rule.clone(),
            f.values.clone(),
            f.message.clone(),
        )
    };
    raw.sort_by_key(|f| (f.1.state, key(f)));
    raw.dedup_by(|a, b| a.1.state == b.1.state && key(a) == key(b));
    let at_start: std::collections::BTreeSet<Key> =
        raw.iter().filter(|f| f.1.state == 0).map(key).collect();

    let mut out: Vec<Finding> = Vec::new();
    // The open run of each key: its index in `out`.
    let mut open: BTreeMap<Key, usize> = BTreeMap::new();
    for found in raw {
        let k = key(&found);
        let (module, f) = found;
        if let Some(run) = open.get(&k).and_then(|&i| out.get_mut(i))
            && run.through + 1 == f.state
        {
            run.through = f.state;
            continue;
        }
        let rule_level = level(&f.rule);
        open.insert(k.clone(), out.len());
        out.push(Finding {
            module,
            level: rule_level,
            step: (f.state > 0).then_some(f.state as usize),
            standing: at_start.contains(&k),
            through: f.state,
            overridden: None,
            blocking: false,
            rule: f.rule,
            state: f.state,
            message: f.message,
            values: f.values,
            hint: f.hint,
        });
    }
    for f in &mut out {
        if f.level == Level::Mandatory {
            f.overridden = overrides.0.get(&f.rule).cloned();
        }
        let repaired = f.standing && f.through < end;
        f.blocking = f.level != Level::Advisory && f.overridden.is_none() && !repaired;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn raw(rule: &str, state: u32, value: &str) -> (String, ModuleFinding) {
        from("module-a", rule, state, value)
    }

    fn from(module: &str, rule: &str, state: u32, value: &str) -> (String, ModuleFinding) {
        (
            module.to_owned(),
            ModuleFinding {
                rule: rule.to_owned(),
                state,
                message: format!("{rule} broken"),
                values: vec![value.to_owned()],
                hint: "fix it".to_owned(),
            },
        )
    }

    fn levels(rule: &str) -> Level {
        match rule {
            "hard" => Level::Hard,
            "advisory" => Level::Advisory,
            _ => Level::Mandatory,
        }
    }

    #[test]
    fn consecutive_states_are_one_finding() {
        let out = judge(
            vec![raw("m", 2, "x"), raw("m", 3, "x"), raw("m", 5, "x")],
            6,
            levels,
            &Overrides::default(),
        );
        let runs: Vec<_> = out.iter().map(|f| (f.state, f.through)).collect();
        assert_eq!(runs, [(2, 3), (5, 5)]);
        assert!(out.iter().all(|f| f.blocking && !f.standing));
    }

    #[test]
    fn a_standing_finding_the_plan_repairs_does_not_block() {
        let out = judge(
            vec![raw("m", 0, "x"), raw("m", 1, "x")],
            4,
            levels,
            &Overrides::default(),
        );
        assert_eq!(out.len(), 1);
        assert!(out[0].standing && !out[0].blocking, "{out:?}");
    }

    #[test]
    fn a_standing_finding_left_at_the_end_blocks() {
        let out = judge(
            vec![raw("m", 0, "x"), raw("m", 1, "x"), raw("m", 2, "x")],
            2,
            levels,
            &Overrides::default(),
        );
        assert!(out[0].standing && out[0].blocking, "{out:?}");
    }

    /// A second module that reports the same finding on the start does not
    /// make the first module's intermediate finding standing: findings are
    /// keyed by module.
    #[test]
    fn another_modules_echo_on_the_start_does_not_make_a_finding_standing() {
        let out = judge(
            vec![from("module-b", "m", 0, "x"), from("module-a", "m", 2, "x")],
            4,
            levels,
            &Overrides::default(),
        );
        let a = out.iter().find(|f| f.module == "module-a").unwrap();
        assert!(!a.standing && a.blocking, "{out:?}");
    }

    #[test]
    fn verify_has_one_state_which_is_the_end() {
        let out = judge(vec![raw("m", 0, "x")], 0, levels, &Overrides::default());
        assert!(out[0].blocking);
    }

    #[test]
    fn an_override_lifts_a_mandatory_finding_and_is_kept() {
        let overrides = Overrides([("m".to_owned(), "change window 42".to_owned())].into());
        let out = judge(vec![raw("m", 1, "x")], 3, levels, &overrides);
        assert!(!out[0].blocking);
        assert_eq!(out[0].overridden.as_deref(), Some("change window 42"));
    }

    #[test]
    fn hard_and_advisory_ignore_overrides() {
        let overrides = Overrides([("hard".to_owned(), "please".to_owned())].into());
        let out = judge(
            vec![raw("hard", 1, "x"), raw("advisory", 1, "x")],
            3,
            levels,
            &overrides,
        );
        let hard = out.iter().find(|f| f.rule == "hard").unwrap();
        let advisory = out.iter().find(|f| f.rule == "advisory").unwrap();
        assert!(hard.blocking && hard.overridden.is_none());
        assert!(!advisory.blocking);
    }

    #[test]
    fn bindings_default_to_the_standard_modules() {
        let b = PolicyBindings::parse(None).unwrap();
        assert!(b.standard && b.modules.is_empty() && b.levels.is_empty());
    }

    #[test]
    fn bindings_reject_unknown_fields_and_levels() {
        let table: toml::Table = toml::from_str("standrd = true").unwrap();
        assert!(PolicyBindings::parse(Some(&table)).is_err());
        let table: toml::Table =
            toml::from_str("[levels]\n\"dns.ttl-lowered\" = \"strict\"").unwrap();
        assert!(PolicyBindings::parse(Some(&table)).is_err());
        let table: toml::Table =
            toml::from_str("[levels]\n\"dns.ttl-lowered\" = \"mandatory\"").unwrap();
        let b = PolicyBindings::parse(Some(&table)).unwrap();
        assert_eq!(b.levels["dns.ttl-lowered"], Level::Mandatory);
    }
}
