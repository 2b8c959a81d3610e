//! A `management-store` plugin built against `failback:plugin@0.2.0`, the
//! frozen copy in `wit/plugin-0.2.0`: it has `set-site-route` for one route and
//! `replicate` for one replica, so the host sends it a batch one object per
//! call, in order, under the batch's one deadline
//! (`host/runtime/tests/all/batches.rs`).
//!
//! Its sites and replicas live in `store.json` in the granted `state`
//! directory (every call runs in a fresh instance). Each call that writes logs
//! what it did through the host, so a test reads the calls' order from the
//! audit. The `sleep-ms` configuration makes each write wait that long first.

#![allow(
    unsafe_code,
    reason = "wit-bindgen's generated bindings and export macro are unsafe code"
)]

wit_bindgen::generate!({
    path: "../../../wit/plugin-0.2.0",
    world: "management-store",
    generate_all,
});

use std::time::Duration;

use exports::failback::plugin::management::{
    Guest, ReplicaStatus, RouteKind, Site, StoreStatus, TopologyDocument,
};
use failback::plugin::host::{config, log};
use failback::plugin::types::{LogLevel, PluginError};
use serde::{Deserialize, Serialize};

const STATE: &str = "/state/store.json";

#[derive(Deserialize, Serialize)]
struct State {
    sites: Vec<SiteRow>,
    replicas: Vec<ReplicaRow>,
}

#[derive(Deserialize, Serialize)]
struct SiteRow {
    site: String,
    federation: Option<String>,
    xmpp: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct ReplicaRow {
    fqdn: String,
    up_to_date: bool,
}

fn read() -> Result<State, PluginError> {
    let text = std::fs::read_to_string(STATE)
        .map_err(|e| PluginError::Failed(format!("cannot read `{STATE}`: {e}")))?;
    serde_json::from_str(&text)
        .map_err(|e| PluginError::Failed(format!("`{STATE}` is not valid: {e}")))
}

fn write(state: &State) -> Result<(), PluginError> {
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| PluginError::Failed(format!("cannot write `{STATE}`: {e}")))?;
    std::fs::write(STATE, text)
        .map_err(|e| PluginError::Failed(format!("cannot write `{STATE}`: {e}")))
}

/// Wait the configured `sleep-ms` before a write.
fn pause() {
    let ms = config("sleep-ms").and_then(|v| v.parse().ok()).unwrap_or(0);
    std::thread::sleep(Duration::from_millis(ms));
}

struct StoreV02;

impl Guest for StoreV02 {
    fn read_topology() -> Result<TopologyDocument, PluginError> {
        Ok(TopologyDocument {
            xml: "<Topology/>".to_owned(),
            version: 1,
            enabled: true,
        })
    }

    fn publish_topology(_xml: String, expected_version: u64) -> Result<u64, PluginError> {
        Err(PluginError::Conflict(format!(
            "the published version is 1, not {expected_version}"
        )))
    }

    fn enable_topology(_version: u64) -> Result<(), PluginError> {
        Ok(())
    }

    fn list_sites() -> Result<Vec<Site>, PluginError> {
        Ok(read()?
            .sites
            .into_iter()
            .map(|s| Site {
                site: s.site,
                federation_route: s.federation,
                xmpp_federation_route: s.xmpp,
            })
            .collect())
    }

    fn set_site_route(
        site: String,
        kind: RouteKind,
        identity: Option<String>,
    ) -> Result<(), PluginError> {
        pause();
        let mut state = read()?;
        let row = state
            .sites
            .iter_mut()
            .find(|s| s.site == site)
            .ok_or_else(|| PluginError::NotFound(format!("site `{site}` does not exist")))?;
        let (slot, name) = match kind {
            RouteKind::Federation => (&mut row.federation, "federation"),
            RouteKind::XmppFederation => (&mut row.xmpp, "xmpp-federation"),
        };
        *slot = identity;
        write(&state)?;
        log(LogLevel::Info, &format!("set-site-route {site} {name}"));
        Ok(())
    }

    fn read_store_status() -> Result<StoreStatus, PluginError> {
        Ok(StoreStatus {
            active_master: Some("fe1.contoso.com".to_owned()),
            file_transfer_agents: Vec::new(),
        })
    }

    fn replication_status() -> Result<Vec<ReplicaStatus>, PluginError> {
        Ok(read()?
            .replicas
            .into_iter()
            .map(|r| ReplicaStatus {
                fqdn: r.fqdn,
                up_to_date: r.up_to_date,
                last_update: None,
            })
            .collect())
    }

    fn replicate(fqdn: String) -> Result<(), PluginError> {
        pause();
        let mut state = read()?;
        let replica = state
            .replicas
            .iter_mut()
            .find(|r| r.fqdn == fqdn)
            .ok_or_else(|| PluginError::NotFound(format!("no replica `{fqdn}`")))?;
        replica.up_to_date = true;
        write(&state)?;
        log(LogLevel::Info, &format!("replicate {fqdn}"));
        Ok(())
    }
}

export!(StoreV02);
