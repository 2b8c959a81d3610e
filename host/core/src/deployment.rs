//! The checked domain state: what the planner plans from and the policies judge.
//!
//! [`assemble`] turns one raw [`Observation`] (what the plugins reported) into a
//! [`Snapshot`]: the parsed [`Topology`] and the [`Deployment`]. A `Deployment`
//! projects one to one onto the policy WIT `state` record
//! (`wit/policy/policy.wit`): same fields, same order. A step's predicted effect
//! is a list of [`Change`] values, one case per case of the WIT `change` variant,
//! and [`Deployment::apply`] computes the next state from one.
//!
//! Lists are kept sorted (sites by name, pools and machines by FQDN, record sets
//! by name then type), so equal deployments serialize identically.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use failback_transition::{
    DeploymentField, EdgePoolField, FrontEndPoolField, MachineField, Object, name_key, same_name,
};
use serde::{Deserialize, Serialize};

use crate::observed::{
    Observation, PoolState, PortState, ProbeKind, ProbeRequest, RecordData, RecordType, RouteKind,
    ServiceState,
};
use crate::topology::{Topology, TopologyError};

/// The port partners use for XMPP federation.
pub const XMPP_PORT: u16 = 5269;
/// The port partners use for SIP federation.
pub const SIP_FEDERATION_PORT: u16 = 5061;
/// How long a probe may take, in milliseconds.
pub const PROBE_TIMEOUT_MS: u32 = 5000;

/// Turning an observation into a deployment went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssembleError {
    #[error("the published topology cannot be read: {0}")]
    Topology(#[from] TopologyError),
    #[error(
        "site `{site}` has a {kind} route `{identity}` that is not an Edge pool identity (`EdgeServer:<pool fqdn>`)"
    )]
    Route {
        site: String,
        kind: &'static str,
        identity: String,
    },
    #[error("the zone `{zone}` is not a DNS name")]
    Zone { zone: String },
}

/// A service identity naming an Edge pool: `EdgeServer:<pool fqdn>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct EdgeIdentity {
    fqdn: String,
}

impl EdgeIdentity {
    #[must_use]
    pub fn new(pool_fqdn: &str) -> Self {
        Self {
            fqdn: pool_fqdn.to_ascii_lowercase(),
        }
    }

    /// The Edge pool FQDN.
    #[must_use]
    pub fn pool(&self) -> &str {
        &self.fqdn
    }
}

impl fmt::Display for EdgeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EdgeServer:{}", self.fqdn)
    }
}

/// The text is not `EdgeServer:<fqdn>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an Edge pool identity (`EdgeServer:<pool fqdn>`)")]
pub struct IdentityError(pub String);

impl FromStr for EdgeIdentity {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((role, fqdn))
                if role.eq_ignore_ascii_case("EdgeServer") && crate::text::is_host_name(fqdn) =>
            {
                Ok(Self::new(fqdn))
            }
            _ => Err(IdentityError(s.to_owned())),
        }
    }
}

impl From<EdgeIdentity> for String {
    fn from(id: EdgeIdentity) -> Self {
        id.to_string()
    }
}

impl TryFrom<String> for EdgeIdentity {
    type Error = IdentityError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// WIT `edge-machine`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeMachineState {
    pub fqdn: String,
    pub services_running: bool,
    pub replica_up_to_date: bool,
    pub setup_version: u64,
}

/// WIT `edge-pool`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgePoolState {
    pub fqdn: String,
    pub site: String,
    pub federation_enabled: bool,
    pub next_hop: Option<String>,
    pub access_edge_fqdn: Option<String>,
    pub access_edge_ips: Vec<String>,
    pub machines: Vec<EdgeMachineState>,
    pub xmpp_port_open: bool,
}

impl EdgePoolState {
    #[must_use]
    pub fn identity(&self) -> EdgeIdentity {
        EdgeIdentity::new(&self.fqdn)
    }

    /// Every machine runs every Lync service.
    #[must_use]
    pub fn services_running(&self) -> bool {
        !self.machines.is_empty() && self.machines.iter().all(|m| m.services_running)
    }
}

