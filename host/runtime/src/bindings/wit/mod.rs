//! The host side of the WIT contract, one module per version track of the
//! packages: [`v0_1_0`] (`failback:plugin@0.1.0` and `failback:policy@0.1.0`,
//! each bound from its frozen copy under `wit/`), [`v0_2_0`]
//! (`failback:plugin@0.2.0`, frozen in `wit/plugin-0.2.0`, and
//! `failback:policy@0.2.0`, the current `wit/policy`) and [`v0_3_0`]
//! (`failback:plugin@0.3.0`, the current `wit/plugin`).
//!
//! Each track holds the `bindgen!` output for its worlds and the conversions
//! between its types and `failback_core` at the edge. A plugin is called
//! through the track its manifest names ([`crate::bindings::plugin`] dispatches per
//! plugin); a policy module through the track its component exports
//! ([`crate::bindings::policy`] dispatches on it). A new track adds a module here and one
//! arm per kind there.

/// The conversions from the core model to a policy track's `types` that every
/// track shares: the state (borrowed, `start`) and the changes, whose shape no
/// track has changed. Expanded inside a track's module, where `wit` names its
/// `types`, with the track's names of a site's XMPP federation route field, of
/// the state field for the management store's availability, and of the change
/// that sets it (0.1.0: `xmpp-route`, `store-available`, `StoreAvailable`;
/// 0.2.0: `xmpp-federation-route`, `cms-available`, `CmsAvailable`).
macro_rules! policy_state_conversions {
    (
        xmpp_federation_route: $xmpp_federation_route_name:literal,
        cms_available: $cms_available_name:literal,
        CmsAvailable: $CmsAvailable:ident $(,)?
    ) => {
        use failback_core::deployment::{Change, Deployment, RouteChange, RrSet};
        use failback_core::observed::{PoolState, RecordData, RecordType, RouteKind};

        /// The start state as the track's `state`, its records borrowing the
        /// deployment's strings: lowering copies each name once, into the
        /// module, and not first into an owned copy of the whole state (at
        /// 1,000 pools the owned copy and its freeing were a sixth of a
        /// check). The steps are converted to the owned bindings: a step
        /// changes a few objects.
        pub(crate) mod start {
            use failback_core::deployment::{
                Deployment, EdgeMachineState, EdgePoolState, FrontEndPoolState, RrSet, SiteRoutes,
            };
            use failback_core::observed::RecordData as CoreRecordData;
            use wasmtime::component::{ComponentType, Lower};

            use super::wit;

            #[derive(ComponentType, Lower)]
            #[component(record)]
            pub(crate) struct EdgeMachine<'a> {
                fqdn: &'a str,
                #[component(name = "services-running")]
                services_running: bool,
                #[component(name = "replica-up-to-date")]
                replica_up_to_date: bool,
                #[component(name = "setup-version")]
                setup_version: u64,
            }

            #[derive(ComponentType, Lower)]
            #[component(record)]
            pub(crate) struct EdgePool<'a> {
                fqdn: &'a str,
                site: &'a str,
                #[component(name = "federation-enabled")]
                federation_enabled: bool,
                #[component(name = "next-hop")]
                next_hop: Option<&'a str>,
                #[component(name = "access-edge-fqdn")]
                access_edge_fqdn: Option<&'a str>,
                #[component(name = "access-edge-ips")]
                access_edge_ips: &'a [String],
                machines: Vec<EdgeMachine<'a>>,
                #[component(name = "xmpp-port-open")]
                xmpp_port_open: bool,
            }

            #[derive(ComponentType, Lower)]
            #[component(record)]
            pub(crate) struct FrontEndPool<'a> {
                fqdn: &'a str,
                site: &'a str,
                #[component(name = "media-edge-pool")]
                media_edge_pool: Option<&'a str>,
                state: wit::PoolState,
                #[component(name = "failover-fqdn")]
                failover_fqdn: Option<&'a str>,
                online: bool,
            }

            #[derive(ComponentType, Lower)]
            #[component(record)]
            pub(crate) struct Site<'a> {
                name: &'a str,
                #[component(name = "federation-route")]
                federation_route: Option<String>,
                #[component(name = $xmpp_federation_route_name)]
                xmpp_federation_route: Option<String>,
            }

            #[derive(ComponentType, Lower)]
            #[component(record)]
            pub(crate) struct SrvData<'a> {
                priority: u16,
                weight: u16,
                port: u16,
                target: &'a str,
            }

            #[derive(ComponentType, Lower)]
            #[component(variant)]
            pub(crate) enum RecordData<'a> {
                #[component(name = "a")]
                A(&'a str),
                #[component(name = "aaaa")]
                Aaaa(&'a str),
                #[component(name = "cname")]
                Cname(&'a str),
                #[component(name = "srv")]
                Srv(SrvData<'a>),
                #[component(name = "txt")]
                Txt(&'a str),
            }

            #[derive(ComponentType, Lower)]
            #[component(record)]
            pub(crate) struct Rrset<'a> {
                name: &'a str,
                rtype: wit::RecordType,
                ttl: u32,
                data: Vec<RecordData<'a>>,
            }

            /// The track's `state`.
            #[derive(ComponentType, Lower)]
            #[component(record)]
            pub(crate) struct State<'a> {
                sites: Vec<Site<'a>>,
                #[component(name = "edge-pools")]
                edge_pools: Vec<EdgePool<'a>>,
                #[component(name = "front-end-pools")]
                front_end_pools: Vec<FrontEndPool<'a>>,
                zone: &'a str,
                dns: Vec<Rrset<'a>>,
                #[component(name = $cms_available_name)]
                cms_available: bool,
                #[component(name = "topology-version")]
                topology_version: u64,
                #[component(name = "draft-pending")]
                draft_pending: bool,
            }

            impl<'a> From<&'a EdgeMachineState> for EdgeMachine<'a> {
                fn from(m: &'a EdgeMachineState) -> Self {
                    Self {
                        fqdn: &m.fqdn,
                        services_running: m.services_running,
                        replica_up_to_date: m.replica_up_to_date,
                        setup_version: m.setup_version,
                    }
                }
            }

            impl<'a> From<&'a EdgePoolState> for EdgePool<'a> {
                fn from(p: &'a EdgePoolState) -> Self {
                    Self {
                        fqdn: &p.fqdn,
                        site: &p.site,
                        federation_enabled: p.federation_enabled,
                        next_hop: p.next_hop.as_deref(),
                        access_edge_fqdn: p.access_edge_fqdn.as_deref(),
                        access_edge_ips: &p.access_edge_ips,
                        machines: p.machines.iter().map(Into::into).collect(),
                        xmpp_port_open: p.xmpp_port_open,
                    }
                }
            }

            impl<'a> From<&'a FrontEndPoolState> for FrontEndPool<'a> {
                fn from(p: &'a FrontEndPoolState) -> Self {
                    Self {
                        fqdn: &p.fqdn,
                        site: &p.site,
                        media_edge_pool: p.media_edge_pool.as_deref(),
                        state: p.state.into(),
                        failover_fqdn: p.failover_fqdn.as_deref(),
                        online: p.online,
                    }
                }
            }

            impl<'a> From<&'a SiteRoutes> for Site<'a> {
                fn from(s: &'a SiteRoutes) -> Self {
                    Self {
                        name: &s.name,
                        federation_route: s.federation_route.as_ref().map(ToString::to_string),
                        xmpp_federation_route: s
                            .xmpp_federation_route
                            .as_ref()
                            .map(ToString::to_string),
                    }
                }
            }

            impl<'a> From<&'a CoreRecordData> for RecordData<'a> {
                fn from(d: &'a CoreRecordData) -> Self {
                    match d {
                        CoreRecordData::A(a) => Self::A(a),
                        CoreRecordData::Aaaa(a) => Self::Aaaa(a),
                        CoreRecordData::Cname(c) => Self::Cname(c),
                        CoreRecordData::Srv(s) => Self::Srv(SrvData {
                            priority: s.priority,
                            weight: s.weight,
                            port: s.port,
                            target: &s.target,
                        }),
                        CoreRecordData::Txt(t) => Self::Txt(t),
                    }
                }
            }

            impl<'a> From<&'a RrSet> for Rrset<'a> {
                fn from(r: &'a RrSet) -> Self {
                    Self {
                        name: &r.name,
                        rtype: r.rtype.into(),
                        ttl: r.ttl,
                        data: r.data.iter().map(Into::into).collect(),
                    }
                }
            }

            impl<'a> From<&'a Deployment> for State<'a> {
                fn from(d: &'a Deployment) -> Self {
                    Self {
                        sites: d.sites.iter().map(Into::into).collect(),
                        edge_pools: d.edge_pools.iter().map(Into::into).collect(),
                        front_end_pools: d.front_end_pools.iter().map(Into::into).collect(),
                        zone: &d.zone,
                        dns: d.dns.iter().map(Into::into).collect(),
                        cms_available: d.cms_available,
                        topology_version: d.topology_version,
                        draft_pending: d.draft_pending,
                    }
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
