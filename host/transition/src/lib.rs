//! What a change does to a deployment's state: the one meaning of the policy
//! WIT's `change` (`wit/policy/policy.wit`). The host's planner
//! (`failback-core`, `Deployment::apply`) and the policy SDK
//! (`failback-policy-sdk`, compiled into every policy module) both apply
//! changes through [`apply`], so the policies judge the very state the host
//! predicts.
//!
//! Each side keeps its own representation of the state — core's serde model,
//! the SDK's WIT records with the indexes its rules look objects up by — and
//! implements [`Deployment`]: where it holds the object of a name, and how it
//! writes one field. What each change writes, which object it names and how a
//! name is matched are said here, once:
//!
//! - **Names.** A change names an Edge pool or machine by FQDN, a Front End
//!   pool by FQDN, a site by name; a name matches regardless of ASCII letter
//!   case and of one final dot ([`same_name`]).
//! - **Unknown objects.** A change naming an object the state does not hold is
//!   an [`UnknownObject`] error, and the state is unchanged. What a caller
//!   does with it is the caller's: the planner refuses the plan; the policy
//!   engine goes on with the next change (a policy judges the whole plan) and
//!   reports it as the `policy.unknown-object` finding.
//! - **Front End pool state.** `pool-state` to `normal` also forgets the
//!   pool's failover FQDN: a pool in the normal state is not failed over.
//! - **Record sets.** `rrset` replaces the set of its name and type; the set
//!   is stored under its name's [`name_key`] (lower case, no final dot). Empty
//!   data deletes the set.
//! - Every change sets a value (none adds or toggles), so applying a change
//!   twice is applying it once.

use std::borrow::Cow;

/// WIT `change`: one field of the state a step changes. The planner's model
/// and the SDK give their own types for a route change, a record set and a
/// Front End pool's state.
///
/// A change holds its names and values as `Name`: owned (`String`) to apply
/// it, borrowed (`&str`) to ask which object it names ([`unknown`]) without
/// copying it.
///
/// With the `serde` feature, each is an object tagged by `change`, with the
/// WIT case's name and its fields by name (`{"change": "federation",
/// "edge_pool": "edgepool1.contoso.com", "enabled": true}`), as a plan
/// document writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "change", rename_all = "kebab-case", deny_unknown_fields)
)]
pub enum Change<Route, Set, State, Name = String> {
    /// Federation on an Edge pool.
    Federation {
        edge_pool: Name,
        enabled: bool,
    },
    /// Services on an Edge machine.
    ServicesRunning {
        machine: Name,
        running: bool,
    },
    /// Replica of an Edge machine.
    ReplicaUpToDate {
        machine: Name,
        up_to_date: bool,
    },
    /// Topology version local setup applied on an Edge machine.
    SetupVersion {
        machine: Name,
        version: u64,
    },
    /// A site's route of one kind.
    Route(Route),
    /// A record set replaced; empty `data` deletes it.
    Rrset(Set),
    /// External TCP 5269 on an Edge pool.
    XmppPortOpen {
        edge_pool: Name,
        open: bool,
    },
    /// A Front End pool's media Edge pool.
    MediaEdgePool {
        front_end_pool: Name,
        edge_pool: Option<Name>,
    },
    /// A Front End pool's failover state; `normal` also forgets its failover
    /// FQDN.
    PoolState {
        front_end_pool: Name,
        state: State,
    },
    /// An Edge pool's next hop.
    NextHop {
        edge_pool: Name,
        next_hop: Option<Name>,
    },
    CmsAvailable {
        available: bool,
    },
    TopologyVersion {
        version: u64,
    },
    DraftPending {
        pending: bool,
    },
}

/// A route change: it names the site whose route it sets.
pub trait RouteChange {
    fn site(&self) -> &str;
}

impl<T: RouteChange + ?Sized> RouteChange for &T {
    fn site(&self) -> &str {
        (**self).site()
    }
}

