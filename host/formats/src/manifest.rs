//! The manifest (`plugin.toml`, `docs/plugin-manifest.md`): what a component
//! is — a plugin of one kind or a policy module — and everything it may ask for.
//!
//! The text is read into a raw serde struct that rejects unknown fields, then
//! checked into a [`Manifest`]. It travels inside the component (a custom
//! section, [`crate::package`]) or, for a development build, beside it. The
//! capability module (`failback_runtime::capability`) compares a manifest's requests
//! with the environment's grants.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::http::{DEFAULT_RESPONSE_BYTES, Method};

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

/// The version of `failback:plugin` a new plugin is built against (`wit/plugin`).
pub const PLUGIN_PACKAGE_VERSION: &str = PluginTrack::CURRENT.version();
/// The policy package version this runtime implements: the current track.
pub const POLICY_PACKAGE_VERSION: &str = "0.2.0";
/// Every policy package version this runtime binds, newest first
/// (`failback_runtime::Track`): a module built for an older track still loads.
pub const POLICY_PACKAGE_VERSIONS: [&str; 2] = ["0.2.0", "0.1.0"];

/// A version track of `failback:plugin` this runtime binds: a plugin built
/// against any of them runs (`failback_runtime::wit` holds one binding module per
/// track, and the runtime's `plugin` calls each plugin through its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PluginTrack {
    /// `failback:plugin@0.1.0`: one call per machine and per endpoint.
    V0_1,
    /// `failback:plugin@0.2.0`: machines and probes read in batches.
    V0_2,
    /// `failback:plugin@0.3.0`: site routes set and replicas replicated in
    /// batches.
    V0_3,
}

impl PluginTrack {
    /// Every track, oldest first.
    pub const ALL: [Self; 3] = [Self::V0_1, Self::V0_2, Self::V0_3];
    /// The track of `wit/plugin`, which `failback plugin new` builds against.
    pub const CURRENT: Self = Self::V0_3;

    /// The package version (`0.3.0`).
    #[must_use]
    pub const fn version(self) -> &'static str {
        match self {
            Self::V0_1 => "0.1.0",
            Self::V0_2 => "0.2.0",
            Self::V0_3 => "0.3.0",
        }
    }

    /// The world of `kind` on this track (`failback:plugin/dns-provider@0.3.0`).
    #[must_use]
    pub fn world(self, kind: PluginKind) -> String {
        format!("failback:plugin/{kind}@{}", self.version())
    }
}

impl fmt::Display for PluginTrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.version())
    }
}

/// What a component is for: a plugin of one kind, or a policy module. Trust is
/// given per role (`[trust.dns-provider]`, `[trust.policy]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Plugin(PluginKind),
    Policy,
}

impl Role {
    /// Every role: the plugin kinds, then `policy`.
    pub const ALL: [Self; 6] = [
        Self::Plugin(PluginKind::DnsProvider),
        Self::Plugin(PluginKind::PortProbe),
        Self::Plugin(PluginKind::ManagementStore),
        Self::Plugin(PluginKind::ServerControl),
        Self::Plugin(PluginKind::PoolControl),
        Self::Policy,
    ];

    /// `dns-provider`, ..., `policy`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Plugin(kind) => kind.name(),
            Self::Policy => "policy",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl FromStr for Role {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, ()> {
        Self::ALL
            .into_iter()
            .find(|role| role.name() == name)
            .ok_or(())
    }
}

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

/// An HTTP API the plugin asks to reach (`wasi:http`), under a name the
/// environment grants as one exact origin ([`crate::http`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpRequest {
    pub name: String,
    /// The methods it may use: those it names, or every method of
    /// [`Method::ALL`] when it names none.
    pub methods: BTreeSet<Method>,
    /// The most response body bytes one request may read: at most
    /// [`DEFAULT_RESPONSE_BYTES`], which is what it gets when it names none.
    pub max_response_bytes: u64,
}

/// Everything a plugin may ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub dirs: Vec<DirRequest>,
    pub network: Vec<NetworkRequest>,
    pub dns_lookup: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpRequest>,
}

impl Capabilities {
    /// Whether the plugin asks for nothing at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty() && self.network.is_empty() && !self.dns_lookup && self.http.is_empty()
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

/// What a policy module gets when its manifest names no limits (and what a
/// policy module without a manifest gets).
pub const POLICY_LIMITS: Limits = Limits {
    memory_mib: 128,
    call_timeout_ms: 5_000,
};

impl Limits {
    /// The limits a component of `role` gets when its manifest names none.
    #[must_use]
    pub fn default_for(role: Role) -> Self {
        match role {
            Role::Plugin(_) => Self::default(),
            Role::Policy => POLICY_LIMITS,
        }
    }
}

/// A checked manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    /// Who ships it, for people (`Contoso Networks`).
    pub vendor: Option<String>,
    /// A plugin of one kind, or a policy module: what `world` names.
    pub role: Role,
    /// The world as written (`failback:plugin/dns-provider@0.1.0`).
    pub world: String,
    /// The sha256 of the component it describes: only in a manifest beside its
    /// component (a development build); one carried inside its component has
    /// none, the component's own digest covering it.
    pub sha256: Option<Digest>,
    pub description: Option<String>,
    pub capabilities: Capabilities,
    pub limits: Limits,
}

