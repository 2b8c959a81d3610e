//! What the operator wants failed back, and to which Edge pool.
//!
//! [`IntentFlags`] is what the CLI parsed (`--sip-federation`, `--xmpp`,
//! `--front-ends`, `--pool-failback`, `--to POOL`, `--next-hop POOL`,
//! `--cutover-ttl`); [`Intent::resolve`] checks it against the observed
//! [`Deployment`] and fills in the defaults. With no narrowing flag, everything
//! fails back: SIP federation, XMPP, the Front End pools' media association,
//! pool failback and, when the failover moved it to the other site, the
//! restored Edge pool's next hop.
//!
//! With `--failover` the same engine runs the other half of the recovery: SIP
//! federation, XMPP and the failed site's Front End pools' media association
//! move to the surviving site's Edge pool ([`Runbook::Failover`]).

use serde::{Deserialize, Serialize};

use failback_transition::same_name;

use crate::deployment::{Deployment, EdgeIdentity, EdgePoolState, FrontEndPoolState};
use crate::observed::{PoolState, RecordType};
use crate::text::quoted;

/// TTL (seconds) the records to be moved are lowered to before the cut-over.
pub const DEFAULT_CUTOVER_TTL: u32 = 300;
/// TTL (seconds) a record set the plan creates gets when the TTLs are restored.
pub const DEFAULT_RECORD_TTL: u32 = 3600;

/// Which half of the recovery a plan carries out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runbook {
    /// Back to the home site's Edge pool (DESIGN §1).
    #[default]
    Failback,
    /// To the surviving site's Edge pool: the failover pages, corrected as the
    /// failback is (the SIP federation DNS moves, the A record names the pool
    /// the route names, re-association publishes). No pool failover: a Front
    /// End pool is failed over on its own decision.
    Failover,
}

impl Runbook {
    fn is_failback(&self) -> bool {
        *self == Self::Failback
    }
}

/// The intent as given, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntentFlags {
    /// Fail back SIP federation (A2–A6).
    pub sip_federation: bool,
    /// Fail back XMPP federation (A7–A10).
    pub xmpp: bool,
    /// Re-associate the restored site's Front End pools (A11).
    pub front_ends: bool,
    /// Fail back the restored site's failed-over Front End pools (A12).
    pub pool_failback: bool,
    /// The Edge pool to fail back to; default: the home Edge pool of the site
    /// that failed.
    pub to: Option<String>,
    /// TTL for the cut-over; default [`DEFAULT_CUTOVER_TTL`].
    pub cutover_ttl: Option<u32>,
    /// Fail over to the surviving site's Edge pool (`to`) instead of back.
    pub failover: bool,
    /// The Front End pool the restored Edge pool's next hop returns to (A14);
    /// default: the one pool of the restored site that can serve.
    pub next_hop: Option<String>,
}

/// A record set's TTL as an unfinished earlier run found it, before that run
/// lowered it: what a new plan over that run restores (A13).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordTtl {
    pub name: String,
    pub rtype: RecordType,
    pub ttl: u32,
}

/// The intent, checked against a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// Failback (the default, left out of the document) or failover.
    #[serde(default, skip_serializing_if = "Runbook::is_failback")]
    pub runbook: Runbook,
    /// The Edge pool everything moves to: the restored pool of a failback, the
    /// surviving pool of a failover.
    pub restored_pool: String,
    /// The site whose Front End pools are re-associated with it: the restored
    /// pool's own site in a failback, the failed site in a failover.
    pub restored_site: String,
    pub sip_federation: bool,
    pub xmpp: bool,
    pub front_ends: bool,
    pub pool_failback: bool,
    pub cutover_ttl: u32,
    /// TTL for record sets the plan creates.
    pub record_ttl: u32,
    /// The original TTLs of record sets an unfinished earlier run of this
    /// environment lowered (its `restore-ttl` targets): the plan restores
    /// these, not the TTLs it observes. Empty when there is no such run.
    pub inherited_ttls: Vec<RecordTtl>,
    /// The Front End pool of the restored site the restored Edge pool's next
    /// hop returns to (A14): set when the failback fails back the site's pools
    /// and the next hop is a Front End pool of another site, or when
    /// `--next-hop` names it. Absent from the document otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<String>,
    /// Where the last finished failover of this deployment moved federation
    /// from, when a failback aims there because of it (no `--to`): the
    /// home the journal remembers. Absent from the document otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_over_from: Option<FailedOverFrom>,
}

