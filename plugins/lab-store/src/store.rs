//! `store/topology.xml` and `store/store.json`: the published topology and its
//! version, the sites' routes, the store's status and its replicas, with the
//! rules of docs/lab-files.md.
//!
//! A publish changes two files, and a reader must see both old or both new,
//! whenever the process stops. So it is a small commit: the new document is
//! staged as `topology.xml.next`; then `store.json` — new version, not
//! enabled, and `published_sha256`, the sha256 of the new document — is
//! replaced at once: that is the commit; then the staged document is renamed
//! over `topology.xml`. A reader takes the document whose sha256 is
//! `published_sha256` (`topology.xml`, or the staged one if the rename has not
//! happened yet); a writer first settles what a stopped publish left: it
//! finishes a committed rename and drops an uncommitted staged document.
//! Without `published_sha256` (a lab no publish has touched yet),
//! `topology.xml` is the published document.

use std::path::PathBuf;

use failback_plugin_sdk::files;
use failback_plugin_sdk::management::{
    PluginError, ReplicaStatus, RouteKind, Site, SiteRoute, StoreStatus, TopologyDocument,
};
use serde::{Deserialize, Serialize};

const TOPOLOGY: &str = "topology.xml";
/// A publish's new document, staged before the commit.
const STAGED: &str = "topology.xml.next";
const FILE: &str = "store.json";
const LOG: &str = "lab-store.log";
/// A site route names an Edge pool by its service identity.
const EDGE_SERVER: &str = "EdgeServer:";

/// Where the plugin's granted directories are.
#[derive(Debug)]
pub(crate) struct Lab {
    /// Holds `topology.xml` and `store.json`.
    pub(crate) dir: PathBuf,
    /// Holds `lab-store.log`.
    pub(crate) writes: PathBuf,
}

/// `store.json`, as written. Keys the lab does not know are kept on rewrite.
#[derive(Debug, Deserialize, Serialize)]
struct StoreFile {
    version: u64,
    enabled: bool,
    /// The sha256 of the published document, once a publish has written one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    published_sha256: Option<String>,
    active_master: Option<String>,
    file_transfer_agents: Vec<String>,
    sites: Vec<SiteEntry>,
    replicas: Vec<Replica>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize, Serialize)]
