//! The lab: a simulated contoso.com deployment after a failover, as files.
//!
//! [`files`] returns everything `failback lab init DIR` writes for a
//! [`Scenario`], in the formats of `docs/lab-files.md`; the lab plugins act on
//! those files. The environment file (`failback.toml`) is not among them: the
//! CLI writes it, since it binds plugin builds this crate knows nothing of.
//!
//! The deployment: Site1 holds `fepool1.contoso.com` (fe1) and the restored Edge
//! pool `edgepool1.contoso.com` (edge1, edge2; Access Edge `sip.contoso.com`);
//! Site2 holds `fepool2.contoso.com` (fe2) and `edgepool2.contoso.com` (edge3;
//! Access Edge `sip2.contoso.com`), which federation and XMPP failed over to.
//!
//! [`files_with_sites`] grows the same deployment to N sites for scaling
//! measurements: each site from Site3 on is a bystander holding a Front End pool
//! (`fepoolK`, one machine `feK`) and a one-machine Edge pool (`edgepoolK`,
//! machine `edge-siteK`, Access Edge `sipK`), healthy and up to date, its routes
//! as Site2's. The plan then also repoints every bystander's routes.

use std::fmt::Write as _;
use std::str::FromStr;

use serde::Serialize;

/// The number of sites of the lab as [`files`] writes it.
pub const LAB_SITES: u32 = 2;
/// The most sites [`files_with_sites`] writes: bystander addresses are numbered
/// by site inside 10.64.0.0/10 (internal) and 100.64.0.0/10 (external).
pub const MAX_LAB_SITES: u32 = 10_000;

/// The published topology version of every scenario.
pub const LAB_VERSION: u64 = 7;
/// The lab's zone.
pub const LAB_ZONE: &str = "contoso.com";

const EDGE1: (&str, &str, &str) = ("edge1.contoso.com", "172.25.33.10", "131.107.155.10");
const EDGE2: (&str, &str, &str) = ("edge2.contoso.com", "172.25.33.11", "131.107.155.11");
const EDGE3: (&str, &str, &str) = ("edge3.contoso.com", "172.25.34.10", "131.107.156.10");
const POOL1_IPS: [&str; 2] = [EDGE1.2, EDGE2.2];
const POOL2_IPS: [&str; 1] = [EDGE3.2];
/// The external IPv6 address of each Edge machine in the `dual-stack`
/// scenario, in the order of [`EDGE1`], [`EDGE2`], [`EDGE3`].
const EDGE_IPV6: [&str; 3] = ["2001:db8:155::10", "2001:db8:155::11", "2001:db8:156::10"];
const POOL1_IPV6: [&str; 2] = [EDGE_IPV6[0], EDGE_IPV6[1]];
const POOL2_IPV6: [&str; 1] = [EDGE_IPV6[2]];

/// A lab scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Scenario {
    /// Edge pool 1 failed: SIP and XMPP federation moved to edgepool2, fepool1
    /// survived and uses edgepool2 for media.
    #[default]
    EdgeFailover,
    /// As `EdgeFailover`, and fepool1's users were failed over to fepool2.
    EdgeAndFrontEndFailover,
    /// Only XMPP federation moved to edgepool2; its SRV record was lost.
    XmppOnly,
    /// Everything is already back on edgepool1: the plan has nothing to do.
    AlreadyFailedBack,
    /// As `EdgeFailover` on a dual-stack deployment: every Edge machine has an
    /// external IPv6 address too, and the Access Edge and XMPP names have AAAA
    /// sets, which the failover pointed at edgepool2.
    DualStack,
    /// As `EdgeFailover` with one XMPP SRV record per Edge pool (the XMPP
    /// failover page's advice): `xmpp.contoso.com` resolves to edgepool1,
    /// `xmpp2.contoso.com` to edgepool2, and the failover gave edgepool2's
    /// record the highest priority.
    XmppSrvPerPool,
    /// Nothing failed: federation, XMPP and Site1's media on edgepool1, every
    /// service running — where a failover (`plan --failover`) starts. The
    /// files are those of `AlreadyFailedBack`: a failback's end is a healthy
    /// deployment.
    Healthy,
    /// As `EdgeFailover` with a Director pool, `dir1.contoso.com` in Site1, as
    /// edgepool1's next hop: the runbook neither touches nor judges it.
    DirectorNextHop,
}

/// The scenario name is not one of [`Scenario::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown lab scenario `{0}` (one of: edge-failover, edge-and-front-end-failover, xmpp-only, already-failed-back, dual-stack, xmpp-srv-per-pool, healthy, director-next-hop)"
)]
pub struct UnknownScenario(pub String);