/// Where a finished failover moved federation from: the home a failback
/// without `--to` returns to. The state alone cannot tell it once everything
/// runs on the surviving pool (a failed-over deployment then looks like one
/// that never failed); the journal that applied the failover can.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailedOverFrom {
    /// The journal's run that applied the failover.
    pub run: i64,
    /// The Edge pool that had federation when the failover started.
    pub pool: String,
    /// That pool's site.
    pub site: String,
}

impl FailedOverFrom {
    /// Where the failover planned by `intent` from `start`, applied by run
    /// `run`, moved federation from: the one Edge pool that had federation at
    /// its start, else the one Edge pool of the site it failed over. `None`
    /// when `intent` is not a failover or neither names one pool.
    #[must_use]
    pub fn of(run: i64, intent: &Intent, start: &Deployment) -> Option<Self> {
        if intent.runbook != Runbook::Failover {
            return None;
        }
        let away = |p: &&EdgePoolState| !same_name(&p.fqdn, &intent.restored_pool);
        let federation: Vec<&EdgePoolState> =
            start.federation_pools().into_iter().filter(away).collect();
        let site: Vec<&EdgePoolState> = start
            .edge_pools
            .iter()
            .filter(|p| p.site == intent.restored_site)
            .filter(away)
            .collect();
        let pool = match (federation.as_slice(), site.as_slice()) {
            ([one], _) | ([], [one]) => *one,
            _ => return None,
        };
        Some(Self {
            run,
            pool: pool.fqdn.clone(),
            site: pool.site.clone(),
        })
    }
}

impl std::fmt::Display for FailedOverFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the failover of run {} moved federation from {} ({})",
            self.run, self.pool, self.site
        )
    }
}

/// The intent cannot be carried out on this deployment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntentError {
    #[error("unknown edge pool `{0}`")]
    UnknownPool(String),
    #[error("`{0}` is a front end pool, not an edge pool")]
    FrontEndPool(String),
    #[error(
        "cannot tell which edge pool to fail back to (candidates: {candidates}); name it with `--to`"
    )]
    Ambiguous { candidates: String },
    #[error("the deployment has no edge pool")]
    NoEdgePool,
    #[error(
        "{from}, but the deployment no longer has `{pool}`; name the edge pool to fail back to with `--to`",
        pool = .from.pool
    )]
    HomeGone { from: FailedOverFrom },
    #[error(
        "cannot tell which site is home: every route and federation name `{pool}` (site `{site}`), and site `{away_site}` sends its Front End pools' media through another site's edge pool while its own edge pool `{away_pool}` runs; no finished failover in the journal says where federation was moved from; name the edge pool to fail back to with `--to` (`--to {away_pool}` if site `{away_site}` is home)"
    )]
    HomeUnknown {
        pool: String,
        site: String,
        away_pool: String,
        away_site: String,
    },
    #[error("site `{0}` has no front end pool to re-associate")]
    NoFrontEndPool(String),
    #[error("no front end pool of site `{0}` is failed over")]
    NothingToFailBack(String),
    #[error("the cut-over TTL `{0}` must be between 1 and 86400 seconds")]
    CutoverTtl(u32),
    #[error("a failover does not fail Front End pools back; leave out `--pool-failback`")]
    PoolFailbackInFailover,
    #[error(
        "`--next-hop {pool}`: not a Front End pool of site `{site}` (the restored Edge pool's site); candidates: {candidates}"
    )]
    NextHopNotHome {
        pool: String,
        site: String,
        candidates: String,
    },
    #[error(
        "`--next-hop {0}`: the pool is failed over and this plan does not fail it back; leave out the narrowing flags or add `--pool-failback`"
    )]
    NextHopFailedOver(String),
    #[error(
        "the next hop of `{edge_pool}` is `{next_hop}` in another site, and several Front End pools of site `{site}` could take it back ({candidates}); name one with `--next-hop`"
    )]
    AmbiguousNextHop {
        edge_pool: String,
        next_hop: String,
        site: String,
        candidates: String,
    },
    #[error("a failover does not restore a next hop; leave out `--next-hop`")]
    NextHopInFailover,
    #[error(
        "cannot tell which site failed over to `{pool}` (candidates: {candidates}); the failed site is the one whose Edge pool has federation now"
    )]
    AmbiguousFailedSite { pool: String, candidates: String },
}

