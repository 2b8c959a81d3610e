//! {name}: a failback `management-store` plugin. It reads and publishes the
//! topology of the Central Management Store, sets the sites' federation routes
//! and drives replication to each server's local replica.
//!
//! Each function names the Lync cmdlet it stands for and what the host relies
//! on (the WIT's own words are in `wit/management.wit`); `failback plugin test`
//! checks every promise. Until a function is written it answers
//! `plugin-error::failed("not implemented: …")`.

wit_bindgen::generate!({
    path: "wit",
    world: "failback:plugin/management-store@0.3.0",
});

use exports::failback::plugin::management::{
    Guest, ReplicaStatus, Site, SiteRoute, StoreStatus, TopologyDocument,
};
use failback::plugin::types::PluginError;

struct Plugin;

impl Guest for Plugin {
    /// `Get-CsTopology -AsXml`: the published topology, its version and whether
    /// that version is enabled.
    fn read_topology() -> Result<TopologyDocument, PluginError> {
        Err(not_implemented("management.read-topology"))
    }

    /// `Publish-CsTopology`, only if the published version is still
    /// `expected_version`: the new, larger version (not enabled yet). When
    /// another publish happened since, `PluginError::Conflict` and nothing is
    /// written.
    fn publish_topology(xml: String, expected_version: u64) -> Result<u64, PluginError> {
        let _ = (xml, expected_version);
        Err(not_implemented("management.publish-topology"))
    }

    /// `Enable-CsTopology` of the published `version`; a version that is no
    /// longer the published one is `PluginError::Conflict`.
    fn enable_topology(version: u64) -> Result<(), PluginError> {
        let _ = version;
        Err(not_implemented("management.enable-topology"))
    }

    /// `Get-CsSite`: every site with its routes (`EdgeServer:<pool fqdn>`).
    fn list_sites() -> Result<Vec<Site>, PluginError> {
        Err(not_implemented("management.list-sites"))
    }

    /// `Set-CsSite <site> -FederationRoute|-XmppFederationRoute <identity>`
    /// for every route of `routes` (`None` clears one), in one call. Check
    /// them all first: a site that does not exist is `PluginError::NotFound`,
    /// an identity not `EdgeServer:<fqdn>` is `PluginError::Invalid`, and then
    /// nothing is set. The host may send the same batch again.
    fn set_site_routes(routes: Vec<SiteRoute>) -> Result<(), PluginError> {
        let _ = routes;
        Err(not_implemented("management.set-site-routes"))
    }

    /// Where the store runs: its active master (`None` when unavailable).
    fn read_store_status() -> Result<StoreStatus, PluginError> {
        Err(not_implemented("management.read-store-status"))
    }

    /// `Get-CsManagementStoreReplicationStatus`: every replica's state.
    fn replication_status() -> Result<Vec<ReplicaStatus>, PluginError> {
        Err(not_implemented("management.replication-status"))
    }

    /// `Invoke-CsManagementStoreReplication -ReplicaFqdn <fqdn>` for each of
    /// `fqdns`, without waiting (the host polls `replication-status`); an FQDN
    /// that holds no replica is `PluginError::NotFound`, before any is asked.
    fn replicate(fqdns: Vec<String>) -> Result<(), PluginError> {
        let _ = fqdns;
        Err(not_implemented("management.replicate"))
    }
}

/// What a function answers until it is written.
fn not_implemented(function: &str) -> PluginError {
    PluginError::Failed(format!("not implemented: `{function}`"))
}

export!(Plugin);
