//! PowerDNS Authoritative (`pdns_server`) on loopback, in the foreground, as
//! the current user, with its SQLite database and configuration in a
//! temporary directory: the zone `contoso.com` as the failover left it (the
//! SIP and XMPP records pointing at the failover pool), its HTTP API on with
//! a random key. It takes no port 0, so the ports are picked free.
//!
//! [`PowerDns::api_get`] reads the API back with a client of the test's own
//! (one plain HTTP/1.1 exchange), [`PowerDns::dig`] reads it through DNS.

use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::{accepts, output, program, stop, wait_until};

pub const ZONE: &str = "contoso.com";

/// Where Debian's `pdns-backend-sqlite3` puts the database schema.
const SCHEMA: &str = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql";

/// The zone as the tests find it: SIP federation and XMPP pointing at the
/// failover pool's Access Edge (192.0.2.20).
const ZONE_FILE: &str = "\
$ORIGIN contoso.com.
$TTL 300
@                        IN SOA ns1.contoso.com. hostmaster.contoso.com. 1 3600 600 86400 300
@                        IN NS  ns1.contoso.com.
ns1                      IN A   127.0.0.1
_sipfederationtls._tcp   IN SRV 0 0 5061 sip.contoso.com.
_xmpp-server._tcp        IN SRV 0 0 5269 xmpp.contoso.com.
sip                      IN A   192.0.2.20
xmpp                     IN A   192.0.2.20
";

/// A running `pdns_server`; stopped on drop.
#[derive(Debug)]
pub struct PowerDns {
    child: Child,
    dir: TempDir,
    /// Its DNS service (UDP and TCP).
    pub dns: SocketAddr,
    /// Its webserver (the HTTP API under `/api/v1`).
    pub api: SocketAddr,
    /// The API key.
    pub key: String,
}

impl PowerDns {
    /// Start PowerDNS serving [`ZONE`]; fail with the reason if it cannot.
    pub fn start() -> Result<Self, String> {
        Self::start_zone(ZONE_FILE)
    }

    /// Start PowerDNS serving `zone_file` (master-file text) as [`ZONE`].
    pub fn start_zone(zone_file: &str) -> Result<Self, String> {
        let server = program("pdns_server", "pdns-server")?;
        let pdnsutil = program("pdnsutil", "pdns-server")?;
        program("dig", "bind9-dnsutils")?;
        let schema = fs::read_to_string(SCHEMA).map_err(|e| {
            format!("cannot read `{SCHEMA}` ({e}): install the Debian package `pdns-backend-sqlite3` (./scripts/test does)")
        })?;
        let dir = tempfile::tempdir().map_err(|e| format!("cannot make a directory: {e}"))?;
        let database = dir.path().join("pdns.sqlite3");
        rusqlite::Connection::open(&database)
            .and_then(|db| db.execute_batch(&schema))
            .map_err(|e| format!("cannot make the database: {e}"))?;
        let key = format!("pdns-{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let dns: SocketAddr = ([127, 0, 0, 1], super::free_port()).into();
        let api: SocketAddr = ([127, 0, 0, 1], super::free_port()).into();
        fs::write(
            dir.path().join("pdns.conf"),
            format!(
                "launch=gsqlite3\ngsqlite3-database={}\n\
                 local-address=127.0.0.1\nlocal-port={}\n\
                 api=yes\napi-key={key}\n\
                 webserver=yes\nwebserver-address=127.0.0.1\nwebserver-port={}\n\
                 webserver-allow-from=127.0.0.0/8\n\
                 socket-dir={}\nguardian=no\ndaemon=no\ndisable-syslog=yes\nwrite-pid=no\n",
                database.display(),
                dns.port(),
                api.port(),
                dir.path().display()
            ),
        )
        .map_err(|e| format!("cannot write the configuration: {e}"))?;
        let zone = dir.path().join("zone");
        fs::write(&zone, zone_file).map_err(|e| format!("cannot write the zone: {e}"))?;
        output(
            Command::new(&pdnsutil)
                .arg(format!("--config-dir={}", dir.path().display()))
                .arg("load-zone")
                .arg(ZONE)
                .arg(&zone),
        );
        // Changes through the API bump the SOA serial (PowerDNS's own rule,
        // which the plugin relies on: it never edits the SOA).
        output(
            Command::new(&pdnsutil)
                .arg(format!("--config-dir={}", dir.path().display()))
                .args(["set-meta", ZONE, "SOA-EDIT-API", "DEFAULT"]),
        );
        let log = dir.path().join("pdns.log");
        let log_file = File::create(&log).map_err(|e| format!("cannot create the log: {e}"))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| format!("cannot share the log: {e}"))?;
        let mut child = Command::new(server)
            .arg(format!("--config-dir={}", dir.path().display()))
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot run pdns_server: {e}"))?;
        let ready = wait_until("pdns_server", &mut child, &log, || {
            accepts(api) && accepts(dns)
        });
        if let Err(error) = ready {
            stop(&mut child);
            return Err(error);
        }
        Ok(Self {
            child,
            dir,
            dns,
            api,
            key,
        })
    }

