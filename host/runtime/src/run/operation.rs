//! Running a plan's operations through the plugins: for each operation type of
//! `failback_core::operation`, its plugin call and how to read back whether an
//! interrupted call took effect ([`Execute`]), grouped by family as core
//! groups them. Core holds the rest of each operation's meaning (its effect
//! on a state, its PowerShell); this is the half that needs a plugin.
//!
//! The apply engine ([`crate::run::apply`]) decides *when* an operation runs —
//! journaled, after the drift check and the gate — and calls
//! [`execution`]`(op).run` or `.took_effect` with a [`Context`]: the bound
//! plugins, the plan (its topology drafts), the step, and where progress
//! events go. Every plugin call goes through [`Context::call`], which reports
//! it and names the step, plugin and function when it fails.

#![expect(
    clippy::result_large_err,
    reason = "an apply error ends the run, once; boxing its sources would buy nothing"
)]

use std::time::{Duration, Instant};

use failback_core::observed::rtype_name;
use failback_core::observed::{
    PoolState, PortState, RecordData, RecordType, ServiceState, SiteRoute,
};
use failback_core::operation::{
    DeleteRrset, EditDraft, EnableTopology, Operation, PoolFailback, Probe, PublishTopology,
    ReplaceRrset, Replicate, RunSetup, SetSiteRoutes, StartServices,
};
use failback_core::plan::{Plan, Step};
use failback_core::topology::Topology;

use crate::bindings::plugin::{
    DnsProvider, ManagementStore, Plugin, PluginSet, PoolControl, PortProbe, ServerControl,
};
use crate::record::progress::{Event, Progress};
use crate::sandbox::guest_error::CallError;

/// Why a step's operation did not do what the plan predicts.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("step {step}: the plan has no draft `{draft}`")]
    MissingDraft { step: usize, draft: String },
    #[error("step {step} ({action}): plugin `{plugin}` failed in `{function}`")]
    Call {
        step: usize,
        action: String,
        plugin: String,
        function: &'static str,
        #[source]
        source: CallError,
    },
    #[error("step {step} ({action}): {detail}")]
    Verification {
        step: usize,
        action: String,
        detail: String,
    },
    #[error(
        "step {step} ({action}): the published topology is version {found}, neither the draft's expected {expected} nor the version after it, or it is that version with another document than the draft; a publish went wrong outside this run"
    )]
    PublishInDoubt {
        step: usize,
        action: String,
        expected: u64,
        found: u64,
    },
}

impl StepError {
    /// The step it stopped at.
    #[must_use]
    pub fn step(&self) -> usize {
        match self {
            Self::MissingDraft { step, .. }
            | Self::Call { step, .. }
            | Self::Verification { step, .. }
            | Self::PublishInDoubt { step, .. } => *step,
        }
    }
}

/// What running an operation of `step` needs.
pub(crate) struct Context<'a> {
    pub plugins: &'a PluginSet,
    pub plan: &'a Plan,
    pub step: &'a Step,
    pub progress: &'a mut dyn Progress,
    /// How long `replicate` waits for its replicas to be up to date.
    pub replica_wait: Duration,
}

/// What running an operation means: its plugin call, and how to tell whether
/// a call left in doubt by an interruption took effect.
pub(crate) trait Execute {
    /// Run the operation through its plugin; a result the plan did not
    /// predict is an [`StepError::Verification`].
    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError>;

    /// Whether the operation, journaled as begun and not finished, already
    /// took effect: read through the plugins by the effect's content.
    /// Operations without a side effect answer `false`: running them again
    /// repeats nothing.
    fn took_effect(&self, cx: &mut Context<'_>) -> Result<bool, StepError>;
}

/// The operation's type, as what running it means.
pub(crate) fn execution(op: &Operation) -> &dyn Execute {
    match op {
        Operation::StartServices(op) => op,
        Operation::EditDraft(op) => op,
        Operation::PublishTopology(op) => op,
        Operation::EnableTopology(op) => op,
        Operation::Replicate(op) => op,
        Operation::RunSetup(op) => op,
        Operation::ReplaceRrset(op) => op,
        Operation::DeleteRrset(op) => op,
        Operation::SetSiteRoutes(op) => op,
        Operation::Probe(op) => op,
        Operation::PoolFailback(op) => op,
    }
}

impl<'a> Context<'a> {
    /// Call `function` of `plugin` with `argument` (as the progress event
    /// shows it): report the call, and name the step, plugin and function if
    /// it fails.
    fn call<T>(
        &mut self,
        plugin: &Plugin,
        function: &'static str,
        argument: impl Into<String>,
        call: impl FnOnce() -> Result<T, CallError>,
    ) -> Result<T, StepError> {
        self.progress.event(&Event::Call {
            index: self.step.index,
            plugin: plugin.name().to_owned(),
            function,
            argument: argument.into(),
        });
        call().map_err(|source| StepError::Call {
            step: self.step.index,
            action: self.step.action.name().to_owned(),
            plugin: plugin.name().to_owned(),
            function,
            source,
        })
    }