impl Scenario {
    pub const ALL: [Self; 8] = [
        Self::EdgeFailover,
        Self::EdgeAndFrontEndFailover,
        Self::XmppOnly,
        Self::AlreadyFailedBack,
        Self::DualStack,
        Self::XmppSrvPerPool,
        Self::Healthy,
        Self::DirectorNextHop,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::EdgeFailover => "edge-failover",
            Self::EdgeAndFrontEndFailover => "edge-and-front-end-failover",
            Self::XmppOnly => "xmpp-only",
            Self::AlreadyFailedBack => "already-failed-back",
            Self::DualStack => "dual-stack",
            Self::XmppSrvPerPool => "xmpp-srv-per-pool",
            Self::Healthy => "healthy",
            Self::DirectorNextHop => "director-next-hop",
        }
    }

    /// What the scenario simulates, in a line (`failback lab scenarios`).
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Self::EdgeFailover => {
                "SIP federation and XMPP failed over from edgepool1 (Site1) to edgepool2 (Site2)"
            }
            Self::EdgeAndFrontEndFailover => {
                "as edge-failover, and fepool1's users failed over to fepool2"
            }
            Self::XmppOnly => "only the XMPP federation route failed over",
            Self::AlreadyFailedBack => "everything is back home: the plan has nothing to do",
            Self::DualStack => {
                "as edge-failover on a dual-stack deployment: AAAA sets beside the A sets"
            }
            Self::XmppSrvPerPool => {
                "as edge-failover with one XMPP SRV record per Edge pool, edgepool2's on top"
            }
            Self::Healthy => "nothing failed: where a failover (`plan --failover`) starts",
            Self::DirectorNextHop => {
                "as edge-failover with a Director pool as edgepool1's next hop"
            }
        }
    }
}

impl FromStr for Scenario {
    type Err = UnknownScenario;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| UnknownScenario(s.to_owned()))
    }
}

/// The site count asked of [`files_with_sites`] is outside `2..=MAX_LAB_SITES`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a lab has from 2 to 10000 sites (Site1 and Site2, then bystanders), not `{0}`")]
pub struct SiteCount(pub u32);

/// A bystander site (`k` ≥ 3): its Edge machine's (FQDN, internal IP, external IP).
fn bystander_edge(k: u32) -> (String, String, String) {
    let (hi, lo) = (k >> 8, k & 0xff);
    (
        format!("edge-site{k}.contoso.com"),
        format!("10.{}.{lo}.10", 64 + hi),
        format!("100.{}.{lo}.10", 64 + hi),
    )
}

/// A bystander site's Front End machine's (FQDN, IP).
fn bystander_front_end(k: u32) -> (String, String) {
    let (hi, lo) = (k >> 8, k & 0xff);
    (
        format!("fe{k}.contoso.com"),
        format!("10.{}.{lo}.20", 64 + hi),
    )
}

/// The bystander sites of a lab of `sites` sites.
fn bystanders(sites: u32) -> std::ops::RangeInclusive<u32> {
    (LAB_SITES + 1)..=sites
}

