//! Capabilities, checked in one place: what a plugin's manifest requests against
//! what the environment grants, and the WASI context built from exactly the
//! grants.
//!
//! A plugin runs only when every capability it requests is granted, and when the
//! environment grants nothing it did not request. Its WASI context then holds:
//! the granted directories as preopens with the granted mode; a socket address
//! check that lets through only the granted endpoints, per protocol (and the
//! implicit wildcard bind a connect makes); name lookup only when granted; TCP or
//! UDP only when an endpoint of that protocol is granted; no environment
//! variables, no arguments, no inherited stdio (stdin closed, stdout and stderr
//! discarded). Everything else the guest tries is denied by WASI, and a denied
//! socket use is recorded for the audit.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use cap_std::fs::Dir;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use crate::environment::{Grants, RelativePath};
use crate::manifest::{Capabilities, Mode, Protocol};

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

/// The capabilities a plugin gets: exactly what it requested and was granted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Granted {
    pub dirs: Vec<GrantedDir>,
    pub endpoints: BTreeSet<(Protocol, SocketAddr)>,
    pub dns_lookup: bool,
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
        .collect();
    for name in grants.dirs.keys().chain(grants.network.keys()) {
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

    if denials.is_empty() {
        Ok(granted)
    } else {
        Err(CapabilityError {
            plugin: plugin.to_owned(),
            denials,
        })
    }
}

/// A granted directory resolved to the host path WASI opens it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    pub capability: String,
    pub host_path: PathBuf,
    pub guest_path: String,
    pub mode: Mode,
}

/// What a plugin's WASI context is built from, once per call.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    preopens: Vec<Preopen>,
    endpoints: Arc<BTreeSet<(Protocol, SocketAddr)>>,
    dns_lookup: bool,
}

impl Sandbox {
    /// No capability at all: the context of policy modules, and of plugins that
    /// request nothing.
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// Resolve `granted`'s directories: each must open, through the environment
    /// directory `dir`, as a directory inside it (`cap_std` refuses a path or a
    /// symbolic link that leads out). `root` is `dir`'s host path.
    ///
    /// WASI's `preopened_dir` takes a host path, not a handle, so the checked
    /// relative path is joined to `root`. The check and the open are two steps;
    /// the environment directory belongs to the operator, who could swap a
    /// directory for a link between them, but a plugin cannot.
    pub fn resolve(
        plugin: &str,
        granted: &Granted,
        dir: &Dir,
        root: &Path,
    ) -> Result<Self, CapabilityError> {
        let mut denials = Vec::new();
        let mut preopens = Vec::new();
        for grant in &granted.dirs {
            match dir.open_dir(grant.path.as_path()) {
                Ok(_) => preopens.push(Preopen {
                    capability: grant.capability.clone(),
                    host_path: root.join(grant.path.as_path()),
                    guest_path: grant.guest_path.clone(),
                    mode: grant.mode,
                }),
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
            preopens,
            endpoints: Arc::new(granted.endpoints.clone()),
            dns_lookup: granted.dns_lookup,
        })
    }

    /// The preopened directories.
    #[must_use]
    pub fn preopens(&self) -> &[Preopen] {
        &self.preopens
    }

    /// Build the WASI context of one call. Denied socket uses are appended to
    /// `denials`; the guest's stderr goes to `stderr` (a bounded buffer the host
    /// shows when the guest traps, since a panic message is written there).
    pub fn wasi_context(
        &self,
        denials: &NetworkDenials,
        stderr: MemoryOutputPipe,
    ) -> Result<WasiCtx, std::io::Error> {
        let mut builder = WasiCtxBuilder::new();
        // The defaults already hold no env, no args, a closed stdin and a
        // discarded stdout; nothing here adds them.
        builder.stderr(stderr);
        for preopen in &self.preopens {
            let perms = match preopen.mode {
                Mode::ReadOnly => FsPerms::ReadOnly,
                Mode::ReadWrite => FsPerms::ReadWrite,
            };
            builder
                .preopened_dir(&preopen.host_path, &preopen.guest_path, perms)
                .map_err(|e| std::io::Error::other(format!("`{}`: {e}", preopen.capability)))?;
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
                    address,
                    use_: describe(use_),
                });
            }
            Box::pin(async move { allowed })
        });
        Ok(builder.build())
    }
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

/// A socket use the check refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkDenial {
    pub address: SocketAddr,
    /// `tcp connect`, `udp send`, ...
    pub use_: &'static str,
}

impl fmt::Display for NetworkDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to `{}`", self.use_, self.address)
    }
}

/// The socket uses refused during one call, shared with the address check.
#[derive(Debug, Clone, Default)]
pub struct NetworkDenials(Arc<Mutex<Vec<NetworkDenial>>>);

impl NetworkDenials {
    fn push(&self, denial: NetworkDenial) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(denial);
    }

    /// Every denial so far.
    #[must_use]
    pub fn take(&self) -> Vec<NetworkDenial> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
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
        }
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
        let sandbox = Sandbox::resolve("lab-dns", &granted, &dir, tmp.path()).unwrap();
        assert_eq!(sandbox.preopens()[0].host_path, tmp.path().join("dns"));

        let mut escaping = granted.clone();
        escaping.dirs[0].path = RelativePath::new("escape").unwrap();
        #[cfg(unix)]
        assert!(matches!(
            Sandbox::resolve("lab-dns", &escaping, &dir, tmp.path())
                .unwrap_err()
                .denials[0],
            Denial::DirUnavailable { .. }
        ));
        escaping.dirs[0].path = RelativePath::new("missing").unwrap();
        assert!(Sandbox::resolve("lab-dns", &escaping, &dir, tmp.path()).is_err());
    }
}
