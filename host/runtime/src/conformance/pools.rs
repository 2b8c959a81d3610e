//! The pool-control cases (`wit/plugin/pools.wit`): what the host relies on
//! when it fails a Front End pool back (DESIGN §1, A12; invariant 11: only a
//! pool that is failed over, with the FQDN it was failed over with).
//!
//! The cases fail back one failed-over pool, when the plugin lists one.

use failback_core::observed::{PoolState, PoolStatus};

use super::{
    ABSENT, Case, CaseReport, Checked, Miss, Relabel, Variant, answer, none_of, refusal,
    run_cases_as, shown,
};
use crate::bindings::plugin::{POOL_FAILBACK, POOL_FAILBACK_V0_1, PoolControl};
use crate::manifest::PluginTrack;

const LIST: &str = "pools.list-pools";

pub(super) struct Pools {
    plugin: PoolControl,
    /// The pool a case failed back.
    failed_back: Option<String>,
}

pub(super) const CASES: &[Case<Pools>] = &[
    Case {
        id: "list-pools",
        function: LIST,
        uses: &[],
        promise: "list-pools answers with every Front End pool; a failed-over one names its \
                  backup pool and the FQDN it was failed over with",
        check: list_pools,
    },
    Case {
        id: "pool-failback-unknown",
        function: POOL_FAILBACK,
        uses: &[],
        promise: "failing back a pool that does not exist is plugin-error::not-found",
        check: pool_failback_unknown,
    },
    Case {
        id: "pool-failback-wrong-fqdn",
        function: POOL_FAILBACK,
        uses: &[LIST],
        promise: "failing back with the backup pool's FQDN instead of the failed-over pool's is \
                  refused (plugin-error::invalid, or not-found when the backup pool is not \
                  listed), and the failed-over pool stays failed over",
        check: pool_failback_wrong_fqdn,
    },
    Case {
        id: "pool-failback-not-failed-over",
        function: POOL_FAILBACK,
        uses: &[LIST],
        promise: "failing back a pool that is not failed over is plugin-error::invalid, and the \
                  pool stays as it was",
        check: pool_failback_not_failed_over,
    },
    Case {
        id: "pool-failback",
        function: POOL_FAILBACK,
        uses: &[LIST],
        promise: "failing back a failed-over, online pool with the FQDN it was failed over with \
                  succeeds; list-pools then shows it normal",
        check: pool_failback,
    },
    Case {
        id: "pool-failback-again",
        function: POOL_FAILBACK,
        uses: &[LIST],
        promise: "failing back the same pool again, now normal, is plugin-error::invalid",
        check: pool_failback_again,
    },
];

/// Run every pool-control case against `plugin`.
pub(super) fn run(plugin: &PoolControl) -> Vec<CaseReport> {
    let mut pools = Pools {
        plugin: plugin.clone(),
        failed_back: None,
    };
    let relabel: Relabel = match plugin.plugin().manifest().plugin_track() {
        Some(PluginTrack::V0_1) => |f| {
            if f == POOL_FAILBACK {
                POOL_FAILBACK_V0_1
            } else {
                f
            }
        },
        _ => |f| f,
    };
    run_cases_as(CASES, &mut pools, relabel)
}

impl Pools {
    fn list(&self) -> Result<Vec<PoolStatus>, Miss> {
        answer(self.plugin.list_pools(), "every Front End pool's state")
    }

    /// The pool `fqdn` as list-pools shows it now.
    fn find(&self, fqdn: &str) -> Result<Option<PoolStatus>, Miss> {
        Ok(self
            .list()?
            .into_iter()
            .find(|p| p.fqdn.eq_ignore_ascii_case(fqdn)))
    }

    /// `pool` is still as it was.
    fn unchanged(&self, pool: &PoolStatus) -> Checked {
        let now = self.find(&pool.fqdn)?;
        if now.as_ref() == Some(pool) {
            Ok(())
        } else {
            Err(Miss::failed(
                format!("`{}` unchanged: {}", pool.fqdn, shown(pool)),
                format!("list-pools shows {}", shown(&now)),
            ))
        }
    }
}

fn failed_over(pool: &PoolStatus) -> bool {
    pool.state == PoolState::FailedOver
}

fn list_pools(pools: &mut Pools) -> Checked {
    let incomplete: Vec<PoolStatus> = pools
        .list()?
        .into_iter()
        .filter(|p| failed_over(p) && (p.backup_pool.is_none() || p.failover_fqdn.is_none()))
        .collect();
    none_of(
        &incomplete,
        "a backup pool and a failover FQDN for every failed-over pool",
        "pools",
    )
}

fn pool_failback_unknown(pools: &mut Pools) -> Checked {
    refusal(pools.plugin.pool_failback(ABSENT), &[Variant::NotFound])
}

fn pool_failback_not_failed_over(pools: &mut Pools) -> Checked {
    let Some(pool) = pools
        .list()?
        .into_iter()
        .find(|p| p.state == PoolState::Normal)
    else {
        return Err(Miss::NotApplicable(
            "list-pools lists no pool in state normal".to_owned(),
        ));
    };
    refusal(pools.plugin.pool_failback(&pool.fqdn), &[Variant::Invalid])?;
    pools.unchanged(&pool)
}

fn pool_failback_wrong_fqdn(pools: &mut Pools) -> Checked {
    let listed = pools.list()?;
    let Some((pool, backup)) = listed.iter().find_map(|p| {
        p.backup_pool
            .clone()
            .filter(|_| failed_over(p))
            .map(|backup| (p.clone(), backup))
    }) else {
        return Err(Miss::NotApplicable(
            "list-pools lists no failed-over pool with a backup pool".to_owned(),
        ));
    };
    let backup_listed = listed.iter().any(|p| p.fqdn.eq_ignore_ascii_case(&backup));
    let refused = if backup_listed {
        [Variant::Invalid].as_slice()
    } else {
        [Variant::NotFound, Variant::Invalid].as_slice()
    };
    refusal(pools.plugin.pool_failback(&backup), refused)?;
    pools.unchanged(&pool)
}

fn pool_failback(pools: &mut Pools) -> Checked {
    let Some(pool) = pools
        .list()?
        .into_iter()
        .find(|p| failed_over(p) && p.online && p.failover_fqdn.is_some())
    else {
        return Err(Miss::NotApplicable(
            "list-pools lists no failed-over pool that is online".to_owned(),
        ));
    };
    let fqdn = pool
        .failover_fqdn
        .clone()
        .unwrap_or_else(|| pool.fqdn.clone());
    answer(pools.plugin.pool_failback(&fqdn), "ok")?;
    pools.failed_back = Some(fqdn.clone());
    let now = pools.find(&pool.fqdn)?;
    if now.as_ref().is_some_and(|p| p.state == PoolState::Normal) {
        Ok(())
    } else {
        Err(Miss::failed(
            format!("list-pools to show `{}` normal", pool.fqdn),
            format!("it shows {}", shown(&now)),
        ))
    }
}

fn pool_failback_again(pools: &mut Pools) -> Checked {
    let Some(fqdn) = pools.failed_back.clone() else {
        return Err(Miss::NotApplicable("no pool was failed back".to_owned()));
    };
    refusal(pools.plugin.pool_failback(&fqdn), &[Variant::Invalid])
}
