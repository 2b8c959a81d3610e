//! Prosody on loopback taking XMPP server-to-server streams for `contoso.com`
//! on a free port (or on given addresses and port), in the foreground, with its configuration, data and a
//! self-signed certificate (so it offers STARTTLS) in a temporary directory.
//! The tests run as root on CI, which Prosody refuses unless told
//! `run_as_root = true` (its documented switch); as another user it is inert.

use std::fs::{self, File};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

use super::{accepts, output, program, stop, wait_until};

pub const DOMAIN: &str = "contoso.com";

/// A running Prosody; stopped on drop.
#[derive(Debug)]
pub struct Prosody {
    child: Child,
    dir: TempDir,
    /// The server-to-server listener.
    pub s2s: SocketAddr,
}

impl Prosody {
    /// Start Prosody on a free loopback port; fail with the reason if it cannot.
    pub fn start() -> Result<Self, String> {
        Self::start_s2s_on(&[Ipv4Addr::LOCALHOST.into()], super::free_port())
    }

    /// Start Prosody taking server-to-server streams on `port` of each of
    /// `addresses` (loopback ones: the whole of 127.0.0.0/8 is local on Linux),
    /// as an Edge pool's Access Edge external interfaces would; fail with the
    /// reason if it cannot, naming an address whose port something else holds.
    pub fn start_s2s_on(addresses: &[IpAddr], port: u16) -> Result<Self, String> {
        let Some(&first) = addresses.first() else {
            return Err("Prosody needs at least one address to listen on".to_owned());
        };
        for &ip in addresses {
            let address = SocketAddr::new(ip, port);
            // Bound and dropped at once: only to tell why Prosody could not.
            if let Err(e) = TcpListener::bind(address) {
                return Err(format!(
                    "cannot listen on {address} for Prosody's server-to-server streams: {e} \
                     (something else holds it: a system Prosody or another XMPP server on \
                     port {port}? stop it for this test)"
                ));
            }
        }
        let prosody = program("prosody", "prosody")?;
        let openssl = program("openssl", "openssl")?;
        let dir = tempfile::tempdir().map_err(|e| format!("cannot make a directory: {e}"))?;
        let d = dir.path();
        fs::create_dir(d.join("data")).map_err(|e| format!("cannot make the data dir: {e}"))?;
        output(
            Command::new(openssl)
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .arg("-keyout")
                .arg(d.join("key.pem"))
                .arg("-out")
                .arg(d.join("cert.pem"))
                .args([
                    "-subj",
                    &format!("/CN={DOMAIN}"),
                    "-addext",
                    &format!("subjectAltName=DNS:{DOMAIN}"),
                ]),
        );
        let c2s_port = super::free_port();
        let s2s = SocketAddr::new(first, port);
        write_config(d, addresses, port, c2s_port)?;
        let log = d.join("prosody.log");
        let log_file = File::create(&log).map_err(|e| format!("cannot create the log: {e}"))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| format!("cannot share the log: {e}"))?;
        let mut child = Command::new(prosody)
            .arg("--config")
            .arg(d.join("prosody.cfg.lua"))
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot run prosody: {e}"))?;
        let listening = || {
            addresses
                .iter()
                .all(|&ip| accepts(SocketAddr::new(ip, port)))
        };
        if let Err(error) = wait_until("prosody", &mut child, &log, listening) {
            stop(&mut child);
            return Err(error);
        }
        Ok(Self { child, dir, s2s })
    }

    /// Prosody's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("prosody.log")).unwrap_or_default()
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn write_config(
    dir: &Path,
    s2s_addresses: &[IpAddr],
    s2s_port: u16,
    c2s_port: u16,
) -> Result<(), String> {
    let d = dir.display();
    let s2s_interfaces = s2s_addresses
        .iter()
        .map(|ip| format!("\"{ip}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let config = format!(
        r#"-- Written by the failback tests: one host, server-to-server on {s2s_port}.
run_as_root = true
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
s2s_interfaces = {{ {s2s_interfaces} }}
s2s_ports = {{ {s2s_port} }}
c2s_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s_port} }}
s2s_direct_tls_ports = {{ }}
c2s_direct_tls_ports = {{ }}
legacy_ssl_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ "tls", "dialback", "disco" }}
modules_disabled = {{ "admin_socket", "posix" }}
log = {{ info = "*console" }}
certificates = "{d}"
ssl = {{ certificate = "{d}/cert.pem", key = "{d}/key.pem" }}
VirtualHost "{DOMAIN}"
"#
    );
    fs::write(dir.join("prosody.cfg.lua"), config)
        .map_err(|e| format!("cannot write prosody.cfg.lua: {e}"))
}
