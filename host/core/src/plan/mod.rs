//! The planner: observed deployment + intent → the failback plan.
//!
//! A [`Plan`] is the runbook of DESIGN §1 made concrete: the needed actions among
//! A0–A13 in a safe order, each [`Step`] with its target and arguments, its
//! preconditions, the predicted [`Change`]s, how it is verified, and whether it
//! still has to run ([`StepStatus::Planned`]) or its postcondition already holds
//! ([`StepStatus::Satisfied`]). Each step also lists its [`Operation`]s: the
//! typed, plugin-agnostic calls that carry it out. The apply engine runs those
//! through the plugins; the PowerShell rendering prints the equivalent cmdlets.
//!
//! [`plan`] reads as the runbook: one line per action, in the order DESIGN §1
//! gives, each action a method that drafts its step from the state the
//! previous steps predict — so the trajectory is exactly [`Plan::states`]. Federation moves in one edit (A2): no state of the
//! trajectory has two federation-enabled Edge pools that the start did not
//! already have. The source page's defects (DESIGN §1.1) are corrected here: the
//! XMPP A record gets the restored pool's Access Edge IPs, the XMPP route is
//! `-XmppFederationRoute EdgeServer:<fqdn>`, the SIP federation records move
//! (A6), re-association publishes (A11), and `Invoke-CsPoolFailback` is spelt
//! with an ASCII hyphen.
//!
//! Deterministic: the same snapshot and intent give the same plan, byte for
//! byte, in every rendering.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::deployment::{Change, Deployment, Names, UnknownObject};
use crate::diff::{FieldDiff, diff};
use crate::intent::{Intent, RecordTtl};
pub use crate::operation::Operation;
use crate::topology::TopologyError;

mod planner;
mod targets;

pub use planner::plan;

/// The version of the plan document's JSON form (`docs/plan.schema.json`).
/// 2: one key casing (snake case), changes, edits and record data as objects
/// with named fields, `digest`, `overrides`, a provenance in every plan (with
/// levels and the environment file), findings keyed by module.
/// 3: names from the operator's vocabulary: `set-xmpp-federation-route`, the
/// sites' `xmpp_federation_route`, `cms_available`, the `pool-failback`
/// operation, the goal's `media_edge_pool`, the topology `drafts` (an
/// `edit-draft` or `publish-topology` operation's `draft`).
/// 4: operations in batches: a step's site routes are one `set-site-routes`
/// operation (its `routes`, for one `set-site-route` per site), and its
/// replicas one `replicate` that also waits until they are up to date (its
/// `fqdns`, for a `replicate` and an `await-replica` per replica).
pub const FORMAT_VERSION: u32 = 4;

/// What a step does, named as in DESIGN §1 (the policy WIT `action` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    LowerTtl,
    StartEdgeServices,
    SetFederationEdge,
    PublishTopology,
    AwaitReplication,
    RunEdgeSetup,
    RepointSipFederationDns,
    SetXmppFederationRoute,
    EnsureXmppSrv,
    SetXmppARecord,
    VerifyXmppPort,
    ReassociateFrontEnds,
    PoolFailback,
    RestoreNextHop,
    RestoreTtl,
}

impl Action {
    /// Every action, in runbook order.
    pub const ALL: [Self; 15] = [
        Self::LowerTtl,
        Self::StartEdgeServices,
        Self::SetFederationEdge,
        Self::PublishTopology,
        Self::AwaitReplication,
        Self::RunEdgeSetup,
        Self::RepointSipFederationDns,
        Self::SetXmppFederationRoute,
        Self::EnsureXmppSrv,
        Self::SetXmppARecord,
        Self::VerifyXmppPort,
        Self::ReassociateFrontEnds,
        Self::PoolFailback,
        Self::RestoreNextHop,
        Self::RestoreTtl,
    ];

