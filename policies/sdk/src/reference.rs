//! Plain-Rust reference versions of invariants, written over the WIT types
//! without the engine or the rule API, for the host's property tests: a
//! sequence the policy gate accepts must satisfy them on every state.

use crate::{Change, RouteKind, State, Step};

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
/// computed naively (a clone per step, linear lookups, exact names). A change
/// naming an unknown object changes nothing. Independent of the engine's
/// indexed, in-place walk, so the two can be compared.
pub fn states(start: &State, steps: &[Step]) -> Vec<State> {
    let mut states = vec![start.clone()];
    let mut current = start.clone();
    for step in steps {
        for change in &step.changes {
            apply(&mut current, change);
        }
        states.push(current.clone());
    }
    states
}

fn apply(state: &mut State, change: &Change) {
    let lower = |name: &str| name.trim_end_matches('.').to_ascii_lowercase();
    match change {
        Change::Federation((fqdn, on)) => {
            for pool in state
                .edge_pools
                .iter_mut()
                .filter(|p| lower(&p.fqdn) == lower(fqdn))
            {
                pool.federation_enabled = *on;
            }
        }
        Change::ServicesRunning((fqdn, on)) => {
            for machine in state
                .edge_pools
                .iter_mut()
                .flat_map(|p| p.machines.iter_mut())
            {
                if lower(&machine.fqdn) == lower(fqdn) {
                    machine.services_running = *on;
                }
            }
        }
        Change::ReplicaUpToDate((fqdn, on)) => {
            for machine in state
                .edge_pools
                .iter_mut()
                .flat_map(|p| p.machines.iter_mut())
            {
                if lower(&machine.fqdn) == lower(fqdn) {
                    machine.replica_up_to_date = *on;
                }
            }
        }
        Change::SetupVersion((fqdn, version)) => {
            for machine in state
                .edge_pools
                .iter_mut()
                .flat_map(|p| p.machines.iter_mut())
            {
                if lower(&machine.fqdn) == lower(fqdn) {
                    machine.setup_version = *version;
                }
            }
        }
        Change::Route(route) => {
            for site in state
                .sites
                .iter_mut()
                .filter(|s| lower(&s.name) == lower(&route.site))
            {
                match route.kind {
                    RouteKind::Federation => site.federation_route.clone_from(&route.identity),
                    RouteKind::XmppFederation => site.xmpp_route.clone_from(&route.identity),
                }
            }
        }
        Change::Rrset(rrset) => {
            let name = lower(&rrset.name);
            state
                .dns
                .retain(|set| !(lower(&set.name) == name && set.rtype == rrset.rtype));
            if !rrset.data.is_empty() {
                let mut set = rrset.clone();
                set.name = name;
                state.dns.push(set);
            }
        }
        Change::XmppPortOpen((fqdn, open)) => {
            for pool in state
                .edge_pools
                .iter_mut()
                .filter(|p| lower(&p.fqdn) == lower(fqdn))
            {
                pool.xmpp_port_open = *open;
            }
        }
        Change::MediaEdgePool((fqdn, edge)) => {
            for pool in state
                .front_end_pools
                .iter_mut()
                .filter(|p| lower(&p.fqdn) == lower(fqdn))
            {
                pool.media_edge_pool.clone_from(edge);
            }
        }
        Change::PoolState((fqdn, pool_state)) => {
            for pool in state
                .front_end_pools
                .iter_mut()
                .filter(|p| lower(&p.fqdn) == lower(fqdn))
            {
                pool.state = *pool_state;
            }
        }
        Change::NextHop((fqdn, hop)) => {
            for pool in state
                .edge_pools
                .iter_mut()
                .filter(|p| lower(&p.fqdn) == lower(fqdn))
            {
                pool.next_hop.clone_from(hop);
            }
        }
        Change::StoreAvailable(on) => state.store_available = *on,
        Change::TopologyVersion(version) => state.topology_version = *version,
        Change::DraftPending(on) => state.draft_pending = *on,
    }
}
