//! A DNS provider that imports more than its manifest lets it use: listing a
//! zone tries to read `/zones/<zone>` (std's files: `wasi:filesystem`) and to
//! connect to 192.0.2.53:53 (std's sockets: `wasi:sockets`), but its manifest
//! requests no directory and no network endpoint, so the sandbox gives it
//! neither and both fail. The review must say so of each import ("imports
//! wasi:filesystem, but no directory is requested: it can open nothing"),
//! and loading it with no grant works: it links, and reaches nothing.

#![allow(
    unsafe_code,
    reason = "wit-bindgen's export macro expands to the canonical ABI glue, which is unsafe code"
)]

use failback_plugin_sdk::dns;
use failback_plugin_sdk::types::PluginError;

struct IdleImports;

impl dns::Guest for IdleImports {
    fn list_records(zone: String) -> Result<Vec<dns::DnsRecord>, PluginError> {
        let file = std::fs::read_to_string(format!("/zones/{zone}"));
        let socket = std::net::TcpStream::connect(("192.0.2.53", 53));
        Err(PluginError::Unavailable(format!(
            "no zone file ({}) and no server ({})",
            file.err().map_or_else(String::new, |e| e.to_string()),
            socket.err().map_or_else(String::new, |e| e.to_string()),
        )))
    }

    fn replace_rrset(
        _zone: String,
        _name: String,
        _rtype: dns::RecordType,
        _ttl: u32,
        _data: Vec<dns::RecordData>,
    ) -> Result<(), PluginError> {
        Err(PluginError::Unavailable("nothing to write to".to_owned()))
    }

    fn delete_rrset(
        _zone: String,
        _name: String,
        _rtype: dns::RecordType,
    ) -> Result<(), PluginError> {
        Err(PluginError::Unavailable("nothing to write to".to_owned()))
    }
}

failback_plugin_sdk::dns_provider::export_dns_provider!(IdleImports);
