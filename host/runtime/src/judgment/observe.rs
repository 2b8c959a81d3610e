//! One observation pass: ask each bound plugin what the environment looks like
//! now, and gather the answers into a [`failback_core::observed::Observation`]
//! that core checks into the deployment the planner and the policies work on.
//!
//! The pass reads only: it calls no function with a side effect.

use failback_core::deployment::probe_targets;
use failback_core::observed::{Observation, ObservationError, Probe};
use failback_core::topology::{Topology, TopologyError};

use crate::bindings::plugin::PluginSet;
use crate::sandbox::guest_error::CallError;

/// Why an observation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// A plugin call failed.
    #[error("observing {what} failed")]
    Call {
        what: String,
        #[source]
        source: CallError,
    },
    /// The management store's topology cannot be read.
    #[error("the published topology cannot be read")]
    Topology(#[source] TopologyError),
    /// A plugin reported a value that is not what its place holds.
    #[error("a plugin reported a value out of place")]
    Value(#[source] ObservationError),
}

/// Observe the whole deployment through `plugins`; `zone` is the external zone.
///
/// # Errors
/// [`ObserveError`] naming what could not be observed.
pub fn observe(plugins: &PluginSet, zone: &str) -> Result<Observation, ObserveError> {
    observe_read(plugins, zone).map(|(observation, _)| observation)
}

/// As [`observe`], with the published topology as the pass read it (to
/// know which machines and endpoints to ask about), for
/// [`failback_core::deployment::assemble_read`] not to read it again.
///
/// # Errors
/// As [`observe`].
pub fn observe_read(
    plugins: &PluginSet,
    zone: &str,
) -> Result<(Observation, Topology), ObserveError> {
    let PluginSet {
        dns, cms: store, ..
    } = plugins;

    // The zone's records are read while everything else is: a DNS provider
    // is often a remote API (a connection, a TLS handshake and a request),
    // and no other read waits on it. A failure is reported as it would be
    // in turn: the store's reads before the records, the rest after.
    std::thread::scope(|scope| {
        let records = scope.spawn(|| dns.list_records(zone));
        let topology_document = store
            .read_topology()
            .map_err(call("the published topology"))?;
        let topology = Topology::parse(&topology_document.xml).map_err(ObserveError::Topology)?;
        let mut observation = Observation {
            zone: zone.to_owned(),
            sites: store.list_sites().map_err(call("the sites' routes"))?,
            store: store
                .read_store_status()
                .map_err(call("the management store's status"))?,
            replicas: store
                .replication_status()
                .map_err(call("the replication status"))?,
            dns: Vec::new(),
            pools: Vec::new(),
            topology: topology_document,
            services: Default::default(),
            setup_versions: Default::default(),
            probes: Vec::new(),
        };
        let rest = read_pools_and_edges(&mut observation, &topology, plugins, zone);
        observation.dns = records
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            .map_err(call(&format!("the records of zone `{zone}`")))?;
        rest?;
        observation.check().map_err(ObserveError::Value)?;
        Ok((observation, topology))
    })
}

/// The Front End pools' state, the Edge machines' services and setup
/// versions, and the probes of the Edge pools' endpoints, into
/// `observation`.
fn read_pools_and_edges(
    observation: &mut Observation,
    topology: &Topology,
    plugins: &PluginSet,
    zone: &str,
) -> Result<(), ObserveError> {
    observation.pools = plugins
        .pools
        .list_pools()
        .map_err(call("the Front End pools' state"))?;
    let machines: Vec<String> = topology
        .edge_pools()
        .iter()
        .flat_map(|pool| pool.machines.iter().map(|machine| machine.fqdn.clone()))
        .collect();
    let states = plugins
        .servers
        .read_machines(&machines)
        .map_err(call("the Edge servers"))?;
    for (fqdn, state) in machines.into_iter().zip(states) {
        let state = state.map_err(call(&format!("the services of `{fqdn}`")))?;
        if let Some(version) = state.setup_version {
            observation.setup_versions.insert(fqdn.clone(), version);
        }
        observation.services.insert(fqdn, state.services);
    }
    let requests = probe_targets(topology, zone);
    let reports = plugins
        .probe
        .probe_all(&requests)
        .map_err(call("the Edge pools' reachability"))?;
    for (request, report) in requests.into_iter().zip(reports) {
        let report = report.map_err(call(&format!(
            "the reachability of `{}:{}`",
            request.host, request.port
        )))?;
        observation.probes.push(Probe { request, report });
    }
    Ok(())
}

fn call(what: &str) -> impl FnOnce(CallError) -> ObserveError + '_ {
    move |source| ObserveError::Call {
        what: what.to_owned(),
        source,
    }
}