/// A record set of a change.
pub trait RecordSet {
    fn name(&self) -> &str;
    fn rename(&mut self, name: String);
    /// The set has no records: the change deletes it.
    fn is_empty(&self) -> bool;
}

/// A Front End pool's failover state.
pub trait PoolState {
    /// The pool serves its own users (not failed over, not failing back).
    fn is_normal(&self) -> bool;
}

/// The kinds of object a change names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    EdgePool,
    EdgeMachine,
    FrontEndPool,
    Site,
}

impl Object {
    /// As messages name it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::EdgePool => "edge pool",
            Self::EdgeMachine => "edge machine",
            Self::FrontEndPool => "front end pool",
            Self::Site => "site",
        }
    }
}

impl<R: RouteChange, S, P, N: AsRef<str>> Change<R, S, P, N> {
    /// The WIT case's name (`federation`, `services-running`, ...).
    #[must_use]
    pub fn case(&self) -> &'static str {
        match self {
            Self::Federation { .. } => "federation",
            Self::ServicesRunning { .. } => "services-running",
            Self::ReplicaUpToDate { .. } => "replica-up-to-date",
            Self::SetupVersion { .. } => "setup-version",
            Self::Route(_) => "route",
            Self::Rrset(_) => "rrset",
            Self::XmppPortOpen { .. } => "xmpp-port-open",
            Self::MediaEdgePool { .. } => "media-edge-pool",
            Self::PoolState { .. } => "pool-state",
            Self::NextHop { .. } => "next-hop",
            Self::CmsAvailable { .. } => "cms-available",
            Self::TopologyVersion { .. } => "topology-version",
            Self::DraftPending { .. } => "draft-pending",
        }
    }

    /// The object the change names, and its name as the change spells it;
    /// none for a record set (a change creates it) and the deployment-wide
    /// fields.
    #[inline]
    #[must_use]
    pub fn object(&self) -> Option<(Object, &str)> {
        match self {
            Self::Federation { edge_pool, .. }
            | Self::XmppPortOpen { edge_pool, .. }
            | Self::NextHop { edge_pool, .. } => Some((Object::EdgePool, edge_pool.as_ref())),
            Self::ServicesRunning { machine, .. }
            | Self::ReplicaUpToDate { machine, .. }
            | Self::SetupVersion { machine, .. } => Some((Object::EdgeMachine, machine.as_ref())),
            Self::MediaEdgePool { front_end_pool, .. } | Self::PoolState { front_end_pool, .. } => {
                Some((Object::FrontEndPool, front_end_pool.as_ref()))
            }
            Self::Route(route) => Some((Object::Site, route.site())),
            Self::Rrset(_)
            | Self::CmsAvailable { .. }
            | Self::TopologyVersion { .. }
            | Self::DraftPending { .. } => None,
        }
    }
}

/// An Edge pool's field a change writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgePoolField {
    Federation(bool),
    XmppPortOpen(bool),
    NextHop(Option<String>),
}

/// An Edge machine's field a change writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineField {
    ServicesRunning(bool),
    ReplicaUpToDate(bool),
    SetupVersion(u64),
}

/// A Front End pool's field a change writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontEndPoolField<State> {
    MediaEdgePool(Option<String>),
    State(State),
    /// No failover FQDN: the pool is not failed over.
    NoFailover,
}

/// A field of the whole deployment a change writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentField {
    CmsAvailable(bool),
    TopologyVersion(u64),
    DraftPending(bool),
}

/// A representation of the state a change applies to: where it holds the
/// object of a name, and how it writes one field of it. [`apply`] decides
/// what is written where.
pub trait Deployment {
    type RouteChange: RouteChange;
    type RecordSet: RecordSet;
    type PoolState: PoolState;
    /// Where the state holds an Edge pool (a position, an index entry).
    type EdgePool: Copy;
    type Machine: Copy;
    type FrontEndPool: Copy;
    type Site: Copy;

