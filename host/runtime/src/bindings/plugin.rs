//! The typed API of each plugin kind: what the rest of the host calls.
//!
//! A [`Plugin`] is a loaded, checked, pre-instantiated component; each kind's
//! wrapper ([`DnsProvider`], [`PortProbe`], [`ManagementStore`],
//! [`ServerControl`], [`PoolControl`]) checks that it implements its world and
//! exposes the world's functions over `failback_core::observed` types. Each call
//! runs in a fresh store ([`crate::bindings::call`]) and returns either the value, the
//! guest's own [`PluginError`], or a runtime failure — all as [`CallError`].

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use failback_core::observed;
use failback_core::text::quoted;
use wasmtime::component::InstancePre;

use crate::bindings::call::{CallState, Guest};
use crate::bindings::wit::v0_1_0::base::failback::plugin::types::PluginError as WitPluginError;
use crate::bindings::wit::{v0_1_0, v0_2_0, v0_3_0};
use crate::digest::Digest;
use crate::manifest::PluginTrack;
use crate::manifest::{Limits, Manifest, PluginKind};
use crate::sandbox::guest_error::{BindError, CallError};
use crate::trust::Signer;

/// A loaded plugin of any kind.
#[derive(Clone)]
pub struct Plugin {
    /// The kind it is bound to, which its manifest's world names.
    kind: PluginKind,
    guest: Guest,
    manifest: Arc<Manifest>,
    pre: InstancePre<CallState>,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.manifest.name)
            .field("kind", &self.manifest.role)
            .field("digest", &self.guest.digest)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    pub(crate) fn new(
        kind: PluginKind,
        guest: Guest,
        manifest: Manifest,
        pre: InstancePre<CallState>,
    ) -> Self {
        Self {
            kind,
            guest,
            manifest: Arc::new(manifest),
            pre,
        }
    }

    /// The plugin's name, from its manifest.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    #[must_use]
    pub fn kind(&self) -> PluginKind {
        self.kind
    }

    /// The component's sha256.
    #[must_use]
    pub fn digest(&self) -> Digest {
        self.guest.digest
    }

    /// Who vouches for the component ([`crate::trust`]).
    #[must_use]
    pub fn signer(&self) -> &Signer {
        &self.guest.signer
    }

    #[must_use]
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The limits in force: the manifest's, tightened by the environment.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.guest.limits
    }

    /// Instantiate the plugin in a fresh store and drop it, calling nothing:
    /// checks that it starts within its limits.
    pub fn instantiate(&self) -> Result<(), CallError> {
        self.guest.instantiate(&self.pre)
    }

    fn expect_kind(&self, kind: PluginKind) -> Result<(), BindError> {
        if self.kind() == kind {
            Ok(())
        } else {
            Err(BindError::WrongWorld {
                plugin: self.name().to_owned(),
                kind: crate::manifest::Role::Plugin(kind),
                world: self.manifest.world.clone(),
            })
        }
    }

    /// The track its manifest names.
    fn track(&self) -> PluginTrack {
        self.manifest.plugin_track().unwrap_or(PluginTrack::CURRENT)
    }

    /// A batch's answers to `asked` objects, each converted, each error the
    /// guest's own for that object; refused unless there is exactly one answer
    /// per object.
    fn answers<T, O>(
        &self,
        function: &'static str,
        asked: usize,
        answers: Vec<Result<T, WitPluginError>>,
        convert: impl Fn(T) -> O,
    ) -> Result<Vec<Answer<O>>, CallError> {
        if answers.len() != asked {
            let refused = Err(CallError::AnswerCount {
                plugin: self.name().to_owned(),
                function,
                asked,
                answered: answers.len(),
            });
            // The call itself was audited as returning; the refusal is audited too.
            self.guest
                .audit(function, SystemTime::now(), Instant::now(), &refused);
            return refused;
        }
        Ok(answers
            .into_iter()
            .map(|answer| {
                answer
                    .map(&convert)
                    .map_err(|error| self.guest.plugin_error(function, error.into()))
            })
            .collect())
    }

    /// The answer of a batch of one ([`Plugin::answers`] checked the count).
    fn single<T>(&self, function: &'static str, answers: Vec<Answer<T>>) -> Result<T, CallError> {
        answers.into_iter().next().unwrap_or_else(|| {
            Err(CallError::AnswerCount {
                plugin: self.name().to_owned(),
                function,
                asked: 1,
                answered: 0,
            })
        })
    }

    fn link_error(&self, error: &wasmtime::Error) -> BindError {
        BindError::Link {
            plugin: self.name().to_owned(),
            message: format!("{error:#}"),
        }
    }
}

