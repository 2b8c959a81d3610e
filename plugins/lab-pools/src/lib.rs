//! The lab's `pool-control` plugin: Front End pool failover state, and
//! `Invoke-CsPoolFailback`, over `pools/pools.json` (docs/lab-files.md).
//!
//! The exported functions only read the configuration and call [`pools`], whose
//! plain functions take the directories as paths, so they are tested natively.
//!
//! Configuration: `dir` (where the `pools` grant is mounted, default `/pools`),
//! `writes-dir` (the `writes` grant, default `/writes`).

#![allow(
    unsafe_code,
    reason = "the SDK's export macro expands to the canonical ABI glue, which is unsafe code"
)]

mod pools;

use failback_plugin_sdk::config;
use failback_plugin_sdk::pools::{Guest, PluginError, PoolStatus};

use pools::Lab;

struct LabPools;

fn lab() -> Lab {
    Lab {
        dir: config::get_or("dir", "/pools").into(),
        writes: config::get_or("writes-dir", "/writes").into(),
    }
}

impl Guest for LabPools {
    fn list_pools() -> Result<Vec<PoolStatus>, PluginError> {
        lab().list_pools()
    }

    fn pool_failback(pool_fqdn: String) -> Result<(), PluginError> {
        lab().failback(&pool_fqdn)
    }
}

failback_plugin_sdk::export_pool_control!(LabPools);
