//! The apply engine: carry out a judged plan step by step through the plugins,
//! verified and journaled (DESIGN §3.5).
//!
//! For each planned step, in order:
//! 1. check that the step's operations do what its changes say
//!    ([`Step::check_operations`]): the policies judged the changes, the
//!    plugins run the operations;
//! 2. observe the deployment ([`crate::judgment::observe`]) and compare it with the
//!    state the plan predicts before the step: any difference is *drift*, and
//!    the run halts before acting, with the field-level diff ([`diff`]). The
//!    observation is always whole (every plugin read, every field the
//!    policies look at). After a step this process ran, it is the one that
//!    verified that step (5.): made moments before, with nothing acting in
//!    between (only the journal and the audit log are written), so observing
//!    again would read the same deployment at twice the cost. The first step
//!    of a run, and of a resume, is observed anew;
//! 3. re-run the policy gate on the observed state and the rest of the plan
//!    from this step on (this step's transition and predicted next state
//!    included): a blocking finding halts before acting. The rest of the plan,
//!    not the step alone, because a finding that stands on the observed state
//!    and a later step repairs does not block (the gate's standing rule), and
//!    the goal invariants judge the end state, not every intermediate one;
//! 4. journal the step's intent (durable), then run its operations, each with
//!    its own intent and outcome rows, through the plugins (each operation's
//!    call is its type's, in [`crate::run::operation`]). Before a
//!    `publish-topology`, the draft is parsed and must describe exactly the
//!    state the plan predicts after the step ([`describe`]), else the run
//!    halts before publishing ([`Halt::Draft`]);
//! 5. re-observe and compare with the predicted state after the step: a
//!    difference halts the run with the diff; else the audit log is made
//!    durable, the run's last audit record anchored in the journal, and the
//!    step's outcome journaled.
//!
//! A step that halted or failed gets that outcome in the journal.
//!
//! Resuming ([`Executor::run`] on a run with journal rows): steps with an
//! outcome `done` or `already-held` are skipped. A step that was begun and has
//! no such outcome — *in doubt* after a crash, or halted or failed — is judged
//! again before anything more of it runs:
//! - its postcondition already holds: `already-held`, nothing runs;
//! - the drift check: the observed state must be one the step itself leads
//!   through — before it (the step starts anew: every operation runs again),
//!   or after the operations journaled done, or after those and the one in
//!   doubt, or after those and part of the one in doubt (a batch cut short:
//!   some routes of a `set-site-routes` set, the others not). Anything else
//!   is drift, and the run halts;
//! - the gate on the observed state and the rest of the plan, as for a step
//!   that never ran; partway through the step, what is left of it is what
//!   its remaining operations change from the observed state. One partway
//!   state is not judged as it is: a topology published and not yet enabled,
//!   where the policy model's `draft_pending` would describe a published
//!   document as an unpublished draft. There the drift check has shown the
//!   state is exactly the step's own partial effect, and the gate judges the
//!   state before the step and the rest of the plan — the judgement the step
//!   was allowed by, made again now;
//! - then the step's remaining operations run: an operation in doubt is
//!   judged by its effect's content through the plugins' read calls (the
//!   published document is the draft, the record set is the target, the
//!   services run, …: each operation type's `took_effect`) and run again only
//!   if its effect is absent. A batch took effect when every object of it
//!   did; one part-done runs again whole (its plugin functions are
//!   idempotent: setting a route to what it is changes nothing).
//!
//! So no finished side effect is repeated, and nothing runs that was not
//! judged on the deployment as it is.
//!
//! The topology draft (A2 `set-federation-edge`) lives in the plan, not in the
//! environment, until a publish sends it. While a draft is pending — its
//! `edit-draft` operation done and its `publish-topology` not — an
//! observation is read with the draft's XML in place of the published
//! topology and `draft_pending` set, which is what the plan predicts for the
//! states between A2 and A3. The published topology itself is unchanged until
//! the publish.
//!
//! [`Failpoint`] is for tests only: it aborts (or pauses) the process at a
//! named journal point so that the crash tests can kill a run anywhere.

#![expect(
    clippy::result_large_err,
    reason = "an apply error ends the run, once; boxing its sources would buy nothing"
)]

use std::cell::Cell;
use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use failback_core::deployment::{
    AssembleError, Change, Deployment, Names, UnknownObject, assemble_read, describe,
};
pub use failback_core::diff::{FieldDiff, diff};
use failback_core::observed::Observation;
use failback_core::plan::{Action, Finding, Operation, OperationsError, Plan, Step, StepStatus};
use failback_core::topology::Topology;
use serde::Serialize;