/// What differs between scenarios.
struct Shape {
    federation_on_pool2: bool,
    fepool1_media_pool2: bool,
    edgepool1_next_hop_fepool2: bool,
    pool1_running: bool,
    pool1_replica_version: u64,
    pool1_setup_version: Option<u64>,
    /// (site, federation route, xmpp route)
    routes: [(&'static str, Option<&'static str>, Option<&'static str>); 2],
    sip_a_pool2: bool,
    xmpp_a_pool2: bool,
    xmpp_srv: bool,
    fepool1_failed_over: bool,
    /// Every Edge machine has an external IPv6 address, and the zone AAAA sets.
    ipv6: bool,
    /// An XMPP SRV record per pool: edgepool2's `xmpp2.contoso.com` at priority
    /// 10, `xmpp.contoso.com` at 20.
    xmpp_srv_per_pool: bool,
    /// A Director pool in Site1, edgepool1's next hop.
    director: bool,
    /// The number of sites: Site1, Site2 and the bystanders after them.
    sites: u32,
}

const POOL1_ID: &str = "EdgeServer:edgepool1.contoso.com";
const POOL2_ID: &str = "EdgeServer:edgepool2.contoso.com";

fn shape(s: Scenario) -> Shape {
    let failover = Shape {
        federation_on_pool2: true,
        fepool1_media_pool2: true,
        edgepool1_next_hop_fepool2: false,
        pool1_running: false,
        pool1_replica_version: 6,
        pool1_setup_version: Some(5),
        routes: [
            ("Site1", None, None),
            ("Site2", Some(POOL2_ID), Some(POOL2_ID)),
        ],
        sip_a_pool2: true,
        xmpp_a_pool2: true,
        xmpp_srv: true,
        fepool1_failed_over: false,
        ipv6: false,
        xmpp_srv_per_pool: false,
        director: false,
        sites: LAB_SITES,
    };
    let normal = Shape {
        federation_on_pool2: false,
        fepool1_media_pool2: false,
        edgepool1_next_hop_fepool2: false,
        pool1_running: true,
        pool1_replica_version: LAB_VERSION,
        pool1_setup_version: Some(LAB_VERSION),
        routes: [
            ("Site1", Some(POOL1_ID), Some(POOL1_ID)),
            ("Site2", Some(POOL1_ID), Some(POOL1_ID)),
        ],
        sip_a_pool2: false,
        xmpp_a_pool2: false,
        xmpp_srv: true,
        fepool1_failed_over: false,
        ipv6: false,
        xmpp_srv_per_pool: false,
        director: false,
        sites: LAB_SITES,
    };
    match s {
        Scenario::EdgeFailover => failover,
        Scenario::EdgeAndFrontEndFailover => Shape {
            edgepool1_next_hop_fepool2: true,
            fepool1_failed_over: true,
            ..failover
        },
        Scenario::XmppOnly => Shape {
            routes: [
                ("Site1", Some(POOL1_ID), None),
                ("Site2", Some(POOL1_ID), Some(POOL2_ID)),
            ],
            xmpp_a_pool2: true,
            xmpp_srv: false,
            ..normal
        },
        Scenario::AlreadyFailedBack | Scenario::Healthy => normal,
        Scenario::DirectorNextHop => Shape {
            director: true,
            ..failover
        },
        Scenario::DualStack => Shape {
            ipv6: true,
            ..failover
        },
        Scenario::XmppSrvPerPool => Shape {
            xmpp_a_pool2: false,
            xmpp_srv_per_pool: true,
            ..failover
        },
    }
}

/// Every file of the lab for `scenario`, as (path relative to the lab directory,
/// contents), sorted by path. The CLI adds `failback.toml` (the environment file)
/// and creates the empty `writes/` directory.
#[must_use]
pub fn files(scenario: Scenario) -> Vec<(String, Vec<u8>)> {
    files_of(&shape(scenario))
}

/// As [`files`], grown to `sites` sites by bystanders (the module doc).
///
/// # Errors
/// [`SiteCount`] when `sites` is outside `2..=MAX_LAB_SITES`.
pub fn files_with_sites(
    scenario: Scenario,
    sites: u32,
) -> Result<Vec<(String, Vec<u8>)>, SiteCount> {
    files_generated(
        scenario,
        Variation {
            sites,
            ..Variation::default()
        },
    )
}

/// The shapes a generated lab adds to a scenario's; each is also a scenario of
/// its own on the failed-over lab (`dual-stack`, `xmpp-srv-per-pool`,
/// `director-next-hop`). Property tests combine them on any scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variation {
    /// The number of sites: Site1, Site2 and the bystanders after them.
    pub sites: u32,
    /// Every Edge machine has an external IPv6 address, and the zone AAAA
    /// sets beside the A sets.
    pub dual_stack: bool,
    /// An XMPP SRV record per Edge pool (`xmpp.` for edgepool1, `xmpp2.` for
    /// edgepool2), the pool the XMPP route names at the higher priority.
    pub xmpp_srv_per_pool: bool,
    /// A Director pool in Site1, edgepool1's next hop.
    pub director: bool,
}

impl Default for Variation {
    fn default() -> Self {
        Self {
            sites: LAB_SITES,
            dual_stack: false,
            xmpp_srv_per_pool: false,
            director: false,
        }
    }
}

/// As [`files`], with `variation`'s shapes added to the scenario's own.
///
/// # Errors
/// [`SiteCount`] when `variation.sites` is outside `2..=MAX_LAB_SITES`.
pub fn files_generated(
    scenario: Scenario,
    variation: Variation,
) -> Result<Vec<(String, Vec<u8>)>, SiteCount> {
    let Variation {
        sites,
        dual_stack,
        xmpp_srv_per_pool,
        director,
    } = variation;
    if !(LAB_SITES..=MAX_LAB_SITES).contains(&sites) {
        return Err(SiteCount(sites));
    }
    let base = shape(scenario);
    Ok(files_of(&Shape {
        sites,
        ipv6: base.ipv6 || dual_stack,
        xmpp_srv_per_pool: base.xmpp_srv_per_pool || xmpp_srv_per_pool,
        // One SRV record per pool replaces the single one; `xmpp.` keeps
        // edgepool1's addresses, `xmpp2.` has edgepool2's.
        xmpp_a_pool2: base.xmpp_a_pool2 && !xmpp_srv_per_pool,
        director: base.director || director,
        ..base
    }))
}

fn files_of(sh: &Shape) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        (
            "dns/contoso.com.zone".to_owned(),
            zone_file(sh).into_bytes(),
        ),
        ("network/reachability.json".to_owned(), reachability(sh)),
        ("pools/pools.json".to_owned(), pools(sh)),
        ("servers/servers.json".to_owned(), servers(sh)),
        ("store/store.json".to_owned(), store(sh)),
        (
            "store/topology.xml".to_owned(),
            topology_xml(sh).into_bytes(),
        ),
    ];
    out.sort();
    out
}

