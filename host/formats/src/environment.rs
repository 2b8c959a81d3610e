//! The operator's environment file (`failback.toml`, `docs/environment.md`):
//! which plugin serves each kind (by path **and** sha256, its manifest pinned by
//! sha256 too), its configuration and the capabilities it is granted.
//!
//! The host reaches the environment's files only through the `cap_std` [`Dir`]
//! the CLI opens once on the directory holding the environment file; every path
//! in the file is relative to it, and is refused when absolute or when it holds
//! `..`. Secrets are given by reference and resolved here into [`Secret`]s,
//! which never show in `Debug` output, logs or the audit.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use cap_std::fs::Dir;
use serde::Deserialize;

use crate::approval::{ApprovalBindings, RawApprovals};
use crate::digest::{Digest, DigestParseError};
use crate::files::{FileError, RelativePath, read_text};
use crate::http::{Origin, OriginError, Scheme, is_secret_header_name};
use crate::manifest::{Limits, ManifestError, Mode, PluginKind, RawLimits, is_name};
use crate::trust::{KeyLineError, RawTrust, TrustBindings};

/// The environment file's usual name.
pub const ENVIRONMENT_FILE: &str = "failback.toml";

/// A checked environment file.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// The environment's name, for people.
    pub name: String,
    /// The external DNS zone holding the SIP and XMPP records (`contoso.com`).
    pub zone: String,
    /// The plugin bound to each kind.
    pub plugins: BTreeMap<PluginKind, PluginBinding>,
    /// The `[policies]` table, unchecked: the policy gate reads it.
    pub policies: Option<toml::Table>,
    /// The `[trust]` table: which keys sign what may run.
    pub trust: TrustBindings,
    /// The `[approvals]` table: how many of which keys approve a plan.
    pub approvals: ApprovalBindings,
    /// The `[journal]` table: the shared journal on PostgreSQL, when the runs
    /// of this deployment are not kept beside this file alone.
    pub journal: Option<JournalBinding>,
}

/// The `[journal]` table: where the deployment's shared journal, lock and
/// audit trail are (the runtime's `pg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalBinding {
    /// `postgres://user@host:port/database`, without a password.
    pub url: String,
    /// The name that identifies the deployment on every machine.
    pub deployment: String,
    /// The CA certificate (PEM) the server's certificate must chain to: the
    /// connection is TLS, verified, when it is given.
    pub ca: Option<RelativePath>,
    /// The environment variable holding the password; without it, the
    /// password comes from `PGPASSWORD` or the `.pgpass` file.
    pub password_env: Option<String>,
}

/// One `[plugins.<kind>]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginBinding {
    pub kind: PluginKind,
    /// The component, relative to the environment directory.
    pub path: RelativePath,
    /// What the component's sha256 must be.
    pub sha256: Digest,
    /// Where the manifest is, and what pins it.
    pub manifest: ManifestSource,
    /// A detached signature of the component, if it has one.
    pub signature: Option<RelativePath>,
    /// What the plugin reads through `config(key)`.
    pub config: BTreeMap<String, ConfigValue>,
    pub grants: Grants,
    /// Limits tighter than the manifest's, if any.
    pub limits: LimitOverrides,
}

/// Where a plugin's manifest comes from, and what pins it: the manifest says
/// what the plugin may ask for, so it is bound as firmly as the component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestSource {
    /// Inside the component (`failback plugin pack`, [`crate::package`]): the
    /// component's sha256, and its signature, cover it. A binding without
    /// `manifest-sha256`.
    Embedded,
    /// A `plugin.toml` beside the component, read only when its sha256 is
    /// `sha256` (`manifest` and `manifest-sha256` in the binding): a
    /// development build, which no signature covers.
    File { path: RelativePath, sha256: Digest },
}

impl fmt::Display for ManifestSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Embedded => f.write_str("the manifest inside the component"),
            Self::File { path, .. } => write!(f, "{path}"),
        }
    }
}