/// A kind's bindings, on the track the plugin was built against.
#[derive(Clone)]
enum Track<V01, V02, V03> {
    V0_1(V01),
    V0_2(V02),
    V0_3(V03),
}

macro_rules! typed_plugin {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $world:ident, $pre:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name {
            plugin: Plugin,
            pre: Track<
                v0_1_0::$world::$pre<CallState>,
                v0_2_0::$world::$pre<CallState>,
                v0_3_0::$world::$pre<CallState>,
            >,
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.plugin).finish()
            }
        }

        impl $name {
            /// Check that `plugin` is bound to this kind and exports its world
            /// on the track its manifest names.
            pub fn new(plugin: Plugin) -> Result<Self, BindError> {
                plugin.expect_kind($kind)?;
                let link = |e: wasmtime::Error| plugin.link_error(&e);
                let pre = match plugin.track() {
                    PluginTrack::V0_1 => {
                        Track::V0_1(v0_1_0::$world::$pre::new(plugin.pre.clone()).map_err(link)?)
                    }
                    PluginTrack::V0_2 => {
                        Track::V0_2(v0_2_0::$world::$pre::new(plugin.pre.clone()).map_err(link)?)
                    }
                    PluginTrack::V0_3 => {
                        Track::V0_3(v0_3_0::$world::$pre::new(plugin.pre.clone()).map_err(link)?)
                    }
                };
                Ok(Self { plugin, pre })
            }

            /// The loaded plugin.
            #[must_use]
            pub fn plugin(&self) -> &Plugin {
                &self.plugin
            }
        }
    };
}

/// Call `$function` through whichever track `$self` is bound on: the same
/// tokens in each arm, so each arm converts to and from its own track's types.
macro_rules! on_track {
    ($self:ident, $function:literal, |$bindings:ident, $store:ident| $call:expr, $convert:expr) => {
        on_track!(
            $self,
            ($function, $function, $function),
            |$bindings, $store| ($call, $call, $call),
            $convert
        )
    };
    // A function each track names its own way: its name and call on 0.1.0,
    // on 0.2.0, then on 0.3.0.
    (
        $self:ident,
        ($function_v0_1:expr, $function_v0_2:expr, $function_v0_3:expr),
        |$bindings:ident, $store:ident| ($call_v0_1:expr, $call_v0_2:expr, $call_v0_3:expr),
        $convert:expr
    ) => {
        match &$self.pre {
            Track::V0_1(pre) => $self.plugin.guest.call(
                $function_v0_1,
                async |store| pre.instantiate_async(store).await,
                async |$bindings, $store| $call_v0_1,
                $convert,
            ),
            Track::V0_2(pre) => $self.plugin.guest.call(
                $function_v0_2,
                async |store| pre.instantiate_async(store).await,
                async |$bindings, $store| $call_v0_2,
                $convert,
            ),
            Track::V0_3(pre) => $self.plugin.guest.call(
                $function_v0_3,
                async |store| pre.instantiate_async(store).await,
                async |$bindings, $store| $call_v0_3,
                $convert,
            ),
        }
    };
}

