//! The name index of a deployment (`Names`) agrees with the walk it replaces:
//! the same object for every name, the same state after every change, the
//! same error for an unknown object — from its own state and from another's;
//! and whether a change holds, asked of the objects it names, agrees with
//! comparing whole states.

use failback_core::deployment::{Change, Deployment, Names, RouteChange, RrSet, assemble};
use failback_core::lab::{self, Scenario, Variation};
use failback_core::observed::{PoolState, RecordData, RecordType, RouteKind};

use crate::support::lab_reader;

/// A four-site lab with the spellings the walk must see through: a second
/// site whose name differs from Site1's only in case (the first wins), and
/// names asked for in upper case and with a final dot.
fn start() -> Deployment {
    let variation = Variation {
        sites: 4,
        dual_stack: false,
        xmpp_srv_per_pool: false,
        director: false,
    };
    let files = lab::files_generated(Scenario::EdgeFailover, variation).unwrap();
    let mut state = assemble(&lab_reader::observe(&files)).unwrap().deployment;
    let mut twin = state.sites[0].clone();
    twin.name = twin.name.to_uppercase();
    twin.xmpp_federation_route = None;
    state.sites.push(twin);
    state
}

/// Every name a change may spell: each object's own, in upper case, with a
/// final dot, and names of nothing.
fn spellings(state: &Deployment) -> Vec<String> {
    let mut own: Vec<String> = Vec::new();
    for pool in &state.edge_pools {
        own.push(pool.fqdn.clone());
        own.extend(pool.machines.iter().map(|m| m.fqdn.clone()));
    }
    own.extend(state.front_end_pools.iter().map(|p| p.fqdn.clone()));
    own.extend(state.sites.iter().map(|s| s.name.clone()));
    let mut all = Vec::new();
    for name in own {
        all.push(name.to_uppercase());
        all.push(format!("{name}."));
        all.push(name);
    }
    all.extend(["edgepool9.contoso.com", "Site9", "", "."].map(str::to_owned));
    all
}

/// The walk's answer and the index's are the same object (by address).
fn assert_finds_alike(state: &Deployment, names: &Names, spelled: &[String], after: &str) {
    let same = |a: Option<*const u8>, b: Option<*const u8>, what: &str, name: &str| {
        assert_eq!(a, b, "{after}: {what} `{name}`");
    };
    for name in spelled {
        same(
            state.edge_pool(name).map(|p| std::ptr::from_ref(p).cast()),
            names
                .edge_pool(state, name)
                .map(|p| std::ptr::from_ref(p).cast()),
            "edge pool",
            name,
        );
        let walked = state
            .edge_pools
            .iter()
            .flat_map(|p| p.machines.iter())
            .find(|m| failback_transition::same_name(&m.fqdn, name));
        same(
            walked.map(|m| std::ptr::from_ref(m).cast()),
            names
                .machine(state, name)
                .map(|m| std::ptr::from_ref(m).cast()),
            "machine",
            name,
        );
        same(
            state
                .front_end_pool(name)
                .map(|p| std::ptr::from_ref(p).cast()),
            names
                .front_end_pool(state, name)
                .map(|p| std::ptr::from_ref(p).cast()),
            "front end pool",
            name,
        );
        same(
            state.site(name).map(|s| std::ptr::from_ref(s).cast()),
            names
                .site(state, name)
                .map(|s| std::ptr::from_ref(s).cast()),
            "site",
            name,
        );
    }
}

#[test]
fn the_name_index_finds_what_the_walk_finds_through_every_change() {
    let mut state = start();
    let spelled = spellings(&state);
    let names = Names::of(&state);
    // The index of another state (its lists in reverse order) must still
    // find the right objects: positions are checked, misses walked.
    let mut reversed = state.clone();
    reversed.edge_pools.reverse();
    reversed.front_end_pools.reverse();
    reversed.sites.reverse();
    let foreign = Names::of(&reversed);

    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |bound: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(seed >> 33).unwrap() % bound
    };
    assert_finds_alike(&state, &names, &spelled, "the start");
    assert_finds_alike(&state, &foreign, &spelled, "the start, foreign index");
    let mut unknown = 0;
    for round in 0..2_000 {
        let name = spelled[next(spelled.len())].clone();
        let on = next(2) == 0;
        let change = match next(9) {
            0 => Change::Federation {
                edge_pool: name,
                enabled: on,
            },
            1 => Change::ServicesRunning {
                machine: name,
                running: on,
            },
            2 => Change::SetupVersion {
                machine: name,
                version: u64::try_from(next(5)).unwrap(),
            },
            3 => Change::Route(RouteChange {
                site: name,
                kind: if on {
                    RouteKind::Federation
                } else {
                    RouteKind::XmppFederation
                },
                identity: None,
            }),
            4 => Change::PoolState {
                front_end_pool: name,
                state: [PoolState::Normal, PoolState::FailedOver][usize::from(on)],
            },
            5 => Change::MediaEdgePool {
                front_end_pool: name,
                edge_pool: on.then(|| "edgepool1.contoso.com".to_owned()),
            },
            6 => Change::NextHop {
                edge_pool: name,
                next_hop: None,
            },
            7 => Change::ReplicaUpToDate {
                machine: name,
                up_to_date: on,
            },
            _ => Change::Rrset(RrSet {
                name: format!("{name}.contoso.com"),
                rtype: RecordType::A,
                ttl: 300,
                data: if on {
                    vec![RecordData::A("192.0.2.9".to_owned())]
                } else {
                    Vec::new()
                },
            }),
        };
        let after = format!("round {round}: {change:?}");
        let mut walked = state.clone();
        let by_walk = walked.apply(&change);
        // Whether the change holds, asked on the objects it names, is what
        // making it on a copy and comparing the whole states says; the probe
        // is given back as it was.
        let mut probe = state.clone();
        assert_eq!(
            names.holds(&state, &mut probe, &change),
            by_walk.is_ok() && walked == state,
            "{after}: holds"
        );
        assert_eq!(probe, state, "{after}: the probe is given back");
        for (index, label) in [(&names, "own index"), (&foreign, "foreign index")] {
            let mut indexed = state.clone();
            let by_index = index.apply(&mut indexed, &change);
            assert_eq!(by_index, by_walk, "{after} ({label})");
            assert_eq!(indexed, walked, "{after} ({label})");
        }
        unknown += usize::from(by_walk.is_err());
        state = walked;
        assert_finds_alike(&state, &names, &spelled, &after);
    }
    // Both paths were taken: changes that found their object and some that
    // named nothing.
    assert!((100..1_900).contains(&unknown), "{unknown} unknown objects");
}
