//! The runbook's actions: each drafts its step from the state the previous
//! steps predict.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use crate::deployment::{
    Change, Deployment, EdgeIdentity, EdgePoolState, Names, PROBE_TIMEOUT_MS, RouteChange, RrSet,
    SIP_FEDERATION_PORT, Snapshot, XMPP_PORT, stale_replicas,
};
use crate::describe::describe_change;
use crate::intent::{Intent, Runbook};
use crate::observed::{
    PoolState, ProbeKind, ProbeRequest, RecordData, RecordType, RouteKind, rtype_name,
};
use crate::operation as op;
use crate::topology::{Topology, TopologyEdit, TopologyError};

use super::targets::{RecordTarget, Targets, targets};
use super::{
    Action, Argument, FORMAT_VERSION, Goal, NextHopGoal, Operation, Plan, PlanError, Provenance,
    Step, StepStatus, next_version, sip_federation_srv,
};

/// One step as its action writes it. The runbook numbers it, threads the
/// predicted state through its changes and drops its operations when its
/// postcondition already holds.
struct Draft {
    action: Action,
    target: Option<String>,
    arguments: BTreeMap<String, Argument>,
    preconditions: Vec<String>,
    effect: Effect,
    verify: String,
    operations: Vec<Operation>,
    /// The topology draft the step writes.
    document: Option<Written>,
    /// The name of the topology draft the step publishes: a later draft is
    /// written on it.
    publishes: Option<String>,
}

/// A topology draft a step writes.
struct Written {
    /// The name its operations use (`draft-1`).
    name: String,
    xml: String,
    /// The edits that make it from the observed text, when it was made so
    /// ([`Topology::edit_after`]).
    edits: Option<Vec<TopologyEdit>>,
}

/// What a step does to the predicted state.
enum Effect {
    /// These changes; none when the step's postcondition already holds.
    Changes(Vec<Change>),
    /// Nothing: the step only checks, and the check holds already or not. A
    /// verification predicts that what it checks becomes true only where an
    /// earlier step is what makes it so (A10 after A1, on a port refused
    /// while the services were stopped): then it is a step of changes,
    /// whose postcondition the run verifies. Otherwise a closed port stays
    /// closed in the plan, and the policies judge the states that rely on it.
    Verifies { holds: bool },
}

impl Draft {
    fn new(action: Action, target: Option<String>) -> Self {
        Self {
            action,
            target,
            arguments: BTreeMap::new(),
            preconditions: Vec::new(),
            effect: Effect::Changes(Vec::new()),
            verify: String::new(),
            operations: Vec::new(),
            document: None,
            publishes: None,
        }
    }
}

/// The runbook being written: what every action reads, and the state the
/// steps so far predict. Each action (A0–A13) is one method returning its
/// step drafts from that state; [`plan`] declares their order.
struct Planner<'a> {
    intent: &'a Intent,
    start: &'a Deployment,
    /// The restored Edge pool as observed, and its service identity.
    restored: EdgePoolState,
    identity: EdgeIdentity,
    targets: Targets,
    /// The record sets the cut-over moves (A0 lowers their TTLs).
    moved: Vec<(RecordType, String)>,
    /// TTLs as observed, for A13; `None` for sets the plan creates.
    original_ttls: BTreeMap<(String, RecordType), Option<u32>>,
    /// The state the steps so far predict.
    cur: Deployment,
    /// Where `start` (and so `cur`) holds each object a change names.
    names: Names,
    /// The topology the next draft is written on.
    published: Published<'a>,
    drafts: BTreeMap<String, String>,
    /// The edits that make each draft from the observed text, for the drafts
    /// made so.
    draft_edits: BTreeMap<String, Vec<TopologyEdit>>,
    steps: Vec<Step>,
}

/// The topology the plan's next draft is written on: the observed one until
/// the plan publishes a draft, then that draft. Neither is copied, and a
/// published draft is read only when a later edit cannot be made on the
/// observed reading ([`Topology::edit_after`]): at a thousand sites a
/// topology is megabytes of text, and each reading of it was a tenth of a
/// plan.
struct Published<'a> {
    observed: &'a Topology,
    /// The name of the last draft the plan publishes, and what reading it
    /// gave, once a step had to read it.
    draft: Option<(String, OnceCell<Result<Topology, TopologyError>>)>,
}