impl Intent {
    /// Check `flags` against `deployment`.
    ///
    /// # Errors
    /// [`IntentError`] naming the input that cannot be carried out.
    pub fn resolve(flags: &IntentFlags, deployment: &Deployment) -> Result<Self, IntentError> {
        Self::resolve_after(flags, deployment, None)
    }

    /// Check `flags` against `deployment`, after the last finished failover
    /// of this deployment, if any (`failed_over`, from the journal). A
    /// failback without `--to` aims at the home that failover moved
    /// federation from, and the intent says so
    /// ([`Intent::failed_over_from`]); with none, at the home the state
    /// shows, or it refuses, naming `--to`, when the state
    /// cannot show it.
    ///
    /// # Errors
    /// [`IntentError`] naming the input that cannot be carried out.
    pub fn resolve_after(
        flags: &IntentFlags,
        deployment: &Deployment,
        failed_over: Option<&FailedOverFrom>,
    ) -> Result<Self, IntentError> {
        if flags.failover {
            return Self::resolve_failover(flags, deployment);
        }
        let mut failed_over_from = None;
        let restored = match (&flags.to, failed_over) {
            (Some(to), _) => edge_pool_named(deployment, to)?,
            (None, Some(from)) => {
                failed_over_from = Some(from.clone());
                deployment
                    .edge_pool(&from.pool)
                    .ok_or_else(|| IntentError::HomeGone { from: from.clone() })?
            }
            (None, None) => {
                let fqdn = home_pool(deployment)?;
                deployment
                    .edge_pool(&fqdn)
                    .ok_or(IntentError::UnknownPool(fqdn))?
            }
        };
        let cutover_ttl = cutover_ttl(flags)?;
        let narrowed =
            flags.sip_federation || flags.xmpp || flags.front_ends || flags.pool_failback;
        let site = restored.site.clone();
        let site_pools = deployment
            .front_end_pools
            .iter()
            .filter(|p| p.site == site)
            .collect::<Vec<_>>();
        if flags.front_ends && site_pools.is_empty() {
            return Err(IntentError::NoFrontEndPool(site));
        }
        if flags.pool_failback && !site_pools.iter().any(|p| p.state != PoolState::Normal) {
            return Err(IntentError::NothingToFailBack(site));
        }
        let pool_failback = (!narrowed && !site_pools.is_empty()) || flags.pool_failback;
        let next_hop = home_next_hop(flags, restored, &site_pools, pool_failback, deployment)?;
        Ok(Self {
            runbook: Runbook::Failback,
            restored_pool: restored.fqdn.clone(),
            restored_site: site,
            sip_federation: !narrowed || flags.sip_federation,
            xmpp: !narrowed || flags.xmpp,
            front_ends: (!narrowed && !site_pools.is_empty()) || flags.front_ends,
            pool_failback,
            cutover_ttl,
            record_ttl: DEFAULT_RECORD_TTL,
            inherited_ttls: Vec::new(),
            next_hop,
            failed_over_from,
        })
    }

