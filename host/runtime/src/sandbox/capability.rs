//! Capabilities, checked in one place: what a plugin's manifest requests against
//! what the environment grants, and the WASI context built from exactly the
//! grants.
//!
//! A plugin runs only when every capability it requests is granted, and when the
//! environment grants nothing it did not request. Granted directories may not
//! overlap one another (within a plugin, nor one nested in another plugin's),
//! nor lie in or hold the environment's own `.failback/`, `secrets/` or
//! `plugins/`; each is opened once, when the plugin loads, without following a
//! symbolic link on the way, and that handle is what every call gets. Its WASI
//! context then holds: the granted directories as preopens with the granted
//! mode; a socket address
//! check that lets through only the granted endpoints, per protocol (and the
//! implicit wildcard bind a connect makes); name lookup only when granted; TCP or
//! UDP only when an endpoint of that protocol is granted; no environment
//! variables, no arguments, no inherited stdio (stdin closed, stdout and stderr
//! discarded). Everything else the guest tries is denied by WASI, and a denied
//! socket use is recorded for the audit: the first few by address, the rest
//! counted; a datagram from an address not granted is dropped and counted, never
//! held against the call.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::Component;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cap_std::fs::Dir;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{
    FsPerms, HostMonotonicClock, HostWallClock, OpenMode, WasiCtx, WasiCtxBuilder,
};

use crate::environment::{Environment, Grants, HttpGrant};
use crate::files::RelativePath;
use crate::manifest::{Capabilities, Mode, Protocol};
use crate::sandbox::http::Method;

/// One reason a plugin may not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The manifest requests a capability the environment does not grant.
    NotGranted { capability: String },
    /// A directory is requested read-write but granted read-only.
    ReadOnlyGrant { capability: String },
    /// A directory is requested read-only but granted read-write: the environment
    /// must not say more than the plugin needs.
    BroaderGrant { capability: String },
    /// A network capability is granted with no address.
    NoAddress { capability: String },
    /// The environment grants a capability the manifest does not request.
    NotRequested { capability: String },
    /// A granted directory does not exist, is not a directory, or leads out of
    /// the environment directory.
    DirUnavailable { capability: String, reason: String },
    /// Two granted directories are the same or one holds the other.
    OverlappingDirs {
        capability: String,
        other: String,
        path: String,
        other_path: String,
    },
    /// A granted directory is, lies in or holds a directory of the
    /// environment's own (`.failback`, `secrets`, `plugins`).
    ReservedDir { capability: String, path: String },
    /// An HTTP grant cannot be used: its CA file is missing or not PEM, or
    /// a secret is not a header value.
    HttpUnavailable { capability: String, reason: String },
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotGranted { capability } => {
                write!(f, "`{capability}` is requested but not granted")
            }
            Self::ReadOnlyGrant { capability } => write!(
                f,
                "`{capability}` is requested read-write but granted read-only"
            ),
            Self::BroaderGrant { capability } => write!(
                f,
                "`{capability}` is requested read-only but granted read-write"
            ),
            Self::NoAddress { capability } => {
                write!(f, "`{capability}` is granted with no address")
            }
            Self::NotRequested { capability } => {
                write!(f, "`{capability}` is granted but not requested")
            }
            Self::DirUnavailable { capability, reason } => {
                write!(f, "directory `{capability}` cannot be granted: {reason}")
            }
            Self::OverlappingDirs {
                capability,
                other,
                path,
                other_path,
            } => write!(
                f,
                "directory `{capability}` (`{path}`) overlaps `{other}` (`{other_path}`): granted directories must be apart"
            ),
            Self::ReservedDir { capability, path } => write!(
                f,
                "directory `{capability}` (`{path}`) reaches the environment's own `.failback`, `secrets` or `plugins`, which no plugin is granted"
            ),
            Self::HttpUnavailable { capability, reason } => {
                write!(f, "HTTP grant `{capability}` cannot be used: {reason}")
            }
        }
    }
}

/// Why a plugin's capabilities were refused: every denial, in order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("capabilities of plugin `{plugin}` refused: {}", list(.denials))]
pub struct CapabilityError {
    pub plugin: String,
    pub denials: Vec<Denial>,
}

