//! The management-store cases (`wit/plugin/management.wit`): what the host
//! relies on when it publishes the topology against the version it read
//! (DESIGN §1, A3), waits for replication (A4) and sets site routes (A7).
//!
//! The cases publish the topology they read, unchanged, so its content stays;
//! its version moves on and it is left enabled. A route a case sets is set
//! back to what it was. Routes are set through `set-site-routes` on a `0.3.0`
//! plugin, and through `set-site-route`, once per route, on an older one; the
//! cases are reported under the function the plugin has.

use failback_core::observed::{RouteKind, Site, SiteRoute, TopologyDocument};
use failback_core::topology::Topology;

use super::{
    ABSENT, Case, CaseReport, Checked, Miss, Relabel, Variant, answer, came_back, none_of, refusal,
    run_cases_as, shown,
};
use crate::bindings::plugin::ManagementStore;
use crate::manifest::PluginTrack;

const READ: &str = "management.read-topology";
const PUBLISH: &str = "management.publish-topology";
const ENABLE: &str = "management.enable-topology";
const SITES: &str = "management.list-sites";
const SET_ROUTES: &str = "management.set-site-routes";
/// `set-site-routes` on tracks before 0.3.0, asked once per route.
const SET_ROUTE: &str = "management.set-site-route";
const STATUS: &str = "management.read-store-status";
const REPLICATION: &str = "management.replication-status";
const REPLICATE: &str = "management.replicate";

/// How a route names an Edge pool.
const EDGE_SERVER: &str = "EdgeServer:";

/// The management store (CMS) under test.
pub(super) struct Cms {
    plugin: ManagementStore,
}

pub(super) const CASES: &[Case<Cms>] = &[
    Case {
        id: "read-topology",
        function: READ,
        uses: &[],
        promise: "read-topology answers with the published topology: its XML and version",
        check: read_topology,
    },
    Case {
        id: "list-sites",
        function: SITES,
        uses: &[],
        promise: "list-sites answers with every site; each route is `EdgeServer:<pool fqdn>` or \
                  none",
        check: list_sites,
    },
    Case {
        id: "read-store-status",
        function: STATUS,
        uses: &[],
        promise: "read-store-status answers with where the store runs",
        check: read_store_status,
    },
    Case {
        id: "replication-status",
        function: REPLICATION,
        uses: &[],
        promise: "replication-status answers with every replica, each named by its FQDN",
        check: replication_status,
    },
    Case {
        id: "publish-refused",
        function: PUBLISH,
        uses: &[],
        promise: "publishing against a version that was never published publishes nothing: \
                  plugin-error::conflict (or invalid, for the empty document the kit sends)",
        check: publish_refused,
    },
    Case {
        id: "publish",
        function: PUBLISH,
        uses: &[READ],
        promise: "publishing against the published version returns a new, larger version; \
                  read-topology then shows it, not enabled yet",
        check: publish,
    },
    Case {
        id: "publish-stale",
        function: PUBLISH,
        uses: &[READ],
        promise: "publishing against a version that is not the published one is \
                  plugin-error::conflict, and nothing is published",
        check: publish_stale,
    },
    Case {
        id: "enable-unpublished",
        function: ENABLE,
        uses: &[],
        promise: "enabling a version that was never published is plugin-error::conflict",
        check: enable_unpublished,
    },
    Case {
        id: "enable",
        function: ENABLE,
        uses: &[READ, PUBLISH],
        promise: "enabling the published version succeeds; read-topology then shows it enabled",
        check: enable,
    },
    Case {
        id: "enable-stale",
        function: ENABLE,
        uses: &[READ],
        promise: "enabling a version that is no longer the published one is plugin-error::conflict",
        check: enable_stale,
    },
    Case {
        id: "replicate-unknown",
        function: REPLICATE,
        uses: &[],
        promise: "replicating to an FQDN that holds no replica is plugin-error::not-found",
        check: replicate_unknown,
    },
    Case {
        id: "replicate",
        function: REPLICATE,
        uses: &[REPLICATION, READ, ENABLE],
        promise: "replicating to a replica that replication-status lists brings it up to date: \
                  replication-status says so after (the topology enabled)",
        check: replicate,
    },
    Case {
        id: "route-unknown-site",
        function: SET_ROUTES,
        uses: &[],
        promise: "setting a route of a site that does not exist is plugin-error::not-found",
        check: route_unknown_site,
    },
    Case {
        id: "route-round-trip",
        function: SET_ROUTES,
        uses: &[SITES, READ],
        promise: "a route set with set-site-routes comes back from list-sites, and none clears \
                  it; for both route kinds",
        check: route_round_trip,
    },
];

