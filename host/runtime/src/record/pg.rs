//! The shared journal on PostgreSQL: the runs, steps, operations, plans,
//! approvals and audit anchors of one *deployment* (`[journal]`, `crate::environment::JournalBinding`), its
//! lock and its audit trail, in one database every machine that runs
//! failbacks of it reaches (`[journal]` in the environment file,
//! docs/apply.md).
//!
//! **The connection.** The synchronous `postgres` client runs a Tokio runtime
//! of its own and may not be used inside another, so each connection lives
//! on a thread of its own ([`Worker`]) and is handed closures. TCP keepalives
//! are set on both ends of the session, so that a vanished peer is noticed
//! (see [`KEEPALIVE`]).
//!
//! **The lock.** One `apply` or `resume` per deployment: a session-level
//! advisory lock ([`PgJournal::lock`]) taken by the run's connection, with a
//! *holder row* (host, user, pid, command, run, since, last heartbeat)
//! written in the same transaction and refreshed every [`HEARTBEAT`]. The
//! run writes its journal and its audit trail through that same session: a
//! write can only land while the session — and so the lock — is alive. When
//! the session ends (the holder crashed, its host vanished, the database
//! ended it), the lock is released, and the holder's next write fails, so it
//! stops before its next operation ([`JournalError::LockLost`]); its run
//! stays `running`, resumable from any machine.
//!
//! **The audit trail.** The same records and hash chain as `audit.jsonl`
//! ([`crate::record::audit_log`]), one row per record holding the line's exact text
//! (`jsonb` would rewrite it, and the hash would no longer hold). The
//! application role may INSERT and SELECT it only; a trigger refuses UPDATE,
//! DELETE and TRUNCATE, even to the owner; another checks, on each INSERT,
//! that the record chains to the one before it and matches its own hash; the
//! keys (one record per sequence number, one per `prev`) refuse a forked
//! chain.
//!
//! **The schema** is versioned ([`MIGRATIONS`]) and applied by the database's
//! owner role (`failback journal setup`), which grants the application role
//! (the one in `[journal] url`) what it needs and no DDL. A failback refuses
//! a database whose schema is not the one it knows.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::{Client, Config, NoTls};
use serde::Serialize;
use serde_json::{Value, json};

use crate::record::audit::{AuditRecord, AuditSink, Decision, HttpExchange, LogLine, NotDurable};
use crate::record::audit_log::{self, GENESIS};
use crate::record::journal::{
    Anchor, JournalError, JournalStore, RunAnchors, RunRecord, RunState, StepRecord, list_json,
    now, parse_overrides,
};
use crate::record::lock::{Holder, LockError};

/// The schema version this failback reads and writes.
pub const SCHEMA_VERSION: i32 = 1;

/// How often the lock's holder refreshes its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// TCP keepalives on the lock's session, on both ends: the first probe after
/// `idle` of silence, then one every `interval`, `count` unanswered probes
/// end the connection. With [`USER_TIMEOUT`] for data left unacknowledged,
/// a holder whose host vanished keeps the lock at most about
/// `idle + interval × count` = 25 s after its last packet.
pub const KEEPALIVE: Keepalive = Keepalive {
    idle: Duration::from_secs(10),
    interval: Duration::from_secs(5),
    count: 3,
};

/// Data sent and not acknowledged for this long ends the connection.
pub const USER_TIMEOUT: Duration = Duration::from_secs(25);

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TCP keepalive settings ([`KEEPALIVE`]).
#[derive(Debug, Clone, Copy)]
pub struct Keepalive {
    pub idle: Duration,
    pub interval: Duration,
    pub count: u32,
}

/// The shared journal could not be reached, set up or used.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("the journal URL `{url}` is not valid: {reason}")]
    Url { url: String, reason: String },
    #[error(
        "the journal URL carries a password: keep it out of the file, in the variable `password-env` names, in `PGPASSWORD` or in `.pgpass`"
    )]
    PasswordInUrl,
    #[error("the journal's CA file cannot be used: {0}")]
    Ca(String),
    #[error("cannot connect to the journal at `{target}`")]
    Connect {
        target: String,
        #[source]
        source: postgres::Error,
    },
    #[error(
        "the journal at `{target}` has no failback schema: have the database's owner run `failback journal setup` (docs/apply.md)"
    )]
    NoSchema { target: String },
    #[error(
        "the journal at `{target}` is at schema version {found}, and this failback reads version {SCHEMA_VERSION}: {hint}"
    )]
    Schema {
        target: String,
        found: i32,
        hint: &'static str,
    },
    #[error("the journal cannot be {what}")]
    Sql {
        what: &'static str,
        #[source]
        source: postgres::Error,
    },
    #[error("the journal's connection has ended")]
    Gone,
    #[error("cannot start the journal's connection thread")]
    Thread(#[source] std::io::Error),
}

fn sql(what: &'static str) -> impl FnOnce(postgres::Error) -> PgError {
    move |source| PgError::Sql { what, source }
}

