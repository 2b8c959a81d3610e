//! BIND 9 `named` on loopback, in the foreground (`-g`), as the current user,
//! with its configuration, zone, journal and pid file in a temporary directory:
//! the zone `contoso.com` as the failover left it (the SIP and XMPP federation
//! records pointing at the failover pool), updatable and transferable with one
//! TSIG key (`update-policy`, `allow-transfer`).

use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use tempfile::TempDir;

use super::{accepts, output, program, stop, wait_until};

/// The TSIG key's name, as the environment gives it to the plugin.
pub const KEY_NAME: &str = "failback-key";
pub const ZONE: &str = "contoso.com";

/// The zone as the tests find it: SIP federation and XMPP pointing at the
/// failover pool's Access Edge (192.0.2.20).
const ZONE_FILE: &str = "\
$TTL 300
@                        IN SOA ns1.contoso.com. hostmaster.contoso.com. 1 3600 600 86400 300
@                        IN NS  ns1.contoso.com.
ns1                      IN A   127.0.0.1
_sipfederationtls._tcp   IN SRV 0 0 5061 sip.contoso.com.
_xmpp-server._tcp        IN SRV 0 0 5269 xmpp.contoso.com.
sip                      IN A   192.0.2.20
xmpp                     IN A   192.0.2.20
";

/// A running `named`; stopped on drop.
#[derive(Debug)]
pub struct Named {
    child: Child,
    dir: TempDir,
    /// Where it listens, TCP and UDP.
    pub address: SocketAddr,
    /// The key's secret, base64.
    pub secret: String,
}

impl Named {
    /// Start `named` with a fresh random key; fail with the reason if it cannot.
    pub fn start() -> Result<Self, String> {
        Self::start_zone(ZONE_FILE)
    }

    /// Start `named` serving `zone_file` (master-file text) as the zone
    /// [`ZONE`], with a fresh random key; fail with the reason if it cannot.
    pub fn start_zone(zone_file: &str) -> Result<Self, String> {
        let named = program("named", "bind9")?;
        program("dig", "bind9-dnsutils")?;
        let dir = tempfile::tempdir().map_err(|e| format!("cannot make a directory: {e}"))?;
        let secret = random_secret();
        let port = super::free_port();
        let address: SocketAddr = ([127, 0, 0, 1], port).into();
        write_config(dir.path(), port, &secret, zone_file)?;
        let log = dir.path().join("named.log");
        let log_file = File::create(&log).map_err(|e| format!("cannot create the log: {e}"))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| format!("cannot share the log: {e}"))?;
        let mut child = Command::new(named)
            .arg("-g")
            .arg("-n")
            .arg("1")
            .arg("-c")
            .arg(dir.path().join("named.conf"))
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot run named: {e}"))?;
        let ready = wait_until("named", &mut child, &log, || {
            accepts(address) && !soa_serial_at(address).is_empty()
        });
        if let Err(error) = ready {
            stop(&mut child);
            return Err(error);
        }
        Ok(Self {
            child,
            dir,
            address,
            secret,
        })
    }

    /// The answer `dig` gets for (`name`, `rtype`) — an independent check of
    /// what the plugin did: one record per line, `+short` form, sorted.
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        let text = output(
            Command::new("dig")
                .arg(format!("@{}", self.address.ip()))
                .arg("-p")
                .arg(self.address.port().to_string())
                .args(["+short", "+norecurse", "+tcp", name, rtype]),
        );
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    }

    /// `dig`'s answer section for (`name`, `rtype`): one record per line
    /// (`owner ttl class type data`), sorted — for the TTLs, which `+short`
    /// leaves out.
    pub fn answer(&self, name: &str, rtype: &str) -> Vec<String> {
        let text = output(
            Command::new("dig")
                .arg(format!("@{}", self.address.ip()))
                .arg("-p")
                .arg(self.address.port().to_string())
                .args(["+noall", "+answer", "+norecurse", "+tcp", name, rtype]),
        );
        let mut lines: Vec<String> = text
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        lines.sort();
        lines
    }

    /// The zone's SOA serial.
    pub fn serial(&self) -> u32 {
        let soa = soa_serial_at(self.address);
        soa.parse()
            .unwrap_or_else(|_| panic!("no SOA serial in `{soa}`"))
    }

    /// named's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("named.log")).unwrap_or_default()
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn soa_serial_at(address: SocketAddr) -> String {
    let Ok(out) = Command::new("dig")
        .arg(format!("@{}", address.ip()))
        .arg("-p")
        .arg(address.port().to_string())
        .args([
            "+short",
            "+norecurse",
            "+tcp",
            "+time=1",
            "+tries=1",
            ZONE,
            "SOA",
        ])
        .output()
    else {
        return String::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_owned()
}

/// 32 random bytes, base64 (what `tsig-keygen` makes for hmac-sha256).
fn random_secret() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut bytes = Vec::with_capacity(32);
    while bytes.len() < 32 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_usize(bytes.len());
        bytes.extend_from_slice(&hasher.finish().to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn write_config(dir: &Path, port: u16, secret: &str, zone_file: &str) -> Result<(), String> {
    let d = dir.display();
    let config = format!(
        r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
}};
controls {{ }};
key "{KEY_NAME}" {{
    algorithm hmac-sha256;
    secret "{secret}";
}};
zone "{ZONE}" {{
    type primary;
    file "{d}/{ZONE}.zone";
    update-policy {{ grant {KEY_NAME} zonesub ANY; }};
    allow-transfer {{ key {KEY_NAME}; }};
}};
"#
    );
    fs::write(dir.join("named.conf"), config)
        .map_err(|e| format!("cannot write named.conf: {e}"))?;
    fs::write(dir.join(format!("{ZONE}.zone")), zone_file)
        .map_err(|e| format!("cannot write the zone: {e}"))
}
