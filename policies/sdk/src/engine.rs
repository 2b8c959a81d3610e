//! The evaluation engine: walks a trajectory (the start state, then the state
//! after each step) over one working [`World`], changed in place, and runs each
//! rule where its scope says.
//!
//! Order of the findings, deterministic: by state; within state `n` (`n ≥ 1`
//! is the state after step `n`), first the transition findings of step `n`,
//! then the findings of the every-state and rest-or-DNS-step rules on state
//! `n`, then (on the last state) the final-state findings; within each group,
//! in the module's rule order, then in each rule's order.
//!
//! A transition rule sees the state step `n` starts from and the step itself
//! (its changes in hand); the state it leads to is judged by the state rules.
//! Transition findings carry state `n`, the step's number.
//!
//! A [`Scope::RestOrDnsStep`] rule runs on the start state, on each state
//! reached by a step with an `rrset` change, and on the last state (once, when
//! that is also a DNS step's state or the start).
//!
//! A change that names no object of the state changes nothing; the
//! [`UNKNOWN_OBJECT`] rule reports it, in the one module that lists it.

use crate::reads::Reads;
use crate::rule::{Ctx, Rule, Scope, Violation};
use crate::world::World;
use crate::{Finding, Goal, RuleInfo, State, Step};

/// A change names no object of the state it applies to. A transition rule of
/// the SDK that a module reports by listing it: every module applies the same
/// changes, so one rule set lists it (the standard module's, through the
/// federation family's rules), and a host that runs several modules gets each
/// finding once.
pub const UNKNOWN_OBJECT: Rule = Rule {
    id: "policy.unknown-object",
    family: "policy",
    invariants: &[],
    scope: Scope::Transition,
    reads: Reads::ALL,
    rationale: "a step that changes an Edge pool, machine, Front End pool or site the state does not hold is a plan for another deployment (or a typo); it changes nothing, so no rule sees the change it meant",
    check: unknown_objects,
};

fn unknown_objects(ctx: &Ctx<'_>) -> Vec<Violation> {
    ctx.step()
        .into_iter()
        .flat_map(|step| step.changes.iter())
        .filter_map(|change| ctx.world.unknown(change))
        .map(|unknown| {
            Violation::new(format!(
                "the step changes `{}` of {} {}, which the state does not hold",
                unknown.change, unknown.kind, unknown.name
            ))
            .value("change", unknown.change)
            .value("kind", unknown.kind)
            .value("name", &unknown.name)
            .hint(format!(
                "name an existing {} in the step, or add it to the observed state",
                unknown.kind
            ))
        })
        .collect()
}

/// What `rules()` of the WIT returns for `rules` (a rest-or-DNS-step rule is
/// reported as `every-state`: see [`Scope::wit`]).
pub fn rule_infos(rules: &[Rule]) -> Vec<RuleInfo> {
    rules
        .iter()
        .map(|rule| RuleInfo {
            id: rule.id.to_owned(),
            family: rule.family.to_owned(),
            invariants: rule.invariants.to_vec(),
            scope: rule.scope.wit(),
            rationale: rule.rationale.to_owned(),
        })
        .collect()
}

/// The results of the state rules on the states seen so far: per rule, its
/// last violations and what the steps touched since it ran, so that a rule
/// whose inputs did not change is not run again.
struct Memo {
    last: Vec<Option<Vec<Violation>>>,
    touched: Vec<Reads>,
}

/// What `check()` of the WIT returns for `rules`: every finding of every rule
/// on every state (and transition) in scope, in state order.
pub fn check(rules: &[Rule], goal: Goal, start: State, steps: Vec<Step>) -> Vec<Finding> {
    let mut world = World::new(start);
    let mut findings = Vec::new();
    let mut memo = Memo {
        last: vec![None; rules.len()],
        touched: vec![Reads::ALL; rules.len()],
    };
    let count = steps.len();
    states(rules, &world, &goal, 0, true, &mut memo, &mut findings);
    let mut state = 0u32;
    for (index, step) in steps.into_iter().enumerate() {
        state = state.saturating_add(1);
        let ctx = Ctx::new(&world, &goal, Some(&step));
        for rule in rules.iter().filter(|rule| rule.scope == Scope::Transition) {
            emit(rule.id, state, (rule.check)(&ctx), &mut findings);
        }
        let mut touched = Reads::NOTHING;
        for change in step.changes {
            // An unknown object changes nothing (UNKNOWN_OBJECT reports it).
            if let Ok(reads) = world.apply(change) {
                touched = touched.and(reads);
            }
        }
        for since in &mut memo.touched {
            *since = since.and(touched);
        }
        let settled = touched.intersects(Reads::DNS) || index + 1 == count;
        states(
            rules,
            &world,
            &goal,
            state,
            settled,
            &mut memo,
            &mut findings,
        );
    }
    let ctx = Ctx::new(&world, &goal, None);
    for rule in rules.iter().filter(|rule| rule.scope == Scope::FinalState) {
        emit(rule.id, state, (rule.check)(&ctx), &mut findings);
    }
    // In a guest, the host drops the instance after the call (wit/policy,
    // `check`): freeing the working state string by string would be work for
    // nothing — a sixth of a check's start at 1,000 pools. Natively it is
    // freed as usual.
    #[cfg(target_arch = "wasm32")]
    std::mem::forget(world);
    findings
}

/// Run the state rules on state `state`: the every-state rules always, the
/// rest-or-DNS-step rules when the state is `settled` (the start, a DNS step's
/// state, the last).
fn states(
    rules: &[Rule],
    world: &World,
    goal: &Goal,
    state: u32,
    settled: bool,
    memo: &mut Memo,
    findings: &mut Vec<Finding>,
) {
    let ctx = Ctx::new(world, goal, None);
    let entries = rules
        .iter()
        .zip(memo.last.iter_mut().zip(memo.touched.iter_mut()));
    for (rule, (last, since)) in entries {
        let runs = match rule.scope {
            Scope::EveryState => true,
            Scope::RestOrDnsStep => settled,
            Scope::Transition | Scope::FinalState => false,
        };
        if !runs {
            continue;
        }
        let violations = match last {
            Some(violations) if !rule.reads.intersects(*since) => violations,
            _ => last.insert((rule.check)(&ctx)),
        };
        *since = Reads::NOTHING;
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
