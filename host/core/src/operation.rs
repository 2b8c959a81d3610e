//! The operations a plan's steps are carried out by: one type per operation,
//! grouped below by family (servers, the topology, replication of the
//! management store, DNS record sets, site routes, the XMPP probe, pool
//! failback).
//!
//! Each type is the one home of what its operation means without running it,
//! through [`Meaning`]: the changes it makes to a state ([`Meaning::effect`],
//! the one reading both the plan check and the apply engine use) and the
//! PowerShell an operator runs by hand instead ([`Meaning::powershell`]).
//! What it takes to run it — the plugin call, and how to read back whether an
//! interrupted call took effect — lives in the runtime
//! (`failback_runtime::operation`), one implementation per type there too:
//! core stays pure.
//!
//! [`Operation`] is the plan document's form of an operation (`"op":
//! "replace-rrset"` and the type's fields), and dispatches to the type.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::deployment::stale_replicas;
use crate::deployment::{Change, Deployment, RouteChange, RrSet};
use crate::observed::{PoolState, ProbeRequest, RecordData, RecordType, RouteKind};
use crate::observed::{data_text, rtype_name};
use crate::text::{powershell_comment as ps_comment, powershell_quote as ps_quote};
use crate::topology::TopologyEdit;

/// One typed call that carries out (part of) a step. Plugin-agnostic: the
/// apply engine maps each to a plugin function; the PowerShell rendering
/// prints the equivalent cmdlets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "op")]
pub enum Operation {
    StartServices(StartServices),
    EditDraft(EditDraft),
    PublishTopology(PublishTopology),
    EnableTopology(EnableTopology),
    Replicate(Replicate),
    RunSetup(RunSetup),
    ReplaceRrset(ReplaceRrset),
    DeleteRrset(DeleteRrset),
    SetSiteRoutes(SetSiteRoutes),
    Probe(Probe),
    /// Invoke-CsPoolFailback.
    PoolFailback(PoolFailback),
}

/// What an operation means without running it.
pub trait Meaning {
    /// What the operation does to `state`, as changes.
    ///
    /// # Errors
    /// A text naming what does not fit: a publish or enable of another
    /// version than the state's, a record set of another zone or with data of
    /// another type, a pool failback of a pool that is not failed over.
    fn effect(&self, state: &Deployment) -> Result<Vec<Change>, String>;

    /// The equivalent cmdlets (or Topology Builder steps, as comments), one
    /// per line. Every value from the environment is quoted as an argument
    /// ([`ps_quote`]) or kept on its comment line ([`ps_comment`]).
    fn powershell(&self, out: &mut String);
}

impl Operation {
    /// The operation's name in a plan document (`replace-rrset`).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::StartServices(_) => "start-services",
            Self::EditDraft(_) => "edit-draft",
            Self::PublishTopology(_) => "publish-topology",
            Self::EnableTopology(_) => "enable-topology",
            Self::Replicate(_) => "replicate",
            Self::RunSetup(_) => "run-setup",
            Self::ReplaceRrset(_) => "replace-rrset",
            Self::DeleteRrset(_) => "delete-rrset",
            Self::SetSiteRoutes(_) => "set-site-routes",
            Self::Probe(_) => "probe",
            Self::PoolFailback(_) => "pool-failback",
        }
    }

    /// The operation's type, as what it means.
    #[must_use]
    pub fn meaning(&self) -> &dyn Meaning {
        match self {
            Self::StartServices(op) => op,
            Self::EditDraft(op) => op,
            Self::PublishTopology(op) => op,
            Self::EnableTopology(op) => op,
            Self::Replicate(op) => op,
            Self::RunSetup(op) => op,
            Self::ReplaceRrset(op) => op,
            Self::DeleteRrset(op) => op,
            Self::SetSiteRoutes(op) => op,
            Self::Probe(op) => op,
            Self::PoolFailback(op) => op,
        }
    }

    /// See [`Meaning::effect`].
    ///
    /// # Errors
    /// As [`Meaning::effect`].
    pub fn effect(&self, state: &Deployment) -> Result<Vec<Change>, String> {
        self.meaning().effect(state)
    }
}

macro_rules! into_operation {
    ($($op:ident),* $(,)?) => {$(
        impl From<$op> for Operation {
            fn from(op: $op) -> Self {
                Self::$op(op)
            }
        }
    )*};
}