    /// The plugin did not do what the plan predicts.
    fn verification(&self, detail: String) -> StepError {
        StepError::Verification {
            step: self.step.index,
            action: self.step.action.name().to_owned(),
            detail,
        }
    }

    /// The plan's topology draft `draft`.
    fn draft(&self, draft: &str) -> Result<&'a str, StepError> {
        self.plan
            .drafts
            .get(draft)
            .map(String::as_str)
            .ok_or_else(|| StepError::MissingDraft {
                step: self.step.index,
                draft: draft.to_owned(),
            })
    }

    fn servers(&self) -> &'a ServerControl {
        &self.plugins.servers
    }

    /// The management store (CMS).
    fn cms(&self) -> &'a ManagementStore {
        &self.plugins.cms
    }

    fn dns(&self) -> &'a DnsProvider {
        &self.plugins.dns
    }

    fn probe(&self) -> &'a PortProbe {
        &self.plugins.probe
    }

    fn pools(&self) -> &'a PoolControl {
        &self.plugins.pools
    }
}

// ---- Servers: the Edge machines' services and setup --------------------------

impl Execute for StartServices {
    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let servers = cx.servers();
        cx.call(
            servers.plugin(),
            "servers.start-services",
            &self.machine,
            || servers.start_services(&self.machine),
        )
    }

    /// Every service of the machine runs.
    fn took_effect(&self, cx: &mut Context<'_>) -> Result<bool, StepError> {
        let servers = cx.servers();
        let services = cx.call(
            servers.plugin(),
            "servers.list-services",
            &self.machine,
            || servers.list_services(&self.machine),
        )?;
        Ok(!services.is_empty() && services.iter().all(|s| s.state == ServiceState::Running))
    }
}

impl Execute for RunSetup {
    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let servers = cx.servers();
        let report = cx.call(servers.plugin(), "servers.run-setup", &self.machine, || {
            servers.run_setup(&self.machine)
        })?;
        if report.applied_version == self.expected_version {
            Ok(())
        } else {
            Err(cx.verification(format!(
                "setup on `{}` applied topology version {}, the plan expected {}",
                self.machine, report.applied_version, self.expected_version
            )))
        }
    }

    /// The machine's setup applied the expected version.
    fn took_effect(&self, cx: &mut Context<'_>) -> Result<bool, StepError> {
        let servers = cx.servers();
        let applied = cx.call(
            servers.plugin(),
            "servers.setup-version",
            &self.machine,
            || servers.setup_version(&self.machine),
        )?;
        Ok(applied == Some(self.expected_version))
    }
}

// ---- The topology: draft, publish, enable ------------------------------------

impl Execute for EditDraft {
    /// No side effect: the draft is the plan's, which must be there.
    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        cx.draft(&self.draft).map(|_| ())
    }

    fn took_effect(&self, _cx: &mut Context<'_>) -> Result<bool, StepError> {
        Ok(false)
    }
}

impl Execute for PublishTopology {
    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let cms = cx.cms();
        let xml = cx.draft(&self.draft)?;
        let version = cx.call(
            cms.plugin(),
            "management.publish-topology",
            &self.draft,
            || cms.publish_topology(xml, self.expected_version),
        )?;
        if version == self.expected_version + 1 {
            Ok(())
        } else {
            Err(cx.verification(format!(
                "the management store published version {version}, the plan expected {}",
                self.expected_version + 1
            )))
        }
    }

    /// By content: the version after the expected one holding the draft. A
    /// version counter alone cannot tell a publish that took effect from one
    /// that went half-way; any other version is a publish outside this run.
    fn took_effect(&self, cx: &mut Context<'_>) -> Result<bool, StepError> {
        let cms = cx.cms();
        let published = cx.call(cms.plugin(), "management.read-topology", "", || {
            cms.read_topology()
        })?;
        let draft = cx
            .plan
            .drafts
            .get(&self.draft)
            .map(|xml| Topology::parse(xml));
        let holds_draft = match (draft, Topology::parse(&published.xml)) {
            (Some(Ok(draft)), Ok(published)) => same_topology(&draft, &published),
            _ => false,
        };
        if published.version == self.expected_version {
            Ok(false)
        } else if published.version == self.expected_version + 1 && holds_draft {
            Ok(true)
        } else {
            Err(StepError::PublishInDoubt {
                step: cx.step.index,
                action: cx.step.action.name().to_owned(),
                expected: self.expected_version,
                found: published.version,
            })
        }
    }
}