/// WIT `front-end-pool`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontEndPoolState {
    pub fqdn: String,
    pub site: String,
    pub media_edge_pool: Option<String>,
    pub state: PoolState,
    pub failover_fqdn: Option<String>,
    pub online: bool,
}

/// WIT `site`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteRoutes {
    pub name: String,
    pub federation_route: Option<EdgeIdentity>,
    pub xmpp_federation_route: Option<EdgeIdentity>,
}

impl SiteRoutes {
    #[must_use]
    pub fn route(&self, kind: RouteKind) -> Option<&EdgeIdentity> {
        match kind {
            RouteKind::Federation => self.federation_route.as_ref(),
            RouteKind::XmppFederation => self.xmpp_federation_route.as_ref(),
        }
    }
}

/// WIT `rrset`: all records of one name and type. `data` is sorted; empty only
/// in a change that deletes the set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RrSet {
    pub name: String,
    pub rtype: RecordType,
    pub ttl: u32,
    pub data: Vec<RecordData>,
}

/// WIT `route-change`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteChange {
    pub site: String,
    pub kind: RouteKind,
    pub identity: Option<EdgeIdentity>,
}

/// WIT `change`: one field of the state a step changes, as
/// [`failback_transition::Change`] defines it (with what each case does to a
/// state) for the planner and the policy SDK alike. Every case sets a value
/// (none adds or toggles), so applying a change twice is applying it once.
/// In a plan document each is an object tagged by `change`, with the WIT
/// case's name and its fields by name (`{"change": "federation",
/// "edge_pool": "edgepool1.contoso.com", "enabled": true}`).
pub type Change = failback_transition::Change<RouteChange, RrSet, PoolState>;

/// Applying a change that names an object the state does not hold.
pub use failback_transition::UnknownObject;

/// WIT `state`: the whole deployment as the invariants see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub sites: Vec<SiteRoutes>,
    pub edge_pools: Vec<EdgePoolState>,
    pub front_end_pools: Vec<FrontEndPoolState>,
    pub zone: String,
    pub dns: Vec<RrSet>,
    pub cms_available: bool,
    pub topology_version: u64,
    pub draft_pending: bool,
}

impl Deployment {
    #[must_use]
    pub fn edge_pool(&self, fqdn: &str) -> Option<&EdgePoolState> {
        self.edge_pools.iter().find(|p| same_name(&p.fqdn, fqdn))
    }

    #[must_use]
    pub fn front_end_pool(&self, fqdn: &str) -> Option<&FrontEndPoolState> {
        self.front_end_pools
            .iter()
            .find(|p| same_name(&p.fqdn, fqdn))
    }

    #[must_use]
    pub fn site(&self, name: &str) -> Option<&SiteRoutes> {
        self.sites.iter().find(|s| same_name(&s.name, name))
    }

    /// The record set (`name`, `rtype`), if the zone has it.
    #[must_use]
    pub fn rrset(&self, name: &str, rtype: RecordType) -> Option<&RrSet> {
        self.dns
            .iter()
            .find(|r| r.rtype == rtype && same_name(&r.name, name))
    }

    /// Edge pools with federation enabled.
    #[must_use]
    pub fn federation_pools(&self) -> Vec<&EdgePoolState> {
        self.edge_pools
            .iter()
            .filter(|p| p.federation_enabled)
            .collect()
    }

    /// The state after `change`, as [`failback_transition::apply`] says.
    /// It finds the object the change names by walking the lists: to apply
    /// many changes, [`Names::apply`] finds each at once.
    ///
    /// # Errors
    /// [`UnknownObject`] when the change names a machine, pool or site the
    /// state does not have; the state is then unchanged.
    pub fn apply(&mut self, change: &Change) -> Result<(), UnknownObject> {
        failback_transition::apply(self, change.clone())
    }