struct SiteEntry {
    name: String,
    federation_route: Option<String>,
    xmpp_federation_route: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Replica {
    fqdn: String,
    version: u64,
    last_update: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

impl StoreFile {
    /// Publishing, enabling and replicating need the store's active master.
    fn require_available(&self) -> Result<(), PluginError> {
        if self.active_master.is_none() {
            return Err(PluginError::Unavailable(
                "the management store is unavailable: it has no active master".to_owned(),
            ));
        }
        Ok(())
    }
}

impl Lab {
    /// The published topology, its version and whether it is enabled.
    pub(crate) fn read_topology(&self) -> Result<TopologyDocument, PluginError> {
        let store = self.read()?;
        let xml = self.published(&store)?;
        Ok(TopologyDocument {
            xml,
            version: store.version,
            enabled: store.enabled,
        })
    }

    /// The document `store` says is published (see the module docs).
    fn published(&self, store: &StoreFile) -> Result<String, PluginError> {
        let xml = std::fs::read_to_string(self.dir.join(TOPOLOGY))
            .map_err(|e| files::io_error("read", TOPOLOGY, &e))?;
        let Some(want) = &store.published_sha256 else {
            return Ok(xml);
        };
        if sha256(&xml) == *want {
            return Ok(xml);
        }
        match std::fs::read_to_string(self.dir.join(STAGED)) {
            Ok(staged) if sha256(&staged) == *want => Ok(staged),
            _ => Err(PluginError::Failed(format!(
                "`{TOPOLOGY}` is not the published document (`{FILE}` names sha256 {want}), and no staged one is"
            ))),
        }
    }

    /// Settle what a stopped publish left: finish a committed one's rename,
    /// drop an uncommitted staged document.
    fn settle(&self, store: &StoreFile) -> Result<(), PluginError> {
        let staged = self.dir.join(STAGED);
        let Ok(text) = std::fs::read_to_string(&staged) else {
            return Ok(());
        };
        if store.published_sha256.as_deref() == Some(sha256(&text).as_str()) {
            std::fs::rename(&staged, self.dir.join(TOPOLOGY))
                .map_err(|e| files::io_error("rename", STAGED, &e))
        } else {
            std::fs::remove_file(&staged).map_err(|e| files::io_error("remove", STAGED, &e))
        }
    }

    /// `Publish-CsTopology` against `expected`: the new version, not enabled.
    pub(crate) fn publish_topology(&self, xml: &str, expected: u64) -> Result<u64, PluginError> {
        let mut store = self.read()?;
        self.settle(&store)?;
        store.require_available()?;
        if store.version != expected {
            return Err(PluginError::Conflict(format!(
                "the published topology is version `{}`, not the expected `{expected}`",
                store.version
            )));
        }
        if xml.trim().is_empty() {
            return Err(PluginError::Invalid(
                "the topology document to publish is empty".to_owned(),
            ));
        }
        let version = store.version.checked_add(1).ok_or_else(|| {
            PluginError::Failed(format!("topology version `{}` is the last", store.version))
        })?;
        // Stage, commit, rename: see the module docs.
        files::write_atomic(&self.dir.join(STAGED), xml.as_bytes())
            .map_err(|e| files::io_error("write", STAGED, &e))?;
        store.version = version;
        store.enabled = false;
        store.published_sha256 = Some(sha256(xml));
        self.write(&store)?;
        self.settle(&store)?;
        self.log(&format!(
            "publish-topology ({} bytes) {expected}",
            xml.len()
        ))?;
        Ok(version)
    }

    /// `Enable-CsTopology` of the published `version`.
    pub(crate) fn enable_topology(&self, version: u64) -> Result<(), PluginError> {
        let mut store = self.read()?;
        self.settle(&store)?;
        store.require_available()?;
        if store.version != version {
            return Err(PluginError::Conflict(format!(
                "topology version `{version}` is not the published one (`{}`)",
                store.version
            )));
        }
        if !store.enabled {
            store.enabled = true;
            self.write(&store)?;
        }
        self.log(&format!("enable-topology {version}"))
    }

    /// Every site, with its routes.
    pub(crate) fn list_sites(&self) -> Result<Vec<Site>, PluginError> {
        Ok(self
            .read()?
            .sites
            .into_iter()
            .map(|site| Site {
                site: site.name,
                federation_route: site.federation_route,
                xmpp_federation_route: site.xmpp_federation_route,
            })
            .collect())
    }

    /// `Set-CsSite <site> -FederationRoute|-XmppFederationRoute <identity>`
    /// for every route of `routes`: every route checked before any is set,
    /// then one read and at most one write of `store.json` for the batch, and
    /// one log line per route.
    pub(crate) fn set_site_routes(&self, routes: &[SiteRoute]) -> Result<(), PluginError> {
        let mut store = self.read()?;
        self.settle(&store)?;
        let mut changed = false;
        for route in routes {
            let site = &route.site;
            let identity = route.identity.as_deref();
            if let Some(identity) = identity {
                let pool = identity.strip_prefix(EDGE_SERVER).unwrap_or_default();
                if pool.is_empty() || pool.contains(char::is_whitespace) {
                    return Err(PluginError::Invalid(format!(
                        "route `{identity}` is not an Edge pool service identity (`{EDGE_SERVER}<pool fqdn>`)"
                    )));
                }
            }
            let entry = store
                .sites
                .iter_mut()
                .find(|entry| entry.name.eq_ignore_ascii_case(site))
                .ok_or_else(|| PluginError::NotFound(format!("site `{site}` does not exist")))?;
            let slot = match route.kind {
                RouteKind::Federation => &mut entry.federation_route,
                RouteKind::XmppFederation => &mut entry.xmpp_federation_route,
            };
            if slot.as_deref() != identity {
                *slot = identity.map(str::to_owned);
                changed = true;
            }
        }
        // Nothing is written before every route has been checked: an error
        // above returned with `store.json` as it was.
        if changed {
            self.write(&store)?;
        }
        let lines: Vec<String> = routes
            .iter()
            .map(|route| {
                let kind = match route.kind {
                    RouteKind::Federation => "federation",
                    RouteKind::XmppFederation => "xmpp-federation",
                };
                format!(
                    "set-site-route {} {kind} {}",
                    route.site,
                    route.identity.as_deref().unwrap_or("none")
                )
            })
            .collect();
        self.log_all(&lines)
    }

    /// Where the store runs.
    pub(crate) fn read_store_status(&self) -> Result<StoreStatus, PluginError> {
        let store = self.read()?;
        Ok(StoreStatus {
            active_master: store.active_master,
            file_transfer_agents: store.file_transfer_agents,
        })
    }

    /// Every replica: up to date when it holds the published version and that
    /// version is enabled.
    pub(crate) fn replication_status(&self) -> Result<Vec<ReplicaStatus>, PluginError> {
        let store = self.read()?;
        let (version, enabled) = (store.version, store.enabled);
        Ok(store
            .replicas
            .into_iter()
            .map(|replica| ReplicaStatus {
                up_to_date: enabled && replica.version == version,
                fqdn: replica.fqdn,
                last_update: replica.last_update,
            })
            .collect())
    }

    /// `Invoke-CsManagementStoreReplication -ReplicaFqdn <fqdn>` for each of
    /// `fqdns`: each replica receives the enabled version. A published version
    /// that is not enabled yet is not replicated: the replicas are left as
    /// they are. Every name is checked before any replica is touched; then
    /// one read and at most one write of `store.json` for the batch, and one
    /// log line per replica.
    pub(crate) fn replicate(&self, fqdns: &[String]) -> Result<(), PluginError> {
        let mut store = self.read()?;
        self.settle(&store)?;
        let (version, enabled) = (store.version, store.enabled);
        let available = store.require_available();
        let mut indices = Vec::with_capacity(fqdns.len());
        for fqdn in fqdns {
            let index = store
                .replicas
                .iter()
                .position(|replica| replica.fqdn.eq_ignore_ascii_case(fqdn))
                .ok_or_else(|| PluginError::NotFound(format!("replica `{fqdn}` does not exist")))?;
            indices.push(index);
        }
        available?;
        if enabled {
            // The lab has no clock: the update is stamped with the version it
            // carried, which keeps runs deterministic.
            let stamp = format!("v{version}");
            let mut changed = false;
            for index in indices {
                let replica = &mut store.replicas[index];
                if replica.version != version || replica.last_update.as_deref() != Some(&stamp) {
                    replica.version = version;
                    replica.last_update = Some(stamp.clone());
                    changed = true;
                }
            }
            if changed {
                self.write(&store)?;
            }
        }
        let lines: Vec<String> = fqdns
            .iter()
            .map(|fqdn| format!("replicate {fqdn}"))
            .collect();
        self.log_all(&lines)
    }

    fn read(&self) -> Result<StoreFile, PluginError> {
        files::read_json(&self.dir.join(FILE), FILE)
    }

    fn write(&self, store: &StoreFile) -> Result<(), PluginError> {
        files::write_json(&self.dir.join(FILE), FILE, store)
    }

    fn log(&self, line: &str) -> Result<(), PluginError> {
        self.log_all(&[line])
    }

    /// Append `lines` to the log in one write (and one sync).
    fn log_all(&self, lines: &[impl AsRef<str>]) -> Result<(), PluginError> {
        if lines.is_empty() {
            return Ok(());
        }
        let text = lines
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join("\n");
        files::append_line(&self.writes.join(LOG), &text)
            .map_err(|e| files::io_error("append to", LOG, &e))
    }
}

/// The sha256 of `text`, as lowercase hex.
fn sha256(text: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]

    use super::*;

    const TOPOLOGY_XML: &str = "<Topology xmlns=\"urn:schema:Microsoft.Rtc.Management.Deploy.Topology.2008\">\n  <Sites />\n</Topology>\n";

    const STORE: &str = r#"{
  "version": 7,
  "enabled": true,
  "active_master": "fe1.contoso.com",
  "file_transfer_agents": ["fe1.contoso.com"],
  "sites": [
    { "name": "Site1", "federation_route": null, "xmpp_federation_route": null },
    { "name": "Site2", "federation_route": "EdgeServer:edgepool2.contoso.com",
      "xmpp_federation_route": "EdgeServer:edgepool2.contoso.com" }
  ],
  "replicas": [
    { "fqdn": "edge1.contoso.com", "version": 7, "last_update": "2026-11-20T10:00:00Z" },
    { "fqdn": "edge2.contoso.com", "version": 6, "last_update": null }
  ]
}
"#;

