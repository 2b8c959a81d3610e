//! The working state of an evaluation: one [`State`], changed in place step by
//! step, with the indexes the rules look objects up by.
//!
//! What a change does is `failback-transition`'s (the host's planner applies
//! changes through it too): the world is a `Deployment` of that crate that
//! finds objects through its indexes and writes through the plain state's
//! code (`transition.rs`).
//!
//! The indexes are built once per `check` call from the start state; a change
//! updates the one field it names and, for the few indexes that depend on
//! values (federation-enabled pools, record sets, the sites per routed pool,
//! the Edge pools per next hop, the Front End pools that are not in service),
//! the index entries it moves. No step clones the state, and no change walks
//! it: a rule that asks which pools the routes name, or which routes lead to a
//! stopped pool, pays for the few pools and offenders, not for every site.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher as _, BuildHasherDefault, Hasher};

use failback_transition::{
    Deployment, DeploymentField, EdgePoolField, FrontEndPoolField, MachineField, UnknownObject,
    name_key, same_name,
};

use crate::reads::{Reads, identity_fqdn, route_of};
use crate::transition::{named, transition};
use crate::{
    Change, EdgeMachine, EdgePool, FrontEndPool, PoolState, RecordType, RouteChange, RouteKind,
    Rrset, Site, State,
};

/// foldhash with its fixed seed: fast for short string keys, with every bit
/// of the hash mixed (a name index uses the low bits for the bucket and the
/// high bits for the tag), and deterministic, so the guest asks WASI for no
/// entropy. Lookups only: no output order ever depends on a map's iteration
/// order.
type Fold = foldhash::fast::FixedState;

pub(crate) type Map<V> = HashMap<String, V, Fold>;

/// Hashes a `u64` that already is a hash.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) fn hash_key(key: &str) -> u64 {
    Fold::default().hash_one(key)
}

/// An index from a name to a position in the state that owns no key string:
/// the key's hash maps to the position, and a lookup checks the name found
/// there; names whose hashes collide go to a small owned map. Built once per
/// `check` without an allocation per object.
#[derive(Debug)]
pub(crate) struct NameIndex<V> {
    by_hash: HashMap<u64, V, BuildHasherDefault<Prehashed>>,
    overflow: Map<V>,
}

impl<V: Copy> NameIndex<V> {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            by_hash: HashMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default()),
            overflow: Map::default(),
        }
    }

    /// Index `name` at `value` unless it is indexed already (the first wins).
    /// `name_at` gives the name of the object at a position.
    fn insert<'s>(&mut self, name: &str, value: V, name_at: impl Fn(V) -> Option<&'s str>) {
        let key = name_key(name);
        let hash = hash_key(&key);
        match self.by_hash.get(&hash) {
            None => {
                self.by_hash.insert(hash, value);
            }
            Some(&held) if name_at(held).is_some_and(|held| same_name(held, &key)) => {}
            Some(_) => {
                self.overflow.entry(key.into_owned()).or_insert(value);
            }
        }
    }

    fn get<'s>(&self, name: &str, name_at: impl Fn(V) -> Option<&'s str>) -> Option<V> {
        let key = name_key(name);
        match self.by_hash.get(&hash_key(&key)) {
            Some(&held) if name_at(held).is_some_and(|held| same_name(held, &key)) => Some(held),
            Some(_) => self.overflow.get(key.as_ref()).copied(),
            None => None,
        }
    }

    /// The value of `name`, to update in place.
    fn get_mut<'s>(
        &mut self,
        name: &str,
        name_at: impl Fn(V) -> Option<&'s str>,
    ) -> Option<&mut V> {
        let key = name_key(name);
        let hash = hash_key(&key);
        let own = self
            .by_hash
            .get(&hash)
            .is_some_and(|&held| name_at(held).is_some_and(|held| same_name(held, &key)));
        if own {
            self.by_hash.get_mut(&hash)
        } else {
            self.overflow.get_mut(key.as_ref())
        }
    }
}

pub(crate) fn rtype_slot(rtype: RecordType) -> usize {
    match rtype {
        RecordType::A => 0,
        RecordType::Aaaa => 1,
        RecordType::Cname => 2,
        RecordType::Srv => 3,
        RecordType::Txt => 4,
    }
}

