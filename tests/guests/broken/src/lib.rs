//! Deliberately broken plugins for the conformance kit's tests
//! (`host/runtime/tests/all/conformance.rs`): one component exporting every
//! plugin world, keeping every promise of the world it is tested as, except
//! the one its `break` configuration names. Each test checks that the kit
//! fails exactly the case that promise belongs to, with a message a vendor can
//! act on.
//!
//! State lives in `state.json` in the granted `state` directory (every call
//! runs in a fresh instance). Breaks (`break` config):
//!
//! - dns-provider: `final-dot` (list-records names end with a dot),
//!   `replace-appends` (replace-rrset adds to the set), `delete-absent-fails`
//!   (deleting an absent set is not-found), `unknown-zone-empty` (an unknown
//!   zone lists as empty);
//! - port-probe: `closed-is-error` (a refused connect is an error),
//!   `ignores-timeout` (waits six times timeout-ms), `not-xmpp-is-xmpp` (any
//!   answer counts as a stream header);
//! - management-store: `stale-publish-accepted` (publish ignores the expected
//!   version);
//! - server-control: `unknown-machine-empty` (an unknown machine has no
//!   services);
//! - pool-control: `failback-backup-fqdn` (failing back the backup pool's FQDN
//!   fails back the pool it backs), `failback-normal-ok` (failing back a normal
//!   pool succeeds).

#![allow(
    unsafe_code,
    reason = "wit-bindgen's export macro expands to the canonical ABI glue, which is unsafe code"
)]

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use failback_plugin_sdk::types::PluginError;
use failback_plugin_sdk::{config, dns, files, management, pools, probe, servers};
use serde::{Deserialize, Serialize};

struct Broken;

const STATE: &str = "state.json";

fn broken(name: &str) -> bool {
    config::get("break").as_deref() == Some(name)
}

fn state_path() -> PathBuf {
    PathBuf::from(config::get_or("dir", "/state")).join(STATE)
}

fn read() -> Result<State, PluginError> {
    files::read_json(&state_path(), STATE)
}