/// Make the plan: the runbook of DESIGN §1, in its order.
///
/// # Errors
/// [`PlanError`] when the restored pool lacks what the cut-over needs (an Access
/// Edge FQDN in the zone, external IPs), or the draft cannot be written.
pub fn plan(snapshot: &Snapshot, intent: &Intent) -> Result<Plan, PlanError> {
    let mut r = Planner::new(snapshot, intent)?;
    let moves_dns = intent.sip_federation || intent.xmpp;
    // Setup runs on the restored pool and on every pool whose federation changes.
    let mut setup_pools = vec![r.restored.fqdn.clone()];
    if moves_dns {
        r.push(r.lower_ttl())?; // A0
    }
    r.push(r.start_edge_services()?)?; // A1
    if r.targets.xmpp.is_some() {
        // Right after A1, before the XMPP route moves: the port the route
        // will rely on is verified once the services that listen on it run
        // (docs/policies.md, "A port that opens when the services start").
        r.push(r.verify_xmpp_port(snapshot)?)?; // A10
    }
    if intent.sip_federation {
        setup_pools.extend(r.federation_elsewhere());
        r.push(r.set_federation_edge()?)?; // A2
        r.push(r.publish_topology()?)?; // A3
        r.replicate_and_set_up(&setup_pools)?; // A4, A5
        r.push(r.repoint_sip_federation_dns())?; // A6
    }
    if let Some(xmpp) = r.targets.xmpp.clone() {
        r.push(r.set_xmpp_federation_route())?; // A7
        // A9 before A8: the SRV's target name must already resolve to the
        // restored pool when the SRV is written (DNS step order of invariants 6
        // and 7, docs/policies.md); otherwise creating a missing SRV would
        // briefly send partners to the failover pool.
        r.push(r.set_xmpp_a_record(&xmpp.addresses))?; // A9
        r.push(r.ensure_xmpp_srv(&xmpp.srv))?; // A8
    }
    if intent.front_ends {
        let version = r.cur.topology_version;
        r.push(r.reassociate_front_ends()?)?; // A11
        if r.cur.topology_version != version {
            // The publish made every Edge replica stale; a machine whose setup
            // is behind the published version would be due again on re-planning.
            r.replicate_and_set_up(&setup_pools)?; // A4, A5
        }
    }
    if intent.pool_failback {
        for draft in r.pool_failback() {
            r.push(draft)?; // A12
        }
    }
    if let Some(front_end_pool) = &intent.next_hop {
        // After A12: the pool must be normal before an Edge pool depends on it
        // again (invariant 12).
        let draft = r.restore_next_hop(front_end_pool)?;
        let publishes = draft.document.is_some();
        r.push(draft)?; // A14
        if publishes {
            r.push(r.publish_topology()?)?; // A3
            r.replicate_and_set_up(&setup_pools)?; // A4, A5
        }
    }
    if moves_dns || !intent.inherited_ttls.is_empty() {
        r.push(r.restore_ttl())?; // A13
    }
    r.finish()
}

impl<'a> Planner<'a> {
    fn new(snapshot: &'a Snapshot, intent: &'a Intent) -> Result<Self, PlanError> {
        let start = &snapshot.deployment;
        let restored = start
            .edge_pool(&intent.restored_pool)
            .cloned()
            .ok_or_else(|| PlanError::UnknownPool(intent.restored_pool.clone()))?;
        let targets = targets(start, intent, &restored)?;
        let mut moved: Vec<(RecordType, String)> = Vec::new();
        for (rtype, name, data) in targets.sets() {
            // A set both SIP and XMPP write (an XMPP alias of the Access Edge
            // name) is moved once.
            if start.rrset(name, rtype).is_none_or(|c| c.data != data)
                && !moved.iter().any(|(t, n)| *t == rtype && n == name)
            {
                moved.push((rtype, name.to_owned()));
            }
        }
        let mut original_ttls: BTreeMap<_, _> = moved
            .iter()
            .map(|(rtype, name)| {
                (
                    (name.clone(), *rtype),
                    start.rrset(name, *rtype).map(|s| s.ttl),
                )
            })
            .collect();
        // An unfinished earlier run lowered these: their TTLs now are its
        // cut-over TTL, not the original ones, which that run knew and this
        // plan inherits.
        for t in &intent.inherited_ttls {
            original_ttls.insert((t.name.clone(), t.rtype), Some(t.ttl));
        }
        Ok(Self {
            intent,
            start,
            identity: restored.identity(),
            restored,
            targets,
            moved,
            original_ttls,
            cur: start.clone(),
            names: Names::of(start),
            published: Published {
                observed: &snapshot.topology,
                draft: None,
            },
            drafts: BTreeMap::new(),
            draft_edits: BTreeMap::new(),
            steps: Vec::new(),
        })
    }