    /// The failover: to `--to` or the one Edge pool of another site than the
    /// one that has federation; the failed site is that pool's site.
    fn resolve_failover(flags: &IntentFlags, deployment: &Deployment) -> Result<Self, IntentError> {
        if flags.pool_failback {
            return Err(IntentError::PoolFailbackInFailover);
        }
        if flags.next_hop.is_some() {
            return Err(IntentError::NextHopInFailover);
        }
        let federation_site = match deployment.federation_pools().as_slice() {
            [pool] => Some(pool.site.clone()),
            _ => None,
        };
        let surviving = match &flags.to {
            Some(to) => edge_pool_named(deployment, to)?,
            None => {
                let mut others: Vec<String> = deployment
                    .edge_pools
                    .iter()
                    .filter(|p| federation_site.as_ref() != Some(&p.site))
                    .map(|p| p.fqdn.clone())
                    .collect();
                others.sort();
                match others.as_slice() {
                    [] => return Err(IntentError::NoEdgePool),
                    [one] => deployment
                        .edge_pool(one)
                        .ok_or_else(|| IntentError::UnknownPool(one.clone()))?,
                    _ => {
                        return Err(IntentError::Ambiguous {
                            candidates: quoted(&others),
                        });
                    }
                }
            }
        };
        // The failed site: the one whose Edge pool has federation, unless
        // that is the surviving pool (already failed over): then the one other
        // site with an Edge pool.
        let failed_site = match federation_site.filter(|s| *s != surviving.site) {
            Some(site) => site,
            None => {
                let mut sites: Vec<String> = deployment
                    .edge_pools
                    .iter()
                    .filter(|p| p.site != surviving.site)
                    .map(|p| p.site.clone())
                    .collect();
                sites.sort();
                sites.dedup();
                match sites.as_slice() {
                    [one] => one.clone(),
                    _ => {
                        return Err(IntentError::AmbiguousFailedSite {
                            pool: surviving.fqdn.clone(),
                            candidates: quoted(&sites),
                        });
                    }
                }
            }
        };
        let cutover_ttl = cutover_ttl(flags)?;
        let failed_pools = deployment
            .front_end_pools
            .iter()
            .filter(|p| p.site == failed_site)
            .count();
        if flags.front_ends && failed_pools == 0 {
            return Err(IntentError::NoFrontEndPool(failed_site));
        }
        let narrowed = flags.sip_federation || flags.xmpp || flags.front_ends;
        Ok(Self {
            runbook: Runbook::Failover,
            restored_pool: surviving.fqdn.clone(),
            restored_site: failed_site,
            sip_federation: !narrowed || flags.sip_federation,
            xmpp: !narrowed || flags.xmpp,
            front_ends: (!narrowed && failed_pools > 0) || flags.front_ends,
            pool_failback: false,
            cutover_ttl,
            record_ttl: DEFAULT_RECORD_TTL,
            inherited_ttls: Vec::new(),
            next_hop: None,
            failed_over_from: None,
        })
    }

    #[must_use]
    pub fn identity(&self) -> EdgeIdentity {
        EdgeIdentity::new(&self.restored_pool)
    }
}

/// The Front End pool the restored Edge pool's next hop returns to (A14), if
/// the failback restores it: `--next-hop`, checked to be a Front End pool of
/// the restored site that is normal when A14 runs (normal now, or failed back
/// by this plan); else, when the plan fails the site's pools back and the next
/// hop is a Front End pool of another site, the one pool of the restored site
/// that can serve. A Director next hop is not in the state (see
/// [`crate::deployment`]): it is never restored.
fn home_next_hop(
    flags: &IntentFlags,
    restored: &EdgePoolState,
    site_pools: &[&FrontEndPoolState],
    pool_failback: bool,
    deployment: &Deployment,
) -> Result<Option<String>, IntentError> {
    let serves = |p: &FrontEndPoolState| p.state == PoolState::Normal || pool_failback;
    let candidates: Vec<String> = site_pools
        .iter()
        .filter(|p| serves(p))
        .map(|p| p.fqdn.clone())
        .collect();
    if let Some(named) = &flags.next_hop {
        let name = named.trim_end_matches('.');
        let pool = site_pools
            .iter()
            .find(|p| same_name(&p.fqdn, name))
            .ok_or_else(|| IntentError::NextHopNotHome {
                pool: name.to_owned(),
                site: restored.site.clone(),
                candidates: quoted(&candidates),
            })?;
        if !serves(pool) {
            return Err(IntentError::NextHopFailedOver(pool.fqdn.clone()));
        }
        return Ok(Some(pool.fqdn.clone()));
    }
    let away = restored.next_hop.as_deref().and_then(|hop| {
        deployment
            .front_end_pool(hop)
            .filter(|p| p.site != restored.site)
    });
    let Some(away) = away.filter(|_| pool_failback) else {
        return Ok(None);
    };
    match candidates.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err(IntentError::AmbiguousNextHop {
            edge_pool: restored.fqdn.clone(),
            next_hop: away.fqdn.clone(),
            site: restored.site.clone(),
            candidates: quoted(&candidates),
        }),
    }
}

/// `--cutover-ttl`, or its default, checked.
fn cutover_ttl(flags: &IntentFlags) -> Result<u32, IntentError> {
    let ttl = flags.cutover_ttl.unwrap_or(DEFAULT_CUTOVER_TTL);
    if (1..=86_400).contains(&ttl) {
        Ok(ttl)
    } else {
        Err(IntentError::CutoverTtl(ttl))
    }
}

/// The Edge pool `name` names (`--to`).
fn edge_pool_named<'d>(
    deployment: &'d Deployment,
    name: &str,
) -> Result<&'d EdgePoolState, IntentError> {
    let name = name.trim_end_matches('.');
    if let Some(p) = deployment.edge_pool(name) {
        Ok(p)
    } else if deployment.front_end_pool(name).is_some() {
        Err(IntentError::FrontEndPool(name.to_owned()))
    } else {
        Err(IntentError::UnknownPool(name.to_owned()))
    }
}