use crate::bindings::plugin::PluginSet;
use crate::judgment::gate::{Gate, GateError, Overrides};
use crate::judgment::observe::{ObserveError, observe_read};
use crate::record::audit::{AuditSink, Decision, NotDurable};
use crate::record::journal::{Journal, JournalError, RunState, StepRecord};
use crate::record::progress::{Event, Progress, StepEnd};
use crate::run::operation::{Context, StepError, execution};

/// How long `await-replication` waits for one replica by default.
pub const REPLICA_WAIT: Duration = Duration::from_secs(60);

/// Why a run could not go on (beyond a halt, which is data: [`Halt`]).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the plan's predicted states are inconsistent")]
    Plan(#[source] UnknownObject),
    #[error("step {step}: cannot observe the deployment")]
    Observe {
        step: usize,
        #[source]
        source: ObserveError,
    },
    #[error("step {step}: the observed deployment is not consistent")]
    Assemble {
        step: usize,
        #[source]
        source: AssembleError,
    },
    #[error("step {step}: the policy gate cannot judge")]
    Gate {
        step: usize,
        #[source]
        source: GateError,
    },
    #[error(transparent)]
    Operations(OperationsError),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error("the audit log cannot be made durable")]
    Audit(#[source] NotDurable),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

pub use crate::record::journal::NOT_RESUMABLE;

impl ApplyError {
    /// Whether `failback resume` can get past it: not when the store shows a
    /// publish that went wrong outside the run (resuming reads the same store
    /// again and stops again).
    #[must_use]
    pub fn resumable(&self) -> bool {
        !matches!(self, Self::Step(StepError::PublishInDoubt { .. }))
    }

    /// The step it stopped at, if any.
    #[must_use]
    pub fn step(&self) -> Option<usize> {
        match self {
            Self::Plan(_) | Self::Journal(_) | Self::Audit(_) => None,
            Self::Operations(e) => Some(match e {
                OperationsError::Operation { step, .. }
                | OperationsError::Disagree { step, .. }
                | OperationsError::Changes { step, .. } => *step,
            }),
            Self::Step(e) => Some(e.step()),
            Self::Observe { step, .. } | Self::Assemble { step, .. } | Self::Gate { step, .. } => {
                Some(*step)
            }
        }
    }
}

/// Why a run halted before or after a step, without an error: the deployment
/// is not what the plan says, or a policy forbids the step now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "halt")]
pub enum Halt {
    /// Before the step: the observed state is not the predicted one.
    Drift {
        step: usize,
        action: String,
        diff: Vec<FieldDiff>,
    },
    /// After the step: its postcondition does not hold.
    Postcondition {
        step: usize,
        action: String,
        diff: Vec<FieldDiff>,
    },
    /// Before the step: a blocking finding on the observed state or the rest
    /// of the plan.
    Veto {
        step: usize,
        action: String,
        findings: Vec<Finding>,
    },
    /// Before a publish: the draft is not a topology, or does not describe the
    /// state the plan predicts after the step (`diff`: predicted, then what
    /// the draft says).
    Draft {
        step: usize,
        action: String,
        draft: String,
        problem: Option<String>,
        diff: Vec<FieldDiff>,
    },
}

impl Halt {
    /// Whether `failback resume` can get past it: not a draft that does not
    /// describe the predicted state (resuming publishes the same draft), nor
    /// drift in the published topology's version — a publish outside the run:
    /// the store's version only goes up, so no one can put it back, and
    /// every resume would meet the same drift.
    #[must_use]
    pub fn resumable(&self) -> bool {
        match self {
            Self::Draft { .. } => false,
            Self::Drift { diff, .. } => !diff
                .iter()
                .any(|d| d.object == "deployment" && d.field == "topology_version"),
            Self::Postcondition { .. } | Self::Veto { .. } => true,
        }
    }

    #[must_use]
    pub fn step(&self) -> usize {
        match self {
            Self::Drift { step, .. }
            | Self::Postcondition { step, .. }
            | Self::Veto { step, .. }
            | Self::Draft { step, .. } => *step,
        }
    }

    /// One line for the journal.
    #[must_use]
    pub fn headline(&self) -> String {
        match self {
            Self::Drift { step, action, diff } => format!(
                "drift before step {step} ({action}): {} from the plan",
                fields_differ(diff.len())
            ),
            Self::Postcondition { step, action, diff } => format!(
                "step {step} ({action}) did not reach its predicted state: {}",
                fields_differ(diff.len())
            ),
            Self::Veto {
                step,
                action,
                findings,
            } => format!(
                "step {step} ({action}) vetoed: {}",
                findings
                    .iter()
                    .filter(|f| f.blocking)
                    .map(|f| f.rule.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Draft {
                step,
                action,
                draft,
                problem,
                diff,
            } => format!(
                "step {step} ({action}): the draft `{draft}` was not published: {}",
                problem.clone().unwrap_or_else(|| format!(
                    "it does not describe the predicted state ({})",
                    fields_differ(diff.len())
                ))
            ),
        }
    }
}

/// `1 field differs`, `n fields differ`.
fn fields_differ(n: usize) -> String {
    if n == 1 {
        "1 field differs".to_owned()
    } else {
        format!("{n} fields differ")
    }
}

/// How a run ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Every planned step done and verified; the deployment as last observed.
    Done {
        end: Box<Deployment>,
    },
    Halted(Halt),
}

/// The journal points a [`Failpoint`] can stop at, in the order a step
/// passes them.
pub const FAILPOINTS: [&str; 6] = [
    "before-intent",
    "after-intent",
    "op-after-intent",
    "op-after-effect",
    "after-effect",
    "after-outcome",
];

/// What a failpoint does when hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailAction {
    /// `std::process::abort()`: the process dies as under SIGKILL, nothing
    /// unwinds, nothing more is written.
    Abort,
    /// Sleep, holding the run (and its lock): lets a test start a second
    /// apply beside it.
    Sleep(Duration),
    /// Wait, holding the run (and its lock), until standard input ends (or
    /// gives a line): the test holds the window open as long as it needs,
    /// however loaded the machine, and closes it.
    WaitStdin,
}

/// **Test only.** Stop the process at the `hit`-th pass of a journal point.
///
/// Built by the CLI from
/// `FAILBACK_TEST_FAILPOINT=<point>:<n>[:sleep-ms=<ms>|:wait-stdin]`
/// (documented as test-only); `point` is one of [`FAILPOINTS`].
#[derive(Debug)]
pub struct Failpoint {
    point: String,
    hit: u32,
    action: FailAction,
    passes: Cell<u32>,
}

impl Failpoint {
    /// Parse `<point>:<n>[:sleep-ms=<ms>|:wait-stdin]`; `None` if it is not one.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        let point = parts.next()?;
        if !FAILPOINTS.contains(&point) {
            return None;
        }
        let hit = parts.next()?.parse().ok()?;
        let action = match parts.next() {
            None => FailAction::Abort,
            Some("wait-stdin") => FailAction::WaitStdin,
            Some(s) => FailAction::Sleep(Duration::from_millis(
                s.strip_prefix("sleep-ms=")?.parse().ok()?,
            )),
        };
        Some(Self {
            point: point.to_owned(),
            hit,
            action,
            passes: Cell::new(0),
        })
    }

    fn pass(&self, point: &str) {
        if self.point != point {
            return;
        }
        let n = self.passes.get() + 1;
        self.passes.set(n);
        if n == self.hit {
            match self.action {
                FailAction::Abort => std::process::abort(),
                FailAction::Sleep(d) => std::thread::sleep(d),
                FailAction::WaitStdin => {
                    let _ = std::io::stdin().read_line(&mut String::new());
                }
            }
        }
    }
}

