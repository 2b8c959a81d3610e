//! Shared by the policy property test (`tests/policy_property.rs`) and the
//! policy benchmark (`benches/policy.rs`): a lab opened through the library
//! (core's lab files and the lab plugins in a temporary directory, observed
//! through the runtime, planned by core), the policy gate over the standard
//! modules, the core model converted to the policy SDK's WIT types (to run
//! the rules natively), and a generated N-pool deployment.

#![allow(dead_code, reason = "each of the two users takes the part it needs")]

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use cap_std::fs::Dir;
use failback_core::deployment::{
    Change, Deployment, EdgeMachineState, EdgePoolState, FrontEndPoolState, RrSet, SiteRoutes,
    assemble,
};
use failback_core::intent::{Intent, IntentFlags};
use failback_core::lab::{self, Scenario};
use failback_core::observed::{PoolState, RecordData, RecordType, RouteKind, SrvData};
use failback_core::plan::{Action, Goal, Plan, Step, StepStatus, plan};
use failback_guests::Group;
use failback_policy_sdk as sdk;
use failback_runtime::manifest::Manifest;
use failback_runtime::{
    ComponentCache, Environment, Gate, NullAuditSink, PolicyBindings, PolicyComponent, Runtime,
    RuntimeOptions, TrustPolicy, observe,
};

/// A lab scenario opened and planned through the library, with the gate of
/// the standard policy modules.
pub struct Lab {
    _dir: tempfile::TempDir,
    _cache_dir: tempfile::TempDir,
    pub runtime: Runtime,
    pub gate: Gate,
    pub plan: Plan,
}

/// Write the lab of `scenario` into a temporary directory (as `failback lab
/// init` does: core's files, the lab plugins, an environment granting each
/// what its manifest requests), observe it, plan the default failback and load
/// the gate.
pub fn open(scenario: Scenario) -> Lab {
    open_with(scenario, RuntimeOptions::default(), None)
}

/// [`open`] with a runtime of `options`, compiling into the cache at `cache`
/// (a temporary one when `None`).
pub fn open_with(scenario: Scenario, options: RuntimeOptions, cache: Option<&Path>) -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let root = Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
    for (file, bytes) in lab::files(scenario) {
        put(&root, &file, &bytes);
    }
    root.create_dir_all("writes").unwrap();
    let mut env = format!(
        "[environment]\nname = \"lab\"\nzone = \"{}\"\n",
        lab::LAB_ZONE
    );
    for guest in failback_guests::STANDARD
        .iter()
        .filter(|g| g.group == Group::Plugin && g.package.starts_with("failback-lab-"))
    {
        let text = guest.manifest.unwrap();
        let manifest = Manifest::parse(text).unwrap();
        let component = format!("plugins/{}.wasm", manifest.name);
        let manifest_file = format!("plugins/{}.plugin.toml", manifest.name);
        put(&root, &component, guest.bytes);
        put(&root, &manifest_file, text.as_bytes());
        let kind = manifest.role.name();
        let sha256 = manifest.sha256.unwrap();
        let _ = write!(
            env,
            "\n[plugins.{kind}]\npath = \"{component}\"\nsha256 = \"{sha256}\"\nmanifest = \"{manifest_file}\"\nmanifest-sha256 = \"{}\"\n",
            failback_runtime::Digest::of(text.as_bytes())
        );
        if !manifest.capabilities.dirs.is_empty() {
            let _ = writeln!(env, "[plugins.{kind}.grants.dirs]");
            for request in &manifest.capabilities.dirs {
                let _ = writeln!(
                    env,
                    "{} = {{ path = \"{}\", mode = \"{}\" }}",
                    request.name, request.name, request.mode
                );
            }
        }
    }
    put(&root, failback_runtime::ENVIRONMENT_FILE, env.as_bytes());

    let cache_dir = tempfile::tempdir().unwrap();
    let cache = ComponentCache::open(cache.unwrap_or(cache_dir.path())).unwrap();
    let runtime = Runtime::with_options(Arc::new(NullAuditSink), options).unwrap();
    let environment = Environment::load(&root, failback_runtime::ENVIRONMENT_FILE).unwrap();
    let plugins = runtime
        .load_plugins(&environment, &TrustPolicy::open(), &root, &cache, &|_| None)
        .unwrap()
        .complete()
        .unwrap();
    let snapshot = assemble(&observe(&plugins, &environment.zone).unwrap()).unwrap();
    let intent = Intent::resolve(&IntentFlags::default(), &snapshot.deployment).unwrap();
    let plan = plan(&snapshot, &intent).unwrap();
    let gate = standard_gate(&runtime, &cache, &root);
    Lab {
        _dir: dir,
        _cache_dir: cache_dir,
        runtime,
        gate,
        plan,
    }
}