    /// The API's base URL over plain HTTP.
    pub fn api_url(&self) -> String {
        format!("http://{}/api/v1", self.api)
    }

    /// `GET path` of the API with the key, as the test's own client: the
    /// status and the body.
    pub fn api_get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.api).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET /api/v1{path} HTTP/1.1\r\nhost: {}\r\nx-api-key: {}\r\nconnection: close\r\n\r\n",
            self.api, self.key
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// The answers `dig` gets for `name` `rtype`, sorted.
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        let text = output(
            Command::new("dig")
                .arg(format!("@{}", self.dns.ip()))
                .arg("-p")
                .arg(self.dns.port().to_string())
                .arg("+short")
                .arg("+tcp")
                .arg(name)
                .arg(rtype),
        );
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    }

    /// The zone's SOA serial, through DNS.
    pub fn serial(&self) -> String {
        self.dig(ZONE, "SOA")
            .first()
            .and_then(|soa| soa.split_whitespace().nth(2).map(str::to_owned))
            .unwrap_or_default()
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        super::log_tail(&self.dir.path().join("pdns.log"))
    }

    /// Load `zone_file` again as [`ZONE`], as when it started: what the API
    /// changed is gone (a benchmark's fresh start for each iteration).
    pub fn reload_zone(&self, zone_file: &str) {
        let zone = self.dir.path().join("zone");
        fs::write(&zone, zone_file).unwrap();
        output(
            Command::new("pdnsutil")
                .arg(format!("--config-dir={}", self.dir.path().display()))
                .arg("load-zone")
                .arg(ZONE)
                .arg(&zone),
        );
    }

    /// The directory of its configuration and database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PowerDns {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// The plugins `examples/powerdns` binds, by name and kind, as its README
/// lists them.
pub const EXAMPLE_PLUGINS: [(&str, &str); 5] = [
    ("dns-powerdns", "dns-provider"),
    ("lab-probe", "port-probe"),
    ("lab-store", "management-store"),
    ("lab-servers", "server-control"),
    ("lab-pools", "pool-control"),
];

/// The name the TLS front's certificate is for in the example; no resolver
/// knows it, so the grant's pinned address is what the host connects to.
pub const EXAMPLE_API_HOST: &str = "pdns.contoso.com";

/// The lab directory `root`'s `failback.toml` replaced by
/// `examples/powerdns/failback.toml`, filled in as its README says: each
/// plugin exported into `plugins/` and bound with `plugin add` (by the
/// `failback` commands `failback` makes); the CA's certificate `ca_pem` in
/// `certs/`, the API key in `secrets/`; the values marked CHANGE set to
/// `pdns` behind a TLS front on loopback `port`. Returns the file's path.
pub fn write_example_environment(
    root: &Path,
    mut failback: impl FnMut() -> Command,
    pdns: &PowerDns,
    ca_pem: &str,
    port: u16,
) -> PathBuf {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let env = root.join("failback.toml");
    fs::copy(repository.join("examples/powerdns/failback.toml"), &env).unwrap();
    for (name, kind) in EXAMPLE_PLUGINS {
        let out = failback()
            .current_dir(root)
            .args(["plugin", "export", name, "plugins"])
            .output()
            .unwrap();
        assert!(out.status.success(), "plugin export {name}: {out:?}");
        let out = failback()
            .current_dir(root)
            .args([
                "plugin",
                "add",
                &format!("plugins/{name}.wasm"),
                "--kind",
                kind,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "plugin add {name}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with(&format!("bound `{name}`")),
            "{out:?}"
        );
    }
    fs::create_dir_all(root.join("certs")).unwrap();
    fs::write(root.join("certs/pdns-ca.pem"), ca_pem).unwrap();
    fs::create_dir_all(root.join("secrets")).unwrap();
    fs::write(root.join("secrets/pdns-api-key"), format!("{}\n", pdns.key)).unwrap();

    let text = fs::read_to_string(&env).unwrap();
    assert!(!text.contains(&"0".repeat(64)), "{text}");
    // Only the values the example marks CHANGE are the operator's to set.
    let origin = format!("https://{EXAMPLE_API_HOST}:{port}");
    let mut changed = String::new();
    for line in text.lines() {
        let line = if !line.contains("# CHANGE") {
            line.to_owned()
        } else if line.starts_with("api =") {
            format!("api = \"{origin}/api/v1\"")
        } else if line.starts_with("origin =") {
            format!("origin = \"{origin}\"")
        } else if line.starts_with("addresses =") {
            "addresses = [\"127.0.0.1\"]".to_owned()
        } else {
            // The zone and the CA's path are the example's own.
            assert!(
                line.starts_with("zone =") || line.starts_with("ca ="),
                "a CHANGE this support does not know: {line}"
            );
            line.to_owned()
        };
        changed.push_str(&line);
        changed.push('\n');
    }
    fs::write(&env, changed).unwrap();
    env
}