/// Where to connect, and how: the parsed URL with its password, keepalives
/// and timeouts set, and the TLS roots when a CA is given.
#[derive(Clone)]
pub struct Target {
    config: Config,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The URL as the file has it (no password): what messages name.
    shown: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// The target of `url`, the password looked up (`password_env`, then
    /// `PGPASSWORD`, then `.pgpass`), verified TLS when `ca_pem` is given.
    pub fn new(
        url: &str,
        password_env: Option<&str>,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, PgError> {
        let mut config: Config = url.parse().map_err(|e: postgres::Error| PgError::Url {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        if config.get_password().is_some() {
            return Err(PgError::PasswordInUrl);
        }
        if config.get_user().is_none() {
            return Err(PgError::Url {
                url: url.to_owned(),
                reason: "it names no user (`postgres://user@host/database`)".to_owned(),
            });
        }
        if let Some(password) = password(&config, password_env) {
            config.password(password);
        }
        config
            .application_name("failback")
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives(true)
            .keepalives_idle(KEEPALIVE.idle)
            .keepalives_interval(KEEPALIVE.interval)
            .keepalives_retries(KEEPALIVE.count)
            .tcp_user_timeout(USER_TIMEOUT);
        let tls = ca_pem.map(tls_config).transpose()?;
        if tls.is_some() {
            // With a CA, TLS is required: a server that does not offer it is
            // refused, not talked to in the clear.
            config.ssl_mode(postgres::config::SslMode::Require);
        }
        Ok(Self {
            config,
            tls,
            shown: url.to_owned(),
        })
    }

    /// This target with `password`, whatever the lookup found.
    #[must_use]
    pub fn with_password(mut self, password: &str) -> Self {
        self.config.password(password);
        self
    }

    /// The URL, without a password.
    #[must_use]
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn connect(&self) -> Result<Client, PgError> {
        let connected = match &self.tls {
            Some(tls) => self
                .config
                .connect(tokio_postgres_rustls::MakeRustlsConnect::new(
                    rustls::ClientConfig::clone(tls),
                )),
            None => self.config.connect(NoTls),
        };
        let mut client = connected.map_err(|source| PgError::Connect {
            target: self.shown.clone(),
            source,
        })?;
        // The server's side of the session notices a vanished client too.
        client
            .batch_execute(&format!(
                "SET tcp_keepalives_idle = {}; SET tcp_keepalives_interval = {}; \
                 SET tcp_keepalives_count = {}; SET tcp_user_timeout = {}; \
                 SET client_connection_check_interval = {}",
                KEEPALIVE.idle.as_secs(),
                KEEPALIVE.interval.as_secs(),
                KEEPALIVE.count,
                USER_TIMEOUT.as_millis(),
                KEEPALIVE.interval.as_millis(),
            ))
            .map_err(sql("set up (keepalives)"))?;
        Ok(client)
    }
}

fn tls_config(pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, PgError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| PgError::Ca(e.to_string()))?;
        roots.add(cert).map_err(|e| PgError::Ca(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(PgError::Ca("it holds no PEM certificate".to_owned()));
    }
    // The crypto provider is the one rustls is built with (ring).
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The password for `config`: the variable `password_env` names, then
/// `PGPASSWORD`, then the first matching line of `.pgpass` (`PGPASSFILE`, or
/// `~/.pgpass`; as libpq, only when no one else may read it).
fn password(config: &Config, password_env: Option<&str>) -> Option<String> {
    if let Some(value) = password_env.and_then(|name| std::env::var(name).ok()) {
        return Some(value);
    }
    if let Ok(value) = std::env::var("PGPASSWORD") {
        return Some(value);
    }
    let file = std::env::var_os("PGPASSFILE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".pgpass")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            return None;
        }
    }
    let text = std::fs::read_to_string(file).ok()?;
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(_) => "localhost".to_owned(),
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user().unwrap_or_default();
    let database = config.get_dbname().unwrap_or(user);
    pgpass_lookup(&text, [&host, &port, database, user])
}

/// The password of the first `.pgpass` line matching `wanted` (host, port,
/// database, user; `*` matches anything, `\:` and `\\` are escapes).
fn pgpass_lookup(text: &str, wanted: [&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => field.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
                _ => field.push(c),
            }
        }
        fields.push(field);
        if fields.len() == 5
            && fields
                .iter()
                .zip(wanted)
                .all(|(have, want)| have == "*" || have == want)
        {
            return fields.pop();
        }
    }
    None
}

type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// One connection, on a thread of its own. While a lock is held, the thread
/// refreshes the holder's heartbeat when no job comes for [`HEARTBEAT`].
struct Worker {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The deployment whose lock this connection holds, if any.
    holding: Arc<Mutex<Option<String>>>,
}

impl Worker {
    fn start(target: &Target) -> Result<Self, PgError> {
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), PgError>>(1);
        let (jobs, rx) = mpsc::channel::<Job>();
        let holding: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let heartbeat = Arc::clone(&holding);
        let target = target.clone();
        let thread = std::thread::Builder::new()
            .name("failback-journal".to_owned())
            .spawn(move || {
                let mut client = match target.connect() {
                    Ok(client) => {
                        let _ = ready_tx.send(Ok(()));
                        client
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                        return;
                    }
                };
                loop {
                    match rx.recv_timeout(HEARTBEAT) {
                        Ok(job) => job(&mut client),
                        Err(RecvTimeoutError::Timeout) => {
                            let deployment = heartbeat
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .clone();
                            if let Some(deployment) = deployment {
                                // A failed heartbeat is a lost session: the
                                // next write says so.
                                let _ = client.execute(
                                    "UPDATE failback.lock_holders SET heartbeat = $2
                                     WHERE deployment = $1 AND backend_pid = pg_backend_pid()",
                                    &[&deployment, &to_i64(now())],
                                );
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            })
            .map_err(PgError::Thread)?;
        ready_rx.recv().map_err(|_| PgError::Gone)??;
        Ok(Self {
            jobs: Mutex::new(Some(jobs)),
            thread: Mutex::new(Some(thread)),
            holding,
        })
    }

    /// Run `job` on the connection and wait for its result.
    fn call<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> R + Send + 'static,
    ) -> Result<R, PgError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let sender = jobs.as_ref().ok_or(PgError::Gone)?;
        sender
            .send(Box::new(move |client: &mut Client| {
                let _ = tx.send(job(client));
            }))
            .map_err(|_| PgError::Gone)?;
        drop(jobs);
        rx.recv().map_err(|_| PgError::Gone)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the thread, which closes the connection
        // (and so releases a lock it held).
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = thread.join();
        }
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The versioned schema: each migration's SQL, applied once, in order, by
/// the owner role. `{app}` is the application role, quoted.
pub const MIGRATIONS: [(i32, &str); 1] = [(
    1,
    r#"
CREATE SCHEMA IF NOT EXISTS failback;
CREATE TABLE failback.runs (
    deployment text NOT NULL,
    id bigint NOT NULL,
    plan_digest text NOT NULL,
    plan text NOT NULL,
    overrides text NOT NULL,
    approvals text NOT NULL,
    steps integer NOT NULL,
    started bigint NOT NULL,
    ended bigint,
    state text NOT NULL,
    message text,
    audit_first_seq bigint,
    audit_first_hash text,
    audit_last_seq bigint,
    audit_last_hash text,
    PRIMARY KEY (deployment, id)
);
CREATE TABLE failback.steps (
    deployment text NOT NULL,
    run bigint NOT NULL,
    step integer NOT NULL,
    action text NOT NULL,
    intent_at bigint NOT NULL,
    outcome_at bigint,
    outcome text,
    detail text,
    PRIMARY KEY (deployment, run, step),
    FOREIGN KEY (deployment, run) REFERENCES failback.runs (deployment, id)
);
CREATE TABLE failback.operations (
    deployment text NOT NULL,
    run bigint NOT NULL,
    step integer NOT NULL,
    op integer NOT NULL,
    intent_at bigint NOT NULL,
    outcome_at bigint,
    PRIMARY KEY (deployment, run, step, op),
    FOREIGN KEY (deployment, run) REFERENCES failback.runs (deployment, id)
);
CREATE TABLE failback.lock_holders (
    deployment text PRIMARY KEY,
    backend_pid integer NOT NULL,
    host text NOT NULL,
    os_user text NOT NULL,
    pid bigint NOT NULL,
    command text NOT NULL,
    run bigint,
    since bigint NOT NULL,
    heartbeat bigint NOT NULL
);
CREATE TABLE failback.audit (
    deployment text NOT NULL,
    seq bigint NOT NULL CHECK (seq >= 1),
    prev text NOT NULL,
    hash text NOT NULL,
    line text NOT NULL,
    PRIMARY KEY (deployment, seq),
    UNIQUE (deployment, prev),
    UNIQUE (deployment, hash)
);
CREATE FUNCTION failback.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % refused', TG_OP;
END
$f$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON failback.audit
    FOR EACH ROW EXECUTE FUNCTION failback.audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON failback.audit
    FOR EACH STATEMENT EXECUTE FUNCTION failback.audit_append_only();
CREATE FUNCTION failback.audit_chain() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
    tail text := ',"hash":"' || NEW.hash || '"}';
BEGIN
    IF right(NEW.line, length(tail)) <> tail
        OR encode(sha256(convert_to(left(NEW.line, length(NEW.line) - length(tail)) || '}', 'UTF8')), 'hex') <> NEW.hash THEN
        RAISE EXCEPTION 'audit record % of `%` does not match its own hash', NEW.seq, NEW.deployment;
    END IF;
    IF NEW.seq = 1 THEN
        IF NEW.prev <> repeat('0', 64) THEN
            RAISE EXCEPTION 'audit record 1 of `%` does not start the chain', NEW.deployment;
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM failback.audit
                      WHERE deployment = NEW.deployment AND seq = NEW.seq - 1 AND hash = NEW.prev) THEN
        RAISE EXCEPTION 'audit record % of `%` does not chain to record %', NEW.seq, NEW.deployment, NEW.seq - 1;
    END IF;
    RETURN NEW;
END
$f$;
CREATE TRIGGER audit_chain BEFORE INSERT ON failback.audit
    FOR EACH ROW EXECUTE FUNCTION failback.audit_chain();
"#,
)];

/// What the application role may do, granted at every setup: read and write
/// the journal, append to and read the audit trail, nothing else (no DDL).
const GRANTS: &str = r"
GRANT USAGE ON SCHEMA failback TO {app};
GRANT SELECT ON failback.schema_version TO {app};
GRANT SELECT, INSERT, UPDATE ON failback.runs, failback.steps TO {app};
GRANT SELECT, INSERT, UPDATE, DELETE ON failback.operations, failback.lock_holders TO {app};
GRANT SELECT, INSERT ON failback.audit TO {app};
";

/// What `failback journal setup` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetUp {
    /// The schema version before.
    pub from: i32,
    /// The migrations applied.
    pub applied: Vec<i32>,
}

/// As the owner role at `owner`, bring the schema to [`SCHEMA_VERSION`] and
/// grant the application role `app` what it needs.
pub fn setup(owner: &Target, app: &str) -> Result<SetUp, PgError> {
    let mut client = owner.connect()?;
    let app = quote_ident(app);
    let mut tx = client.transaction().map_err(sql("set up"))?;
    tx.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS failback;
         REVOKE ALL ON SCHEMA failback FROM PUBLIC;
         CREATE TABLE IF NOT EXISTS failback.schema_version (
             version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         );
         LOCK TABLE failback.schema_version IN EXCLUSIVE MODE;",
    )
    .map_err(sql("set up (its schema)"))?;
    let from: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM failback.schema_version",
            &[],
        )
        .map_err(sql("read (its schema version)"))?
        .get(0);
    let mut applied = Vec::new();
    for (version, migration) in MIGRATIONS {
        if version <= from {
            continue;
        }
        tx.batch_execute(migration).map_err(sql("migrated"))?;
        tx.execute(
            "INSERT INTO failback.schema_version (version) VALUES ($1)",
            &[&version],
        )
        .map_err(sql("migrated"))?;
        applied.push(version);
    }
    tx.batch_execute(&GRANTS.replace("{app}", &app))
        .map_err(sql("set up (the application role's grants)"))?;
    tx.commit().map_err(sql("set up"))?;
    Ok(SetUp { from, applied })
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The advisory lock's key of `deployment`: (this application, the
/// deployment's name hashed by the server).
const LOCK_KEY: &str = "hashtextextended('failback:' || $1, 0)";