    /// The name of DESIGN §1 (`set-federation-edge`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::LowerTtl => "lower-ttl",
            Self::StartEdgeServices => "start-edge-services",
            Self::SetFederationEdge => "set-federation-edge",
            Self::PublishTopology => "publish-topology",
            Self::AwaitReplication => "await-replication",
            Self::RunEdgeSetup => "run-edge-setup",
            Self::RepointSipFederationDns => "repoint-sip-federation-dns",
            Self::SetXmppFederationRoute => "set-xmpp-federation-route",
            Self::EnsureXmppSrv => "ensure-xmpp-srv",
            Self::SetXmppARecord => "set-xmpp-a-record",
            Self::VerifyXmppPort => "verify-xmpp-port",
            Self::ReassociateFrontEnds => "reassociate-front-ends",
            Self::PoolFailback => "pool-failback",
            Self::RestoreNextHop => "restore-next-hop",
            Self::RestoreTtl => "restore-ttl",
        }
    }

    /// The id of DESIGN §1 (`A2`).
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Self::LowerTtl => "A0",
            Self::StartEdgeServices => "A1",
            Self::SetFederationEdge => "A2",
            Self::PublishTopology => "A3",
            Self::AwaitReplication => "A4",
            Self::RunEdgeSetup => "A5",
            Self::RepointSipFederationDns => "A6",
            Self::SetXmppFederationRoute => "A7",
            Self::EnsureXmppSrv => "A8",
            Self::SetXmppARecord => "A9",
            Self::VerifyXmppPort => "A10",
            Self::ReassociateFrontEnds => "A11",
            Self::PoolFailback => "A12",
            // Numbered after the runbook's table, which A14 joined last; it
            // runs after A12.
            Self::RestoreNextHop => "A14",
            Self::RestoreTtl => "A13",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a step still has to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// The step changes the deployment.
    Planned,
    /// Its postcondition already holds; it is not executed.
    Satisfied,
}

/// A step argument: one value or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Argument {
    Number(u64),
    Text(String),
    List(Vec<String>),
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// 1-based; the state after this step is state `index`.
    pub index: usize,
    /// The action's id of DESIGN §1 (`A2`), for readers of the document.
    pub id: String,
    pub action: Action,
    pub status: StepStatus,
    /// The object acted on: a pool, a machine, a site or a zone.
    pub target: Option<String>,
    pub arguments: BTreeMap<String, Argument>,
    /// What must hold before the step runs.
    pub preconditions: Vec<String>,
    /// The predicted changes; empty when satisfied.
    pub changes: Vec<Change>,
    /// Each change in words, with the value before it (`federation
    /// edgepool2.contoso.com: on -> off`).
    pub summary: Vec<String>,
    /// How the postcondition is verified.
    pub verify: String,
    pub operations: Vec<Operation>,
}

impl Step {
    /// The argument the policies judge the step by: the `-PoolFqdn` of a pool
    /// failback (invariant 11).
    #[must_use]
    pub fn policy_argument(&self) -> Option<String> {
        match (self.action, self.arguments.get("pool_fqdn")) {
            (Action::PoolFailback, Some(Argument::Text(fqdn))) => Some(fqdn.clone()),
            _ => None,
        }
    }
}

/// A step's operations do not do what its changes say: the apply engine runs
/// the operations and the policies judge the changes, so the two must agree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperationsError {
    #[error("step {step} ({action}): operation {op} ({name}) {problem}")]
    Operation {
        step: usize,
        action: Action,
        /// 0-based position in the step's operations.
        op: usize,
        name: &'static str,
        problem: String,
    },
    #[error(
        "step {step} ({action}): its operations do not do what its changes say: {}",
        differences
            .iter()
            .map(|d| format!("{} {}: changes {}, operations {}", d.object, d.field, d.left, d.right))
            .collect::<Vec<_>>()
            .join("; ")
    )]
    Disagree {
        step: usize,
        action: Action,
        /// `predicted` is the state after the changes, `observed` the state
        /// after the operations.
        differences: Vec<FieldDiff>,
    },
    #[error("step {step} ({action}): its changes cannot be applied: {source}")]
    Changes {
        step: usize,
        action: Action,
        source: UnknownObject,
    },
}

