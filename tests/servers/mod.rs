//! Real servers for the tests of the real-world plugins, started on loopback
//! for one test and stopped when it drops them: BIND 9 `named` ([`named`])
//! serving `contoso.com` with a TSIG key, PowerDNS ([`powerdns`]) serving it
//! with its HTTP API on (behind a TLS front of [`tls`] for HTTPS), Prosody
//! ([`prosody`]) taking XMPP server-to-server streams, and PostgreSQL
//! ([`postgres`]) for the shared journal; [`forger`], a DNS server of the
//! tests' own that signs its answers wrongly on purpose. [`runtime`] loads a built plugin into the
//! real `failback-runtime` with an environment granting it those servers.
//!
//! A server that cannot start is an error with the reason (and its log), never
//! a skipped test: `./scripts/test` installs the Debian packages they need.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support fails the test by panicking"
)]
#![allow(dead_code, reason = "each test binary uses a part of the support")]

pub mod forger;
pub mod named;
pub mod postgres;
pub mod powerdns;
pub mod prosody;
pub mod runtime;
pub mod tls;

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A loopback port free for both TCP and UDP just now (the server binds it
/// right after; another process taking it in between fails the start loudly).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback TCP port");
        let port = tcp
            .local_addr()
            .expect("a bound socket has an address")
            .port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port is free for both TCP and UDP");
}

/// The program `name` on the PATH (or in the sbin directories Debian uses),
/// or an error saying how to get it.
pub fn program(name: &str, package: &str) -> Result<std::path::PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(Into::into));
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(format!(
        "`{name}` is not installed: install the Debian package `{package}` (./scripts/test does)"
    ))
}

/// The last lines of a server's log, for an error message.
pub fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Wait until `ready` holds, or fail with why: the server exited, or did not
/// get ready in time.
pub fn wait_until(
    server: &str,
    child: &mut Child,
    log: &Path,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "{server} exited while starting ({status}); its log:\n{}",
                log_tail(log)
            ));
        }
        if ready() {
            return Ok(());
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(format!(
                "{server} did not get ready within {} s; its log:\n{}",
                START_TIMEOUT.as_secs(),
                log_tail(log)
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether something accepts TCP connections on `address`.
pub fn accepts(address: SocketAddr) -> bool {
    TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
}

/// Stop a server started for a test.
pub fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Run `command` and return its standard output, or fail the test with its
/// error output.
pub fn output(command: &mut Command) -> String {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(
        output.status.success(),
        "{shown} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