/// One deployment's journal in PostgreSQL.
pub struct PgJournal {
    worker: Arc<Worker>,
    deployment: String,
    target: String,
}

impl std::fmt::Debug for PgJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgJournal")
            .field("deployment", &self.deployment)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Who holds a deployment's lock, from its holder row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedHolder {
    pub host: String,
    pub user: String,
    pub pid: u64,
    pub command: String,
    pub run: Option<i64>,
    /// Seconds since the Unix epoch.
    pub since: u64,
    pub heartbeat: u64,
    /// The holder's database session.
    pub backend_pid: i32,
}

impl std::fmt::Display for SharedHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`failback {}` by {} (pid {} on {}, since {}",
            self.command,
            self.user,
            self.pid,
            self.host,
            crate::record::journal::format_time(self.since)
        )?;
        if let Some(run) = self.run {
            write!(f, ", run {run}")?;
        }
        write!(
            f,
            ", last heartbeat {})",
            crate::record::journal::format_time(self.heartbeat)
        )
    }
}

impl PgJournal {
    /// Connect to the journal of `deployment` at `target` and check its
    /// schema.
    pub fn open(target: &Target, deployment: &str) -> Result<Self, PgError> {
        let worker = Worker::start(target)?;
        let shown = target.shown().to_owned();
        let found = worker.call(|c| {
            c.query_one(
                "SELECT COALESCE(MAX(version), 0) FROM failback.schema_version",
                &[],
            )
            .map(|row| row.get::<_, i32>(0))
        })?;
        let found = match found {
            Ok(found) => found,
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => {
                return Err(PgError::NoSchema { target: shown });
            }
            Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                return Err(PgError::NoSchema { target: shown });
            }
            Err(source) => {
                return Err(PgError::Sql {
                    what: "read (its schema version)",
                    source,
                });
            }
        };
        if found != SCHEMA_VERSION {
            return Err(PgError::Schema {
                target: shown,
                found,
                hint: if found < SCHEMA_VERSION {
                    "have the database's owner run `failback journal setup`"
                } else {
                    "it was set up by a newer failback; use that one"
                },
            });
        }
        Ok(Self {
            worker: Arc::new(worker),
            deployment: deployment.to_owned(),
            target: shown,
        })
    }

    /// The deployment this journal is of.
    #[must_use]
    pub fn deployment(&self) -> &str {
        &self.deployment
    }

    /// Whether this connection holds the deployment's lock.
    fn holds(&self) -> bool {
        self.worker
            .holding
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Run `job` with this journal's deployment; a lost session is
    /// [`JournalError::LockLost`] when this connection held the lock.
    fn with<R: Send + 'static>(
        &self,
        what: &'static str,
        job: impl FnOnce(&mut Client, &str) -> Result<R, postgres::Error> + Send + 'static,
    ) -> Result<R, JournalError> {
        let deployment = self.deployment.clone();
        let result = self.worker.call(move |c| job(c, &deployment));
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) if self.holds() && lost(&e) => Err(JournalError::LockLost),
            Err(PgError::Gone) if self.holds() => Err(JournalError::LockLost),
            Ok(Err(source)) => Err(JournalError::Shared {
                what,
                source: Box::new(source),
            }),
            Err(source) => Err(JournalError::Shared {
                what,
                source: Box::new(source),
            }),
        }
    }

    /// Take the deployment's lock for `holder`, waiting up to `wait` for it;
    /// refused, say who holds it.
    pub fn lock(&self, holder: &Holder, wait: Duration) -> Result<(), LockError> {
        let started = Instant::now();
        loop {
            let (host, user, pid, command) = (
                holder.host.clone(),
                holder.user.clone(),
                i64::from(holder.pid),
                holder.command.clone(),
            );
            let since = to_i64(holder.started);
            let taken = self.with("locked", move |c, deployment| {
                let mut tx = c.transaction()?;
                let got: bool = tx
                    .query_one(&format!("SELECT pg_try_advisory_lock({LOCK_KEY})"), &[&deployment])?
                    .get(0);
                if got {
                    tx.execute(
                        "INSERT INTO failback.lock_holders
                            (deployment, backend_pid, host, os_user, pid, command, run, since, heartbeat)
                         VALUES ($1, pg_backend_pid(), $2, $3, $4, $5, NULL, $6, $6)
                         ON CONFLICT (deployment) DO UPDATE SET
                            backend_pid = EXCLUDED.backend_pid, host = EXCLUDED.host,
                            os_user = EXCLUDED.os_user, pid = EXCLUDED.pid,
                            command = EXCLUDED.command, run = NULL,
                            since = EXCLUDED.since, heartbeat = EXCLUDED.heartbeat",
                        &[&deployment, &host, &user, &pid, &command, &since],
                    )?;
                }
                tx.commit()?;
                Ok(got)
            });
            match taken {
                Ok(true) => {
                    *self
                        .worker
                        .holding
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(self.deployment.clone());
                    return Ok(());
                }
                Ok(false) => {}
                Err(e) => return Err(LockError::Shared(e.to_string())),
            }
            if started.elapsed() >= wait {
                let holder = self
                    .holder()
                    .map_err(|e| LockError::Shared(e.to_string()))?;
                return Err(LockError::HeldShared {
                    deployment: self.deployment.clone(),
                    holder: holder.map_or_else(
                        || "a session that has not yet said who it is".to_owned(),
                        |h| h.to_string(),
                    ),
                    waited: wait,
                });
            }
            std::thread::sleep(
                Duration::from_millis(100).min(wait.saturating_sub(started.elapsed())),
            );
        }
    }

    /// Let the lock go (the connection stays open): for the benchmarks and
    /// for `unlock`; a run lets it go by closing its connection.
    pub fn release(&self) -> Result<(), JournalError> {
        self.with("unlocked", |c, deployment| {
            let mut tx = c.transaction()?;
            tx.execute(
                "DELETE FROM failback.lock_holders WHERE deployment = $1 AND backend_pid = pg_backend_pid()",
                &[&deployment],
            )?;
            tx.query_one(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"), &[&deployment])?;
            tx.commit()
        })?;
        *self
            .worker
            .holding
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }

    /// Who holds the deployment's lock, by its holder row, if anyone says.
    pub fn holder(&self) -> Result<Option<SharedHolder>, JournalError> {
        self.with("read (the lock's holder)", |c, deployment| {
            c.query_opt(
                "SELECT host, os_user, pid, command, run, since, heartbeat, backend_pid
                 FROM failback.lock_holders WHERE deployment = $1",
                &[&deployment],
            )
            .map(|row| {
                row.map(|r| SharedHolder {
                    host: r.get(0),
                    user: r.get(1),
                    pid: to_u64(r.get(2)),
                    command: r.get(3),
                    run: r.get(4),
                    since: to_u64(r.get(5)),
                    heartbeat: to_u64(r.get(6)),
                    backend_pid: r.get(7),
                })
            })
        })
    }

    /// `failback unlock`: clear the deployment's lock, writing why and who
    /// held it to the audit trail in the same transaction. A holder whose
    /// session is alive is refused, unless `force`, which ends that session
    /// first (its run stops before its next operation, resumable).
    pub fn unlock(&self, reason: &str, force: bool, by: &Holder) -> Result<Unlocked, UnlockError> {
        let holder = self.holder().map_err(UnlockError::Journal)?;
        let try_lock = |journal: &Self| {
            journal.with("locked", |c, deployment| {
                c.query_one(
                    &format!("SELECT pg_try_advisory_lock({LOCK_KEY})"),
                    &[&deployment],
                )
                .map(|r| r.get::<_, bool>(0))
            })
        };
        let mut ended = false;
        if !try_lock(self).map_err(UnlockError::Journal)? {
            let Some(holder) = holder.clone() else {
                return Err(UnlockError::Anonymous);
            };
            if !force {
                return Err(UnlockError::Alive(holder.to_string()));
            }
            let backend = holder.backend_pid;
            self.with("asked to end the holder's session", move |c, _| {
                c.query_one("SELECT pg_terminate_backend($1, 5000)", &[&backend])
                    .map(|_| ())
            })
            .map_err(UnlockError::Journal)?;
            ended = true;
            let deadline = Instant::now() + Duration::from_secs(10);
            while !try_lock(self).map_err(UnlockError::Journal)? {
                if Instant::now() > deadline {
                    return Err(UnlockError::StillHeld(holder.to_string()));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let Some(previous) = holder else {
            self.with("unlocked", |c, deployment| {
                c.query_one(
                    &format!("SELECT pg_advisory_unlock({LOCK_KEY})"),
                    &[&deployment],
                )
                .map(|_| ())
            })
            .map_err(UnlockError::Journal)?;
            return Ok(Unlocked {
                previous: None,
                ended,
            });
        };
        let record = json!({
            "at_us": now().saturating_mul(1_000_000),
            "verdict": "unlock",
            "reason": reason,
            "force": force,
            "session_ended": ended,
            "previous_holder": previous,
            "by": {"host": by.host, "user": by.user, "pid": by.pid},
        });
        self.with("unlocked (and the unlock audited)", move |c, deployment| {
            let mut tx = c.transaction()?;
            let last = tx.query_opt(
                "SELECT seq, hash FROM failback.audit WHERE deployment = $1 ORDER BY seq DESC LIMIT 1",
                &[&deployment],
            )?;
            let (seq, prev) = last.map_or((0, GENESIS.to_owned()), |r| {
                (to_u64(r.get(0)), r.get::<_, String>(1))
            });
            let (line, hash) = audit_log::format_line(seq + 1, &prev, "unlock", record);
            tx.execute(
                "INSERT INTO failback.audit (deployment, seq, prev, hash, line) VALUES ($1, $2, $3, $4, $5)",
                &[&deployment, &to_i64(seq + 1), &prev, &hash, &line],
            )?;
            tx.execute(
                "DELETE FROM failback.lock_holders WHERE deployment = $1",
                &[&deployment],
            )?;
            tx.commit()?;
            c.query_one(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"), &[&deployment])
                .map(|_| ())
        })
        .map_err(UnlockError::Journal)?;
        Ok(Unlocked {
            previous: Some(previous),
            ended,
        })
    }

    /// The audit trail's lines, in order.
    pub fn audit_lines(&self) -> Result<Vec<String>, JournalError> {
        self.with("read (the audit trail)", |c, deployment| {
            c.query(
                "SELECT line FROM failback.audit WHERE deployment = $1 ORDER BY seq",
                &[&deployment],
            )
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// An audit sink appending to this deployment's trail through this
    /// journal's connection (the lock's session).
    pub fn audit(&self) -> Result<PgAudit, JournalError> {
        let last = self.with("read (the audit trail's end)", |c, deployment| {
            c.query_opt(
                "SELECT seq, hash FROM failback.audit WHERE deployment = $1 ORDER BY seq DESC LIMIT 1",
                &[&deployment],
            )
            .map(|r| r.map(|r| (to_u64(r.get(0)), r.get::<_, String>(1))))
        })?;
        let (seq, prev) = last.unwrap_or((0, GENESIS.to_owned()));
        Ok(PgAudit {
            worker: Arc::clone(&self.worker),
            deployment: self.deployment.clone(),
            chain: Mutex::new(PendingChain {
                seq,
                prev,
                pending: Vec::new(),
            }),
        })
    }

    /// Copy runs (their steps and operations, ids kept) and audit records as
    /// they are, in one transaction (`failback journal migrate`): all or
    /// nothing. The insert trigger checks each record chains to the one
    /// before.
    pub fn import(
        &self,
        runs: Vec<ImportedRun>,
        audit: Vec<(u64, String, String, String)>,
    ) -> Result<(), JournalError> {
        self.with("written (the imported runs and audit trail)", move |c, deployment| {
            let mut tx = c.transaction()?;
            for (seq, prev, hash, line) in &audit {
                tx.execute(
                    "INSERT INTO failback.audit (deployment, seq, prev, hash, line) VALUES ($1, $2, $3, $4, $5)",
                    &[&deployment, &to_i64(*seq), prev, hash, line],
                )?;
            }
            for run in &runs {
                import_run(&mut tx, deployment, run)?;
            }
            tx.commit()
        })
    }
}

fn import_run(
    tx: &mut postgres::Transaction<'_>,
    deployment: &str,
    run: &ImportedRun,
) -> Result<(), postgres::Error> {
    let r = &run.record;
    tx.execute(
        "INSERT INTO failback.runs (deployment, id, plan_digest, plan, overrides, approvals,
            steps, started, ended, state, message, audit_first_seq, audit_first_hash,
            audit_last_seq, audit_last_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        &[
            &deployment,
            &r.id,
            &r.plan_digest,
            &run.plan,
            &list_json(&run.overrides),
            &list_json(&r.approvals),
            &i32::try_from(r.steps).unwrap_or(i32::MAX),
            &to_i64(r.started),
            &r.ended.map(to_i64),
            &r.state.name(),
            &r.message,
            &run.anchors.first.as_ref().map(|a| to_i64(a.seq)),
            &run.anchors.first.as_ref().map(|a| a.hash.clone()),
            &run.anchors.last.as_ref().map(|a| to_i64(a.seq)),
            &run.anchors.last.as_ref().map(|a| a.hash.clone()),
        ],
    )?;
    for s in &run.steps {
        tx.execute(
            "INSERT INTO failback.steps (deployment, run, step, action, intent_at, outcome_at, outcome, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &deployment,
                &r.id,
                &step_i32(s.index),
                &s.action,
                &to_i64(s.intent_at),
                &s.outcome_at.map(to_i64),
                &s.outcome,
                &s.detail,
            ],
        )?;
    }
    for (step, op, done) in &run.operations {
        // The local journal's operation times are not read back; the copy
        // keeps which have an outcome.
        tx.execute(
            "INSERT INTO failback.operations (deployment, run, step, op, intent_at, outcome_at)
             VALUES ($1, $2, $3, $4, 0, $5)",
            &[
                &deployment,
                &r.id,
                &step_i32(*step),
                &step_i32(*op),
                &done.then_some(0_i64),
            ],
        )?;
    }
    Ok(())
}

/// A run as `failback journal migrate` copies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRun {
    pub record: RunRecord,
    pub plan: String,
    pub overrides: Vec<String>,
    pub anchors: RunAnchors,
    pub steps: Vec<StepRecord>,
    pub operations: Vec<(usize, usize, bool)>,
}

/// What `failback unlock` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unlocked {
    /// Who held the lock, by its holder row.
    pub previous: Option<SharedHolder>,
    /// Whether the holder's session was ended (`--force`).
    pub ended: bool,
}

/// `failback unlock` refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum UnlockError {
    #[error(
        "the lock is held by a live session: {0}; to end that session, pass `--force` (its run stops before its next operation and can be resumed)"
    )]
    Alive(String),
    #[error(
        "the lock is held by a session that wrote no holder row; it cannot be named, so it is not ended"
    )]
    Anonymous,
    #[error("the holder's session was asked to end but still holds the lock after 10 s: {0}")]
    StillHeld(String),
    #[error(transparent)]
    Journal(JournalError),
}