impl Step {
    /// Check that the step's operations, run from `before`, lead to the state
    /// its changes predict: the state each operation's [`Operation::effect`]
    /// leads to, in order, equals `before` after the changes.
    ///
    /// # Errors
    /// [`OperationsError`] naming the operation that does not fit, or the
    /// fields on which the two states differ.
    pub fn check_operations(&self, before: &Deployment) -> Result<(), OperationsError> {
        self.check_operations_on(&Names::of(before), &mut before.clone())
    }

    /// [`Step::check_operations`] with `state` the state before the step and
    /// `names` its index: `state` is left the state after the step's changes,
    /// so that a plan's steps are checked along its trajectory.
    ///
    /// The operations' changes, each made on the state the operations before
    /// it lead to, are most often the step's own changes in their order: then
    /// both lead to one state, made in place. Only where they part is the
    /// state copied, for the rest of the operations to run on.
    pub(crate) fn check_operations_on(
        &self,
        names: &Names,
        state: &mut Deployment,
    ) -> Result<(), OperationsError> {
        let problem = |i: usize, op: &Operation, problem: String| OperationsError::Operation {
            step: self.index,
            action: self.action,
            op: i,
            name: op.name(),
            problem,
        };
        let unknown = |source| OperationsError::Changes {
            step: self.index,
            action: self.action,
            source,
        };
        // How many of the step's changes `state` has, and the operation
        // whose changes are not the next of them.
        let mut made = 0;
        let mut parted = None;
        let mut operations = self.operations.iter().enumerate();
        for (i, op) in operations.by_ref() {
            let changes = op.effect(state).map_err(|p| problem(i, op, p))?;
            if !self.changes[made..].starts_with(&changes) {
                parted = Some((i, op, changes));
                break;
            }
            for change in &changes {
                names.apply(state, change).map_err(unknown)?;
            }
            made += changes.len();
        }
        if parted.is_none() && made == self.changes.len() {
            return Ok(());
        }
        let mut effect = state.clone();
        for change in &self.changes[made..] {
            names.apply(state, change).map_err(unknown)?;
        }
        if let Some((i, op, changes)) = parted {
            for change in &changes {
                names
                    .apply(&mut effect, change)
                    .map_err(|unknown| problem(i, op, unknown.to_string()))?;
            }
        }
        for (i, op) in operations {
            for change in op.effect(&effect).map_err(|p| problem(i, op, p))? {
                names
                    .apply(&mut effect, &change)
                    .map_err(|unknown| problem(i, op, unknown.to_string()))?;
            }
        }
        // The field-level diff only to say how they differ: it formats every
        // field of both states.
        if *state == effect {
            return Ok(());
        }
        let differences = diff(state, &effect);
        if differences.is_empty() {
            Ok(())
        } else {
            Err(OperationsError::Disagree {
                step: self.index,
                action: self.action,
                differences,
            })
        }
    }
}

/// The policy WIT `goal`: what the end state is compared to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    pub restored_site: String,
    pub federation_pool: Option<String>,
    pub xmpp_pool: Option<String>,
    pub media_edge_pool: Option<String>,
    pub cutover_ttl: u32,
    /// The restored Edge pool's next hop after the failback, when the plan
    /// restores it (A14, invariant 14). Absent from the document otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<NextHopGoal>,
}

/// The next hop an Edge pool must end on (the policy WIT `next-hop-goal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextHopGoal {
    pub edge_pool: String,
    /// A Front End pool of the Edge pool's own site.
    pub front_end_pool: String,
}

/// How strongly a finding binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Reported.
    Advisory,
    /// Blocks; an operator may override with a named reason.
    Mandatory,
    /// Blocks, no override.
    Hard,
}

impl Level {
    /// The name the environment file and the documents use (`mandatory`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Advisory => "advisory",
            Self::Mandatory => "mandatory",
            Self::Hard => "hard",
        }
    }
}