/// A function `0.3.0` takes in a batch, on the plugin's track: a `0.3.0`
/// plugin gets every item in one call of the batch function; a plugin of an
/// older track is called the single-object function once per item, in
/// order, under one deadline, and the first error stops the rest
/// ([`crate::bindings::call::Guest::call_in_turn`]).
macro_rules! batch_on_track {
    (
        $self:ident,
        $items:expr,
        each: ($single:expr, |$bindings:ident, $store:ident, $item:ident| $call_one:expr),
        batch: ($batch:expr, |$batch_bindings:ident, $batch_store:ident| $call_all:expr)
    ) => {
        match &$self.pre {
            Track::V0_1(pre) => $self
                .plugin
                .guest
                .call_in_turn(
                    $single,
                    $items,
                    async |store| pre.instantiate_async(store).await,
                    async |$bindings, $store, $item| $call_one,
                )
                .map(drop),
            Track::V0_2(pre) => $self
                .plugin
                .guest
                .call_in_turn(
                    $single,
                    $items,
                    async |store| pre.instantiate_async(store).await,
                    async |$bindings, $store, $item| $call_one,
                )
                .map(drop),
            Track::V0_3(pre) => $self.plugin.guest.call(
                $batch,
                async |store| pre.instantiate_async(store).await,
                async |$batch_bindings, $batch_store| $call_all,
                |()| (),
            ),
        }
    };
}

/// A read of many objects, one answer per object: a plugin of `0.2.0` or a
/// later track answers in one call of the batch function (its answers
/// counted against the objects, [`Plugin::answers`]); a `0.1.0` plugin as
/// `v0_1` says.
macro_rules! read_on_track {
    (
        $self:ident,
        $count:expr,
        v0_1: |$pre:pat_param| $v0_1:expr,
        batch: ($function:expr, |$bindings:ident, $store:ident| $call:expr)
    ) => {
        match &$self.pre {
            Track::V0_1($pre) => $v0_1,
            Track::V0_2(pre) => {
                let answers = $self.plugin.guest.call(
                    $function,
                    async |store| pre.instantiate_async(store).await,
                    async |$bindings, $store| $call,
                    |answers| answers,
                )?;
                $self.plugin.answers($function, $count, answers, Into::into)
            }
            Track::V0_3(pre) => {
                let answers = $self.plugin.guest.call(
                    $function,
                    async |store| pre.instantiate_async(store).await,
                    async |$bindings, $store| $call,
                    |answers| answers,
                )?;
                $self.plugin.answers($function, $count, answers, Into::into)
            }
        }
    };
}

typed_plugin!(
    /// A `dns-provider` plugin: records of the external zone.
    DnsProvider,
    PluginKind::DnsProvider,
    dns_provider,
    DnsProviderPre
);
typed_plugin!(
    /// A `port-probe` plugin: external reachability of an endpoint.
    PortProbe,
    PluginKind::PortProbe,
    port_probe,
    PortProbePre
);
typed_plugin!(
    /// A `management-store` plugin: topology, site routes, replication.
    ManagementStore,
    PluginKind::ManagementStore,
    management_store,
    ManagementStorePre
);
typed_plugin!(
    /// A `server-control` plugin: services and local setup on each server.
    ServerControl,
    PluginKind::ServerControl,
    server_control,
    ServerControlPre
);
typed_plugin!(
    /// A `pool-control` plugin: Front End pool failover state and failback.
    PoolControl,
    PluginKind::PoolControl,
    pool_control,
    PoolControlPre
);

impl DnsProvider {
    /// `dns.list-records`: every record of `zone`.
    pub fn list_records(&self, zone: &str) -> Result<Vec<observed::DnsRecord>, CallError> {
        on_track!(
            self,
            "dns.list-records",
            |bindings, store| {
                bindings
                    .failback_plugin_dns()
                    .call_list_records(store, zone)
                    .await
            },
            |records| records.into_iter().map(Into::into).collect()
        )
    }

