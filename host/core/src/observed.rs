//! What the plugins report, as plain Rust values.
//!
//! Each type mirrors one record, enum or variant of the plugin WIT package
//! (`failback:plugin@0.1.0`, `wit/plugin/*.wit`) field for field, so that the
//! runtime converts at the WIT edge with `From` and nothing else. Field names are
//! the WIT names in snake case. [`Observation`] gathers everything one observation
//! pass reads; [`crate::deployment`] checks it into the domain state the planner
//! and the policies work on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `dns.record-type`: the record types the failback touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Srv,
    Txt,
}

/// `dns.srv-data`: the data of an SRV record (RFC 2782); `target` is fully
/// qualified, without the final dot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrvData {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// `dns.record-data`: the data of one resource record. In JSON an object
/// tagged by its `type`, with named fields ([`RecordDataForm`]):
/// `{"type": "a", "address": "131.107.155.10"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "RecordDataForm", from = "RecordDataForm")]
pub enum RecordData {
    /// An IPv4 address in dotted-quad form.
    A(String),
    /// An IPv6 address in its canonical text form.
    Aaaa(String),
    /// A fully qualified name without the final dot.
    Cname(String),
    Srv(SrvData),
    /// The text of a TXT record, its strings joined.
    Txt(String),
}

/// The JSON form of [`RecordData`]: each case's value named.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RecordDataForm {
    A {
        address: String,
    },
    Aaaa {
        address: String,
    },
    Cname {
        target: String,
    },
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    Txt {
        text: String,
    },
}

impl From<RecordData> for RecordDataForm {
    fn from(data: RecordData) -> Self {
        match data {
            RecordData::A(address) => Self::A { address },
            RecordData::Aaaa(address) => Self::Aaaa { address },
            RecordData::Cname(target) => Self::Cname { target },
            RecordData::Srv(s) => Self::Srv {
                priority: s.priority,
                weight: s.weight,
                port: s.port,
                target: s.target,
            },
            RecordData::Txt(text) => Self::Txt { text },
        }
    }
}

impl From<RecordDataForm> for RecordData {
    fn from(form: RecordDataForm) -> Self {
        match form {
            RecordDataForm::A { address } => Self::A(address),
            RecordDataForm::Aaaa { address } => Self::Aaaa(address),
            RecordDataForm::Cname { target } => Self::Cname(target),
            RecordDataForm::Srv {
                priority,
                weight,
                port,
                target,
            } => Self::Srv(SrvData {
                priority,
                weight,
                port,
                target,
            }),
            RecordDataForm::Txt { text } => Self::Txt(text),
        }
    }
}

impl RecordData {
    /// The type of this record's data.
    #[must_use]
    pub fn record_type(&self) -> RecordType {
        match self {
            Self::A(_) => RecordType::A,
            Self::Aaaa(_) => RecordType::Aaaa,
            Self::Cname(_) => RecordType::Cname,
            Self::Srv(_) => RecordType::Srv,
            Self::Txt(_) => RecordType::Txt,
        }
    }
}

/// `dns.dns-record`: one resource record; `name` fully qualified, lower case,
/// without the final dot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRecord {
    pub name: String,
    pub ttl: u32,
    pub data: RecordData,
}

/// `management.topology-document`: the published topology as
/// `Get-CsTopology -AsXml` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyDocument {
    pub xml: String,
    pub version: u64,
    pub enabled: bool,
}

/// `management.site`: a site's routes as `Get-CsSite` shows them
/// (`EdgeServer:<edge pool fqdn>` identities).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// The site's name (`Site1`), as `Set-CsSite` takes it.
    pub site: String,
    pub federation_route: Option<String>,
    pub xmpp_federation_route: Option<String>,
}

/// `management.site-route` (0.3.0): one route of one site to set, as
/// `Set-CsSite` takes it; `None` clears the route.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteRoute {
    pub site: String,
    pub kind: RouteKind,
    /// `EdgeServer:<edge pool fqdn>`.
    pub identity: Option<String>,
}

impl Site {
    /// The route of `kind`.
    #[must_use]
    pub fn route(&self, kind: RouteKind) -> Option<&str> {
        match kind {
            RouteKind::Federation => self.federation_route.as_deref(),
            RouteKind::XmppFederation => self.xmpp_federation_route.as_deref(),
        }
    }
}

/// `management.route-kind`: which of a site's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteKind {
    /// `-FederationRoute`
    Federation,
    /// `-XmppFederationRoute`
    XmppFederation,
}

