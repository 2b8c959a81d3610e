//! How a rule is written: a [`Rule`] names itself (id, family, invariants,
//! scope, rationale, what it reads) and points at a function from a [`Ctx`] to
//! the [`Violation`]s it sees. The engine turns violations into WIT findings.

use std::fmt;

use failback_transition::{name_key, same_name};

use crate::reads::{Reads, identity_fqdn, route_of};
use crate::world::World;
use crate::{
    Change, EdgeMachine, EdgePool, FrontEndPool, Goal, RecordData, RecordType, RouteKind, Rrset,
    Site, State, Step, WitScope,
};

/// Where the engine runs a rule. The first three are the WIT `scope`; the SDK
/// adds [`Scope::RestOrDnsStep`], which `rules()` reports as `every-state`
/// (the WIT enum is fixed), so the rule's rationale says where it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// On every state: the start, each intermediate, the end.
    EveryState,
    /// On each step, with the state it starts from and the step.
    Transition,
    /// On the end state only.
    FinalState,
    /// "DNS follows routing": on the start state, on every state reached by a
    /// step that changes DNS (holds at least one `rrset` change), and on the
    /// final state; not on an intermediate state reached by a step that
    /// changes no record set. For rules that compare DNS with routing or with
    /// the federation flag, which the runbook cannot move atomically: a
    /// routing step opens a window that the plan's next DNS step closes. A DNS
    /// step never leaves the records wrong, and the window is closed by the
    /// end. See `docs/policies.md`.
    RestOrDnsStep,
}

impl Scope {
    /// The scope `rules()` reports: [`Scope::RestOrDnsStep`] is `every-state`.
    pub const fn wit(self) -> WitScope {
        match self {
            Self::EveryState | Self::RestOrDnsStep => WitScope::EveryState,
            Self::Transition => WitScope::Transition,
            Self::FinalState => WitScope::FinalState,
        }
    }
}

/// A rule of a policy module.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id, `<family>.<name>` (`federation.single-pool`).
    pub id: &'static str,
    /// The invariant family (`federation`, `xmpp`, `dns`, `cms`, `front-end`).
    pub family: &'static str,
    /// The DESIGN §2 invariant numbers it enforces.
    pub invariants: &'static [u8],
    pub scope: Scope,
    /// What an every-state or rest-or-DNS-step rule reads (see [`Reads`]);
    /// ignored for the other scopes.
    pub reads: Reads,
    /// One line: why the rule exists.
    pub rationale: &'static str,
    /// The check: every violation it sees in `ctx`, in a deterministic order.
    pub check: fn(&Ctx<'_>) -> Vec<Violation>,
}

/// One way a rule does not hold; the engine adds the rule id and the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub message: String,
    pub values: Vec<String>,
    pub hint: String,
}

impl Violation {
    /// What is wrong, naming the values compared (for people).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            values: Vec::new(),
            hint: String::new(),
        }
    }

    /// A value compared, as `name=value` (for machines).
    #[must_use]
    pub fn value(mut self, name: &str, value: impl fmt::Display) -> Self {
        self.values.push(format!("{name}={value}"));
        self
    }

    /// What would satisfy the rule.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }
}

/// Why a route does not lead to an Edge pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteProblem {
    /// The identity is not `EdgeServer:<fqdn>` (the source page's bare FQDN).
    NotEdgeIdentity(String),
    /// `EdgeServer:<fqdn>` names no Edge pool of the topology.
    UnknownPool(String),
}

impl fmt::Display for RouteProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotEdgeIdentity(identity) => {
                write!(
                    f,
                    "`{identity}` is not an `EdgeServer:<pool fqdn>` identity"
                )
            }
            Self::UnknownPool(fqdn) => write!(f, "`{fqdn}` is not an Edge pool of the topology"),
        }
    }
}