impl Manifest {
    /// The plugin kind, for a plugin's manifest.
    #[must_use]
    pub fn plugin_kind(&self) -> Option<PluginKind> {
        match self.role {
            Role::Plugin(kind) => Some(kind),
            Role::Policy => None,
        }
    }

    /// The track a plugin's `world` names, for a plugin's manifest.
    #[must_use]
    pub fn plugin_track(&self) -> Option<PluginTrack> {
        let kind = self.plugin_kind()?;
        PluginTrack::ALL
            .into_iter()
            .find(|track| track.world(kind) == self.world)
    }
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
        "world `{0}` is not a plugin world of `failback:plugin@0.1.0`, `@0.2.0` or `@0.3.0` \
         (dns-provider, port-probe, management-store, server-control, pool-control) \
         nor `failback:policy/policy@{POLICY_PACKAGE_VERSION}` (or `@0.1.0`)"
    )]
    World(String),
    #[error("a policy module asks for no capability: policies are pure (remove `[capabilities]`)")]
    PolicyCapabilities,
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
    #[error(
        "HTTP capability `{name}` names method `{method}`: ask for GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS"
    )]
    HttpMethod { name: String, method: String },
    #[error(
        "HTTP capability `{name}` asks for {bytes} response bytes: between 1 and {DEFAULT_RESPONSE_BYTES}"
    )]
    ResponseBytes { name: String, bytes: u64 },
}

/// The manifest as written: what `plugin.toml` holds, and what
/// [`crate::package::pack`] writes into a component.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawManifest {
    name: String,
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor: Option<String>,
    world: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default)]
    capabilities: RawCapabilities,
    #[serde(default)]
    limits: RawLimits,
}

