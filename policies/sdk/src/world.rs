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
    pools: Map<usize>,
    machines: Map<(usize, usize)>,
    front_ends: Map<usize>,
    sites: Map<usize>,
    dns: Map<[Option<usize>; 5]>,
    /// Indexes of the pools with federation enabled, kept up to date by changes.
    federated: BTreeSet<usize>,
}

impl World {
    /// Index `state`. The first of two objects with the same name wins the index.
    pub fn new(state: State) -> Self {
        let mut pools = Map::default();
        let mut machines = Map::default();
        let mut federated = BTreeSet::new();
        for (p, pool) in state.edge_pools.iter().enumerate() {
            pools.entry(name_key(&pool.fqdn).into_owned()).or_insert(p);
            for (m, machine) in pool.machines.iter().enumerate() {
                machines
                    .entry(name_key(&machine.fqdn).into_owned())
                    .or_insert((p, m));
            }
            if pool.federation_enabled {
                federated.insert(p);
            }
        }
        let mut front_ends = Map::default();
        for (i, pool) in state.front_end_pools.iter().enumerate() {
            front_ends
                .entry(name_key(&pool.fqdn).into_owned())
                .or_insert(i);
        }
        let mut sites = Map::default();
        for (i, site) in state.sites.iter().enumerate() {
            sites.entry(name_key(&site.name).into_owned()).or_insert(i);
        }
        let mut dns: Map<[Option<usize>; 5]> = Map::default();
        for (i, rrset) in state.dns.iter().enumerate() {
            let slot = &mut dns.entry(name_key(&rrset.name).into_owned()).or_default()
                [rtype_slot(rrset.rtype)];
            if slot.is_none() {
                *slot = Some(i);
            }
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
        let index = *self.pools.get(name_key(fqdn).as_ref())?;
        self.state.edge_pools.get(index)
    }

    pub fn machine(&self, fqdn: &str) -> Option<(&EdgePool, &EdgeMachine)> {
        let (p, m) = *self.machines.get(name_key(fqdn).as_ref())?;
        let pool = self.state.edge_pools.get(p)?;
        Some((pool, pool.machines.get(m)?))
    }

    pub fn front_end_pool(&self, fqdn: &str) -> Option<&FrontEndPool> {
        let index = *self.front_ends.get(name_key(fqdn).as_ref())?;
        self.state.front_end_pools.get(index)
    }

    pub fn site(&self, name: &str) -> Option<&Site> {
        let index = *self.sites.get(name_key(name).as_ref())?;
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
        let index = self.dns.get(name_key(name).as_ref())?[rtype_slot(rtype)]?;
        self.state.dns.get(index).filter(|set| !set.data.is_empty())
    }

    /// Apply one change in place; say which parts of the state it touched.
    pub(crate) fn apply(&mut self, change: Change) -> Result<Reads, UnknownObject> {
        match change {
            Change::Federation((fqdn, on)) => {
                let p = self.pool_index(&fqdn, "federation")?;
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
                let index = self
                    .sites
                    .get(name_key(&route.site).as_ref())
                    .copied()
                    .ok_or_else(|| unknown("site", &route.site, "route"))?;
                if let Some(site) = self.state.sites.get_mut(index) {
                    match route.kind {
                        RouteKind::Federation => site.federation_route = route.identity,
                        RouteKind::XmppFederation => site.xmpp_route = route.identity,
                    }
                }
                Ok(Reads::ROUTES)
            }
            Change::Rrset(mut rrset) => {
                let key = name_key(&rrset.name).into_owned();
                rrset.name.clone_from(&key);
                let slot = rtype_slot(rrset.rtype);
                let existing = self.dns.get(&key).and_then(|slots| slots[slot]);
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
                        self.state.dns.push(rrset);
                        self.dns.entry(key).or_default()[slot] = Some(index);
                    }
                }
                Ok(Reads::DNS)
            }
            Change::XmppPortOpen((fqdn, open)) => {
                let p = self.pool_index(&fqdn, "xmpp-port-open")?;
                if let Some(pool) = self.state.edge_pools.get_mut(p) {
                    pool.xmpp_port_open = open;
                }
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
                let p = self.pool_index(&fqdn, "next-hop")?;
                if let Some(pool) = self.state.edge_pools.get_mut(p) {
                    pool.next_hop = hop;
                }
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

    fn pool_index(&self, fqdn: &str, change: &'static str) -> Result<usize, UnknownObject> {
        self.pools
            .get(name_key(fqdn).as_ref())
            .copied()
            .ok_or_else(|| unknown("edge pool", fqdn, change))
    }

    fn machine_mut(
        &mut self,
        fqdn: &str,
        change: &'static str,
    ) -> Result<&mut EdgeMachine, UnknownObject> {
        self.machines
            .get(name_key(fqdn).as_ref())
            .copied()
            .and_then(|(p, m)| self.state.edge_pools.get_mut(p)?.machines.get_mut(m))
            .ok_or_else(|| unknown("edge machine", fqdn, change))
    }

    fn front_end_mut(
        &mut self,
        fqdn: &str,
        change: &'static str,
    ) -> Result<&mut FrontEndPool, UnknownObject> {
        self.front_ends
            .get(name_key(fqdn).as_ref())
            .copied()
            .and_then(|i| self.state.front_end_pools.get_mut(i))
            .ok_or_else(|| unknown("front end pool", fqdn, change))
    }
}

fn unknown(kind: &'static str, name: &str, change: &'static str) -> UnknownObject {
    UnknownObject {
        kind,
        name: name.to_owned(),
        change,
    }
}