    /// The Edge pool of FQDN `fqdn` by [`same_name`] (the first, if the state
    /// holds two).
    fn find_edge_pool(&self, fqdn: &str) -> Option<Self::EdgePool>;
    /// The Edge machine of FQDN `fqdn`, in any pool, by [`same_name`].
    fn find_machine(&self, fqdn: &str) -> Option<Self::Machine>;
    /// The Front End pool of FQDN `fqdn` by [`same_name`].
    fn find_front_end_pool(&self, fqdn: &str) -> Option<Self::FrontEndPool>;
    /// The site named `name` by [`same_name`].
    fn find_site(&self, name: &str) -> Option<Self::Site>;

    fn set_edge_pool(&mut self, pool: Self::EdgePool, field: EdgePoolField);
    fn set_machine(&mut self, machine: Self::Machine, field: MachineField);
    fn set_front_end_pool(
        &mut self,
        pool: Self::FrontEndPool,
        field: FrontEndPoolField<Self::PoolState>,
    );
    /// Set the route of the change's kind of `site` to the change's identity.
    fn set_route(&mut self, site: Self::Site, route: Self::RouteChange);
    /// Replace the record set of `set`'s name and type with `set`, which has
    /// records and is named by its [`name_key`].
    fn put_rrset(&mut self, set: Self::RecordSet);
    /// Delete the record set of `set`'s name and type (`set` has no records
    /// and is named by its [`name_key`]), if there is one.
    fn delete_rrset(&mut self, set: Self::RecordSet);
    fn set_deployment(&mut self, field: DeploymentField);
}

/// The change the state of a [`Deployment`] takes.
pub type ChangeOf<D> = Change<
    <D as Deployment>::RouteChange,
    <D as Deployment>::RecordSet,
    <D as Deployment>::PoolState,
>;

/// A change names an object the state does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the change names an unknown {kind} `{name}`")]
pub struct UnknownObject {
    /// What kind of object ([`Object::name`]: `edge pool`, `site`, ...).
    pub kind: &'static str,
    /// The name as the change spells it.
    pub name: String,
    /// The change ([`Change::case`]: `federation`, `pool-state`, ...).
    pub change: &'static str,
}