    /// `dns.replace-rrset`: make (`name`, `rtype`) in `zone` exactly `data`.
    pub fn replace_rrset(
        &self,
        zone: &str,
        name: &str,
        rtype: observed::RecordType,
        ttl: u32,
        data: &[observed::RecordData],
    ) -> Result<(), CallError> {
        on_track!(
            self,
            "dns.replace-rrset",
            |bindings, store| {
                let data: Vec<_> = data.iter().cloned().map(Into::into).collect();
                bindings
                    .failback_plugin_dns()
                    .call_replace_rrset(store, zone, name, rtype.into(), ttl, &data)
                    .await
            },
            |()| ()
        )
    }

    /// `dns.delete-rrset`: delete (`name`, `rtype`) from `zone`.
    pub fn delete_rrset(
        &self,
        zone: &str,
        name: &str,
        rtype: observed::RecordType,
    ) -> Result<(), CallError> {
        on_track!(
            self,
            "dns.delete-rrset",
            |bindings, store| {
                bindings
                    .failback_plugin_dns()
                    .call_delete_rrset(store, zone, name, rtype.into())
                    .await
            },
            |()| ()
        )
    }
}

/// One answer of a batch: the guest's value for one object, or its
/// `plugin-error` for that object alone.
pub type Answer<T> = Result<T, CallError>;

impl PortProbe {
    /// `probe.probe`: probe one endpoint.
    pub fn probe(
        &self,
        request: &observed::ProbeRequest,
    ) -> Result<observed::ProbeReport, CallError> {
        let answers = self.probe_all(std::slice::from_ref(request))?;
        self.plugin.single("probe.probe-endpoints", answers)
    }

    /// Probe every endpoint of `requests` at once, under one deadline: one
    /// answer per request, in order. A `0.2.0` (or later) plugin gets them in one
    /// `probe-endpoints` call; a `0.1.0` plugin is called once per endpoint,
    /// the calls running concurrently ([`Guest::call_each`]).
    pub fn probe_all(
        &self,
        requests: &[observed::ProbeRequest],
    ) -> Result<Vec<Answer<observed::ProbeReport>>, CallError> {
        const FUNCTION: &str = "probe.probe-endpoints";
        read_on_track!(
            self,
            requests.len(),
            v0_1: |pre| Ok(self.plugin.guest.call_each(
                "probe.probe",
                requests,
                async |store| pre.instantiate_async(store).await,
                async |bindings, store, request| {
                    bindings
                        .failback_plugin_probe()
                        .call_probe(store, &request.clone().into())
                        .await
                },
                Into::into,
            )),
            batch: (FUNCTION, |bindings, store| {
                let wit_requests: Vec<_> = requests.iter().cloned().map(Into::into).collect();
                bindings
                    .failback_plugin_probe()
                    .call_probe_endpoints(store, &wit_requests)
                    .await
            })
        )
    }
}

impl ManagementStore {
    /// `management.read-topology`
    pub fn read_topology(&self) -> Result<observed::TopologyDocument, CallError> {
        on_track!(
            self,
            "management.read-topology",
            |bindings, store| {
                bindings
                    .failback_plugin_management()
                    .call_read_topology(store)
                    .await
            },
            Into::into
        )
    }

    /// `management.publish-topology`: publish `xml` against `expected_version`;
    /// the new version.
    pub fn publish_topology(&self, xml: &str, expected_version: u64) -> Result<u64, CallError> {
        on_track!(
            self,
            "management.publish-topology",
            |bindings, store| {
                bindings
                    .failback_plugin_management()
                    .call_publish_topology(store, xml, expected_version)
                    .await
            },
            |version| version
        )
    }

    /// `management.enable-topology`
    pub fn enable_topology(&self, version: u64) -> Result<(), CallError> {
        on_track!(
            self,
            "management.enable-topology",
            |bindings, store| {
                bindings
                    .failback_plugin_management()
                    .call_enable_topology(store, version)
                    .await
            },
            |()| ()
        )
    }