/// The gate of the standard policy module at its rules' default levels.
pub fn standard_gate(runtime: &Runtime, cache: &ComponentCache, dir: &Dir) -> Gate {
    let standard: Vec<PolicyComponent> = failback_guests::STANDARD
        .iter()
        .filter(|g| g.group == Group::Policy)
        .map(|g| PolicyComponent {
            name: g.package,
            bytes: g.bytes,
            sha256: g.sha256.parse().unwrap(),
        })
        .collect();
    assert_eq!(
        standard.iter().map(|c| c.name).collect::<Vec<_>>(),
        ["failback-policies"],
        "the standard policy module"
    );
    Gate::load(
        runtime,
        cache,
        &standard,
        &PolicyBindings::parse(None).unwrap(),
        &TrustPolicy::open(),
        dir,
    )
    .unwrap()
}

fn put(dir: &Dir, file: &str, bytes: &[u8]) {
    if let Some(parent) = std::path::Path::new(file).parent()
        && !parent.as_os_str().is_empty()
    {
        dir.create_dir_all(parent).unwrap();
    }
    dir.write(file, bytes).unwrap();
}

/// The planned steps of a plan, renumbered 1..: what a hand-made or mutated
/// sequence looks like to the gate.
pub fn planned(steps: &[Step]) -> Vec<Step> {
    steps
        .iter()
        .filter(|s| s.status == StepStatus::Planned)
        .cloned()
        .enumerate()
        .map(|(i, mut s)| {
            s.index = i + 1;
            s
        })
        .collect()
}

/// The core model as the policy SDK's (native) WIT types.
pub mod native {
    use super::*;

    pub fn state(d: &Deployment) -> sdk::State {
        sdk::State {
            sites: d.sites.iter().map(site).collect(),
            edge_pools: d.edge_pools.iter().map(edge_pool).collect(),
            front_end_pools: d.front_end_pools.iter().map(front_end_pool).collect(),
            zone: d.zone.clone(),
            dns: d.dns.iter().map(rrset).collect(),
            cms_available: d.cms_available,
            topology_version: d.topology_version,
            draft_pending: d.draft_pending,
        }
    }

    fn site(s: &SiteRoutes) -> sdk::Site {
        sdk::Site {
            name: s.name.clone(),
            federation_route: s.federation_route.as_ref().map(ToString::to_string),
            xmpp_federation_route: s.xmpp_federation_route.as_ref().map(ToString::to_string),
        }
    }

    fn edge_pool(p: &EdgePoolState) -> sdk::EdgePool {
        sdk::EdgePool {
            fqdn: p.fqdn.clone(),
            site: p.site.clone(),
            federation_enabled: p.federation_enabled,
            next_hop: p.next_hop.clone(),
            access_edge_fqdn: p.access_edge_fqdn.clone(),
            access_edge_ips: p.access_edge_ips.clone(),
            machines: p.machines.iter().map(machine).collect(),
            xmpp_port_open: p.xmpp_port_open,
        }
    }

    fn machine(m: &EdgeMachineState) -> sdk::EdgeMachine {
        sdk::EdgeMachine {
            fqdn: m.fqdn.clone(),
            services_running: m.services_running,
            replica_up_to_date: m.replica_up_to_date,
            setup_version: m.setup_version,
        }
    }

    fn pool_state(s: PoolState) -> sdk::PoolState {
        match s {
            PoolState::Normal => sdk::PoolState::Normal,
            PoolState::FailedOver => sdk::PoolState::FailedOver,
            PoolState::FailingBack => sdk::PoolState::FailingBack,
        }
    }

    fn front_end_pool(p: &FrontEndPoolState) -> sdk::FrontEndPool {
        sdk::FrontEndPool {
            fqdn: p.fqdn.clone(),
            site: p.site.clone(),
            media_edge_pool: p.media_edge_pool.clone(),
            state: pool_state(p.state),
            failover_fqdn: p.failover_fqdn.clone(),
            online: p.online,
        }
    }