/// Implement [`Deployment`] for a state held as plain lists with the field
/// names of the WIT `state` record (`edge_pools`, each with its `fqdn`,
/// `federation_enabled`, `machines`, ...; `front_end_pools`; `sites`): core's
/// model and the SDK's WIT records both mirror that record one to one.
/// Objects are found by walking the lists (the first of a name, by
/// [`same_name`]) at their positions, and written field by field. The route
/// change (its `site`), the record set (its `name` and `data`) and the pool
/// state (its `Normal` case) get their small traits here too. The two
/// record-set methods of [`Deployment`], where the representations differ,
/// are given after the types.
#[macro_export]
macro_rules! impl_deployment_for_lists {
    (
        $state:ty,
        route_change: $route:ty,
        record_set: $set:ty,
        pool_state: $pool_state:ty,
        route_kind: $kind:ident,
        $($rrset:tt)*
    ) => {
        impl $crate::RouteChange for $route {
            fn site(&self) -> &str {
                &self.site
            }
        }

        impl $crate::RecordSet for $set {
            fn name(&self) -> &str {
                &self.name
            }
            fn rename(&mut self, name: String) {
                self.name = name;
            }
            fn is_empty(&self) -> bool {
                self.data.is_empty()
            }
        }

        impl $crate::PoolState for $pool_state {
            fn is_normal(&self) -> bool {
                *self == <$pool_state>::Normal
            }
        }

        impl $crate::Deployment for $state {
            type RouteChange = $route;
            type RecordSet = $set;
            type PoolState = $pool_state;
            type EdgePool = usize;
            type Machine = (usize, usize);
            type FrontEndPool = usize;
            type Site = usize;

            fn find_edge_pool(&self, fqdn: &str) -> Option<usize> {
                self.edge_pools
                    .iter()
                    .position(|p| $crate::same_name(&p.fqdn, fqdn))
            }

            fn find_machine(&self, fqdn: &str) -> Option<(usize, usize)> {
                self.edge_pools.iter().enumerate().find_map(|(p, pool)| {
                    let m = pool
                        .machines
                        .iter()
                        .position(|m| $crate::same_name(&m.fqdn, fqdn))?;
                    Some((p, m))
                })
            }

            fn find_front_end_pool(&self, fqdn: &str) -> Option<usize> {
                self.front_end_pools
                    .iter()
                    .position(|p| $crate::same_name(&p.fqdn, fqdn))
            }

            fn find_site(&self, name: &str) -> Option<usize> {
                self.sites
                    .iter()
                    .position(|s| $crate::same_name(&s.name, name))
            }

            fn set_edge_pool(&mut self, pool: usize, field: $crate::EdgePoolField) {
                let Some(pool) = self.edge_pools.get_mut(pool) else {
                    return;
                };
                match field {
                    $crate::EdgePoolField::Federation(on) => pool.federation_enabled = on,
                    $crate::EdgePoolField::XmppPortOpen(open) => pool.xmpp_port_open = open,
                    $crate::EdgePoolField::NextHop(hop) => pool.next_hop = hop,
                }
            }

            fn set_machine(&mut self, (pool, machine): (usize, usize), field: $crate::MachineField) {
                let Some(machine) = self
                    .edge_pools
                    .get_mut(pool)
                    .and_then(|p| p.machines.get_mut(machine))
                else {
                    return;
                };
                match field {
                    $crate::MachineField::ServicesRunning(on) => machine.services_running = on,
                    $crate::MachineField::ReplicaUpToDate(on) => machine.replica_up_to_date = on,
                    $crate::MachineField::SetupVersion(version) => machine.setup_version = version,
                }
            }

            fn set_front_end_pool(
                &mut self,
                pool: usize,
                field: $crate::FrontEndPoolField<$pool_state>,
            ) {
                let Some(pool) = self.front_end_pools.get_mut(pool) else {
                    return;
                };
                match field {
                    $crate::FrontEndPoolField::MediaEdgePool(edge) => pool.media_edge_pool = edge,
                    $crate::FrontEndPoolField::State(state) => pool.state = state,
                    $crate::FrontEndPoolField::NoFailover => pool.failover_fqdn = None,
                }
            }

            fn set_route(&mut self, site: usize, route: $route) {
                if let Some(site) = self.sites.get_mut(site) {
                    match route.kind {
                        $kind::Federation => site.federation_route = route.identity,
                        $kind::XmppFederation => site.xmpp_federation_route = route.identity,
                    }
                }
            }

            fn set_deployment(&mut self, field: $crate::DeploymentField) {
                match field {
                    $crate::DeploymentField::CmsAvailable(on) => self.cms_available = on,
                    $crate::DeploymentField::TopologyVersion(version) => {
                        self.topology_version = version;
                    }
                    $crate::DeploymentField::DraftPending(on) => self.draft_pending = on,
                }
            }

            $($rrset)*
        }
    };
}

/// Where the state holds the object a change names.
enum Found<D: Deployment + ?Sized> {
    EdgePool(D::EdgePool),
    Machine(D::Machine),
    FrontEndPool(D::FrontEndPool),
    Site(D::Site),
    /// The change names no object (a record set, a deployment-wide field).
    Nothing,
}

#[inline]
fn find<D: Deployment + ?Sized, R: RouteChange, S, P, N: AsRef<str>>(
    state: &D,
    change: &Change<R, S, P, N>,
) -> Result<Found<D>, UnknownObject> {
    let Some((object, name)) = change.object() else {
        return Ok(Found::Nothing);
    };
    let found = match object {
        Object::EdgePool => state.find_edge_pool(name).map(Found::EdgePool),
        Object::EdgeMachine => state.find_machine(name).map(Found::Machine),
        Object::FrontEndPool => state.find_front_end_pool(name).map(Found::FrontEndPool),
        Object::Site => state.find_site(name).map(Found::Site),
    };
    found.ok_or_else(|| UnknownObject {
        kind: object.name(),
        name: name.to_owned(),
        change: change.case(),
    })
}