    fn lab() -> (tempfile::TempDir, Lab) {
        let root = tempfile::tempdir().unwrap();
        let lab = Lab {
            dir: root.path().join("store"),
            writes: root.path().join("writes"),
        };
        std::fs::create_dir(&lab.dir).unwrap();
        std::fs::create_dir(&lab.writes).unwrap();
        std::fs::write(lab.dir.join(FILE), STORE).unwrap();
        std::fs::write(lab.dir.join(TOPOLOGY), TOPOLOGY_XML).unwrap();
        (root, lab)
    }

    fn log(lab: &Lab) -> String {
        std::fs::read_to_string(lab.writes.join(LOG)).unwrap_or_default()
    }

    fn without_master(lab: &Lab) {
        let text = STORE.replace(
            "\"active_master\": \"fe1.contoso.com\"",
            "\"active_master\": null",
        );
        std::fs::write(lab.dir.join(FILE), text).unwrap();
    }

    fn fqdns(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn route(site: &str, kind: RouteKind, identity: Option<&str>) -> SiteRoute {
        SiteRoute {
            site: site.to_owned(),
            kind,
            identity: identity.map(str::to_owned),
        }
    }

    fn up_to_date(lab: &Lab) -> Vec<(String, bool)> {
        lab.replication_status()
            .unwrap()
            .into_iter()
            .map(|r| (r.fqdn, r.up_to_date))
            .collect()
    }

    #[test]
    fn read_topology_returns_the_document_unchanged() {
        let (_root, lab) = lab();
        let doc = lab.read_topology().unwrap();
        assert_eq!(doc.xml, TOPOLOGY_XML);
        assert_eq!(doc.version, 7);
        assert!(doc.enabled);
    }

    #[test]
    fn publish_writes_a_new_version_not_enabled() {
        let (_root, lab) = lab();
        let xml = TOPOLOGY_XML.replace("<Sites />", "<Sites><CentralSite /></Sites>");
        assert_eq!(lab.publish_topology(&xml, 7).unwrap(), 8);
        let doc = lab.read_topology().unwrap();
        assert_eq!(
            (doc.xml.as_str(), doc.version, doc.enabled),
            (xml.as_str(), 8, false)
        );
        // Replicas keep their version, so none is up to date any more.
        assert_eq!(
            up_to_date(&lab),
            [
                ("edge1.contoso.com".to_owned(), false),
                ("edge2.contoso.com".to_owned(), false)
            ]
        );
        assert_eq!(
            log(&lab),
            format!("publish-topology ({} bytes) 7\n", xml.len())
        );
        assert!(!lab.dir.join("store.json.tmp").exists());
        assert!(!lab.dir.join("topology.xml.next.tmp").exists());
        assert!(!lab.dir.join(STAGED).exists());
    }

    /// A publish stopped after staging its document and before the commit
    /// reads as no publish at all, and the next write drops the staged file.
    #[test]
    fn a_publish_stopped_before_its_commit_left_nothing_published() {
        let (_root, lab) = lab();
        std::fs::write(lab.dir.join(STAGED), "<Topology a=\"new\" />").unwrap();
        let doc = lab.read_topology().unwrap();
        assert_eq!((doc.xml.as_str(), doc.version), (TOPOLOGY_XML, 7));
        lab.enable_topology(7).unwrap();
        assert!(!lab.dir.join(STAGED).exists());
    }

    /// A publish stopped after its commit and before the rename reads as the
    /// whole publish — never the new version with the old document — and
    /// the next write finishes the rename.
    #[test]
    fn a_publish_stopped_after_its_commit_reads_as_published() {
        let (_root, lab) = lab();
        let xml = "<Topology a=\"new\" />";
        lab.publish_topology(xml, 7).unwrap();
        // Undo the rename: the state a stop right after the commit leaves.
        std::fs::write(lab.dir.join(STAGED), xml).unwrap();
        std::fs::write(lab.dir.join(TOPOLOGY), TOPOLOGY_XML).unwrap();
        let doc = lab.read_topology().unwrap();
        assert_eq!((doc.xml.as_str(), doc.version), (xml, 8));
        lab.enable_topology(8).unwrap();
        assert!(!lab.dir.join(STAGED).exists());
        assert_eq!(
            std::fs::read_to_string(lab.dir.join(TOPOLOGY)).unwrap(),
            xml
        );
    }

    #[test]
    fn a_document_that_is_not_the_published_one_is_refused() {
        let (_root, lab) = lab();
        lab.publish_topology("<Topology a=\"new\" />", 7).unwrap();
        std::fs::write(lab.dir.join(TOPOLOGY), "<Topology a=\"other\" />").unwrap();
        let err = lab.read_topology().unwrap_err();
        assert!(
            matches!(&err, PluginError::Failed(m) if m.contains("not the published document")),
            "{err:?}"
        );
    }

    #[test]
    fn publish_against_a_stale_version_is_a_conflict_and_writes_nothing() {
        let (_root, lab) = lab();
        let err = lab.publish_topology("<Topology />", 6).unwrap_err();
        assert!(
            matches!(&err, PluginError::Conflict(m) if m.contains("`7`") && m.contains("`6`")),
            "{err:?}"
        );
        assert_eq!(std::fs::read_to_string(lab.dir.join(FILE)).unwrap(), STORE);
        assert_eq!(
            std::fs::read_to_string(lab.dir.join(TOPOLOGY)).unwrap(),
            TOPOLOGY_XML
        );
        assert_eq!(log(&lab), "");
        // A second publish against the version the first one read loses too.
        lab.publish_topology("<Topology />", 7).unwrap();
        assert!(matches!(
            lab.publish_topology("<Topology a=\"1\" />", 7).unwrap_err(),
            PluginError::Conflict(_)
        ));
    }

    #[test]
    fn enable_of_the_published_version() {
        let (_root, lab) = lab();
        lab.publish_topology("<Topology />", 7).unwrap();
        let err = lab.enable_topology(7).unwrap_err();
        assert!(
            matches!(&err, PluginError::Conflict(m) if m.contains("`7`")),
            "{err:?}"
        );
        lab.enable_topology(8).unwrap();
        assert!(lab.read_topology().unwrap().enabled);
        // Enabling again changes nothing and succeeds.
        lab.enable_topology(8).unwrap();
        assert_eq!(
            log(&lab),
            "publish-topology (12 bytes) 7\nenable-topology 8\nenable-topology 8\n"
        );
    }

    #[test]
    fn publish_enable_and_replicate_need_the_active_master() {
        let (_root, lab) = lab();
        without_master(&lab);
        for err in [
            lab.publish_topology("<Topology />", 7).unwrap_err(),
            lab.enable_topology(7).unwrap_err(),
            lab.replicate(&fqdns(&["edge1.contoso.com"])).unwrap_err(),
        ] {
            assert!(
                matches!(&err, PluginError::Unavailable(m) if m.contains("no active master")),
                "{err:?}"
            );
        }
        // Reading still works, and shows the store unavailable.
        assert_eq!(lab.read_store_status().unwrap().active_master, None);
        assert_eq!(lab.read_topology().unwrap().version, 7);
        assert_eq!(log(&lab), "");
    }

    #[test]
    fn replication_follows_publish_and_enable() {
        let (_root, lab) = lab();
        assert_eq!(
            up_to_date(&lab),
            [
                ("edge1.contoso.com".to_owned(), true),
                ("edge2.contoso.com".to_owned(), false)
            ]
        );
        lab.publish_topology("<Topology />", 7).unwrap();
        // Not enabled: nothing to replicate, the replica stays as it was.
        lab.replicate(&fqdns(&["edge1.contoso.com"])).unwrap();
        let status = lab.replication_status().unwrap();
        assert!(!status[0].up_to_date);
        assert_eq!(
            status[0].last_update.as_deref(),
            Some("2026-11-20T10:00:00Z")
        );
        lab.enable_topology(8).unwrap();
        lab.replicate(&fqdns(&["EDGE1.contoso.com"])).unwrap();
        let status = lab.replication_status().unwrap();
        assert!(status[0].up_to_date);
        assert_eq!(status[0].last_update.as_deref(), Some("v8"));
        assert!(!status[1].up_to_date);
        lab.replicate(&fqdns(&["edge2.contoso.com"])).unwrap();
        assert!(lab.replication_status().unwrap()[1].up_to_date);
        assert!(log(&lab).ends_with("replicate EDGE1.contoso.com\nreplicate edge2.contoso.com\n"));
    }

    #[test]
    fn replicate_to_an_unknown_replica_is_not_found() {
        let (_root, lab) = lab();
        let err = lab.replicate(&fqdns(&["edge9.contoso.com"])).unwrap_err();
        assert!(
            matches!(&err, PluginError::NotFound(m) if m == "replica `edge9.contoso.com` does not exist"),
            "{err:?}"
        );
    }

    /// A batch names every replica it replicates to in one call: all are up
    /// to date after it, with one write of the state file and a log line
    /// each. One unknown name among them replicates to none.
    #[test]
    fn a_batch_replicates_to_every_replica_named_or_to_none() {
        let (_root, lab) = lab();
        lab.publish_topology("<Topology />", 7).unwrap();
        lab.enable_topology(8).unwrap();
        let before = std::fs::read_to_string(lab.dir.join(FILE)).unwrap();
        let err = lab
            .replicate(&fqdns(&["edge1.contoso.com", "edge9.contoso.com"]))
            .unwrap_err();
        assert!(
            matches!(&err, PluginError::NotFound(m) if m.contains("edge9")),
            "{err:?}"
        );
        assert_eq!(std::fs::read_to_string(lab.dir.join(FILE)).unwrap(), before);
        lab.replicate(&fqdns(&["edge1.contoso.com", "edge2.contoso.com"]))
            .unwrap();
        assert_eq!(
            up_to_date(&lab),
            [
                ("edge1.contoso.com".to_owned(), true),
                ("edge2.contoso.com".to_owned(), true)
            ]
        );
        assert!(log(&lab).ends_with("replicate edge1.contoso.com\nreplicate edge2.contoso.com\n"));
        // Asked again, the batch changes nothing and succeeds.
        let after = std::fs::read_to_string(lab.dir.join(FILE)).unwrap();
        lab.replicate(&fqdns(&["edge1.contoso.com", "edge2.contoso.com"]))
            .unwrap();
        assert_eq!(std::fs::read_to_string(lab.dir.join(FILE)).unwrap(), after);
    }

    #[test]
    fn store_status_and_sites() {
        let (_root, lab) = lab();
        let status = lab.read_store_status().unwrap();
        assert_eq!(status.active_master.as_deref(), Some("fe1.contoso.com"));
        assert_eq!(status.file_transfer_agents, ["fe1.contoso.com"]);
        let sites = lab.list_sites().unwrap();
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[0].site, "Site1");
        assert_eq!(sites[0].xmpp_federation_route, None);
        assert_eq!(
            sites[1].federation_route.as_deref(),
            Some("EdgeServer:edgepool2.contoso.com")
        );
    }

