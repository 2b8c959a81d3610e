//! Test support: the contoso deployment of the source runbook, as a state
//! builder, the failback plan over it, and short constructors for steps,
//! changes and record sets. Used by the modules' native tests and, later, by
//! the host's tests; nothing here runs in a policy module.
//!
//! Site1 holds the restored Edge pool `edgepool1.contoso.com`
//! (`edgeserver1.contoso.com`, Access Edge 131.107.155.10) and the Front End
//! pool `fepool1.contoso.com`; Site2 holds `edgepool2.contoso.com`
//! (`edgeserver2.contoso.com`, 131.107.155.20), to which federation and XMPP
//! failed over, and `fepool2.contoso.com`.

use crate::{
    Action, Change, EdgeMachine, EdgePool, Finding, FrontEndPool, Goal, NextHopGoal, PoolState,
    RecordData, RecordType, RouteChange, RouteKind, Rrset, Rule, Site, SrvData, State, Step, check,
};

pub const ZONE: &str = "contoso.com";
pub const EDGEPOOL1: &str = "edgepool1.contoso.com";
pub const EDGEPOOL2: &str = "edgepool2.contoso.com";
pub const EDGESERVER1: &str = "edgeserver1.contoso.com";
pub const EDGESERVER2: &str = "edgeserver2.contoso.com";
pub const EDGEPOOL1_IP: &str = "131.107.155.10";
pub const EDGEPOOL2_IP: &str = "131.107.155.20";
pub const FEPOOL1: &str = "fepool1.contoso.com";
pub const FEPOOL2: &str = "fepool2.contoso.com";
pub const SIP_SRV_NAME: &str = "_sipfederationtls._tcp.contoso.com";
pub const XMPP_SRV_NAME: &str = "_xmpp-server._tcp.contoso.com";
pub const SIP_A: &str = "sip.contoso.com";
pub const XMPP_A: &str = "xmpp.contoso.com";
/// The TTL of the zone's records before they are lowered.
pub const TTL: u32 = 3600;
/// The goal's cut-over TTL.
pub const CUTOVER_TTL: u32 = 300;

fn edge_pool(
    fqdn: &str,
    site: &str,
    machine: &str,
    ip: &str,
    federated: bool,
    running: bool,
) -> EdgePool {
    EdgePool {
        fqdn: fqdn.to_owned(),
        site: site.to_owned(),
        federation_enabled: federated,
        next_hop: Some(FEPOOL2.to_owned()),
        access_edge_fqdn: Some(if federated { SIP_A } else { "sip1.contoso.com" }.to_owned()),
        access_edge_ips: vec![ip.to_owned()],
        machines: vec![EdgeMachine {
            fqdn: machine.to_owned(),
            services_running: running,
            replica_up_to_date: true,
            setup_version: 7,
        }],
        xmpp_port_open: true,
    }
}

fn route(pool: &str) -> Option<String> {
    Some(format!("EdgeServer:{pool}"))
}

/// The start of the failback: federation, XMPP and both sites' routes on
/// edgepool2, DNS pointing at edgepool2 (TTL 3600), edgepool1's services
/// stopped, fepool1 failed over to fepool2 (both Edge pools' next hop is
/// fepool2), topology version 7 published. Every safety invariant holds.
pub fn contoso_failed_over() -> State {
    State {
        sites: vec![
            Site {
                name: "Site1".to_owned(),
                federation_route: route(EDGEPOOL2),
                xmpp_federation_route: route(EDGEPOOL2),
            },
            Site {
                name: "Site2".to_owned(),
                federation_route: route(EDGEPOOL2),
                xmpp_federation_route: route(EDGEPOOL2),
            },
        ],
        edge_pools: vec![
            edge_pool(EDGEPOOL1, "Site1", EDGESERVER1, EDGEPOOL1_IP, false, false),
            edge_pool(EDGEPOOL2, "Site2", EDGESERVER2, EDGEPOOL2_IP, true, true),
        ],
        front_end_pools: vec![
            FrontEndPool {
                fqdn: FEPOOL1.to_owned(),
                site: "Site1".to_owned(),
                media_edge_pool: Some(EDGEPOOL2.to_owned()),
                state: PoolState::FailedOver,
                failover_fqdn: Some(FEPOOL1.to_owned()),
                online: true,
            },
            FrontEndPool {
                fqdn: FEPOOL2.to_owned(),
                site: "Site2".to_owned(),
                media_edge_pool: Some(EDGEPOOL2.to_owned()),
                state: PoolState::Normal,
                failover_fqdn: None,
                online: true,
            },
        ],
        zone: ZONE.to_owned(),
        dns: vec![
            srv(SIP_SRV_NAME, 5061, SIP_A),
            a(SIP_A, EDGEPOOL2_IP),
            srv(XMPP_SRV_NAME, 5269, XMPP_A),
            a(XMPP_A, EDGEPOOL2_IP),
        ],
        cms_available: true,
        topology_version: 7,
        draft_pending: false,
    }
}

