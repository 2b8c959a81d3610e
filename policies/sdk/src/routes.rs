//! Checks shared by the federation and XMPP families, which enforce the same
//! invariants (2, 9) on their own route kind. Each family's module holds the
//! rule; the logic lives here once.

use failback_transition::same_name;

use crate::RouteKind;
use crate::reads::{edge_identity, identity_fqdn, route_name, route_of};
use crate::rule::{Ctx, Violation, join};

/// DESIGN §2 invariant 2 for the routes of `kind`: every route names an Edge
/// pool whose machines all run their Lync services. Visits the routed pools
/// and the offending routes only (see [`Ctx::routes_to`]).
pub fn services_running(ctx: &Ctx<'_>, kind: RouteKind) -> Vec<Violation> {
    let route = route_name(kind);
    let mut violations = Vec::new();
    let offending = ctx.routes_to(kind, true, |pool| {
        pool.machines.is_empty()
            || pool
                .machines
                .iter()
                .any(|machine| !machine.services_running)
    });
    for (site, identity) in offending {
        let pool = match ctx.route_pool(identity) {
            Ok(pool) => pool,
            Err(problem) => {
                violations.push(
                    Violation::new(format!(
                        "site {} {route} `{identity}` leads to no Edge pool: {problem}",
                        site.name
                    ))
                    .value("site", &site.name)
                    .value("route", identity)
                    .hint(format!(
                        "set the {route} to `EdgeServer:<pool fqdn>` of an Edge pool whose services run"
                    )),
                );
                continue;
            }
        };
        let stopped: Vec<&str> = pool
            .machines
            .iter()
            .filter(|machine| !machine.services_running)
            .map(|machine| machine.fqdn.as_str())
            .collect();
        if pool.machines.is_empty() || !stopped.is_empty() {
            let whose = if pool.machines.is_empty() {
                "which has no Edge machine".to_owned()
            } else {
                format!("whose Edge services are not running on {}", join(&stopped))
            };
            let mut violation = Violation::new(format!(
                "site {} {route} names {}, {whose}",
                site.name, pool.fqdn
            ))
            .value("site", &site.name)
            .value("route", identity)
            .value("pool", &pool.fqdn);
            for machine in &stopped {
                violation = violation.value("stopped", machine);
            }
            violations.push(violation.hint(format!(
                "start the Lync services on every machine of {} (start-edge-services) before routing to it",
                pool.fqdn
            )));
        }
    }
    violations
}

/// DESIGN §2 invariant 9 for the routes of `kind`: after failback the restored
/// site's route names `intended`, and no other site's route names another pool
/// (a site with no route of that kind is left alone).
pub fn final_routes(ctx: &Ctx<'_>, kind: RouteKind, intended: &str) -> Vec<Violation> {
    let route = route_name(kind);
    let expected = edge_identity(intended);
    let restored = &ctx.goal().restored_site;
    let mut violations = Vec::new();
    if ctx.site(restored).is_none() {
        violations.push(
            Violation::new(format!(
                "the restored site {restored} is not a site of the topology"
            ))
            .value("restored-site", restored)
            .hint("name an existing site as the restored site"),
        );
    }
    for site in &ctx.state().sites {
        let is_restored = same_name(&site.name, restored);
        match route_of(site, kind) {
            Some(identity) if identity_fqdn(identity).is_some_and(|fqdn| same_name(fqdn, intended)) => {}
            Some(identity) => violations.push(
                Violation::new(format!(
                    "site {} {route} is `{identity}` after failback, not the intended `{expected}`",
                    site.name
                ))
                .value("site", &site.name)
                .value("route", identity)
                .value("intended", &expected)
                .hint(format!("set site {} {route} to `{expected}`", site.name)),
            ),
            None if is_restored => violations.push(
                Violation::new(format!(
                    "restored site {} has no {route} after failback; the intended one is `{expected}`",
                    site.name
                ))
                .value("site", &site.name)
                .value("route", "none")
                .value("intended", &expected)
                .hint(format!("set site {} {route} to `{expected}`", site.name)),
            ),
            None => {}
        }
    }
    violations
}