/// The published topology of `scenario` (`store/topology.xml`).
#[must_use]
pub fn topology(scenario: Scenario) -> String {
    topology_xml(&shape(scenario))
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(value).unwrap_or_default();
    v.push(b'\n');
    v
}

#[derive(Serialize)]
struct StoreFile {
    version: u64,
    enabled: bool,
    active_master: Option<String>,
    file_transfer_agents: Vec<String>,
    sites: Vec<SiteEntry>,
    replicas: Vec<ReplicaEntry>,
}

#[derive(Serialize)]
struct SiteEntry {
    name: String,
    federation_route: Option<String>,
    xmpp_federation_route: Option<String>,
}

#[derive(Serialize)]
struct ReplicaEntry {
    fqdn: String,
    version: u64,
    last_update: Option<String>,
}

fn store(sh: &Shape) -> Vec<u8> {
    let replica = |fqdn: &str, version: u64| ReplicaEntry {
        fqdn: fqdn.to_owned(),
        version,
        last_update: Some(format!("v{version}")),
    };
    json(&StoreFile {
        version: LAB_VERSION,
        enabled: true,
        active_master: Some("fe2.contoso.com".to_owned()),
        file_transfer_agents: vec!["fe2.contoso.com".to_owned()],
        sites: sh
            .routes
            .iter()
            .map(|(name, fed, xmpp)| ((*name).to_owned(), *fed, *xmpp))
            .chain(bystanders(sh.sites).map(|k| {
                let (_, fed, xmpp) = sh.routes[1];
                (format!("Site{k}"), fed, xmpp)
            }))
            .map(|(name, fed, xmpp)| SiteEntry {
                name,
                federation_route: fed.map(str::to_owned),
                xmpp_federation_route: xmpp.map(str::to_owned),
            })
            .collect(),
        replicas: [
            replica(EDGE1.0, sh.pool1_replica_version),
            replica(EDGE2.0, sh.pool1_replica_version),
            replica(EDGE3.0, LAB_VERSION),
            replica("fe1.contoso.com", LAB_VERSION),
            replica("fe2.contoso.com", LAB_VERSION),
        ]
        .into_iter()
        .chain(bystanders(sh.sites).flat_map(|k| {
            [
                replica(&bystander_edge(k).0, LAB_VERSION),
                replica(&bystander_front_end(k).0, LAB_VERSION),
            ]
        }))
        .collect(),
    })
}

#[derive(Serialize)]
struct ServersFile {
    machines: Vec<MachineEntry>,
}

#[derive(Serialize)]
struct MachineEntry {
    fqdn: String,
    services: Vec<ServiceEntry>,
    setup_version: Option<u64>,
}

#[derive(Serialize)]
struct ServiceEntry {
    name: String,
    state: String,
}

fn servers(sh: &Shape) -> Vec<u8> {
    let edge_services = |running: bool| {
        [
            "RTCMRAUTH",
            "RTCMEDIARELAY",
            "RTCSRV",
            "RTCXMPPTGWPX",
            "RTCREPLICA",
        ]
        .iter()
        .map(|n| ServiceEntry {
            name: (*n).to_owned(),
            state: if running { "running" } else { "stopped" }.to_owned(),
        })
        .collect()
    };
    let machine = |fqdn: &str, running: bool, setup: Option<u64>| MachineEntry {
        fqdn: fqdn.to_owned(),
        services: edge_services(running),
        setup_version: setup,
    };
    json(&ServersFile {
        machines: [
            machine(EDGE1.0, sh.pool1_running, sh.pool1_setup_version),
            machine(EDGE2.0, sh.pool1_running, sh.pool1_setup_version),
            machine(EDGE3.0, true, Some(LAB_VERSION)),
        ]
        .into_iter()
        .chain(bystanders(sh.sites).map(|k| machine(&bystander_edge(k).0, true, Some(LAB_VERSION))))
        .collect(),
    })
}

#[derive(Serialize)]
struct ReachabilityFile {
    endpoints: Vec<Endpoint>,
}

