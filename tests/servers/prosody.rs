//! Prosody on loopback taking XMPP server-to-server streams for `contoso.com`
//! on a free port, in the foreground, with its configuration, data and a
//! self-signed certificate (so it offers STARTTLS) in a temporary directory.
//! The tests run as root on CI, which Prosody refuses unless told
//! `run_as_root = true` (its documented switch); as another user it is inert.

use std::fs::{self, File};
use std::net::SocketAddr;
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
    /// Start Prosody; fail with the reason if it cannot.
    pub fn start() -> Result<Self, String> {
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
        let s2s_port = super::free_port();
        let c2s_port = super::free_port();
        let s2s: SocketAddr = ([127, 0, 0, 1], s2s_port).into();
        write_config(d, s2s_port, c2s_port)?;
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
        if let Err(error) = wait_until("prosody", &mut child, &log, || accepts(s2s)) {
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

fn write_config(dir: &Path, s2s_port: u16, c2s_port: u16) -> Result<(), String> {
    let d = dir.display();
    let config = format!(
        r#"-- Written by the failback tests: one host, server-to-server on {s2s_port}.
run_as_root = true
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
s2s_ports = {{ {s2s_port} }}
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