fn list(denials: &[Denial]) -> String {
    denials
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A directory granted to a plugin, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedDir {
    pub capability: String,
    pub guest_path: String,
    pub mode: Mode,
    /// Relative to the environment directory.
    pub path: RelativePath,
}

/// An HTTP API granted to a plugin, checked: what the manifest asked for
/// (methods, response bound) with what the environment grants (origin, path
/// prefix, addresses, CA, secret headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedHttp {
    pub capability: String,
    pub methods: BTreeSet<Method>,
    pub max_response_bytes: u64,
    pub grant: HttpGrant,
}

/// The capabilities a plugin gets: exactly what it requested and was granted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Granted {
    pub dirs: Vec<GrantedDir>,
    pub endpoints: BTreeSet<(Protocol, SocketAddr)>,
    pub dns_lookup: bool,
    pub http: Vec<GrantedHttp>,
}

/// Compare what `plugin`'s manifest requests with what the environment grants.
pub fn check(
    plugin: &str,
    requested: &Capabilities,
    grants: &Grants,
) -> Result<Granted, CapabilityError> {
    let mut denials = Vec::new();
    let mut granted = Granted::default();

    for request in &requested.dirs {
        let capability = request.name.clone();
        match grants.dirs.get(&request.name) {
            None => denials.push(Denial::NotGranted { capability }),
            Some(grant) => match (request.mode, grant.mode) {
                (Mode::ReadWrite, Mode::ReadOnly) => {
                    denials.push(Denial::ReadOnlyGrant { capability });
                }
                (Mode::ReadOnly, Mode::ReadWrite) => {
                    denials.push(Denial::BroaderGrant { capability });
                }
                _ => granted.dirs.push(GrantedDir {
                    capability,
                    guest_path: request.guest_path.clone(),
                    mode: grant.mode,
                    path: grant.path.clone(),
                }),
            },
        }
    }
    for request in &requested.network {
        let capability = request.name.clone();
        match grants.network.get(&request.name) {
            None => denials.push(Denial::NotGranted { capability }),
            Some(addresses) if addresses.is_empty() => {
                denials.push(Denial::NoAddress { capability });
            }
            Some(addresses) => granted
                .endpoints
                .extend(addresses.iter().map(|address| (request.protocol, *address))),
        }
    }
    for request in &requested.http {
        match grants.http.get(&request.name) {
            None => denials.push(Denial::NotGranted {
                capability: request.name.clone(),
            }),
            Some(grant) => granted.http.push(GrantedHttp {
                capability: request.name.clone(),
                methods: request.methods.clone(),
                max_response_bytes: request.max_response_bytes,
                grant: grant.clone(),
            }),
        }
    }
    if requested.dns_lookup && !grants.dns_lookup {
        denials.push(Denial::NotGranted {
            capability: "dns-lookup".to_owned(),
        });
    }
    granted.dns_lookup = requested.dns_lookup && grants.dns_lookup;

    let requested_names: BTreeSet<&str> = requested
        .dirs
        .iter()
        .map(|d| d.name.as_str())
        .chain(requested.network.iter().map(|n| n.name.as_str()))
        .chain(requested.http.iter().map(|h| h.name.as_str()))
        .collect();
    for name in grants
        .dirs
        .keys()
        .chain(grants.network.keys())
        .chain(grants.http.keys())
    {
        if !requested_names.contains(name.as_str()) {
            denials.push(Denial::NotRequested {
                capability: name.clone(),
            });
        }
    }
    if grants.dns_lookup && !requested.dns_lookup {
        denials.push(Denial::NotRequested {
            capability: "dns-lookup".to_owned(),
        });
    }
    for (i, grant) in granted.dirs.iter().enumerate() {
        if is_reserved(&grant.path) {
            denials.push(Denial::ReservedDir {
                capability: grant.capability.clone(),
                path: grant.path.to_string(),
            });
        }
        for other in &granted.dirs[i + 1..] {
            if overlaps(&grant.path, &other.path) {
                denials.push(Denial::OverlappingDirs {
                    capability: grant.capability.clone(),
                    other: other.capability.clone(),
                    path: grant.path.to_string(),
                    other_path: other.path.to_string(),
                });
            }
        }
    }

    if denials.is_empty() {
        Ok(granted)
    } else {
        Err(CapabilityError {
            plugin: plugin.to_owned(),
            denials,
        })
    }
}

/// The environment directory's own directories, which no grant may reach.
const RESERVED_DIRS: [&str; 3] = [".failback", "secrets", "plugins"];

