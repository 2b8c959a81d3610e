//! The evaluation engine: walks a trajectory (the start state, then the state
//! after each step) over one working [`World`], changed in place, and runs each
//! rule where its scope says.
//!
//! Order of the findings, deterministic: by state; within state `n` (`n ≥ 1`
//! is the state after step `n`), first the transition findings of step `n`,
//! then the unknown-object findings of its changes, then the every-state
//! findings of state `n`, then (on the last state) the final-state findings;
//! within each group, in the module's rule order, then in each rule's order.
//!
//! A transition rule sees the state step `n` starts from and the step itself
//! (its changes in hand); the state it leads to is judged by the every-state
//! rules. Transition findings carry state `n`, the step's number.

use crate::rule::{Ctx, Reads, Rule, Violation};
use crate::world::{UnknownObject, World};
use crate::{Finding, Goal, RuleInfo, Scope, State, Step};

/// The id of the finding for a change that names no object of the state. Every
/// module reports it (each applies the changes); it is no rule of any module.
pub const UNKNOWN_OBJECT: &str = "policy.unknown-object";

/// What `rules()` of the WIT returns for `rules`.
pub fn rule_infos(rules: &[Rule]) -> Vec<RuleInfo> {
    rules
        .iter()
        .map(|rule| RuleInfo {
            id: rule.id.to_owned(),
            family: rule.family.to_owned(),
            invariants: rule.invariants.to_vec(),
            scope: rule.scope,
            rationale: rule.rationale.to_owned(),
        })
        .collect()
}

/// What `check()` of the WIT returns for `rules`: every finding of every rule
/// on every state (and transition) in scope, in state order.
pub fn check(rules: &[Rule], goal: Goal, start: State, steps: Vec<Step>) -> Vec<Finding> {
    let mut world = World::new(start);
    let mut findings = Vec::new();
    // The last violations of each every-state rule, re-used while the steps
    // touch nothing the rule reads.
    let mut last: Vec<Option<Vec<Violation>>> = vec![None; rules.len()];
    every_state(
        rules,
        &world,
        &goal,
        0,
        Reads::ALL,
        &mut last,
        &mut findings,
    );
    let mut state = 0u32;
    for step in steps {
        state = state.saturating_add(1);
        let ctx = Ctx::new(&world, &goal, Some(&step));
        for rule in rules.iter().filter(|rule| rule.scope == Scope::Transition) {
            emit(rule.id, state, (rule.check)(&ctx), &mut findings);
        }
        let mut touched = Reads::NOTHING;
        for change in step.changes {
            match world.apply(change) {
                Ok(reads) => touched = touched.and(reads),
                Err(unknown) => findings.push(unknown_object(state, &unknown)),
            }
        }
        every_state(
            rules,
            &world,
            &goal,
            state,
            touched,
            &mut last,
            &mut findings,
        );
    }
    let ctx = Ctx::new(&world, &goal, None);
    for rule in rules.iter().filter(|rule| rule.scope == Scope::FinalState) {
        emit(rule.id, state, (rule.check)(&ctx), &mut findings);
    }
    findings
}

fn every_state(
    rules: &[Rule],
    world: &World,
    goal: &Goal,
    state: u32,
    touched: Reads,
    last: &mut [Option<Vec<Violation>>],
    findings: &mut Vec<Finding>,
) {
    let ctx = Ctx::new(world, goal, None);
    for (rule, last) in rules.iter().zip(last.iter_mut()) {
        if rule.scope != Scope::EveryState {
            continue;
        }
        let violations = match last {
            Some(violations) if !rule.reads.intersects(touched) => violations,
            _ => last.insert((rule.check)(&ctx)),
        };
        emit(rule.id, state, violations.iter().cloned(), findings);
    }
}

fn emit(
    rule: &str,
    state: u32,
    violations: impl IntoIterator<Item = Violation>,
    findings: &mut Vec<Finding>,
) {
    findings.extend(violations.into_iter().map(|violation| Finding {
        rule: rule.to_owned(),
        state,
        message: violation.message,
        values: violation.values,
        hint: violation.hint,
    }));
}

fn unknown_object(state: u32, unknown: &UnknownObject) -> Finding {
    Finding {
        rule: UNKNOWN_OBJECT.to_owned(),
        state,
        message: format!(
            "step {state} changes `{}` of {} {}, which the state does not hold",
            unknown.change, unknown.kind, unknown.name
        ),
        values: vec![
            format!("change={}", unknown.change),
            format!("kind={}", unknown.kind),
            format!("name={}", unknown.name),
        ],
        hint: format!(
            "name an existing {} in the step, or add it to the observed state",
            unknown.kind
        ),
    }
}
