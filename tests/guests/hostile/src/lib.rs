//! A hostile plugin: a `dns-provider` whose `list-records(zone)` attacks the
//! sandbox in the way `zone` names. The runtime's sandbox tests
//! (`host/runtime/tests/sandbox.rs`) call it once per attack and check that each
//! one fails with its typed error while the host keeps serving.
//!
//! Attacks (`zone` argument):
//! - `loop`: spin forever (the epoch deadline must stop it);
//! - `grow`: allocate and touch memory until the allocator fails (the memory
//!   limit must stop it);
//! - `read:PATH`: read a file and return its text (a path outside the granted
//!   directory must be refused);
//! - `write:PATH`: write a file (a read-only grant must refuse);
//! - `connect:ADDR`: open a TCP connection (only a granted endpoint may connect);
//! - `lookup:NAME`: resolve a name (refused without the `dns-lookup` grant);
//! - `sleep:MS`: block in a host call (`wasi:clocks` via `std::thread::sleep`);
//! - `stall:ADDR`: connect, then wait for a byte the peer never sends;
//! - `panic`: panic (a trap, since guests are built with `panic = "abort"`);
//! - `huge:BYTES`: return one TXT record of that many bytes;
//! - `many:COUNT`: return that many records;
//! - `log-flood:COUNT`: write that many 1 KiB log lines;
//! - anything else: return one record and succeed.

#![allow(
    unsafe_code,
    reason = "wit-bindgen's export macro expands to the canonical ABI glue, which is unsafe code"
)]

use failback_plugin_sdk::dns::{DnsRecord, Guest, PluginError, RecordData, RecordType};

struct Hostile;

fn refused(what: &str, error: impl std::fmt::Display) -> PluginError {
    PluginError::Refused(format!("{what}: {error}"))
}

fn txt(name: &str, text: String) -> DnsRecord {
    DnsRecord {
        name: name.to_owned(),
        ttl: 60,
        data: RecordData::Txt(text),
    }
}

fn parse<T: std::str::FromStr>(value: &str) -> Result<T, PluginError> {
    value
        .parse()
        .map_err(|_| PluginError::Invalid(format!("`{value}` is not a number")))
}

impl Guest for Hostile {
    fn list_records(zone: String) -> Result<Vec<DnsRecord>, PluginError> {
        let (attack, argument) = zone.split_once(':').unwrap_or((zone.as_str(), ""));
        match attack {
            "loop" => {
                let mut counter = 0_u64;
                loop {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
            }
            "grow" => {
                let mut chunks: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = vec![0_u8; 1 << 20];
                    chunk[chunks.len() % (1 << 20)] = 1;
                    chunks.push(std::hint::black_box(chunk));
                }
            }
            "read" => std::fs::read_to_string(argument)
                .map(|text| vec![txt("read", text)])
                .map_err(|e| refused(argument, e)),
            "write" => std::fs::write(argument, b"written by a hostile plugin")
                .map(|()| Vec::new())
                .map_err(|e| refused(argument, e)),
            "connect" => std::net::TcpStream::connect(argument)
                .map(|stream| {
                    let peer = stream
                        .peer_addr()
                        .map_or_else(|_| "unknown".to_owned(), |a| a.to_string());
                    vec![txt("connected", peer)]
                })
                .map_err(|e| refused(argument, e)),
            "lookup" => std::net::ToSocketAddrs::to_socket_addrs(&(argument, 443))
                .map(|addrs| {
                    addrs
                        .map(|addr| txt("resolved", addr.ip().to_string()))
                        .collect()
                })
                .map_err(|e| refused(argument, e)),
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_millis(parse(argument)?));
                Ok(Vec::new())
            }
            "stall" => {
                use std::io::Read as _;
                let mut stream =
                    std::net::TcpStream::connect(argument).map_err(|e| refused(argument, e))?;
                let mut byte = [0_u8; 1];
                let read = stream.read(&mut byte).map_err(|e| refused(argument, e))?;
                Ok(vec![txt("read", read.to_string())])
            }
            "panic" => {
                #[expect(clippy::panic, reason = "this guest's job is to trap")]
                {
                    panic!("a hostile plugin panicked on purpose")
                }
            }
            "huge" => Ok(vec![txt("huge", "x".repeat(parse(argument)?))]),
            "many" => Ok((0..parse::<usize>(argument)?)
                .map(|_| DnsRecord {
                    name: String::new(),
                    ttl: 0,
                    data: RecordData::A(String::new()),
                })
                .collect()),
            "log-flood" => {
                let line = "x".repeat(1024);
                for _ in 0..parse::<u32>(argument)? {
                    failback_plugin_sdk::log::info(&line);
                }
                Ok(Vec::new())
            }
            _ => Ok(vec![DnsRecord {
                name: format!("ok.{zone}"),
                ttl: 60,
                data: RecordData::A("192.0.2.1".to_owned()),
            }]),
        }
    }

    fn replace_rrset(
        _zone: String,
        _name: String,
        _rtype: RecordType,
        _ttl: u32,
        _data: Vec<RecordData>,
    ) -> Result<(), PluginError> {
        Ok(())
    }

    fn delete_rrset(_zone: String, _name: String, _rtype: RecordType) -> Result<(), PluginError> {
        Ok(())
    }
}

failback_plugin_sdk::dns_provider::export_dns_provider!(Hostile);
