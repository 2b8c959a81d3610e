//! The change report: one self-contained HTML page a change board reads
//! before the failback and an operator keeps after it (`failback plan
//! --format html`, `failback report RUN`).
//!
//! The page holds the deployment drawn before → after (sites with their
//! routes, Edge pools, Front End pools; inline SVG), the DNS record sets
//! before → after, every step with what it changes and why it comes where it
//! does ([`OrderReason`]: what the policies find when the step is swapped with
//! its predecessor), the findings with their hints, and the digests. Nothing
//! is fetched: no script, no stylesheet or font from elsewhere.
//!
//! Every name on the page comes from the environment (a site, a pool, a
//! record), so every text goes through `maud`'s escaping: a `<script>` in a
//! site's name is shown as text. The model is built by the caller: the swaps
//! need the policy gate (the runtime), [`swaps`] gives it the trajectories to
//! judge.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::deployment::{Deployment, RrSet};
use crate::intent::Runbook;
use crate::observed::{data_text, pool_state, rtype_name};
use crate::plan::{Finding, Plan, Step, StepStatus};
use crate::render::verdict;

/// What the policies find when a step runs before its predecessor instead of
/// after it: the mistakes the order prevents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderReason {
    /// The step (its index).
    pub step: usize,
    /// The planned step before it (its index).
    pub predecessor: usize,
    /// The findings the swapped trajectory has that the plan has not.
    pub findings: Vec<Finding>,
}

/// For each planned step after the first, the plan's planned steps with it
/// swapped with its predecessor: `(step, predecessor, steps)`, what the gate
/// judges to make an [`OrderReason`].
#[must_use]
pub fn swaps(plan: &Plan) -> Vec<(usize, usize, Vec<Step>)> {
    let planned: Vec<&Step> = plan.planned().collect();
    (1..planned.len())
        .map(|i| {
            let mut steps: Vec<Step> = planned.iter().map(|s| (*s).clone()).collect();
            steps.swap(i - 1, i);
            (planned[i].index, planned[i - 1].index, steps)
        })
        .collect()
}

/// The findings of `swapped` that `plan` does not have (by rule and message):
/// what the swap would raise.
#[must_use]
pub fn new_findings(plan: &Plan, swapped: Vec<Finding>) -> Vec<Finding> {
    swapped
        .into_iter()
        .filter(|f| {
            !plan
                .findings
                .iter()
                .any(|p| p.rule == f.rule && p.message == f.message)
        })
        .collect()
}

/// A run of the journal the report is about (`failback report RUN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub id: i64,
    /// `done`, `halted`, `running`, ...
    pub state: String,
    pub started: String,
    /// Each step's journaled outcome, by step index.
    pub outcomes: Vec<(usize, String)>,
}

/// What the page shows.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// The environment's name.
    pub environment: &'a str,
    pub plan: &'a Plan,
    pub order: &'a [OrderReason],
    pub run: Option<&'a RunSummary>,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#1b1f24;background:#fff;max-width:1200px}\
h1{font-size:1.6em}h2{border-bottom:2px solid #d0d7de;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #d0d7de;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f0f3f6}tr.changed td{background:#fff4d6}td.planned{color:#0b5cad;font-weight:bold}td.satisfied{color:#57606a}\
.blocks{color:#b3261e;font-weight:bold}.note{color:#57606a}.hint{color:#1a7f37}\
code,.digest{font-family:ui-monospace,monospace;font-size:.9em;word-break:break-all}\
.states{display:flex;gap:1em;flex-wrap:wrap}.states figure{margin:0;border:1px solid #d0d7de;padding:.5em}\
figcaption{font-weight:bold;margin-bottom:.3em}ul.summary{margin:0;padding-left:1.2em}";

