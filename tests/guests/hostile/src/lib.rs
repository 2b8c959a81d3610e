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
//! - `silent-read:ADDR`: connect, then `wasi:io/streams` `blocking-read` from a
//!   peer that never sends;
//! - `silent-write:ADDR`: connect, then `blocking-write-and-flush` to a peer
//!   that never reads, until its buffers are full;
//! - `deny-flood:ADDR:COUNT`: send that many UDP datagrams to an address that
//!   is not granted;
//! - `udp-echo:ADDR`: send a datagram to the granted ADDR and return the first
//!   answer from it (the test sends unsolicited datagrams meanwhile);
//! - `panic-secret`, `error-secret`, `log-secret-cut`, `stderr-secret-cut`:
//!   put the `secret` configuration value into a panic message, a
//!   `plugin-error`, a log line cut at its limit, stderr cut at what is kept;
//! - `panic`: panic (a trap, since guests are built with `panic = "abort"`);
//! - `huge:BYTES`: return one TXT record of that many bytes;
//! - `many:COUNT`: return that many records;
//! - `log-flood:COUNT`: write that many 1 KiB log lines;
//! - anything else: return one record and succeed.
//!
//! It is a `port-probe` too, whose `probe-endpoints(requests)` attacks the
//! host's reading of a batch as the first request's `host` names:
//! - `short`: one answer fewer than the requests;
//! - `long`: one answer more;
//! - `error-secret`: every answer a `plugin-error` carrying the `secret`
//!   configuration value;
//! - anything else: every endpoint closed.

#![allow(
    unsafe_code,
    reason = "wit-bindgen's export macro expands to the canonical ABI glue, which is unsafe code"
)]

use failback_plugin_sdk::dns::{DnsRecord, Guest, PluginError, RecordData, RecordType};
use failback_plugin_sdk::probe;

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
            "silent-read" => {
                let (_socket, input, _output) = connect(argument)?;
                let read = input.blocking_read(1).map_err(|e| refused(argument, e))?;
                Ok(vec![txt("read", read.len().to_string())])
            }
            "silent-write" => {
                let (_socket, _input, output) = connect(argument)?;
                let chunk = vec![0_u8; 4096];
                loop {
                    output
                        .blocking_write_and_flush(&chunk)
                        .map_err(|e| refused(argument, e))?;
                }
            }
            "deny-flood" => {
                let (address, count) = argument
                    .rsplit_once(':')
                    .ok_or_else(|| PluginError::Invalid(argument.to_owned()))?;
                let socket =
                    std::net::UdpSocket::bind("0.0.0.0:0").map_err(|e| refused("bind", e))?;
                for _ in 0..parse::<u32>(count)? {
                    let _ = socket.send_to(b"x", address);
                }
                Ok(Vec::new())
            }
            "udp-echo" => {
                let socket =
                    std::net::UdpSocket::bind("0.0.0.0:0").map_err(|e| refused("bind", e))?;
                socket
                    .send_to(b"ping", argument)
                    .map_err(|e| refused(argument, e))?;
                let mut buffer = [0_u8; 64];
                loop {
                    let (n, from) = socket
                        .recv_from(&mut buffer)
                        .map_err(|e| refused(argument, e))?;
                    if from.to_string() == argument {
                        return Ok(vec![txt(
                            "echo",
                            String::from_utf8_lossy(&buffer[..n]).into_owned(),
                        )]);
                    }
                }
            }
            "panic-secret" => {
                #[expect(clippy::panic, reason = "this guest's job is to trap")]
                {
                    panic!("the secret is {}", secret())
                }
            }
            "error-secret" => Err(PluginError::Failed(format!("the secret is {}", secret()))),
            "log-secret-cut" => {
                // The secret starts 4 bytes before the 4 KiB a log line keeps.
                failback_plugin_sdk::log::info(&format!("{}{}", "x".repeat(4092), secret()));
                Ok(Vec::new())
            }
            "stderr-secret-cut" => {
                // The secret starts 4 bytes before the 4 KiB of stderr kept.
                eprint!("{}{}", "x".repeat(4092), secret());
                std::process::abort()
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

fn secret() -> String {
    failback_plugin_sdk::config::get("secret").unwrap_or_default()
}

/// A TCP connection to `address` (IPv4) through `wasi:sockets` directly: the
/// socket and its two streams.
fn connect(
    address: &str,
) -> Result<
    (
        wasip2::sockets::tcp::TcpSocket,
        wasip2::io::streams::InputStream,
        wasip2::io::streams::OutputStream,
    ),
    PluginError,
> {
    use wasip2::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
    let parsed: std::net::SocketAddrV4 = address
        .parse()
        .map_err(|_| PluginError::Invalid(format!("`{address}` is not an IPv4 socket address")))?;
    let [a, b, c, d] = parsed.ip().octets();
    let network = wasip2::sockets::instance_network::instance_network();
    let socket = wasip2::sockets::tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4)
        .map_err(|e| refused(address, format!("{e:?}")))?;
    socket
        .start_connect(
            &network,
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: parsed.port(),
                address: (a, b, c, d),
            }),
        )
        .map_err(|e| refused(address, format!("{e:?}")))?;
    socket.subscribe().block();
    let (input, output) = socket
        .finish_connect()
        .map_err(|e| refused(address, format!("{e:?}")))?;
    Ok((socket, input, output))
}

impl probe::Guest for Hostile {
    fn probe_endpoints(
        requests: Vec<probe::ProbeRequest>,
    ) -> Result<Vec<Result<probe::ProbeReport, PluginError>>, PluginError> {
        let closed = |request: &probe::ProbeRequest| {
            Ok(probe::ProbeReport {
                state: probe::PortState::Closed,
                xmpp: None,
                detail: format!("{}:{} closed", request.host, request.port),
            })
        };
        let mut answers: Vec<_> = requests.iter().map(closed).collect();
        match requests.first().map(|request| request.host.as_str()) {
            Some("short") => {
                answers.pop();
            }
            Some("long") => answers.push(closed(&requests[0])),
            Some("error-secret") => {
                for answer in &mut answers {
                    *answer = Err(PluginError::Failed(format!("the secret is {}", secret())));
                }
            }
            _ => {}
        }
        Ok(answers)
    }
}

failback_plugin_sdk::dns_provider::export_dns_provider!(Hostile);
failback_plugin_sdk::port_probe::export_port_probe!(Hostile);