/// `management.store-status`: where the management store runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreStatus {
    /// `None` when the store is unavailable.
    pub active_master: Option<String>,
    pub file_transfer_agents: Vec<String>,
}

/// `management.replica-status`: one server's local replica of the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaStatus {
    pub fqdn: String,
    pub up_to_date: bool,
    pub last_update: Option<String>,
}

/// `servers.service-state`: a Windows service's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceState {
    Running,
    Stopped,
    StartPending,
    StopPending,
    Disabled,
}

/// `servers.service-status`: one Lync service on a machine.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceStatus {
    /// The service name (`RTCSRV`, `RTCMRAUTH`, ...).
    pub name: String,
    pub state: ServiceState,
}

/// What one server reports: its services and the topology version its local
/// setup last applied (`servers.read-machines`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineState {
    pub services: Vec<ServiceStatus>,
    pub setup_version: Option<u64>,
}

/// `servers.setup-report`: what local setup did on a machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupReport {
    /// The topology version setup applied from the local replica.
    pub applied_version: u64,
    pub log: String,
}

/// `probe.probe-kind`: what to do once the TCP connection is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeKind {
    Tcp,
    XmppServer,
}

/// `probe.probe-request`: one probe of `host`:`port`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeRequest {
    pub host: String,
    pub port: u16,
    pub kind: ProbeKind,
    pub timeout_ms: u32,
    /// For `xmpp-server`: the domain in the stream's `to` attribute.
    pub stream_to: Option<String>,
}

/// `probe.port-state`: what the TCP connect found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortState {
    Open,
    Closed,
    Filtered,
}

/// `probe.xmpp-answer`: what came back after an XMPP stream open.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmppAnswer {
    pub stream_header: bool,
    pub stream_id: Option<String>,
    pub features: bool,
    pub starttls: bool,
    pub other: Option<String>,
}

/// `probe.probe-report`: the answer to one probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeReport {
    pub state: PortState,
    /// Present for an `xmpp-server` probe of an open port.
    pub xmpp: Option<XmppAnswer>,
    /// One line a person can read.
    pub detail: String,
}

/// `pools.pool-state`: where a Front End pool's users are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolState {
    Normal,
    FailedOver,
    FailingBack,
}

/// `pools.pool-status`: one Front End pool's failover state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolStatus {
    pub fqdn: String,
    pub state: PoolState,
    pub backup_pool: Option<String>,
    /// The `-PoolFqdn` the failover was run with.
    pub failover_fqdn: Option<String>,
    pub online: bool,
}

/// One probe and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub request: ProbeRequest,
    pub report: ProbeReport,
}

/// Everything one observation pass gathers through the plugins.
///
/// The runtime fills it: `zone` from the environment file, `topology`, `sites`,
/// `store`, `replicas` from the management store, `dns` from `list-records(zone)`,
/// `services` from `list-services` on every Edge machine of the topology, `probes`
/// for every request of [`crate::deployment::probe_targets`], `pools` from
/// `list-pools`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    /// The external zone's apex (`contoso.com`).
    pub zone: String,
    pub topology: TopologyDocument,
    pub sites: Vec<Site>,
    pub store: StoreStatus,
    pub replicas: Vec<ReplicaStatus>,
    /// Every record of the zone.
    pub dns: Vec<DnsRecord>,
    /// The services of each machine, by machine FQDN.
    pub services: BTreeMap<String, Vec<ServiceStatus>>,
    /// The topology version local setup last applied, by machine FQDN, as
    /// `servers.setup-version(machine)` reports it. A machine where setup never
    /// ran (`none`), or that is absent here, counts as version 0: not current.
    pub setup_versions: BTreeMap<String, u64>,
    pub probes: Vec<Probe>,
    pub pools: Vec<PoolStatus>,
}

/// A value a plugin reported that is not what its place holds: found where it
/// enters ([`Observation::check`]), before anything is planned or shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: `{}` is not {expected}", crate::text::printable(.value))]
pub struct ObservationError {
    /// Where the value was (`the A record `sip.contoso.com``).
    pub place: String,
    pub value: String,
    /// What it must be (`an IPv4 address`).
    pub expected: &'static str,
}