/// An endpoint as the firewall lets it through (`state`), and who listens
/// behind it: the lab probe refuses the connection while that service is not
/// running (docs/lab-files.md).
#[derive(Serialize)]
struct Endpoint {
    host: String,
    port: u16,
    state: String,
    xmpp: bool,
    machine: String,
    service: String,
}

/// The Edge service that listens on each external port the lab lists: the
/// Access Edge on 5061, the XMPP gateway proxy on 5269.
const LISTENERS: [(u16, &str, bool); 2] = [(5061, "RTCSRV", false), (5269, "RTCXMPPTGWPX", true)];

fn reachability(sh: &Shape) -> Vec<u8> {
    let ipv6: &[&str] = if sh.ipv6 { &EDGE_IPV6 } else { &[] };
    let machines = [EDGE1.0, EDGE2.0, EDGE3.0];
    let endpoints = [EDGE1, EDGE2, EDGE3]
        .iter()
        .map(|(fqdn, _, ip)| ((*ip).to_owned(), (*fqdn).to_owned()))
        .chain(
            ipv6.iter()
                .zip(machines)
                .map(|(ip, fqdn)| ((*ip).to_owned(), fqdn.to_owned())),
        )
        .chain(bystanders(sh.sites).map(|k| {
            let (fqdn, _, ip) = bystander_edge(k);
            (ip, fqdn)
        }))
        .flat_map(|(ip, machine)| {
            LISTENERS.map(|(port, service, xmpp)| Endpoint {
                host: ip.clone(),
                port,
                // The firewall lets both ports through to every Access Edge
                // IP; whether a port answers is the listener's to say.
                state: "open".to_owned(),
                xmpp,
                machine: machine.clone(),
                service: service.to_owned(),
            })
        })
        .collect();
    json(&ReachabilityFile { endpoints })
}

#[derive(Serialize)]
struct PoolsFile {
    pools: Vec<PoolEntry>,
}

#[derive(Serialize)]
struct PoolEntry {
    fqdn: String,
    state: String,
    backup_pool: Option<String>,
    failover_fqdn: Option<String>,
    online: bool,
}

fn pools(sh: &Shape) -> Vec<u8> {
    let fepool1 = if sh.fepool1_failed_over {
        PoolEntry {
            fqdn: "fepool1.contoso.com".to_owned(),
            state: "failed-over".to_owned(),
            backup_pool: Some("fepool2.contoso.com".to_owned()),
            failover_fqdn: Some("fepool1.contoso.com".to_owned()),
            online: true,
        }
    } else {
        PoolEntry {
            fqdn: "fepool1.contoso.com".to_owned(),
            state: "normal".to_owned(),
            backup_pool: None,
            failover_fqdn: None,
            online: true,
        }
    };
    let normal = |fqdn: String| PoolEntry {
        fqdn,
        state: "normal".to_owned(),
        backup_pool: None,
        failover_fqdn: None,
        online: true,
    };
    json(&PoolsFile {
        pools: [fepool1, normal("fepool2.contoso.com".to_owned())]
            .into_iter()
            .chain(bystanders(sh.sites).map(|k| normal(format!("fepool{k}.contoso.com"))))
            .collect(),
    })
}