into_operation!(
    StartServices,
    EditDraft,
    PublishTopology,
    EnableTopology,
    Replicate,
    RunSetup,
    ReplaceRrset,
    DeleteRrset,
    SetSiteRoutes,
    Probe,
    PoolFailback,
);

// ---- Servers: the Edge machines' services and setup --------------------------

/// `servers.start-services(machine)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartServices {
    pub machine: String,
}

impl Meaning for StartServices {
    fn effect(&self, _state: &Deployment) -> Result<Vec<Change>, String> {
        Ok(vec![Change::ServicesRunning {
            machine: self.machine.clone(),
            running: true,
        }])
    }

    fn powershell(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "Start-CsWindowsService -ComputerName {}",
            ps_quote(&self.machine)
        );
    }
}

/// `servers.run-setup(machine)`; expects `applied-version` = `expected_version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSetup {
    pub machine: String,
    pub expected_version: u64,
}

impl Meaning for RunSetup {
    fn effect(&self, _state: &Deployment) -> Result<Vec<Change>, String> {
        Ok(vec![Change::SetupVersion {
            machine: self.machine.clone(),
            version: self.expected_version,
        }])
    }

    fn powershell(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# On {}: Deployment Wizard > Install or Update > Setup or Remove Components > Run Again\n# (applies topology version {} from the local replica), or from the Lync setup folder:\nInvoke-Command -ComputerName {} -ScriptBlock {{ & \"$env:ProgramFiles\\Microsoft Lync Server 2013\\Deployment\\Bootstrapper.exe\" /Setup }}",
            ps_comment(&self.machine),
            self.expected_version,
            ps_quote(&self.machine)
        );
    }
}

// ---- The topology: draft, publish, enable ------------------------------------

/// Edit the topology draft; no side effect: the result is `draft` of the
/// plan's `drafts`, published by a later `publish-topology`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditDraft {
    pub edits: Vec<TopologyEdit>,
    pub draft: String,
}

impl Meaning for EditDraft {
    fn effect(&self, _state: &Deployment) -> Result<Vec<Change>, String> {
        let mut changes: Vec<Change> = self
            .edits
            .iter()
            .map(|e| match e {
                TopologyEdit::SetFederation { edge_pool, enabled } => Change::Federation {
                    edge_pool: edge_pool.clone(),
                    enabled: *enabled,
                },
                TopologyEdit::SetMediaEdgePool {
                    front_end_pool,
                    edge_pool,
                } => Change::MediaEdgePool {
                    front_end_pool: front_end_pool.clone(),
                    edge_pool: Some(edge_pool.clone()),
                },
                TopologyEdit::SetNextHop {
                    edge_pool,
                    next_hop,
                } => Change::NextHop {
                    edge_pool: edge_pool.clone(),
                    next_hop: Some(next_hop.clone()),
                },
            })
            .collect();
        changes.push(Change::DraftPending { pending: true });
        Ok(changes)
    }

    fn powershell(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# In Topology Builder (the draft `{}` of the plan):",
            ps_comment(&self.draft)
        );
        for e in &self.edits {
            let _ = match e {
                TopologyEdit::SetFederation { edge_pool, enabled } => writeln!(
                    out,
                    "#   {}: {} \"Enable federation for this Edge pool (Port 5061)\"",
                    ps_comment(edge_pool),
                    if *enabled { "select" } else { "clear" }
                ),
                TopologyEdit::SetMediaEdgePool {
                    front_end_pool,
                    edge_pool,
                } => writeln!(
                    out,
                    "#   {}: Associations > \"Associate Edge pool (for media components)\" = {}",
                    ps_comment(front_end_pool),
                    ps_comment(edge_pool)
                ),
                TopologyEdit::SetNextHop {
                    edge_pool,
                    next_hop,
                } => writeln!(
                    out,
                    "#   {}: Edit Properties > Next hop selection > \"Next hop pool\" = {}",
                    ps_comment(edge_pool),
                    ps_comment(next_hop)
                ),
            };
        }
        let _ = writeln!(
            out,
            "# or save the plan's `{0}` XML as {0}.xml for Publish-CsTopology below.",
            ps_comment(&self.draft)
        );
    }
}

/// `management.publish-topology(drafts[draft], expected_version)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishTopology {
    pub draft: String,
    pub expected_version: u64,
}

