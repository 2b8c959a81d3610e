//! The lab's `management-store` plugin: the published topology, the sites'
//! routes, the store's status and its replicas, over `store/topology.xml` and
//! `store/store.json` (docs/lab-files.md).
//!
//! The exported functions only read the configuration and call [`store`],
//! whose plain functions take the directories as paths, so they are tested
//! natively.
//!
//! Configuration: `dir` (where the `store` grant is mounted, default `/store`),
//! `writes-dir` (the `writes` grant, default `/writes`).

#![allow(
    unsafe_code,
    reason = "the SDK's export macro expands to the canonical ABI glue, which is unsafe code"
)]

mod store;

use failback_plugin_sdk::config;
use failback_plugin_sdk::management::{
    Guest, PluginError, ReplicaStatus, Site, SiteRoute, StoreStatus, TopologyDocument,
};

use store::Lab;

struct LabStore;

fn lab() -> Lab {
    Lab {
        dir: config::get_or("dir", "/store").into(),
        writes: config::get_or("writes-dir", "/writes").into(),
    }
}

impl Guest for LabStore {
    fn read_topology() -> Result<TopologyDocument, PluginError> {
        lab().read_topology()
    }

    fn publish_topology(xml: String, expected_version: u64) -> Result<u64, PluginError> {
        lab().publish_topology(&xml, expected_version)
    }

    fn enable_topology(version: u64) -> Result<(), PluginError> {
        lab().enable_topology(version)
    }

    fn list_sites() -> Result<Vec<Site>, PluginError> {
        lab().list_sites()
    }

    fn set_site_routes(routes: Vec<SiteRoute>) -> Result<(), PluginError> {
        lab().set_site_routes(&routes)
    }

    fn read_store_status() -> Result<StoreStatus, PluginError> {
        lab().read_store_status()
    }

    fn replication_status() -> Result<Vec<ReplicaStatus>, PluginError> {
        lab().replication_status()
    }

    fn replicate(fqdns: Vec<String>) -> Result<(), PluginError> {
        lab().replicate(&fqdns)
    }
}

failback_plugin_sdk::export_management_store!(LabStore);