    /// `management.list-sites`
    pub fn list_sites(&self) -> Result<Vec<observed::Site>, CallError> {
        on_track!(
            self,
            "management.list-sites",
            |bindings, store| {
                bindings
                    .failback_plugin_management()
                    .call_list_sites(store)
                    .await
            },
            |sites| sites.into_iter().map(Into::into).collect()
        )
    }

    /// Set every route of `routes`. A `0.3.0` plugin gets them in one
    /// `set-site-routes` call; a plugin of an older track is called
    /// `set-site-route` once per route, in order, under one deadline, and the
    /// first error stops the rest ([`crate::bindings::call::Guest::call_in_turn`]).
    pub fn set_site_routes(&self, routes: &[observed::SiteRoute]) -> Result<(), CallError> {
        batch_on_track!(
            self,
            routes,
            each: (SET_SITE_ROUTE, |bindings, store, route| {
                bindings
                    .failback_plugin_management()
                    .call_set_site_route(
                        store,
                        &route.site,
                        route.kind.into(),
                        route.identity.as_deref(),
                    )
                    .await
            }),
            batch: (SET_SITE_ROUTES, |bindings, store| {
                let routes: Vec<_> = routes.iter().map(Into::into).collect();
                bindings
                    .failback_plugin_management()
                    .call_set_site_routes(store, &routes)
                    .await
            })
        )
    }

    /// The name of the function that sets site routes on this plugin's track.
    #[must_use]
    pub fn set_site_routes_function(&self) -> &'static str {
        match self.pre {
            Track::V0_1(_) | Track::V0_2(_) => SET_SITE_ROUTE,
            Track::V0_3(_) => SET_SITE_ROUTES,
        }
    }

    /// `management.read-store-status`
    pub fn read_store_status(&self) -> Result<observed::StoreStatus, CallError> {
        on_track!(
            self,
            "management.read-store-status",
            |bindings, store| {
                bindings
                    .failback_plugin_management()
                    .call_read_store_status(store)
                    .await
            },
            Into::into
        )
    }

    /// `management.replication-status`
    pub fn replication_status(&self) -> Result<Vec<observed::ReplicaStatus>, CallError> {
        on_track!(
            self,
            "management.replication-status",
            |bindings, store| {
                bindings
                    .failback_plugin_management()
                    .call_replication_status(store)
                    .await
            },
            |replicas| replicas.into_iter().map(Into::into).collect()
        )
    }

    /// `management.replicate`: replicate to each of `fqdns` now. A `0.3.0`
    /// plugin gets them in one call; a plugin of an older track is called
    /// once per replica, in order, under one deadline, and the first error
    /// stops the rest.
    pub fn replicate(&self, fqdns: &[String]) -> Result<(), CallError> {
        batch_on_track!(
            self,
            fqdns,
            each: (REPLICATE, |bindings, store, fqdn| {
                bindings
                    .failback_plugin_management()
                    .call_replicate(store, fqdn)
                    .await
            }),
            batch: (REPLICATE, |bindings, store| {
                bindings
                    .failback_plugin_management()
                    .call_replicate(store, fqdns)
                    .await
            })
        )
    }
}

impl ServerControl {
    /// Every Lync service on `machine`.
    pub fn list_services(&self, machine: &str) -> Result<Vec<observed::ServiceStatus>, CallError> {
        match &self.pre {
            Track::V0_1(pre) => self.plugin.guest.call(
                "servers.list-services",
                async |store| pre.instantiate_async(store).await,
                async |bindings, store| {
                    bindings
                        .failback_plugin_servers()
                        .call_list_services(store, machine)
                        .await
                },
                |services| services.into_iter().map(Into::into).collect(),
            ),
            Track::V0_2(_) | Track::V0_3(_) => Ok(self.read_one(machine)?.services),
        }
    }