    /// The state after every change of `changes`, in order.
    ///
    /// # Errors
    /// As [`Deployment::apply`].
    pub fn after(&self, changes: &[Change]) -> Result<Self, UnknownObject> {
        Names::of(self).after(self, changes)
    }
}

/// Where a deployment holds each object a change can name — Edge pools, Edge
/// machines, Front End pools, sites — by its name's [`name_key`], the first
/// of a name as the walk finds it. A change never adds, removes, renames or
/// moves one of those (only record sets come and go), so the index of a state
/// is the index of every state its changes lead to: a plan builds it once
/// for its start and finds the object of each change at once, where the walk
/// of [`Deployment::apply`] costs a pass over every pool per change
/// (quadratic in the deployment for a step that moves every site's route).
///
/// Each position found is checked against the state it is used on (the
/// object there has the name asked for), and a name the index lacks or
/// places wrongly is walked for: an index of another state costs time, never
/// a wrong object.
#[derive(Debug, Clone, Default)]
pub struct Names {
    edge_pools: HashMap<String, usize>,
    machines: HashMap<String, (usize, usize)>,
    front_end_pools: HashMap<String, usize>,
    sites: HashMap<String, usize>,
}

impl Names {
    /// The index of `state`.
    #[must_use]
    pub fn of(state: &Deployment) -> Self {
        fn first<P>(index: &mut HashMap<String, P>, name: &str, at: P) {
            index.entry(name_key(name).into_owned()).or_insert(at);
        }
        let mut names = Self::default();
        for (p, pool) in state.edge_pools.iter().enumerate() {
            first(&mut names.edge_pools, &pool.fqdn, p);
            for (m, machine) in pool.machines.iter().enumerate() {
                first(&mut names.machines, &machine.fqdn, (p, m));
            }
        }
        for (p, pool) in state.front_end_pools.iter().enumerate() {
            first(&mut names.front_end_pools, &pool.fqdn, p);
        }
        for (s, site) in state.sites.iter().enumerate() {
            first(&mut names.sites, &site.name, s);
        }
        names
    }