/// The state the failback plan of [`failback_plan`] ends in.
pub fn contoso_failed_back() -> State {
    crate::reference::states(&contoso_failed_over(), &failback_plan())
        .pop()
        .unwrap_or_else(contoso_failed_over)
}

/// Fail everything back to Site1's pools.
pub fn goal() -> Goal {
    Goal {
        restored_site: "Site1".to_owned(),
        federation_pool: Some(EDGEPOOL1.to_owned()),
        xmpp_pool: Some(EDGEPOOL1.to_owned()),
        media_edge_pool: Some(EDGEPOOL1.to_owned()),
        cutover_ttl: CUTOVER_TTL,
        next_hop: None,
    }
}

/// [`goal`] with the restored next hop: edgepool1 back on fepool1 (A14,
/// invariant 14).
pub fn next_hop_goal() -> Goal {
    Goal {
        next_hop: Some(NextHopGoal {
            edge_pool: EDGEPOOL1.to_owned(),
            front_end_pool: FEPOOL1.to_owned(),
        }),
        ..goal()
    }
}

/// The failback of DESIGN §1 over [`contoso_failed_over`], in the runbook's
/// order, one step per action (A5 once per Edge machine): A0 lower-ttl, A1
/// start-edge-services, A2 set-federation-edge (the flag and the federation
/// routes, in the draft), A3 publish-topology, A4 await-replication, A5
/// run-edge-setup on edgeserver1 then edgeserver2, A6
/// repoint-sip-federation-dns, A7 set-xmpp-federation-route, A8 ensure-xmpp-srv
/// (satisfied: the SRV already has port 5269 and targets `xmpp.contoso.com`),
/// A9 set-xmpp-a-record, A10 verify-xmpp-port, A11 reassociate-front-ends
/// (and publish), A12 pool-failback, A13 restore-ttl: 15 steps, states 0 to 15.
///
/// DNS moves in its own steps, after the routing it follows: from A2 to A6
/// federation is on edgepool1 while `sip.contoso.com` still answers
/// edgepool2, and from A7 to A9 the XMPP route names edgepool1 while
/// `xmpp.contoso.com` still answers edgepool2. The DNS rules of invariants 6,
/// 7 and 8 judge DNS against routing on the start, after each DNS step and at
/// the end only (`Scope::RestOrDnsStep`), so the plan passes every rule.
/// Find a step by its action with [`position`].
pub fn failback_plan() -> Vec<Step> {
    let ttl = CUTOVER_TTL;
    vec![
        // A0
        step(Action::LowerTtl)
            .target(ZONE)
            .change(Change::Rrset(with_ttl(srv(SIP_SRV_NAME, 5061, SIP_A), ttl)))
            .change(Change::Rrset(with_ttl(a(SIP_A, EDGEPOOL2_IP), ttl)))
            .change(Change::Rrset(with_ttl(
                srv(XMPP_SRV_NAME, 5269, XMPP_A),
                ttl,
            )))
            .change(Change::Rrset(with_ttl(a(XMPP_A, EDGEPOOL2_IP), ttl)))
            .into(),
        // A1
        step(Action::StartEdgeServices)
            .target(EDGEPOOL1)
            .change(Change::ServicesRunning((EDGESERVER1.to_owned(), true)))
            .into(),
        // A2: one topology edit, so no state has two federated pools.
        step(Action::SetFederationEdge)
            .target(EDGEPOOL1)
            .change(Change::Federation((EDGEPOOL2.to_owned(), false)))
            .change(Change::Federation((EDGEPOOL1.to_owned(), true)))
            .change(route_change("Site1", RouteKind::Federation, EDGEPOOL1))
            .change(route_change("Site2", RouteKind::Federation, EDGEPOOL1))
            .change(Change::DraftPending(true))
            .into(),
        // A3: publishing leaves every Edge machine's replica behind.
        step(Action::PublishTopology)
            .change(Change::TopologyVersion(8))
            .change(Change::DraftPending(false))
            .change(Change::ReplicaUpToDate((EDGESERVER1.to_owned(), false)))
            .change(Change::ReplicaUpToDate((EDGESERVER2.to_owned(), false)))
            .into(),
        // A4
        step(Action::AwaitReplication)
            .target(EDGEPOOL1)
            .change(Change::ReplicaUpToDate((EDGESERVER1.to_owned(), true)))
            .change(Change::ReplicaUpToDate((EDGESERVER2.to_owned(), true)))
            .into(),
        // A5, per machine.
        step(Action::RunEdgeSetup)
            .target(EDGESERVER1)
            .change(Change::SetupVersion((EDGESERVER1.to_owned(), 8)))
            .into(),
        step(Action::RunEdgeSetup)
            .target(EDGESERVER2)
            .change(Change::SetupVersion((EDGESERVER2.to_owned(), 8)))
            .into(),
        // A6: the SRV already targets sip.contoso.com on 5061; its A record moves.
        step(Action::RepointSipFederationDns)
            .target(SIP_SRV_NAME)
            .change(Change::Rrset(with_ttl(a(SIP_A, EDGEPOOL1_IP), ttl)))
            .into(),
        // A7
        step(Action::SetXmppFederationRoute)
            .target("Site1")
            .change(route_change("Site1", RouteKind::XmppFederation, EDGEPOOL1))
            .change(route_change("Site2", RouteKind::XmppFederation, EDGEPOOL1))
            .into(),
        // A8, satisfied.
        step(Action::EnsureXmppSrv).target(XMPP_SRV_NAME).into(),
        // A9
        step(Action::SetXmppARecord)
            .target(XMPP_A)
            .change(Change::Rrset(with_ttl(a(XMPP_A, EDGEPOOL1_IP), ttl)))
            .into(),
        // A10
        step(Action::VerifyXmppPort)
            .target(EDGEPOOL1)
            .change(Change::XmppPortOpen((EDGEPOOL1.to_owned(), true)))
            .into(),
        // A11, published.
        step(Action::ReassociateFrontEnds)
            .target("Site1")
            .change(Change::MediaEdgePool((
                FEPOOL1.to_owned(),
                Some(EDGEPOOL1.to_owned()),
            )))
            .change(Change::TopologyVersion(9))
            .change(Change::DraftPending(false))
            .into(),
        // A12
        step(Action::PoolFailback)
            .target(FEPOOL1)
            .argument(FEPOOL1)
            .change(Change::PoolState((FEPOOL1.to_owned(), PoolState::Normal)))
            .into(),
        // A13
        step(Action::RestoreTtl)
            .target(ZONE)
            .change(Change::Rrset(srv(SIP_SRV_NAME, 5061, SIP_A)))
            .change(Change::Rrset(a(SIP_A, EDGEPOOL1_IP)))
            .change(Change::Rrset(srv(XMPP_SRV_NAME, 5269, XMPP_A)))
            .change(Change::Rrset(a(XMPP_A, EDGEPOOL1_IP)))
            .into(),
    ]
}

