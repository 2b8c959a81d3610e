//! {name}: a failback `pool-control` plugin. It reports the failover state of
//! each Front End pool and fails a pool back (`Invoke-CsPoolFailback`).
//!
//! Each function says what the host relies on (the WIT's own words are in
//! `wit/pools.wit`); `failback plugin test` checks every promise. Until a
//! function is written it answers `plugin-error::failed("not implemented: …")`.

wit_bindgen::generate!({
    path: "wit",
    world: "failback:plugin/pool-control@0.3.0",
});

use exports::failback::plugin::pools::{Guest, PoolStatus};
use failback::plugin::types::PluginError;

struct Plugin;

impl Guest for Plugin {
    /// Every Front End pool: its state and, when failed over, its backup pool
    /// and the `-PoolFqdn` the failover was run with.
    fn list_pools() -> Result<Vec<PoolStatus>, PluginError> {
        Err(not_implemented("pools.list-pools"))
    }

    /// `Invoke-CsPoolFailback -PoolFqdn <pool_fqdn>`, returning when it has
    /// finished. A pool that is not failed over, or an FQDN other than the one
    /// it was failed over with, is `PluginError::Invalid`; a pool that does not
    /// exist is `PluginError::NotFound`.
    fn pool_failback(pool_fqdn: String) -> Result<(), PluginError> {
        let _ = pool_fqdn;
        Err(not_implemented("pools.pool-failback"))
    }
}

/// What a function answers until it is written.
fn not_implemented(function: &str) -> PluginError {
    PluginError::Failed(format!("not implemented: `{function}`"))
}

export!(Plugin);