    /// The Edge pool of FQDN `fqdn` in `state` ([`Deployment::edge_pool`]).
    #[must_use]
    pub fn edge_pool<'d>(&self, state: &'d Deployment, fqdn: &str) -> Option<&'d EdgePoolState> {
        state.edge_pools.get(self.edge_pool_at(state, fqdn)?)
    }

    /// The Edge machine of FQDN `fqdn` in `state`, in any pool.
    #[must_use]
    pub fn machine<'d>(&self, state: &'d Deployment, fqdn: &str) -> Option<&'d EdgeMachineState> {
        let (p, m) = self.machine_at(state, fqdn)?;
        state.edge_pools.get(p)?.machines.get(m)
    }

    /// The Front End pool of FQDN `fqdn` in `state`
    /// ([`Deployment::front_end_pool`]).
    #[must_use]
    pub fn front_end_pool<'d>(
        &self,
        state: &'d Deployment,
        fqdn: &str,
    ) -> Option<&'d FrontEndPoolState> {
        state
            .front_end_pools
            .get(self.front_end_pool_at(state, fqdn)?)
    }

    /// The site named `name` in `state` ([`Deployment::site`]).
    #[must_use]
    pub fn site<'d>(&self, state: &'d Deployment, name: &str) -> Option<&'d SiteRoutes> {
        state.sites.get(self.site_at(state, name)?)
    }

    /// `state` after `changes`, in order ([`Deployment::after`]).
    ///
    /// # Errors
    /// As [`Deployment::apply`].
    pub fn after(
        &self,
        state: &Deployment,
        changes: &[Change],
    ) -> Result<Deployment, UnknownObject> {
        let mut next = state.clone();
        for change in changes {
            self.apply(&mut next, change)?;
        }
        Ok(next)
    }

    /// `state` after `change`, as [`Deployment::apply`] makes it.
    ///
    /// # Errors
    /// As [`Deployment::apply`].
    pub fn apply(&self, state: &mut Deployment, change: &Change) -> Result<(), UnknownObject> {
        failback_transition::apply(&mut Indexed { state, names: self }, change.clone())
    }

    /// Whether `change` holds in `state`: making it changes nothing.
    ///
    /// `probe` is a copy of `state`, lent for the question and given back as
    /// it was: the change is made on it, and only what a change writes is
    /// compared — the object it names (a machine with its pool), or the
    /// record sets and the deployment-wide fields — then put back. Asking
    /// this of each change of a batch costs the objects it names, where
    /// comparing whole states cost the deployment each time.
    pub fn holds(&self, state: &Deployment, probe: &mut Deployment, change: &Change) -> bool {
        if self.apply(probe, change).is_err() {
            return false;
        }
        match change.object() {
            Some((Object::EdgePool, fqdn)) => put_back(
                &mut probe.edge_pools,
                &state.edge_pools,
                self.edge_pool_at(state, fqdn),
            ),
            Some((Object::EdgeMachine, fqdn)) => {
                let pool = self.machine_at(state, fqdn).map(|(p, _)| p);
                put_back(&mut probe.edge_pools, &state.edge_pools, pool)
            }
            Some((Object::FrontEndPool, fqdn)) => put_back(
                &mut probe.front_end_pools,
                &state.front_end_pools,
                self.front_end_pool_at(state, fqdn),
            ),
            Some((Object::Site, name)) => {
                put_back(&mut probe.sites, &state.sites, self.site_at(state, name))
            }
            None => {
                let same = probe.dns == state.dns
                    && probe.cms_available == state.cms_available
                    && probe.topology_version == state.topology_version
                    && probe.draft_pending == state.draft_pending;
                if !same {
                    probe.dns.clone_from(&state.dns);
                    probe.cms_available = state.cms_available;
                    probe.topology_version = state.topology_version;
                    probe.draft_pending = state.draft_pending;
                }
                same
            }
        }
    }

    fn edge_pool_at(&self, state: &Deployment, fqdn: &str) -> Option<usize> {
        checked(&self.edge_pools, fqdn, |&p| {
            state.edge_pools.get(p).map(|pool| pool.fqdn.as_str())
        })
        .or_else(|| failback_transition::Deployment::find_edge_pool(state, fqdn))
    }

    fn machine_at(&self, state: &Deployment, fqdn: &str) -> Option<(usize, usize)> {
        checked(&self.machines, fqdn, |&(p, m)| {
            let machine = state.edge_pools.get(p)?.machines.get(m)?;
            Some(machine.fqdn.as_str())
        })
        .or_else(|| failback_transition::Deployment::find_machine(state, fqdn))
    }

    fn front_end_pool_at(&self, state: &Deployment, fqdn: &str) -> Option<usize> {
        checked(&self.front_end_pools, fqdn, |&p| {
            state.front_end_pools.get(p).map(|pool| pool.fqdn.as_str())
        })
        .or_else(|| failback_transition::Deployment::find_front_end_pool(state, fqdn))
    }

    fn site_at(&self, state: &Deployment, name: &str) -> Option<usize> {
        checked(&self.sites, name, |&s| {
            state.sites.get(s).map(|site| site.name.as_str())
        })
        .or_else(|| failback_transition::Deployment::find_site(state, name))
    }
}

/// Whether the object at `at` is the same in `probe` as in `state`; it is
/// put back as `state` has it when it is not.
fn put_back<T: Clone + PartialEq>(probe: &mut [T], state: &[T], at: Option<usize>) -> bool {
    let Some((made, held)) = at.and_then(|at| Some((probe.get_mut(at)?, state.get(at)?))) else {
        return false;
    };
    let same = made == held;
    if !same {
        made.clone_from(held);
    }
    same
}

/// The position `index` gives `name`, if the object `name_at` reads there has
/// that name.
fn checked<'s, P: Copy>(
    index: &HashMap<String, P>,
    name: &str,
    name_at: impl Fn(&P) -> Option<&'s str>,
) -> Option<P> {
    index
        .get(name_key(name).as_ref())
        .filter(|at| name_at(at).is_some_and(|held| same_name(held, name)))
        .copied()
}