/// [`failback_plan`] with the next hop restored after A12, before A13: A14
/// restore-next-hop (edgepool1's next hop from fepool2 back to fepool1, in
/// a draft), A3 publish-topology, A4 await-replication, A5 run-edge-setup on
/// each Edge machine: 20 steps, states 0 to 20. Judged with [`next_hop_goal`].
pub fn failback_plan_restoring_next_hop() -> Vec<Step> {
    let mut steps = failback_plan();
    let restore_ttl = steps.pop();
    steps.extend([
        // A14
        step(Action::RestoreNextHop)
            .target(EDGEPOOL1)
            .change(Change::NextHop((
                EDGEPOOL1.to_owned(),
                Some(FEPOOL1.to_owned()),
            )))
            .change(Change::DraftPending(true))
            .into(),
        // A3
        step(Action::PublishTopology)
            .change(Change::TopologyVersion(10))
            .change(Change::DraftPending(false))
            .change(Change::ReplicaUpToDate((EDGESERVER1.to_owned(), false)))
            .change(Change::ReplicaUpToDate((EDGESERVER2.to_owned(), false)))
            .into(),
        // A4
        step(Action::AwaitReplication)
            .target(EDGEPOOL1)
            .change(Change::ReplicaUpToDate((EDGESERVER1.to_owned(), true)))
            .change(Change::ReplicaUpToDate((EDGESERVER2.to_owned(), true)))
            .into(),
        // A5, per machine.
        step(Action::RunEdgeSetup)
            .target(EDGESERVER1)
            .change(Change::SetupVersion((EDGESERVER1.to_owned(), 10)))
            .into(),
        step(Action::RunEdgeSetup)
            .target(EDGESERVER2)
            .change(Change::SetupVersion((EDGESERVER2.to_owned(), 10)))
            .into(),
    ]);
    steps.extend(restore_ttl);
    steps
}