/// The state being evaluated, with its indexes.
#[derive(Debug)]
pub struct World {
    state: State,
    pools: NameIndex<usize>,
    machines: NameIndex<(usize, usize)>,
    front_ends: NameIndex<usize>,
    sites: NameIndex<usize>,
    /// Per name, the position of its record set of each type.
    dns: NameIndex<[Option<usize>; 5]>,
    /// Indexes of the pools with federation enabled, kept up to date by changes.
    federated: BTreeSet<usize>,
    /// Per route kind ([`route_slot`]), the sites by the pool their route names.
    routes: [Routed; 2],
    /// (Front End pool, Edge pool) positions: the Edge pool's next hop names
    /// the Front End pool. A set of pairs, not a map of sets: built in bulk,
    /// one allocation per node rather than per Front End pool.
    hops: BTreeSet<(usize, usize)>,
    /// The Front End pools (positions) that are down or not in the normal state.
    out_of_service: BTreeSet<usize>,
    /// What the change being applied touched.
    touched: Reads,
}

/// The sites whose route of one kind is set, by what the route resolves to.
/// Pools are never added, removed or renamed by a change, so what a route
/// identity resolves to only changes with the route itself.
#[derive(Debug, Default)]
struct Routed {
    /// (Edge pool, site) positions: the site's route names the pool.
    by_pool: BTreeSet<(usize, usize)>,
    /// The sites whose route is set but names no Edge pool.
    unresolved: BTreeSet<usize>,
}

impl Routed {
    fn add(&mut self, site: usize, pool: Option<usize>) {
        match pool {
            Some(p) => {
                self.by_pool.insert((p, site));
            }
            None => {
                self.unresolved.insert(site);
            }
        }
    }

    fn remove(&mut self, site: usize, pool: Option<usize>) {
        match pool {
            Some(p) => {
                self.by_pool.remove(&(p, site));
            }
            None => {
                self.unresolved.remove(&site);
            }
        }
    }
}

fn route_slot(kind: RouteKind) -> usize {
    match kind {
        RouteKind::Federation => 0,
        RouteKind::XmppFederation => 1,
    }
}

/// The distinct first positions of a set of pairs, in order: a jump per
/// distinct value, not a walk over the pairs.
fn firsts(pairs: &BTreeSet<(usize, usize)>) -> impl Iterator<Item = usize> + '_ {
    let mut next = pairs.first().map(|&(first, _)| first);
    std::iter::from_fn(move || {
        let first = next?;
        next = first
            .checked_add(1)
            .and_then(|after| pairs.range((after, 0)..).next())
            .map(|&(following, _)| following);
        Some(first)
    })
}

/// The second positions of the pairs whose first is `first`, in order.
fn seconds(pairs: &BTreeSet<(usize, usize)>, first: usize) -> impl Iterator<Item = usize> + '_ {
    pairs
        .range((first, 0)..=(first, usize::MAX))
        .map(|&(_, second)| second)
}

/// A Front End pool is in service when it is online and in the normal state.
fn in_service(pool: &FrontEndPool) -> bool {
    pool.online && pool.state == PoolState::Normal
}

fn pool_name(state: &State, p: usize) -> Option<&str> {
    state.edge_pools.get(p).map(|pool| pool.fqdn.as_str())
}

fn machine_name(state: &State, (p, m): (usize, usize)) -> Option<&str> {
    let machine = state.edge_pools.get(p)?.machines.get(m)?;
    Some(machine.fqdn.as_str())
}

fn front_end_name(state: &State, i: usize) -> Option<&str> {
    state.front_end_pools.get(i).map(|pool| pool.fqdn.as_str())
}

fn site_name(state: &State, i: usize) -> Option<&str> {
    state.sites.get(i).map(|site| site.name.as_str())
}

fn rrset_name(state: &State, slots: [Option<usize>; 5]) -> Option<&str> {
    let index = slots.into_iter().flatten().next()?;
    state.dns.get(index).map(|set| set.name.as_str())
}

