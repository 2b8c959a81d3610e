//! The plugin manifest (`plugin.toml`, `docs/plugin-manifest.md`): what a
//! component is and everything it may ask for.
//!
//! The file is read into a raw serde struct that rejects unknown fields, then
//! checked into a [`Manifest`]. The capability module ([`crate::capability`])
//! compares a manifest's requests with the environment's grants.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// Default memory limit of a plugin whose manifest names none.
pub const DEFAULT_MEMORY_MIB: u32 = 64;
/// Default wall time per call of a plugin whose manifest names none.
pub const DEFAULT_CALL_TIMEOUT_MS: u32 = 5_000;
/// The largest memory limit a manifest may ask for (the pooling allocator's slot size).
pub const MAX_MEMORY_MIB: u32 = 1_024;
/// The longest wall time per call a manifest may ask for (ten minutes).
pub const MAX_CALL_TIMEOUT_MS: u32 = 600_000;

/// A plugin kind: one world of `failback:plugin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    DnsProvider,
    PortProbe,
    ManagementStore,
    ServerControl,
    PoolControl,
}

impl PluginKind {
    /// Every kind, in the order the environment file documents them.
    pub const ALL: [Self; 5] = [
        Self::DnsProvider,
        Self::PortProbe,
        Self::ManagementStore,
        Self::ServerControl,
        Self::PoolControl,
    ];

    /// The world's name (`dns-provider`), also the kind's key under `[plugins]`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::DnsProvider => "dns-provider",
            Self::PortProbe => "port-probe",
            Self::ManagementStore => "management-store",
            Self::ServerControl => "server-control",
            Self::PoolControl => "pool-control",
        }
    }

    /// The interface the world exports (`dns`).
    #[must_use]
    pub fn export_interface(self) -> &'static str {
        match self {
            Self::DnsProvider => "dns",
            Self::PortProbe => "probe",
            Self::ManagementStore => "management",
            Self::ServerControl => "servers",
            Self::PoolControl => "pools",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PluginKind {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, ()> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or(())
    }
}

/// The WIT package version this runtime implements.
pub const PLUGIN_PACKAGE_VERSION: &str = "0.1.0";

/// `read-only` or `read-write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    ReadOnly,
    ReadWrite,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ReadOnly => "read-only",
            Self::ReadWrite => "read-write",
        })
    }
}

/// `tcp` or `udp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        })
    }
}

/// A directory the plugin asks for, under a name the environment grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirRequest {
    pub name: String,
    /// Where the guest sees it (absolute, `/zones`).
    pub guest_path: String,
    pub mode: Mode,
}

/// A network endpoint the plugin asks for, under a name the environment binds
/// to socket addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkRequest {
    pub name: String,
    pub protocol: Protocol,
}

/// Everything a plugin may ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub dirs: Vec<DirRequest>,
    pub network: Vec<NetworkRequest>,
    pub dns_lookup: bool,
}

impl Capabilities {
    /// Whether the plugin asks for nothing at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty() && self.network.is_empty() && !self.dns_lookup
    }
}

/// Limits per instance and per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Linear memory and tables, per instance, in MiB.
    pub memory_mib: u32,
    /// Wall time per call, in milliseconds.
    pub call_timeout_ms: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mib: DEFAULT_MEMORY_MIB,
            call_timeout_ms: DEFAULT_CALL_TIMEOUT_MS,
        }
    }
}