/// The report as one HTML page.
///
/// # Errors
/// [`crate::deployment::UnknownObject`] if a step's change names an object
/// the state lacks (a plan made by the planner never does).
pub fn html(report: &Report<'_>) -> Result<String, crate::deployment::UnknownObject> {
    let plan = report.plan;
    let states = plan.states()?;
    let after = states.last().unwrap_or(&plan.start);
    let intent = &plan.intent;
    let title = match intent.runbook {
        Runbook::Failback => format!(
            "failback of {} to {} ({})",
            report.environment, intent.restored_pool, intent.restored_site
        ),
        Runbook::Failover => format!(
            "failover of {} from {} to {}",
            report.environment, intent.restored_site, intent.restored_pool
        ),
    };
    let blocking = plan.findings.iter().filter(|f| f.blocking).count();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (title) }
                p {
                    "Zone " code { (plan.start.zone) } "; cut-over TTL " (intent.cutover_ttl) " s; "
                    (plan.steps.len()) " steps, " (plan.planned().count()) " planned. "
                    @if blocking > 0 {
                        span.blocks { "Vetoed: " (blocking) " blocking finding(s); nothing may be applied." }
                    } @else {
                        "No finding blocks the plan."
                    }
                }
                @if let Some(run) = report.run {
                    section #run {
                        h2 { "Run " (run.id) }
                        p { "Started " (run.started) "; " (run.state) "." }
                    }
                }
                section #deployment {
                    h2 { "The deployment, before → after" }
                    div.states {
                        figure { figcaption { "Before" } (drawing("before", &plan.start)) }
                        figure { figcaption { "After" } (drawing("after", after)) }
                    }
                    h3 { "DNS record sets" }
                    (records(&plan.start, after))
                }
                section #steps {
                    h2 { "Steps" }
                    (steps(report))
                }
                section #findings {
                    h2 { "Findings" }
                    (findings(&plan.findings))
                }
                section #order {
                    h2 { "Why this order" }
                    p { "For each planned step: what the policies find when it runs before the step that precedes it." }
                    (order(report))
                }
                section #approvals {
                    h2 { "Approvals" }
                    @if plan.approvals.is_empty() {
                        p { "No one has approved this plan yet (" code { "failback plan approve" } "). The approvals an environment requires are counted when it is applied." }
                    } @else {
                        p { "Signatures over the plan sha256 below (SSHSIG, namespace " code { "failback-plan" } "), as the document carries them; " code { "apply" } " counts those by keys the environment trusts." }
                        ul {
                            @for approval in &plan.approvals {
                                li {
                                    code { (approval.key) }
                                    @if !approval.comment.is_empty() { " (" (approval.comment) ")" }
                                    ", " (approval.at)
                                }
                            }
                        }
                    }
                }
                section #digests {
                    h2 { "Digests" }
                    (digests(plan))
                }
            }
        }
    };
    Ok(page.into_string())
}

