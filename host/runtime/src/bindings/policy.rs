//! Policy modules: WASM components of world `failback:policy/policy` that veto
//! unsafe transitions. They are pure: they link against the policy imports
//! only (`crate::bindings::call::link_policy`: no files, no sockets, no `host`), their
//! context holds no environment, arguments or configuration, and its clocks and
//! random numbers are fixed, so that a verdict cannot depend on time or chance.
//! Each call runs in a fresh store with the module's memory and time limits,
//! like a plugin call, and what a module returns is bounded before it is lifted.
//! The texts of its findings are escaped ([`failback_core::text::printable`])
//! before anyone reads them.
//!
//! A module exports one version track of the policy package; the host binds
//! each it supports ([`Track`], one binding module per track in
//! [`crate::bindings::wit`]) and dispatches on the one the component exports. The calls
//! take the core model ([`Trajectory`]) and return [`RuleInfo`] and
//! [`ModuleFinding`], whatever the track. A `0.1` module is given no step of an
//! action `0.1` does not have: such a step's changes are folded into the next
//! step (`crate::bindings::wit::v0_1_0::policy_model`), and its findings' states mapped
//! back to the trajectory's.

use std::cell::OnceCell;
use std::fmt;

use failback_core::deployment::Deployment;
use failback_core::plan::{Action, Goal, Step};
use failback_core::text::printable;

use wasmtime::component::{ComponentExportIndex, InstancePre};

use crate::bindings::call::{CallState, Guest};
use crate::bindings::wit::{v0_1_0, v0_2_0};
use crate::digest::Digest;
use crate::sandbox::guest_error::{BindError, CallError};

/// A version track of the policy package a module exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Track {
    /// `failback:policy@0.1.0`: without `restore-next-hop` and the goal's
    /// next hop.
    V0_1,
    /// `failback:policy@0.2.0`, the current one.
    V0_2,
}

impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V0_1 => "failback:policy@0.1.0",
            Self::V0_2 => "failback:policy@0.2.0",
        })
    }
}

/// When a rule is checked (the WIT `scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    EveryState,
    Transition,
    FinalState,
}

impl Scope {
    /// The WIT name (`every-state`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::EveryState => "every-state",
            Self::Transition => "transition",
            Self::FinalState => "final-state",
        }
    }
}

/// A rule a module holds (the WIT `rule-info`), its texts escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub id: String,
    pub family: String,
    /// DESIGN §2 invariant numbers.
    pub invariants: Vec<u8>,
    pub scope: Scope,
    pub rationale: String,
}

/// A finding as a module reports it (the WIT `finding`), its texts escaped and
/// its state a state of the trajectory it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFinding {
    pub rule: String,
    /// 0 is the start, n the state after the trajectory's step n.
    pub state: u32,
    pub message: String,
    pub values: Vec<String>,
    pub hint: String,
}

/// A check the module could not be given.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(
        "the module exports {track}, which has no `{action}` action, and the trajectory has no step of an action it has to show the changes with"
    )]
    Untranslatable { track: Track, action: Action },
}

/// A trajectory to check: the goal, the start, and the steps (state n is the
/// state after `steps[n - 1]`). It is lowered once per track, for every
/// module of that track.
pub struct Trajectory<'a> {
    goal: &'a Goal,
    start: &'a Deployment,
    steps: Vec<&'a Step>,
    v0_1: OnceCell<Result<v0_1_0::policy_model::Lowered<'a>, v0_1_0::policy_model::Untranslatable>>,
    v0_2: OnceCell<v0_2_0::policy_model::Lowered<'a>>,
}

impl fmt::Debug for Trajectory<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trajectory")
            .field("goal", self.goal)
            .field("steps", &self.steps.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Trajectory<'a> {
    #[must_use]
    pub fn new(goal: &'a Goal, start: &'a Deployment, steps: Vec<&'a Step>) -> Self {
        Self {
            goal,
            start,
            steps,
            v0_1: OnceCell::new(),
            v0_2: OnceCell::new(),
        }
    }

    /// The number of steps: the end state's number.
    #[must_use]
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// No step: the start is the end.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    fn v0_1(&self) -> Result<&v0_1_0::policy_model::Lowered<'a>, CheckError> {
        self.v0_1
            .get_or_init(|| v0_1_0::policy_model::lower(self.goal, self.start, &self.steps))
            .as_ref()
            .map_err(|u| CheckError::Untranslatable {
                track: Track::V0_1,
                action: u.action,
            })
    }

    fn v0_2(&self) -> &v0_2_0::policy_model::Lowered<'a> {
        self.v0_2
            .get_or_init(|| v0_2_0::policy_model::lower(self.goal, self.start, &self.steps))
    }
}

/// The bindings of the track a module exports.
#[derive(Clone)]
enum Bindings {
    V0_1(v0_1_0::policy::PolicyPre<CallState>),
    V0_2(v0_2_0::policy::PolicyPre<CallState>),
}

/// A loaded policy module.
#[derive(Clone)]
pub struct PolicyModule {
    guest: Guest,
    bindings: Bindings,
    /// The export `rules.check` of the module's track: called with the start
    /// state borrowed from the core model (`policy_model::start`), not through
    /// the bindings' owned types.
    check: ComponentExportIndex,
}

