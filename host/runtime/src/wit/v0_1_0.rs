//! Bindings of `failback:plugin@0.1.0` and `failback:policy@0.1.0`, and the
//! conversions between their types and `failback_core::observed`.
//!
//! Every plugin world shares the `types` and `host` interfaces: they are
//! generated once ([`base`]) and re-used by each world's bindings through
//! `with:`, so that the host implements `host` once for every plugin kind.

use failback_core::observed;

use crate::plugin::PluginError;

/// The shared `types` and `host` interfaces.
pub mod base {
    wasmtime::component::bindgen!({
        inline: "
            package failback:runtime;
            world base { import failback:plugin/host@0.1.0; }
        ",
        path: "../../wit/plugin",
        world: "failback:runtime/base",
    });
}

macro_rules! plugin_world {
    ($module:ident, $world:literal) => {
        #[doc = concat!("The `", $world, "` world.")]
        pub mod $module {
            wasmtime::component::bindgen!({
                path: "../../wit/plugin",
                world: $world,
                // Every export is called asynchronously, so that a wait in a
                // host call (a socket, a file, a clock) ends at the call's
                // deadline (`crate::call`).
                exports: { default: async },
                with: {
                    "failback:plugin/types@0.1.0": super::base::failback::plugin::types,
                    "failback:plugin/host@0.1.0": super::base::failback::plugin::host,
                },
            });
        }
    };
}

plugin_world!(dns_provider, "failback:plugin/dns-provider@0.1.0");
plugin_world!(port_probe, "failback:plugin/port-probe@0.1.0");
plugin_world!(management_store, "failback:plugin/management-store@0.1.0");
plugin_world!(server_control, "failback:plugin/server-control@0.1.0");
plugin_world!(pool_control, "failback:plugin/pool-control@0.1.0");

/// The `failback:policy/policy@0.1.0` world. Its types stay the bindgen types
/// for now; the policy issue adds conversions from the core model.
pub mod policy {
    wasmtime::component::bindgen!({
        path: "../../wit/policy",
        world: "failback:policy/policy@0.1.0",
        exports: { default: async },
    });
}

use base::failback::plugin::types as wit_types;
use dns_provider::exports::failback::plugin::dns as wit_dns;
use management_store::exports::failback::plugin::management as wit_management;
use pool_control::exports::failback::plugin::pools as wit_pools;
use port_probe::exports::failback::plugin::probe as wit_probe;
use server_control::exports::failback::plugin::servers as wit_servers;

pub use wit_types::LogLevel;

impl From<wit_types::PluginError> for PluginError {
    fn from(error: wit_types::PluginError) -> Self {
        use wit_types::PluginError as E;
        match error {
            E::Config(m) => Self::Config(m),
            E::NotFound(m) => Self::NotFound(m),
            E::Refused(m) => Self::Refused(m),
            E::Conflict(m) => Self::Conflict(m),
            E::Unavailable(m) => Self::Unavailable(m),
            E::Invalid(m) => Self::Invalid(m),
            E::Failed(m) => Self::Failed(m),
        }
    }
}

// dns

impl From<wit_dns::RecordType> for observed::RecordType {
    fn from(value: wit_dns::RecordType) -> Self {
        use wit_dns::RecordType as T;
        match value {
            T::A => Self::A,
            T::Aaaa => Self::Aaaa,
            T::Cname => Self::Cname,
            T::Srv => Self::Srv,
            T::Txt => Self::Txt,
        }
    }
}

impl From<observed::RecordType> for wit_dns::RecordType {
    fn from(value: observed::RecordType) -> Self {
        use observed::RecordType as T;
        match value {
            T::A => Self::A,
            T::Aaaa => Self::Aaaa,
            T::Cname => Self::Cname,
            T::Srv => Self::Srv,
            T::Txt => Self::Txt,
        }
    }
}