/// A value of a plugin's `config` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    /// A plain value, given to the plugin as written.
    Text(String),
    /// A secret given by reference, resolved by the host when the plugin loads.
    Secret(SecretRef),
}

/// Where a secret is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// A file, relative to the environment directory.
    File(RelativePath),
    /// An environment variable of the host process.
    Env(String),
}

/// The capabilities the environment grants one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Directories, by the capability name the manifest requested.
    pub dirs: BTreeMap<String, DirGrant>,
    /// Socket addresses, by the capability name the manifest requested.
    pub network: BTreeMap<String, Vec<SocketAddr>>,
    pub dns_lookup: bool,
    /// HTTP origins, by the capability name the manifest requested.
    pub http: BTreeMap<String, HttpGrant>,
}

/// An HTTP API granted to a plugin ([`crate::http`]): one exact origin, the
/// paths under a prefix, and what the host adds to each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGrant {
    pub origin: Origin,
    /// Requests must go to this path or below it (`/api/v1`); `/` for all.
    pub path_prefix: String,
    /// The addresses to connect to, instead of resolving the origin's host:
    /// an answer that changes cannot move the grant to another host.
    pub addresses: Vec<IpAddr>,
    /// A PEM file of the CAs that sign the server's certificate, replacing
    /// the web roots (`https` only).
    pub ca: Option<RelativePath>,
    /// Headers the host adds to every request, each from a secret; the
    /// guest can neither set nor read them. Names in lowercase.
    pub headers: BTreeMap<String, SecretRef>,
}

/// A directory granted to a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The host directory, relative to the environment directory.
    pub path: RelativePath,
    pub mode: Mode,
}

/// Limits an environment sets for one plugin: each one present must be no looser
/// than the manifest's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    pub memory_mib: Option<u32>,
    pub call_timeout_ms: Option<u32>,
}

impl LimitOverrides {
    /// The manifest's limits tightened by these overrides.
    pub fn apply(self, manifest: Limits) -> Result<Limits, EnvironmentError> {
        let loosened = |name: &'static str, over: Option<u32>, base: u32| match over {
            Some(value) if value > base => Err(EnvironmentError::LooserLimit {
                limit: name,
                environment: value,
                manifest: base,
            }),
            _ => Ok(()),
        };
        loosened("memory-mib", self.memory_mib, manifest.memory_mib)?;
        loosened(
            "call-timeout-ms",
            self.call_timeout_ms,
            manifest.call_timeout_ms,
        )?;
        manifest
            .tightened(RawLimits {
                memory_mib: self.memory_mib,
                call_timeout_ms: self.call_timeout_ms,
            })
            .map_err(EnvironmentError::Limit)
    }
}

/// A secret's value: never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret of `value` (the runtime's tests make one).
    #[must_use]
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value, for the plugin's `config` import only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A configuration value with its secret resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedValue {
    Text(String),
    Secret(Secret),
}

impl ResolvedValue {
    /// The value the plugin receives.
    #[must_use]
    pub fn value(&self) -> &str {
        match self {
            Self::Text(text) => text,
            Self::Secret(secret) => secret.expose(),
        }
    }
}