/// Two topology documents define the same sites and pools, whatever their
/// formatting (a management store may re-serialize what it publishes).
fn same_topology(a: &Topology, b: &Topology) -> bool {
    a.xml() == b.xml()
        || (a.sites() == b.sites()
            && a.edge_pools() == b.edge_pools()
            && a.front_end_pools() == b.front_end_pools())
}

impl Execute for EnableTopology {
    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let cms = cx.cms();
        cx.call(
            cms.plugin(),
            "management.enable-topology",
            self.version.to_string(),
            || cms.enable_topology(self.version),
        )
    }

    /// The published topology is this version, enabled.
    fn took_effect(&self, cx: &mut Context<'_>) -> Result<bool, StepError> {
        let cms = cx.cms();
        let published = cx.call(cms.plugin(), "management.read-topology", "", || {
            cms.read_topology()
        })?;
        Ok(published.version == self.version && published.enabled)
    }
}

// ---- Replication of the management store -------------------------------------

impl Execute for Replicate {
    /// Ask for every replica at once, then poll `replication-status` (one
    /// call lists them all) until each is up to date, backing off to 2 s
    /// between reads, for at most the context's `replica_wait`.
    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let cms = cx.cms();
        cx.call(
            cms.plugin(),
            "management.replicate",
            batch(&self.fqdns),
            || cms.replicate(&self.fqdns),
        )?;
        let deadline = Instant::now() + cx.replica_wait;
        let mut pause = Duration::from_millis(20);
        loop {
            let stale = stale_replicas(cx, &self.fqdns)?;
            let Some(first) = stale.first() else {
                return Ok(());
            };
            if Instant::now() + pause > deadline {
                return Err(cx.verification(format!(
                    "{} of {} replicas are not up to date after {} s, the first `{first}`",
                    stale.len(),
                    self.fqdns.len(),
                    cx.replica_wait.as_secs()
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Every replica of the batch is up to date: one that is not (a batch
    /// cut short) runs the whole batch again, which asks again of those that
    /// are and changes nothing for them.
    fn took_effect(&self, cx: &mut Context<'_>) -> Result<bool, StepError> {
        Ok(stale_replicas(cx, &self.fqdns)?.is_empty())
    }
}

/// The replicas of `fqdns` the management store does not report up to date
/// (one it does not list at all among them), in the order of `fqdns`.
fn stale_replicas<'f>(
    cx: &mut Context<'_>,
    fqdns: &'f [String],
) -> Result<Vec<&'f str>, StepError> {
    let cms = cx.cms();
    let replicas = cx.call(
        cms.plugin(),
        "management.replication-status",
        batch(fqdns),
        || cms.replication_status(),
    )?;
    Ok(fqdns
        .iter()
        .filter(|fqdn| {
            !replicas
                .iter()
                .any(|r| r.fqdn.eq_ignore_ascii_case(fqdn) && r.up_to_date)
        })
        .map(String::as_str)
        .collect())
}

/// How a progress event names the objects of a batch: the first, and how
/// many more.
fn batch(objects: &[impl AsRef<str>]) -> String {
    match objects {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [first, rest @ ..] => format!("{} and {} more", first.as_ref(), rest.len()),
    }
}

// ---- DNS record sets on the external DNS server --------------------------------

impl Execute for ReplaceRrset {
    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let dns = cx.dns();
        cx.call(
            dns.plugin(),
            "dns.replace-rrset",
            format!("{} {}", rtype_name(self.rtype), self.name),
            || dns.replace_rrset(&self.zone, &self.name, self.rtype, self.ttl, &self.data),
        )
    }

    /// The set holds exactly the data, at the TTL.
    fn took_effect(&self, cx: &mut Context<'_>) -> Result<bool, StepError> {
        let mut want: Vec<(u32, RecordData)> =
            self.data.iter().map(|d| (self.ttl, d.clone())).collect();
        want.sort();
        Ok(records_of(cx, &self.zone, &self.name, self.rtype)? == want)
    }
}

impl Execute for DeleteRrset {
    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let dns = cx.dns();
        cx.call(
            dns.plugin(),
            "dns.delete-rrset",
            format!("{} {}", rtype_name(self.rtype), self.name),
            || dns.delete_rrset(&self.zone, &self.name, self.rtype),
        )
    }

    /// The set is absent.
    fn took_effect(&self, cx: &mut Context<'_>) -> Result<bool, StepError> {
        Ok(records_of(cx, &self.zone, &self.name, self.rtype)?.is_empty())
    }
}

/// The records of (`name`, `rtype`) in `zone` as the DNS provider lists them
/// now, as sorted (TTL, data) pairs.
fn records_of(
    cx: &mut Context<'_>,
    zone: &str,
    name: &str,
    rtype: RecordType,
) -> Result<Vec<(u32, RecordData)>, StepError> {
    let dns = cx.dns();
    let records = cx.call(dns.plugin(), "dns.list-records", zone, || {
        dns.list_records(zone)
    })?;
    let name = name.trim_end_matches('.');
    let mut found: Vec<(u32, RecordData)> = records
        .into_iter()
        .filter(|r| {
            r.data.record_type() == rtype && r.name.trim_end_matches('.').eq_ignore_ascii_case(name)
        })
        .map(|r| (r.ttl, r.data))
        .collect();
    found.sort();
    Ok(found)
}

// ---- Site routes: federation and XMPP federation ---------------------------------

impl Execute for SetSiteRoutes {
    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let cms = cx.cms();
        let routes: Vec<SiteRoute> = self
            .routes
            .iter()
            .map(|r| SiteRoute {
                site: r.site.clone(),
                kind: r.kind,
                identity: r.identity.as_ref().map(ToString::to_string),
            })
            .collect();
        let sites: Vec<&str> = routes.iter().map(|r| r.site.as_str()).collect();
        cx.call(
            cms.plugin(),
            cms.set_site_routes_function(),
            batch(&sites),
            || cms.set_site_routes(&routes),
        )
    }

    /// Every route of the batch is the identity (or none), read back in one
    /// `list-sites`. One that is not (a batch cut short) runs the whole batch
    /// again, which sets again those already set and changes nothing there.
    fn took_effect(&self, cx: &mut Context<'_>) -> Result<bool, StepError> {
        let cms = cx.cms();
        let sites = cx.call(cms.plugin(), "management.list-sites", "", || {
            cms.list_sites()
        })?;
        Ok(self.routes.iter().all(|want| {
            let identity = want.identity.as_ref().map(ToString::to_string);
            sites.iter().any(|s| {
                s.site.eq_ignore_ascii_case(&want.site)
                    && same_route(s.route(want.kind), identity.as_deref())
            })
        }))
    }
}

fn same_route(have: Option<&str>, want: Option<&str>) -> bool {
    match (have, want) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}

// ---- The XMPP port, probed from outside ---------------------------------------

impl Execute for Probe {
    /// The port is open and answers an XMPP stream open.
    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let probe = cx.probe();
        let request = &self.request;
        let report = cx.call(
            probe.plugin(),
            "probe.probe",
            format!("{}:{}", request.host, request.port),
            || probe.probe(request),
        )?;
        let stream = report.xmpp.as_ref().is_some_and(|x| x.stream_header);
        if report.state == PortState::Open && stream {
            Ok(())
        } else {
            Err(cx.verification(format!(
                "`{}:{}` does not answer an XMPP stream open: {}",
                request.host, request.port, report.detail
            )))
        }
    }

    /// A probe has no side effect.
    fn took_effect(&self, _cx: &mut Context<'_>) -> Result<bool, StepError> {
        Ok(false)
    }
}

// ---- Pool failback: Invoke-CsPoolFailback ---------------------------------------

impl Execute for PoolFailback {
    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let pools = cx.pools();
        let function = pools.pool_failback_function();
        cx.call(pools.plugin(), function, &self.pool_fqdn, || {
            pools.pool_failback(&self.pool_fqdn)
        })
    }

    /// The pool is back to normal.
    fn took_effect(&self, cx: &mut Context<'_>) -> Result<bool, StepError> {
        let pools = cx.pools();
        let listed = cx.call(pools.plugin(), "pools.list-pools", &self.pool_fqdn, || {
            pools.list_pools()
        })?;
        Ok(listed
            .iter()
            .any(|p| p.fqdn.eq_ignore_ascii_case(&self.pool_fqdn) && p.state == PoolState::Normal))
    }
}
