//! The conversions between a plugin track's WIT types and
//! `failback_core::observed`, written once for every track whose types have
//! the same shape: [`plugin_conversions!`] expands in each track's module,
//! where `wit_dns`, `wit_probe`, `wit_management`, `wit_servers` and
//! `wit_pools` name that track's generated interfaces. (`types` is bound once,
//! to 0.1.0's Rust types, for every track: see [`super::v0_2_0::base`].)

/// The `From` conversions of one plugin track (see the module docs).
macro_rules! plugin_conversions {
    () => {
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
    };
}

/// A plugin track from 0.2.0 on: its `host` interface and its five worlds,
/// bound from `path`, and [`plugin_conversions!`] with the batch reads'
/// `machine-state`. Only the WIT differs between these tracks; each module
/// adds what its own functions need.
///
/// `types` is bound once, to 0.1.0's Rust types, and so is `host`'s use of
/// it: a `plugin-error` or a log level is one type to the host whichever
/// track a plugin is on.
macro_rules! plugin_track {
    (
        path: $path:literal,
        base: $base:literal,
        types: $types:literal,
        host: $host:literal,
        worlds: { $($module:ident: $world:literal),* $(,)? } $(,)?
    ) => {
        /// The `host` interface, its `types` bound to 0.1.0's.
        pub mod base {
            wasmtime::component::bindgen!({
                inline: $base,
                path: $path,
                world: "failback:runtime/base",
                with: {
                    $types: crate::bindings::wit::v0_1_0::base::failback::plugin::types,
                },
            });
        }

        $(
            #[doc = concat!("The `", $world, "` world.")]
            pub mod $module {
                wasmtime::component::bindgen!({
                    path: $path,
                    world: $world,
                    // Every export is called asynchronously (see `v0_1_0`).
                    exports: { default: async },
                    with: {
                        $types: crate::bindings::wit::v0_1_0::base::failback::plugin::types,
                        $host: super::base::failback::plugin::host,
                    },
                });
            }
        )*

        use dns_provider::exports::failback::plugin::dns as wit_dns;
        use management_store::exports::failback::plugin::management as wit_management;
        use pool_control::exports::failback::plugin::pools as wit_pools;
        use port_probe::exports::failback::plugin::probe as wit_probe;
        use server_control::exports::failback::plugin::servers as wit_servers;

        plugin_conversions!();

        impl From<wit_servers::MachineState> for observed::MachineState {
            fn from(value: wit_servers::MachineState) -> Self {
                Self {
                    services: value.services.into_iter().map(Into::into).collect(),
                    setup_version: value.setup_version,
                }
            }
        }
    };
}