    /// Add a step drafted on the current state, and predict the state after it.
    fn push(&mut self, draft: Draft) -> Result<(), PlanError> {
        let (status, changes) = match draft.effect {
            Effect::Changes(changes) if changes.is_empty() => (StepStatus::Satisfied, changes),
            Effect::Changes(changes) => (StepStatus::Planned, changes),
            Effect::Verifies { holds: true } => (StepStatus::Satisfied, Vec::new()),
            Effect::Verifies { holds: false } => (StepStatus::Planned, Vec::new()),
        };
        let summary = changes
            .iter()
            .map(|c| describe_change(&self.cur, &self.names, c))
            .collect();
        for c in &changes {
            self.names.apply(&mut self.cur, c)?;
        }
        if let Some(written) = draft.document {
            if let Some(edits) = written.edits {
                self.draft_edits.insert(written.name.clone(), edits);
            }
            self.drafts.insert(written.name, written.xml);
        }
        if let Some(name) = draft.publishes {
            self.published.draft = Some((name, OnceCell::new()));
        }
        self.steps.push(Step {
            index: self.steps.len() + 1,
            id: draft.action.id().to_owned(),
            action: draft.action,
            status,
            target: draft.target,
            arguments: draft.arguments,
            preconditions: draft.preconditions,
            changes,
            summary,
            verify: draft.verify,
            operations: if status == StepStatus::Satisfied {
                Vec::new()
            } else {
                draft.operations
            },
        });
        Ok(())
    }

    fn finish(self) -> Result<Plan, PlanError> {
        let rfqdn = &self.restored.fqdn;
        let intent = self.intent;
        let goal = Goal {
            restored_site: intent.restored_site.clone(),
            federation_pool: intent.sip_federation.then(|| rfqdn.clone()),
            xmpp_pool: intent.xmpp.then(|| rfqdn.clone()),
            media_edge_pool: intent.front_ends.then(|| rfqdn.clone()),
            cutover_ttl: intent.cutover_ttl,
            next_hop: intent.next_hop.as_ref().map(|front_end_pool| NextHopGoal {
                edge_pool: rfqdn.clone(),
                front_end_pool: front_end_pool.clone(),
            }),
        };
        let plan = Plan {
            format_version: FORMAT_VERSION,
            digest: String::new(),
            approvals: Vec::new(),
            intent: intent.clone(),
            overrides: Vec::new(),
            goal,
            provenance: Provenance::default(),
            start: self.start.clone(),
            steps: self.steps,
            drafts: self.drafts,
            findings: Vec::new(),
        };
        // Defense in depth against a planner bug: each step's operations do
        // what its changes say, checked along the trajectory (the planner's
        // index of the start serves every state of it).
        let mut state = plan.start.clone();
        for step in &plan.steps {
            step.check_operations_on(&self.names, &mut state)?;
        }
        Ok(plan)
    }

    /// A0 lower-ttl: the moved sets at the cut-over TTL, so the cut-over
    /// reaches partners quickly.
    fn lower_ttl(&self) -> Draft {
        let ttl = self.intent.cutover_ttl;
        let (changes, operations) = self
            .moved
            .iter()
            .filter_map(|(rtype, name)| {
                self.cur
                    .rrset(name, *rtype)
                    .filter(|set| set.ttl > ttl)
                    .map(|set| self.replace(*rtype, name, ttl, set.data.clone()))
            })
            .unzip();
        Draft {
            arguments: args([
                ("ttl", Argument::Number(u64::from(ttl))),
                (
                    "records",
                    list(
                        self.moved
                            .iter()
                            .map(|(t, n)| format!("{n} {}", rtype_name(*t))),
                    ),
                ),
            ]),
            effect: Effect::Changes(changes),
            verify: format!(
                "authoritative answers for the moved records have TTL <= {ttl}; wait the old TTL before the cut-over"
            ),
            operations,
            ..Draft::new(Action::LowerTtl, Some(self.start.zone.clone()))
        }
    }

    /// A1 start-edge-services on every machine of the restored pool.
    fn start_edge_services(&self) -> Result<Draft, PlanError> {
        let pool = self.pool(&self.restored.fqdn)?;
        let stopped: Vec<_> = pool
            .machines
            .iter()
            .filter(|m| !m.services_running)
            .collect();
        Ok(Draft {
            arguments: args([(
                "machines",
                list(pool.machines.iter().map(|m| m.fqdn.clone())),
            )]),
            preconditions: vec![
                "the Edge machines are reachable and their certificates assigned".to_owned(),
            ],
            effect: Effect::Changes(
                stopped
                    .iter()
                    .map(|m| Change::ServicesRunning {
                        machine: m.fqdn.clone(),
                        running: true,
                    })
                    .collect(),
            ),
            verify: "every Lync service runs on each machine (Get-CsWindowsService)".to_owned(),
            operations: stopped
                .iter()
                .map(|m| {
                    Operation::StartServices(op::StartServices {
                        machine: m.fqdn.clone(),
                    })
                })
                .collect(),
            ..Draft::new(Action::StartEdgeServices, Some(pool.fqdn.clone()))
        })
    }

    /// The other Edge pools with federation enabled, which A2 disables.
    fn federation_elsewhere(&self) -> Vec<String> {
        self.cur
            .edge_pools
            .iter()
            .filter(|p| p.fqdn != self.restored.fqdn && p.federation_enabled)
            .map(|p| p.fqdn.clone())
            .collect()
    }