/// The plain components of `path` (`./a/b` is `a`, `b`).
fn components(path: &RelativePath) -> Vec<&std::ffi::OsStr> {
    path.as_path()
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect()
}

/// Whether `path` is, lies in or holds one of [`RESERVED_DIRS`]: its first
/// component names one (case aside, for file systems that ignore it).
fn is_reserved(path: &RelativePath) -> bool {
    components(path).first().is_some_and(|first| {
        RESERVED_DIRS
            .iter()
            .any(|reserved| first.to_string_lossy().eq_ignore_ascii_case(reserved))
    })
}

/// Whether one of `a` and `b` is the other or lies inside it.
fn overlaps(a: &RelativePath, b: &RelativePath) -> bool {
    let (a, b) = (components(a), components(b));
    let shorter = a.len().min(b.len());
    a[..shorter] == b[..shorter]
}

/// Check the directories an environment grants across its plugins: none may
/// lie strictly inside another plugin's grant (the outer plugin could change
/// what the inner one is given). Two plugins may share one directory.
pub fn check_environment(environment: &Environment) -> Result<(), CapabilityError> {
    let grants: Vec<(&str, &String, &RelativePath)> = environment
        .plugins
        .values()
        .flat_map(|binding| {
            binding
                .grants
                .dirs
                .iter()
                .map(move |(name, grant)| (binding.kind.name(), name, &grant.path))
        })
        .collect();
    for (kind, name, path) in &grants {
        for (other_kind, other, other_path) in &grants {
            let (inner, outer) = (components(path), components(other_path));
            if kind != other_kind && inner.len() > outer.len() && overlaps(path, other_path) {
                return Err(CapabilityError {
                    plugin: (*kind).to_owned(),
                    denials: vec![Denial::OverlappingDirs {
                        capability: (*name).clone(),
                        other: format!("{other} of `{other_kind}`"),
                        path: path.to_string(),
                        other_path: other_path.to_string(),
                    }],
                });
            }
        }
    }
    Ok(())
}

/// A granted directory, opened.
#[derive(Clone)]
pub struct Preopen {
    pub capability: String,
    pub guest_path: String,
    pub mode: Mode,
    /// The handle every call of the plugin is given.
    pub(crate) dir: wasmtime_wasi::filesystem::Dir,
}

impl fmt::Debug for Preopen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Preopen")
            .field("capability", &self.capability)
            .field("guest_path", &self.guest_path)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// What a plugin's WASI context is built from, once per call.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    preopens: Arc<[Preopen]>,
    endpoints: Arc<BTreeSet<(Protocol, SocketAddr)>>,
    dns_lookup: bool,
    /// Clocks and random numbers fixed: the context of policy modules.
    fixed: bool,
}

impl Sandbox {
    /// No capability at all: the context of plugins that request nothing.
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// No capability, and time and chance fixed: the context of policy modules.
    /// The wall clock reads the Unix epoch, the monotonic clock stands at 0,
    /// and every random number is 0, so a verdict cannot depend on either.
    #[must_use]
    pub fn policy() -> Self {
        Self {
            fixed: true,
            ..Self::default()
        }
    }

    /// Open `granted`'s directories once, through the environment directory
    /// `dir`: each path component must be a directory inside it, reached
    /// without following a symbolic link. The handles are what every call is
    /// given; renaming or replacing a granted path afterwards changes nothing
    /// for this plugin.
    pub fn resolve(plugin: &str, granted: &Granted, dir: &Dir) -> Result<Self, CapabilityError> {
        let mut denials = Vec::new();
        let mut preopens = Vec::new();
        for grant in &granted.dirs {
            match open_dir_nofollow(dir, &grant.path) {
                Ok(opened) => {
                    let (perms, open_mode) = match grant.mode {
                        Mode::ReadOnly => (FsPerms::ReadOnly, OpenMode::READ),
                        Mode::ReadWrite => (FsPerms::ReadWrite, OpenMode::READ | OpenMode::WRITE),
                    };
                    preopens.push(Preopen {
                        capability: grant.capability.clone(),
                        guest_path: grant.guest_path.clone(),
                        mode: grant.mode,
                        dir: wasmtime_wasi::filesystem::Dir::new(
                            opened.into_std_file(),
                            perms,
                            open_mode,
                            false,
                        ),
                    });
                }
                Err(e) => denials.push(Denial::DirUnavailable {
                    capability: grant.capability.clone(),
                    reason: format!("`{}`: {e}", grant.path),
                }),
            }
        }
        if !denials.is_empty() {
            return Err(CapabilityError {
                plugin: plugin.to_owned(),
                denials,
            });
        }
        Ok(Self {
            preopens: preopens.into(),
            endpoints: Arc::new(granted.endpoints.clone()),
            dns_lookup: granted.dns_lookup,
            fixed: false,
        })
    }