impl fmt::Debug for PolicyModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyModule")
            .field("guest", &self.guest)
            .field("track", &self.track())
            .finish_non_exhaustive()
    }
}

impl PolicyModule {
    /// Bind the component to the newest track it exports.
    pub(crate) fn new(guest: Guest, pre: InstancePre<CallState>) -> Result<Self, BindError> {
        let bindings = match v0_2_0::policy::PolicyPre::new(pre.clone()) {
            Ok(pre) => Bindings::V0_2(pre),
            Err(newest) => match v0_1_0::policy::PolicyPre::new(pre) {
                Ok(pre) => Bindings::V0_1(pre),
                Err(_) => {
                    return Err(BindError::Link {
                        plugin: guest.name.to_string(),
                        message: format!(
                            "exports no policy track the host binds ({}, {}): {newest:#}",
                            Track::V0_2,
                            Track::V0_1
                        ),
                    });
                }
            },
        };
        let (interface, component) = match &bindings {
            Bindings::V0_1(pre) => (
                "failback:policy/rules@0.1.0",
                pre.instance_pre().component(),
            ),
            Bindings::V0_2(pre) => (
                "failback:policy/rules@0.2.0",
                pre.instance_pre().component(),
            ),
        };
        let check = component
            .get_export_index(None, interface)
            .and_then(|rules| component.get_export_index(Some(&rules), "check"))
            .ok_or_else(|| BindError::Link {
                plugin: guest.name.to_string(),
                message: format!("exports no `check` in `{interface}`"),
            })?;
        Ok(Self {
            guest,
            bindings,
            check,
        })
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

    /// The version track of the policy package the module exports.
    #[must_use]
    pub fn track(&self) -> Track {
        match self.bindings {
            Bindings::V0_1(_) => Track::V0_1,
            Bindings::V0_2(_) => Track::V0_2,
        }
    }

    /// `rules.rules`: the rules this module holds.
    pub fn rules(&self) -> Result<Vec<RuleInfo>, CallError> {
        // The same call on each track; only the bindings' types differ.
        macro_rules! rules_on {
            ($pre:expr, $track:ident) => {
                self.guest.call(
                    "rules.rules",
                    async |store| $pre.instantiate_async(store).await,
                    async |bindings, store| {
                        bindings
                            .failback_policy_rules()
                            .call_rules(store)
                            .await
                            .map(Ok)
                    },
                    |rules| {
                        use $track::policy::failback::policy::types::Scope as S;
                        rules
                            .into_iter()
                            .map(|r| RuleInfo {
                                id: escaped(r.id),
                                family: escaped(r.family),
                                invariants: r.invariants,
                                scope: match r.scope {
                                    S::EveryState => Scope::EveryState,
                                    S::Transition => Scope::Transition,
                                    S::FinalState => Scope::FinalState,
                                },
                                rationale: escaped(r.rationale),
                            })
                            .collect()
                    },
                )
            };
        }
        match &self.bindings {
            Bindings::V0_2(pre) => rules_on!(pre, v0_2_0),
            Bindings::V0_1(pre) => rules_on!(pre, v0_1_0),
        }
    }

    /// `rules.check`: every finding on `trajectory`, each on a state of it.
    pub fn check(&self, trajectory: &Trajectory<'_>) -> Result<Vec<ModuleFinding>, CheckError> {
        // The same call on each track; only the types differ.
        macro_rules! check_on {
            ($pre:expr, $track:ident, $lowered:expr, $state:expr) => {{
                use $track::policy::failback::policy::types as wit;
                let lowered = $lowered;
                self.guest.call(
                    "rules.check",
                    async |store| $pre.instance_pre().instantiate_async(store).await,
                    async |instance, store| {
                        let check = instance.get_typed_func::<(
                            &wit::Goal,
                            &$track::policy_model::start::State<'_>,
                            &[wit::Step],
                        ), (Vec<wit::Finding>,)>(
                            &mut *store, &self.check
                        )?;
                        let (findings,) = check
                            .call_async(
                                &mut *store,
                                (&lowered.goal, &lowered.start, &lowered.steps),
                            )
                            .await?;
                        Ok(Ok(findings))
                    },
                    |findings| {
                        findings
                            .into_iter()
                            .map(|f| finding(f.rule, $state(f.state), f.message, f.values, f.hint))
                            .collect()
                    },
                )?
            }};
        }
        Ok(match &self.bindings {
            Bindings::V0_2(pre) => check_on!(pre, v0_2_0, trajectory.v0_2(), |s| s),
            Bindings::V0_1(pre) => {
                let lowered = trajectory.v0_1()?;
                // A 0.1 state is the trajectory state `states` names; a state
                // beyond them is left as the module said, for the gate to
                // judge like any.
                let state = |s: u32| lowered.states.get(s as usize).copied().unwrap_or(s);
                check_on!(pre, v0_1_0, lowered, state)
            }
        })
    }
}

fn escaped(text: String) -> String {
    printable(&text).into_owned()
}

fn finding(
    rule: String,
    state: u32,
    message: String,
    values: Vec<String>,
    hint: String,
) -> ModuleFinding {
    ModuleFinding {
        rule: escaped(rule),
        state,
        message: escaped(message),
        values: values.into_iter().map(escaped).collect(),
        hint: escaped(hint),
    }
}