/// Options of a run.
#[derive(Debug)]
pub struct ApplyOptions {
    /// How long `await-replication` waits for each replica.
    pub replica_wait: Duration,
    /// Test only: see [`Failpoint`].
    pub failpoint: Option<Failpoint>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            replica_wait: REPLICA_WAIT,
            failpoint: None,
        }
    }
}

/// Carries out plans in one environment.
pub struct Executor<'a> {
    pub plugins: &'a PluginSet,
    pub gate: &'a Gate,
    pub audit: Arc<dyn AuditSink>,
    /// The environment's external zone.
    pub zone: &'a str,
    pub journal: &'a Journal,
    pub options: ApplyOptions,
}

impl std::fmt::Debug for Executor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("zone", &self.zone)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The run's operations as journaled, in memory.
struct Ledger {
    /// Operations with an outcome: (step, op).
    done: BTreeSet<(usize, usize)>,
    /// Operations with an intent and no outcome.
    in_doubt: BTreeSet<(usize, usize)>,
}

impl Executor<'_> {
    fn fail(&self, point: &str) {
        if let Some(f) = &self.options.failpoint {
            f.pass(point);
        }
    }

    /// Apply `plan` as run `run` of the journal (started by the caller with
    /// [`Journal::start_run`]; a run with journal rows is resumed). The run's
    /// end is journaled: done, halted, or failed with the error's message; a
    /// step that halted or failed gets that outcome too.
    pub fn run(
        &self,
        plan: &Plan,
        run: i64,
        overrides: &Overrides,
        progress: &mut dyn Progress,
    ) -> Result<Ended, ApplyError> {
        let result = self.run_steps(plan, run, overrides, progress);
        let begun = |step: usize| -> Result<bool, JournalError> {
            Ok(self
                .journal
                .steps(run)?
                .iter()
                .any(|s| s.index == step && s.outcome.is_none()))
        };
        let way_on = |mut message: String, resumable: bool| {
            if !resumable {
                message.push_str("; ");
                message.push_str(NOT_RESUMABLE);
            }
            message
        };
        match &result {
            Ok(Ended::Done { .. }) => self.journal.end_run(run, RunState::Done, None)?,
            Ok(Ended::Halted(halt)) => {
                let headline = way_on(halt.headline(), halt.resumable());
                if begun(halt.step())? {
                    self.journal
                        .step_outcome(run, halt.step(), "halted", Some(&headline))?;
                }
                self.journal
                    .end_run(run, RunState::Halted, Some(&headline))?;
            }
            Err(e) => {
                let mut message = e.to_string();
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    message.push_str(": ");
                    message.push_str(&s.to_string());
                    source = s.source();
                }
                let message = way_on(message, e.resumable());
                if let Some(step) = e.step()
                    && begun(step)?
                {
                    self.journal
                        .step_outcome(run, step, "failed", Some(&message))?;
                }
                self.journal
                    .end_run(run, RunState::Failed, Some(&message))?;
            }
        }
        if let Ok(Some(anchor)) = self.audit.checkpoint() {
            self.journal.anchor_last(run, &anchor)?;
        }
        result
    }

    /// Run each planned step of `plan` not yet journaled done, by the phases
    /// of a step: observe before (or take the last step's verification), place
    /// a step begun in an earlier attempt ([`Self::reopen`]), judge the rest of
    /// the plan ([`Self::judge`]), run the operations ([`Self::operate`]) and
    /// verify the state after ([`Self::verify`]).
    fn run_steps(
        &self,
        plan: &Plan,
        run: i64,
        overrides: &Overrides,
        progress: &mut dyn Progress,
    ) -> Result<Ended, ApplyError> {
        let states = plan.states().map_err(ApplyError::Plan)?;
        let planned: Vec<&Step> = plan.planned().collect();
        progress.event(&Event::Run {
            run,
            planned: planned.len(),
        });
        let journaled: std::collections::BTreeMap<usize, StepRecord> = self
            .journal
            .steps(run)?
            .into_iter()
            .map(|s| (s.index, s))
            .collect();
        let mut ledger = self.ledger(run)?;
        let mut end = plan.start.clone();
        // The observation that verified the last step this process ran:
        // nothing has acted since, so it is the next step's observation
        // before (see the module docs).
        let mut verified: Option<Deployment> = None;
        for (position, step) in planned.iter().enumerate() {
            let index = step.index;
            progress.event(&Event::Step {
                index,
                id: step.action.id().to_owned(),
                action: step.action.name().to_owned(),
                target: step.target.clone(),
                position: position + 1,
                planned: planned.len(),
            });
            let before = states.get(index - 1).unwrap_or(&plan.start);
            let after = states.get(index).unwrap_or(before);
            let record = journaled.get(&index);
            let at = At {
                run,
                step,
                before,
                after,
            };
            if record.is_some_and(|r| matches!(r.outcome.as_deref(), Some("done" | "already-held")))
            {
                progress.event(&Event::StepEnd {
                    index,
                    end: StepEnd::Journaled,
                });
                after.clone_into(&mut end);
                continue;
            }
            step.check_operations(before)
                .map_err(ApplyError::Operations)?;
            self.fail("before-intent");
            let mut observed = match verified.take() {
                Some(observed) => observed,
                None => {
                    progress.event(&Event::Observe {
                        index,
                        when: "before",
                    });
                    self.observe(plan, &planned, &ledger, index)?
                }
            };
            not_yet_verified(&mut observed, before, &planned, index);
            // What the gate judges: the observed state and the rest of the
            // plan from this step on — or, for a topology published and not
            // yet enabled, the state before the step.
            let mut rest: Vec<Step> = planned[position..].iter().map(|s| (*s).clone()).collect();
            let (judged, resumed) = if record.is_some() {
                match self.reopen(&at, &observed, &mut ledger, &mut rest)? {
                    Reopened::Held => {
                        progress.event(&Event::StepEnd {
                            index,
                            end: StepEnd::AlreadyHeld,
                        });
                        end = observed;
                        continue;
                    }
                    Reopened::Drift(halt) => return Ok(Ended::Halted(halt)),
                    Reopened::Resumed { judge_before, how } => {
                        (if judge_before { before } else { &observed }, Some(how))
                    }
                }
            } else if &observed != before {
                return Ok(Ended::Halted(Halt::Drift {
                    step: index,
                    action: step.action.name().to_owned(),
                    diff: diff(before, &observed),
                }));
            } else {
                (&observed, None)
            };
            if let ControlFlow::Break(halt) =
                self.judge(plan, &at, judged, &rest, overrides, resumed)?
            {
                return Ok(Ended::Halted(halt));
            }
            self.journal.step_intent(run, index, step.action.name())?;
            self.fail("after-intent");
            if let ControlFlow::Break(halt) = self.operate(plan, &at, &mut ledger, progress)? {
                return Ok(Ended::Halted(halt));
            }
            self.fail("after-effect");
            match self.verify(plan, &planned, &ledger, &at, progress)? {
                ControlFlow::Break(halt) => return Ok(Ended::Halted(halt)),
                ControlFlow::Continue(observed) => {
                    end = observed.clone();
                    verified = Some(observed);
                }
            }
        }
        Ok(Ended::Done { end: Box::new(end) })
    }

    /// The run's operations as journaled.
    fn ledger(&self, run: i64) -> Result<Ledger, ApplyError> {
        let mut ledger = Ledger {
            done: BTreeSet::new(),
            in_doubt: BTreeSet::new(),
        };
        for (step, op, has_outcome) in self.journal.operations(run)? {
            if has_outcome {
                ledger.done.insert((step, op));
            } else {
                ledger.in_doubt.insert((step, op));
            }
        }
        Ok(ledger)
    }

    /// Place `observed` within `step`, begun in an earlier attempt (see the
    /// module docs): held already (journaled so), drift, or where it resumes
    /// — the step anew, between publish and enable, or partway (then the
    /// first of `rest` keeps only what its remaining operations change).
    fn reopen(
        &self,
        at: &At<'_>,
        observed: &Deployment,
        ledger: &mut Ledger,
        rest: &mut [Step],
    ) -> Result<Reopened, ApplyError> {
        let At {
            run,
            step,
            before,
            after,
        } = *at;
        let index = step.index;
        if observed == after {
            self.journal
                .step_outcome(run, index, "already-held", None)?;
            self.audit.decision(Decision {
                run: Some(run),
                step: Some(index),
                action: Some(step.action.name().to_owned()),
                ..Decision::new("already-held")
            });
            return Ok(Reopened::Held);
        }
        let (judge_before, how) = match partway(step, before, observed, ledger)? {
            Partway::Before => {
                // The step starts anew: every operation runs again.
                self.journal.reset_operations(run, index)?;
                ledger.forget(index);
                (
                    false,
                    "resumed from the state before the step: it starts anew",
                )
            }
            Partway::Along {
                published_not_enabled: true,
                ..
            } => (
                true,
                "resumed between publish and enable: the state before the step was judged",
            ),
            Partway::Along { remaining, .. } => {
                // Partway through: what is left of the step is what its
                // remaining operations change.
                if let Some(first) = rest.first_mut() {
                    first.changes = remaining;
                }
                (false, "resumed partway through the step")
            }
            Partway::Drift { nearest } => {
                return Ok(Reopened::Drift(Halt::Drift {
                    step: index,
                    action: step.action.name().to_owned(),
                    diff: diff(&nearest, observed),
                }));
            }
        };
        self.journal.reopen_step(run, index)?;
        Ok(Reopened::Resumed { judge_before, how })
    }

    /// The gate's judgment of `rest` (the plan from `step` on) from `judged`,
    /// audited; a veto halts.
    fn judge(
        &self,
        plan: &Plan,
        at: &At<'_>,
        judged: &Deployment,
        rest: &[Step],
        overrides: &Overrides,
        resumed: Option<&str>,
    ) -> Result<ControlFlow<Halt>, ApplyError> {
        let At { run, step, .. } = *at;
        let index = step.index;
        let findings = self
            .gate
            .check(&plan.goal, judged, rest, overrides)
            .map_err(|source| ApplyError::Gate {
                step: index,
                source,
            })?;
        let vetoed = findings.iter().any(|f| f.blocking);
        self.audit.decision(Decision {
            run: Some(run),
            step: Some(index),
            action: Some(step.action.name().to_owned()),
            findings: findings.clone(),
            detail: resumed.map(str::to_owned),
            ..Decision::new(if vetoed { "veto" } else { "allow" })
        });
        if vetoed {
            return Ok(ControlFlow::Break(Halt::Veto {
                step: index,
                action: step.action.name().to_owned(),
                findings,
            }));
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Run the operations of `step` not journaled done, each between its
    /// intent and its outcome; one in doubt runs again only if it did not
    /// take effect. A topology draft that would not give `after` halts before
    /// its publish.
    fn operate(
        &self,
        plan: &Plan,
        at: &At<'_>,
        ledger: &mut Ledger,
        progress: &mut dyn Progress,
    ) -> Result<ControlFlow<Halt>, ApplyError> {
        let At {
            run, step, after, ..
        } = *at;
        let index = step.index;
        for (i, op) in step.operations.iter().enumerate() {
            if ledger.done.contains(&(index, i)) {
                continue;
            }
            if ledger.in_doubt.contains(&(index, i))
                && execution(op).took_effect(&mut self.context(plan, step, progress))?
            {
                self.journal.op_outcome(run, index, i)?;
                ledger.in_doubt.remove(&(index, i));
                ledger.done.insert((index, i));
                continue;
            }
            if let Operation::PublishTopology(publish) = op
                && let Some(halt) = judge_draft(plan, step, &publish.draft, after)
            {
                return Ok(ControlFlow::Break(halt));
            }
            self.journal.op_intent(run, index, i)?;
            self.fail("op-after-intent");
            execution(op).run(&mut self.context(plan, step, progress))?;
            self.fail("op-after-effect");
            self.journal.op_outcome(run, index, i)?;
            ledger.in_doubt.remove(&(index, i));
            ledger.done.insert((index, i));
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Observe after `step` and compare with `after`, the state the plan
    /// predicts: a difference halts; otherwise the step's records are made
    /// durable and anchored, and the step journaled done. The observation,
    /// which is the next step's before.
    fn verify(
        &self,
        plan: &Plan,
        planned: &[&Step],
        ledger: &Ledger,
        at: &At<'_>,
        progress: &mut dyn Progress,
    ) -> Result<ControlFlow<Halt, Deployment>, ApplyError> {
        let At {
            run, step, after, ..
        } = *at;
        let index = step.index;
        progress.event(&Event::Observe {
            index,
            when: "after",
        });
        let mut observed = self.observe(plan, planned, ledger, index)?;
        not_yet_verified(&mut observed, after, planned, index + 1);
        if &observed != after {
            return Ok(ControlFlow::Break(Halt::Postcondition {
                step: index,
                action: step.action.name().to_owned(),
                diff: diff(after, &observed),
            }));
        }
        // The step's records are durable, and anchored, before the journal
        // says it is done.
        if let Some(anchor) = self.audit.checkpoint().map_err(ApplyError::Audit)? {
            self.journal.anchor_last(run, &anchor)?;
        }
        self.journal.step_outcome(run, index, "done", None)?;
        progress.event(&Event::StepEnd {
            index,
            end: StepEnd::Done,
        });
        self.fail("after-outcome");
        Ok(ControlFlow::Continue(observed))
    }

    /// Observe the deployment, with a pending draft in place of the published
    /// topology (see the module docs).
    fn observe(
        &self,
        plan: &Plan,
        planned: &[&Step],
        ledger: &Ledger,
        index: usize,
    ) -> Result<Deployment, ApplyError> {
        let (mut observation, topology) =
            observe_read(self.plugins, self.zone).map_err(|source| ApplyError::Observe {
                step: index,
                source,
            })?;
        if let Some(draft) = pending_draft(plan, planned, ledger) {
            overlay(&mut observation, draft);
        }
        // With a draft overlaid the topology read is not the observation's:
        // it is read again.
        Ok(assemble_read(&observation, topology)
            .map_err(|source| ApplyError::Assemble {
                step: index,
                source,
            })?
            .deployment)
    }

    /// What running an operation of `step` needs.
    fn context<'a>(
        &'a self,
        plan: &'a Plan,
        step: &'a Step,
        progress: &'a mut dyn Progress,
    ) -> Context<'a> {
        Context {
            plugins: self.plugins,
            plan,
            step,
            progress,
            replica_wait: self.options.replica_wait,
        }
    }
}

impl Ledger {
    /// Forget every operation of step `step`.
    fn forget(&mut self, step: usize) {
        self.done.retain(|(s, _)| *s != step);
        self.in_doubt.retain(|(s, _)| *s != step);
    }
}

/// Read `observed` as the plan reads the deployment until each of its
/// `verify-xmpp-port` steps from step `from` on has run: the TCP 5269 of an
/// Edge pool such a step is to verify open is taken as `predicted` has it.
///
/// The plan counts on a port that refused connections while the pool's
/// services were stopped opening once A1 starts them, and A10 verifies it
/// (docs/policies.md, "A port that opens when the services start"). Between
/// the two the port may already answer, or not yet: neither is drift, and
/// neither is judged, because the plan relies on it only from A10 on, where
/// the re-observation after A10 compares it (a port still shut halts the run).
fn not_yet_verified(
    observed: &mut Deployment,
    predicted: &Deployment,
    planned: &[&Step],
    from: usize,
) {
    let pending = planned
        .iter()
        .filter(|step| step.index >= from && step.action == Action::VerifyXmppPort)
        .flat_map(|step| &step.changes)
        .filter_map(|change| match change {
            Change::XmppPortOpen {
                edge_pool,
                open: true,
            } => Some(edge_pool),
            _ => None,
        });
    for pool in pending {
        let Some(expected) = predicted.edge_pool(pool).map(|p| p.xmpp_port_open) else {
            continue;
        };
        if let Some(seen) = observed
            .edge_pools
            .iter_mut()
            .find(|p| p.fqdn.eq_ignore_ascii_case(pool))
        {
            seen.xmpp_port_open = expected;
        }
    }
}

/// A step where the run meets it: the run, the step, and the states the plan
/// predicts before and after it.
#[derive(Clone, Copy)]
struct At<'p> {
    run: i64,
    step: &'p Step,
    before: &'p Deployment,
    after: &'p Deployment,
}