impl Meaning for PublishTopology {
    /// The version after the expected one; every replica that was up to date
    /// no longer is.
    fn effect(&self, state: &Deployment) -> Result<Vec<Change>, String> {
        if self.expected_version != state.topology_version {
            return Err(format!(
                "publishes against version {}, but the state before it has version {}",
                self.expected_version, state.topology_version
            ));
        }
        let version = self.expected_version.checked_add(1).ok_or_else(|| {
            format!(
                "publishes after version {}, the last there is",
                self.expected_version
            )
        })?;
        let mut changes = vec![Change::TopologyVersion { version }];
        changes.extend(stale_replicas(state));
        Ok(changes)
    }

    fn powershell(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# expects the published topology to be version {}",
            self.expected_version
        );
        let _ = writeln!(
            out,
            "Publish-CsTopology -FileName {}",
            ps_quote(&format!("{}.xml", self.draft))
        );
    }
}

/// `management.enable-topology(version)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableTopology {
    pub version: u64,
}

impl Meaning for EnableTopology {
    fn effect(&self, state: &Deployment) -> Result<Vec<Change>, String> {
        if self.version != state.topology_version {
            return Err(format!(
                "enables version {}, but the state before it has version {}",
                self.version, state.topology_version
            ));
        }
        Ok(vec![Change::DraftPending { pending: false }])
    }

    fn powershell(&self, out: &mut String) {
        out.push_str("Enable-CsTopology\n");
    }
}

// ---- Replication of the management store -------------------------------------

/// `management.replicate(fqdns)`, then `management.replication-status` polled
/// until every replica of `fqdns` is up to date: one operation for the
/// replicas of a step, however many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replicate {
    pub fqdns: Vec<String>,
}

impl Meaning for Replicate {
    fn effect(&self, _state: &Deployment) -> Result<Vec<Change>, String> {
        Ok(self
            .fqdns
            .iter()
            .map(|fqdn| Change::ReplicaUpToDate {
                machine: fqdn.clone(),
                up_to_date: true,
            })
            .collect())
    }

    fn powershell(&self, out: &mut String) {
        let replicas = self
            .fqdns
            .iter()
            .map(|fqdn| ps_quote(fqdn))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "$replicas = @({replicas})\n\
             $replicas | ForEach-Object {{ Invoke-CsManagementStoreReplication -ReplicaFqdn $_ }}\n\
             while (Get-CsManagementStoreReplicationStatus | Where-Object {{ $replicas -contains $_.ReplicaFqdn -and -not $_.UpToDate }}) {{ Start-Sleep -Seconds 15 }}"
        );
    }
}

// ---- DNS record sets on the external DNS server --------------------------------

/// `dns.replace-rrset(zone, name, rtype, ttl, data)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceRrset {
    pub zone: String,
    pub name: String,
    pub rtype: RecordType,
    pub ttl: u32,
    pub data: Vec<RecordData>,
}

impl Meaning for ReplaceRrset {
    fn effect(&self, state: &Deployment) -> Result<Vec<Change>, String> {
        check_zone(&self.zone, state)?;
        if let Some(d) = self.data.iter().find(|d| d.record_type() != self.rtype) {
            return Err(format!(
                "writes {} data into the {} set `{}`",
                rtype_name(d.record_type()),
                rtype_name(self.rtype),
                self.name
            ));
        }
        let mut data = self.data.clone();
        data.sort();
        Ok(vec![Change::Rrset(RrSet {
            name: self.name.clone(),
            rtype: self.rtype,
            ttl: self.ttl,
            data,
        })])
    }