/// A checked plugin manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    /// The world as written (`failback:plugin/dns-provider@0.1.0`).
    pub world: String,
    /// Absent in the source manifests of this repository; the build adds it.
    pub sha256: Option<Digest>,
    pub description: Option<String>,
    pub capabilities: Capabilities,
    pub limits: Limits,
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("the manifest is not valid: {0}")]
    Syntax(String),
    #[error("plugin name `{0}` is not made of lowercase letters, digits and `-`")]
    Name(String),
    #[error("version `{0}` is not a semantic version")]
    Version(String),
    #[error(
        "world `{0}` is not a plugin world of `failback:plugin@{PLUGIN_PACKAGE_VERSION}` \
         (dns-provider, port-probe, management-store, server-control, pool-control)"
    )]
    World(String),
    #[error("{0}")]
    Digest(#[from] crate::digest::DigestParseError),
    #[error("capability name `{0}` is requested twice")]
    DuplicateCapability(String),
    #[error("capability name `{0}` is not made of lowercase letters, digits and `-`")]
    CapabilityName(String),
    #[error("guest path `{0}` is not an absolute path without `.` or `..`")]
    GuestPath(String),
    #[error("guest path `{0}` is mounted twice")]
    DuplicateGuestPath(String),
    #[error("memory limit {0} MiB is not between 1 and {MAX_MEMORY_MIB} MiB")]
    Memory(u32),
    #[error("call time-out {0} ms is not between 1 and {MAX_CALL_TIMEOUT_MS} ms")]
    Timeout(u32),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawManifest {
    name: String,
    version: String,
    world: String,
    sha256: Option<String>,
    description: Option<String>,
    #[serde(default)]
    capabilities: RawCapabilities,
    #[serde(default)]
    limits: RawLimits,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCapabilities {
    #[serde(default)]
    dirs: Vec<RawDir>,
    #[serde(default)]
    network: Vec<RawNetwork>,
    #[serde(default)]
    dns_lookup: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawDir {
    name: String,
    guest_path: String,
    mode: Mode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawNetwork {
    name: String,
    protocol: Protocol,
}

/// `[limits]`, in the manifest and (tightening it) in the environment file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawLimits {
    pub(crate) memory_mib: Option<u32>,
    pub(crate) call_timeout_ms: Option<u32>,
}

impl Manifest {
    /// Parse and check the text of a `plugin.toml`.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let raw: RawManifest =
            toml::from_str(text).map_err(|e| ManifestError::Syntax(e.message().to_owned()))?;
        Self::check(raw)
    }

    fn check(raw: RawManifest) -> Result<Self, ManifestError> {
        if !is_name(&raw.name) {
            return Err(ManifestError::Name(raw.name));
        }
        if !is_semver(&raw.version) {
            return Err(ManifestError::Version(raw.version));
        }
        let kind =
            parse_world(&raw.world).ok_or_else(|| ManifestError::World(raw.world.clone()))?;
        let sha256 = raw.sha256.as_deref().map(str::parse).transpose()?;

        let mut names = BTreeSet::new();
        let mut guest_paths = BTreeSet::new();
        let mut capabilities = Capabilities {
            dns_lookup: raw.capabilities.dns_lookup,
            ..Capabilities::default()
        };
        for dir in raw.capabilities.dirs {
            check_capability_name(&dir.name, &mut names)?;
            if !is_guest_path(&dir.guest_path) {
                return Err(ManifestError::GuestPath(dir.guest_path));
            }
            if !guest_paths.insert(dir.guest_path.clone()) {
                return Err(ManifestError::DuplicateGuestPath(dir.guest_path));
            }
            capabilities.dirs.push(DirRequest {
                name: dir.name,
                guest_path: dir.guest_path,
                mode: dir.mode,
            });
        }
        for endpoint in raw.capabilities.network {
            check_capability_name(&endpoint.name, &mut names)?;
            capabilities.network.push(NetworkRequest {
                name: endpoint.name,
                protocol: endpoint.protocol,
            });
        }
        let limits = Limits::default().tightened(raw.limits)?;
        Ok(Self {
            name: raw.name,
            version: raw.version,
            kind,
            world: raw.world,
            sha256,
            description: raw.description,
            capabilities,
            limits,
        })
    }
}

impl Limits {
    /// These limits with each limit `raw` names put in its place, checked.
    pub(crate) fn tightened(self, raw: RawLimits) -> Result<Self, ManifestError> {
        let memory_mib = raw.memory_mib.unwrap_or(self.memory_mib);
        let call_timeout_ms = raw.call_timeout_ms.unwrap_or(self.call_timeout_ms);
        if memory_mib == 0 || memory_mib > MAX_MEMORY_MIB {
            return Err(ManifestError::Memory(memory_mib));
        }
        if call_timeout_ms == 0 || call_timeout_ms > MAX_CALL_TIMEOUT_MS {
            return Err(ManifestError::Timeout(call_timeout_ms));
        }
        Ok(Self {
            memory_mib,
            call_timeout_ms,
        })
    }
}

fn check_capability_name(name: &str, names: &mut BTreeSet<String>) -> Result<(), ManifestError> {
    if !is_name(name) {
        return Err(ManifestError::CapabilityName(name.to_owned()));
    }
    if !names.insert(name.to_owned()) {
        return Err(ManifestError::DuplicateCapability(name.to_owned()));
    }
    Ok(())
}

/// `[a-z0-9-]+`
pub(crate) fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `MAJOR.MINOR.PATCH` with an optional `-pre` and `+build`.
fn is_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let rest = &version[core.len()..];
    let numbers: Vec<&str> = core.split('.').collect();
    let numbers_ok = numbers.len() == 3
        && numbers.iter().all(|n| {
            !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && (n.len() == 1 || !n.starts_with('0'))
        });
    let rest_ok = rest.is_empty()
        || (rest.len() > 1
            && rest[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+')));
    numbers_ok && rest_ok
}

/// `failback:plugin/<kind>@0.1.0`
pub(crate) fn parse_world(world: &str) -> Option<PluginKind> {
    let rest = world.strip_prefix("failback:plugin/")?;
    let (name, version) = rest.split_once('@')?;
    if version != PLUGIN_PACKAGE_VERSION {
        return None;
    }
    name.parse().ok()
}

/// An absolute guest path whose components are plain names.
fn is_guest_path(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        rest.is_empty()
            || rest
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..")
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    const FULL: &str = r#"
        name = "lab-dns"
        version = "0.1.0"
        world = "failback:plugin/dns-provider@0.1.0"
        sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        description = "DNS provider over the lab's zone files"

        [[capabilities.dirs]]
        name = "zones"
        guest-path = "/zones"
        mode = "read-write"

        [[capabilities.network]]
        name = "dns-server"
        protocol = "tcp"

        [capabilities]
        dns-lookup = false

        [limits]
        memory-mib = 64
        call-timeout-ms = 5000
    "#;

    #[test]
    fn parses_the_documented_example() {
        let manifest = Manifest::parse(FULL).unwrap();
        assert_eq!(manifest.kind, PluginKind::DnsProvider);
        assert_eq!(manifest.capabilities.dirs[0].mode, Mode::ReadWrite);
        assert_eq!(manifest.capabilities.network[0].protocol, Protocol::Tcp);
        assert_eq!(manifest.limits.memory_mib, 64);
    }

    #[test]
    fn rejects_unknown_fields() {
        let text = FULL.replace("description =", "extra = 1\ndescription =");
        assert!(matches!(
            Manifest::parse(&text),
            Err(ManifestError::Syntax(_))
        ));
    }

    #[test]
    fn rejects_a_world_of_another_version() {
        let text = FULL.replace("@0.1.0", "@0.2.0");
        assert!(matches!(
            Manifest::parse(&text),
            Err(ManifestError::World(_))
        ));
    }

    #[test]
    fn rejects_relative_and_dotted_guest_paths() {
        for path in ["zones", "/a/../b", "/a//b", "/."] {
            let text = FULL.replace("\"/zones\"", &format!("{path:?}"));
            assert!(
                matches!(Manifest::parse(&text), Err(ManifestError::GuestPath(_))),
                "{path}"
            );
        }
    }

    #[test]
    fn rejects_a_limit_out_of_range() {
        let text = FULL.replace("memory-mib = 64", "memory-mib = 4096");
        assert_eq!(Manifest::parse(&text), Err(ManifestError::Memory(4096)));
    }

    #[test]
    fn semver() {
        for ok in ["0.1.0", "1.2.3-rc.1", "10.0.0+build.5"] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in ["1.2", "01.2.3", "1.2.3-", "a.b.c"] {
            assert!(!is_semver(bad), "{bad}");
        }
    }
}