/// A step begun in an earlier attempt, observed again.
enum Reopened {
    /// What the step does holds already: journaled so, nothing runs.
    Held,
    /// Neither before, along nor after the step.
    Drift(Halt),
    /// The step goes on: `how` it resumed, and whether the gate judges the
    /// state before the step (a topology published and not yet enabled)
    /// rather than the one observed.
    Resumed {
        judge_before: bool,
        how: &'static str,
    },
}

/// Where an observed state is within a step begun in an earlier attempt.
enum Partway {
    /// Before the step: nothing of it holds.
    Before,
    /// After the operations journaled done, or after those and the one in
    /// doubt; `published_not_enabled` when the next operation to run enables
    /// a topology the step published. `remaining`: what the step's operations
    /// not yet done change, from the observed state (they lead to the state
    /// the plan predicts after the step).
    Along {
        published_not_enabled: bool,
        remaining: Vec<Change>,
    },
    /// None of those: drift, shown against the state after the done operations.
    Drift { nearest: Deployment },
}

/// Place `observed` within `step` (see the module docs): the states its
/// operations lead through from `before`, given which are journaled done.
fn partway(
    step: &Step,
    before: &Deployment,
    observed: &Deployment,
    ledger: &Ledger,
) -> Result<Partway, ApplyError> {
    // The state after each prefix of the operations, and what each operation
    // changes from the state before it.
    let mut prefixes = vec![before.clone()];
    let mut effects: Vec<Vec<Change>> = Vec::new();
    let mut state = before.clone();
    for (i, op) in step.operations.iter().enumerate() {
        let problem = |problem: String| {
            ApplyError::Operations(OperationsError::Operation {
                step: step.index,
                action: step.action,
                op: i,
                name: op.name(),
                problem,
            })
        };
        let effect = op.effect(&state).map_err(problem)?;
        for change in &effect {
            state
                .apply(change)
                .map_err(|unknown| problem(unknown.to_string()))?;
        }
        effects.push(effect);
        prefixes.push(state.clone());
    }
    let done = (0..step.operations.len())
        .take_while(|i| ledger.done.contains(&(step.index, *i)))
        .count();
    let in_doubt = ledger.in_doubt.contains(&(step.index, done));
    let published_not_enabled = |k: usize| {
        k > 0
            && matches!(
                step.operations.get(k - 1),
                Some(Operation::PublishTopology(_))
            )
            && matches!(step.operations.get(k), Some(Operation::EnableTopology(_)))
    };
    let along = |k: usize| {
        prefixes
            .get(k)
            .is_some_and(|p| p == observed)
            .then(|| Partway::Along {
                published_not_enabled: published_not_enabled(k),
                remaining: effects.iter().skip(k).flatten().cloned().collect(),
            })
    };
    if let Some(along) = along(done) {
        return Ok(along);
    }
    if in_doubt && let Some(along) = along(done + 1) {
        return Ok(along);
    }
    if in_doubt && part_done(prefixes.get(done), effects.get(done), observed) {
        // A batch cut short (a `set-site-routes` that set some of its routes):
        // its remaining operations are it, run again whole, and those after.
        return Ok(Partway::Along {
            published_not_enabled: false,
            remaining: effects.iter().skip(done).flatten().cloned().collect(),
        });
    }
    if before == observed {
        return Ok(Partway::Before);
    }
    Ok(Partway::Drift {
        nearest: prefixes
            .get(done)
            .cloned()
            .unwrap_or_else(|| before.clone()),
    })
}