    /// Whether A4 and A5 reach `pool`'s machines. A failover leaves out a
    /// pool none of whose machines runs its services: the site that failed
    /// cannot replicate or run setup, and its pool's settings are applied when
    /// it is back (the failback's A5).
    fn reaches(&self, pool: &EdgePoolState) -> bool {
        self.intent.runbook == Runbook::Failback || pool.machines.iter().any(|m| m.services_running)
    }

    /// A2 set-federation-edge: one draft edit, federation off everywhere else
    /// and on here, so no published state has two; every site's federation
    /// route names the restored pool.
    fn set_federation_edge(&self) -> Result<Draft, PlanError> {
        let rfqdn = &self.restored.fqdn;
        let disable = self.federation_elsewhere();
        let mut settings: Vec<(String, bool)> =
            disable.iter().map(|p| (p.clone(), false)).collect();
        if !self.restored.federation_enabled {
            settings.push((rfqdn.clone(), true));
        }
        let mut changes: Vec<Change> = settings
            .iter()
            .map(|(edge_pool, enabled)| Change::Federation {
                edge_pool: edge_pool.clone(),
                enabled: *enabled,
            })
            .collect();
        let mut operations = Vec::new();
        let mut document = None;
        if !settings.is_empty() {
            let edits: Vec<TopologyEdit> = settings
                .into_iter()
                .map(|(edge_pool, enabled)| TopologyEdit::SetFederation { edge_pool, enabled })
                .collect();
            let name = self.next_draft();
            document = Some(self.write_draft(name.clone(), &edits)?);
            operations.push(Operation::EditDraft(op::EditDraft { edits, draft: name }));
            changes.push(Change::DraftPending { pending: true });
        }
        let (routes, set_routes) = self.routes_to_restored(RouteKind::Federation);
        changes.extend(routes);
        operations.extend(set_routes);
        Ok(Draft {
            arguments: args([
                ("enable", text(rfqdn.clone())),
                ("disable", list(disable)),
                ("federation_route", text(self.identity.to_string())),
            ]),
            preconditions: vec![format!("services run on every machine of `{rfqdn}` (A1)")],
            effect: Effect::Changes(changes),
            verify:
                "exactly one federation-enabled Edge pool in the draft; Get-CsSite FederationRoute"
                    .to_owned(),
            operations,
            document,
            ..Draft::new(Action::SetFederationEdge, Some(rfqdn.clone()))
        })
    }

    /// A3 publish-topology: publish the last draft against the version that was
    /// read, and enable it.
    fn publish_topology(&self) -> Result<Draft, PlanError> {
        let version = self.cur.topology_version;
        let mut changes = Vec::new();
        let mut operations = Vec::new();
        let mut publishes = None;
        if let Some(name) = self.drafts.keys().next_back() {
            operations.push(Operation::PublishTopology(op::PublishTopology {
                draft: name.clone(),
                expected_version: version,
            }));
            operations.push(Operation::EnableTopology(op::EnableTopology {
                version: next_version(version)?,
            }));
            changes.push(Change::TopologyVersion {
                version: next_version(version)?,
            });
            changes.push(Change::DraftPending { pending: false });
            changes.extend(stale_replicas(&self.cur));
            publishes = Some(name.clone());
        } else if self.cur.draft_pending {
            operations.push(Operation::EnableTopology(op::EnableTopology { version }));
            changes.push(Change::DraftPending { pending: false });
        }
        Ok(Draft {
            arguments: args([("expected_version", Argument::Number(version))]),
            preconditions: vec![
                "the management store has an active master".to_owned(),
                "the draft passes every invariant".to_owned(),
            ],
            effect: Effect::Changes(changes),
            verify:
                "the published version is the new one, enabled; the re-read topology has the edit"
                    .to_owned(),
            operations,
            publishes,
            ..Draft::new(Action::PublishTopology, None)
        })
    }

    /// A4 await-replication on every Edge machine (those of `pools` first), then
    /// A5 run-edge-setup on each machine of `pools`.
    fn replicate_and_set_up(&mut self, pools: &[String]) -> Result<(), PlanError> {
        self.push(self.await_replication(pools)?)?;
        for draft in self.run_edge_setup(pools)? {
            self.push(draft)?;
        }
        Ok(())
    }

