//! The lab's `dns-provider` plugin: record sets of the external zone, kept in
//! an RFC 1035 master file per zone, `dns/<zone>.zone` (docs/lab-files.md).
//!
//! [`zone`] reads and writes the master file; [`records`] carries out the WIT
//! functions on a zone directory. Both are plain functions over paths, tested
//! natively; the exported functions only read the configuration.
//!
//! Configuration: `dir` (where the `dns` grant is mounted, default `/dns`),
//! `writes-dir` (the `writes` grant, default `/writes`).

#![allow(
    unsafe_code,
    reason = "the SDK's export macro expands to the canonical ABI glue, which is unsafe code"
)]

mod records;
mod zone;

use failback_plugin_sdk::config;
use failback_plugin_sdk::dns::{DnsRecord, Guest, PluginError, RecordData, RecordType};

use records::Lab;

struct LabDns;

fn lab() -> Lab {
    Lab {
        dir: config::get_or("dir", "/dns").into(),
        writes: config::get_or("writes-dir", "/writes").into(),
    }
}

impl Guest for LabDns {
    fn list_records(zone: String) -> Result<Vec<DnsRecord>, PluginError> {
        lab().list_records(&zone)
    }

    fn replace_rrset(
        zone: String,
        name: String,
        rtype: RecordType,
        ttl: u32,
        data: Vec<RecordData>,
    ) -> Result<(), PluginError> {
        lab().replace_rrset(&zone, &name, rtype, ttl, &data)
    }

    fn delete_rrset(zone: String, name: String, rtype: RecordType) -> Result<(), PluginError> {
        lab().delete_rrset(&zone, &name, rtype)
    }
}

failback_plugin_sdk::export_dns_provider!(LabDns);