impl Observation {
    /// Check what the plugins reported where it enters: record names are DNS
    /// names, addresses parse, the names of machines, pools and records'
    /// targets are host names, and sites' names are plain text. (The topology
    /// document is checked when it is read, [`crate::topology::Topology::parse`].)
    ///
    /// # Errors
    /// The first value out of place, naming where it was.
    pub fn check(&self) -> Result<(), ObservationError> {
        use crate::text::{is_dns_name, is_host_name, is_plain_name};
        fn need(
            ok: bool,
            place: impl FnOnce() -> String,
            value: &str,
            expected: &'static str,
        ) -> Result<(), ObservationError> {
            if ok {
                Ok(())
            } else {
                Err(ObservationError {
                    place: place(),
                    value: value.to_owned(),
                    expected,
                })
            }
        }
        const HOST: &str = "a DNS host name";
        // The zone is shown and queried by its name: a captured state can say
        // anything (the environment file names it when plugins observe).
        let zone = self.zone.strip_suffix('.').unwrap_or(&self.zone);
        need(
            is_dns_name(zone),
            || "the zone".to_owned(),
            &self.zone,
            "a DNS name",
        )?;
        for record in &self.dns {
            let name = crate::text::printable(&record.name);
            need(
                is_dns_name(&record.name),
                || "a record name of the zone".to_owned(),
                &record.name,
                "a DNS name",
            )?;
            let place = || format!("the {:?} record `{name}`", record.data.record_type());
            match &record.data {
                RecordData::A(ip) => need(
                    ip.parse::<std::net::Ipv4Addr>().is_ok(),
                    place,
                    ip,
                    "an IPv4 address",
                )?,
                RecordData::Aaaa(ip) => need(
                    ip.parse::<std::net::Ipv6Addr>().is_ok(),
                    place,
                    ip,
                    "an IPv6 address",
                )?,
                RecordData::Cname(target) => need(is_host_name(target), place, target, HOST)?,
                RecordData::Srv(srv) => need(
                    srv.target == "." || is_host_name(&srv.target),
                    place,
                    &srv.target,
                    HOST,
                )?,
                RecordData::Txt(_) => {}
            }
        }
        for site in &self.sites {
            need(
                is_plain_name(&site.site),
                || "a site's name".to_owned(),
                &site.site,
                "a site name (no control characters or quotes)",
            )?;
        }
        let hosts = self
            .replicas
            .iter()
            .map(|r| ("a replica", &r.fqdn))
            .chain(self.services.keys().map(|m| ("a machine", m)))
            .chain(self.setup_versions.keys().map(|m| ("a machine", m)))
            .chain(self.pools.iter().map(|p| ("a Front End pool", &p.fqdn)))
            .chain(self.pools.iter().filter_map(|p| {
                p.failover_fqdn
                    .as_ref()
                    .map(|f| ("a pool's failover FQDN", f))
            }))
            .chain(
                self.pools
                    .iter()
                    .filter_map(|p| p.backup_pool.as_ref().map(|b| ("a backup pool", b))),
            )
            .chain(
                self.store
                    .active_master
                    .iter()
                    .map(|m| ("the store's active master", m)),
            );
        for (what, fqdn) in hosts {
            need(is_host_name(fqdn), || format!("{what}'s FQDN"), fqdn, HOST)?;
        }
        Ok(())
    }
}
/// The record type as a zone file writes it.
#[must_use]
pub fn rtype_name(t: RecordType) -> &'static str {
    match t {
        RecordType::A => "A",
        RecordType::Aaaa => "AAAA",
        RecordType::Cname => "CNAME",
        RecordType::Srv => "SRV",
        RecordType::Txt => "TXT",
    }
}

/// A record's data as a zone file writes it.
#[must_use]
pub fn data_text(d: &RecordData) -> String {
    match d {
        RecordData::A(s) | RecordData::Aaaa(s) | RecordData::Cname(s) => s.clone(),
        // A TXT record's text is whatever the zone holds (the gate checks
        // names and addresses, not text): shown on one line, nothing in it a
        // terminal acts on.
        RecordData::Txt(s) => crate::text::printable(s).into_owned(),
        RecordData::Srv(s) => format!("{} {} {} {}", s.priority, s.weight, s.port, s.target),
    }
}

/// A pool's state as the operator reads it.
#[must_use]
pub fn pool_state(s: PoolState) -> &'static str {
    match s {
        PoolState::Normal => "normal",
        PoolState::FailedOver => "failed-over",
        PoolState::FailingBack => "failing-back",
    }
}