/// Whether `e` says the connection is gone or was ended by the server.
fn lost(e: &postgres::Error) -> bool {
    e.is_closed()
        || matches!(
            e.code(),
            Some(c) if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CONNECTION_FAILURE
        )
}

fn step_i32(v: usize) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn run_record(r: &postgres::Row) -> RunRecord {
    let overrides: String = r.get(7);
    let approvals: String = r.get(10);
    RunRecord {
        id: r.get(0),
        plan_digest: r.get(1),
        started: to_u64(r.get(2)),
        ended: r.get::<_, Option<i64>>(3).map(to_u64),
        state: RunState::parse(&r.get::<_, String>(4)),
        message: r.get(5),
        steps: u32::try_from(r.get::<_, i32>(6)).unwrap_or(0),
        overrides: serde_json::from_str(&overrides).unwrap_or_default(),
        done: u32::try_from(r.get::<_, i64>(8)).unwrap_or(0),
        in_doubt: r
            .get::<_, Option<i32>>(9)
            .and_then(|s| usize::try_from(s).ok()),
        approvals: serde_json::from_str(&approvals).unwrap_or_default(),
    }
}

impl JournalStore for PgJournal {
    fn anchor_first(&self, run: i64, anchor: &Anchor) -> Result<(), JournalError> {
        let (seq, hash) = (to_i64(anchor.seq), anchor.hash.clone());
        self.with("written (a run's first audit record)", move |c, d| {
            c.execute(
                "UPDATE failback.runs SET audit_first_seq = $3, audit_first_hash = $4,
                    audit_last_seq = $3, audit_last_hash = $4 WHERE deployment = $1 AND id = $2",
                &[&d, &run, &seq, &hash],
            )
            .map(|_| ())
        })
    }