/// What a rule sees: the state (for a transition rule, the state the step
/// starts from), the goal, and for a transition rule the step.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub(crate) world: &'a World,
    pub(crate) goal: &'a Goal,
    pub(crate) step: Option<&'a Step>,
}

/// Hops of CNAME followed before a name is declared a loop.
const MAX_CNAME_HOPS: usize = 8;

impl<'a> Ctx<'a> {
    /// Build a context by hand (for rules called outside the engine, e.g. in tests).
    pub fn new(world: &'a World, goal: &'a Goal, step: Option<&'a Step>) -> Self {
        Self { world, goal, step }
    }

    pub fn state(&self) -> &'a State {
        self.world.state()
    }

    pub fn goal(&self) -> &'a Goal {
        self.goal
    }

    /// The step, for a transition rule; `None` for the other scopes.
    pub fn step(&self) -> Option<&'a Step> {
        self.step
    }

    /// The external zone's apex, lower case.
    pub fn zone(&self) -> String {
        name_key(&self.state().zone).into_owned()
    }

    /// `name` is the zone's apex or a name under it.
    pub fn in_zone(&self, name: &str) -> bool {
        let name = name_key(name);
        let zone = name_key(&self.state().zone);
        !zone.is_empty()
            && (name == zone
                || name
                    .strip_suffix(zone.as_ref())
                    .is_some_and(|head| head.ends_with('.')))
    }

    pub fn pool(&self, fqdn: &str) -> Option<&'a EdgePool> {
        self.world.pool(fqdn)
    }

    /// An Edge machine and the pool it belongs to.
    pub fn machine(&self, fqdn: &str) -> Option<(&'a EdgePool, &'a EdgeMachine)> {
        self.world.machine(fqdn)
    }

    pub fn front_end_pool(&self, fqdn: &str) -> Option<&'a FrontEndPool> {
        self.world.front_end_pool(fqdn)
    }

    pub fn site(&self, name: &str) -> Option<&'a Site> {
        self.world.site(name)
    }

    /// The pools with federation enabled, sorted by FQDN.
    pub fn federated_pools(&self) -> Vec<&'a EdgePool> {
        let mut pools: Vec<&EdgePool> = self.world.federated_pools().collect();
        pools.sort_by(|a, b| a.fqdn.cmp(&b.fqdn));
        pools
    }

    /// The record set `name`/`rtype`, if it holds at least one record.
    pub fn rrset(&self, name: &str, rtype: RecordType) -> Option<&'a Rrset> {
        self.world.rrset(name, rtype)
    }

    /// The SRV records of `name`, empty when there are none.
    pub fn srv_records(&self, name: &str) -> Vec<&'a crate::SrvData> {
        self.rrset(name, RecordType::Srv)
            .map(|set| {
                set.data
                    .iter()
                    .filter_map(|data| match data {
                        RecordData::Srv(srv) => Some(srv),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The addresses (A and AAAA) `name` resolves to, following CNAMEs within
    /// the zone; sorted, without duplicates, never empty. `Err` says why `name`
    /// does not resolve: no record, a CNAME out of the zone, a CNAME loop.
    pub fn resolve(&self, name: &str) -> Result<Vec<&'a str>, String> {
        let mut current = name_key(name).into_owned();
        for _ in 0..=MAX_CNAME_HOPS {
            if !self.in_zone(&current) {
                return Err(format!("`{current}` is outside the zone `{}`", self.zone()));
            }
            let mut addresses: Vec<&str> = [RecordType::A, RecordType::Aaaa]
                .into_iter()
                .filter_map(|rtype| self.rrset(&current, rtype))
                .flat_map(|set| set.data.iter())
                .filter_map(|data| match data {
                    RecordData::A(ip) | RecordData::Aaaa(ip) => Some(ip.as_str()),
                    _ => None,
                })
                .collect();
            if !addresses.is_empty() {
                addresses.sort_unstable();
                addresses.dedup();
                return Ok(addresses);
            }
            let target = self
                .rrset(&current, RecordType::Cname)
                .and_then(|set| set.data.first())
                .and_then(|data| match data {
                    RecordData::Cname(target) => Some(target),
                    _ => None,
                });
            match target {
                Some(target) => current = name_key(target).into_owned(),
                None => return Err(format!("`{current}` has no A, AAAA or CNAME record")),
            }
        }
        Err(format!(
            "`{}` follows more than {MAX_CNAME_HOPS} CNAMEs (a loop?)",
            name_key(name)
        ))
    }

    /// The Edge pool a route identity (`EdgeServer:<fqdn>`) names.
    pub fn route_pool(&self, identity: &str) -> Result<&'a EdgePool, RouteProblem> {
        let fqdn = identity_fqdn(identity)
            .ok_or_else(|| RouteProblem::NotEdgeIdentity(identity.to_owned()))?;
        self.pool(fqdn)
            .ok_or_else(|| RouteProblem::UnknownPool(fqdn.to_owned()))
    }

    /// Every site's route of `kind` that is set, in state order: (site, identity).
    /// Walks every site: a rule run on every state asks [`Ctx::has_routes`],
    /// [`Ctx::route_pools`] or [`Ctx::routes_to`] instead, which do not.
    pub fn routes(&self, kind: RouteKind) -> Vec<(&'a Site, &'a str)> {
        self.state()
            .sites
            .iter()
            .filter_map(|site| route_of(site, kind).map(|identity| (site, identity)))
            .collect()
    }

    /// Some site's route of `kind` is set (`!routes(kind).is_empty()`, without
    /// the walk).
    pub fn has_routes(&self, kind: RouteKind) -> bool {
        self.world.has_routes(kind)
    }

    /// The routes of `kind` that name no Edge pool (when `unresolved`: see
    /// [`Ctx::route_pool`]) or that name a pool for which `pick` holds, in state
    /// order: the subset of [`Ctx::routes`] a rule reports. From the working
    /// state's index of sites per routed pool: `pick` runs once per distinct
    /// routed pool, and only the sites returned are visited.
    pub fn routes_to(
        &self,
        kind: RouteKind,
        unresolved: bool,
        pick: impl Fn(&EdgePool) -> bool,
    ) -> Vec<(&'a Site, &'a str)> {
        self.world
            .routing_sites(kind, unresolved, pick)
            .into_iter()
            .filter_map(|site| route_of(site, kind).map(|identity| (site, identity)))
            .collect()
    }

    /// The distinct Edge pools the routes of `kind` name, sorted by FQDN
    /// (routes that name no pool are left out: see [`Ctx::route_pool`]). From
    /// the working state's index: as many pools as the routes name, not a walk
    /// over the sites.
    pub fn route_pools(&self, kind: RouteKind) -> Vec<&'a EdgePool> {
        let mut pools: Vec<&EdgePool> = self.world.routed_pools(kind).collect();
        pools.sort_by(|a, b| a.fqdn.cmp(&b.fqdn));
        pools.dedup_by(|a, b| same_name(&a.fqdn, &b.fqdn));
        pools
    }

    /// The Edge pools whose next hop names a Front End pool of the state that
    /// is down or not in the normal state, in state order, each with that
    /// Front End pool. From the working state's index: only those pools are
    /// visited.
    pub fn next_hops_out_of_service(&self) -> Vec<(&'a EdgePool, &'a FrontEndPool)> {
        self.world.hops_out_of_service()
    }

    /// The record sets the step replaces (empty for a non-transition rule).
    pub fn rrset_changes(&self) -> impl Iterator<Item = &'a Rrset> {
        self.step
            .into_iter()
            .flat_map(|step| step.changes.iter())
            .filter_map(|change| match change {
                Change::Rrset(set) => Some(set),
                _ => None,
            })
    }
}

/// "a, b, c" for people.
pub fn join<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(item.as_ref());
    }
    out
}