/// Whether `observed` is `start` with some of `effect`'s changes made and the
/// others not: each change either holds in `observed` (making it again
/// changes nothing) or is left out, and `start` with the ones that hold is
/// `observed` exactly.
fn part_done(
    start: Option<&Deployment>,
    effect: Option<&Vec<Change>>,
    observed: &Deployment,
) -> bool {
    let (Some(start), Some(effect)) = (start, effect) else {
        return false;
    };
    // Linear in the batch and the deployment: one copy of each state, each
    // change compared on the object it names (`Names::holds`).
    let (names, start_names) = (Names::of(observed), Names::of(start));
    let mut probe = observed.clone();
    let mut part = start.clone();
    for change in effect {
        if names.holds(observed, &mut probe, change)
            && start_names.apply(&mut part, change).is_err()
        {
            return false;
        }
    }
    part == *observed
}

/// Judge the draft `draft` before step `step` publishes it: it must be a
/// topology, and describe exactly `after`, the state the plan predicts after
/// the step. `None` when it does.
fn judge_draft(plan: &Plan, step: &Step, draft: &str, after: &Deployment) -> Option<Halt> {
    let halt = |problem: Option<String>, diff: Vec<FieldDiff>| Halt::Draft {
        step: step.index,
        action: step.action.name().to_owned(),
        draft: draft.to_owned(),
        problem,
        diff,
    };
    let Some(xml) = plan.drafts.get(draft) else {
        return Some(halt(
            Some("the plan has no such draft".to_owned()),
            Vec::new(),
        ));
    };
    match Topology::parse(xml) {
        Err(e) => Some(halt(Some(format!("it is not a topology: {e}")), Vec::new())),
        Ok(topology) => {
            let differences = diff(after, &describe(&topology, after));
            (!differences.is_empty()).then(|| halt(None, differences))
        }
    }
}

/// The draft document whose edit is done and whose publish is not, if any.
fn pending_draft<'p>(plan: &'p Plan, planned: &[&Step], ledger: &Ledger) -> Option<&'p str> {
    let mut pending: Option<&str> = None;
    for step in planned {
        for (i, op) in step.operations.iter().enumerate() {
            if !ledger.done.contains(&(step.index, i)) {
                continue;
            }
            match op {
                Operation::EditDraft(edit) => pending = Some(edit.draft.as_str()),
                Operation::PublishTopology(publish) if pending == Some(publish.draft.as_str()) => {
                    pending = None;
                }
                _ => {}
            }
        }
    }
    pending.and_then(|d| plan.drafts.get(d)).map(String::as_str)
}

/// Read `observation` as if `draft_xml` were the topology: the draft pending.
fn overlay(observation: &mut Observation, draft_xml: &str) {
    draft_xml.clone_into(&mut observation.topology.xml);
    observation.topology.enabled = false;
}

/// Planned steps a plan still has, for messages: `StepStatus::Planned`.
#[must_use]
pub fn planned_count(plan: &Plan) -> usize {
    plan.steps
        .iter()
        .filter(|s| s.status == StepStatus::Planned)
        .count()
}