impl World {
    /// Index `state`. The first of two objects with the same name wins the index.
    pub fn new(state: State) -> Self {
        let machine_count = state
            .edge_pools
            .iter()
            .map(|pool| pool.machines.len())
            .sum();
        let mut pools = NameIndex::with_capacity(state.edge_pools.len());
        let mut machines = NameIndex::with_capacity(machine_count);
        let mut federated = BTreeSet::new();
        for (p, pool) in state.edge_pools.iter().enumerate() {
            pools.insert(&pool.fqdn, p, |i| pool_name(&state, i));
            for (m, machine) in pool.machines.iter().enumerate() {
                machines.insert(&machine.fqdn, (p, m), |at| machine_name(&state, at));
            }
            if pool.federation_enabled {
                federated.insert(p);
            }
        }
        let mut front_ends = NameIndex::with_capacity(state.front_end_pools.len());
        for (i, pool) in state.front_end_pools.iter().enumerate() {
            front_ends.insert(&pool.fqdn, i, |at| front_end_name(&state, at));
        }
        let mut sites = NameIndex::with_capacity(state.sites.len());
        for (i, site) in state.sites.iter().enumerate() {
            sites.insert(&site.name, i, |at| site_name(&state, at));
        }
        let mut dns = NameIndex::with_capacity(state.dns.len());
        for (i, rrset) in state.dns.iter().enumerate() {
            add_rrset(&mut dns, &state, &rrset.name, rrset.rtype, i);
        }
        let out_of_service = state
            .front_end_pools
            .iter()
            .enumerate()
            .filter(|(_, pool)| !in_service(pool))
            .map(|(i, _)| i)
            .collect();
        let mut world = Self {
            state,
            pools,
            machines,
            front_ends,
            sites,
            dns,
            federated,
            routes: [Routed::default(), Routed::default()],
            hops: BTreeSet::new(),
            out_of_service,
            touched: Reads::NOTHING,
        };
        for kind in [RouteKind::Federation, RouteKind::XmppFederation] {
            world.routes[route_slot(kind)] = world.routed(kind);
        }
        let hops: Vec<(usize, usize)> = world
            .state
            .edge_pools
            .iter()
            .enumerate()
            .filter_map(|(p, pool)| Some((world.hop_index(pool.next_hop.as_deref())?, p)))
            .collect();
        world.hops = hops.into_iter().collect();
        world
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn pool(&self, fqdn: &str) -> Option<&EdgePool> {
        let index = self.pool_index(fqdn)?;
        self.state.edge_pools.get(index)
    }

    pub fn machine(&self, fqdn: &str) -> Option<(&EdgePool, &EdgeMachine)> {
        let (p, m) = self.machine_index(fqdn)?;
        let pool = self.state.edge_pools.get(p)?;
        Some((pool, pool.machines.get(m)?))
    }

    pub fn front_end_pool(&self, fqdn: &str) -> Option<&FrontEndPool> {
        let index = self.front_end_index(fqdn)?;
        self.state.front_end_pools.get(index)
    }

    pub fn site(&self, name: &str) -> Option<&Site> {
        let index = self.site_index(name)?;
        self.state.sites.get(index)
    }

    /// The pools with federation enabled, in state order.
    pub fn federated_pools(&self) -> impl Iterator<Item = &EdgePool> {
        self.federated
            .iter()
            .filter_map(|&p| self.state.edge_pools.get(p))
    }

    /// The distinct Edge pools the set routes of `kind` name, in state order.
    pub(crate) fn routed_pools(&self, kind: RouteKind) -> impl Iterator<Item = &EdgePool> {
        firsts(&self.routes[route_slot(kind)].by_pool).filter_map(|p| self.state.edge_pools.get(p))
    }

    /// Some site's route of `kind` is set.
    pub(crate) fn has_routes(&self, kind: RouteKind) -> bool {
        let routed = &self.routes[route_slot(kind)];
        !routed.by_pool.is_empty() || !routed.unresolved.is_empty()
    }

    /// The sites whose route of `kind` names no Edge pool (when `unresolved`)
    /// or names a pool for which `pick` holds, in state order. Asks `pick` once
    /// per distinct routed pool and walks only the sites returned.
    pub(crate) fn routing_sites(
        &self,
        kind: RouteKind,
        unresolved: bool,
        pick: impl Fn(&EdgePool) -> bool,
    ) -> Vec<&Site> {
        let routed = &self.routes[route_slot(kind)];
        let mut positions: Vec<usize> = Vec::new();
        if unresolved {
            positions.extend(routed.unresolved.iter().copied());
        }
        for p in firsts(&routed.by_pool) {
            if self.state.edge_pools.get(p).is_some_and(&pick) {
                positions.extend(seconds(&routed.by_pool, p));
            }
        }
        // Each site is in one entry: sorting is enough for state order.
        positions.sort_unstable();
        positions
            .into_iter()
            .filter_map(|s| self.state.sites.get(s))
            .collect()
    }

    /// The Edge pools whose next hop names a Front End pool that is down or
    /// not in the normal state, in state order, each with that pool.
    pub(crate) fn hops_out_of_service(&self) -> Vec<(&EdgePool, &FrontEndPool)> {
        let mut found: Vec<(usize, usize)> = self
            .out_of_service
            .iter()
            .flat_map(|&f| seconds(&self.hops, f).map(move |p| (p, f)))
            .collect();
        found.sort_unstable();
        found
            .into_iter()
            .filter_map(|(p, f)| {
                Some((
                    self.state.edge_pools.get(p)?,
                    self.state.front_end_pools.get(f)?,
                ))
            })
            .collect()
    }

    /// Index the routes of `kind` of the state. Built from sorted positions in
    /// bulk, resolving each distinct identity once in a row (sites mostly
    /// share their route).
    fn routed(&self, kind: RouteKind) -> Routed {
        let mut by_pool = Vec::new();
        let mut unresolved = Vec::new();
        let mut last: Option<(&str, Option<usize>)> = None;
        for (s, site) in self.state.sites.iter().enumerate() {
            let Some(identity) = route_of(site, kind) else {
                continue;
            };
            let pool = match last {
                Some((held, pool)) if held == identity => pool,
                _ => self.identity_pool(identity),
            };
            last = Some((identity, pool));
            match pool {
                Some(p) => by_pool.push((p, s)),
                None => unresolved.push(s),
            }
        }
        Routed {
            by_pool: by_pool.into_iter().collect(),
            unresolved: unresolved.into_iter().collect(),
        }
    }

    /// The position of the Edge pool a route identity names.
    fn identity_pool(&self, identity: &str) -> Option<usize> {
        self.pool_index(identity_fqdn(identity)?)
    }

    /// The position of the Front End pool a next hop names.
    fn hop_index(&self, hop: Option<&str>) -> Option<usize> {
        self.front_end_index(hop?)
    }

    /// The record set `name`/`rtype`, if it exists (holds at least one record).
    pub fn rrset(&self, name: &str, rtype: RecordType) -> Option<&Rrset> {
        let state = &self.state;
        let index = self.dns.get(name, |slots| rrset_name(state, slots))?[rtype_slot(rtype)]?;
        state.dns.get(index).filter(|set| !set.data.is_empty())
    }

    /// The position of the set of `set`'s name and type, emptied or not.
    fn rrset_position(&self, set: &Rrset) -> Option<usize> {
        let state = &self.state;
        self.dns
            .get(&set.name, |slots| rrset_name(state, slots))
            .and_then(|slots| slots[rtype_slot(set.rtype)])
    }

    fn pool_index(&self, fqdn: &str) -> Option<usize> {
        self.pools.get(fqdn, |i| pool_name(&self.state, i))
    }

    fn machine_index(&self, fqdn: &str) -> Option<(usize, usize)> {
        self.machines.get(fqdn, |at| machine_name(&self.state, at))
    }

    fn front_end_index(&self, fqdn: &str) -> Option<usize> {
        self.front_ends
            .get(fqdn, |i| front_end_name(&self.state, i))
    }

    fn site_index(&self, name: &str) -> Option<usize> {
        self.sites.get(name, |i| site_name(&self.state, i))
    }

    /// The object `change` names, when the state does not hold it (a record
    /// set is never unknown: a change creates it).
    pub(crate) fn unknown(&self, change: &Change) -> Option<UnknownObject> {
        failback_transition::unknown(self, &named(change))
    }

    /// Apply one change in place ([`failback_transition::apply`]); say which
    /// parts of the state it touched.
    pub(crate) fn apply(&mut self, change: Change) -> Result<Reads, UnknownObject> {
        self.touched = Reads::NOTHING;
        failback_transition::apply(self, transition(change))?;
        Ok(self.touched)
    }
}

/// The working state: objects found through the indexes; each write keeps
/// the indexes it moves up to date, then writes the plain state.
impl Deployment for World {
    type RouteChange = RouteChange;
    type RecordSet = Rrset;
    type PoolState = PoolState;
    type EdgePool = usize;
    type Machine = (usize, usize);
    type FrontEndPool = usize;
    type Site = usize;