fn zone_file(sh: &Shape) -> String {
    let mut records: Vec<(String, &str, String)> = Vec::new();
    let a = |name: &str, ips: &[&str], records: &mut Vec<(String, &str, String)>| {
        for ip in ips {
            records.push((format!("{name}."), "A", (*ip).to_owned()));
        }
    };
    let pool_ips = |pool2: bool| -> Vec<&str> {
        if pool2 {
            POOL2_IPS.to_vec()
        } else {
            POOL1_IPS.to_vec()
        }
    };
    a("ns1.contoso.com", &["131.107.155.2"], &mut records);
    a("sip.contoso.com", &pool_ips(sh.sip_a_pool2), &mut records);
    a("sip2.contoso.com", &POOL2_IPS, &mut records);
    a("xmpp.contoso.com", &pool_ips(sh.xmpp_a_pool2), &mut records);
    if sh.ipv6 {
        let pool_ipv6 = |pool2: bool| {
            if pool2 {
                &POOL2_IPV6[..]
            } else {
                &POOL1_IPV6[..]
            }
        };
        for (name, ips) in [
            ("sip.contoso.com", pool_ipv6(sh.sip_a_pool2)),
            ("sip2.contoso.com", &POOL2_IPV6[..]),
            ("xmpp.contoso.com", pool_ipv6(sh.xmpp_a_pool2)),
            (
                "xmpp2.contoso.com",
                if sh.xmpp_srv_per_pool {
                    &POOL2_IPV6[..]
                } else {
                    &[]
                },
            ),
        ] {
            for ip in ips {
                records.push((format!("{name}."), "AAAA", (*ip).to_owned()));
            }
        }
    }
    for k in bystanders(sh.sites) {
        let ip = bystander_edge(k).2;
        a(&format!("sip{k}.contoso.com"), &[&ip], &mut records);
    }
    records.push((
        "_sip._tls.contoso.com.".to_owned(),
        "SRV",
        "0 0 443 sip.contoso.com.".to_owned(),
    ));
    records.push((
        "_sipfederationtls._tcp.contoso.com.".to_owned(),
        "SRV",
        "0 0 5061 sip.contoso.com.".to_owned(),
    ));
    if sh.xmpp_srv_per_pool {
        a("xmpp2.contoso.com", &POOL2_IPS, &mut records);
        // The record of the pool Site2's XMPP route names comes first.
        let (first, second) = if sh.routes[1].2 == Some(POOL2_ID) {
            ("xmpp2", "xmpp")
        } else {
            ("xmpp", "xmpp2")
        };
        for data in [
            format!("10 0 5269 {first}.contoso.com."),
            format!("20 0 5269 {second}.contoso.com."),
        ] {
            records.push((
                "_xmpp-server._tcp.contoso.com.".to_owned(),
                "SRV",
                data.to_owned(),
            ));
        }
    } else if sh.xmpp_srv {
        records.push((
            "_xmpp-server._tcp.contoso.com.".to_owned(),
            "SRV",
            "0 0 5269 xmpp.contoso.com.".to_owned(),
        ));
    }
    records.sort();
    let mut z = String::new();
    z.push_str("$ORIGIN contoso.com.\n$TTL 3600\n");
    z.push_str("contoso.com. 3600 IN SOA ns1.contoso.com. hostmaster.contoso.com. 2026112001 3600 600 604800 300\n");
    z.push_str("contoso.com. 3600 IN NS ns1.contoso.com.\n");
    for (name, t, data) in records {
        let _ = writeln!(z, "{name} 3600 IN {t} {data}");
    }
    z
}

fn net(side: &str, ip: &str) -> String {
    format!(
        "        <NetInterface InterfaceSide=\"{side}\" InterfaceNumber=\"1\" IPAddress=\"{ip}\" />\n"
    )
}

fn edge_machine(
    ordinal: u32,
    (fqdn, internal, external): (&str, &str, &str),
    ipv6: Option<&str>,
) -> String {
    format!(
        "      <Machine OrdinalInCluster=\"{ordinal}\" Fqdn=\"{fqdn}\">\n{}{}{}      </Machine>\n",
        net("Internal", internal),
        net("External", external),
        ipv6.map(|ip| net("External", ip)).unwrap_or_default()
    )
}

/// The `Registrar` service `site`/`instance` on cluster `site`-`cluster`: a
/// Front End pool's, or with `director` a Director pool's.
fn registrar_service(site: u32, instance: u32, cluster: u32, director: bool) -> String {
    format!(
        r#"    <Service RoleVersion="2" ServiceVersion="7" Type="Microsoft.Rtc.Management.Deploy.Internal.ServiceRoles.RegistrarService">
      <ServiceId SiteId="{site}" RoleName="Registrar" Instance="{instance}" />
      <DependsOn />
      <InstalledOn>
        <ClusterId SiteId="{site}" Number="{cluster}" />
      </InstalledOn>
      <Ports xmlns="urn:schema:Microsoft.Rtc.Management.Deploy.ServiceRoles.2008">
        <Port Owner="urn:component:Registrar" Usage="SipServer" InterfaceSide="Primary" InterfaceNumber="1" Port="5061" Protocol="Mtls" UrlPath="/" AuthorizesRequests="true" GruuType="HomeServer" />
      </Ports>
      <RegistrarService IsDirector="{director}" xmlns="urn:schema:Microsoft.Rtc.Management.Deploy.ServiceRoles.2008" />
    </Service>
"#
    )
}