/// A deployment as a change sees it through a [`Names`] index: objects are
/// found in the index, fields written as the lists write them.
struct Indexed<'a> {
    state: &'a mut Deployment,
    names: &'a Names,
}

impl failback_transition::Deployment for Indexed<'_> {
    type RouteChange = RouteChange;
    type RecordSet = RrSet;
    type PoolState = PoolState;
    type EdgePool = usize;
    type Machine = (usize, usize);
    type FrontEndPool = usize;
    type Site = usize;

    fn find_edge_pool(&self, fqdn: &str) -> Option<usize> {
        self.names.edge_pool_at(self.state, fqdn)
    }
    fn find_machine(&self, fqdn: &str) -> Option<(usize, usize)> {
        self.names.machine_at(self.state, fqdn)
    }
    fn find_front_end_pool(&self, fqdn: &str) -> Option<usize> {
        self.names.front_end_pool_at(self.state, fqdn)
    }
    fn find_site(&self, name: &str) -> Option<usize> {
        self.names.site_at(self.state, name)
    }

    fn set_edge_pool(&mut self, pool: usize, field: EdgePoolField) {
        failback_transition::Deployment::set_edge_pool(self.state, pool, field);
    }
    fn set_machine(&mut self, machine: (usize, usize), field: MachineField) {
        failback_transition::Deployment::set_machine(self.state, machine, field);
    }
    fn set_front_end_pool(&mut self, pool: usize, field: FrontEndPoolField<PoolState>) {
        failback_transition::Deployment::set_front_end_pool(self.state, pool, field);
    }
    fn set_route(&mut self, site: usize, route: RouteChange) {
        failback_transition::Deployment::set_route(self.state, site, route);
    }
    fn put_rrset(&mut self, set: RrSet) {
        failback_transition::Deployment::put_rrset(self.state, set);
    }
    fn delete_rrset(&mut self, set: RrSet) {
        failback_transition::Deployment::delete_rrset(self.state, set);
    }
    fn set_deployment(&mut self, field: DeploymentField) {
        failback_transition::Deployment::set_deployment(self.state, field);
    }
}

// The deployment as a change sees it: positions in its lists, found by
// name. The lists stay sorted: a record set is inserted in order, its data
// sorted.
failback_transition::impl_deployment_for_lists! {
    Deployment,
    route_change: RouteChange,
    record_set: RrSet,
    pool_state: PoolState,
    route_kind: RouteKind,

    fn put_rrset(&mut self, mut set: RrSet) {
        self.dns
            .retain(|r| !(r.rtype == set.rtype && same_name(&r.name, &set.name)));
        set.data.sort();
        self.dns.push(set);
        self.dns
            .sort_by(|a, b| (&a.name, a.rtype).cmp(&(&b.name, b.rtype)));
    }

    fn delete_rrset(&mut self, set: RrSet) {
        self.dns
            .retain(|r| !(r.rtype == set.rtype && same_name(&r.name, &set.name)));
    }
}

/// One observation, checked: the parsed topology and the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub topology: Topology,
    pub deployment: Deployment,
    /// The Edge pools (FQDNs in lower case) whose TCP 5269 is not open and
    /// refused the connection on every Access Edge IP where it is not: nothing
    /// listens there, and nothing was seen filtering it. Starting the pool's
    /// services may open it, and the plan counts on that only for these
    /// pools (docs/policies.md, "A port that opens when the services start").
    /// The policies do not see it: it is what the planner knows of why a
    /// port is shut, not a fact of the state they judge.
    pub xmpp_refused: BTreeSet<String>,
}