    /// A4 await-replication: every Edge machine's replica up to date, those
    /// of `pools` listed first.
    fn await_replication(&self, pools: &[String]) -> Result<Draft, PlanError> {
        let mut ordered: Vec<&str> = pools.iter().map(String::as_str).collect();
        ordered.extend(
            self.cur
                .edge_pools
                .iter()
                .map(|p| p.fqdn.as_str())
                .filter(|p| !pools.iter().any(|q| q == p)),
        );
        let mut machines = Vec::new();
        for fqdn in &ordered {
            let pool = self.pool(fqdn)?;
            if self.reaches(&pool) {
                machines.extend(pool.machines);
            }
        }
        let stale: Vec<_> = machines.iter().filter(|m| !m.replica_up_to_date).collect();
        let version = self.cur.topology_version;
        Ok(Draft {
            arguments: args([
                ("machines", list(machines.iter().map(|m| m.fqdn.clone()))),
                ("topology_version", Argument::Number(version)),
            ]),
            preconditions: vec![format!("topology version {version} published and enabled")],
            effect: Effect::Changes(
                stale
                    .iter()
                    .map(|m| Change::ReplicaUpToDate {
                        machine: m.fqdn.clone(),
                        up_to_date: true,
                    })
                    .collect(),
            ),
            verify: "Get-CsManagementStoreReplicationStatus: UpToDate for each machine".to_owned(),
            // One replicate-and-wait for every stale replica of the step.
            operations: if stale.is_empty() {
                Vec::new()
            } else {
                vec![Operation::Replicate(op::Replicate {
                    fqdns: stale.iter().map(|m| m.fqdn.clone()).collect(),
                })]
            },
            ..Draft::new(Action::AwaitReplication, pools.first().cloned())
        })
    }

    /// A5 run-edge-setup ("Run Again") on each machine of `pools`: one step a
    /// machine.
    fn run_edge_setup(&self, pools: &[String]) -> Result<Vec<Draft>, PlanError> {
        let version = self.cur.topology_version;
        let mut drafts = Vec::new();
        for fqdn in pools {
            let pool = self.pool(fqdn)?;
            if !self.reaches(&pool) {
                continue;
            }
            for m in pool.machines {
                let due = m.setup_version < version;
                drafts.push(Draft {
                    arguments: args([
                        ("pool", text(fqdn.clone())),
                        ("topology_version", Argument::Number(version)),
                    ]),
                    preconditions: vec![
                        format!("topology version {version} published and enabled"),
                        format!("the replica on `{}` is up to date", m.fqdn),
                    ],
                    effect: Effect::Changes(if due {
                        vec![Change::SetupVersion {
                            machine: m.fqdn.clone(),
                            version,
                        }]
                    } else {
                        vec![]
                    }),
                    verify: format!("setup applied version {version}; services running"),
                    operations: vec![Operation::RunSetup(op::RunSetup {
                        machine: m.fqdn.clone(),
                        expected_version: version,
                    })],
                    ..Draft::new(Action::RunEdgeSetup, Some(m.fqdn.clone()))
                });
            }
        }
        Ok(drafts)
    }

    /// A6 repoint-sip-federation-dns: the SIP federation SRV (5061) and the
    /// Access Edge A set resolve to the restored pool.
    fn repoint_sip_federation_dns(&self) -> Draft {
        let (changes, operations) = self
            .targets
            .sip
            .iter()
            .filter_map(|(rtype, name, data)| self.rrset_to(*rtype, name, data))
            .unzip();
        let rfqdn = &self.restored.fqdn;
        Draft {
            arguments: args([
                (
                    "access_edge_fqdn",
                    text(self.restored.access_edge_fqdn.clone().unwrap_or_default()),
                ),
                ("addresses", list(self.restored.access_edge_ips.clone())),
                ("port", Argument::Number(u64::from(SIP_FEDERATION_PORT))),
            ]),
            preconditions: vec![
                format!("federation enabled on `{rfqdn}` and setup applied (A5)"),
                "the TTLs were lowered (A0)".to_owned(),
            ],
            effect: Effect::Changes(changes),
            verify: "external answers: the SRV (5061) targets the Access Edge FQDN, which resolves to the restored pool".to_owned(),
            operations,
            ..Draft::new(
                Action::RepointSipFederationDns,
                Some(sip_federation_srv(&self.start.zone)),
            )
        }
    }

    /// A7 set-xmpp-federation-route: every site's XMPP federation route names the
    /// restored pool.
    fn set_xmpp_federation_route(&self) -> Draft {
        let (changes, operations) = self.routes_to_restored(RouteKind::XmppFederation);
        Draft {
            arguments: args([("identity", text(self.identity.to_string()))]),
            preconditions: vec![format!(
                "services run on every machine of `{}` (A1)",
                self.restored.fqdn
            )],
            effect: Effect::Changes(changes),
            verify: "Get-CsSite: every site's XmppFederationRoute names the restored pool"
                .to_owned(),
            operations: operations.into_iter().collect(),
            ..Draft::new(
                Action::SetXmppFederationRoute,
                Some(self.intent.restored_site.clone()),
            )
        }
    }

    /// A9 set-xmpp-a-record: the SRV target's A (and AAAA) sets hold the
    /// restored pool's Access Edge IPs (not the failover pool's, DESIGN §1.1).
    fn set_xmpp_a_record(&self, addresses: &[RecordTarget]) -> Draft {
        let (changes, operations) = addresses
            .iter()
            .filter_map(|(rtype, name, data)| self.rrset_to(*rtype, name, data))
            .unzip();
        let name = addresses.first().map(|(_, name, _)| name.clone());
        Draft {
            arguments: args([("addresses", list(self.restored.access_edge_ips.clone()))]),
            preconditions: vec!["the TTLs were lowered (A0)".to_owned()],
            effect: Effect::Changes(changes),
            verify: format!(
                "external {} = the Access Edge IPs of `{}`",
                if addresses
                    .iter()
                    .any(|(rtype, _, _)| *rtype == RecordType::Aaaa)
                {
                    "A and AAAA answers"
                } else {
                    "A answer"
                },
                self.restored.fqdn
            ),
            operations,
            ..Draft::new(Action::SetXmppARecord, name)
        }
    }