fn edge_service(
    site: u32,
    (registrar_site, registrar_instance): (u32, u32),
    access_fqdn: &str,
    federation: bool,
) -> String {
    let federation_port = if federation {
        format!(
            "        <Port Owner=\"urn:component:AccessEdge\" Usage=\"SipServer\" InterfaceSide=\"External\" InterfaceNumber=\"1\" Port=\"5061\" Protocol=\"Mtls\" UrlPath=\"/\" AuthorizesRequests=\"false\" ConfiguredFqdn=\"{access_fqdn}\" />\n"
        )
    } else {
        String::new()
    };
    format!(
        r#"    <Service RoleVersion="2" ServiceVersion="7">
      <ServiceId SiteId="{site}" RoleName="EdgeServer" Instance="1" />
      <DependsOn>
        <Dependency Usage="Default">
          <ServiceId SiteId="{registrar_site}" RoleName="Registrar" Instance="{registrar_instance}" />
        </Dependency>
      </DependsOn>
      <InstalledOn>
        <ClusterId SiteId="{site}" Number="2" />
      </InstalledOn>
      <Ports xmlns="urn:schema:Microsoft.Rtc.Management.Deploy.ServiceRoles.2008">
        <Port Owner="urn:component:AccessEdge" Usage="SipServer" InterfaceSide="Internal" InterfaceNumber="1" Port="5061" Protocol="Mtls" UrlPath="/" AuthorizesRequests="false" />
        <Port Owner="urn:component:AccessEdge" Usage="SipClient" InterfaceSide="External" InterfaceNumber="1" Port="5061" Protocol="Tls" UrlPath="/" AuthorizesRequests="false" ConfiguredFqdn="{access_fqdn}" />
{federation_port}        <Port Owner="urn:component:DataEdge" Usage="PsomServer" InterfaceSide="Internal" InterfaceNumber="1" Port="8057" Protocol="Mtls" UrlPath="/" AuthorizesRequests="false" />
        <Port Owner="urn:component:MediaRelayEdge" Usage="TURNServer" InterfaceSide="External" InterfaceNumber="1" Port="443" Protocol="Tcp" UrlPath="/" AuthorizesRequests="false" ConfiguredFqdn="av{site}.contoso.com" />
        <Port Owner="urn:component:XmppFederationProxy" Usage="XmppServer" InterfaceSide="External" InterfaceNumber="1" Port="5269" Protocol="Tls" UrlPath="/" AuthorizesRequests="true" />
        <Port Owner="urn:component:XmppFederationProxy" Usage="XptServer" InterfaceSide="Internal" InterfaceNumber="1" Port="23456" Protocol="Mtls" UrlPath="/XmppFederation/" AuthorizesRequests="false" />
      </Ports>
    </Service>
"#
    )
}

fn front_end_services(site: u32, media_site: u32) -> String {
    let registrar = registrar_service(site, 1, 1, false);
    format!(
        r#"{registrar}    <Service RoleVersion="1" ServiceVersion="7" Type="Microsoft.Rtc.Management.Deploy.Internal.ServiceRoles.ConfService">
      <ServiceId SiteId="{site}" RoleName="ConfServices" Instance="1" />
      <DependsOn>
        <Dependency Usage="Default">
          <ServiceId SiteId="{media_site}" RoleName="EdgeServer" Instance="1" />
        </Dependency>
      </DependsOn>
      <InstalledOn>
        <ClusterId SiteId="{site}" Number="1" />
      </InstalledOn>
      <Ports xmlns="urn:schema:Microsoft.Rtc.Management.Deploy.ServiceRoles.2008">
        <Port Owner="urn:component:AVConf" Usage="SipServer" InterfaceSide="Primary" InterfaceNumber="1" Port="5063" Protocol="Mtls" UrlPath="/" AuthorizesRequests="false" GruuType="audio-video" />
      </Ports>
    </Service>
    <Service RoleVersion="1" ServiceVersion="7">
      <ServiceId SiteId="{site}" RoleName="MediationServer" Instance="1" />
      <DependsOn>
        <Dependency Usage="Default">
          <ServiceId SiteId="{site}" RoleName="Registrar" Instance="1" />
        </Dependency>
        <Dependency Usage="Default">
          <ServiceId SiteId="{media_site}" RoleName="EdgeServer" Instance="1" />
        </Dependency>
      </DependsOn>
      <InstalledOn>
        <ClusterId SiteId="{site}" Number="1" />
      </InstalledOn>
      <Ports xmlns="urn:schema:Microsoft.Rtc.Management.Deploy.ServiceRoles.2008">
        <Port Owner="urn:component:Mediation" Usage="SipServer" InterfaceSide="Primary" InterfaceNumber="1" Port="5070" Protocol="Mtls" UrlPath="/" AuthorizesRequests="true" GruuType="MediationServer" />
      </Ports>
    </Service>
"#
    )
}