    #[test]
    fn set_site_routes_sets_and_clears_in_one_batch() {
        let (_root, lab) = lab();
        lab.set_site_routes(&[
            route(
                "Site1",
                RouteKind::XmppFederation,
                Some("EdgeServer:edgepool1.contoso.com"),
            ),
            route("Site2", RouteKind::XmppFederation, None),
            route("site2", RouteKind::Federation, None),
        ])
        .unwrap();
        let sites = lab.list_sites().unwrap();
        assert_eq!(
            sites[0].xmpp_federation_route.as_deref(),
            Some("EdgeServer:edgepool1.contoso.com")
        );
        assert_eq!(sites[0].federation_route, None);
        assert_eq!(sites[1].xmpp_federation_route, None);
        assert_eq!(sites[1].federation_route, None);
        assert_eq!(
            log(&lab),
            "set-site-route Site1 xmpp-federation EdgeServer:edgepool1.contoso.com\n\
             set-site-route Site2 xmpp-federation none\n\
             set-site-route site2 federation none\n"
        );
        // The file keeps its form: nulls written, keys in order, a final newline.
        let text = std::fs::read_to_string(lab.dir.join(FILE)).unwrap();
        assert!(text.starts_with("{\n  \"version\": 7,\n  \"enabled\": true,\n  \"active_master\": \"fe1.contoso.com\",\n  \"file_transfer_agents\": [\n    \"fe1.contoso.com\"\n  ],\n  \"sites\": [\n    {\n      \"name\": \"Site1\",\n      \"federation_route\": null,"));
        assert!(text.ends_with("]\n}\n"));
    }

