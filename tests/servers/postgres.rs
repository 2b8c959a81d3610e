//! A throwaway PostgreSQL cluster for the shared journal's tests and
//! benchmarks: `initdb --no-sync` and `pg_ctl` from Debian's `postgresql`
//! (under `/usr/lib/postgresql/<version>/bin`), run as the `postgres` user
//! (the server refuses to run as root), listening on a free loopback port.
//! One cluster per test binary ([`cluster`]), a fresh database per test
//! ([`Cluster::database`]); a watcher stops the cluster and removes its
//! directory when the test process exits.
//!
//! Two roles are made once: `failback_owner`, which owns each database and
//! runs the migrations, and `failback_app`, the application role failback
//! runs as. Their passwords are [`OWNER_PASSWORD`] and [`APP_PASSWORD`];
//! host connections use scram-sha-256.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The owner role's password.
pub const OWNER_PASSWORD: &str = "owner-pw-27";
/// The application role's password.
pub const APP_PASSWORD: &str = "app-pw-27";
/// The superuser's password (its socket connections are trusted anyway).
const SUPER_PASSWORD: &str = "super-pw-27";

/// A running cluster.
#[derive(Debug)]
pub struct Cluster {
    pub port: u16,
    /// Where its socket, data and log are.
    pub dir: PathBuf,
    bin: PathBuf,
    next: AtomicU32,
}

/// One database of the cluster, owned by `failback_owner`.
#[derive(Debug, Clone)]
pub struct Database {
    pub name: String,
    pub port: u16,
    socket_dir: PathBuf,
    bin: PathBuf,
}

/// The PostgreSQL binaries' directory: the newest version installed.
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): ./scripts/test installs Debian's `postgresql`"
        )
    })
}

fn run(what: &str, command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A CA (`ca.pem`) and the server's certificate for 127.0.0.1 signed by it
/// (`server.pem`, `server.key`), made by `openssl` in `dir`; the server
/// offers TLS with them, and a client that names the CA verifies it.
fn tls_files(dir: &Path) {
    let openssl = |args: &[&str]| {
        run(
            "openssl",
            Command::new("openssl").current_dir(dir).args(args),
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=failback test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName = IP:127.0.0.1\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    run(
        "chmod",
        Command::new("chmod").arg("600").arg(dir.join("server.key")),
    );
}

/// A CA the cluster's certificate does not chain to (PEM), made in `dir`.
pub fn other_ca_pem(dir: &Path) -> Vec<u8> {
    run(
        "openssl",
        Command::new("openssl").current_dir(dir).args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "other-ca.key",
            "-out",
            "other-ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=another CA",
        ]),
    );
    std::fs::read(dir.join("other-ca.pem")).unwrap()
}

/// The CA the cluster's certificate chains to (PEM).
pub fn ca_pem() -> Vec<u8> {
    std::fs::read(cluster().dir.join("ca.pem")).unwrap()
}

fn as_postgres(bin: &Path, tool: &str) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
    c
}

/// The cluster of this test binary, started on first use.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| start(false))
}

/// Start a cluster; with `fsync` off (the tests), a commit is not synced.
#[allow(
    clippy::zombie_processes,
    reason = "the watcher outlives this process: it stops the cluster once this process is gone"
)]
pub fn start(fsync: bool) -> Cluster {
    let bin = bin_dir();
    let dir = tempfile::Builder::new()
        .prefix("failback-pg-")
        .tempdir()
        .unwrap()
        .keep();
    let pwfile = dir.join("pw");
    std::fs::write(&pwfile, SUPER_PASSWORD).unwrap();
    tls_files(&dir);
    run(
        "chown",
        Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir),
    );
    let data = dir.join("data");
    run(
        "initdb",
        as_postgres(&bin, "initdb")
            .args(["--no-sync", "-U", "postgres", "-E", "UTF8", "--locale=C"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .arg("-D")
            .arg(&data),
    );
    let port = super::free_port();
    run(
        "pg_ctl start",
        as_postgres(&bin, "pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync={} -c max_connections=200 \
                 -c ssl=on -c ssl_cert_file={dir}/server.pem -c ssl_key_file={dir}/server.key",
                dir.display(),
                if fsync { "on" } else { "off" },
                dir = dir.display()
            ))
            .args(["-w", "-t", "60", "start"]),
    );
    // Stop the cluster and remove it when this process is gone.
    let watcher = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         runuser -u postgres -- {pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("setsid")
        .args(["sh", "-c", &watcher])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cannot start the cluster's watcher");
    let cluster = Cluster {
        port,
        dir,
        bin,
        next: AtomicU32::new(0),
    };
    cluster.superuser(
        "postgres",
        &format!(
            "CREATE ROLE failback_owner LOGIN PASSWORD '{OWNER_PASSWORD}';
             CREATE ROLE failback_app LOGIN PASSWORD '{APP_PASSWORD}';"
        ),
    );
    cluster
}

impl Cluster {
    /// Run `sql` as the superuser in `database`; its output, tuples only.
    pub fn superuser(&self, database: &str, sql: &str) -> String {
        run(
            "psql",
            Command::new(self.bin.join("psql"))
                .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
                .arg("-h")
                .arg(&self.dir)
                .args([
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-d",
                    database,
                ])
                .args(["-c", sql]),
        )
    }

    /// A new, empty database owned by `failback_owner`.
    pub fn database(&self) -> Database {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let name = format!("journal_{}_{n}", std::process::id());
        self.superuser(
            "postgres",
            &format!("CREATE DATABASE {name} OWNER failback_owner"),
        );
        Database {
            name,
            port: self.port,
            socket_dir: self.dir.clone(),
            bin: self.bin.clone(),
        }
    }
}

impl Database {
    /// The application role's URL (no password: failback reads it from
    /// the variable `password-env` names).
    pub fn app_url(&self) -> String {
        format!(
            "postgres://failback_app@127.0.0.1:{}/{}",
            self.port, self.name
        )
    }

    /// Run `sql` as `role` (over TCP, with its password); the output, or
    /// the server's refusal.
    pub fn psql_as(&self, role: &str, sql: &str) -> Result<String, String> {
        let password = match role {
            "failback_owner" => OWNER_PASSWORD,
            "failback_app" => APP_PASSWORD,
            _ => SUPER_PASSWORD,
        };
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", role, "-d", &self.name, "-c", sql])
            .env("PGPASSWORD", password)
            .output()
            .expect("cannot run psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// Run `sql` as the superuser in this database.
    pub fn superuser(&self, sql: &str) -> String {
        run(
            "psql",
            Command::new(self.bin.join("psql"))
                .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
                .arg("-h")
                .arg(&self.socket_dir)
                .args([
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-d",
                    &self.name,
                ])
                .args(["-c", sql]),
        )
        .trim()
        .to_owned()
    }
}