    fn find_edge_pool(&self, fqdn: &str) -> Option<usize> {
        self.pool_index(fqdn)
    }

    fn find_machine(&self, fqdn: &str) -> Option<(usize, usize)> {
        self.machine_index(fqdn)
    }

    fn find_front_end_pool(&self, fqdn: &str) -> Option<usize> {
        self.front_end_index(fqdn)
    }

    fn find_site(&self, name: &str) -> Option<usize> {
        self.site_index(name)
    }

    fn set_edge_pool(&mut self, p: usize, field: EdgePoolField) {
        match &field {
            EdgePoolField::Federation(on) => {
                if *on {
                    self.federated.insert(p);
                } else {
                    self.federated.remove(&p);
                }
                self.touched = self.touched.and(Reads::FEDERATION);
            }
            EdgePoolField::XmppPortOpen(_) => self.touched = self.touched.and(Reads::XMPP_PORT),
            EdgePoolField::NextHop(hop) => {
                let old = self
                    .state
                    .edge_pools
                    .get(p)
                    .and_then(|pool| self.hop_index(pool.next_hop.as_deref()));
                if let Some(f) = old {
                    self.hops.remove(&(f, p));
                }
                if let Some(f) = self.hop_index(hop.as_deref()) {
                    self.hops.insert((f, p));
                }
                self.touched = self.touched.and(Reads::NEXT_HOP);
            }
        }
        self.state.set_edge_pool(p, field);
    }