impl From<wit_dns::RecordData> for observed::RecordData {
    fn from(value: wit_dns::RecordData) -> Self {
        use wit_dns::RecordData as D;
        match value {
            D::A(v) => Self::A(v),
            D::Aaaa(v) => Self::Aaaa(v),
            D::Cname(v) => Self::Cname(v),
            D::Srv(srv) => Self::Srv(observed::SrvData {
                priority: srv.priority,
                weight: srv.weight,
                port: srv.port,
                target: srv.target,
            }),
            D::Txt(v) => Self::Txt(v),
        }
    }
}

impl From<observed::RecordData> for wit_dns::RecordData {
    fn from(value: observed::RecordData) -> Self {
        use observed::RecordData as D;
        match value {
            D::A(v) => Self::A(v),
            D::Aaaa(v) => Self::Aaaa(v),
            D::Cname(v) => Self::Cname(v),
            D::Srv(srv) => Self::Srv(wit_dns::SrvData {
                priority: srv.priority,
                weight: srv.weight,
                port: srv.port,
                target: srv.target,
            }),
            D::Txt(v) => Self::Txt(v),
        }
    }
}

impl From<wit_dns::DnsRecord> for observed::DnsRecord {
    fn from(value: wit_dns::DnsRecord) -> Self {
        Self {
            name: value.name,
            ttl: value.ttl,
            data: value.data.into(),
        }
    }
}

// probe

impl From<observed::ProbeKind> for wit_probe::ProbeKind {
    fn from(value: observed::ProbeKind) -> Self {
        match value {
            observed::ProbeKind::Tcp => Self::Tcp,
            observed::ProbeKind::XmppServer => Self::XmppServer,
        }
    }
}

impl From<observed::ProbeRequest> for wit_probe::ProbeRequest {
    fn from(value: observed::ProbeRequest) -> Self {
        Self {
            host: value.host,
            port: value.port,
            kind: value.kind.into(),
            timeout_ms: value.timeout_ms,
            stream_to: value.stream_to,
        }
    }
}

impl From<wit_probe::PortState> for observed::PortState {
    fn from(value: wit_probe::PortState) -> Self {
        match value {
            wit_probe::PortState::Open => Self::Open,
            wit_probe::PortState::Closed => Self::Closed,
            wit_probe::PortState::Filtered => Self::Filtered,
        }
    }
}

impl From<wit_probe::XmppAnswer> for observed::XmppAnswer {
    fn from(value: wit_probe::XmppAnswer) -> Self {
        Self {
            stream_header: value.stream_header,
            stream_id: value.stream_id,
            features: value.features,
            starttls: value.starttls,
            other: value.other,
        }
    }
}

impl From<wit_probe::ProbeReport> for observed::ProbeReport {
    fn from(value: wit_probe::ProbeReport) -> Self {
        Self {
            state: value.state.into(),
            xmpp: value.xmpp.map(Into::into),
            detail: value.detail,
        }
    }
}

// management

impl From<wit_management::TopologyDocument> for observed::TopologyDocument {
    fn from(value: wit_management::TopologyDocument) -> Self {
        Self {
            xml: value.xml,
            version: value.version,
            enabled: value.enabled,
        }
    }
}

impl From<wit_management::Site> for observed::Site {
    fn from(value: wit_management::Site) -> Self {
        Self {
            site: value.site,
            federation_route: value.federation_route,
            xmpp_federation_route: value.xmpp_federation_route,
        }
    }
}

impl From<observed::RouteKind> for wit_management::RouteKind {
    fn from(value: observed::RouteKind) -> Self {
        match value {
            observed::RouteKind::Federation => Self::Federation,
            observed::RouteKind::XmppFederation => Self::XmppFederation,
        }
    }
}

impl From<wit_management::StoreStatus> for observed::StoreStatus {
    fn from(value: wit_management::StoreStatus) -> Self {
        Self {
            active_master: value.active_master,
            file_transfer_agents: value.file_transfer_agents,
        }
    }
}

impl From<wit_management::ReplicaStatus> for observed::ReplicaStatus {
    fn from(value: wit_management::ReplicaStatus) -> Self {
        Self {
            fqdn: value.fqdn,
            up_to_date: value.up_to_date,
            last_update: value.last_update,
        }
    }
}

// servers

