//! The meaning of each change, on the smallest state that has one of each
//! object: the host's and the SDK's states are compared with each other by
//! the differential property test (`host/runtime/tests/policy_property.rs`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail by panicking"
)]

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    site: String,
    to: Option<String>,
}

impl RouteChange for Route {
    fn site(&self) -> &str {
        &self.site
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Set {
    name: String,
    records: Vec<&'static str>,
}

impl RecordSet for Set {
    fn name(&self) -> &str {
        &self.name
    }
    fn rename(&mut self, name: String) {
        self.name = name;
    }
    fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failover {
    Normal,
    FailedOver,
}

impl PoolState for Failover {
    fn is_normal(&self) -> bool {
        *self == Failover::Normal
    }
}

/// One Edge pool with one machine, one Front End pool, one site, a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Small {
    federation: bool,
    services: bool,
    pool_state: Failover,
    failover_fqdn: Option<String>,
    route: Option<String>,
    dns: Vec<Set>,
    store: bool,
}

fn only(held: &str, name: &str) -> Option<()> {
    same_name(held, name).then_some(())
}

impl Deployment for Small {
    type RouteChange = Route;
    type RecordSet = Set;
    type PoolState = Failover;
    type EdgePool = ();
    type Machine = ();
    type FrontEndPool = ();
    type Site = ();

    fn find_edge_pool(&self, fqdn: &str) -> Option<()> {
        only("edgepool1.contoso.com", fqdn)
    }
    fn find_machine(&self, fqdn: &str) -> Option<()> {
        only("edge1.contoso.com", fqdn)
    }
    fn find_front_end_pool(&self, fqdn: &str) -> Option<()> {
        only("fepool1.contoso.com", fqdn)
    }
    fn find_site(&self, name: &str) -> Option<()> {
        only("Site1", name)
    }
    fn set_edge_pool(&mut self, (): (), field: EdgePoolField) {
        if let EdgePoolField::Federation(on) = field {
            self.federation = on;
        }
    }
    fn set_machine(&mut self, (): (), field: MachineField) {
        if let MachineField::ServicesRunning(on) = field {
            self.services = on;
        }
    }
    fn set_front_end_pool(&mut self, (): (), field: FrontEndPoolField<Failover>) {
        match field {
            FrontEndPoolField::State(state) => self.pool_state = state,
            FrontEndPoolField::NoFailover => self.failover_fqdn = None,
            FrontEndPoolField::MediaEdgePool(_) => {}
        }
    }
    fn set_route(&mut self, (): (), route: Route) {
        self.route = route.to;
    }
    fn put_rrset(&mut self, set: Set) {
        self.delete_rrset(set.clone());
        self.dns.push(set);
    }
    fn delete_rrset(&mut self, set: Set) {
        self.dns.retain(|held| held.name != set.name);
    }
    fn set_deployment(&mut self, field: DeploymentField) {
        if let DeploymentField::CmsAvailable(on) = field {
            self.store = on;
        }
    }
}

type SmallChange = ChangeOf<Small>;

fn failed_over() -> Small {
    Small {
        federation: false,
        services: false,
        pool_state: Failover::FailedOver,
        failover_fqdn: Some("fepool2.contoso.com".to_owned()),
        route: None,
        dns: vec![Set {
            name: "sip.contoso.com".to_owned(),
            records: vec!["10.0.0.1"],
        }],
        store: true,
    }
}

#[test]
fn a_pool_returning_to_normal_is_no_longer_failed_over() {
    let mut state = failed_over();
    let change = SmallChange::PoolState {
        front_end_pool: "fepool1.contoso.com".to_owned(),
        state: Failover::Normal,
    };
    apply(&mut state, change).unwrap();
    assert_eq!(state.pool_state, Failover::Normal);
    assert_eq!(state.failover_fqdn, None);
}

#[test]
fn a_pool_failing_over_again_keeps_its_failover_fqdn() {
    let mut state = failed_over();
    let change = SmallChange::PoolState {
        front_end_pool: "fepool1.contoso.com".to_owned(),
        state: Failover::FailedOver,
    };
    apply(&mut state, change).unwrap();
    assert_eq!(state.failover_fqdn.as_deref(), Some("fepool2.contoso.com"));
}

#[test]
fn names_match_in_any_letter_case_and_with_a_final_dot() {
    let mut state = failed_over();
    let changes = [
        SmallChange::Federation {
            edge_pool: "EdgePool1.CONTOSO.com.".to_owned(),
            enabled: true,
        },
        SmallChange::ServicesRunning {
            machine: "edge1.contoso.com.".to_owned(),
            running: true,
        },
        SmallChange::Route(Route {
            site: "SITE1".to_owned(),
            to: Some("EdgeServer:edgepool1.contoso.com".to_owned()),
        }),
    ];
    for change in changes {
        apply(&mut state, change).unwrap();
    }
    assert!(state.federation && state.services && state.route.is_some());
    assert!(same_name("a.b.", "A.B"));
    assert!(!same_name("a.b..", "a.b"));
    assert_eq!(name_key("Sip.Contoso.COM."), "sip.contoso.com");
}

#[test]
fn a_change_naming_an_unknown_object_is_an_error_and_changes_nothing() {
    let cases = [
        (
            SmallChange::Federation {
                edge_pool: "edgepool9.contoso.com".to_owned(),
                enabled: true,
            },
            "edge pool",
            "federation",
        ),
        (
            SmallChange::ServicesRunning {
                machine: "edge9.contoso.com".to_owned(),
                running: true,
            },
            "edge machine",
            "services-running",
        ),
        (
            SmallChange::PoolState {
                front_end_pool: "fepool9.contoso.com".to_owned(),
                state: Failover::Normal,
            },
            "front end pool",
            "pool-state",
        ),
        (
            SmallChange::Route(Route {
                site: "Site9".to_owned(),
                to: None,
            }),
            "site",
            "route",
        ),
    ];
    for (change, kind, case) in cases {
        let mut state = failed_over();
        let name = change.object().unwrap().1.to_owned();
        assert_eq!(unknown(&state, &change).map(|u| u.kind), Some(kind));
        let error = apply(&mut state, change).unwrap_err();
        assert_eq!(
            error,
            UnknownObject {
                kind,
                name: name.clone(),
                change: case,
            }
        );
        assert_eq!(
            error.to_string(),
            format!("the change names an unknown {kind} `{name}`")
        );
        assert_eq!(state, failed_over());
    }
}

#[test]
fn a_record_set_is_kept_under_its_name_key_and_empty_data_deletes_it() {
    let mut state = failed_over();
    let set = |name: &str, records| {
        SmallChange::Rrset(Set {
            name: name.to_owned(),
            records,
        })
    };
    apply(&mut state, set("XMPP.Contoso.com.", vec!["10.0.0.2"])).unwrap();
    assert_eq!(state.dns[1].name, "xmpp.contoso.com");
    apply(&mut state, set("SIP.contoso.com", vec![])).unwrap();
    let names: Vec<&str> = state.dns.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["xmpp.contoso.com"]);
    // A set is never unknown: deleting one that does not exist is no error.
    apply(&mut state, set("nothing.contoso.com", vec![])).unwrap();
}

#[test]
fn deployment_wide_fields_name_no_object() {
    let mut state = failed_over();
    let change = SmallChange::CmsAvailable { available: false };
    assert_eq!(change.object(), None);
    assert_eq!(change.case(), "cms-available");
    apply(&mut state, change).unwrap();
    assert!(!state.store);
}
