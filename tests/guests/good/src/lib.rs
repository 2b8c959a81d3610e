//! A well-behaved plugin that exports every plugin world at once, so that the
//! runtime tests can call each typed plugin API against one component, and the
//! benchmarks have a no-op call (`dns.delete-rrset`).
//!
//! It answers from its configuration: `dns.list-records` returns an A record
//! `www.<zone>` with the address in config key `address` (default
//! `192.0.2.1`), and logs one line. `dns.replace-rrset` fails with
//! `plugin-error::invalid` when `data` is empty, to show a domain error.

#![allow(
    unsafe_code,
    reason = "wit-bindgen's export macro expands to the canonical ABI glue, which is unsafe code"
)]

use failback_plugin_sdk::types::PluginError;
use failback_plugin_sdk::{dns, management, pools, probe, servers};

struct Good;

impl dns::Guest for Good {
    fn list_records(zone: String) -> Result<Vec<dns::DnsRecord>, PluginError> {
        let address =
            failback_plugin_sdk::config::get("address").unwrap_or_else(|| "192.0.2.1".to_owned());
        failback_plugin_sdk::log::info(&format!("listing `{zone}`"));
        Ok(vec![dns::DnsRecord {
            name: format!("www.{zone}"),
            ttl: 300,
            data: dns::RecordData::A(address),
        }])
    }

    fn replace_rrset(
        _zone: String,
        name: String,
        _rtype: dns::RecordType,
        _ttl: u32,
        data: Vec<dns::RecordData>,
    ) -> Result<(), PluginError> {
        if data.is_empty() {
            return Err(PluginError::Invalid(format!("`{name}`: no data")));
        }
        Ok(())
    }

    fn delete_rrset(
        _zone: String,
        _name: String,
        _rtype: dns::RecordType,
    ) -> Result<(), PluginError> {
        Ok(())
    }
}

impl probe::Guest for Good {
    fn probe_endpoints(
        requests: Vec<probe::ProbeRequest>,
    ) -> Result<Vec<Result<probe::ProbeReport, PluginError>>, PluginError> {
        Ok(requests.into_iter().map(probe_one).collect())
    }
}

/// One endpoint, one after another: the conformance kit asks for one at a time.
fn probe_one(request: probe::ProbeRequest) -> Result<probe::ProbeReport, PluginError> {
    Ok(probe::ProbeReport {
        state: probe::PortState::Closed,
        xmpp: None,
        detail: format!("{}:{} not probed", request.host, request.port),
    })
}

impl management::Guest for Good {
    fn read_topology() -> Result<management::TopologyDocument, PluginError> {
        Ok(management::TopologyDocument {
            xml: "<Topology/>".to_owned(),
            version: 7,
            enabled: true,
        })
    }

    fn publish_topology(_xml: String, expected_version: u64) -> Result<u64, PluginError> {
        if expected_version != 7 {
            return Err(PluginError::Conflict(format!(
                "published version is 7, not {expected_version}"
            )));
        }
        Ok(8)
    }

    fn enable_topology(_version: u64) -> Result<(), PluginError> {
        Ok(())
    }

    fn list_sites() -> Result<Vec<management::Site>, PluginError> {
        Ok(vec![management::Site {
            site: "Site1".to_owned(),
            federation_route: Some("EdgeServer:edge1.contoso.com".to_owned()),
            xmpp_federation_route: None,
        }])
    }

    fn set_site_routes(_routes: Vec<management::SiteRoute>) -> Result<(), PluginError> {
        Ok(())
    }

    fn read_store_status() -> Result<management::StoreStatus, PluginError> {
        Ok(management::StoreStatus {
            active_master: Some("fe1.contoso.com".to_owned()),
            file_transfer_agents: Vec::new(),
        })
    }

    fn replication_status() -> Result<Vec<management::ReplicaStatus>, PluginError> {
        Ok(vec![management::ReplicaStatus {
            fqdn: "edge1.contoso.com".to_owned(),
            up_to_date: true,
            last_update: None,
        }])
    }

    fn replicate(_fqdns: Vec<String>) -> Result<(), PluginError> {
        Ok(())
    }
}

impl servers::Guest for Good {
    fn read_machines(
        machines: Vec<String>,
    ) -> Result<Vec<Result<servers::MachineState, PluginError>>, PluginError> {
        Ok(machines
            .into_iter()
            .map(|machine| {
                if machine.is_empty() {
                    return Err(PluginError::NotFound("no machine".to_owned()));
                }
                Ok(servers::MachineState {
                    services: vec![servers::ServiceStatus {
                        name: "RTCSRV".to_owned(),
                        state: servers::ServiceState::Running,
                    }],
                    setup_version: Some(7),
                })
            })
            .collect())
    }

    fn start_services(_machine: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn run_setup(_machine: String) -> Result<servers::SetupReport, PluginError> {
        Ok(servers::SetupReport {
            applied_version: 7,
            log: "done".to_owned(),
        })
    }
}

impl pools::Guest for Good {
    fn list_pools() -> Result<Vec<pools::PoolStatus>, PluginError> {
        Ok(vec![pools::PoolStatus {
            fqdn: "pool1.contoso.com".to_owned(),
            state: pools::PoolState::FailedOver,
            backup_pool: Some("pool2.contoso.com".to_owned()),
            failover_fqdn: Some("pool1.contoso.com".to_owned()),
            online: true,
        }])
    }

    fn pool_failback(_pool_fqdn: String) -> Result<(), PluginError> {
        Ok(())
    }
}

failback_plugin_sdk::dns_provider::export_dns_provider!(Good);
failback_plugin_sdk::port_probe::export_port_probe!(Good);
failback_plugin_sdk::management_store::export_management_store!(Good);
failback_plugin_sdk::server_control::export_server_control!(Good);
failback_plugin_sdk::pool_control::export_pool_control!(Good);