    /// The preopened directories.
    #[must_use]
    pub fn preopens(&self) -> &[Preopen] {
        &self.preopens
    }

    /// The preopened directories, shared with a call's store.
    pub(crate) fn shared_preopens(&self) -> Arc<[Preopen]> {
        Arc::clone(&self.preopens)
    }

    /// Build the WASI context of one call. Denied socket uses are recorded in
    /// `denials`; the guest's stderr goes to `stderr` (a bounded buffer the host
    /// shows when the guest traps, since a panic message is written there). The
    /// preopened directories are not in it: the host hands out the handles
    /// itself ([`crate::bindings::call::link_plugin`]).
    #[must_use]
    pub fn wasi_context(&self, denials: &NetworkDenials, stderr: MemoryOutputPipe) -> WasiCtx {
        let mut builder = WasiCtxBuilder::new();
        // The defaults already hold no env, no args, a closed stdin and a
        // discarded stdout; nothing here adds them.
        builder.stderr(stderr);
        if self.fixed {
            builder
                .wall_clock(FixedClock)
                .monotonic_clock(FixedClock)
                .secure_random(wasmtime_wasi::Deterministic::new(vec![0]))
                .insecure_random(wasmtime_wasi::Deterministic::new(vec![0]))
                .insecure_random_seed(0);
        }
        let tcp = self.endpoints.iter().any(|(p, _)| *p == Protocol::Tcp);
        let udp = self.endpoints.iter().any(|(p, _)| *p == Protocol::Udp);
        builder.allow_tcp(tcp);
        builder.allow_udp(udp);
        builder.allow_ip_name_lookup(self.dns_lookup);
        let endpoints = Arc::clone(&self.endpoints);
        let denials = denials.clone();
        builder.socket_addr_check(move |address, use_| {
            let allowed = allows(&endpoints, address, use_);
            if !allowed {
                denials.push(NetworkDenial {
                    target: address.to_string(),
                    use_: describe(use_),
                    reason: None,
                });
            }
            Box::pin(async move { allowed })
        });
        builder.build()
    }
}

/// The clock of a policy module: always the Unix epoch, never moving.
struct FixedClock;

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

/// Open the directory `path` of `dir`, one component at a time, refusing a
/// symbolic link anywhere on the way (`O_NOFOLLOW`): a link swapped in for a
/// granted directory, even one that stays inside the environment, is refused.
#[cfg(unix)]
fn open_dir_nofollow(dir: &Dir, path: &RelativePath) -> std::io::Result<Dir> {
    use rustix::fs::{Mode as FileMode, OFlags, openat};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut current: Option<std::os::fd::OwnedFd> = None;
    for name in components(path) {
        let next = match &current {
            None => openat(dir, name, flags, FileMode::empty()),
            Some(fd) => openat(fd, name, flags, FileMode::empty()),
        };
        current = Some(next.map_err(|e| match e {
            rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => std::io::Error::other(format!(
                "`{}` is a symbolic link or not a directory",
                name.to_string_lossy()
            )),
            e => std::io::Error::from(e),
        })?);
    }
    let fd = current.ok_or_else(|| std::io::Error::other("empty path"))?;
    Ok(Dir::from_std_file(std::fs::File::from(fd)))
}

#[cfg(not(unix))]
fn open_dir_nofollow(dir: &Dir, path: &RelativePath) -> std::io::Result<Dir> {
    dir.open_dir(path.as_path())
}

/// Whether a socket use is within the granted endpoints: a connect (TCP) or a
/// send (UDP) to a granted address of that protocol, and the implicit bind to
/// the wildcard address on an ephemeral port that comes with it. No listening,
/// no accepting, no receiving from anyone else.
fn allows(
    endpoints: &BTreeSet<(Protocol, SocketAddr)>,
    address: SocketAddr,
    use_: SocketAddrUse,
) -> bool {
    let ephemeral_wildcard = address.ip().is_unspecified() && address.port() == 0;
    let has = |protocol: Protocol| endpoints.iter().any(|(p, _)| *p == protocol);
    match use_ {
        SocketAddrUse::TcpConnect => endpoints.contains(&(Protocol::Tcp, address)),
        SocketAddrUse::TcpBind => ephemeral_wildcard && has(Protocol::Tcp),
        SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => {
            endpoints.contains(&(Protocol::Udp, address))
        }
        SocketAddrUse::UdpBind => ephemeral_wildcard && has(Protocol::Udp),
        SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => false,
    }
}