/// Run every management-store case against `plugin`.
pub(super) fn run(plugin: &ManagementStore) -> Vec<CaseReport> {
    let mut cms = Cms {
        plugin: plugin.clone(),
    };
    let relabel: Relabel = match plugin.plugin().manifest().plugin_track() {
        Some(PluginTrack::V0_1 | PluginTrack::V0_2) => {
            |f| if f == SET_ROUTES { SET_ROUTE } else { f }
        }
        _ => |f| f,
    };
    run_cases_as(CASES, &mut cms, relabel)
}

impl Cms {
    fn topology(&self) -> Result<TopologyDocument, Miss> {
        answer(self.plugin.read_topology(), "the published topology")
    }

    fn sites(&self) -> Result<Vec<Site>, Miss> {
        answer(self.plugin.list_sites(), "every site with its routes")
    }
}

/// A version that is not `version`.
fn stale(version: u64) -> u64 {
    version.checked_sub(1).unwrap_or(version + 1)
}

fn read_topology(cms: &mut Cms) -> Checked {
    let topology = cms.topology()?;
    if topology.xml.trim().is_empty() {
        return Err(Miss::failed(
            "the topology's XML",
            format!("an empty document, version {}", topology.version),
        ));
    }
    Ok(())
}

fn list_sites(cms: &mut Cms) -> Checked {
    let sites = cms.sites()?;
    let wrong: Vec<&Site> = sites
        .iter()
        .filter(|site| {
            [&site.federation_route, &site.xmpp_federation_route]
                .into_iter()
                .flatten()
                .any(|route| route.strip_prefix(EDGE_SERVER).is_none_or(str::is_empty))
        })
        .collect();
    none_of(
        &wrong,
        "routes of the form `EdgeServer:<pool fqdn>`",
        "sites",
    )
}

fn read_store_status(cms: &mut Cms) -> Checked {
    answer(cms.plugin.read_store_status(), "the store's status").map(drop)
}

fn replication_status(cms: &mut Cms) -> Checked {
    let replicas = answer(cms.plugin.replication_status(), "every replica's state")?;
    let unnamed: Vec<_> = replicas.iter().filter(|r| r.fqdn.is_empty()).collect();
    none_of(&unnamed, "each replica named by its FQDN", "replicas")
}

/// A version no store has published: the greatest.
const NEVER_PUBLISHED: u64 = u64::MAX;

fn publish_refused(cms: &mut Cms) -> Checked {
    // An empty document: should a plugin publish it after all, no store takes it.
    refusal(
        cms.plugin.publish_topology("", NEVER_PUBLISHED),
        &[Variant::Conflict, Variant::Invalid],
    )
}

fn publish(cms: &mut Cms) -> Checked {
    let before = cms.topology()?;
    let version = answer(
        cms.plugin.publish_topology(&before.xml, before.version),
        &format!("a version after {}", before.version),
    )?;
    if version <= before.version {
        return Err(Miss::failed(
            format!("a version after {}", before.version),
            format!("version {version}"),
        ));
    }
    let after = cms.topology()?;
    if after.version == version && !after.enabled {
        Ok(())
    } else {
        Err(Miss::failed(
            format!("read-topology to show version {version}, not enabled"),
            format!("version {}, enabled {}", after.version, after.enabled),
        ))
    }
}

fn publish_stale(cms: &mut Cms) -> Checked {
    let before = cms.topology()?;
    let stale = stale(before.version);
    refusal(
        cms.plugin.publish_topology(&before.xml, stale),
        &[Variant::Conflict],
    )?;
    let after = cms.topology()?;
    if after.version == before.version {
        Ok(())
    } else {
        Err(Miss::failed(
            format!("the published version still {}", before.version),
            format!("version {}", after.version),
        ))
    }
}

fn enable(cms: &mut Cms) -> Checked {
    let version = cms.topology()?.version;
    answer(cms.plugin.enable_topology(version), "ok")?;
    let after = cms.topology()?;
    if after.version == version && after.enabled {
        Ok(())
    } else {
        Err(Miss::failed(
            format!("read-topology to show version {version}, enabled"),
            format!("version {}, enabled {}", after.version, after.enabled),
        ))
    }
}

fn enable_unpublished(cms: &mut Cms) -> Checked {
    refusal(
        cms.plugin.enable_topology(NEVER_PUBLISHED),
        &[Variant::Conflict],
    )
}

fn enable_stale(cms: &mut Cms) -> Checked {
    let version = cms.topology()?.version;
    refusal(
        cms.plugin.enable_topology(stale(version)),
        &[Variant::Conflict],
    )
}