    fn set_machine(&mut self, machine: (usize, usize), field: MachineField) {
        let touched = match field {
            MachineField::ServicesRunning(_) => Reads::SERVICES,
            MachineField::ReplicaUpToDate(_) => Reads::REPLICA,
            MachineField::SetupVersion(_) => Reads::SETUP_VERSION,
        };
        self.touched = self.touched.and(touched);
        self.state.set_machine(machine, field);
    }

    fn set_front_end_pool(&mut self, f: usize, field: FrontEndPoolField<PoolState>) {
        let touched = match field {
            FrontEndPoolField::MediaEdgePool(_) => Reads::MEDIA,
            FrontEndPoolField::State(_) | FrontEndPoolField::NoFailover => Reads::POOL_STATE,
        };
        self.touched = self.touched.and(touched);
        self.state.set_front_end_pool(f, field);
        if let Some(pool) = self.state.front_end_pools.get(f) {
            if in_service(pool) {
                self.out_of_service.remove(&f);
            } else {
                self.out_of_service.insert(f);
            }
        }
    }

    fn set_route(&mut self, s: usize, route: RouteChange) {
        let old = self
            .state
            .sites
            .get(s)
            .and_then(|site| route_of(site, route.kind))
            .map(|identity| self.identity_pool(identity));
        let new = route
            .identity
            .as_deref()
            .map(|identity| self.identity_pool(identity));
        let routed = &mut self.routes[route_slot(route.kind)];
        if let Some(pool) = old {
            routed.remove(s, pool);
        }
        if let Some(pool) = new {
            routed.add(s, pool);
        }
        self.touched = self.touched.and(Reads::ROUTES);
        self.state.set_route(s, route);
    }

    /// A set the state holds is replaced in place (so that no other index
    /// moves); a new one is added at the end and indexed.
    fn put_rrset(&mut self, set: Rrset) {
        self.touched = self.touched.and(Reads::DNS);
        match self
            .rrset_position(&set)
            .and_then(|at| self.state.dns.get_mut(at))
        {
            Some(held) => *held = set,
            None => {
                let index = self.state.dns.len();
                let (name, rtype) = (set.name.clone(), set.rtype);
                self.state.dns.push(set);
                add_rrset(&mut self.dns, &self.state, &name, rtype, index);
            }
        }
    }

    /// A deleted set stays in place, emptied (it reads as absent), so that no
    /// other index moves.
    fn delete_rrset(&mut self, set: Rrset) {
        self.touched = self.touched.and(Reads::DNS);
        if let Some(held) = self
            .rrset_position(&set)
            .and_then(|at| self.state.dns.get_mut(at))
        {
            *held = set;
        }
    }

    fn set_deployment(&mut self, field: DeploymentField) {
        let touched = match field {
            DeploymentField::CmsAvailable(_) => Reads::STORE,
            DeploymentField::TopologyVersion(_) => Reads::TOPOLOGY_VERSION,
            DeploymentField::DraftPending(_) => Reads::DRAFT,
        };
        self.touched = self.touched.and(touched);
        self.state.set_deployment(field);
    }
}

/// Index the record set at `index` under `name`/`rtype` (the first wins).
fn add_rrset(
    dns: &mut NameIndex<[Option<usize>; 5]>,
    state: &State,
    name: &str,
    rtype: RecordType,
    index: usize,
) {
    let slot = rtype_slot(rtype);
    match dns.get_mut(name, |slots| rrset_name(state, slots)) {
        Some(slots) => {
            if slots[slot].is_none() {
                slots[slot] = Some(index);
            }
        }
        None => {
            let mut slots = [None; 5];
            slots[slot] = Some(index);
            dns.insert(name, slots, |slots| rrset_name(state, slots));
        }
    }
}