    fn powershell(&self, out: &mut String) {
        let Self {
            zone,
            name,
            rtype,
            ttl,
            data,
        } = self;
        let relative = relative_name(zone, name);
        let _ = writeln!(
            out,
            "# {} {}: replace with {} (TTL {ttl}) on the external DNS server",
            rtype_name(*rtype),
            ps_comment(name),
            ps_comment(&data.iter().map(data_text).collect::<Vec<_>>().join(", "))
        );
        remove_rrset(out, zone, name, *rtype);
        let (zone, relative) = (ps_quote(zone), ps_quote(relative));
        let ttl = format!("(New-TimeSpan -Seconds {ttl})");
        for d in data {
            let _ = match d {
                RecordData::A(ip) => writeln!(
                    out,
                    "Add-DnsServerResourceRecordA -ZoneName {zone} -Name {relative} -IPv4Address {} -TimeToLive {ttl}",
                    ps_quote(ip)
                ),
                RecordData::Aaaa(ip) => writeln!(
                    out,
                    "Add-DnsServerResourceRecordAAAA -ZoneName {zone} -Name {relative} -IPv6Address {} -TimeToLive {ttl}",
                    ps_quote(ip)
                ),
                RecordData::Cname(t) => writeln!(
                    out,
                    "Add-DnsServerResourceRecordCName -ZoneName {zone} -Name {relative} -HostNameAlias {} -TimeToLive {ttl}",
                    ps_quote(t)
                ),
                RecordData::Srv(s) => writeln!(
                    out,
                    "Add-DnsServerResourceRecord -Srv -ZoneName {zone} -Name {relative} -DomainName {} -Priority {} -Weight {} -Port {} -TimeToLive {ttl}",
                    ps_quote(&s.target),
                    s.priority,
                    s.weight,
                    s.port
                ),
                RecordData::Txt(t) => writeln!(
                    out,
                    "Add-DnsServerResourceRecord -Txt -ZoneName {zone} -Name {relative} -DescriptiveText {} -TimeToLive {ttl}",
                    ps_quote(t)
                ),
            };
        }
    }
}

/// `dns.delete-rrset(zone, name, rtype)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRrset {
    pub zone: String,
    pub name: String,
    pub rtype: RecordType,
}

impl Meaning for DeleteRrset {
    fn effect(&self, state: &Deployment) -> Result<Vec<Change>, String> {
        check_zone(&self.zone, state)?;
        Ok(vec![Change::Rrset(RrSet {
            name: self.name.clone(),
            rtype: self.rtype,
            ttl: 0,
            data: Vec::new(),
        })])
    }

    fn powershell(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# {} {}: delete on the external DNS server",
            rtype_name(self.rtype),
            ps_comment(&self.name)
        );
        remove_rrset(out, &self.zone, &self.name, self.rtype);
    }
}

/// A record operation writes to the deployment's zone.
fn check_zone(zone: &str, state: &Deployment) -> Result<(), String> {
    if zone.trim_end_matches('.').eq_ignore_ascii_case(&state.zone) {
        Ok(())
    } else {
        Err(format!(
            "writes to zone `{zone}`, but the deployment's zone is `{}`",
            state.zone
        ))
    }
}

/// A record's name relative to `zone` (`@` for the apex), as DnsServer cmdlets take it.
fn relative_name<'a>(zone: &str, name: &'a str) -> &'a str {
    name.strip_suffix(&format!(".{zone}"))
        .unwrap_or(if name == zone { "@" } else { name })
}

/// The cmdlet that removes every record of (`name`, `rtype`) from `zone`.
fn remove_rrset(out: &mut String, zone: &str, name: &str, rtype: RecordType) {
    let _ = writeln!(
        out,
        "Get-DnsServerResourceRecord -ZoneName {} -Name {} -RRType {} -ErrorAction SilentlyContinue | Remove-DnsServerResourceRecord -ZoneName {} -Force",
        ps_quote(zone),
        ps_quote(relative_name(zone, name)),
        rtype_name(rtype),
        ps_quote(zone)
    );
}

// ---- Site routes: federation and XMPP federation ---------------------------------

/// `management.set-site-routes(routes)`: every route of a step in one
/// operation (`Set-CsSite <site> -FederationRoute|-XmppFederationRoute
/// <identity>` for each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSiteRoutes {
    pub routes: Vec<RouteChange>,
}

impl Meaning for SetSiteRoutes {
    fn effect(&self, _state: &Deployment) -> Result<Vec<Change>, String> {
        Ok(self.routes.iter().cloned().map(Change::Route).collect())
    }

    fn powershell(&self, out: &mut String) {
        for route in &self.routes {
            let param = match route.kind {
                RouteKind::Federation => "-FederationRoute",
                RouteKind::XmppFederation => "-XmppFederationRoute",
            };
            let value = route
                .identity
                .as_ref()
                .map_or_else(|| "$null".to_owned(), |i| ps_quote(&i.to_string()));
            let _ = writeln!(
                out,
                "Set-CsSite -Identity {} {param} {value}",
                ps_quote(&route.site)
            );
        }
    }
}

