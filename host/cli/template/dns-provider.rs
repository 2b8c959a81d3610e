//! {name}: a failback `dns-provider` plugin. It reads and changes the records
//! of the external DNS zone that federation partners use to find the Access
//! Edge (`_sipfederationtls._tcp`, `sip.`) and the XMPP proxy
//! (`_xmpp-server._tcp`, `xmpp.`).
//!
//! Each function says what the host relies on (the WIT's own words are in
//! `wit/dns.wit`); `failback plugin test` checks every promise. Until a
//! function is written it answers `plugin-error::failed("not implemented: …")`.

wit_bindgen::generate!({
    path: "wit",
    world: "failback:plugin/dns-provider@0.3.0",
});

use exports::failback::plugin::dns::{DnsRecord, Guest, RecordData, RecordType};
use failback::plugin::types::PluginError;

struct Plugin;

impl Guest for Plugin {
    /// Every A, AAAA, CNAME, SRV and TXT record of `zone` (the zone apex,
    /// `contoso.com`). Names are fully qualified, lower case, without the final
    /// dot. A zone that does not exist is `PluginError::NotFound`.
    fn list_records(zone: String) -> Result<Vec<DnsRecord>, PluginError> {
        let _ = zone;
        Err(not_implemented("dns.list-records"))
    }

    /// Make the set (`name`, `rtype`) of `zone` exactly `data`, each record with
    /// `ttl`; create it when absent. Re-applying the same set succeeds and
    /// changes nothing. Data of another type than `rtype` is
    /// `PluginError::Invalid`.
    fn replace_rrset(
        zone: String,
        name: String,
        rtype: RecordType,
        ttl: u32,
        data: Vec<RecordData>,
    ) -> Result<(), PluginError> {
        let _ = (zone, name, rtype, ttl, data);
        Err(not_implemented("dns.replace-rrset"))
    }

    /// Delete the set (`name`, `rtype`) from `zone`. Deleting an absent set
    /// succeeds.
    fn delete_rrset(zone: String, name: String, rtype: RecordType) -> Result<(), PluginError> {
        let _ = (zone, name, rtype);
        Err(not_implemented("dns.delete-rrset"))
    }
}

/// What a function answers until it is written.
fn not_implemented(function: &str) -> PluginError {
    PluginError::Failed(format!("not implemented: `{function}`"))
}

export!(Plugin);