    fn anchor_last(&self, run: i64, anchor: &Anchor) -> Result<(), JournalError> {
        let (seq, hash) = (to_i64(anchor.seq), anchor.hash.clone());
        self.with("written (a run's last audit record)", move |c, d| {
            c.execute(
                "UPDATE failback.runs SET audit_last_seq = $3, audit_last_hash = $4
                 WHERE deployment = $1 AND id = $2",
                &[&d, &run, &seq, &hash],
            )
            .map(|_| ())
        })
    }

    fn anchors(&self) -> Result<Vec<RunAnchors>, JournalError> {
        self.with("read (audit anchors)", |c, d| {
            let rows = c.query(
                "SELECT id, audit_first_seq, audit_first_hash, audit_last_seq, audit_last_hash
                 FROM failback.runs WHERE deployment = $1 ORDER BY id",
                &[&d],
            )?;
            let anchor = |seq: Option<i64>, hash: Option<String>| {
                seq.zip(hash).map(|(seq, hash)| Anchor {
                    seq: to_u64(seq),
                    hash,
                })
            };
            Ok(rows
                .iter()
                .map(|r| RunAnchors {
                    run: r.get(0),
                    first: anchor(r.get(1), r.get(2)),
                    last: anchor(r.get(3), r.get(4)),
                })
                .collect())
        })
    }