/// The object `change` names, when `state` does not hold it. The change may
/// borrow its names (`Name = &str`): asking costs no copy of it.
pub fn unknown<D: Deployment + ?Sized, R: RouteChange, S, P, N: AsRef<str>>(
    state: &D,
    change: &Change<R, S, P, N>,
) -> Option<UnknownObject> {
    find(state, change).err()
}

/// Apply `change` to `state`, as the module docs say.
///
/// # Errors
/// [`UnknownObject`] when the change names an Edge pool, machine, Front End
/// pool or site `state` does not hold; `state` is then unchanged.
#[inline]
pub fn apply<D: Deployment + ?Sized>(
    state: &mut D,
    change: ChangeOf<D>,
) -> Result<(), UnknownObject> {
    let found = find(state, &change)?;
    match (change, found) {
        (Change::Federation { enabled, .. }, Found::EdgePool(pool)) => {
            state.set_edge_pool(pool, EdgePoolField::Federation(enabled));
        }
        (Change::XmppPortOpen { open, .. }, Found::EdgePool(pool)) => {
            state.set_edge_pool(pool, EdgePoolField::XmppPortOpen(open));
        }
        (Change::NextHop { next_hop, .. }, Found::EdgePool(pool)) => {
            state.set_edge_pool(pool, EdgePoolField::NextHop(next_hop));
        }
        (Change::ServicesRunning { running, .. }, Found::Machine(machine)) => {
            state.set_machine(machine, MachineField::ServicesRunning(running));
        }
        (Change::ReplicaUpToDate { up_to_date, .. }, Found::Machine(machine)) => {
            state.set_machine(machine, MachineField::ReplicaUpToDate(up_to_date));
        }
        (Change::SetupVersion { version, .. }, Found::Machine(machine)) => {
            state.set_machine(machine, MachineField::SetupVersion(version));
        }
        (Change::MediaEdgePool { edge_pool, .. }, Found::FrontEndPool(pool)) => {
            state.set_front_end_pool(pool, FrontEndPoolField::MediaEdgePool(edge_pool));
        }
        (Change::PoolState { state: to, .. }, Found::FrontEndPool(pool)) => {
            let normal = to.is_normal();
            state.set_front_end_pool(pool, FrontEndPoolField::State(to));
            if normal {
                state.set_front_end_pool(pool, FrontEndPoolField::NoFailover);
            }
        }
        (Change::Route(route), Found::Site(site)) => state.set_route(site, route),
        (Change::Rrset(mut set), _) => {
            if let Cow::Owned(key) = name_key(set.name()) {
                set.rename(key);
            }
            if set.is_empty() {
                state.delete_rrset(set);
            } else {
                state.put_rrset(set);
            }
        }
        (Change::CmsAvailable { available }, _) => {
            state.set_deployment(DeploymentField::CmsAvailable(available));
        }
        (Change::TopologyVersion { version }, _) => {
            state.set_deployment(DeploymentField::TopologyVersion(version));
        }
        (Change::DraftPending { pending }, _) => {
            state.set_deployment(DeploymentField::DraftPending(pending));
        }
        // `find` found the object `Change::object` says each change names:
        // no other pair occurs.
        _ => {}
    }
    Ok(())
}

/// The lookup key of a DNS name, an FQDN or a site name: lower case, without
/// one final dot.
#[inline]
#[must_use]
pub fn name_key(name: &str) -> Cow<'_, str> {
    let trimmed = without_final_dot(name);
    if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    }
}

/// Two names name the same object: equal regardless of ASCII letter case and
/// of one final dot (`EdgePool1.Contoso.com.` is `edgepool1.contoso.com`).
#[inline]
#[must_use]
pub fn same_name(a: &str, b: &str) -> bool {
    without_final_dot(a).eq_ignore_ascii_case(without_final_dot(b))
}

#[inline]
fn without_final_dot(name: &str) -> &str {
    name.strip_suffix('.').unwrap_or(name)
}

#[cfg(test)]
mod tests;