fn describe(use_: SocketAddrUse) -> &'static str {
    match use_ {
        SocketAddrUse::TcpConnect => "tcp connect",
        SocketAddrUse::TcpBind => "tcp bind",
        SocketAddrUse::TcpListen => "tcp listen",
        SocketAddrUse::TcpAccept => "tcp accept",
        SocketAddrUse::UdpBind => "udp bind",
        SocketAddrUse::UdpSend => "udp send",
        SocketAddrUse::UdpReceive => "udp receive",
    }
}

/// A socket use the check refused, or an HTTP request the judge refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkDenial {
    /// The socket address (`127.0.0.1:53`), or the request
    /// (`PATCH https://dns.contoso.com:8443/api/v1/…`, no query).
    pub target: String,
    /// `tcp connect`, `udp send`, ..., `http request`.
    pub use_: &'static str,
    /// Why, for a request.
    pub reason: Option<String>,
}

impl fmt::Display for NetworkDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            None => write!(f, "{} to `{}`", self.use_, self.target),
            Some(reason) => write!(f, "{} `{}` ({reason})", self.use_, self.target),
        }
    }
}

/// How many denied socket uses a call keeps by address; the rest are counted.
pub const MAX_DENIALS_KEPT: usize = 8;

/// The socket uses refused during one call, shared with the address check.
/// However many the guest provokes, it holds at most [`MAX_DENIALS_KEPT`] and
/// two counters.
#[derive(Debug, Clone, Default)]
pub struct NetworkDenials(Arc<Mutex<DenialLog>>);

#[derive(Debug, Default)]
struct DenialLog {
    kept: Vec<NetworkDenial>,
    more: usize,
    /// Datagrams received from addresses not granted (dropped by WASI).
    unsolicited: usize,
}

impl NetworkDenials {
    pub(crate) fn push(&self, denial: NetworkDenial) {
        let mut log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if denial.use_ == describe(SocketAddrUse::UdpReceive) {
            log.unsolicited = log.unsolicited.saturating_add(1);
        } else if log.kept.len() < MAX_DENIALS_KEPT {
            log.kept.push(denial);
        } else {
            log.more = log.more.saturating_add(1);
        }
    }

    /// The denials kept so far, and how many more there were.
    #[must_use]
    pub fn take(&self) -> (Vec<NetworkDenial>, usize) {
        let mut log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        (std::mem::take(&mut log.kept), std::mem::take(&mut log.more))
    }