    /// `servers.start-services`
    pub fn start_services(&self, machine: &str) -> Result<(), CallError> {
        on_track!(
            self,
            "servers.start-services",
            |bindings, store| {
                bindings
                    .failback_plugin_servers()
                    .call_start_services(store, machine)
                    .await
            },
            |()| ()
        )
    }

    /// The topology version setup last applied on `machine`, if it ever ran.
    pub fn setup_version(&self, machine: &str) -> Result<Option<u64>, CallError> {
        match &self.pre {
            Track::V0_1(pre) => self.plugin.guest.call(
                "servers.setup-version",
                async |store| pre.instantiate_async(store).await,
                async |bindings, store| {
                    bindings
                        .failback_plugin_servers()
                        .call_setup_version(store, machine)
                        .await
                },
                |version| version,
            ),
            Track::V0_2(_) | Track::V0_3(_) => Ok(self.read_one(machine)?.setup_version),
        }
    }

    /// The services and setup version of each of `machines`: one answer per
    /// machine, in order. A `0.2.0` (or later) plugin answers in one `read-machines`
    /// call; a `0.1.0` plugin is asked `list-services` and `setup-version`
    /// for each machine in turn.
    pub fn read_machines(
        &self,
        machines: &[String],
    ) -> Result<Vec<Answer<observed::MachineState>>, CallError> {
        const FUNCTION: &str = "servers.read-machines";
        read_on_track!(
            self,
            machines.len(),
            v0_1: |_| Ok(machines
                .iter()
                .map(|machine| {
                    Ok(observed::MachineState {
                        services: self.list_services(machine)?,
                        setup_version: self.setup_version(machine)?,
                    })
                })
                .collect()),
            batch: (FUNCTION, |bindings, store| {
                bindings
                    .failback_plugin_servers()
                    .call_read_machines(store, machines)
                    .await
            })
        )
    }

    fn read_one(&self, machine: &str) -> Result<observed::MachineState, CallError> {
        let answers = self.read_machines(&[machine.to_owned()])?;
        self.plugin.single("servers.read-machines", answers)
    }

    /// `servers.run-setup`
    pub fn run_setup(&self, machine: &str) -> Result<observed::SetupReport, CallError> {
        on_track!(
            self,
            "servers.run-setup",
            |bindings, store| {
                bindings
                    .failback_plugin_servers()
                    .call_run_setup(store, machine)
                    .await
            },
            Into::into
        )
    }
}

/// The management store's batch of site routes (0.3.0), and the function
/// older tracks have for one route.
pub(crate) const SET_SITE_ROUTES: &str = "management.set-site-routes";
pub(crate) const SET_SITE_ROUTE: &str = "management.set-site-route";
/// `Invoke-CsManagementStoreReplication`, on every track.
pub(crate) const REPLICATE: &str = "management.replicate";

/// Invoke-CsPoolFailback's function, and its name on the 0.1.0 track.
pub(crate) const POOL_FAILBACK: &str = "pools.pool-failback";
pub(crate) const POOL_FAILBACK_V0_1: &str = "pools.failback";

impl PoolControl {
    /// `pools.list-pools`
    pub fn list_pools(&self) -> Result<Vec<observed::PoolStatus>, CallError> {
        on_track!(
            self,
            "pools.list-pools",
            |bindings, store| {
                bindings
                    .failback_plugin_pools()
                    .call_list_pools(store)
                    .await
            },
            |pools| pools.into_iter().map(Into::into).collect()
        )
    }

