//! The in-process fake of the lab plugins: reads a lab file set (docs/lab-files.md)
//! into the `Observation` one observation pass through the lab plugins would give.

use std::collections::BTreeMap;

use failback_core::deployment::probe_targets;
use failback_core::observed::{
    DnsRecord, Observation, PoolState, PoolStatus, PortState, Probe, ProbeReport, RecordData,
    ReplicaStatus, ServiceState, ServiceStatus, Site, SrvData, StoreStatus, TopologyDocument,
    XmppAnswer,
};
use failback_core::topology::Topology;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    version: u64,
    enabled: bool,
    active_master: Option<String>,
    file_transfer_agents: Vec<String>,
    sites: Vec<SiteEntry>,
    replicas: Vec<ReplicaEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteEntry {
    name: String,
    federation_route: Option<String>,
    xmpp_federation_route: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplicaEntry {
    fqdn: String,
    version: u64,
    last_update: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServersFile {
    machines: Vec<MachineEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MachineEntry {
    fqdn: String,
    services: Vec<ServiceStatus>,
    setup_version: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReachabilityFile {
    endpoints: Vec<Endpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Endpoint {
    host: String,
    port: u16,
    state: PortState,
    xmpp: bool,
    /// Who listens behind the firewall: the port refuses the connection
    /// while that service does not run (the lab probe's rule).
    machine: String,
    service: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolsFile {
    pools: Vec<PoolEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolEntry {
    fqdn: String,
    state: PoolState,
    backup_pool: Option<String>,
    failover_fqdn: Option<String>,
    online: bool,
}

fn file<'a>(files: &'a [(String, Vec<u8>)], path: &str) -> &'a str {
    let (_, bytes) = files
        .iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("the lab has no `{path}`"));
    std::str::from_utf8(bytes).unwrap()
}

/// Parse an RFC 1035 master file as the lab writes it: `$ORIGIN`, `$TTL`, one
/// record a line (`owner [ttl] [IN] type data`), `;` comments.
pub fn parse_zone(text: &str) -> Vec<DnsRecord> {
    let mut origin = String::new();
    let mut default_ttl = 3600;
    let mut out = Vec::new();
    let absolute = |name: &str, origin: &str| -> String {
        if name == "@" {
            origin.to_owned()
        } else if let Some(n) = name.strip_suffix('.') {
            n.to_ascii_lowercase()
        } else {
            format!("{}.{origin}", name.to_ascii_lowercase())
        }
    };
    for line in text.lines() {
        let line = line.split(';').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        let mut f: Vec<&str> = line.split_whitespace().collect();
        match f[0] {
            "$ORIGIN" => {
                origin = f[1].trim_end_matches('.').to_ascii_lowercase();
                continue;
            }
            "$TTL" => {
                default_ttl = f[1].parse().unwrap();
                continue;
            }
            _ => {}
        }
        let owner = absolute(f.remove(0), &origin);
        let mut ttl = default_ttl;
        if let Ok(t) = f[0].parse::<u32>() {
            ttl = t;
            f.remove(0);
        }
        if f[0].eq_ignore_ascii_case("IN") {
            f.remove(0);
        }
        let rtype = f.remove(0).to_ascii_uppercase();
        let data = match rtype.as_str() {
            "A" => RecordData::A(f[0].to_owned()),
            "AAAA" => RecordData::Aaaa(f[0].to_owned()),
            "CNAME" => RecordData::Cname(absolute(f[0], &origin)),
            "TXT" => RecordData::Txt(f.join(" ").trim_matches('"').to_owned()),
            "SRV" => RecordData::Srv(SrvData {
                priority: f[0].parse().unwrap(),
                weight: f[1].parse().unwrap(),
                port: f[2].parse().unwrap(),
                target: absolute(f[3], &origin),
            }),
            "SOA" | "NS" => continue,
            other => panic!("record type `{other}` in the lab zone"),
        };
        out.push(DnsRecord {
            name: owner,
            ttl,
            data,
        });
    }
    out
}

/// What one observation pass through the lab plugins returns.
pub fn observe(files: &[(String, Vec<u8>)]) -> Observation {
    let xml = file(files, "store/topology.xml").to_owned();
    let store: StoreFile = serde_json::from_str(file(files, "store/store.json")).unwrap();
    let servers: ServersFile = serde_json::from_str(file(files, "servers/servers.json")).unwrap();
    let reach: ReachabilityFile =
        serde_json::from_str(file(files, "network/reachability.json")).unwrap();
    let pools: PoolsFile = serde_json::from_str(file(files, "pools/pools.json")).unwrap();
    let zone = "contoso.com";
    let dns = parse_zone(file(files, &format!("dns/{zone}.zone")));

    let topology = Topology::parse(&xml).unwrap();
    let probes = probe_targets(&topology, zone)
        .into_iter()
        .map(|request| {
            let ep = reach
                .endpoints
                .iter()
                .find(|e| e.host == request.host && e.port == request.port);
            let listening = |e: &Endpoint| {
                servers
                    .machines
                    .iter()
                    .find(|m| m.fqdn == e.machine)
                    .and_then(|m| m.services.iter().find(|s| s.name == e.service))
                    .is_some_and(|s| s.state == ServiceState::Running)
            };
            let report = match ep {
                Some(e) if e.state == PortState::Open && !listening(e) => ProbeReport {
                    state: PortState::Closed,
                    xmpp: None,
                    detail: format!("{}:{} refused", e.host, e.port),
                },
                None => ProbeReport {
                    state: PortState::Filtered,
                    xmpp: None,
                    detail: format!("{}:{} filtered", request.host, request.port),
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
        services.insert(m.fqdn.clone(), m.services);
        if let Some(v) = m.setup_version {
            setup_versions.insert(m.fqdn, v);
        }
    }
    Observation {
        zone: zone.to_owned(),
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
            .map(|p| PoolStatus {
                fqdn: p.fqdn,
                state: p.state,
                backup_pool: p.backup_pool,
                failover_fqdn: p.failover_fqdn,
                online: p.online,
            })
            .collect(),
    }
}