/// One state drawn: a column per site with its routes, its Edge pools
/// (federation on: green) and its Front End pools (failed over: amber).
/// Every SVG shape is closed (`<rect …></rect>`, never `<rect …>`): inside
/// `<svg>` the HTML parser keeps an unclosed shape open, so every later
/// label and shape would nest in the first box, where nothing is drawn.
/// `name` keeps the drawing's element ids apart from the other's.
fn drawing(name: &str, state: &Deployment) -> Markup {
    let arrow = format!("{name}-arrow");
    let arrow_url = format!("url(#{arrow})");
    // Wide enough for a pool's longest state line at 11px ("failed-over,
    // media via edgepool2.contoso.com") inside its box.
    const COLUMN: usize = 340;
    const BOX_H: usize = 56;
    let rows = |site: &str| {
        state.edge_pools.iter().filter(|p| p.site == site).count()
            + state
                .front_end_pools
                .iter()
                .filter(|p| p.site == site)
                .count()
    };
    let most = state.sites.iter().map(|s| rows(&s.name)).max().unwrap_or(0);
    let width = COLUMN * state.sites.len().max(1) + 20;
    let height = 110 + most * (BOX_H + 14) + 20;
    // Where each Edge pool's box is, for the route arrows.
    let mut pool_at = Vec::new();
    for (column, site) in state.sites.iter().enumerate() {
        for (row, pool) in state
            .edge_pools
            .iter()
            .filter(|p| p.site == site.name)
            .enumerate()
        {
            pool_at.push((
                pool.fqdn.as_str(),
                column * COLUMN + 20,
                100 + row * (BOX_H + 14),
            ));
        }
    }
    let target = |identity: Option<&crate::deployment::EdgeIdentity>| {
        identity.and_then(|id| {
            pool_at
                .iter()
                .find(|(fqdn, _, _)| fqdn.eq_ignore_ascii_case(id.pool()))
                .map(|(_, x, y)| (*x, *y))
        })
    };
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(width) height=(height) viewBox={"0 0 " (width) " " (height)} role="img" {
            defs {
                marker id=(arrow) viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse" {
                    path d="M 0 0 L 10 5 L 0 10 z" fill="#0b5cad" {}
                }
            }
            @for (column, site) in state.sites.iter().enumerate() {
                @let x = column * COLUMN + 10;
                rect x=(x) y="10" width=(COLUMN - 20) height=(height - 20) rx="8" fill="#f6f8fa" stroke="#8c959f" {}
                text x=(x + 10) y="32" font-weight="bold" font-size="15" { "site " (site.name) }
                text x=(x + 10) y="52" font-size="12" fill="#0b5cad" {
                    "federation → " (route_text(site.federation_route.as_ref()))
                }
                text x=(x + 10) y="68" font-size="12" fill="#6639ba" {
                    "XMPP → " (route_text(site.xmpp_federation_route.as_ref()))
                }
                @if let Some((tx, ty)) = target(site.federation_route.as_ref()) {
                    path d={"M " (x + 20) " 74 C " (x + 20) " 90, " (tx + 40) " " (ty - 20) ", " (tx + 40) " " (ty)} fill="none" stroke="#0b5cad" stroke-width="2" marker-end=(arrow_url) {}
                }
                @if let Some((tx, ty)) = target(site.xmpp_federation_route.as_ref()) {
                    path d={"M " (x + 40) " 74 C " (x + 40) " 90, " (tx + 80) " " (ty - 20) ", " (tx + 80) " " (ty)} fill="none" stroke="#6639ba" stroke-width="2" stroke-dasharray="5 3" marker-end=(arrow_url) {}
                }
                @for (row, pool) in state.edge_pools.iter().filter(|p| p.site == site.name).enumerate() {
                    @let y = 100 + row * (BOX_H + 14);
                    rect x=(x + 10) y=(y) width=(COLUMN - 40) height=(BOX_H) rx="6"
                        fill=(if pool.federation_enabled { "#dafbe1" } else { "#ffffff" }) stroke="#1a7f37" {}
                    text x=(x + 18) y=(y + 20) font-size="13" { "Edge " (pool.fqdn) }
                    text x=(x + 18) y=(y + 40) font-size="11" {
                        "federation " (if pool.federation_enabled { "on" } else { "off" })
                        ", services " (if pool.services_running() { "running" } else { "stopped" })
                        ", 5269 " (if pool.xmpp_port_open { "open" } else { "closed" })
                    }
                }
                @let edges = state.edge_pools.iter().filter(|p| p.site == site.name).count();
                @for (row, pool) in state.front_end_pools.iter().filter(|p| p.site == site.name).enumerate() {
                    @let y = 100 + (edges + row) * (BOX_H + 14);
                    rect x=(x + 10) y=(y) width=(COLUMN - 40) height=(BOX_H) rx="6"
                        fill=(if pool.state == crate::observed::PoolState::Normal { "#ffffff" } else { "#fff4d6" }) stroke="#9a6700" {}
                    text x=(x + 18) y=(y + 20) font-size="13" { "Front End " (pool.fqdn) }
                    text x=(x + 18) y=(y + 40) font-size="11" {
                        (pool_state(pool.state)) ", media via " (pool.media_edge_pool.as_deref().unwrap_or("(none)"))
                    }
                }
            }
        }
    }
}

fn route_text(identity: Option<&crate::deployment::EdgeIdentity>) -> String {
    identity.map_or_else(|| "(none)".to_owned(), |id| id.pool().to_owned())
}

fn rrset_text(set: Option<&RrSet>) -> String {
    set.map_or_else(
        || "(absent)".to_owned(),
        |set| {
            let data: Vec<String> = set.data.iter().map(data_text).collect();
            format!("{} (TTL {})", data.join(", "), set.ttl)
        },
    )
}

/// Every record set of either state, before and after; the changed ones
/// marked.
fn records(before: &Deployment, after: &Deployment) -> Markup {
    let mut keys: Vec<(&str, crate::observed::RecordType)> = before
        .dns
        .iter()
        .chain(&after.dns)
        .map(|s| (s.name.as_str(), s.rtype))
        .collect();
    keys.sort();
    keys.dedup();
    html! {
        table {
            thead { tr { th { "name" } th { "type" } th { "before" } th { "after" } } }
            tbody {
                @for (name, rtype) in keys {
                    @let (b, a) = (before.rrset(name, rtype), after.rrset(name, rtype));
                    tr class=[(b != a).then_some("changed")] {
                        td { code { (name) } } td { (rtype_name(rtype)) }
                        td { (rrset_text(b)) } td { (rrset_text(a)) }
                    }
                }
            }
        }
    }
}

