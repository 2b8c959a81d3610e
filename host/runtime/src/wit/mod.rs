//! The host side of the WIT contract, one module per version track of the
//! packages: [`v0_1_0`] (`failback:plugin@0.1.0` and `failback:policy@0.1.0`,
//! each bound from its frozen copy under `wit/`), [`v0_2_0`]
//! (`failback:plugin@0.2.0`, frozen in `wit/plugin-0.2.0`, and
//! `failback:policy@0.2.0`, the current `wit/policy`) and [`v0_3_0`]
//! (`failback:plugin@0.3.0`, the current `wit/plugin`).
//!
//! Each track holds the `bindgen!` output for its worlds and the conversions
//! between its types and `failback_core` at the edge. A plugin is called
//! through the track its manifest names ([`crate::plugin`] dispatches per
//! plugin); a policy module through the track its component exports
//! ([`crate::policy`] dispatches on it). A new track adds a module here and one
//! arm per kind there.

/// The conversions from the core model to a policy track's `types` that every
/// track shares: the state and the changes, whose shape no track has changed.
/// Expanded inside a track's module, where `wit` names its `types`, with the
/// track's names of a site's XMPP federation route field and of the change
/// and state field for the management store's availability (0.1.0:
/// `xmpp-route`, `store-available`; 0.2.0: `xmpp-federation-route`,
/// `cms-available`).
macro_rules! policy_state_conversions {
    (
        xmpp_federation_route: $xmpp_federation_route:ident,
        cms_available: $cms_available:ident,
        CmsAvailable: $CmsAvailable:ident $(,)?
    ) => {
        use failback_core::deployment::{
            Change, Deployment, EdgeMachineState, EdgePoolState, FrontEndPoolState, RouteChange,
            RrSet, SiteRoutes,
        };
        use failback_core::observed::{PoolState, RecordData, RecordType, RouteKind};

        impl From<&EdgeMachineState> for wit::EdgeMachine {
            fn from(m: &EdgeMachineState) -> Self {
                Self {
                    fqdn: m.fqdn.clone(),
                    services_running: m.services_running,
                    replica_up_to_date: m.replica_up_to_date,
                    setup_version: m.setup_version,
                }
            }
        }

        impl From<&EdgePoolState> for wit::EdgePool {
            fn from(p: &EdgePoolState) -> Self {
                Self {
                    fqdn: p.fqdn.clone(),
                    site: p.site.clone(),
                    federation_enabled: p.federation_enabled,
                    next_hop: p.next_hop.clone(),
                    access_edge_fqdn: p.access_edge_fqdn.clone(),
                    access_edge_ips: p.access_edge_ips.clone(),
                    machines: p.machines.iter().map(Into::into).collect(),
                    xmpp_port_open: p.xmpp_port_open,
                }
            }
        }

        impl From<PoolState> for wit::PoolState {
            fn from(s: PoolState) -> Self {
                match s {
                    PoolState::Normal => Self::Normal,
                    PoolState::FailedOver => Self::FailedOver,
                    PoolState::FailingBack => Self::FailingBack,
                }
            }
        }

        impl From<&FrontEndPoolState> for wit::FrontEndPool {
            fn from(p: &FrontEndPoolState) -> Self {
                Self {
                    fqdn: p.fqdn.clone(),
                    site: p.site.clone(),
                    media_edge_pool: p.media_edge_pool.clone(),
                    state: p.state.into(),
                    failover_fqdn: p.failover_fqdn.clone(),
                    online: p.online,
                }
            }
        }

        impl From<&SiteRoutes> for wit::Site {
            fn from(s: &SiteRoutes) -> Self {
                Self {
                    name: s.name.clone(),
                    federation_route: s.federation_route.as_ref().map(ToString::to_string),
                    $xmpp_federation_route: s
                        .xmpp_federation_route
                        .as_ref()
                        .map(ToString::to_string),
                }
            }
        }

        impl From<RecordType> for wit::RecordType {
            fn from(t: RecordType) -> Self {
                match t {
                    RecordType::A => Self::A,
                    RecordType::Aaaa => Self::Aaaa,
                    RecordType::Cname => Self::Cname,
                    RecordType::Srv => Self::Srv,
                    RecordType::Txt => Self::Txt,
                }
            }
        }

        impl From<&RecordData> for wit::RecordData {
            fn from(d: &RecordData) -> Self {
                match d {
                    RecordData::A(a) => Self::A(a.clone()),
                    RecordData::Aaaa(a) => Self::Aaaa(a.clone()),
                    RecordData::Cname(c) => Self::Cname(c.clone()),
                    RecordData::Srv(s) => Self::Srv(wit::SrvData {
                        priority: s.priority,
                        weight: s.weight,
                        port: s.port,
                        target: s.target.clone(),
                    }),
                    RecordData::Txt(t) => Self::Txt(t.clone()),
                }
            }
        }

        impl From<&RrSet> for wit::Rrset {
            fn from(r: &RrSet) -> Self {
                Self {
                    name: r.name.clone(),
                    rtype: r.rtype.into(),
                    ttl: r.ttl,
                    data: r.data.iter().map(Into::into).collect(),
                }
            }
        }

        impl From<&Deployment> for wit::State {
            fn from(d: &Deployment) -> Self {
                Self {
                    sites: d.sites.iter().map(Into::into).collect(),
                    edge_pools: d.edge_pools.iter().map(Into::into).collect(),
                    front_end_pools: d.front_end_pools.iter().map(Into::into).collect(),
                    zone: d.zone.clone(),
                    dns: d.dns.iter().map(Into::into).collect(),
                    $cms_available: d.cms_available,
                    topology_version: d.topology_version,
                    draft_pending: d.draft_pending,
                }
            }
        }

        impl From<RouteKind> for wit::RouteKind {
            fn from(k: RouteKind) -> Self {
                match k {
                    RouteKind::Federation => Self::Federation,
                    RouteKind::XmppFederation => Self::XmppFederation,
                }
            }
        }

        impl From<&RouteChange> for wit::RouteChange {
            fn from(r: &RouteChange) -> Self {
                Self {
                    site: r.site.clone(),
                    kind: r.kind.into(),
                    identity: r.identity.as_ref().map(ToString::to_string),
                }
            }
        }

        impl From<&Change> for wit::Change {
            fn from(c: &Change) -> Self {
                match c {
                    Change::Federation { edge_pool, enabled } => {
                        Self::Federation((edge_pool.clone(), *enabled))
                    }
                    Change::ServicesRunning { machine, running } => {
                        Self::ServicesRunning((machine.clone(), *running))
                    }
                    Change::ReplicaUpToDate {
                        machine,
                        up_to_date,
                    } => Self::ReplicaUpToDate((machine.clone(), *up_to_date)),
                    Change::SetupVersion { machine, version } => {
                        Self::SetupVersion((machine.clone(), *version))
                    }
                    Change::Route(r) => Self::Route(r.into()),
                    Change::Rrset(r) => Self::Rrset(r.into()),
                    Change::XmppPortOpen { edge_pool, open } => {
                        Self::XmppPortOpen((edge_pool.clone(), *open))
                    }
                    Change::MediaEdgePool {
                        front_end_pool,
                        edge_pool,
                    } => Self::MediaEdgePool((front_end_pool.clone(), edge_pool.clone())),
                    Change::PoolState {
                        front_end_pool,
                        state,
                    } => Self::PoolState((front_end_pool.clone(), (*state).into())),
                    Change::NextHop {
                        edge_pool,
                        next_hop,
                    } => Self::NextHop((edge_pool.clone(), next_hop.clone())),
                    Change::CmsAvailable { available } => Self::$CmsAvailable(*available),
                    Change::TopologyVersion { version } => Self::TopologyVersion(*version),
                    Change::DraftPending { pending } => Self::DraftPending(*pending),
                }
            }
        }
    };
}

#[macro_use]
mod convert;
pub mod v0_1_0;
pub mod v0_2_0;
pub mod v0_3_0;