    fn digest_of(&self, run: i64) -> Result<String, JournalError> {
        self.with("read (a run's plan digest)", move |c, d| {
            c.query_opt(
                "SELECT plan_digest FROM failback.runs WHERE deployment = $1 AND id = $2",
                &[&d, &run],
            )
            .map(|r| r.map(|r| r.get(0)))
        })?
        .ok_or(JournalError::NoRun(run))
    }

    fn reset_operations(&self, run: i64, step: usize) -> Result<(), JournalError> {
        let step = step_i32(step);
        self.with("written (a step's operations reset)", move |c, d| {
            c.execute(
                "DELETE FROM failback.operations WHERE deployment = $1 AND run = $2 AND step = $3",
                &[&d, &run, &step],
            )
            .map(|_| ())
        })
    }

    fn start_run(
        &self,
        plan_digest: &str,
        plan_json: &str,
        overrides: &[String],
        approvals: &[String],
        steps: u32,
    ) -> Result<i64, JournalError> {
        let (digest, plan) = (plan_digest.to_owned(), plan_json.to_owned());
        let (overrides, approvals) = (list_json(overrides), list_json(approvals));
        let steps = i32::try_from(steps).unwrap_or(i32::MAX);
        self.with("written (a new run)", move |c, d| {
            let mut tx = c.transaction()?;
            // Run ids count per deployment; the lock makes this the only
            // writer, and the key refuses a duplicate.
            let id: i64 = tx
                .query_one(
                    "INSERT INTO failback.runs (deployment, id, plan_digest, plan, overrides, approvals,
                        steps, started, state)
                     SELECT $1, COALESCE(MAX(id), 0) + 1, $2::text, $3::text, $4::text, $5::text,
                        $6::integer, $7::bigint, 'running'
                     FROM failback.runs WHERE deployment = $1
                     RETURNING id",
                    &[&d, &digest, &plan, &overrides, &approvals, &steps, &to_i64(now())],
                )?
                .get(0);
            tx.execute(
                "UPDATE failback.lock_holders SET run = $2 WHERE deployment = $1 AND backend_pid = pg_backend_pid()",
                &[&d, &id],
            )?;
            tx.commit()?;
            Ok(id)
        })
    }

    fn end_run(
        &self,
        run: i64,
        state: RunState,
        message: Option<&str>,
    ) -> Result<(), JournalError> {
        let ended = (state != RunState::Running).then(|| to_i64(now()));
        let message = message.map(str::to_owned);
        self.with("written (a run's end)", move |c, d| {
            c.execute(
                "UPDATE failback.runs SET state = $3, ended = $4, message = $5 WHERE deployment = $1 AND id = $2",
                &[&d, &run, &state.name(), &ended, &message],
            )
            .map(|_| ())
        })
    }

    fn reopen_run(&self, run: i64) -> Result<(), JournalError> {
        self.with("written (a run reopened)", move |c, d| {
            let mut tx = c.transaction()?;
            tx.execute(
                "UPDATE failback.runs SET state = 'running', ended = NULL, message = NULL
                 WHERE deployment = $1 AND id = $2",
                &[&d, &run],
            )?;
            tx.execute(
                "UPDATE failback.lock_holders SET run = $2 WHERE deployment = $1 AND backend_pid = pg_backend_pid()",
                &[&d, &run],
            )?;
            tx.commit()
        })
    }

    fn plan_of(&self, run: i64) -> Result<String, JournalError> {
        self.with("read (a run's plan)", move |c, d| {
            c.query_opt(
                "SELECT plan FROM failback.runs WHERE deployment = $1 AND id = $2",
                &[&d, &run],
            )
            .map(|r| r.map(|r| r.get(0)))
        })?
        .ok_or(JournalError::NoRun(run))
    }

    fn overrides_of(&self, run: i64) -> Result<Vec<(String, String)>, JournalError> {
        let text: String = self
            .with("read (a run's overrides)", move |c, d| {
                c.query_opt(
                    "SELECT overrides FROM failback.runs WHERE deployment = $1 AND id = $2",
                    &[&d, &run],
                )
                .map(|r| r.map(|r| r.get(0)))
            })?
            .ok_or(JournalError::NoRun(run))?;
        Ok(parse_overrides(&text))
    }

    fn step_intent(&self, run: i64, step: usize, action: &str) -> Result<(), JournalError> {
        let (step, action) = (step_i32(step), action.to_owned());
        self.with("written (a step's intent)", move |c, d| {
            c.execute(
                "INSERT INTO failback.steps (deployment, run, step, action, intent_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[&d, &run, &step, &action, &to_i64(now())],
            )
            .map(|_| ())
        })
    }

    fn step_outcome(
        &self,
        run: i64,
        step: usize,
        outcome: &str,
        detail: Option<&str>,
    ) -> Result<(), JournalError> {
        let (step, outcome, detail) = (
            step_i32(step),
            outcome.to_owned(),
            detail.map(str::to_owned),
        );
        self.with("written (a step's outcome)", move |c, d| {
            c.execute(
                "UPDATE failback.steps SET outcome_at = $4, outcome = $5, detail = $6
                 WHERE deployment = $1 AND run = $2 AND step = $3",
                &[&d, &run, &step, &to_i64(now()), &outcome, &detail],
            )
            .map(|_| ())
        })
    }

    fn reopen_step(&self, run: i64, step: usize) -> Result<(), JournalError> {
        let step = step_i32(step);
        self.with("written (a step reopened)", move |c, d| {
            c.execute(
                "UPDATE failback.steps SET outcome_at = NULL, outcome = NULL, detail = NULL
                 WHERE deployment = $1 AND run = $2 AND step = $3 AND outcome IN ('halted', 'failed')",
                &[&d, &run, &step],
            )
            .map(|_| ())
        })
    }

    fn op_intent(&self, run: i64, step: usize, op: usize) -> Result<(), JournalError> {
        let (step, op) = (step_i32(step), step_i32(op));
        self.with("written (an operation's intent)", move |c, d| {
            c.execute(
                "INSERT INTO failback.operations (deployment, run, step, op, intent_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[&d, &run, &step, &op, &to_i64(now())],
            )
            .map(|_| ())
        })
    }

    fn op_outcome(&self, run: i64, step: usize, op: usize) -> Result<(), JournalError> {
        let (step, op) = (step_i32(step), step_i32(op));
        self.with("written (an operation's outcome)", move |c, d| {
            c.execute(
                "UPDATE failback.operations SET outcome_at = $5
                 WHERE deployment = $1 AND run = $2 AND step = $3 AND op = $4",
                &[&d, &run, &step, &op, &to_i64(now())],
            )
            .map(|_| ())
        })
    }

    fn operations(&self, run: i64) -> Result<Vec<(usize, usize, bool)>, JournalError> {
        self.with("read (operations)", move |c, d| {
            c.query(
                "SELECT step, op, outcome_at IS NOT NULL FROM failback.operations
                 WHERE deployment = $1 AND run = $2 ORDER BY step, op",
                &[&d, &run],
            )
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        (
                            usize::try_from(r.get::<_, i32>(0)).unwrap_or(0),
                            usize::try_from(r.get::<_, i32>(1)).unwrap_or(0),
                            r.get::<_, bool>(2),
                        )
                    })
                    .collect()
            })
        })
    }

    fn steps(&self, run: i64) -> Result<Vec<StepRecord>, JournalError> {
        self.with("read (steps)", move |c, d| {
            c.query(
                "SELECT step, action, intent_at, outcome_at, outcome, detail FROM failback.steps
                 WHERE deployment = $1 AND run = $2 ORDER BY step",
                &[&d, &run],
            )
            .map(|rows| {
                rows.iter()
                    .map(|r| StepRecord {
                        index: usize::try_from(r.get::<_, i32>(0)).unwrap_or(0),
                        action: r.get(1),
                        intent_at: to_u64(r.get(2)),
                        outcome_at: r.get::<_, Option<i64>>(3).map(to_u64),
                        outcome: r.get(4),
                        detail: r.get(5),
                    })
                    .collect()
            })
        })
    }

    fn runs(&self, limit: u32) -> Result<Vec<RunRecord>, JournalError> {
        let limit = i64::from(limit);
        self.with("read (runs)", move |c, d| {
            c.query(
                "SELECT id, plan_digest, started, ended, state, message, steps, overrides,
                    (SELECT COUNT(*) FROM failback.steps s WHERE s.deployment = r.deployment
                        AND s.run = r.id AND s.outcome IN ('done', 'already-held')),
                    (SELECT MIN(step) FROM failback.steps s WHERE s.deployment = r.deployment
                        AND s.run = r.id AND s.outcome IS NULL),
                    approvals
                 FROM failback.runs r WHERE deployment = $1 ORDER BY id DESC LIMIT $2",
                &[&d, &limit],
            )
            .map(|rows| rows.iter().map(run_record).collect())
        })
    }
}