    /// How many datagrams from addresses not granted were dropped.
    #[must_use]
    pub fn unsolicited(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unsolicited
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use std::collections::BTreeMap;

    use super::*;
    use crate::environment::DirGrant;
    use crate::manifest::{DirRequest, NetworkRequest};

    fn requested() -> Capabilities {
        Capabilities {
            dirs: vec![DirRequest {
                name: "zones".to_owned(),
                guest_path: "/zones".to_owned(),
                mode: Mode::ReadWrite,
            }],
            network: vec![NetworkRequest {
                name: "dns-server".to_owned(),
                protocol: Protocol::Udp,
            }],
            dns_lookup: false,
            http: Vec::new(),
        }
    }

    fn grants(mode: Mode) -> Grants {
        Grants {
            dirs: BTreeMap::from([(
                "zones".to_owned(),
                DirGrant {
                    path: RelativePath::new("dns").unwrap(),
                    mode,
                },
            )]),
            network: BTreeMap::from([(
                "dns-server".to_owned(),
                vec!["127.0.0.1:5353".parse().unwrap()],
            )]),
            dns_lookup: false,
            http: BTreeMap::new(),
        }
    }

    fn http_grant() -> HttpGrant {
        HttpGrant {
            origin: "https://dns.contoso.com:8443".parse().unwrap(),
            path_prefix: "/api/v1".to_owned(),
            addresses: Vec::new(),
            ca: None,
            headers: BTreeMap::new(),
        }
    }

    #[test]
    fn an_http_capability_needs_its_grant_and_a_grant_needs_its_request() {
        let mut requested = requested();
        requested.http.push(crate::manifest::HttpRequest {
            name: "powerdns-api".to_owned(),
            methods: BTreeSet::from([Method::Get]),
            max_response_bytes: 1024,
        });
        let error = check("dns-powerdns", &requested, &grants(Mode::ReadWrite)).unwrap_err();
        assert_eq!(
            error.denials,
            vec![Denial::NotGranted {
                capability: "powerdns-api".to_owned()
            }]
        );
        let mut grants = grants(Mode::ReadWrite);
        grants.http.insert("powerdns-api".to_owned(), http_grant());
        let granted = check("dns-powerdns", &requested, &grants).unwrap();
        assert_eq!(granted.http[0].grant.origin.port, 8443);
        assert_eq!(granted.http[0].max_response_bytes, 1024);

        grants.http.insert("metrics".to_owned(), http_grant());
        let error = check("dns-powerdns", &requested, &grants).unwrap_err();
        assert_eq!(
            error.denials,
            vec![Denial::NotRequested {
                capability: "metrics".to_owned()
            }]
        );
    }

    #[test]
    fn everything_requested_and_granted_runs() {
        let granted = check("lab-dns", &requested(), &grants(Mode::ReadWrite)).unwrap();
        assert_eq!(granted.dirs.len(), 1);
        assert!(
            granted
                .endpoints
                .contains(&(Protocol::Udp, "127.0.0.1:5353".parse().unwrap()))
        );
        assert!(!granted.dns_lookup);
    }

    #[test]
    fn a_missing_grant_is_denied() {
        let mut grants = grants(Mode::ReadWrite);
        grants.network.clear();
        let error = check("lab-dns", &requested(), &grants).unwrap_err();
        assert_eq!(
            error.denials,
            vec![Denial::NotGranted {
                capability: "dns-server".to_owned()
            }]
        );
        assert_eq!(
            error.to_string(),
            "capabilities of plugin `lab-dns` refused: `dns-server` is requested but not granted"
        );
    }

    #[test]
    fn a_read_only_grant_does_not_satisfy_a_read_write_request() {
        let error = check("lab-dns", &requested(), &grants(Mode::ReadOnly)).unwrap_err();
        assert_eq!(
            error.denials,
            vec![Denial::ReadOnlyGrant {
                capability: "zones".to_owned()
            }]
        );
    }

    #[test]
    fn a_grant_beyond_the_request_is_denied() {
        let mut requested = requested();
        requested.dirs[0].mode = Mode::ReadOnly;
        let mut grants = grants(Mode::ReadWrite);
        grants.dns_lookup = true;
        grants
            .network
            .insert("smtp".to_owned(), vec!["127.0.0.1:25".parse().unwrap()]);
        let error = check("lab-dns", &requested, &grants).unwrap_err();
        assert_eq!(
            error.denials,
            vec![
                Denial::BroaderGrant {
                    capability: "zones".to_owned()
                },
                Denial::NotRequested {
                    capability: "smtp".to_owned()
                },
                Denial::NotRequested {
                    capability: "dns-lookup".to_owned()
                },
            ]
        );
    }

    #[test]
    fn name_lookup_needs_its_grant() {
        let mut requested = requested();
        requested.dns_lookup = true;
        let error = check("lab-dns", &requested, &grants(Mode::ReadWrite)).unwrap_err();
        assert_eq!(
            error.denials,
            vec![Denial::NotGranted {
                capability: "dns-lookup".to_owned()
            }]
        );
    }

    #[test]
    fn the_address_check_lets_through_only_granted_endpoints() {
        let endpoints = BTreeSet::from([
            (Protocol::Tcp, "127.0.0.1:5269".parse().unwrap()),
            (Protocol::Udp, "127.0.0.1:53".parse().unwrap()),
        ]);
        let allowed = |address: &str, use_| allows(&endpoints, address.parse().unwrap(), use_);
        assert!(allowed("127.0.0.1:5269", SocketAddrUse::TcpConnect));
        assert!(!allowed("127.0.0.1:5270", SocketAddrUse::TcpConnect));
        assert!(!allowed("127.0.0.1:53", SocketAddrUse::TcpConnect));
        assert!(allowed("127.0.0.1:53", SocketAddrUse::UdpSend));
        assert!(!allowed("127.0.0.1:5269", SocketAddrUse::UdpSend));
        assert!(allowed("0.0.0.0:0", SocketAddrUse::TcpBind));
        assert!(!allowed("0.0.0.0:8080", SocketAddrUse::TcpBind));
        assert!(!allowed("127.0.0.1:5269", SocketAddrUse::TcpListen));
        assert!(!allowed("127.0.0.1:5269", SocketAddrUse::TcpAccept));
    }

    #[test]
    fn no_endpoint_no_bind() {
        let endpoints = BTreeSet::new();
        assert!(!allows(
            &endpoints,
            "0.0.0.0:0".parse().unwrap(),
            SocketAddrUse::TcpBind
        ));
    }

    #[test]
    fn a_granted_directory_must_stay_inside_the_environment() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("dns")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("escape")).unwrap();
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap();
        let granted = check("lab-dns", &requested(), &grants(Mode::ReadWrite)).unwrap();
        let sandbox = Sandbox::resolve("lab-dns", &granted, &dir).unwrap();
        assert_eq!(sandbox.preopens()[0].guest_path, "/zones");

