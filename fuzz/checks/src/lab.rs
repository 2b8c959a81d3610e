//! The observation one pass through the lab plugins would give on a lab file
//! set (docs/lab-files.md), read in process: the captured states the seeds
//! hold and the start the observation target mutates from. The same reading
//! as host/core's test support `lab_reader`, with the zone read by the lab-dns
//! plugin's own parser.

use std::collections::BTreeMap;

use failback_core::deployment::probe_targets;
use failback_core::lab::{self, Scenario, Variation};
use failback_core::observed::{
    DnsRecord, Observation, PoolState, PortState, Probe, ProbeReport, RecordData, ReplicaStatus,
    ServiceState, ServiceStatus, Site, SrvData, StoreStatus, TopologyDocument, XmppAnswer,
};
use failback_core::topology::Topology;
use serde::Deserialize;

#[derive(Deserialize)]
struct StoreFile {
    version: u64,
    enabled: bool,
    active_master: Option<String>,
    file_transfer_agents: Vec<String>,
    sites: Vec<SiteEntry>,
    replicas: Vec<ReplicaEntry>,
}

#[derive(Deserialize)]
struct SiteEntry {
    name: String,
    federation_route: Option<String>,
    xmpp_federation_route: Option<String>,
}

#[derive(Deserialize)]
struct ReplicaEntry {
    fqdn: String,
    version: u64,
    last_update: Option<String>,
}

#[derive(Deserialize)]
struct ServersFile {
    machines: Vec<MachineEntry>,
}

#[derive(Deserialize)]
struct MachineEntry {
    fqdn: String,
    services: Vec<ServiceStatus>,
    setup_version: Option<u64>,
}

#[derive(Deserialize)]
struct ReachabilityFile {
    endpoints: Vec<Endpoint>,
}

#[derive(Deserialize)]
struct Endpoint {
    host: String,
    port: u16,
    state: PortState,
    xmpp: bool,
    machine: String,
    service: String,
}

#[derive(Deserialize)]
struct PoolsFile {
    pools: Vec<PoolEntry>,
}

#[derive(Deserialize)]
struct PoolEntry {
    fqdn: String,
    state: PoolState,
    backup_pool: Option<String>,
    failover_fqdn: Option<String>,
    online: bool,
}

/// A lab's files, as (path relative to the lab directory, contents).
pub type Files = Vec<(String, Vec<u8>)>;

/// The lab's zone.
pub const ZONE: &str = "contoso.com";

/// Every lab the seeds are made of: each scenario, and each with every shape
/// a generated lab adds, at three sites.
#[must_use]
pub fn file_sets() -> Vec<(String, Files)> {
    let mut out = Vec::new();
    for scenario in Scenario::ALL {
        out.push((scenario.name().to_owned(), lab::files(scenario)));
        let grown = Variation {
            sites: 3,
            dual_stack: true,
            xmpp_srv_per_pool: true,
            director: true,
        };
        if let Ok(files) = lab::files_generated(scenario, grown) {
            out.push((format!("{}-grown", scenario.name()), files));
        }
    }
    out
}

/// The file at `path` of a lab file set.
#[must_use]
pub fn file<'a>(files: &'a [(String, Vec<u8>)], path: &str) -> Option<&'a str> {
    files
        .iter()
        .find(|(p, _)| p == path)
        .and_then(|(_, bytes)| std::str::from_utf8(bytes).ok())
}