struct PendingChain {
    /// The last record chained: its sequence number and hash.
    seq: u64,
    prev: String,
    /// Lines formatted and not yet written: (seq, prev, hash, line).
    pending: Vec<(u64, String, String, String)>,
}

/// The audit trail of a deployment in PostgreSQL, as an [`AuditSink`]:
/// records are chained as they come and written at each checkpoint, in one
/// transaction, through the lock's session.
pub struct PgAudit {
    worker: Arc<Worker>,
    deployment: String,
    chain: Mutex<PendingChain>,
}

impl std::fmt::Debug for PgAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgAudit")
            .field("deployment", &self.deployment)
            .finish_non_exhaustive()
    }
}

impl PgAudit {
    fn append(&self, kind: &str, fields: Value) {
        let mut state = self.chain.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = state.seq + 1;
        let prev = state.prev.clone();
        let (line, hash) = audit_log::format_line(seq, &prev, kind, fields);
        state.seq = seq;
        state.prev.clone_from(&hash);
        state.pending.push((seq, prev, hash, line));
    }
}

impl AuditSink for PgAudit {
    fn record(&self, record: AuditRecord) {
        self.append("call", audit_log::call_fields(&record));
    }

    fn log(&self, line: LogLine) {
        self.append("log", audit_log::log_fields(&line));
    }