    /// A8 ensure-xmpp-srv: `_xmpp-server._tcp` on port 5269, its target in the
    /// zone.
    fn ensure_xmpp_srv(&self, (rtype, name, data): &RecordTarget) -> Draft {
        let (changes, operations) = self.rrset_to(*rtype, name, data).into_iter().unzip();
        let srv_target = match data.first() {
            Some(RecordData::Srv(s)) => s.target.clone(),
            _ => String::new(),
        };
        Draft {
            arguments: args([
                ("port", Argument::Number(u64::from(XMPP_PORT))),
                ("target", text(srv_target)),
            ]),
            effect: Effect::Changes(changes),
            verify:
                "external SRV answer: port 5269, target in the zone resolving to the restored pool"
                    .to_owned(),
            operations,
            ..Draft::new(Action::EnsureXmppSrv, Some(name.clone()))
        }
    }

    /// A10 verify-xmpp-port: an XMPP server answers on TCP 5269 of each Access
    /// Edge IP. Planned after A1: when the port refused the connection on a
    /// pool whose services A1 starts, the plan counts on the port opening
    /// and the step's last probe makes it so in the predicted state — a
    /// postcondition the run verifies, halting if the port is still shut.
    /// A port that stays shut (filtered, or refused while the services
    /// already ran) is left shut, and the policies judge the route move
    /// against it (docs/policies.md).
    fn verify_xmpp_port(&self, snapshot: &Snapshot) -> Result<Draft, PlanError> {
        let pool = self.pool(&self.restored.fqdn)?;
        let started = !self.restored.services_running() && pool.services_running();
        let opens = !pool.xmpp_port_open
            && started
            && snapshot
                .xmpp_refused
                .contains(&pool.fqdn.to_ascii_lowercase());
        let last = pool.access_edge_ips.len().saturating_sub(1);
        let operations = pool
            .access_edge_ips
            .iter()
            .enumerate()
            .map(|(i, ip)| {
                Operation::Probe(op::Probe {
                    request: ProbeRequest {
                        host: ip.clone(),
                        port: XMPP_PORT,
                        kind: ProbeKind::XmppServer,
                        timeout_ms: PROBE_TIMEOUT_MS,
                        stream_to: Some(self.start.zone.clone()),
                    },
                    edge_pool: (opens && i == last).then(|| pool.fqdn.clone()),
                })
            })
            .collect();
        Ok(Draft {
            arguments: args([
                ("addresses", list(pool.access_edge_ips.clone())),
                ("port", Argument::Number(u64::from(XMPP_PORT))),
            ]),
            preconditions: vec![
                "the restored pool's Edge services run (A1), before the XMPP route moves to it (A7)"
                    .to_owned(),
            ],
            effect: if opens {
                Effect::Changes(vec![Change::XmppPortOpen {
                    edge_pool: pool.fqdn.clone(),
                    open: true,
                }])
            } else {
                Effect::Verifies {
                    holds: pool.xmpp_port_open,
                }
            },
            verify: "an XMPP server answers a jabber:server stream open on TCP 5269 of each Access Edge IP"
                .to_owned(),
            operations,
            ..Draft::new(Action::VerifyXmppPort, Some(pool.fqdn.clone()))
        })
    }

