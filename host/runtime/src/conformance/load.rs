//! Getting the plugin under test into the sandbox, through the runtime's public
//! loading API, and running its world's cases.
//!
//! A component file ([`Kit::test_component`]) is laid out in a scratch directory the
//! caller owns, as an environment would hold it: the component, its manifest
//! (with the component's sha256 added when the manifest has none, as a
//! development build's `plugin.toml` does), and a binding with the given
//! configuration and network grants. A plugin an environment binds
//! ([`Kit::test_binding`]) is loaded from that binding as it is.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use cap_std::fs::Dir;
use failback_core::topology::Topology;

use super::listeners::Listeners;
use super::{KitError, Report, Subject, Tested, dns, management, pools, probe, servers};
use crate::bindings::plugin::{
    DnsProvider, ManagementStore, Plugin, PoolControl, PortProbe, ServerControl,
};
use crate::digest::Digest;
use crate::environment::{
    ConfigValue, Environment, Grants, HttpGrant, LimitOverrides, ManifestSource, PluginBinding,
};
use crate::files::RelativePath;
use crate::loading::engine::LoadError;
use crate::loading::engine::Runtime;
use crate::manifest::{Manifest, PluginKind, Protocol};
use crate::package;
use crate::sandbox::cache::ComponentCache;
use crate::sandbox::capability;
use crate::trust::TrustPolicy;

/// A component file to test, with what an environment would give it
/// ([`Kit::test_component`]).
#[derive(Debug, Clone)]
pub struct Component {
    /// The world it is tested as.
    pub kind: PluginKind,
    pub bytes: Vec<u8>,
    /// A development build's manifest text (`plugin.toml`); `None` when the
    /// component carries its own (`failback plugin pack`).
    pub manifest: Option<String>,
    /// What `config(key)` returns.
    pub config: BTreeMap<String, String>,
    /// Socket addresses granted to each network capability of the manifest.
    pub network: BTreeMap<String, Vec<SocketAddr>>,
    /// Whether name lookup is granted.
    pub dns_lookup: bool,
    /// HTTP origins granted to each HTTP capability of the manifest.
    pub http: BTreeMap<String, HttpGrant>,
    /// The values of the environment variables the HTTP grants' secret
    /// headers name (`{ env = … }`), read by the caller: the runtime reads no
    /// ambient environment.
    pub secrets: BTreeMap<String, String>,
}

/// The names the component and its manifest get in the scratch directory.
const SCRATCH_COMPONENT: &str = "plugin.wasm";
const SCRATCH_MANIFEST: &str = "plugin.plugin.toml";

/// The kit: the runtime plugins are loaded into and the compiled-component
/// cache they load through.
#[derive(Debug, Clone, Copy)]
pub struct Kit<'a> {
    pub runtime: &'a Runtime,
    pub cache: &'a ComponentCache,
}

impl Kit<'_> {
    /// Test `component` with its world's cases. `scratch` is an empty
    /// directory the kit may write the component and its manifest into; the
    /// caller removes it afterwards.
    pub fn test_component(
        &self,
        scratch: &Dir,
        component: Component,
        subject: Subject,
    ) -> Result<Report, KitError> {
        let sha256 = Digest::of(&component.bytes);
        let path = |name| RelativePath::new(name).map_err(|e| KitError::Load(e.into()));
        scratch
            .write(SCRATCH_COMPONENT, &component.bytes)
            .map_err(KitError::Scratch)?;
        let (manifest, source) = match component.manifest {
            Some(text) => {
                let manifest = Manifest::parse(&text)?;
                let text = if manifest.sha256.is_some() {
                    text
                } else {
                    // A top-level key must come before the first table: put it first.
                    format!("sha256 = \"{sha256}\"\n{text}")
                };
                scratch
                    .write(SCRATCH_MANIFEST, text.as_bytes())
                    .map_err(KitError::Scratch)?;
                let source = ManifestSource::File {
                    path: path(SCRATCH_MANIFEST)?,
                    sha256: Digest::of(text.as_bytes()),
                };
                (manifest, source)
            }
            None => (
                package::embedded_manifest(&component.bytes)?.ok_or(KitError::NoManifest)?,
                ManifestSource::Embedded,
            ),
        };
        if manifest.plugin_kind() != Some(component.kind) {
            return Err(KitError::World {
                kind: component.kind,
                world: manifest.world,
            });
        }
        let dirs: Vec<String> = manifest
            .capabilities
            .dirs
            .iter()
            .map(|d| d.name.clone())
            .collect();
        if !dirs.is_empty() {
            return Err(KitError::DirectoryGrant(dirs));
        }
        let binding = PluginBinding {
            kind: component.kind,
            path: path(SCRATCH_COMPONENT)?,
            sha256,
            manifest: source,
            config: component
                .config
                .into_iter()
                .map(|(key, value)| (key, ConfigValue::Text(value)))
                .collect(),
            grants: Grants {
                dirs: BTreeMap::new(),
                network: component.network,
                dns_lookup: component.dns_lookup,
                http: component.http,
            },
            signature: None,
            limits: LimitOverrides::default(),
        };
        // A vendor's own build under test: signed or not, it is loaded (the
        // signature is judged when an environment binds it: `test_binding`).
        let secrets = component.secrets;
        let place = Place {
            kit: *self,
            dir: scratch,
            trust: &TrustPolicy::open(),
            env: &|name| secrets.get(name).cloned(),
        };
        place.run(binding, &manifest, subject)
    }

    /// Test the plugin `environment` binds to `kind`, as it binds it and judged
    /// by the environment's `trust` (its `[trust]` table resolved). `dir` is
    /// the environment directory; `env` looks up the host's environment
    /// variables for `{ env = … }` secrets. The dns-provider cases
    /// default to the environment's zone; the server-control cases to the first
    /// Edge machine of the topology its management store publishes.
    pub fn test_binding(
        &self,
        environment: &Environment,
        trust: &TrustPolicy,
        kind: PluginKind,
        dir: &Dir,
        env: &dyn Fn(&str) -> Option<String>,
        mut subject: Subject,
    ) -> Result<Report, KitError> {
        let binding = environment
            .plugins
            .get(&kind)
            .cloned()
            .ok_or(KitError::NotBound(kind))?;
        capability::check_environment(environment).map_err(LoadError::from)?;
        let place = Place {
            kit: *self,
            dir,
            trust,
            env,
        };
        let manifest = place.pinned_manifest(&binding)?;
        if subject.zone.is_none() {
            subject.zone = Some(environment.zone.clone());
        }
        if kind == PluginKind::ServerControl && subject.machine.is_none() {
            let machine = place
                .first_edge_machine(environment)
                .map_err(|reason| KitError::NoMachine(Some(reason)))?;
            subject.machine = Some(machine);
        }
        place.run(binding, &manifest, subject)
    }
}

