//! What the apply engine reports as it goes ([`Event`]), and where it goes
//! ([`Progress`]): the step loop ([`crate::run::apply`]) and each operation's plugin
//! calls ([`crate::run::operation`]) report here, the CLI draws progress from it.

use serde::Serialize;

/// What a step came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepEnd {
    /// Ran and verified.
    Done,
    /// Done in an earlier run of this plan (journaled).
    Journaled,
    /// In doubt after an interruption, and its postcondition already held.
    AlreadyHeld,
}

/// What the engine reports as it goes, for progress bars and event lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "event")]
pub enum Event {
    /// A run (or resume) starts: `planned` steps.
    Run { run: i64, planned: usize },
    /// A step starts (`position` of `planned`).
    Step {
        index: usize,
        id: String,
        action: String,
        target: Option<String>,
        position: usize,
        planned: usize,
    },
    /// The engine observes the deployment (`before` or `after` the step).
    Observe { index: usize, when: &'static str },
    /// A plugin call is in flight.
    Call {
        index: usize,
        plugin: String,
        function: &'static str,
        argument: String,
    },
    /// A step ended.
    StepEnd { index: usize, end: StepEnd },
}

/// Where the engine's [`Event`]s go.
pub trait Progress {
    fn event(&mut self, event: &Event);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&mut self, _event: &Event) {}
}