    /// A11 reassociate-front-ends: the restored site's Front End pools use the
    /// restored Edge pool for media again, with their own publish.
    fn reassociate_front_ends(&self) -> Result<Draft, PlanError> {
        let rfqdn = &self.restored.fqdn;
        let fe: Vec<String> = self
            .cur
            .front_end_pools
            .iter()
            .filter(|p| p.site == self.intent.restored_site)
            .filter(|p| p.media_edge_pool.as_deref() != Some(rfqdn.as_str()))
            .map(|p| p.fqdn.clone())
            .collect();
        let mut changes = Vec::new();
        let mut operations = Vec::new();
        let mut document = None;
        let mut publishes = None;
        if !fe.is_empty() {
            let edits: Vec<TopologyEdit> = fe
                .iter()
                .map(|f| TopologyEdit::SetMediaEdgePool {
                    front_end_pool: f.clone(),
                    edge_pool: rfqdn.clone(),
                })
                .collect();
            let name = self.next_draft();
            let version = self.cur.topology_version;
            document = Some(self.write_draft(name.clone(), &edits)?);
            publishes = Some(name.clone());
            operations.push(Operation::EditDraft(op::EditDraft {
                edits,
                draft: name.clone(),
            }));
            operations.push(Operation::PublishTopology(op::PublishTopology {
                draft: name,
                expected_version: version,
            }));
            operations.push(Operation::EnableTopology(op::EnableTopology {
                version: next_version(version)?,
            }));
            changes.extend(fe.iter().map(|f| Change::MediaEdgePool {
                front_end_pool: f.clone(),
                edge_pool: Some(rfqdn.clone()),
            }));
            changes.push(Change::TopologyVersion {
                version: next_version(version)?,
            });
            changes.extend(stale_replicas(&self.cur));
        }
        Ok(Draft {
            arguments: args([
                ("edge_pool", text(rfqdn.clone())),
                ("front_end_pools", list(fe)),
            ]),
            preconditions: vec![
                format!("`{rfqdn}` is healthy: services running, federation settled"),
                "the management store has an active master".to_owned(),
            ],
            effect: Effect::Changes(changes),
            verify: "re-read topology: ConfServices and MediationServer depend on the restored pool's EdgeServer".to_owned(),
            operations,
            document,
            publishes,
            ..Draft::new(
                Action::ReassociateFrontEnds,
                Some(self.intent.restored_site.clone()),
            )
        })
    }

    /// A12 pool-failback: `Invoke-CsPoolFailback` for each Front End pool of
    /// the restored site, a step each.
    fn pool_failback(&self) -> Vec<Draft> {
        self.cur
            .front_end_pools
            .iter()
            .filter(|p| p.site == self.intent.restored_site)
            .map(|p| {
                let pool_fqdn = p.failover_fqdn.clone().unwrap_or_else(|| p.fqdn.clone());
                Draft {
                    arguments: args([("pool_fqdn", text(pool_fqdn.clone()))]),
                    preconditions: vec![
                        format!("`{}` is failed over and its servers are online", p.fqdn),
                        "the management store has an active master".to_owned(),
                        format!("no Edge pool has `{}` as next hop", p.fqdn),
                    ],
                    effect: Effect::Changes(if p.state == PoolState::Normal {
                        vec![]
                    } else {
                        vec![Change::PoolState {
                            front_end_pool: p.fqdn.clone(),
                            state: PoolState::Normal,
                        }]
                    }),
                    verify: "pool state normal; the pool's users sign in to it again".to_owned(),
                    operations: vec![Operation::PoolFailback(op::PoolFailback { pool_fqdn })],
                    ..Draft::new(Action::PoolFailback, Some(p.fqdn.clone()))
                }
            })
            .collect()
    }

    /// A14 restore-next-hop: in a new draft, the restored pool's next hop back
    /// to `front_end_pool` of its own site (the failover moved it to the other
    /// site's Front End pool, as the pool-failover procedure requires); A3
    /// publishes it, and setup (A5) applies it on the Edge machines.
    fn restore_next_hop(&self, front_end_pool: &str) -> Result<Draft, PlanError> {
        let rfqdn = &self.restored.fqdn;
        let pool = self.pool(rfqdn)?;
        let mut changes = Vec::new();
        let mut operations = Vec::new();
        let mut document = None;
        if !pool
            .next_hop
            .as_deref()
            .is_some_and(|hop| hop.eq_ignore_ascii_case(front_end_pool))
        {
            let edits = vec![TopologyEdit::SetNextHop {
                edge_pool: rfqdn.clone(),
                next_hop: front_end_pool.to_owned(),
            }];
            let name = self.next_draft();
            document = Some(self.write_draft(name.clone(), &edits)?);
            operations.push(Operation::EditDraft(op::EditDraft { edits, draft: name }));
            changes.push(Change::NextHop {
                edge_pool: rfqdn.clone(),
                next_hop: Some(front_end_pool.to_owned()),
            });
            changes.push(Change::DraftPending { pending: true });
        }
        Ok(Draft {
            arguments: args([("next_hop", text(front_end_pool))]),
            preconditions: vec![format!(
                "`{front_end_pool}` is failed back (A12): online and in the normal state"
            )],
            effect: Effect::Changes(changes),
            verify: format!(
                "re-read topology: the EdgeServer of `{rfqdn}` depends on the Registrar of `{front_end_pool}`"
            ),
            operations,
            document,
            ..Draft::new(Action::RestoreNextHop, Some(rfqdn.clone()))
        })
    }