/// The endpoints the runtime must probe for one observation: every Access Edge
/// external IP of every Edge pool on TCP 5269, as an XMPP server-to-server
/// stream open to `stream_to` (the SIP domain). Sorted, without duplicates.
#[must_use]
pub fn probe_targets(topology: &Topology, stream_to: &str) -> Vec<ProbeRequest> {
    let mut out: Vec<ProbeRequest> = topology
        .edge_pools()
        .iter()
        .flat_map(|p| p.access_edge_ips())
        .map(|ip| ProbeRequest {
            host: ip,
            port: XMPP_PORT,
            kind: ProbeKind::XmppServer,
            timeout_ms: PROBE_TIMEOUT_MS,
            stream_to: Some(stream_to.to_owned()),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Check an observation into a [`Snapshot`].
///
/// Missing reports are read conservatively: a machine without a service list
/// has its services not running, one without a replica entry is not up to date,
/// an Access Edge IP without an XMPP probe answer is not reachable. A Front End
/// pool `list-pools` does not mention is taken as normal and online. A machine
/// without a known setup version has version 0 (see
/// [`Observation::setup_versions`]).
///
/// # Errors
/// [`AssembleError`] when the topology cannot be read, a site route is not an
/// Edge pool identity, or the zone is empty.
pub fn assemble(observation: &Observation) -> Result<Snapshot, AssembleError> {
    assemble_from(observation, None)
}

/// As [`assemble`], with the observation's topology already read: the
/// runtime reads it to know which machines and endpoints to observe, and at
/// a thousand sites reading it again was a tenth of a plan. A `topology`
/// that is not the one the observation holds (its text differs) is read
/// again from the observation, so a wrong one costs time, never a wrong
/// snapshot.
///
/// # Errors
/// As [`assemble`].
pub fn assemble_read(
    observation: &Observation,
    topology: Topology,
) -> Result<Snapshot, AssembleError> {
    assemble_from(observation, Some(topology))
}

fn assemble_from(
    observation: &Observation,
    read: Option<Topology>,
) -> Result<Snapshot, AssembleError> {
    let zone = observation.zone.trim_end_matches('.').to_ascii_lowercase();
    if zone.is_empty() || zone.contains(char::is_whitespace) {
        return Err(AssembleError::Zone {
            zone: observation.zone.clone(),
        });
    }
    let topology = match read {
        Some(topology) if topology.xml() == observation.topology.xml => topology,
        _ => Topology::parse(&observation.topology.xml)?,
    };
    let version = observation.topology.version;

    let mut sites = Vec::new();
    for s in &observation.sites {
        let parse = |kind: &'static str, r: &Option<String>| -> Result<_, AssembleError> {
            r.as_deref()
                .map(|id| {
                    id.parse::<EdgeIdentity>()
                        .map_err(|_| AssembleError::Route {
                            site: s.site.clone(),
                            kind,
                            // What the plugin said, as an operator may read it.
                            identity: crate::text::printable(id).into_owned(),
                        })
                })
                .transpose()
        };
        sites.push(SiteRoutes {
            name: s.site.clone(),
            federation_route: parse("federation", &s.federation_route)?,
            xmpp_federation_route: parse("XMPP federation", &s.xmpp_federation_route)?,
        });
    }
    // Sites the topology has but the store did not list: no routes.
    with_topology_sites(&mut sites, &topology);

    let replicas: BTreeMap<String, bool> = observation
        .replicas
        .iter()
        .map(|r| (r.fqdn.to_ascii_lowercase(), r.up_to_date))
        .collect();
    let services: BTreeMap<String, bool> = observation
        .services
        .iter()
        .map(|(m, list)| {
            (
                m.to_ascii_lowercase(),
                !list.is_empty() && list.iter().all(|s| s.state == ServiceState::Running),
            )
        })
        .collect();
    let setup: BTreeMap<String, u64> = observation
        .setup_versions
        .iter()
        .map(|(m, v)| (m.to_ascii_lowercase(), *v))
        .collect();
    let xmpp_open = |ip: &str| {
        observation.probes.iter().any(|p| {
            p.request.host == ip
                && p.request.port == XMPP_PORT
                && p.report.state == PortState::Open
                && (p.request.kind == ProbeKind::Tcp
                    || p.report.xmpp.as_ref().is_some_and(|x| x.stream_header))
        })
    };

    let edge_pools = edge_pools_of(
        &topology,
        |m| EdgeMachineState {
            fqdn: m.to_owned(),
            services_running: services.get(m).copied().unwrap_or(false),
            replica_up_to_date: replicas.get(m).copied().unwrap_or(false),
            setup_version: setup.get(m).copied().unwrap_or(0),
        },
        |_, ips| !ips.is_empty() && ips.iter().all(|ip| xmpp_open(ip)),
    );
    let refused = |ip: &str| {
        observation.probes.iter().any(|p| {
            p.request.host == ip
                && p.request.port == XMPP_PORT
                && p.report.state == PortState::Closed
        })
    };
    let xmpp_refused = topology
        .edge_pools()
        .iter()
        .filter_map(|p| {
            let ips = p.access_edge_ips();
            let shut: Vec<&String> = ips.iter().filter(|ip| !xmpp_open(ip)).collect();
            (!shut.is_empty() && shut.iter().all(|ip| refused(ip)))
                .then(|| p.fqdn.to_ascii_lowercase())
        })
        .collect();
    let front_end_pools = front_end_pools_of(&topology, |fqdn| {
        let status = observation
            .pools
            .iter()
            .find(|s| s.fqdn.eq_ignore_ascii_case(fqdn));
        (
            status.map_or(PoolState::Normal, |s| s.state),
            status
                .and_then(|s| s.failover_fqdn.clone())
                .map(|f| f.to_ascii_lowercase()),
            status.is_none_or(|s| s.online),
        )
    });

    let mut sets: BTreeMap<(String, RecordType), RrSet> = BTreeMap::new();
    for r in &observation.dns {
        let name = r.name.trim_end_matches('.').to_ascii_lowercase();
        let rtype = r.data.record_type();
        let set = sets.entry((name.clone(), rtype)).or_insert_with(|| RrSet {
            name,
            rtype,
            ttl: r.ttl,
            data: Vec::new(),
        });
        set.ttl = set.ttl.min(r.ttl);
        set.data.push(normalize(&r.data));
    }
    let dns = sets
        .into_values()
        .map(|mut s| {
            s.data.sort();
            s.data.dedup();
            s
        })
        .collect();

    let deployment = Deployment {
        sites,
        edge_pools,
        front_end_pools,
        zone,
        dns,
        cms_available: observation.store.active_master.is_some(),
        topology_version: version,
        draft_pending: !observation.topology.enabled,
    };
    Ok(Snapshot {
        topology,
        deployment,
        xmpp_refused,
    })
}

/// Add the sites `topology` has and `sites` does not (with no routes), and
/// sort them by name.
fn with_topology_sites(sites: &mut Vec<SiteRoutes>, topology: &Topology) {
    for t in topology.sites() {
        if !sites.iter().any(|s| s.name.eq_ignore_ascii_case(&t.name)) {
            sites.push(SiteRoutes {
                name: t.name.clone(),
                federation_route: None,
                xmpp_federation_route: None,
            });
        }
    }
    sites.sort_by(|a, b| a.name.cmp(&b.name));
}

/// The Edge pools a topology defines, sorted by FQDN: what the topology says
/// of each (site, federation, next hop, Access Edge FQDN and IPs, machines),
/// with each machine's runtime state from `machine` and the pool's XMPP port
/// from `port_open` (given the pool's FQDN and Access Edge IPs).
fn edge_pools_of(
    topology: &Topology,
    machine: impl Fn(&str) -> EdgeMachineState,
    port_open: impl Fn(&str, &[String]) -> bool,
) -> Vec<EdgePoolState> {
    let mut pools: Vec<EdgePoolState> = topology
        .edge_pools()
        .iter()
        .map(|p| {
            let ips = p.access_edge_ips();
            let mut machines: Vec<EdgeMachineState> =
                p.machines.iter().map(|m| machine(&m.fqdn)).collect();
            machines.sort_by(|a, b| a.fqdn.cmp(&b.fqdn));
            EdgePoolState {
                fqdn: p.fqdn.clone(),
                site: p.site.clone(),
                federation_enabled: p.federation_enabled,
                next_hop: p.next_hop.clone(),
                access_edge_fqdn: p.access_edge_fqdn.clone(),
                xmpp_port_open: port_open(&p.fqdn, &ips),
                access_edge_ips: ips,
                machines,
            }
        })
        .collect();
    pools.sort_by(|a, b| a.fqdn.cmp(&b.fqdn));
    pools
}

/// The Front End pools a topology defines, sorted by FQDN, each with its
/// failover state, failover FQDN and whether it is online from `status`.
/// Director pools are left out: they home no users, have no media association
/// and are never failed over or back, so no step acts on them and no
/// invariant judges them (an Edge pool's next hop that names one names no
/// Front End pool of the state).
fn front_end_pools_of(
    topology: &Topology,
    status: impl Fn(&str) -> (PoolState, Option<String>, bool),
) -> Vec<FrontEndPoolState> {
    let mut pools: Vec<FrontEndPoolState> = topology
        .front_end_pools()
        .iter()
        .filter(|p| !p.director)
        .map(|p| {
            let (state, failover_fqdn, online) = status(&p.fqdn);
            FrontEndPoolState {
                fqdn: p.fqdn.clone(),
                site: p.site.clone(),
                media_edge_pool: p.media_edge_pool.clone(),
                state,
                failover_fqdn,
                online,
            }
        })
        .collect();
    pools.sort_by(|a, b| a.fqdn.cmp(&b.fqdn));
    pools
}

/// `state` as `topology` describes it: its Edge pools, Front End pools and
/// sites replaced by the topology's, every runtime fact (services, replicas,
/// setup, the XMPP port, pool failover state, routes) kept from `state`. A
/// topology document describes `state` exactly when `describe(t, s) == s`:
/// what the apply engine checks of a draft before it publishes it.
#[must_use]
pub fn describe(topology: &Topology, state: &Deployment) -> Deployment {
    let machines: BTreeMap<String, &EdgeMachineState> = state
        .edge_pools
        .iter()
        .flat_map(|p| p.machines.iter())
        .map(|m| (m.fqdn.to_ascii_lowercase(), m))
        .collect();
    let edge_pools = edge_pools_of(
        topology,
        |m| {
            machines.get(&m.to_ascii_lowercase()).map_or_else(
                || EdgeMachineState {
                    fqdn: m.to_owned(),
                    services_running: false,
                    replica_up_to_date: false,
                    setup_version: 0,
                },
                |known| EdgeMachineState {
                    fqdn: m.to_owned(),
                    ..(*known).clone()
                },
            )
        },
        |fqdn, _| state.edge_pool(fqdn).is_some_and(|p| p.xmpp_port_open),
    );
    let front_end_pools = front_end_pools_of(topology, |fqdn| {
        state
            .front_end_pool(fqdn)
            .map_or((PoolState::Normal, None, true), |p| {
                (p.state, p.failover_fqdn.clone(), p.online)
            })
    });
    let mut sites = state.sites.clone();
    with_topology_sites(&mut sites, topology);
    Deployment {
        sites,
        edge_pools,
        front_end_pools,
        ..state.clone()
    }
}

/// Names in record data lower case, without the final dot.
fn normalize(data: &RecordData) -> RecordData {
    let name = |n: &str| n.trim_end_matches('.').to_ascii_lowercase();
    match data {
        RecordData::Cname(n) => RecordData::Cname(name(n)),
        RecordData::Srv(s) => {
            let mut s = s.clone();
            s.target = name(&s.target);
            RecordData::Srv(s)
        }
        other => other.clone(),
    }
}
/// After a publish, every replica that was up to date no longer is.
pub(crate) fn stale_replicas(cur: &Deployment) -> Vec<Change> {
    cur.edge_pools
        .iter()
        .flat_map(|p| p.machines.iter())
        .filter(|m| m.replica_up_to_date)
        .map(|m| Change::ReplicaUpToDate {
            machine: m.fqdn.clone(),
            up_to_date: false,
        })
        .collect()
}
