//! The working state of an evaluation: one [`State`], changed in place step by
//! step, with the indexes the rules look objects up by.
//!
//! The indexes are built once per `check` call from the start state; a change
//! updates the one field it names and, for the few indexes that depend on
//! values (federation-enabled pools, record sets), the index entry it moves. No
//! step clones the state.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use crate::rule::Reads;
use crate::{
    Change, EdgeMachine, EdgePool, FrontEndPool, RecordType, RouteKind, Rrset, Site, State,
};

/// FxHash (rustc's hasher): fast for short string keys, and needs no random
/// seed, so the guest asks WASI for no entropy. Lookups only: no output order
/// ever depends on a map's iteration order.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(SEED);
        }
    }
    fn write_u8(&mut self, byte: u8) {
        self.write(&[byte]);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type Map<V> = HashMap<String, V, BuildHasherDefault<FxHasher>>;

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

fn hash_key(key: &str) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(key.as_bytes());
    hasher.finish()
}

/// Two names are the same, ignoring ASCII case and a final dot.
fn same_key(name: &str, key: &str) -> bool {
    name.strip_suffix('.')
        .unwrap_or(name)
        .eq_ignore_ascii_case(key)
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
            Some(&held) if name_at(held).is_some_and(|held| same_key(held, &key)) => {}
            Some(_) => {
                self.overflow.entry(key.into_owned()).or_insert(value);
            }
        }
    }

    fn get<'s>(&self, name: &str, name_at: impl Fn(V) -> Option<&'s str>) -> Option<V> {
        let key = name_key(name);
        match self.by_hash.get(&hash_key(&key)) {
            Some(&held) if name_at(held).is_some_and(|held| same_key(held, &key)) => Some(held),
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
            .is_some_and(|&held| name_at(held).is_some_and(|held| same_key(held, &key)));
        if own {
            self.by_hash.get_mut(&hash)
        } else {
            self.overflow.get_mut(key.as_ref())
        }
    }
}

/// The lookup key of a DNS name, an FQDN or a site name: lower case, no final dot.
pub fn name_key(name: &str) -> Cow<'_, str> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        Cow::Borrowed(trimmed)
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