/// `apply` waits (A4) until replication-status shows each replica up to
/// date: a replicate that answers `ok` and brings no replica up to date
/// would leave that wait to run to its deadline. So the case replicates to a
/// replica that is behind (the earlier `publish` case left them so), with the
/// topology enabled (a replica is up to date only with an enabled
/// topology), and reads replication-status after.
fn replicate(cms: &mut Cms) -> Checked {
    let replicas = answer(cms.plugin.replication_status(), "every replica's state")?;
    let Some(replica) = replicas
        .iter()
        .find(|r| !r.up_to_date)
        .or_else(|| replicas.first())
    else {
        return Err(Miss::NotApplicable(
            "replication-status lists no replica to replicate to".to_owned(),
        ));
    };
    let topology = cms.topology()?;
    if !topology.enabled {
        answer(cms.plugin.enable_topology(topology.version), "ok")?;
    }
    answer(
        cms.plugin.replicate(std::slice::from_ref(&replica.fqdn)),
        "ok",
    )?;
    let after = answer(cms.plugin.replication_status(), "every replica's state")?;
    match after
        .iter()
        .find(|r| r.fqdn.eq_ignore_ascii_case(&replica.fqdn))
    {
        Some(r) if r.up_to_date => Ok(()),
        Some(_) => Err(Miss::failed(
            format!(
                "replication-status to show `{}` up to date after replicate",
                replica.fqdn
            ),
            "not up to date",
        )),
        None => Err(Miss::failed(
            format!(
                "replication-status to list `{}` after replicate",
                replica.fqdn
            ),
            "not listed",
        )),
    }
}

fn replicate_unknown(cms: &mut Cms) -> Checked {
    refusal(
        cms.plugin.replicate(&[ABSENT.to_owned()]),
        &[Variant::NotFound],
    )
}

fn route(site: &Site, kind: RouteKind) -> Option<&str> {
    site.route(kind)
}

/// Set `kind` of `site` to `identity`, alone in a batch.
fn set_route(
    cms: &Cms,
    site: &str,
    kind: RouteKind,
    identity: Option<&str>,
) -> Result<(), crate::sandbox::guest_error::CallError> {
    cms.plugin.set_site_routes(&[SiteRoute {
        site: site.to_owned(),
        kind,
        identity: identity.map(str::to_owned),
    }])
}

/// A route identity to set on `site` for `kind` that differs from its own:
/// another site's route, else an Edge pool of the published topology.
fn other_identity(cms: &Cms, sites: &[Site], site: &Site, kind: RouteKind) -> Option<String> {
    let current = route(site, kind);
    let from_sites = sites
        .iter()
        .flat_map(|s| {
            [
                route(s, RouteKind::Federation),
                route(s, RouteKind::XmppFederation),
            ]
        })
        .flatten()
        .map(str::to_owned);
    let from_topology = cms
        .plugin
        .read_topology()
        .ok()
        .and_then(|document| Topology::parse(&document.xml).ok())
        .map(|topology| {
            topology
                .edge_pools()
                .iter()
                .map(|pool| pool.identity())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    from_sites
        .chain(from_topology)
        .find(|identity| Some(identity.as_str()) != current)
}

/// Set `kind` of `site` to `identity` and find it so in list-sites.
fn set_and_find(cms: &Cms, site: &str, kind: RouteKind, identity: Option<&str>) -> Checked {
    answer(set_route(cms, site, kind, identity), "ok")?;
    let sites = cms.sites()?;
    let found = sites.iter().find(|s| s.site == site);
    if found.is_some_and(|s| route(s, kind) == identity) {
        Ok(())
    } else {
        Err(Miss::failed(
            format!(
                "list-sites to show `{site}` with its {} route {}",
                shown(&kind),
                shown(&identity)
            ),
            format!("it shows {}", shown(&found)),
        ))
    }
}

fn route_round_trip(cms: &mut Cms) -> Checked {
    let sites = cms.sites()?;
    let Some(site) = sites.first().cloned() else {
        return Err(Miss::NotApplicable(
            "list-sites lists no site to set a route on".to_owned(),
        ));
    };
    for kind in [RouteKind::XmppFederation, RouteKind::Federation] {
        let Some(identity) = other_identity(cms, &sites, &site, kind) else {
            return Err(Miss::NotApplicable(
                "neither the sites' routes nor the topology name an Edge pool to route to"
                    .to_owned(),
            ));
        };
        let original = route(&site, kind).map(str::to_owned);
        let checked = set_and_find(cms, &site.site, kind, Some(&identity))
            .and_then(|()| set_and_find(cms, &site.site, kind, None));
        // Put the route back as it was, whatever the case found.
        let restored = set_route(cms, &site.site, kind, original.as_deref());
        checked?;
        restored.map_err(|error| {
            Miss::failed(
                format!("the route set back to {}", shown(&original)),
                came_back(&error),
            )
        })?;
    }
    Ok(())
}

fn route_unknown_site(cms: &mut Cms) -> Checked {
    refusal(
        set_route(
            cms,
            "failback-kit-no-such-site",
            RouteKind::XmppFederation,
            None,
        ),
        &[Variant::NotFound],
    )
}