/// A rule that does not hold on a state of the plan (filled by the policy gate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// The policy module that reported it. Findings of different modules are
    /// never merged, nor does one module's finding make another's standing.
    pub module: String,
    /// The rule's id (`federation.single-pool`).
    pub rule: String,
    pub level: Level,
    /// 0 is the start, n the state after step n.
    pub state: u32,
    /// The step that led to the state, when `state` > 0.
    pub step: Option<usize>,
    pub message: String,
    /// The values compared, each `name=value`.
    pub values: Vec<String>,
    pub hint: String,
    /// The last of the consecutive states the same finding held on (equal to
    /// `state` when it held on one state only).
    pub through: u32,
    /// It already held on the observed start: the plan inherits it and must
    /// repair it, and it blocks only if it still holds on the end state.
    pub standing: bool,
    /// Whether it stops the plan: a mandatory or hard finding that is neither
    /// overridden nor a standing one the plan repairs.
    pub blocking: bool,
    /// The operator's reason, when a mandatory finding was overridden
    /// (`--override RULE --reason TEXT`).
    pub overridden: Option<String>,
}

/// A mandatory rule the operator overrides for the plan, with the reason
/// (`--override RULE --reason TEXT`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub rule: String,
    pub reason: String,
}

/// The failback plan: the one document `plan` prints (`--format json`) and
/// saves (`--out`), `apply PLAN` reads, and the journal keeps. Text and
/// PowerShell are rendered from it; its JSON is its serde form, read with
/// every unknown field refused ([`crate::document`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format_version: u32,
    /// The sha256 of the document's canonical JSON without this field
    /// ([`crate::document::digest`]); set by [`Plan::seal`].
    pub digest: String,
    pub intent: Intent,
    /// The mandatory rules overridden for this plan, sorted by rule.
    pub overrides: Vec<Override>,
    pub goal: Goal,
    /// What the plan was made and judged with. `apply PLAN` re-derives the plan
    /// with what is bound now and refuses it unless the two are equal.
    pub provenance: Provenance,
    /// The observed start state.
    pub start: Deployment,
    pub steps: Vec<Step>,
    /// Topology drafts the plan publishes, by name (`draft-1`).
    pub drafts: BTreeMap<String, String>,
    pub findings: Vec<Finding>,
    /// The approvals of this plan: signatures over its `digest`, outside what
    /// the digest covers (as `digest` is). Absent from a document none approved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
}

/// One approval of a plan: an OpenSSH signature (SSHSIG, namespace
/// `failback-plan`) over the plan's digest as its 64 hex characters. Only
/// `signature` is evidence; the key and comment are what the approver's key
/// said, for a person reading the document, and `at` is when it was added.
/// Who approved is decided by verifying `signature` (`failback_runtime::approval`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The armored signature (`-----BEGIN SSH SIGNATURE-----` …), as
    /// `ssh-keygen -Y sign` writes it.
    pub signature: String,
    /// The signing key's SHA-256 fingerprint (`SHA256:…`).
    pub key: String,
    /// The signing key's comment (`alice@contoso.com`), possibly empty.
    pub comment: String,
    /// When the approval was added to the document (UTC, `2026-12-01T17:30:00Z`).
    pub at: String,
}

/// What a plan was made and judged with: the environment file, each plugin,
/// each policy module (sha256, 64 lowercase hex digits) and the level of
/// every rule. Empty for a plan made in process without an environment (the
/// core tests).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The sha256 of the environment file's bytes.
    pub environment: Option<String>,
    /// Each bound plugin's component, by plugin kind (`dns-provider`).
    pub plugins: BTreeMap<String, PluginDigest>,
    /// Each policy module's sha256, by module name.
    pub policies: BTreeMap<String, String>,
    /// Each rule's enforcement level, by rule id.
    pub levels: BTreeMap<String, Level>,
    /// Set when the plan was made from a captured state (`plan --from`), not
    /// from what the plugins report now: then `plugins` are the plugins that
    /// observed that state. Absent from the document otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured: Option<CapturedFrom>,
}

