//! Plain-Rust reference versions of invariants, written over the WIT types
//! without the engine or the rule API, for the host's property tests: a
//! sequence the policy gate accepts must satisfy them on every state.

use crate::transition::transition;
use crate::{State, Step};

/// DESIGN §2 invariant 1: at most one Edge pool has federation enabled.
pub fn at_most_one_federated_pool(state: &State) -> bool {
    state
        .edge_pools
        .iter()
        .filter(|pool| pool.federation_enabled)
        .count()
        <= 1
}

/// Every state of a trajectory: `start`, then the state after each step,
/// computed naively: a clone per step, objects found by walking the state's
/// lists, each change through `failback_transition::apply` as the host's
/// planner applies it. A change naming an unknown object changes nothing.
/// Independent of the engine's indexes and in-place walk, so the two can be
/// compared.
pub fn states(start: &State, steps: &[Step]) -> Vec<State> {
    let mut states = vec![start.clone()];
    let mut current = start.clone();
    for step in steps {
        for change in &step.changes {
            // An unknown object changes nothing.
            let _ = failback_transition::apply(&mut current, transition(change.clone()));
        }
        states.push(current.clone());
    }
    states
}