#[derive(Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCapabilities {
    #[serde(default)]
    dns_lookup: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    dirs: Vec<RawDir>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    network: Vec<RawNetwork>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    http: Vec<RawHttp>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawHttp {
    name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    methods: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_response_bytes: Option<u64>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawDir {
    name: String,
    guest_path: String,
    mode: Mode,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawNetwork {
    name: String,
    protocol: Protocol,
}

/// `[limits]`, in the manifest and (tightening it) in the environment file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) memory_mib: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) call_timeout_ms: Option<u32>,
}

impl RawManifest {
    /// Read the text of a manifest, unchecked.
    pub(crate) fn read(text: &str) -> Result<Self, ManifestError> {
        toml::from_str(text).map_err(|e| ManifestError::Syntax(e.message().to_owned()))
    }

    /// The manifest as TOML text.
    pub(crate) fn write(&self) -> Result<String, ManifestError> {
        toml::to_string(self).map_err(|e| ManifestError::Syntax(e.to_string()))
    }
}

impl Manifest {
    /// Parse and check the text of a manifest.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        Self::check(RawManifest::read(text)?)
    }

    pub(crate) fn check(raw: RawManifest) -> Result<Self, ManifestError> {
        if !is_name(&raw.name) {
            return Err(ManifestError::Name(raw.name));
        }
        if !is_semver(&raw.version) {
            return Err(ManifestError::Version(raw.version));
        }
        let role =
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
        for http in raw.capabilities.http {
            check_capability_name(&http.name, &mut names)?;
            let methods = if http.methods.is_empty() {
                Method::ALL.into_iter().collect()
            } else {
                http.methods
                    .iter()
                    .map(|method| {
                        method.parse().map_err(|()| ManifestError::HttpMethod {
                            name: http.name.clone(),
                            method: method.clone(),
                        })
                    })
                    .collect::<Result<_, _>>()?
            };
            let max_response_bytes = http.max_response_bytes.unwrap_or(DEFAULT_RESPONSE_BYTES);
            if max_response_bytes == 0 || max_response_bytes > DEFAULT_RESPONSE_BYTES {
                return Err(ManifestError::ResponseBytes {
                    name: http.name,
                    bytes: max_response_bytes,
                });
            }
            capabilities.http.push(HttpRequest {
                name: http.name,
                methods,
                max_response_bytes,
            });
        }
        if role == Role::Policy && !capabilities.is_empty() {
            return Err(ManifestError::PolicyCapabilities);
        }
        let limits = Limits::default_for(role).tightened(raw.limits)?;
        Ok(Self {
            name: raw.name,
            version: raw.version,
            vendor: raw.vendor,
            role,
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

/// `failback:plugin/<kind>@<track>` or `failback:policy/policy@` one of
/// [`POLICY_PACKAGE_VERSIONS`].
pub fn parse_world(world: &str) -> Option<Role> {
    Role::ALL.into_iter().find(|role| match role {
        Role::Plugin(kind) => PluginTrack::ALL
            .into_iter()
            .any(|track| track.world(*kind) == world),
        Role::Policy => POLICY_PACKAGE_VERSIONS
            .iter()
            .any(|v| world == format!("failback:policy/policy@{v}")),
    })
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
        assert_eq!(manifest.role, Role::Plugin(PluginKind::DnsProvider));
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
    fn a_world_of_any_plugin_track_names_its_track() {
        let old = Manifest::parse(FULL).unwrap();
        assert_eq!(old.plugin_track(), Some(PluginTrack::V0_1));
        for track in [PluginTrack::V0_2, PluginTrack::V0_3] {
            let new = Manifest::parse(&FULL.replace("@0.1.0", &format!("@{track}"))).unwrap();
            assert_eq!(new.role, old.role);
            assert_eq!(new.plugin_track(), Some(track));
        }
    }

    #[test]
    fn rejects_a_world_of_another_version() {
        let text = FULL.replace("@0.1.0", "@0.4.0");
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
    fn a_policy_module_asks_for_nothing() {
        let policy = "name = \"federation\"\nversion = \"0.1.0\"\n\
                      world = \"failback:policy/policy@0.1.0\"\n";
        let manifest = Manifest::parse(policy).unwrap();
        assert_eq!(manifest.role, Role::Policy);
        assert_eq!(manifest.limits, POLICY_LIMITS);
        let asking = format!("{policy}[capabilities]\ndns-lookup = true\n");
        assert_eq!(
            Manifest::parse(&asking),
            Err(ManifestError::PolicyCapabilities)
        );
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let mut raw = RawManifest::read(FULL).unwrap();
        raw.sha256 = None;
        let text = raw.write().unwrap();
        let again = Manifest::parse(&text).unwrap();
        let mut original = Manifest::parse(FULL).unwrap();
        original.sha256 = None;
        assert_eq!(again, original);
    }

    #[test]
    fn rejects_a_limit_out_of_range() {
        let text = FULL.replace("memory-mib = 64", "memory-mib = 4096");
        assert_eq!(Manifest::parse(&text), Err(ManifestError::Memory(4096)));
    }

    #[test]
    fn an_http_capability_names_its_methods_and_may_only_lower_its_body_limit() {
        let text = format!(
            "{FULL}\n[[capabilities.http]]\nname = \"powerdns-api\"\nmethods = [\"GET\", \"PATCH\"]\nmax-response-bytes = 65536\n"
        );
        let manifest = Manifest::parse(&text).unwrap();
        let http = &manifest.capabilities.http[0];
        assert_eq!(
            http.methods.iter().map(|m| m.name()).collect::<Vec<_>>(),
            ["GET", "PATCH"]
        );
        assert_eq!(http.max_response_bytes, 65536);
        let any = format!("{FULL}\n[[capabilities.http]]\nname = \"api\"\n");
        let any = Manifest::parse(&any).unwrap();
        assert_eq!(any.capabilities.http[0].methods.len(), Method::ALL.len());
        assert_eq!(
            any.capabilities.http[0].max_response_bytes,
            DEFAULT_RESPONSE_BYTES
        );
        let raised = text.replace("65536", &(DEFAULT_RESPONSE_BYTES + 1).to_string());
        assert!(matches!(
            Manifest::parse(&raised),
            Err(ManifestError::ResponseBytes { .. })
        ));
        let connect = text.replace("\"PATCH\"", "\"CONNECT\"");
        assert!(matches!(
            Manifest::parse(&connect),
            Err(ManifestError::HttpMethod { .. })
        ));
        let twice = text.replace("powerdns-api", "dns-server");
        assert_eq!(
            Manifest::parse(&twice),
            Err(ManifestError::DuplicateCapability("dns-server".to_owned()))
        );
    }

    #[test]
    fn an_http_capability_reads_back_the_same() {
        let text = format!(
            "{FULL}\n[[capabilities.http]]\nname = \"powerdns-api\"\nmethods = [\"GET\"]\n"
        );
        let mut raw = RawManifest::read(&text).unwrap();
        raw.sha256 = None;
        let again = Manifest::parse(&raw.write().unwrap()).unwrap();
        assert_eq!(
            again.capabilities.http,
            Manifest::parse(&text).unwrap().capabilities.http
        );
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