    fn rtype(t: RecordType) -> sdk::RecordType {
        match t {
            RecordType::A => sdk::RecordType::A,
            RecordType::Aaaa => sdk::RecordType::Aaaa,
            RecordType::Cname => sdk::RecordType::Cname,
            RecordType::Srv => sdk::RecordType::Srv,
            RecordType::Txt => sdk::RecordType::Txt,
        }
    }

    fn record(d: &RecordData) -> sdk::RecordData {
        match d {
            RecordData::A(a) => sdk::RecordData::A(a.clone()),
            RecordData::Aaaa(a) => sdk::RecordData::Aaaa(a.clone()),
            RecordData::Cname(c) => sdk::RecordData::Cname(c.clone()),
            RecordData::Srv(s) => sdk::RecordData::Srv(sdk::SrvData {
                priority: s.priority,
                weight: s.weight,
                port: s.port,
                target: s.target.clone(),
            }),
            RecordData::Txt(t) => sdk::RecordData::Txt(t.clone()),
        }
    }

    fn rrset(r: &RrSet) -> sdk::Rrset {
        sdk::Rrset {
            name: r.name.clone(),
            rtype: rtype(r.rtype),
            ttl: r.ttl,
            data: r.data.iter().map(record).collect(),
        }
    }

    fn route_kind(k: RouteKind) -> sdk::RouteKind {
        match k {
            RouteKind::Federation => sdk::RouteKind::Federation,
            RouteKind::XmppFederation => sdk::RouteKind::XmppFederation,
        }
    }

    pub fn change(c: &Change) -> sdk::Change {
        match c {
            Change::Federation { edge_pool, enabled } => {
                sdk::Change::Federation((edge_pool.clone(), *enabled))
            }
            Change::ServicesRunning { machine, running } => {
                sdk::Change::ServicesRunning((machine.clone(), *running))
            }
            Change::ReplicaUpToDate {
                machine,
                up_to_date,
            } => sdk::Change::ReplicaUpToDate((machine.clone(), *up_to_date)),
            Change::SetupVersion { machine, version } => {
                sdk::Change::SetupVersion((machine.clone(), *version))
            }
            Change::Route(r) => sdk::Change::Route(sdk::RouteChange {
                site: r.site.clone(),
                kind: route_kind(r.kind),
                identity: r.identity.as_ref().map(ToString::to_string),
            }),
            Change::Rrset(r) => sdk::Change::Rrset(rrset(r)),
            Change::XmppPortOpen { edge_pool, open } => {
                sdk::Change::XmppPortOpen((edge_pool.clone(), *open))
            }
            Change::MediaEdgePool {
                front_end_pool,
                edge_pool,
            } => sdk::Change::MediaEdgePool((front_end_pool.clone(), edge_pool.clone())),
            Change::PoolState {
                front_end_pool,
                state,
            } => sdk::Change::PoolState((front_end_pool.clone(), pool_state(*state))),
            Change::NextHop {
                edge_pool,
                next_hop,
            } => sdk::Change::NextHop((edge_pool.clone(), next_hop.clone())),
            Change::CmsAvailable { available } => sdk::Change::CmsAvailable(*available),
            Change::TopologyVersion { version } => sdk::Change::TopologyVersion(*version),
            Change::DraftPending { pending } => sdk::Change::DraftPending(*pending),
        }
    }

    fn action(a: Action) -> sdk::Action {
        match a {
            Action::LowerTtl => sdk::Action::LowerTtl,
            Action::StartEdgeServices => sdk::Action::StartEdgeServices,
            Action::SetFederationEdge => sdk::Action::SetFederationEdge,
            Action::PublishTopology => sdk::Action::PublishTopology,
            Action::AwaitReplication => sdk::Action::AwaitReplication,
            Action::RunEdgeSetup => sdk::Action::RunEdgeSetup,
            Action::RepointSipFederationDns => sdk::Action::RepointSipFederationDns,
            Action::SetXmppFederationRoute => sdk::Action::SetXmppFederationRoute,
            Action::EnsureXmppSrv => sdk::Action::EnsureXmppSrv,
            Action::SetXmppARecord => sdk::Action::SetXmppARecord,
            Action::VerifyXmppPort => sdk::Action::VerifyXmppPort,
            Action::ReassociateFrontEnds => sdk::Action::ReassociateFrontEnds,
            Action::PoolFailback => sdk::Action::PoolFailback,
            Action::RestoreNextHop => sdk::Action::RestoreNextHop,
            Action::RestoreTtl => sdk::Action::RestoreTtl,
        }
    }