    fn decision(&self, decision: Decision) {
        self.append("decision", audit_log::decision_fields(&decision));
    }

    fn http(&self, exchange: HttpExchange) {
        self.append("http", audit_log::http_fields(&exchange));
    }

    fn checkpoint(&self) -> Result<Option<Anchor>, NotDurable> {
        let mut state = self.chain.lock().unwrap_or_else(PoisonError::into_inner);
        let anchor = Anchor {
            seq: state.seq,
            hash: state.prev.clone(),
        };
        if state.pending.is_empty() {
            return Ok(Some(anchor));
        }
        let lines = std::mem::take(&mut state.pending);
        let deployment = self.deployment.clone();
        let written = self.worker.call(move |c| {
            let mut tx = c.transaction()?;
            let statement = tx.prepare(
                "INSERT INTO failback.audit (deployment, seq, prev, hash, line) VALUES ($1, $2, $3, $4, $5)",
            )?;
            for (seq, prev, hash, line) in &lines {
                tx.execute(&statement, &[&deployment, &to_i64(*seq), prev, hash, line])?;
            }
            tx.commit()
        });
        let failure = match written {
            Ok(Ok(())) => return Ok(Some(anchor)),
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        Err(NotDurable {
            path: format!("audit trail of `{}`", self.deployment),
            what: "written",
            source: std::io::Error::other(failure),
        })
    }
}

/// Read the runs of a journal whole, for `failback journal migrate` and its
/// check: every run with its plan, overrides, anchors, steps and operations.
pub fn export_runs(journal: &dyn JournalStore) -> Result<Vec<ImportedRun>, JournalError> {
    let anchors: BTreeMap<i64, RunAnchors> =
        journal.anchors()?.into_iter().map(|a| (a.run, a)).collect();
    let mut runs = journal.runs(u32::MAX)?;
    runs.reverse();
    runs.into_iter()
        .map(|record| {
            let id = record.id;
            Ok(ImportedRun {
                plan: journal.plan_of(id)?,
                overrides: journal
                    .overrides_of(id)?
                    .into_iter()
                    .map(|(rule, why)| format!("{rule}: {why}"))
                    .collect(),
                anchors: anchors.get(&id).cloned().unwrap_or(RunAnchors {
                    run: id,
                    first: None,
                    last: None,
                }),
                steps: journal.steps(id)?,
                operations: journal.operations(id)?,
                record,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn pgpass_lines_match_by_field_with_wildcards_and_escapes() {
        let text = "# comment\n\
                    db.example:5432:failback:alice:wrong-db\n\
                    *:5432:*:app\\:x:colon\n\
                    localhost:*:journal:app:s3cret\n";
        assert_eq!(
            pgpass_lookup(text, ["localhost", "5433", "journal", "app"]).as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            pgpass_lookup(text, ["h", "5432", "x", "app:x"]).as_deref(),
            Some("colon")
        );
        assert_eq!(pgpass_lookup(text, ["h", "1", "x", "bob"]), None);
    }

    #[test]
    fn a_url_with_a_password_is_refused() {
        let error = Target::new("postgres://app:s3cret@localhost/journal", None, None).unwrap_err();
        assert!(matches!(error, PgError::PasswordInUrl), "{error}");
        assert!(!error.to_string().contains("s3cret"), "{error}");
        let error = Target::new("mysql://x", None, None).unwrap_err();
        assert!(matches!(error, PgError::Url { .. }), "{error}");
    }
}