/// Where a plugin is loaded from, and with what.
struct Place<'a> {
    kit: Kit<'a>,
    dir: &'a Dir,
    trust: &'a TrustPolicy,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Place<'_> {
    fn load(&self, binding: &PluginBinding) -> Result<Plugin, KitError> {
        Ok(self
            .kit
            .runtime
            .load_plugin(binding, self.trust, self.dir, self.kit.cache, self.env)?)
    }

    /// The manifest `binding` pins, read as loading reads it: the kit needs it
    /// before loading, for the capability names a port-probe's listeners are
    /// granted to.
    fn pinned_manifest(&self, binding: &PluginBinding) -> Result<Manifest, KitError> {
        Ok(self
            .kit
            .runtime
            .pinned_manifest(binding, self.dir, binding.sha256)?)
    }

    fn run(
        &self,
        mut binding: PluginBinding,
        manifest: &Manifest,
        mut subject: Subject,
    ) -> Result<Report, KitError> {
        let (plugin, cases, notes) = match binding.kind {
            PluginKind::DnsProvider => {
                let zone = subject.zone.take().ok_or(KitError::NoZone)?;
                let dns = DnsProvider::new(self.load(&binding)?)?;
                let (cases, notes) = dns::run(&dns, &zone);
                (dns.plugin().clone(), cases, notes)
            }
            PluginKind::PortProbe => {
                let listeners = match subject.listeners.take() {
                    Some(listeners) => listeners,
                    None => Listeners::start().map_err(KitError::Listeners)?,
                };
                let mut endpoints = listeners.endpoints().all().to_vec();
                endpoints.extend(subject.xmpp_server.as_ref().map(|s| s.address));
                grant_tcp(&mut binding, manifest, &endpoints);
                let probe = PortProbe::new(self.load(&binding)?)?;
                let cases = probe::run(&probe, listeners.endpoints(), subject.xmpp_server.as_ref());
                (probe.plugin().clone(), cases, Vec::new())
            }
            PluginKind::ManagementStore => {
                let cms = ManagementStore::new(self.load(&binding)?)?;
                let cases = management::run(&cms);
                (cms.plugin().clone(), cases, Vec::new())
            }
            PluginKind::ServerControl => {
                let machine = subject.machine.take().ok_or(KitError::NoMachine(None))?;
                let servers = ServerControl::new(self.load(&binding)?)?;
                let cases = servers::run(&servers, &machine);
                (servers.plugin().clone(), cases, Vec::new())
            }
            PluginKind::PoolControl => {
                let pools = PoolControl::new(self.load(&binding)?)?;
                let cases = pools::run(&pools);
                (pools.plugin().clone(), cases, Vec::new())
            }
        };
        let manifest = plugin.manifest();
        Ok(Report {
            plugin: Tested {
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                world: manifest.world.clone(),
                kind: binding.kind,
                sha256: plugin.digest(),
            },
            cases,
            notes,
        })
    }

    /// The first Edge machine of the topology the environment's management
    /// store publishes; else why there is none.
    fn first_edge_machine(&self, environment: &Environment) -> Result<String, String> {
        let binding = environment
            .plugins
            .get(&PluginKind::ManagementStore)
            .ok_or("the environment binds no management-store to read the topology from")?;
        let cms = self
            .load(binding)
            .and_then(|plugin| Ok(ManagementStore::new(plugin)?))
            .map_err(|e| format!("its management-store cannot be loaded: {e}"))?;
        let document = cms
            .read_topology()
            .map_err(|e| format!("its topology cannot be read: {e}"))?;
        let topology = Topology::parse(&document.xml)
            .map_err(|e| format!("its topology is not valid: {e}"))?;
        topology
            .edge_pools()
            .iter()
            .flat_map(|pool| &pool.machines)
            .map(|machine| machine.fqdn.clone())
            .next()
            .ok_or_else(|| "its topology has no Edge machine".to_owned())
    }
}

/// Grant `endpoints` to every TCP network capability `manifest` requests,
/// besides what the binding grants it already.
fn grant_tcp(binding: &mut PluginBinding, manifest: &Manifest, endpoints: &[SocketAddr]) {
    for request in &manifest.capabilities.network {
        if request.protocol == Protocol::Tcp {
            let granted = binding
                .grants
                .network
                .entry(request.name.clone())
                .or_default();
            for endpoint in endpoints {
                if !granted.contains(endpoint) {
                    granted.push(*endpoint);
                }
            }
        }
    }
}