/// What one observation pass through the lab plugins returns on `files`;
/// `None` when a file is missing or does not read (the lab always writes
/// them).
#[must_use]
pub fn observe(files: &[(String, Vec<u8>)]) -> Option<Observation> {
    let xml = file(files, "store/topology.xml")?.to_owned();
    let store: StoreFile = serde_json::from_str(file(files, "store/store.json")?).ok()?;
    let servers: ServersFile = serde_json::from_str(file(files, "servers/servers.json")?).ok()?;
    let reach: ReachabilityFile =
        serde_json::from_str(file(files, "network/reachability.json")?).ok()?;
    let pools: PoolsFile = serde_json::from_str(file(files, "pools/pools.json")?).ok()?;
    let dns = records(file(files, &format!("dns/{ZONE}.zone"))?)?;
    let topology = Topology::parse(&xml).ok()?;

    let listening = |e: &Endpoint| {
        servers
            .machines
            .iter()
            .find(|m| m.fqdn == e.machine)
            .and_then(|m| m.services.iter().find(|s| s.name == e.service))
            .is_some_and(|s| s.state == ServiceState::Running)
    };
    let probes = probe_targets(&topology, ZONE)
        .into_iter()
        .map(|request| {
            let endpoint = reach
                .endpoints
                .iter()
                .find(|e| e.host == request.host && e.port == request.port);
            let report = match endpoint {
                None => ProbeReport {
                    state: PortState::Filtered,
                    xmpp: None,
                    detail: format!("{}:{} filtered", request.host, request.port),
                },
                Some(e) if e.state == PortState::Open && !listening(e) => ProbeReport {
                    state: PortState::Closed,
                    xmpp: None,
                    detail: format!("{}:{} refused", e.host, e.port),
                },
                Some(e) => ProbeReport {
                    state: e.state,
                    xmpp: (e.state == PortState::Open).then(|| XmppAnswer {
                        stream_header: e.xmpp,
                        stream_id: e.xmpp.then(|| "lab".to_owned()),
                        features: e.xmpp,
                        starttls: e.xmpp,
                        other: (!e.xmpp).then(|| "not xmpp".to_owned()),
                    }),
                    detail: format!("{}:{} {:?}", e.host, e.port, e.state),
                },
            };
            Probe { request, report }
        })
        .collect();

    let mut services = BTreeMap::new();
    let mut setup_versions = BTreeMap::new();
    for m in servers.machines {
        if let Some(v) = m.setup_version {
            setup_versions.insert(m.fqdn.clone(), v);
        }
        services.insert(m.fqdn, m.services);
    }
    Some(Observation {
        zone: ZONE.to_owned(),
        topology: TopologyDocument {
            xml,
            version: store.version,
            enabled: store.enabled,
        },
        sites: store
            .sites
            .into_iter()
            .map(|s| Site {
                site: s.name,
                federation_route: s.federation_route,
                xmpp_federation_route: s.xmpp_federation_route,
            })
            .collect(),
        store: StoreStatus {
            active_master: store.active_master,
            file_transfer_agents: store.file_transfer_agents,
        },
        replicas: store
            .replicas
            .into_iter()
            .map(|r| ReplicaStatus {
                up_to_date: r.version == store.version && store.enabled,
                fqdn: r.fqdn,
                last_update: r.last_update,
            })
            .collect(),
        dns,
        services,
        setup_versions,
        probes,
        pools: pools
            .pools
            .into_iter()
            .map(|p| failback_core::observed::PoolStatus {
                fqdn: p.fqdn,
                state: p.state,
                backup_pool: p.backup_pool,
                failover_fqdn: p.failover_fqdn,
                online: p.online,
            })
            .collect(),
    })
}

/// The records `list-records` returns for the lab's zone file: read by the
/// lab-dns plugin's parser, written back in its form (one record a line,
/// every owner absolute, TTL and class explicit), and taken from that.
fn records(text: &str) -> Option<Vec<DnsRecord>> {
    let written = crate::lab_zone::Zone::parse(ZONE, text).ok()?.write();
    let mut out = Vec::new();
    for line in written.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('$') || line.starts_with(';') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        // owner ttl IN type data…
        let [owner, ttl, _class, rtype, data @ ..] = f.as_slice() else {
            continue;
        };
        let name = owner.trim_end_matches('.').to_owned();
        let ttl: u32 = ttl.parse().ok()?;
        let absolute = |n: &str| n.trim_end_matches('.').to_owned();
        let data = match (*rtype, data) {
            ("A", [address]) => RecordData::A((*address).to_owned()),
            ("AAAA", [address]) => RecordData::Aaaa((*address).to_owned()),
            ("CNAME", [target]) => RecordData::Cname(absolute(target)),
            ("SRV", [priority, weight, port, target]) => RecordData::Srv(SrvData {
                priority: priority.parse().ok()?,
                weight: weight.parse().ok()?,
                port: port.parse().ok()?,
                target: absolute(target),
            }),
            ("TXT", strings) => RecordData::Txt(
                strings
                    .iter()
                    .map(|s| s.trim_matches('"'))
                    .collect::<String>(),
            ),
            _ => continue,
        };
        out.push(DnsRecord { name, ttl, data });
    }
    Some(out)
}
