//! The WIT state and change as the transition crate (`failback-transition`)
//! sees them: a WIT `change` converted to the crate's, and a plain [`State`]
//! as a `Deployment` — found by a walk over its lists, written field by
//! field. [`reference`](crate::reference) applies changes to a plain state
//! this way; the engine's [`World`](crate::World) finds objects through its
//! indexes and writes through this same code.

use failback_transition::same_name;

use crate::{Change, PoolState, RouteChange, RouteKind, Rrset, State};

/// A change as the transition crate takes it.
pub(crate) type Transition = failback_transition::Change<RouteChange, Rrset, PoolState>;

/// A change as the transition crate takes it, borrowing the WIT change's
/// fields.
pub(crate) type Named<'c> =
    failback_transition::Change<&'c RouteChange, &'c Rrset, &'c PoolState, &'c str>;

/// The WIT change as the transition crate's (the fields moved, not copied).
pub(crate) fn transition(change: Change) -> Transition {
    use failback_transition::Change as T;
    match change {
        Change::Federation((edge_pool, enabled)) => T::Federation { edge_pool, enabled },
        Change::ServicesRunning((machine, running)) => T::ServicesRunning { machine, running },
        Change::ReplicaUpToDate((machine, up_to_date)) => T::ReplicaUpToDate {
            machine,
            up_to_date,
        },
        Change::SetupVersion((machine, version)) => T::SetupVersion { machine, version },
        Change::Route(route) => T::Route(route),
        Change::Rrset(set) => T::Rrset(set),
        Change::XmppPortOpen((edge_pool, open)) => T::XmppPortOpen { edge_pool, open },
        Change::MediaEdgePool((front_end_pool, edge_pool)) => T::MediaEdgePool {
            front_end_pool,
            edge_pool,
        },
        Change::PoolState((front_end_pool, state)) => T::PoolState {
            front_end_pool,
            state,
        },
        Change::NextHop((edge_pool, next_hop)) => T::NextHop {
            edge_pool,
            next_hop,
        },
        Change::CmsAvailable(available) => T::CmsAvailable { available },
        Change::TopologyVersion(version) => T::TopologyVersion { version },
        Change::DraftPending(pending) => T::DraftPending { pending },
    }
}

/// The WIT change as the transition crate's, borrowed: to ask which object it
/// names without copying it.
pub(crate) fn named(change: &Change) -> Named<'_> {
    use failback_transition::Change as T;
    match change {
        Change::Federation((edge_pool, enabled)) => T::Federation {
            edge_pool,
            enabled: *enabled,
        },
        Change::ServicesRunning((machine, running)) => T::ServicesRunning {
            machine,
            running: *running,
        },
        Change::ReplicaUpToDate((machine, up_to_date)) => T::ReplicaUpToDate {
            machine,
            up_to_date: *up_to_date,
        },
        Change::SetupVersion((machine, version)) => T::SetupVersion {
            machine,
            version: *version,
        },
        Change::Route(route) => T::Route(route),
        Change::Rrset(set) => T::Rrset(set),
        Change::XmppPortOpen((edge_pool, open)) => T::XmppPortOpen {
            edge_pool,
            open: *open,
        },
        Change::MediaEdgePool((front_end_pool, edge_pool)) => T::MediaEdgePool {
            front_end_pool,
            edge_pool: edge_pool.as_deref(),
        },
        Change::PoolState((front_end_pool, state)) => T::PoolState {
            front_end_pool,
            state,
        },
        Change::NextHop((edge_pool, next_hop)) => T::NextHop {
            edge_pool,
            next_hop: next_hop.as_deref(),
        },
        Change::CmsAvailable(available) => T::CmsAvailable {
            available: *available,
        },
        Change::TopologyVersion(version) => T::TopologyVersion { version: *version },
        Change::DraftPending(pending) => T::DraftPending { pending: *pending },
    }
}

/// The position of the record set `name`/`rtype` (`name` a name key).
fn rrset_position(state: &State, set: &Rrset) -> Option<usize> {
    state
        .dns
        .iter()
        .position(|held| held.rtype == set.rtype && same_name(&held.name, &set.name))
}

// A plain state: objects found by walking its lists. A record set is
// replaced in place, a new one added at the end, a deleted one removed.
failback_transition::impl_deployment_for_lists! {
    State,
    route_change: RouteChange,
    record_set: Rrset,
    pool_state: PoolState,
    route_kind: RouteKind,

    fn put_rrset(&mut self, set: Rrset) {
        match rrset_position(self, &set).and_then(|at| self.dns.get_mut(at)) {
            Some(held) => *held = set,
            None => self.dns.push(set),
        }
    }

    fn delete_rrset(&mut self, set: Rrset) {
        if let Some(at) = rrset_position(self, &set) {
            self.dns.remove(at);
        }
    }
}