fn steps(report: &Report<'_>) -> Markup {
    html! {
        table {
            thead { tr { th { "#" } th { "action" } th { "status" } th { "target" } th { "what it changes" } th { "journaled" } } }
            tbody {
                @for step in &report.plan.steps {
                    tr id={"step-" (step.index)} {
                        td { (step.index) } td { (step.action.id()) " " (step.action.name()) }
                        td class=(status(step.status)) { (status(step.status)) }
                        td { (step.target.as_deref().unwrap_or("-")) }
                        td {
                            @if step.summary.is_empty() {
                                "nothing: its postcondition already holds"
                                br;
                            } @else {
                                ul.summary { @for line in &step.summary { li { (line) } } }
                            }
                            "verified by: " (step.verify)
                        }
                        td {
                            (report.run.and_then(|r| r.outcomes.iter().find(|(i, _)| *i == step.index)).map_or("-", |(_, o)| o.as_str()))
                        }
                    }
                }
            }
        }
    }
}

fn status(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Planned => "planned",
        StepStatus::Satisfied => "satisfied",
    }
}

fn findings(findings: &[Finding]) -> Markup {
    html! {
        @if findings.is_empty() {
            p { "None: every state of the plan holds every invariant." }
        } @else {
            table {
                thead { tr { th { "verdict" } th { "rule" } th { "where" } th { "what" } } }
                tbody {
                    @for f in findings { (finding_row(f)) }
                }
            }
        }
    }
}

fn finding_row(f: &Finding) -> Markup {
    html! {
        tr.finding {
            td class=(if f.blocking { "blocks" } else { "note" }) { (verdict(f)) " (" (f.level.name()) ")" }
            td { code { (f.rule) } br; (f.module) }
            td {
                @if f.through > f.state { "states " (f.state) "–" (f.through) } @else { "state " (f.state) }
                @if let Some(step) = f.step { " (step " (step) ")" }
            }
            td {
                (f.message)
                @if !f.values.is_empty() { br; "values: " code { (f.values.join(", ")) } }
                br; span.hint { "hint: " (f.hint) }
                @if let Some(reason) = &f.overridden { br; "overridden: " (reason) }
            }
        }
    }
}

fn order(report: &Report<'_>) -> Markup {
    let name = |index: usize| {
        report
            .plan
            .steps
            .iter()
            .find(|s| s.index == index)
            .map_or_else(String::new, |s| {
                format!("{} {}", s.action.id(), s.action.name())
            })
    };
    html! {
        @if report.order.is_empty() {
            p { "Fewer than two steps are planned: there is no order to explain." }
        } @else {
            table {
                thead { tr { th { "step" } th { "if run before" } th { "the policies find" } } }
                tbody {
                    @for reason in report.order {
                        tr.order {
                            td { (reason.step) ". " (name(reason.step)) }
                            td { (reason.predecessor) ". " (name(reason.predecessor)) }
                            td {
                                @if reason.findings.is_empty() {
                                    "nothing: no policy objects to this swap (the order is the runbook's, DESIGN §1)"
                                }
                                @for f in &reason.findings {
                                    p {
                                        span class=(if f.blocking { "blocks" } else { "note" }) { (f.level.name()) " " code { (f.rule) } } ": " (f.message)
                                        br; span.hint { "hint: " (f.hint) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn digests(plan: &Plan) -> Markup {
    let p = &plan.provenance;
    html! {
        table {
            tbody {
                tr { th { "plan" } td.digest { (plan.digest) } }
                tr { th { "environment file" } td.digest { (p.environment.as_deref().unwrap_or("(none)")) } }
                @if let Some(captured) = &p.captured {
                    tr { th { "captured state" } td.digest { (captured.sha256) " (observed " (captured.observed_at) ")" } }
                }
                @for (kind, plugin) in &p.plugins {
                    tr { th { "plugin " (kind) } td.digest { (plugin.name) " " (plugin.sha256) } }
                }
                @for (module, sha256) in &p.policies {
                    tr { th { "policy " (module) } td.digest { (sha256) } }
                }
            }
        }
    }
}
