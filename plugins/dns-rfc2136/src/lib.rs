//! A `dns-provider` plugin for an authoritative DNS server that takes dynamic
//! updates (RFC 2136) signed with TSIG (RFC 8945, HMAC-SHA256): BIND 9, Knot,
//! PowerDNS, Windows DNS with a TSIG-capable front.
//!
//! - `list-records(zone)` transfers the zone (AXFR over TCP, signed with the
//!   key): one exchange gives every record at one serial, where querying names
//!   one by one would need the names first and could see a zone mid-change. The
//!   server must allow the transfer for the key (`allow-transfer { key … }`).
//! - `replace-rrset` sends one UPDATE with no prerequisites: delete the record
//!   set, then add each record. The server applies it atomically, and applying
//!   the same set again changes nothing.
//! - `delete-rrset` sends one UPDATE deleting the set; an absent set is no error.
//!
//! The DNS messages are hickory-proto's (encoding, decoding, names, record
//! data); [`tsig`] signs and verifies them with hmac/sha2, [`client`] talks to
//! the server over a granted TCP endpoint and maps its answers to typed
//! errors, [`records`] converts between the WIT's records and hickory-proto's.
//!
//! Configuration: `server` (`address:port`, an address the `dns-server` grant
//! holds; no name is resolved), `key-name`, `key-secret` (base64; give it by
//! reference in the environment file, the plugin never logs it), `algorithm`
//! (only `hmac-sha256`, the default), `timeout-ms` (per call, default 5000).
//!
//! In the operator's `failback.toml`:
//!
//! ```toml
//! [plugins.dns-provider]
//! path = "plugins/dns-rfc2136.wasm"
//! sha256 = "…"
//!
//! [plugins.dns-provider.config]
//! server = "192.0.2.53:53"
//! key-name = "failback-key"
//! key-secret = { file = "secrets/failback-key.b64" }   # or { env = "FAILBACK_TSIG" }
//!
//! [plugins.dns-provider.grants.network]
//! dns-server = ["192.0.2.53:53"]
//! ```
//!
//! and on the BIND 9 primary, for the external zone (`tsig-keygen -a
//! hmac-sha256 failback-key` makes the key):
//!
//! ```text
//! zone "contoso.com" {
//!     update-policy { grant failback-key zonesub ANY; };
//!     allow-transfer { key failback-key; };
//! };
//! ```
//!
//! Errors: REFUSED, NOTAUTH and the TSIG errors BADSIG, BADKEY, BADTIME are
//! `refused`, named by their code; NOTAUTH signed with the key (the server
//! took the key but does not serve the zone), NXDOMAIN and NOTZONE are
//! `not-found`; no answer in time, a refused connection or SERVFAIL are
//! `unavailable`; an answer whose TSIG does not verify is `refused` (BADSIG).

#![allow(
    unsafe_code,
    reason = "the SDK's export macro expands to the canonical ABI glue, which is unsafe code"
)]

mod client;
mod records;
mod tsig;

use std::time::Duration;

use base64::Engine as _;
use failback_plugin_sdk::dns::{DnsRecord, Guest, PluginError, RecordData, RecordType};
use failback_plugin_sdk::{config, log};

use client::Server;

/// The default time for one call's whole exchange with the server.
const DEFAULT_TIMEOUT_MS: &str = "5000";

/// The server and key, from the plugin's configuration.
fn server() -> Result<Server, PluginError> {
    let address = config::require("server")?;
    let address = address.parse().map_err(|_| {
        PluginError::Config(format!(
            "`server` = `{address}` is not an `address:port` (names are not resolved)"
        ))
    })?;
    let algorithm = config::get_or("algorithm", tsig::HMAC_SHA256);
    if !algorithm.eq_ignore_ascii_case(tsig::HMAC_SHA256) {
        return Err(PluginError::Config(format!(
            "`algorithm` = `{algorithm}` is not supported; use `{}`",
            tsig::HMAC_SHA256
        )));
    }
    let key_name = config::require("key-name")?;
    // The secret's value is never put in a message, not even a fragment.
    let secret = base64::engine::general_purpose::STANDARD
        .decode(config::require("key-secret")?.trim())
        .map_err(|_| PluginError::Config("`key-secret` is not base64".to_owned()))?;
    if secret.is_empty() {
        return Err(PluginError::Config("`key-secret` is empty".to_owned()));
    }
    let key = tsig::Key::new(&key_name, secret)
        .map_err(|e| PluginError::Config(format!("`key-name`: {e}")))?;
    let timeout_ms: u64 = config::get_or("timeout-ms", DEFAULT_TIMEOUT_MS)
        .parse()
        .ok()
        .filter(|ms| *ms > 0)
        .ok_or_else(|| {
            PluginError::Config("`timeout-ms` is not a positive number of milliseconds".to_owned())
        })?;
    Ok(Server {
        address,
        timeout: Duration::from_millis(timeout_ms),
        key,
    })
}

struct Rfc2136;

impl Guest for Rfc2136 {
    fn list_records(zone: String) -> Result<Vec<DnsRecord>, PluginError> {
        let server = server()?;
        let zone_name = records::name(&zone)?;
        let transferred = server.transfer(&zone_name)?;
        let records: Vec<DnsRecord> = transferred.iter().filter_map(records::from_wire).collect();
        log::debug(&format!(
            "zone `{zone}`: {} records transferred, {} of the types the failback touches",
            transferred.len(),
            records.len()
        ));
        Ok(records)
    }

    fn replace_rrset(
        zone: String,
        name: String,
        rtype: RecordType,
        ttl: u32,
        data: Vec<RecordData>,
    ) -> Result<(), PluginError> {
        let server = server()?;
        let zone_name = records::name(&zone)?;
        let owner = records::name(&name)?;
        let wire_type = records::wire_type(rtype);
        let mut updates = vec![client::delete_rrset(&owner, wire_type)];
        for item in &data {
            updates.push(records::to_wire(&owner, rtype, ttl, item)?);
        }
        server.exchange(&client::update(&zone_name, updates), &zone_name)?;
        log::info(&format!(
            "zone `{zone}`: replaced the {} set of `{name}` with {} record(s), ttl {ttl}",
            records::type_name(rtype),
            data.len()
        ));
        Ok(())
    }

    fn delete_rrset(zone: String, name: String, rtype: RecordType) -> Result<(), PluginError> {
        let server = server()?;
        let zone_name = records::name(&zone)?;
        let owner = records::name(&name)?;
        let updates = vec![client::delete_rrset(&owner, records::wire_type(rtype))];
        server.exchange(&client::update(&zone_name, updates), &zone_name)?;
        log::info(&format!(
            "zone `{zone}`: deleted the {} set of `{name}`",
            records::type_name(rtype)
        ));
        Ok(())
    }
}

failback_plugin_sdk::export_dns_provider!(Rfc2136);