/// The index in `steps` of the first step of `action`; the state it leads to
/// is this plus one. Panics (fails the test) when there is none.
#[allow(clippy::panic, reason = "test support: a missing step fails the test")]
pub fn position(steps: &[Step], action: Action) -> usize {
    steps
        .iter()
        .position(|step| step.action == action)
        .unwrap_or_else(|| panic!("no {action:?} step in the plan"))
}

/// A step under construction.
#[derive(Debug, Clone)]
pub struct StepBuilder(Step);

/// Start a step of `action` with no target and no change.
pub fn step(action: Action) -> StepBuilder {
    StepBuilder(Step {
        action,
        target: None,
        argument: None,
        changes: Vec::new(),
    })
}

impl StepBuilder {
    #[must_use]
    pub fn target(mut self, target: &str) -> Self {
        self.0.target = Some(target.to_owned());
        self
    }
    #[must_use]
    pub fn argument(mut self, argument: &str) -> Self {
        self.0.argument = Some(argument.to_owned());
        self
    }
    #[must_use]
    pub fn change(mut self, change: Change) -> Self {
        self.0.changes.push(change);
        self
    }
}

impl From<StepBuilder> for Step {
    fn from(builder: StepBuilder) -> Self {
        builder.0
    }
}

/// A route change to `EdgeServer:<pool>`.
pub fn route_change(site: &str, kind: RouteKind, pool: &str) -> Change {
    Change::Route(RouteChange {
        site: site.to_owned(),
        kind,
        identity: route(pool),
    })
}

/// An A record set of one address, TTL [`TTL`].
pub fn a(name: &str, ip: &str) -> Rrset {
    Rrset {
        name: name.to_owned(),
        rtype: RecordType::A,
        ttl: TTL,
        data: vec![RecordData::A(ip.to_owned())],
    }
}

/// A CNAME record set, TTL [`TTL`].
pub fn cname(name: &str, target: &str) -> Rrset {
    Rrset {
        name: name.to_owned(),
        rtype: RecordType::Cname,
        ttl: TTL,
        data: vec![RecordData::Cname(target.to_owned())],
    }
}

/// An SRV record set of one record (priority 0, weight 0), TTL [`TTL`].
pub fn srv(name: &str, port: u16, target: &str) -> Rrset {
    Rrset {
        name: name.to_owned(),
        rtype: RecordType::Srv,
        ttl: TTL,
        data: vec![RecordData::Srv(SrvData {
            priority: 0,
            weight: 0,
            port,
            target: target.to_owned(),
        })],
    }
}

/// `rrset` with its TTL set to `ttl`.
pub fn with_ttl(mut rrset: Rrset, ttl: u32) -> Rrset {
    rrset.ttl = ttl;
    rrset
}

/// The record set `name`/`rtype` of `state`, to edit in a test.
pub fn rrset_mut<'a>(state: &'a mut State, name: &str, rtype: RecordType) -> Option<&'a mut Rrset> {
    state
        .dns
        .iter_mut()
        .find(|set| set.name == name && set.rtype == rtype)
}

/// The Edge pool `fqdn` of `state`, to edit in a test.
pub fn pool_mut<'a>(state: &'a mut State, fqdn: &str) -> Option<&'a mut EdgePool> {
    state.edge_pools.iter_mut().find(|pool| pool.fqdn == fqdn)
}

/// The site `name` of `state`, to edit in a test.
pub fn site_mut<'a>(state: &'a mut State, name: &str) -> Option<&'a mut Site> {
    state.sites.iter_mut().find(|site| site.name == name)
}

/// The Front End pool `fqdn` of `state`, to edit in a test.
pub fn front_end_mut<'a>(state: &'a mut State, fqdn: &str) -> Option<&'a mut FrontEndPool> {
    state
        .front_end_pools
        .iter_mut()
        .find(|pool| pool.fqdn == fqdn)
}

/// `(rule, state)` of every finding of `rules` on the trajectory, for asserts.
pub fn fired(rules: &[Rule], goal: Goal, start: State, steps: Vec<Step>) -> Vec<(String, u32)> {
    check(rules, goal, start, steps)
        .into_iter()
        .map(|Finding { rule, state, .. }| (rule, state))
        .collect()
}
