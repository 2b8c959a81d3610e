//! Issue 15's round trip as a property: on generated deployments — any number
//! of sites, dual-stack or not, one XMPP SRV record per pool or one for all, a
//! Director as the home Edge pool's next hop or not — a failover of the
//! healthy deployment, then the failback to its home pool, end where it began.
//! The failback names no pool: the failover's run says where federation was
//! moved from (the state alone cannot, and is refused).

use failback_core::deployment::{Snapshot, assemble};
use failback_core::intent::{FailedOverFrom, Intent, IntentError, IntentFlags};
use failback_core::lab::{self, Scenario, Variation};
use failback_core::plan::{Plan, plan};
use proptest::prelude::*;

use crate::planner::{check_plan, end_of, without_versions};
use crate::support::lab_reader;

fn variation() -> impl Strategy<Value = Variation> {
    (2..=6u32, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(sites, dual_stack, xmpp_srv_per_pool, director)| Variation {
            sites,
            dual_stack,
            xmpp_srv_per_pool,
            director,
        },
    )
}

fn planned(snap: &Snapshot, flags: &IntentFlags) -> Plan {
    let intent = Intent::resolve(flags, &snap.deployment).unwrap();
    plan(snap, &intent).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_generated_healthy_deployment_fails_over_and_back_to_where_it_began(v in variation()) {
        let name = format!("{v:?}");
        let healthy = assemble(&lab_reader::observe(
            &lab::files_generated(Scenario::Healthy, v).unwrap(),
        ))
        .unwrap();

        // With bystander sites more than one pool could take over: name it.
        let failover = planned(
            &healthy,
            &IntentFlags {
                failover: true,
                to: Some("edgepool2.contoso.com".into()),
                ..IntentFlags::default()
            },
        );
        check_plan(&format!("failover of {name}"), &failover);
        let failed_over = end_of(&failover, &healthy);
        // Every site's routes name the surviving pool; it alone federates.
        for site in &failed_over.deployment.sites {
            for route in [&site.federation_route, &site.xmpp_federation_route] {
                prop_assert_eq!(
                    route.as_ref().map(|r| r.pool()),
                    Some("edgepool2.contoso.com"),
                    "{}: {}", name, site.name
                );
            }
        }
        prop_assert_eq!(failed_over.deployment.federation_pools().len(), 1);

        // From the state alone the home cannot be told: everything is on
        // edgepool2 while Site1's own pool runs. Refused, naming `--to`.
        let unknown = Intent::resolve(&IntentFlags::default(), &failed_over.deployment);
        prop_assert!(
            matches!(&unknown, Err(e @ IntentError::HomeUnknown { .. }) if e.to_string().contains("--to edgepool1.contoso.com")),
            "{}: {:?}", name, unknown
        );
        // The failover's run remembers it: the failback with no `--to` aims there.
        let home = FailedOverFrom::of(7, &failover.intent, &failover.start).unwrap();
        prop_assert_eq!(
            home.to_string(),
            "the failover of run 7 moved federation from edgepool1.contoso.com (Site1)"
        );
        let intent =
            Intent::resolve_after(&IntentFlags::default(), &failed_over.deployment, Some(&home))
                .unwrap();
        prop_assert_eq!(&intent.restored_pool, "edgepool1.contoso.com");
        prop_assert_eq!(intent.failed_over_from.as_ref(), Some(&home));
        let failback = plan(&failed_over, &intent).unwrap();
        // The same plan `--to` names, but for saying why.
        let to = planned(
            &failed_over,
            &IntentFlags { to: Some("edgepool1.contoso.com".into()), ..IntentFlags::default() },
        );
        prop_assert_eq!(&failback.steps, &to.steps);
        check_plan(&format!("failback of {name}"), &failback);
        let back = end_of(&failback, &failed_over);
        prop_assert_eq!(
            without_versions(back.deployment),
            without_versions(healthy.deployment.clone()),
            "{}", name
        );
        prop_assert_eq!(back.topology.edge_pools(), healthy.topology.edge_pools());
        prop_assert_eq!(back.topology.front_end_pools(), healthy.topology.front_end_pools());
    }
}