fn write(state: &State) -> Result<(), PluginError> {
    files::write_json(&state_path(), STATE, state)
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    #[serde(default)]
    zones: BTreeMap<String, Vec<Rec>>,
    #[serde(default)]
    topology: Topology,
    #[serde(default)]
    sites: Vec<SiteRow>,
    #[serde(default)]
    replicas: Vec<String>,
    #[serde(default)]
    machines: BTreeMap<String, Machine>,
    #[serde(default)]
    pools: Vec<Pool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Rec {
    name: String,
    ttl: u32,
    data: Data,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Data {
    A(String),
    Aaaa(String),
    Cname(String),
    Srv(u16, u16, u16, String),
    Txt(String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Topology {
    xml: String,
    version: u64,
    enabled: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct SiteRow {
    site: String,
    federation: Option<String>,
    xmpp: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Machine {
    services: BTreeMap<String, String>,
    setup_version: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Pool {
    fqdn: String,
    failed_over: bool,
    backup_pool: Option<String>,
    failover_fqdn: Option<String>,
}

fn to_data(data: &dns::RecordData) -> Data {
    match data {
        dns::RecordData::A(a) => Data::A(a.clone()),
        dns::RecordData::Aaaa(a) => Data::Aaaa(a.clone()),
        dns::RecordData::Cname(c) => Data::Cname(c.clone()),
        dns::RecordData::Srv(s) => Data::Srv(s.priority, s.weight, s.port, s.target.clone()),
        dns::RecordData::Txt(t) => Data::Txt(t.clone()),
    }
}

fn from_data(data: &Data) -> dns::RecordData {
    match data {
        Data::A(a) => dns::RecordData::A(a.clone()),
        Data::Aaaa(a) => dns::RecordData::Aaaa(a.clone()),
        Data::Cname(c) => dns::RecordData::Cname(c.clone()),
        Data::Srv(priority, weight, port, target) => dns::RecordData::Srv(dns::SrvData {
            priority: *priority,
            weight: *weight,
            port: *port,
            target: target.clone(),
        }),
        Data::Txt(t) => dns::RecordData::Txt(t.clone()),
    }
}

fn of_type(data: &Data, rtype: dns::RecordType) -> bool {
    matches!(
        (data, rtype),
        (Data::A(_), dns::RecordType::A)
            | (Data::Aaaa(_), dns::RecordType::Aaaa)
            | (Data::Cname(_), dns::RecordType::Cname)
            | (Data::Srv(..), dns::RecordType::Srv)
            | (Data::Txt(_), dns::RecordType::Txt)
    )
}

fn no_zone(zone: &str) -> PluginError {
    PluginError::NotFound(format!("zone `{zone}` does not exist"))
}

impl dns::Guest for Broken {
    fn list_records(zone: String) -> Result<Vec<dns::DnsRecord>, PluginError> {
        let state = read()?;
        let Some(records) = state.zones.get(&zone) else {
            if broken("unknown-zone-empty") {
                return Ok(Vec::new());
            }
            return Err(no_zone(&zone));
        };
        let dot = if broken("final-dot") { "." } else { "" };
        Ok(records
            .iter()
            .map(|r| dns::DnsRecord {
                name: format!("{}{dot}", r.name),
                ttl: r.ttl,
                data: from_data(&r.data),
            })
            .collect())
    }

    fn replace_rrset(
        zone: String,
        name: String,
        rtype: dns::RecordType,
        ttl: u32,
        data: Vec<dns::RecordData>,
    ) -> Result<(), PluginError> {
        let mut state = read()?;
        let records = state.zones.get_mut(&zone).ok_or_else(|| no_zone(&zone))?;
        let data: Vec<Data> = data.iter().map(to_data).collect();
        if data.iter().any(|d| !of_type(d, rtype)) {
            return Err(PluginError::Invalid(format!(
                "`{name}`: data of another type than the set's"
            )));
        }
        if !broken("replace-appends") {
            records.retain(|r| !(r.name == name && of_type(&r.data, rtype)));
        }
        for data in data {
            let record = Rec {
                name: name.clone(),
                ttl,
                data,
            };
            if broken("replace-appends") || !records.contains(&record) {
                records.push(record);
            }
        }
        write(&state)
    }

    fn delete_rrset(zone: String, name: String, rtype: dns::RecordType) -> Result<(), PluginError> {
        let mut state = read()?;
        let records = state.zones.get_mut(&zone).ok_or_else(|| no_zone(&zone))?;
        let before = records.len();
        records.retain(|r| !(r.name == name && of_type(&r.data, rtype)));
        if records.len() == before && broken("delete-absent-fails") {
            return Err(PluginError::NotFound(format!("no such set at `{name}`")));
        }
        write(&state)
    }
}

impl probe::Guest for Broken {
    fn probe_endpoints(
        requests: Vec<probe::ProbeRequest>,
    ) -> Result<Vec<Result<probe::ProbeReport, PluginError>>, PluginError> {
        Ok(requests.into_iter().map(probe_one).collect())
    }
}

/// One endpoint, one after another: the conformance kit asks for one at a time.
fn probe_one(request: probe::ProbeRequest) -> Result<probe::ProbeReport, PluginError> {
    let address: SocketAddr = format!("{}:{}", request.host, request.port)
        .parse()
        .map_err(|_| PluginError::Invalid(format!("`{}` is not an address", request.host)))?;
    let factor = if broken("ignores-timeout") { 6 } else { 1 };
    let timeout = Duration::from_millis(u64::from(request.timeout_ms) * factor);
    let report = |state, xmpp, detail: &str| probe::ProbeReport {
        state,
        xmpp,
        detail: format!("{address}: {detail}"),
    };
    let refused = || {
        if broken("closed-is-error") {
            Err(PluginError::Failed(format!(
                "{address}: connection refused"
            )))
        } else {
            Ok(report(probe::PortState::Closed, None, "refused"))
        }
    };
    let mut stream = match TcpStream::connect_timeout(&address, timeout) {
        // Over WASI sockets a refused connect may come back done, without a peer.
        Ok(stream) if stream.peer_addr().is_ok() => stream,
        Ok(_) => return refused(),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return refused(),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            return Ok(report(probe::PortState::Filtered, None, "no answer"));
        }
        Err(e) => return Err(PluginError::Failed(format!("{address}: {e}"))),
    };
    if request.kind == probe::ProbeKind::Tcp {
        return Ok(report(probe::PortState::Open, None, "accepted"));
    }
    let to = request.stream_to.unwrap_or_default();
    let _ = stream.write_all(
        format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
                 xmlns:stream='http://etherx.jabber.org/streams' to='{to}' version='1.0'>"
        )
        .as_bytes(),
    );
    let _ = stream.set_read_timeout(Some(timeout));
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    while !String::from_utf8_lossy(&received).contains("</stream:features>") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
        }
        if String::from_utf8_lossy(&received).starts_with("SSH-") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&received).into_owned();
    let header = text.contains("<stream:stream") && text.contains("jabber:server");
    let header = header || (broken("not-xmpp-is-xmpp") && !text.is_empty());
    let xmpp = probe::XmppAnswer {
        stream_header: header,
        stream_id: None,
        features: text.contains("<stream:features"),
        starttls: text.contains("<starttls"),
        other: (!header && !text.is_empty()).then(|| text.chars().take(256).collect()),
    };
    Ok(report(probe::PortState::Open, Some(xmpp), "probed"))
}

impl management::Guest for Broken {
    fn read_topology() -> Result<management::TopologyDocument, PluginError> {
        let state = read()?;
        Ok(management::TopologyDocument {
            xml: state.topology.xml,
            version: state.topology.version,
            enabled: state.topology.enabled,
        })
    }

    fn publish_topology(xml: String, expected_version: u64) -> Result<u64, PluginError> {
        let mut state = read()?;
        if state.topology.version != expected_version && !broken("stale-publish-accepted") {
            return Err(PluginError::Conflict(format!(
                "the published version is {}, not {expected_version}",
                state.topology.version
            )));
        }
        state.topology = Topology {
            xml,
            version: state.topology.version + 1,
            enabled: false,
        };
        write(&state)?;
        Ok(state.topology.version)
    }

    fn enable_topology(version: u64) -> Result<(), PluginError> {
        let mut state = read()?;
        if state.topology.version != version {
            return Err(PluginError::Conflict(format!(
                "version {version} is not the published one"
            )));
        }
        state.topology.enabled = true;
        write(&state)
    }

    fn list_sites() -> Result<Vec<management::Site>, PluginError> {
        Ok(read()?
            .sites
            .into_iter()
            .map(|s| management::Site {
                site: s.site,
                federation_route: s.federation,
                xmpp_federation_route: s.xmpp,
            })
            .collect())
    }

    fn set_site_routes(routes: Vec<management::SiteRoute>) -> Result<(), PluginError> {
        let mut state = read()?;
        for route in routes {
            let site = &route.site;
            let row = state
                .sites
                .iter_mut()
                .find(|s| s.site == *site)
                .ok_or_else(|| PluginError::NotFound(format!("site `{site}` does not exist")))?;
            match route.kind {
                management::RouteKind::Federation => row.federation = route.identity,
                management::RouteKind::XmppFederation => row.xmpp = route.identity,
            }
        }
        write(&state)
    }

    fn read_store_status() -> Result<management::StoreStatus, PluginError> {
        Ok(management::StoreStatus {
            active_master: Some("fe1.contoso.com".to_owned()),
            file_transfer_agents: Vec::new(),
        })
    }

    fn replication_status() -> Result<Vec<management::ReplicaStatus>, PluginError> {
        let state = read()?;
        Ok(state
            .replicas
            .into_iter()
            .map(|fqdn| management::ReplicaStatus {
                fqdn,
                up_to_date: state.topology.enabled,
                last_update: None,
            })
            .collect())
    }

    fn replicate(fqdns: Vec<String>) -> Result<(), PluginError> {
        let replicas = read()?.replicas;
        match fqdns.iter().find(|fqdn| !replicas.contains(fqdn)) {
            None => Ok(()),
            Some(fqdn) => Err(PluginError::NotFound(format!("no replica `{fqdn}`"))),
        }
    }
}

fn machine<'a>(state: &'a mut State, fqdn: &str) -> Result<&'a mut Machine, PluginError> {
    state
        .machines
        .get_mut(fqdn)
        .ok_or_else(|| PluginError::NotFound(format!("machine `{fqdn}` does not exist")))
}

fn list_services(name: &str) -> Result<Vec<servers::ServiceStatus>, PluginError> {
    let mut state = read()?;
    if !state.machines.contains_key(name) && broken("unknown-machine-empty") {
        return Ok(Vec::new());
    }
    Ok(machine(&mut state, name)?
        .services
        .iter()
        .map(|(service, s)| servers::ServiceStatus {
            name: service.clone(),
            state: if s == "running" {
                servers::ServiceState::Running
            } else {
                servers::ServiceState::Stopped
            },
        })
        .collect())
}

impl servers::Guest for Broken {
    fn read_machines(
        machines: Vec<String>,
    ) -> Result<Vec<Result<servers::MachineState, PluginError>>, PluginError> {
        Ok(machines
            .into_iter()
            .map(|name| {
                let services = list_services(&name)?;
                let mut state = read()?;
                let setup_version = if state.machines.contains_key(&name) {
                    machine(&mut state, &name)?.setup_version
                } else {
                    None
                };
                Ok(servers::MachineState {
                    services,
                    setup_version,
                })
            })
            .collect())
    }

    fn start_services(name: String) -> Result<(), PluginError> {
        let mut state = read()?;
        for s in machine(&mut state, &name)?.services.values_mut() {
            "running".clone_into(s);
        }
        write(&state)
    }

    fn run_setup(name: String) -> Result<servers::SetupReport, PluginError> {
        let mut state = read()?;
        let version = state.topology.version;
        machine(&mut state, &name)?.setup_version = Some(version);
        write(&state)?;
        Ok(servers::SetupReport {
            applied_version: version,
            log: format!("applied topology version {version}"),
        })
    }
}

impl pools::Guest for Broken {
    fn list_pools() -> Result<Vec<pools::PoolStatus>, PluginError> {
        Ok(read()?
            .pools
            .into_iter()
            .map(|p| pools::PoolStatus {
                fqdn: p.fqdn,
                state: if p.failed_over {
                    pools::PoolState::FailedOver
                } else {
                    pools::PoolState::Normal
                },
                backup_pool: p.backup_pool,
                failover_fqdn: p.failover_fqdn,
                online: true,
            })
            .collect())
    }

    fn pool_failback(pool_fqdn: String) -> Result<(), PluginError> {
        let mut state = read()?;
        let backed = state
            .pools
            .iter()
            .position(|p| p.failed_over && p.backup_pool.as_deref() == Some(&pool_fqdn));
        let index = match backed {
            Some(index) if broken("failback-backup-fqdn") => index,
            _ => state
                .pools
                .iter()
                .position(|p| p.fqdn == pool_fqdn)
                .ok_or_else(|| {
                    PluginError::NotFound(format!("pool `{pool_fqdn}` does not exist"))
                })?,
        };
        let pool = &mut state.pools[index];
        if !pool.failed_over {
            if broken("failback-normal-ok") {
                return Ok(());
            }
            return Err(PluginError::Invalid(format!(
                "pool `{pool_fqdn}` is not failed over"
            )));
        }
        if pool.failover_fqdn.as_deref() != Some(&pool_fqdn) && !broken("failback-backup-fqdn") {
            return Err(PluginError::Invalid(format!(
                "pool `{}` was failed over with another FQDN than `{pool_fqdn}`",
                pool.fqdn
            )));
        }
        pool.failed_over = false;
        pool.backup_pool = None;
        pool.failover_fqdn = None;
        write(&state)
    }
}

failback_plugin_sdk::export_dns_provider!(Broken);
failback_plugin_sdk::export_port_probe!(Broken);
failback_plugin_sdk::export_management_store!(Broken);
failback_plugin_sdk::export_server_control!(Broken);
failback_plugin_sdk::export_pool_control!(Broken);