    /// A13 restore-ttl: the moved sets (and those an unfinished run lowered)
    /// back at their original TTLs.
    fn restore_ttl(&self) -> Draft {
        let record_ttl = self.intent.record_ttl;
        let (changes, operations) = self
            .original_ttls
            .iter()
            .filter_map(|((name, rtype), ttl)| {
                let ttl = ttl.unwrap_or(record_ttl);
                self.cur
                    .rrset(name, *rtype)
                    .filter(|cur| cur.ttl != ttl)
                    .map(|cur| self.replace(*rtype, name, ttl, cur.data.clone()))
            })
            .unzip();
        Draft {
            arguments: args([(
                "records",
                list(self.original_ttls.iter().map(|((n, t), ttl)| {
                    format!("{n} {} {}", rtype_name(*t), ttl.unwrap_or(record_ttl))
                })),
            )]),
            preconditions: vec!["the cut-over is verified".to_owned()],
            effect: Effect::Changes(changes),
            verify: "authoritative answers have the original TTLs".to_owned(),
            operations,
            ..Draft::new(Action::RestoreTtl, Some(self.start.zone.clone()))
        }
    }

    /// Every site whose route of `kind` does not name the restored pool yet:
    /// the changes that point them there, and the one operation that sets
    /// them all (none when every site already routes there).
    fn routes_to_restored(&self, kind: RouteKind) -> (Vec<Change>, Option<Operation>) {
        let routes: Vec<RouteChange> = self
            .cur
            .sites
            .iter()
            .filter(|s| s.route(kind) != Some(&self.identity))
            .map(|s| RouteChange {
                site: s.name.clone(),
                kind,
                identity: Some(self.identity.clone()),
            })
            .collect();
        let changes = routes.iter().cloned().map(Change::Route).collect();
        let operation = (!routes.is_empty())
            .then_some(routes)
            .map(|routes| Operation::SetSiteRoutes(op::SetSiteRoutes { routes }));
        (changes, operation)
    }

    /// The draft `name`: the topology the next draft is written on
    /// ([`Published`]) with `edits` made.
    fn write_draft(&self, name: String, edits: &[TopologyEdit]) -> Result<Written, TopologyError> {
        let observed = self.published.observed;
        let Some((published, read)) = &self.published.draft else {
            return Ok(Written {
                name,
                xml: observed.edit(edits)?,
                edits: Some(edits.to_vec()),
            });
        };
        if let Some(earlier) = self.draft_edits.get(published)
            && let Some(xml) = observed.edit_after(earlier, edits)
        {
            return Ok(Written {
                name,
                xml,
                edits: Some([earlier.as_slice(), edits].concat()),
            });
        }
        // A published draft is one of `drafts` (`push` adds a step's draft
        // before it publishes it).
        let text = self.drafts.get(published).map_or("", String::as_str);
        let topology = read
            .get_or_init(|| Topology::parse(text))
            .as_ref()
            .map_err(TopologyError::clone)?;
        Ok(Written {
            name,
            xml: topology.edit(edits)?,
            edits: None,
        })
    }

    /// The name of the next topology draft (`draft-1`).
    fn next_draft(&self) -> String {
        format!("draft-{}", self.drafts.len() + 1)
    }

    fn pool(&self, fqdn: &str) -> Result<EdgePoolState, PlanError> {
        self.cur
            .edge_pool(fqdn)
            .cloned()
            .ok_or_else(|| PlanError::UnknownPool(fqdn.to_owned()))
    }

    /// The change and operation that make rrset (`name`, `rtype`) hold `data`
    /// at the cut-over TTL (or lower, if it already is).
    fn rrset_to(
        &self,
        rtype: RecordType,
        name: &str,
        data: &[RecordData],
    ) -> Option<(Change, Operation)> {
        let current = self.cur.rrset(name, rtype);
        if data.is_empty() {
            return current.map(|_| self.delete(rtype, name));
        }
        if current.is_some_and(|c| c.data == data) {
            return None;
        }
        let ttl = current.map_or(self.intent.cutover_ttl, |c| {
            c.ttl.min(self.intent.cutover_ttl)
        });
        Some(self.replace(rtype, name, ttl, data.to_vec()))
    }

    fn delete(&self, rtype: RecordType, name: &str) -> (Change, Operation) {
        (
            Change::Rrset(RrSet {
                name: name.to_owned(),
                rtype,
                ttl: 0,
                data: Vec::new(),
            }),
            Operation::DeleteRrset(op::DeleteRrset {
                zone: self.cur.zone.clone(),
                name: name.to_owned(),
                rtype,
            }),
        )
    }

    fn replace(
        &self,
        rtype: RecordType,
        name: &str,
        ttl: u32,
        data: Vec<RecordData>,
    ) -> (Change, Operation) {
        (
            Change::Rrset(RrSet {
                name: name.to_owned(),
                rtype,
                ttl,
                data: data.clone(),
            }),
            Operation::ReplaceRrset(op::ReplaceRrset {
                zone: self.cur.zone.clone(),
                name: name.to_owned(),
                rtype,
                ttl,
                data,
            }),
        )
    }
}

fn args<const N: usize>(pairs: [(&str, Argument); N]) -> BTreeMap<String, Argument> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn text(s: impl Into<String>) -> Argument {
    Argument::Text(s.into())
}

fn list<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Argument {
    Argument::List(items.into_iter().map(Into::into).collect())
}