/// Why an environment file, or a file it names, was refused.
#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("the environment file is not valid: {0}")]
    Syntax(String),
    #[error(transparent)]
    Key(#[from] KeyLineError),
    #[error(
        "`{0}` is not a plugin kind (dns-provider, port-probe, management-store, server-control, pool-control)"
    )]
    Kind(String),
    #[error(
        "plugin `{kind}` names a `manifest` file but pins no `manifest-sha256`: a manifest beside its component must be pinned like the component (or pack it into the component with `failback plugin pack` and drop the line)"
    )]
    ManifestUnpinned { kind: PluginKind },
    #[error("`{path}` of plugin `{kind}`: {source}")]
    Digest {
        kind: PluginKind,
        path: String,
        source: DigestParseError,
    },
    #[error(
        "network grant `{name}` of plugin `{kind}`: `{address}` is not a socket address (`127.0.0.1:53`, `[::1]:53`)"
    )]
    Address {
        kind: PluginKind,
        name: String,
        address: String,
    },
    #[error("grant name `{0}` is not made of lowercase letters, digits and `-`")]
    GrantName(String),
    #[error("HTTP grant `{name}` of plugin `{kind}`: {reason}")]
    HttpGrant {
        kind: PluginKind,
        name: String,
        reason: String,
    },
    #[error("config key `{0}` is not made of lowercase letters, digits and `-`")]
    ConfigKey(String),
    #[error("secret `{key}` of plugin `{kind}` is not set: {reason}")]
    Secret {
        kind: PluginKind,
        key: String,
        reason: String,
    },
    #[error("limit `{limit}` = {environment} is looser than the manifest's {manifest}")]
    LooserLimit {
        limit: &'static str,
        environment: u32,
        manifest: u32,
    },
    #[error("{0}")]
    Limit(ManifestError),
    #[error("`[journal]`: {0}")]
    Journal(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    environment: RawInfo,
    #[serde(default)]
    plugins: BTreeMap<String, RawBinding>,
    policies: Option<toml::Table>,
    trust: Option<RawTrust>,
    approvals: Option<RawApprovals>,
    journal: Option<RawJournal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawJournal {
    url: String,
    deployment: String,
    ca: Option<String>,
    password_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInfo {
    name: String,
    zone: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    path: String,
    sha256: String,
    manifest: Option<String>,
    #[serde(rename = "manifest-sha256")]
    manifest_sha256: Option<String>,
    signature: Option<String>,
    #[serde(default)]
    config: BTreeMap<String, RawConfigValue>,
    #[serde(default)]
    grants: RawGrants,
    #[serde(default)]
    limits: RawLimits,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawConfigValue {
    Text(String),
    Integer(i64),
    Boolean(bool),
    File(RawFileRef),
    Env(RawEnvRef),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileRef {
    file: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvRef {
    env: String,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawGrants {
    #[serde(default)]
    dirs: BTreeMap<String, RawDirGrant>,
    #[serde(default)]
    network: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    dns_lookup: bool,
    #[serde(default)]
    http: BTreeMap<String, RawHttpGrant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawHttpGrant {
    origin: String,
    path_prefix: Option<String>,
    #[serde(default)]
    addresses: Vec<String>,
    ca: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, RawSecretRef>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSecretRef {
    File(RawFileRef),
    Env(RawEnvRef),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirGrant {
    path: String,
    mode: Mode,
}

impl Environment {
    /// Read and check the environment file `file` (usually [`ENVIRONMENT_FILE`])
    /// of the environment directory `dir`.
    pub fn load(dir: &Dir, file: &str) -> Result<Self, EnvironmentError> {
        Self::load_digested(dir, file).map(|(environment, _)| environment)
    }

    /// [`Environment::load`], with the sha256 of the file's bytes as they were
    /// read: what is checked is what is digested (a plan's provenance).
    pub fn load_digested(dir: &Dir, file: &str) -> Result<(Self, Digest), EnvironmentError> {
        let path = RelativePath::new(file)?;
        let text = read_text(dir, &path)?;
        Ok((Self::parse(&text)?, Digest::of(text.as_bytes())))
    }

    /// Check the text of an environment file.
    pub fn parse(text: &str) -> Result<Self, EnvironmentError> {
        let raw: RawEnvironment =
            toml::from_str(text).map_err(|e| EnvironmentError::Syntax(e.message().to_owned()))?;
        let mut plugins = BTreeMap::new();
        for (name, binding) in raw.plugins {
            let kind: PluginKind = name
                .parse()
                .map_err(|()| EnvironmentError::Kind(name.clone()))?;
            plugins.insert(kind, check_binding(kind, binding)?);
        }
        Ok(Self {
            name: raw.environment.name,
            zone: raw.environment.zone,
            plugins,
            policies: raw.policies,
            trust: raw
                .trust
                .map(TrustBindings::parse)
                .transpose()?
                .unwrap_or_default(),
            approvals: raw
                .approvals
                .map(ApprovalBindings::parse)
                .transpose()?
                .unwrap_or_default(),
            journal: raw.journal.map(check_journal).transpose()?,
        })
    }
}

fn check_journal(raw: RawJournal) -> Result<JournalBinding, EnvironmentError> {
    let refuse = |why: String| Err(EnvironmentError::Journal(why));
    if !(raw.url.starts_with("postgres://") || raw.url.starts_with("postgresql://")) {
        return refuse(format!(
            "`url` = `{}` is not a PostgreSQL URL (`postgres://user@host:5432/database`)",
            raw.url
        ));
    }
    // The authority is what comes before the first `/` after the scheme; a
    // password would be `user:password@`.
    let rest = raw.url.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority
        .rsplit_once('@')
        .is_some_and(|(user, _)| user.contains(':'))
        || raw.url.contains("password=")
    {
        return refuse(
            "`url` carries a password: keep it out of the file, in the variable `password-env` names, in `PGPASSWORD` or in `.pgpass`".to_owned(),
        );
    }
    if raw.deployment.trim().is_empty() {
        return refuse(
            "`deployment` is empty: name the deployment, the same on every machine".to_owned(),
        );
    }
    Ok(JournalBinding {
        url: raw.url,
        deployment: raw.deployment,
        ca: raw.ca.as_deref().map(RelativePath::new).transpose()?,
        password_env: raw.password_env,
    })
}

fn check_binding(kind: PluginKind, raw: RawBinding) -> Result<PluginBinding, EnvironmentError> {
    let path = RelativePath::new(&raw.path)?;
    let sha256 = raw
        .sha256
        .parse()
        .map_err(|source| EnvironmentError::Digest {
            kind,
            path: raw.path.clone(),
            source,
        })?;
    let manifest = match (raw.manifest, raw.manifest_sha256) {
        (None, None) => ManifestSource::Embedded,
        (Some(_), None) => return Err(EnvironmentError::ManifestUnpinned { kind }),
        (manifest, Some(manifest_sha256)) => {
            let path = match manifest {
                Some(manifest) => RelativePath::new(&manifest)?,
                None => {
                    let stem = raw.path.strip_suffix(".wasm").unwrap_or(&raw.path);
                    RelativePath::new(&format!("{stem}.plugin.toml"))?
                }
            };
            ManifestSource::File {
                sha256: manifest_sha256
                    .parse()
                    .map_err(|source| EnvironmentError::Digest {
                        kind,
                        path: path.to_string(),
                        source,
                    })?,
                path,
            }
        }
    };
    let signature = raw
        .signature
        .as_deref()
        .map(RelativePath::new)
        .transpose()?;
    let mut config = BTreeMap::new();
    for (key, value) in raw.config {
        if !is_name(&key) {
            return Err(EnvironmentError::ConfigKey(key));
        }
        let value = match value {
            RawConfigValue::Text(text) => ConfigValue::Text(text),
            RawConfigValue::Integer(n) => ConfigValue::Text(n.to_string()),
            RawConfigValue::Boolean(b) => ConfigValue::Text(b.to_string()),
            RawConfigValue::File(file) => {
                ConfigValue::Secret(SecretRef::File(RelativePath::new(&file.file)?))
            }
            RawConfigValue::Env(env) => ConfigValue::Secret(SecretRef::Env(env.env)),
        };
        config.insert(key, value);
    }
    let mut grants = Grants {
        dns_lookup: raw.grants.dns_lookup,
        ..Grants::default()
    };
    for (name, grant) in raw.grants.dirs {
        if !is_name(&name) {
            return Err(EnvironmentError::GrantName(name));
        }
        grants.dirs.insert(
            name,
            DirGrant {
                path: RelativePath::new(&grant.path)?,
                mode: grant.mode,
            },
        );
    }
    for (name, addresses) in raw.grants.network {
        if !is_name(&name) {
            return Err(EnvironmentError::GrantName(name));
        }
        let addresses = addresses
            .into_iter()
            .map(|address| {
                address
                    .parse::<SocketAddr>()
                    .map_err(|_| EnvironmentError::Address {
                        kind,
                        name: name.clone(),
                        address,
                    })
            })
            .collect::<Result<_, _>>()?;
        grants.network.insert(name, addresses);
    }
    for (name, grant) in raw.grants.http {
        if !is_name(&name) {
            return Err(EnvironmentError::GrantName(name));
        }
        let grant = check_http_grant(grant).map_err(|reason| EnvironmentError::HttpGrant {
            kind,
            name: name.clone(),
            reason,
        })?;
        grants.http.insert(name, grant);
    }
    Ok(PluginBinding {
        kind,
        path,
        sha256,
        manifest,
        signature,
        config,
        grants,
        limits: LimitOverrides {
            memory_mib: raw.limits.memory_mib,
            call_timeout_ms: raw.limits.call_timeout_ms,
        },
    })
}

/// Check one `[grants.http.<name>]` table; the reason it is refused.
fn check_http_grant(raw: RawHttpGrant) -> Result<HttpGrant, String> {
    let origin: Origin = raw.origin.parse().map_err(|e: OriginError| e.to_string())?;
    let path_prefix = raw.path_prefix.unwrap_or_else(|| "/".to_owned());
    let plain = path_prefix.starts_with('/')
        && !path_prefix.contains(['?', '#', '%', '\\', '*'])
        && !path_prefix
            .split('/')
            .any(|segment| segment == "." || segment == "..");
    if !plain {
        return Err(format!(
            "path prefix `{path_prefix}` is not an absolute path without `.`, `..`, `%`, `?`, `#` or `*`"
        ));
    }
    let addresses = raw
        .addresses
        .iter()
        .map(|address| {
            address.parse::<IpAddr>().map_err(|_| {
                format!("`{address}` is not an IP address (`192.0.2.10`, `::1`); the port is the origin's")
            })
        })
        .collect::<Result<_, _>>()?;
    let ca = raw
        .ca
        .as_deref()
        .map(RelativePath::new)
        .transpose()
        .map_err(|e| e.to_string())?;
    if ca.is_some() && origin.scheme != Scheme::Https {
        return Err(format!(
            "`ca` names the roots of HTTPS, and `{origin}` is plain HTTP"
        ));
    }
    let mut headers = BTreeMap::new();
    for (name, secret) in raw.headers {
        let lower = name.to_ascii_lowercase();
        if !is_secret_header_name(&lower) {
            return Err(format!(
                "header `{name}` cannot be added by the host (a header name, not one that frames or routes the request)"
            ));
        }
        let secret = match secret {
            RawSecretRef::File(file) => {
                SecretRef::File(RelativePath::new(&file.file).map_err(|e| e.to_string())?)
            }
            RawSecretRef::Env(env) => SecretRef::Env(env.env),
        };
        if headers.insert(lower, secret).is_some() {
            return Err(format!("header `{name}` is named twice"));
        }
    }
    Ok(HttpGrant {
        origin,
        path_prefix,
        addresses,
        ca,
        headers,
    })
}

impl PluginBinding {
    /// Resolve the secrets of the headers the host adds to HTTP requests, by
    /// grant name then header name, as [`PluginBinding::resolve_config`]
    /// resolves configuration secrets.
    pub fn resolve_http_secrets(
        &self,
        dir: &Dir,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<BTreeMap<String, BTreeMap<String, Secret>>, EnvironmentError> {
        let mut resolved = BTreeMap::new();
        for (name, grant) in &self.grants.http {
            let mut headers = BTreeMap::new();
            for (header, secret) in &grant.headers {
                let key = format!("{name}.{header}");
                headers.insert(header.clone(), self.resolve_secret(&key, secret, dir, env)?);
            }
            resolved.insert(name.clone(), headers);
        }
        Ok(resolved)
    }

    fn resolve_secret(
        &self,
        key: &str,
        secret: &SecretRef,
        dir: &Dir,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Secret, EnvironmentError> {
        match secret {
            SecretRef::File(path) => {
                let text = read_text(dir, path).map_err(|e| EnvironmentError::Secret {
                    kind: self.kind,
                    key: key.to_owned(),
                    reason: e.to_string(),
                })?;
                // A key file usually ends with a newline that is not part of the key.
                Ok(Secret(text.trim_end_matches(['\r', '\n']).to_owned()))
            }
            SecretRef::Env(name) => env(name)
                .map(Secret)
                .ok_or_else(|| EnvironmentError::Secret {
                    kind: self.kind,
                    key: key.to_owned(),
                    reason: format!("environment variable `{name}` is not set"),
                }),
        }
    }

    /// Resolve the configuration's secrets: files through `dir`, variables through
    /// `env` (the CLI passes `|name| std::env::var(name).ok()`; the runtime reads
    /// no ambient environment itself).
    pub fn resolve_config(
        &self,
        dir: &Dir,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<BTreeMap<String, ResolvedValue>, EnvironmentError> {
        let mut resolved = BTreeMap::new();
        for (key, value) in &self.config {
            let value = match value {
                ConfigValue::Text(text) => ResolvedValue::Text(text.clone()),
                ConfigValue::Secret(secret) => {
                    ResolvedValue::Secret(self.resolve_secret(key, secret, dir, env)?)
                }
            };
            resolved.insert(key.clone(), value);
        }
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    const DOCUMENTED: &str = r#"
        [environment]
        name = "contoso lab"
        zone = "contoso.com"

        [plugins.dns-provider]
        path = "plugins/lab-dns.wasm"
        sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        manifest-sha256 = "cb8379ac2098aa165029e3938a51da0bcecfc008fd6795f401178647f96c5b34"

        [plugins.dns-provider.config]
        zone-dir = "/zones"
        retries = 3
        tsig-secret = { file = "secrets/tsig.key" }
        other-secret = { env = "FAILBACK_TSIG" }

        [plugins.dns-provider.grants.dirs]
        zones = { path = "dns", mode = "read-write" }

        [plugins.dns-provider.grants.network]
        dns-server = ["127.0.0.1:5353", "[::1]:53"]

        [plugins.dns-provider.grants]
        dns-lookup = false

        [plugins.dns-provider.limits]
        memory-mib = 32
        call-timeout-ms = 2000
    "#;

    #[test]
    fn parses_the_documented_example() {
        let env = Environment::parse(DOCUMENTED).unwrap();
        let dns = &env.plugins[&PluginKind::DnsProvider];
        assert_eq!(dns.manifest.to_string(), "plugins/lab-dns.plugin.toml");
        assert_eq!(
            dns.manifest,
            ManifestSource::File {
                path: RelativePath::new("plugins/lab-dns.plugin.toml").unwrap(),
                sha256: "cb8379ac2098aa165029e3938a51da0bcecfc008fd6795f401178647f96c5b34"
                    .parse()
                    .unwrap(),
            }
        );
        assert_eq!(dns.config["retries"], ConfigValue::Text("3".to_owned()));
        assert_eq!(
            dns.config["tsig-secret"],
            ConfigValue::Secret(SecretRef::File(
                RelativePath::new("secrets/tsig.key").unwrap()
            ))
        );
        assert_eq!(dns.grants.network["dns-server"].len(), 2);
        assert_eq!(dns.limits.memory_mib, Some(32));
    }

    #[test]
    fn rejects_unknown_fields_and_kinds() {
        let text = DOCUMENTED.replace("zone = \"contoso.com\"", "zone = \"c\"\nextra = 1");
        assert!(matches!(
            Environment::parse(&text),
            Err(EnvironmentError::Syntax(_))
        ));
        let text = DOCUMENTED.replace("plugins.dns-provider", "plugins.dns");
        assert!(matches!(
            Environment::parse(&text),
            Err(EnvironmentError::Kind(_))
        ));
    }

    #[test]
    fn a_manifest_file_without_its_pin_is_refused() {
        let text = DOCUMENTED.replace(
            "manifest-sha256 =",
            "manifest = \"plugins/m.toml\"\n# manifest-sha256 =",
        );
        let error = Environment::parse(&text).unwrap_err();
        assert!(matches!(error, EnvironmentError::ManifestUnpinned { .. }));
        assert!(error.to_string().contains("manifest-sha256"), "{error}");
    }

    #[test]
    fn a_binding_without_a_manifest_reads_the_one_inside_the_component() {
        let text = DOCUMENTED.replace("manifest-sha256 =", "# manifest-sha256 =");
        let env = Environment::parse(&text).unwrap();
        let dns = &env.plugins[&PluginKind::DnsProvider];
        assert_eq!(dns.manifest, ManifestSource::Embedded);
    }

    #[test]
    fn trust_keys_are_read_inline_and_scoped() {
        let key = crate::signature::SigningKey::from_seed([3; 32], "vendor");
        let line = key.public_line().unwrap();
        let text = format!(
            "{DOCUMENTED}\n[trust]\nrequire-signatures = true\nkeys = [{line:?}, {{ file = \"keys/v.pub\" }}]\n\
             [trust.policy]\nkeys = [{line:?}]\n"
        );
        let env = Environment::parse(&text).unwrap();
        assert!(env.trust.require_signatures);
        assert_eq!(env.trust.keys.len(), 2);
        assert_eq!(env.trust.scoped[&crate::manifest::Role::Policy].len(), 1);

        let bad = format!("{DOCUMENTED}\n[trust]\nkeys = [\"ssh-ed25519 nonsense\"]\n");
        assert!(matches!(
            Environment::parse(&bad),
            Err(EnvironmentError::Key(KeyLineError::Key {
                table: "trust",
                ..
            }))
        ));
        let unknown = format!("{DOCUMENTED}\n[trust.dns]\nkeys = []\n");
        assert!(matches!(
            Environment::parse(&unknown),
            Err(EnvironmentError::Syntax(_))
        ));
    }

    #[test]
    fn approval_keys_are_read_as_trust_keys_are() {
        let dir = tempfile::tempdir().unwrap();
        let line = |n: u8| {
            crate::signature::SigningKey::from_seed([n; 32], &format!("approver-{n}"))
                .public_line()
                .unwrap()
        };
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        std::fs::write(
            dir.path().join("keys/approvers.pub"),
            format!("# the change board\n{}\n", line(2)),
        )
        .unwrap();
        let text = format!(
            "{DOCUMENTED}\n[approvals]\nrequired = 2\nkeys = [{:?}, {{ file = \"keys/approvers.pub\" }}]\n",
            line(1)
        );
        let env = Environment::parse(&text).unwrap();
        let root = Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
        assert_eq!(env.approvals.resolve(&root).unwrap().required(), 2);

        let bad = format!("{DOCUMENTED}\n[approvals]\nrequired = 1\nkeys = [\"ssh-ed25519 x\"]\n");
        let error = Environment::parse(&bad).unwrap_err();
        assert!(
            error.to_string().starts_with("`[approvals]`: key"),
            "{error}"
        );
        let empty = Environment::parse(&format!(
            "{DOCUMENTED}\n[approvals]\nrequired = 1\nkeys = [{{ file = \"keys/none.pub\" }}]\n"
        ))
        .unwrap();
        std::fs::write(dir.path().join("keys/none.pub"), "# nobody yet\n").unwrap();
        let error = empty.approvals.resolve(&root).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`[approvals]`: key file `keys/none.pub` holds no key"
        );
    }

    #[test]
    fn rejects_paths_that_leave_the_environment_directory() {
        for path in ["/etc", "../up", "dns/../../up", "", "."] {
            assert!(RelativePath::new(path).is_err(), "{path}");
        }
        assert!(RelativePath::new("./dns/zones").is_ok());
    }

    #[test]
    fn a_looser_limit_is_refused() {
        let over = LimitOverrides {
            memory_mib: Some(128),
            call_timeout_ms: None,
        };
        assert!(matches!(
            over.apply(Limits::default()),
            Err(EnvironmentError::LooserLimit { .. })
        ));
        let under = LimitOverrides {
            memory_mib: Some(16),
            call_timeout_ms: Some(100),
        };
        assert_eq!(
            under.apply(Limits::default()).unwrap(),
            Limits {
                memory_mib: 16,
                call_timeout_ms: 100
            }
        );
    }

    const HTTP: &str = r#"
        [plugins.dns-provider.grants.http.powerdns-api]
        origin = "https://dns.contoso.com:8443"
        path-prefix = "/api/v1"
        addresses = ["192.0.2.10", "2001:db8::10"]
        ca = "certs/powerdns-ca.pem"
        headers = { X-API-Key = { file = "secrets/powerdns.key" } }
    "#;

    #[test]
    fn an_http_grant_is_an_exact_origin_with_its_headers_bound_to_secrets() {
        let env = Environment::parse(&format!("{DOCUMENTED}{HTTP}")).unwrap();
        let grant = &env.plugins[&PluginKind::DnsProvider].grants.http["powerdns-api"];
        assert_eq!(grant.origin.to_string(), "https://dns.contoso.com:8443");
        assert_eq!(grant.path_prefix, "/api/v1");
        assert_eq!(grant.addresses.len(), 2);
        assert_eq!(
            grant.headers["x-api-key"],
            SecretRef::File(RelativePath::new("secrets/powerdns.key").unwrap())
        );

        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("secrets")).unwrap();
        std::fs::write(tmp.path().join("secrets/powerdns.key"), "pdns-s3cret\n").unwrap();
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap();
        let secrets = env.plugins[&PluginKind::DnsProvider]
            .resolve_http_secrets(&dir, &|_| None)
            .unwrap();
        assert_eq!(secrets["powerdns-api"]["x-api-key"].expose(), "pdns-s3cret");
        assert!(!format!("{secrets:?}").contains("pdns-s3cret"));
    }

    #[test]
    fn an_http_grant_without_port_with_a_wildcard_or_a_framing_header_is_refused() {
        for (from, to) in [
            ("https://dns.contoso.com:8443", "https://dns.contoso.com"),
            ("https://dns.contoso.com:8443", "https://*.contoso.com:8443"),
            ("X-API-Key", "Host"),
            ("\"/api/v1\"", "\"/api/../admin\""),
            ("\"192.0.2.10\"", "\"192.0.2.10:53\""),
            (
                "https://dns.contoso.com:8443",
                "http://dns.contoso.com:8081",
            ),
        ] {
            let text = format!("{DOCUMENTED}{}", HTTP.replace(from, to));
            let error = Environment::parse(&text).unwrap_err();
            assert!(
                matches!(error, EnvironmentError::HttpGrant { .. }),
                "{to}: {error}"
            );
        }
    }

    #[test]
    fn secrets_are_resolved_and_never_shown() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("secrets")).unwrap();
        std::fs::write(tmp.path().join("secrets/tsig.key"), "s3cret-file\n").unwrap();
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap();
        let env = Environment::parse(DOCUMENTED).unwrap();
        let dns = &env.plugins[&PluginKind::DnsProvider];
        let lookup = |name: &str| (name == "FAILBACK_TSIG").then(|| "s3cret-env".to_owned());
        let config = dns.resolve_config(&dir, &lookup).unwrap();
        assert_eq!(config["tsig-secret"].value(), "s3cret-file");
        assert_eq!(config["other-secret"].value(), "s3cret-env");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");

        let missing = dns.resolve_config(&dir, &|_| None).unwrap_err();
        assert!(missing.to_string().contains("FAILBACK_TSIG"));
    }
}