    #[test]
    fn set_site_routes_refuses_unknown_sites_and_malformed_identities() {
        let (_root, lab) = lab();
        let err = lab
            .set_site_routes(&[route("Site9", RouteKind::Federation, None)])
            .unwrap_err();
        assert!(matches!(&err, PluginError::NotFound(m) if m == "site `Site9` does not exist"));
        for identity in [
            "edgepool1.contoso.com",
            "EdgeServer:",
            "Registrar:fepool1.contoso.com",
        ] {
            let err = lab
                .set_site_routes(&[route("Site1", RouteKind::Federation, Some(identity))])
                .unwrap_err();
            assert!(
                matches!(&err, PluginError::Invalid(m) if m.contains(identity)),
                "{err:?}"
            );
        }
        assert_eq!(log(&lab), "");
    }

    /// A batch whose last route is refused sets none of the routes before it.
    #[test]
    fn a_batch_with_one_refused_route_sets_nothing() {
        let (_root, lab) = lab();
        let err = lab
            .set_site_routes(&[
                route(
                    "Site1",
                    RouteKind::Federation,
                    Some("EdgeServer:edgepool1.contoso.com"),
                ),
                route("Site9", RouteKind::Federation, None),
            ])
            .unwrap_err();
        assert!(matches!(&err, PluginError::NotFound(_)), "{err:?}");
        assert_eq!(std::fs::read_to_string(lab.dir.join(FILE)).unwrap(), STORE);
        assert_eq!(log(&lab), "");
    }

    #[test]
    fn a_missing_store_is_failed() {
        let (_root, lab) = lab();
        std::fs::remove_file(lab.dir.join(TOPOLOGY)).unwrap();
        let err = lab.read_topology().unwrap_err();
        assert!(matches!(&err, PluginError::Failed(m) if m.contains("cannot read `topology.xml`")));
    }
}