// ---- The XMPP port, probed from outside ---------------------------------------

/// `probe.probe(request)`; expects an open port with an XMPP stream header.
/// A verification: it changes nothing in the deployment. What it changes is
/// what the plan may count on: the last probe of an Edge pool whose port the
/// plan expects to open once its services start (docs/policies.md, "A port
/// that opens when the services start") names that pool in `edge_pool`, and
/// its effect is the pool's TCP 5269 open — verified by every probe of the
/// step before it, and by the run's re-observation after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub request: ProbeRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_pool: Option<String>,
}

impl Meaning for Probe {
    fn effect(&self, _state: &Deployment) -> Result<Vec<Change>, String> {
        Ok(self
            .edge_pool
            .iter()
            .map(|pool| Change::XmppPortOpen {
                edge_pool: pool.clone(),
                open: true,
            })
            .collect())
    }

    fn powershell(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "Test-NetConnection -ComputerName {} -Port {}   # from outside the perimeter; an XMPP server must answer a stream open",
            ps_quote(&self.request.host),
            self.request.port
        );
    }
}

// ---- Pool failback: Invoke-CsPoolFailback ---------------------------------------

/// `pools.failback(pool_fqdn)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolFailback {
    pub pool_fqdn: String,
}

impl Meaning for PoolFailback {
    /// The Front End pool failed over as `pool_fqdn` is back to normal.
    fn effect(&self, state: &Deployment) -> Result<Vec<Change>, String> {
        let pool_fqdn = &self.pool_fqdn;
        let pool = state
            .front_end_pools
            .iter()
            .find(|p| {
                p.failover_fqdn
                    .as_deref()
                    .unwrap_or(&p.fqdn)
                    .eq_ignore_ascii_case(pool_fqdn)
            })
            .ok_or_else(|| {
                format!("fails back `{pool_fqdn}`, which no front end pool was failed over as")
            })?;
        Ok(vec![Change::PoolState {
            front_end_pool: pool.fqdn.clone(),
            state: PoolState::Normal,
        }])
    }

    fn powershell(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "Invoke-CsPoolFailback -PoolFqdn {} -Verbose",
            ps_quote(&self.pool_fqdn)
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    /// One operation of each type, as a plan writes it.
    fn one_of_each() -> Vec<Operation> {
        vec![
            StartServices {
                machine: "e1".into(),
            }
            .into(),
            EditDraft {
                edits: Vec::new(),
                draft: "d".into(),
            }
            .into(),
            PublishTopology {
                draft: "d".into(),
                expected_version: 1,
            }
            .into(),
            EnableTopology { version: 2 }.into(),
            Replicate {
                fqdns: vec!["e1".into(), "e2".into()],
            }
            .into(),
            RunSetup {
                machine: "e1".into(),
                expected_version: 2,
            }
            .into(),
            ReplaceRrset {
                zone: "z".into(),
                name: "n.z".into(),
                rtype: RecordType::A,
                ttl: 300,
                data: Vec::new(),
            }
            .into(),
            DeleteRrset {
                zone: "z".into(),
                name: "n.z".into(),
                rtype: RecordType::Aaaa,
            }
            .into(),
            SetSiteRoutes {
                routes: vec![RouteChange {
                    site: "Site1".into(),
                    kind: RouteKind::Federation,
                    identity: None,
                }],
            }
            .into(),
            Probe {
                request: ProbeRequest {
                    host: "h".into(),
                    port: 5269,
                    kind: crate::observed::ProbeKind::XmppServer,
                    timeout_ms: 1,
                    stream_to: None,
                },
                edge_pool: Some("p".into()),
            }
            .into(),
            PoolFailback {
                pool_fqdn: "p".into(),
            }
            .into(),
        ]
    }

    #[test]
    fn every_operation_is_named_as_the_document_tags_it() {
        for op in one_of_each() {
            let json = serde_json::to_value(&op).unwrap();
            assert_eq!(json["op"], op.name(), "{json}");
            let back: Operation = serde_json::from_value(json).unwrap();
            assert_eq!(back, op);
        }
    }

    #[test]
    fn an_unknown_field_of_an_operation_is_refused() {
        let err = serde_json::from_str::<Operation>(
            r#"{"op": "start-services", "machine": "e1", "force": true}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `force`"), "{err}");
    }
}