/// A change that names no object of the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownObject {
    /// What kind of object (`edge pool`, `edge machine`, `front end pool`, `site`).
    pub kind: &'static str,
    pub name: String,
    /// The change, as named in the WIT (`federation`, `services-running`, ...).
    pub change: &'static str,
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
        Self {
            state,
            pools,
            machines,
            front_ends,
            sites,
            dns,
            federated,
        }
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

    /// The record set `name`/`rtype`, if it exists (holds at least one record).
    pub fn rrset(&self, name: &str, rtype: RecordType) -> Option<&Rrset> {
        let state = &self.state;
        let index = self.dns.get(name, |slots| rrset_name(state, slots))?[rtype_slot(rtype)]?;
        state.dns.get(index).filter(|set| !set.data.is_empty())
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
        let pool = |fqdn: &str, what| {
            self.pool_index(fqdn)
                .is_none()
                .then(|| unknown("edge pool", fqdn, what))
        };
        let machine = |fqdn: &str, what| {
            self.machine_index(fqdn)
                .is_none()
                .then(|| unknown("edge machine", fqdn, what))
        };
        let front_end = |fqdn: &str, what| {
            self.front_end_index(fqdn)
                .is_none()
                .then(|| unknown("front end pool", fqdn, what))
        };
        match change {
            Change::Federation((fqdn, _)) => pool(fqdn, "federation"),
            Change::XmppPortOpen((fqdn, _)) => pool(fqdn, "xmpp-port-open"),
            Change::NextHop((fqdn, _)) => pool(fqdn, "next-hop"),
            Change::ServicesRunning((fqdn, _)) => machine(fqdn, "services-running"),
            Change::ReplicaUpToDate((fqdn, _)) => machine(fqdn, "replica-up-to-date"),
            Change::SetupVersion((fqdn, _)) => machine(fqdn, "setup-version"),
            Change::MediaEdgePool((fqdn, _)) => front_end(fqdn, "media-edge-pool"),
            Change::PoolState((fqdn, _)) => front_end(fqdn, "pool-state"),
            Change::Route(route) => self
                .site_index(&route.site)
                .is_none()
                .then(|| unknown("site", &route.site, "route")),
            Change::Rrset(_)
            | Change::StoreAvailable(_)
            | Change::TopologyVersion(_)
            | Change::DraftPending(_) => None,
        }
    }

    /// Apply one change in place; say which parts of the state it touched.
    pub(crate) fn apply(&mut self, change: Change) -> Result<Reads, UnknownObject> {
        match change {
            Change::Federation((fqdn, on)) => {
                let p = self
                    .pool_index(&fqdn)
                    .ok_or_else(|| unknown("edge pool", &fqdn, "federation"))?;
                if let Some(pool) = self.state.edge_pools.get_mut(p) {
                    pool.federation_enabled = on;
                }
                if on {
                    self.federated.insert(p);
                } else {
                    self.federated.remove(&p);
                }
                Ok(Reads::FEDERATION)
            }
            Change::ServicesRunning((fqdn, on)) => {
                self.machine_mut(&fqdn, "services-running")?
                    .services_running = on;
                Ok(Reads::SERVICES)
            }
            Change::ReplicaUpToDate((fqdn, on)) => {
                self.machine_mut(&fqdn, "replica-up-to-date")?
                    .replica_up_to_date = on;
                Ok(Reads::REPLICA)
            }
            Change::SetupVersion((fqdn, version)) => {
                self.machine_mut(&fqdn, "setup-version")?.setup_version = version;
                Ok(Reads::SETUP_VERSION)
            }
            Change::Route(route) => {
                let site = self
                    .site_index(&route.site)
                    .and_then(|i| self.state.sites.get_mut(i))
                    .ok_or_else(|| unknown("site", &route.site, "route"))?;
                match route.kind {
                    RouteKind::Federation => site.federation_route = route.identity,
                    RouteKind::XmppFederation => site.xmpp_route = route.identity,
                }
                Ok(Reads::ROUTES)
            }
            Change::Rrset(mut rrset) => {
                let key = name_key(&rrset.name);
                if key != rrset.name.as_str() {
                    rrset.name = key.into_owned();
                }
                let state = &self.state;
                let slot = rtype_slot(rrset.rtype);
                let existing = self
                    .dns
                    .get(&rrset.name, |slots| rrset_name(state, slots))
                    .and_then(|slots| slots[slot]);
                match existing {
                    Some(index) => {
                        if let Some(set) = self.state.dns.get_mut(index) {
                            // An emptied set stays in place (it reads as absent), so
                            // that no other index moves.
                            *set = rrset;
                        }
                    }
                    None if rrset.data.is_empty() => {}
                    None => {
                        let index = self.state.dns.len();
                        let (name, rtype) = (rrset.name.clone(), rrset.rtype);
                        self.state.dns.push(rrset);
                        add_rrset(&mut self.dns, &self.state, &name, rtype, index);
                    }
                }
                Ok(Reads::DNS)
            }
            Change::XmppPortOpen((fqdn, open)) => {
                self.pool_mut(&fqdn, "xmpp-port-open")?.xmpp_port_open = open;
                Ok(Reads::XMPP_PORT)
            }
            Change::MediaEdgePool((fqdn, edge)) => {
                self.front_end_mut(&fqdn, "media-edge-pool")?
                    .media_edge_pool = edge;
                Ok(Reads::MEDIA)
            }
            Change::PoolState((fqdn, state)) => {
                self.front_end_mut(&fqdn, "pool-state")?.state = state;
                Ok(Reads::POOL_STATE)
            }
            Change::NextHop((fqdn, hop)) => {
                self.pool_mut(&fqdn, "next-hop")?.next_hop = hop;
                Ok(Reads::NEXT_HOP)
            }
            Change::StoreAvailable(on) => {
                self.state.store_available = on;
                Ok(Reads::STORE)
            }
            Change::TopologyVersion(version) => {
                self.state.topology_version = version;
                Ok(Reads::TOPOLOGY_VERSION)
            }
            Change::DraftPending(on) => {
                self.state.draft_pending = on;
                Ok(Reads::DRAFT)
            }
        }
    }

    fn pool_mut(
        &mut self,
        fqdn: &str,
        change: &'static str,
    ) -> Result<&mut EdgePool, UnknownObject> {
        self.pool_index(fqdn)
            .and_then(|p| self.state.edge_pools.get_mut(p))
            .ok_or_else(|| unknown("edge pool", fqdn, change))
    }

    fn machine_mut(
        &mut self,
        fqdn: &str,
        change: &'static str,
    ) -> Result<&mut EdgeMachine, UnknownObject> {
        self.machine_index(fqdn)
            .and_then(|(p, m)| self.state.edge_pools.get_mut(p)?.machines.get_mut(m))
            .ok_or_else(|| unknown("edge machine", fqdn, change))
    }

    fn front_end_mut(
        &mut self,
        fqdn: &str,
        change: &'static str,
    ) -> Result<&mut FrontEndPool, UnknownObject> {
        self.front_end_index(fqdn)
            .and_then(|i| self.state.front_end_pools.get_mut(i))
            .ok_or_else(|| unknown("front end pool", fqdn, change))
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

fn unknown(kind: &'static str, name: &str, change: &'static str) -> UnknownObject {
    UnknownObject {
        kind,
        name: name.to_owned(),
        change,
    }
}