    /// `pools.pool-failback`: `Invoke-CsPoolFailback -PoolFqdn <pool_fqdn>`
    /// (`pools.failback` on the 0.1.0 track).
    pub fn pool_failback(&self, pool_fqdn: &str) -> Result<(), CallError> {
        on_track!(
            self,
            (POOL_FAILBACK_V0_1, POOL_FAILBACK, POOL_FAILBACK),
            |bindings, store| (
                bindings
                    .failback_plugin_pools()
                    .call_failback(store, pool_fqdn)
                    .await,
                bindings
                    .failback_plugin_pools()
                    .call_pool_failback(store, pool_fqdn)
                    .await,
                bindings
                    .failback_plugin_pools()
                    .call_pool_failback(store, pool_fqdn)
                    .await
            ),
            |()| ()
        )
    }

    /// The name of Invoke-CsPoolFailback's function on this plugin's track.
    #[must_use]
    pub fn pool_failback_function(&self) -> &'static str {
        match self.pre {
            Track::V0_1(_) => POOL_FAILBACK_V0_1,
            Track::V0_2(_) | Track::V0_3(_) => POOL_FAILBACK,
        }
    }
}

/// The plugins an environment binds, one per kind at most.
#[derive(Debug, Clone, Default)]
pub struct Plugins {
    pub dns_provider: Option<DnsProvider>,
    pub port_probe: Option<PortProbe>,
    pub management_store: Option<ManagementStore>,
    pub server_control: Option<ServerControl>,
    pub pool_control: Option<PoolControl>,
}

/// One plugin of each kind: what a session observes, plans and applies with.
/// [`Plugins::complete`] makes it once, when the session opens, so nothing
/// after it asks whether a kind is bound.
#[derive(Debug, Clone)]
pub struct PluginSet {
    pub dns: DnsProvider,
    pub probe: PortProbe,
    /// The management store (CMS).
    pub cms: ManagementStore,
    pub servers: ServerControl,
    pub pools: PoolControl,
}

/// The kinds an environment binds no plugin of, when a session needs one of
/// each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the environment binds no plugin for {}: observing, planning and applying need one of each kind (`[plugins.<kind>]` in the environment file)",
    quoted(.0)
)]
pub struct Unbound(pub Vec<PluginKind>);

impl Plugins {
    /// One plugin of each kind, or every kind that is missing.
    pub fn complete(self) -> Result<PluginSet, Unbound> {
        match self {
            Self {
                dns_provider: Some(dns),
                port_probe: Some(probe),
                management_store: Some(cms),
                server_control: Some(servers),
                pool_control: Some(pools),
            } => Ok(PluginSet {
                dns,
                probe,
                cms,
                servers,
                pools,
            }),
            partial => Err(Unbound(partial.unbound())),
        }
    }

    /// The kinds it binds no plugin of, in the order of [`PluginKind::ALL`].
    fn unbound(&self) -> Vec<PluginKind> {
        [
            (self.dns_provider.is_none(), PluginKind::DnsProvider),
            (self.port_probe.is_none(), PluginKind::PortProbe),
            (self.management_store.is_none(), PluginKind::ManagementStore),
            (self.server_control.is_none(), PluginKind::ServerControl),
            (self.pool_control.is_none(), PluginKind::PoolControl),
        ]
        .into_iter()
        .filter_map(|(missing, kind)| missing.then_some(kind))
        .collect()
    }
}

impl PluginSet {
    /// Each plugin, in the order of [`PluginKind::ALL`].
    #[must_use]
    pub fn each(&self) -> [&Plugin; 5] {
        [
            self.dns.plugin(),
            self.probe.plugin(),
            self.cms.plugin(),
            self.servers.plugin(),
            self.pools.plugin(),
        ]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn an_empty_binding_names_every_kind_missing_in_the_files_order() {
        let error = Plugins::default().complete().unwrap_err();
        assert_eq!(error.0, PluginKind::ALL);
        assert_eq!(
            error.to_string(),
            "the environment binds no plugin for `dns-provider`, `port-probe`, `management-store`, `server-control`, `pool-control`: observing, planning and applying need one of each kind (`[plugins.<kind>]` in the environment file)"
        );
    }
}