fn topology_xml(sh: &Shape) -> String {
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str("<!-- contoso.com lab topology, as Get-CsTopology -AsXml writes it -->\n");
    x.push_str("<Topology Signature=\"3b1f6c7e-0d5a-4c1e-9a57-7a0c2e6b1d42\" xmlns=\"urn:schema:Microsoft.Rtc.Management.Deploy.Topology.2008\">\n");
    x.push_str("  <InternalDomains AllowAllDomains=\"false\" DefaultDomain=\"contoso.com\">\n    <InternalDomain Name=\"contoso.com\" Authoritative=\"false\" AllowSubDomains=\"false\" />\n  </InternalDomains>\n");
    x.push_str("  <Sites>\n");
    let sites = [
        (1, "Site1".to_owned(), "Redmond"),
        (2, "Site2".to_owned(), "Dublin"),
    ]
    .into_iter()
    .chain(bystanders(sh.sites).map(|k| (k, format!("Site{k}"), "Elsewhere")));
    for (id, name, loc) in sites {
        let _ = writeln!(
            x,
            "    <CentralSite SiteId=\"{id}\">\n      <Name>{name}</Name>\n      <Location>{loc}</Location>\n    </CentralSite>"
        );
    }
    x.push_str("  </Sites>\n  <Clusters>\n");
    let front_ends = [
        (1, ("fe1.contoso.com".to_owned(), "172.25.33.20".to_owned())),
        (2, ("fe2.contoso.com".to_owned(), "172.25.34.20".to_owned())),
    ]
    .into_iter()
    .chain(bystanders(sh.sites).map(|k| (k, bystander_front_end(k))));
    for (site, (fe, fe_ip)) in front_ends {
        let _ = write!(
            x,
            "    <Cluster RequiresReplication=\"true\" RequiresSetup=\"true\" Fqdn=\"fepool{site}.contoso.com\">\n      <ClusterId SiteId=\"{site}\" Number=\"1\" />\n      <Machine OrdinalInCluster=\"1\" Fqdn=\"{fe}\">\n{}      </Machine>\n    </Cluster>\n",
            net("Primary", &fe_ip)
        );
        let _ = write!(
            x,
            "    <Cluster RequiresReplication=\"true\" RequiresSetup=\"true\" Fqdn=\"edgepool{site}.contoso.com\">\n      <ClusterId SiteId=\"{site}\" Number=\"2\" />\n"
        );
        let ipv6 = |i: usize| sh.ipv6.then_some(EDGE_IPV6[i]);
        match site {
            1 => {
                x.push_str(&edge_machine(1, EDGE1, ipv6(0)));
                x.push_str(&edge_machine(2, EDGE2, ipv6(1)));
            }
            2 => x.push_str(&edge_machine(1, EDGE3, ipv6(2))),
            k => {
                let (fqdn, internal, external) = bystander_edge(k);
                x.push_str(&edge_machine(1, (&fqdn, &internal, &external), None));
            }
        }
        x.push_str("    </Cluster>\n");
    }
    if sh.director {
        let _ = write!(
            x,
            "    <Cluster RequiresReplication=\"true\" RequiresSetup=\"true\" Fqdn=\"dir1.contoso.com\">\n      <ClusterId SiteId=\"1\" Number=\"3\" />\n      <Machine OrdinalInCluster=\"1\" Fqdn=\"director1.contoso.com\">\n{}      </Machine>\n    </Cluster>\n",
            net("Primary", "172.25.33.30")
        );
    }
    x.push_str("  </Clusters>\n  <Services>\n");
    x.push_str(&front_end_services(
        1,
        if sh.fepool1_media_pool2 { 2 } else { 1 },
    ));
    x.push_str(&front_end_services(2, 2));
    if sh.director {
        x.push_str(&registrar_service(1, 2, 3, true));
    }
    // The next hop: (site, instance) of the Registrar edgepool1 depends on.
    let next_hop = if sh.director {
        (1, 2)
    } else if sh.edgepool1_next_hop_fepool2 {
        (2, 1)
    } else {
        (1, 1)
    };
    x.push_str(&edge_service(
        1,
        next_hop,
        "sip.contoso.com",
        !sh.federation_on_pool2,
    ));
    x.push_str(&edge_service(
        2,
        (2, 1),
        "sip2.contoso.com",
        sh.federation_on_pool2,
    ));
    for k in bystanders(sh.sites) {
        x.push_str(&front_end_services(k, k));
        x.push_str(&edge_service(
            k,
            (k, 1),
            &format!("sip{k}.contoso.com"),
            false,
        ));
    }
    for site in [1, 2].into_iter().chain(bystanders(sh.sites)) {
        let _ = write!(
            x,
            r#"    <Service RoleVersion="1" ServiceVersion="7">
      <ServiceId SiteId="{site}" RoleName="ManagementServices" Instance="2" />
      <DependsOn />
      <InstalledOn>
        <ClusterId SiteId="{site}" Number="2" />
      </InstalledOn>
      <Ports xmlns="urn:schema:Microsoft.Rtc.Management.Deploy.ServiceRoles.2008">
        <Port Owner="urn:component:ReplicationService" Usage="Replication" InterfaceSide="Internal" InterfaceNumber="1" Port="4443" Protocol="Https" UrlPath="/" AuthorizesRequests="false" />
      </Ports>
    </Service>
"#
        );
    }
    x.push_str("  </Services>\n</Topology>\n");
    x
}