    /// Only planned steps (as the gate checks them).
    pub fn steps(steps: &[Step]) -> Vec<sdk::Step> {
        steps
            .iter()
            .filter(|s| s.status == StepStatus::Planned)
            .map(|s| sdk::Step {
                action: action(s.action),
                target: s.target.clone(),
                argument: s.policy_argument(),
                changes: s.changes.iter().map(change).collect(),
            })
            .collect()
    }

    pub fn goal(g: &Goal) -> sdk::Goal {
        sdk::Goal {
            restored_site: g.restored_site.clone(),
            federation_pool: g.federation_pool.clone(),
            xmpp_pool: g.xmpp_pool.clone(),
            media_edge_pool: g.media_edge_pool.clone(),
            cutover_ttl: g.cutover_ttl,
            next_hop: g.next_hop.as_ref().map(|h| sdk::NextHopGoal {
                edge_pool: h.edge_pool.clone(),
                front_end_pool: h.front_end_pool.clone(),
            }),
        }
    }
}

/// A generated deployment of `n` Edge pools (n ≥ 2), two machines each, one
/// site and one Front End pool per Edge pool, and the zone's SIP and XMPP
/// records: pool 0 (Site0) is the restored pool, federation and both routes
/// of every site on pool 1, as after a failover.
pub fn generated(n: usize) -> Deployment {
    assert!(n >= 2);
    let zone = "contoso.com".to_owned();
    let pool = |i: usize| format!("edgepool{i}.{zone}");
    let ip = |i: usize, m: usize| format!("10.{}.{}.{}", i / 256, i % 256, m + 10);
    let failover = failback_core::deployment::EdgeIdentity::new(&pool(1));
    let edge_pools = (0..n)
        .map(|i| EdgePoolState {
            fqdn: pool(i),
            site: format!("Site{i}"),
            federation_enabled: i == 1,
            next_hop: Some(format!("fepool{i}.{zone}")),
            access_edge_fqdn: Some(format!("sip{i}.{zone}")),
            access_edge_ips: (0..2).map(|m| ip(i, m)).collect(),
            machines: (0..2)
                .map(|m| EdgeMachineState {
                    fqdn: format!("edge{i}-{m}.{zone}"),
                    services_running: i != 0,
                    replica_up_to_date: true,
                    setup_version: 7,
                })
                .collect(),
            xmpp_port_open: true,
        })
        .collect();
    let front_end_pools = (0..n)
        .map(|i| FrontEndPoolState {
            fqdn: format!("fepool{i}.{zone}"),
            site: format!("Site{i}"),
            media_edge_pool: Some(pool(if i == 0 { 1 } else { i })),
            state: PoolState::Normal,
            failover_fqdn: None,
            online: true,
        })
        .collect();
    let sites = (0..n)
        .map(|i| SiteRoutes {
            name: format!("Site{i}"),
            federation_route: Some(failover.clone()),
            xmpp_federation_route: Some(failover.clone()),
        })
        .collect();
    let a = |name: &str, ips: Vec<String>| RrSet {
        name: format!("{name}.{zone}"),
        rtype: RecordType::A,
        ttl: 300,
        data: ips.into_iter().map(RecordData::A).collect(),
    };
    let srv = |name: &str, port: u16, target: &str| RrSet {
        name: format!("{name}.{zone}"),
        rtype: RecordType::Srv,
        ttl: 300,
        data: vec![RecordData::Srv(SrvData {
            priority: 0,
            weight: 0,
            port,
            target: format!("{target}.{zone}"),
        })],
    };
    let pool1_ips: Vec<String> = (0..2).map(|m| ip(1, m)).collect();
    let mut dns = vec![
        a("sip", pool1_ips.clone()),
        a("xmpp", pool1_ips),
        srv("_sipfederationtls._tcp", 5061, "sip"),
        srv("_xmpp-server._tcp", 5269, "xmpp"),
    ];
    for i in 0..n {
        dns.push(a(&format!("sip{i}"), (0..2).map(|m| ip(i, m)).collect()));
    }
    dns.sort_by(|x, y| (&x.name, x.rtype).cmp(&(&y.name, y.rtype)));
    Deployment {
        sites,
        edge_pools,
        front_end_pools,
        zone,
        dns,
        cms_available: true,
        topology_version: 7,
        draft_pending: false,
    }
}