impl From<wit_servers::ServiceState> for observed::ServiceState {
    fn from(value: wit_servers::ServiceState) -> Self {
        use wit_servers::ServiceState as S;
        match value {
            S::Running => Self::Running,
            S::Stopped => Self::Stopped,
            S::StartPending => Self::StartPending,
            S::StopPending => Self::StopPending,
            S::Disabled => Self::Disabled,
        }
    }
}

impl From<wit_servers::ServiceStatus> for observed::ServiceStatus {
    fn from(value: wit_servers::ServiceStatus) -> Self {
        Self {
            name: value.name,
            state: value.state.into(),
        }
    }
}

impl From<wit_servers::SetupReport> for observed::SetupReport {
    fn from(value: wit_servers::SetupReport) -> Self {
        Self {
            applied_version: value.applied_version,
            log: value.log,
        }
    }
}

// pools

impl From<wit_pools::PoolState> for observed::PoolState {
    fn from(value: wit_pools::PoolState) -> Self {
        match value {
            wit_pools::PoolState::Normal => Self::Normal,
            wit_pools::PoolState::FailedOver => Self::FailedOver,
            wit_pools::PoolState::FailingBack => Self::FailingBack,
        }
    }
}

impl From<wit_pools::PoolStatus> for observed::PoolStatus {
    fn from(value: wit_pools::PoolStatus) -> Self {
        Self {
            fqdn: value.fqdn,
            state: value.state.into(),
            backup_pool: value.backup_pool,
            failover_fqdn: value.failover_fqdn,
            online: value.online,
        }
    }
}

// ---------------------------------------------------------------------------
// failback:policy@0.1.0: the core model as the policies see it.

mod policy_model {
    use failback_core::deployment::{
        Change, Deployment, EdgeMachineState, EdgePoolState, FrontEndPoolState, RouteChange, RrSet,
        SiteRoutes,
    };
    use failback_core::observed::{PoolState, RecordData, RecordType, RouteKind};
    use failback_core::plan::{Action, Goal, Step};

    use super::policy::failback::policy::types as wit;

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
                xmpp_route: s.xmpp_route.as_ref().map(ToString::to_string),
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
                store_available: d.store_available,
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
                Change::StoreAvailable { available } => Self::StoreAvailable(*available),
                Change::TopologyVersion { version } => Self::TopologyVersion(*version),
                Change::DraftPending { pending } => Self::DraftPending(*pending),
            }
        }
    }

    impl From<Action> for wit::Action {
        fn from(a: Action) -> Self {
            match a {
                Action::LowerTtl => Self::LowerTtl,
                Action::StartEdgeServices => Self::StartEdgeServices,
                Action::SetFederationEdge => Self::SetFederationEdge,
                Action::PublishTopology => Self::PublishTopology,
                Action::AwaitReplication => Self::AwaitReplication,
                Action::RunEdgeSetup => Self::RunEdgeSetup,
                Action::RepointSipFederationDns => Self::RepointSipFederationDns,
                Action::SetXmppRoute => Self::SetXmppRoute,
                Action::EnsureXmppSrv => Self::EnsureXmppSrv,
                Action::SetXmppARecord => Self::SetXmppARecord,
                Action::VerifyXmppPort => Self::VerifyXmppPort,
                Action::ReassociateFrontEnds => Self::ReassociateFrontEnds,
                Action::PoolFailback => Self::PoolFailback,
                Action::RestoreTtl => Self::RestoreTtl,
            }
        }
    }

    impl From<&Step> for wit::Step {
        fn from(s: &Step) -> Self {
            Self {
                action: s.action.into(),
                target: s.target.clone(),
                argument: s.policy_argument(),
                changes: s.changes.iter().map(Into::into).collect(),
            }
        }
    }

    impl From<&Goal> for wit::Goal {
        fn from(g: &Goal) -> Self {
            Self {
                restored_site: g.restored_site.clone(),
                federation_pool: g.federation_pool.clone(),
                xmpp_pool: g.xmpp_pool.clone(),
                media_pool: g.media_pool.clone(),
                cutover_ttl: g.cutover_ttl,
            }
        }
    }
}