/// The captured state a plan was made from ([`crate::capture`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapturedFrom {
    /// The captured state's digest.
    pub sha256: String,
    /// When it was observed.
    pub observed_at: String,
}

/// One plugin binding of a [`Provenance`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginDigest {
    pub name: String,
    pub sha256: String,
}

impl Plan {
    /// The trajectory: the start, then the state after each step.
    ///
    /// # Errors
    /// [`UnknownObject`] if a change names an object the state lacks (a plan
    /// built by [`plan`] never does).
    pub fn states(&self) -> Result<Vec<Deployment>, UnknownObject> {
        let names = Names::of(&self.start);
        let mut states = vec![self.start.clone()];
        let mut cur = self.start.clone();
        for step in &self.steps {
            for c in &step.changes {
                names.apply(&mut cur, c)?;
            }
            states.push(cur.clone());
        }
        Ok(states)
    }

    /// Steps that still have to run.
    pub fn planned(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| s.status == StepStatus::Planned)
    }

    /// A finding stops the plan (exit 3).
    #[must_use]
    pub fn is_vetoed(&self) -> bool {
        self.findings.iter().any(|f| f.blocking)
    }

    /// Nothing left to do.
    #[must_use]
    pub fn is_satisfied(&self) -> bool {
        self.planned().next().is_none()
    }
}

/// The plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("edge pool `{0}` has no Access Edge external FQDN in the topology")]
    NoAccessEdgeFqdn(String),
    #[error("edge pool `{0}` has no Access Edge external IP in the topology")]
    NoAccessEdgeIps(String),
    #[error("the Access Edge FQDN `{fqdn}` is outside the zone `{zone}`")]
    OutsideZone { fqdn: String, zone: String },
    #[error("the topology draft cannot be written: {0}")]
    Topology(#[from] TopologyError),
    #[error("a predicted change is inconsistent: {0}")]
    Change(#[from] UnknownObject),
    #[error("the intent names edge pool `{0}`, which the deployment does not have")]
    UnknownPool(String),
    #[error(
        "the Access Edge FQDN `{fqdn}` is a CNAME (to `{target}`): it must hold the pool's own A/AAAA records, which the cut-over repoints; replace the CNAME with them first"
    )]
    AccessEdgeAlias { fqdn: String, target: String },
    #[error(
        "`{srv}` has {records} records and none targets a name that resolves to `{pool}`: cannot tell which one to make the highest priority; point one record's target at `{pool}`'s Access Edge IPs, or leave one record"
    )]
    NoSrvOfPool {
        srv: String,
        records: usize,
        pool: String,
    },
    #[error(transparent)]
    Operations(#[from] OperationsError),
    #[error(
        "the published topology has version {0}, the last there is: no draft can be published after it"
    )]
    LastTopologyVersion(u64),
}

/// The version a publish after `version` gives.
fn next_version(version: u64) -> Result<u64, PlanError> {
    version
        .checked_add(1)
        .ok_or(PlanError::LastTopologyVersion(version))
}

/// The SRV name of SIP federation in `zone`.
#[must_use]
pub fn sip_federation_srv(zone: &str) -> String {
    format!("_sipfederationtls._tcp.{zone}")
}

/// The SRV name of XMPP federation in `zone`.
#[must_use]
pub fn xmpp_srv(zone: &str) -> String {
    format!("_xmpp-server._tcp.{zone}")
}

fn in_zone(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}"))
}

impl Plan {
    /// The TTLs this plan restores at A13 (`restore-ttl`): what a new plan
    /// inherits when this plan's run does not finish.
    #[must_use]
    pub fn restored_ttls(&self) -> Vec<RecordTtl> {
        self.steps
            .iter()
            .filter(|s| s.action == Action::RestoreTtl)
            .flat_map(|s| s.changes.iter())
            .filter_map(|c| match c {
                Change::Rrset(set) => Some(RecordTtl {
                    name: set.name.clone(),
                    rtype: set.rtype,
                    ttl: set.ttl,
                }),
                _ => None,
            })
            .collect()
    }
}