/// The deployment is not whole around `pool`, the one pool every route and
/// federation name: a site other than `pool`'s has an Edge pool of its own
/// whose services run, and a Front End pool whose media go through another
/// site's Edge pool. The first such site (by name), as the refusal.
fn away_from_home(deployment: &Deployment, pool: &str) -> Option<IntentError> {
    let site = deployment.edge_pool(pool)?.site.clone();
    let site_of_edge = |fqdn: &str| deployment.edge_pool(fqdn).map(|p| p.site.as_str());
    let mut away: Vec<(&str, &str)> = deployment
        .edge_pools
        .iter()
        .filter(|own| own.site != site && own.services_running())
        .filter(|own| {
            deployment.front_end_pools.iter().any(|fe| {
                fe.site == own.site
                    && fe
                        .media_edge_pool
                        .as_deref()
                        .and_then(site_of_edge)
                        .is_some_and(|media| media != own.site)
            })
        })
        .map(|own| (own.site.as_str(), own.fqdn.as_str()))
        .collect();
    away.sort_unstable();
    let (away_site, away_pool) = away.first()?;
    Some(IntentError::HomeUnknown {
        pool: pool.to_owned(),
        site,
        away_pool: (*away_pool).to_owned(),
        away_site: (*away_site).to_owned(),
    })
}

/// The home Edge pool of the site that failed, inferred from the state, in this
/// order: the Edge pool of a site whose Front End pool is failed over; an Edge
/// pool whose services are not all running; the Edge pool of a site left without
/// a route; the one pool every route and federation already name (nothing left
/// to fail back) — unless the deployment is not whole: another site, whose own
/// Edge pool runs, sends its Front End pools' media through that pool. That is
/// what a finished failover leaves, and the state alone cannot tell it from a
/// home: refused, naming `--to` ([`IntentError::HomeUnknown`]).
fn home_pool(deployment: &Deployment) -> Result<String, IntentError> {
    if deployment.edge_pools.is_empty() {
        return Err(IntentError::NoEdgePool);
    }
    let in_sites = |sites: Vec<&str>| -> Vec<String> {
        let mut pools: Vec<String> = deployment
            .edge_pools
            .iter()
            .filter(|p| sites.contains(&p.site.as_str()))
            .map(|p| p.fqdn.clone())
            .collect();
        pools.sort();
        pools.dedup();
        pools
    };
    let one = |pools: Vec<String>| -> Option<Result<String, IntentError>> {
        match pools.len() {
            0 => None,
            1 => pools.into_iter().next().map(Ok),
            _ => Some(Err(IntentError::Ambiguous {
                candidates: quoted(&pools),
            })),
        }
    };
    let failed_sites = deployment
        .front_end_pools
        .iter()
        .filter(|p| p.state != PoolState::Normal)
        .map(|p| p.site.as_str())
        .collect();
    if let Some(r) = one(in_sites(failed_sites)) {
        return r;
    }
    let stopped = deployment
        .edge_pools
        .iter()
        .filter(|p| !p.services_running())
        .map(|p| p.fqdn.clone())
        .collect();
    if let Some(r) = one(stopped) {
        return r;
    }
    let routeless = deployment
        .sites
        .iter()
        .filter(|s| s.federation_route.is_none() || s.xmpp_federation_route.is_none())
        .map(|s| s.name.as_str())
        .collect();
    if let Some(r) = one(in_sites(routeless)) {
        return r;
    }
    let mut named: Vec<String> = deployment
        .federation_pools()
        .iter()
        .map(|p| p.fqdn.clone())
        .chain(deployment.sites.iter().flat_map(|s| {
            [&s.federation_route, &s.xmpp_federation_route]
                .into_iter()
                .flatten()
                .map(|i| i.pool().to_owned())
        }))
        .collect();
    named.sort();
    named.dedup();
    if let [pool] = named.as_slice()
        && let Some(away) = away_from_home(deployment, pool)
    {
        return Err(away);
    }
    if let Some(r) = one(named) {
        return r;
    }
    Err(IntentError::Ambiguous {
        candidates: deployment
            .edge_pools
            .iter()
            .map(|p| format!("`{}`", p.fqdn))
            .collect::<Vec<_>>()
            .join(", "),
    })
}