        let mut escaping = granted.clone();
        escaping.dirs[0].path = RelativePath::new("escape").unwrap();
        #[cfg(unix)]
        assert!(matches!(
            Sandbox::resolve("lab-dns", &escaping, &dir)
                .unwrap_err()
                .denials[0],
            Denial::DirUnavailable { .. }
        ));
        escaping.dirs[0].path = RelativePath::new("missing").unwrap();
        assert!(Sandbox::resolve("lab-dns", &escaping, &dir).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_inside_the_environment_is_not_followed_either() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("secrets")).unwrap();
        std::os::unix::fs::symlink("secrets", tmp.path().join("dns")).unwrap();
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap();
        let granted = check("lab-dns", &requested(), &grants(Mode::ReadWrite)).unwrap();
        let error = Sandbox::resolve("lab-dns", &granted, &dir).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
    }

    fn with_dirs(dirs: &[(&str, &str)]) -> (Capabilities, Grants) {
        let mut requested = Capabilities::default();
        let mut grants = Grants::default();
        for (name, path) in dirs {
            requested.dirs.push(DirRequest {
                name: (*name).to_owned(),
                guest_path: format!("/{name}"),
                mode: Mode::ReadWrite,
            });
            grants.dirs.insert(
                (*name).to_owned(),
                DirGrant {
                    path: RelativePath::new(path).unwrap(),
                    mode: Mode::ReadWrite,
                },
            );
        }
        (requested, grants)
    }

    #[test]
    fn overlapping_grants_are_refused() {
        let (requested, grants) = with_dirs(&[("outer", "data"), ("inner", "./data/inner")]);
        let error = check("p", &requested, &grants).unwrap_err();
        assert!(
            matches!(&error.denials[..], [Denial::OverlappingDirs { .. }]),
            "{error}"
        );
        let (requested, grants) = with_dirs(&[("a", "data"), ("b", "data")]);
        assert!(check("p", &requested, &grants).is_err());
        let (requested, grants) = with_dirs(&[("a", "data"), ("b", "database")]);
        assert!(check("p", &requested, &grants).is_ok());
    }

    #[test]
    fn grants_reaching_the_environments_own_directories_are_refused() {
        for path in [".failback", "secrets/tsig", "Plugins", "./secrets"] {
            let (requested, grants) = with_dirs(&[("x", path)]);
            let error = check("p", &requested, &grants).unwrap_err();
            assert!(
                matches!(&error.denials[..], [Denial::ReservedDir { .. }]),
                "{path}: {error}"
            );
        }
    }

    #[test]
    fn a_denial_flood_is_kept_to_a_few_and_counted() {
        let denials = NetworkDenials::default();
        for port in 0..10_000_u16 {
            denials.push(NetworkDenial {
                target: SocketAddr::from(([192, 0, 2, 1], port)).to_string(),
                use_: "udp send",
                reason: None,
            });
            denials.push(NetworkDenial {
                target: SocketAddr::from(([192, 0, 2, 1], port)).to_string(),
                use_: "udp receive",
                reason: None,
            });
        }
        let (kept, more) = denials.take();
        assert_eq!(kept.len(), MAX_DENIALS_KEPT);
        assert_eq!(more, 10_000 - MAX_DENIALS_KEPT);
        assert_eq!(denials.unsolicited(), 10_000);
    }
}
