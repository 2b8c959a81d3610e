//! The review report (`failback plugin review`): everything a security reviewer
//! approves about a component, read from the component itself — what it is
//! ([`crate::inspect()`]: world, imports, exports), what it may ask for and
//! within which limits (its manifest), what it is (size, digests) and who says
//! they made it ([`crate::signature`]).
//!
//! Every import is named in plain words, as this host serves it: a plugin's
//! `wasi:sockets/tcp` opens TCP connections to the addresses its environment
//! grants, a policy module's clocks are fixed. Every capability comes with the
//! grant that would satisfy it; given an environment, with the grant that
//! does, what is missing, and what the environment grants beyond it
//! ([`crate::sandbox::capability::check`], the one place grants are compared), and who
//! the environment's trust policy says vouches for it ([`crate::trust`]).
//! Given the version reviewed before, [`Changes`] lists what is new: imports,
//! capabilities, raised limits, signers.
//!
//! The CLI renders a [`Review`] as text, Markdown (for a change ticket) or JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::digest::Digest;
use crate::environment::PluginBinding;
use crate::loading::engine::Runtime;
use crate::loading::inspect::{InspectError, Inspection, inspect};
use crate::manifest::{Limits, Manifest, Mode, PluginKind, Role};
use crate::package::{self, PackError};
use crate::sandbox::capability::{self, Denial};
use crate::signature::{self, KeyId, SignatureError};
use crate::trust::{Origin, Signer, TrustPolicy};

/// A component to review: its bytes, and what may come beside it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub bytes: &'a [u8],
    /// A manifest file beside the component (a development build), if any.
    pub manifest: Option<&'a str>,
    /// A detached signature, if any.
    pub signature: Option<&'a [u8]>,
}

/// The environment a component is reviewed against.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The environment's plugin bindings: the one of the component's kind
    /// says what is granted.
    pub plugins: &'a BTreeMap<PluginKind, PluginBinding>,
    pub trust: &'a TrustPolicy,
}

/// Why a component could not be reviewed.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{0}")]
    Inspect(#[from] InspectError),
    #[error("{0}")]
    Package(#[from] PackError),
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error(
        "the component carries its own manifest, and another was given beside it: review the component alone"
    )]
    TwoManifests,
}

/// Where the manifest a review reads is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ManifestPlace {
    /// Inside the component: its digest and signature cover it.
    Inside,
    /// In a file beside the component: a development build, which no
    /// signature covers.
    Beside,
    /// Nowhere: what the component may ask for is unknown.
    None,
}

/// The review of one component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub name: Option<String>,
    pub version: Option<String>,
    pub vendor: Option<String>,
    pub description: Option<String>,
    /// The world its manifest names.
    pub world: Option<String>,
    /// The worlds its exports implement.
    pub implements: Vec<String>,
    pub manifest: ManifestPlace,
    pub size: usize,
    pub digests: Digests,
    pub imports: Vec<Import>,
    /// Why loading refuses it, in loading's words, when an import does not
    /// link for its kind (tried with the very linker loading uses); `None`
    /// when every import links.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Exported interfaces and functions.
    pub exports: Vec<String>,
    pub capabilities: Vec<Capability>,
    /// Grants the environment gives beyond what the component asks for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excess_grants: Option<Vec<String>>,
    pub limits: LimitsReview,
    pub signatures: Vec<SignatureReview>,
    /// With an environment: who its trust policy says vouches for the
    /// component, or why it refuses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustReview>,
    /// With an environment: what it binds for the component's kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<BindingReview>,
    /// With the version reviewed before: what changed since.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Changes>,
}

/// The digests that name the component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digests {
    /// sha256 of the file: what an environment pins.
    pub sha256: Digest,
    /// sha256 of the component without its embedded signature: the same
    /// whoever signed it, and how often.
    pub unsigned_sha256: Digest,
    /// sha256 of the manifest text it carries, if it carries one.
    pub manifest_sha256: Option<Digest>,
}

/// One import, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Import {
    /// `wasi:sockets/tcp@0.2.6`.
    pub name: String,
    /// `wasi:sockets/tcp`.
    pub interface: String,
    /// What it lets the component do here.
    pub meaning: String,
    /// `wasi`, `failback`, or `foreign` (outside the contract: it cannot link).
    pub origin: &'static str,
    /// Whether the host links it for a component of this kind: loading
    /// refuses a component with an import it does not link ([`Review::link`]).
    pub links: bool,
    /// Linked, but nothing it could reach is requested: what it can really do
    /// then ("imports wasi:filesystem, but no directory is requested: it can
    /// open nothing").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
}

/// One capability the manifest asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capability {
    /// `dns` (a directory or network name), or `dns-lookup`.
    pub name: String,
    /// `directory`, `network` or `name-lookup`.
    pub kind: &'static str,
    /// What it asks for, in plain words.
    pub asks: String,
    /// The environment lines that would grant it.
    pub grant: String,
    /// With an environment: how it is granted there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<GrantStatus>,
}

/// How an environment grants one capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "detail")]
pub enum GrantStatus {
    /// Granted, as said.
    Present(String),
    /// Not granted, or not as asked: why.
    Missing(String),
}

/// The limits the component runs within.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LimitsReview {
    /// What its manifest asks for (the defaults when it names none).
    pub manifest: Limits,
    /// With an environment: what the environment tightens them to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Limits>,
}

/// One signature the component carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureReview {
    /// Who it says made it.
    pub key: KeyId,
    /// With an environment: whether it holds for a key the environment
    /// trusts (for any role); `None` when no such key is named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holds: Option<bool>,
}

/// The environment's trust decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustReview {
    pub require_signatures: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<Signer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// What the environment binds for the component's kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindingReview {
    pub kind: String,
    /// The sha256 the binding pins.
    pub sha256: Digest,
    /// Whether that is this component.
    pub this_component: bool,
}

/// What changed since the version reviewed before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub version: Option<(String, String)>,
    pub world: Option<(String, String)>,
    pub new_imports: Vec<Import>,
    pub removed_imports: Vec<String>,
    /// Interfaces imported in another version: (interface, before, now).
    pub changed_imports: Vec<(String, String, String)>,
    pub new_capabilities: Vec<Capability>,
    pub removed_capabilities: Vec<String>,
    /// Capabilities asked for otherwise (a directory now read-write, …).
    pub changed_capabilities: Vec<(String, String, String)>,
    /// Limits raised: (limit, before, now).
    pub raised_limits: Vec<(String, u32, u32)>,
    pub lowered_limits: Vec<(String, u32, u32)>,
    pub new_signers: Vec<KeyId>,
    pub removed_signers: Vec<KeyId>,
}

impl Changes {
    /// Whether nothing a reviewer approves changed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.version.is_none()
            && self.world.is_none()
            && self.new_imports.is_empty()
            && self.removed_imports.is_empty()
            && self.changed_imports.is_empty()
            && self.new_capabilities.is_empty()
            && self.removed_capabilities.is_empty()
            && self.changed_capabilities.is_empty()
            && self.raised_limits.is_empty()
            && self.lowered_limits.is_empty()
            && self.new_signers.is_empty()
            && self.removed_signers.is_empty()
    }
}

/// Review `subject`, against `context` if given, and since `before` if given.
pub fn review(
    runtime: &Runtime,
    subject: Subject<'_>,
    context: Option<Context<'_>>,
    before: Option<Subject<'_>>,
) -> Result<Review, ReviewError> {
    let mut review = read(runtime, subject, context)?;
    if let Some(before) = before {
        let old = read(runtime, before, None)?;
        review.since = Some(changes(&old, &review));
    }
    Ok(review)
}

fn read(
    runtime: &Runtime,
    subject: Subject<'_>,
    context: Option<Context<'_>>,
) -> Result<Review, ReviewError> {
    let bytes = subject.bytes;
    let (manifest, place) = manifest_of(&subject)?;
    let inspection = inspect(runtime, bytes, None)?;
    // The role its manifest names; without one, the world its exports
    // implement (a policy module needs no manifest).
    let role = manifest.as_ref().map(|m| m.role).or_else(|| {
        inspection
            .worlds
            .iter()
            .find_map(|world| crate::manifest::parse_world(world))
    });
    let imports = inspection
        .imports
        .iter()
        .map(|item| import(&item.name, role, manifest.as_ref()))
        .collect();
    let link = role
        .map(|role| link_refusal(runtime, bytes, role, manifest.as_ref()))
        .transpose()?
        .flatten();
    let exports = exports_of(&inspection);

    let binding = context
        .zip(manifest.as_ref().and_then(Manifest::plugin_kind))
        .and_then(|(c, kind)| c.plugins.get(&kind));
    let mut capabilities = manifest
        .as_ref()
        .map(|m| capabilities_of(m, binding))
        .unwrap_or_default();
    let excess_grants = manifest
        .as_ref()
        .zip(binding)
        .map(|(manifest, binding)| judge_grants(manifest, binding, &mut capabilities));

    // A component without a manifest runs only as a policy module, with the
    // gate's limits.
    let manifest_limits = manifest
        .as_ref()
        .map_or_else(|| Limits::default_for(Role::Policy), |m| m.limits);
    let limits = LimitsReview {
        manifest: manifest_limits,
        environment: binding.and_then(|b| b.limits.apply(manifest_limits).ok()),
    };

    let trusted_keys: Vec<_> = context
        .map(|c| {
            Role::ALL
                .into_iter()
                .flat_map(|role| c.trust.keys_for(role))
                .collect()
        })
        .unwrap_or_default();
    let found = signature::check(bytes, subject.signature, &trusted_keys)?;
    let signatures = found
        .claimed
        .iter()
        .map(|key| SignatureReview {
            key: key.clone(),
            holds: context.and_then(|_| match key {
                KeyId::Fingerprint(fp) if trusted_keys.iter().any(|k| k.fingerprint() == *fp) => {
                    Some(found.verified.contains(fp))
                }
                _ => None,
            }),
        })
        .collect();

    let sha256 = inspection.sha256;
    let trust = context.zip(role).map(|(c, role)| {
        let name = manifest.as_ref().map_or("component", |m| m.name.as_str());
        trust_of(c, &subject, place, name, role, sha256)
    });

    Ok(Review {
        name: manifest.as_ref().map(|m| m.name.clone()),
        version: manifest.as_ref().map(|m| m.version.clone()),
        vendor: manifest.as_ref().and_then(|m| m.vendor.clone()),
        description: manifest.as_ref().and_then(|m| m.description.clone()),
        world: manifest.as_ref().map(|m| m.world.clone()),
        implements: inspection.worlds,
        manifest: place,
        size: bytes.len(),
        digests: Digests {
            sha256,
            unsigned_sha256: Digest::of(&package::without_signature(bytes)?),
            manifest_sha256: package::embedded_manifest_text(bytes)?
                .map(|text| Digest::of(text.as_bytes())),
        },
        imports,
        link,
        exports,
        capabilities,
        excess_grants,
        limits,
        signatures,
        trust,
        binding: binding.map(|b| BindingReview {
            kind: b.kind.to_string(),
            sha256: b.sha256,
            this_component: b.sha256 == sha256,
        }),
        since: None,
    })
}

/// The manifest `subject` carries inside or beside it, and where; both is
/// refused.
fn manifest_of(subject: &Subject<'_>) -> Result<(Option<Manifest>, ManifestPlace), ReviewError> {
    Ok(
        match (package::embedded_manifest(subject.bytes)?, subject.manifest) {
            (Some(_), Some(_)) => return Err(ReviewError::TwoManifests),
            (Some(manifest), None) => (Some(manifest), ManifestPlace::Inside),
            (None, Some(text)) => (
                Some(Manifest::parse(text).map_err(InspectError::Manifest)?),
                ManifestPlace::Beside,
            ),
            (None, None) => (None, ManifestPlace::None),
        },
    )
}

/// Every export: an interface's functions as `interface.function`, a bare
/// function by its name.
fn exports_of(inspection: &Inspection) -> Vec<String> {
    inspection
        .exports
        .iter()
        .flat_map(|item| {
            if item.functions.is_empty() {
                vec![item.name.clone()]
            } else {
                item.functions
                    .iter()
                    .map(|f| format!("{}.{f}", item.name))
                    .collect()
            }
        })
        .collect()
}

/// Judge `binding`'s grants against what `manifest` asks for: each
/// capability the grants do not satisfy is marked missing, saying why, in
/// `capabilities`; the grants nothing asks for are returned.
fn judge_grants(
    manifest: &Manifest,
    binding: &PluginBinding,
    capabilities: &mut [Capability],
) -> Vec<String> {
    let denials = match capability::check(&manifest.name, &manifest.capabilities, &binding.grants) {
        Ok(_) => Vec::new(),
        Err(error) => error.denials,
    };
    let mut excess = Vec::new();
    for denial in denials {
        match &denial {
            Denial::NotRequested { capability } => excess.push(capability.clone()),
            Denial::NotGranted { capability }
            | Denial::ReadOnlyGrant { capability }
            | Denial::BroaderGrant { capability }
            | Denial::NoAddress { capability }
            | Denial::DirUnavailable { capability, .. }
            | Denial::OverlappingDirs { capability, .. }
            | Denial::ReservedDir { capability, .. }
            | Denial::HttpUnavailable { capability, .. } => {
                if let Some(c) = capabilities.iter_mut().find(|c| &c.name == capability) {
                    c.status = Some(GrantStatus::Missing(denial.to_string()));
                }
            }
        }
    }
    excess
}

/// What `context`'s trust policy makes of `subject` (named `name`) in
/// `role`: the signer it accepts, or why it refuses.
fn trust_of(
    context: Context<'_>,
    subject: &Subject<'_>,
    place: ManifestPlace,
    name: &str,
    role: Role,
    sha256: Digest,
) -> TrustReview {
    let origin = match subject.manifest {
        Some(text) if place == ManifestPlace::Beside => Origin::Development {
            manifest: Digest::of(text.as_bytes()),
        },
        _ => Origin::Component,
    };
    let role_keys = context.trust.keys_for(role);
    let judged = signature::check(subject.bytes, subject.signature, &role_keys)
        .map_err(|e| e.to_string())
        .and_then(|signatures| {
            context
                .trust
                .judge(name, role, sha256, origin, &signatures)
                .map_err(|e| e.to_string())
        });
    TrustReview {
        require_signatures: context.trust.require_signatures,
        signer: judged.as_ref().ok().cloned(),
        refused: judged.err(),
    }
}

/// The capabilities `manifest` asks for, each with the grant that satisfies
/// it and, given `binding`, the grant there.
fn capabilities_of(manifest: &Manifest, binding: Option<&PluginBinding>) -> Vec<Capability> {
    let kind = manifest.plugin_kind().map_or("<kind>", |k| k.name());
    let mut out = Vec::new();
    for dir in &manifest.capabilities.dirs {
        let verb = match dir.mode {
            Mode::ReadOnly => "reads files",
            Mode::ReadWrite => "reads and writes files",
        };
        out.push(Capability {
            name: dir.name.clone(),
            kind: "directory",
            asks: format!(
                "{verb} in one directory, which it sees at `{}`",
                dir.guest_path
            ),
            grant: format!(
                "[plugins.{kind}.grants.dirs] {} = {{ path = \"…\", mode = \"{}\" }}",
                dir.name, dir.mode
            ),
            status: binding
                .and_then(|b| b.grants.dirs.get(&dir.name))
                .map(|g| GrantStatus::Present(format!("`{}` ({})", g.path, g.mode))),
        });
    }
    for endpoint in &manifest.capabilities.network {
        out.push(Capability {
            name: endpoint.name.clone(),
            kind: "network",
            asks: format!(
                "{} to the socket addresses the environment binds to `{}`",
                match endpoint.protocol {
                    crate::manifest::Protocol::Tcp => "opens TCP connections",
                    crate::manifest::Protocol::Udp => "exchanges UDP datagrams",
                },
                endpoint.name
            ),
            grant: format!(
                "[plugins.{kind}.grants.network] {} = [\"ADDRESS:PORT\", …]",
                endpoint.name
            ),
            status: binding
                .and_then(|b| b.grants.network.get(&endpoint.name))
                .map(|addresses| {
                    let shown: Vec<String> = addresses.iter().map(ToString::to_string).collect();
                    GrantStatus::Present(shown.join(", "))
                }),
        });
    }
    for http in &manifest.capabilities.http {
        let methods: Vec<&str> = http.methods.iter().map(|m| m.name()).collect();
        out.push(Capability {
            name: http.name.clone(),
            kind: "http",
            asks: format!(
                "sends {} requests to the one origin the environment grants as `{}`, reading at most {} bytes of each response",
                methods.join(", "),
                http.name,
                http.max_response_bytes
            ),
            grant: format!(
                "[plugins.{kind}.grants.http.{}] origin = \"https://HOST:PORT\", path-prefix = \"/…\", headers = {{ NAME = {{ file = \"…\" }} }}",
                http.name
            ),
            status: binding
                .and_then(|b| b.grants.http.get(&http.name))
                .map(|grant| GrantStatus::Present(http_grant_words(grant))),
        });
    }
    if manifest.capabilities.dns_lookup {
        out.push(Capability {
            name: "dns-lookup".to_owned(),
            kind: "name-lookup",
            asks: "resolves host names through the host's resolver".to_owned(),
            grant: format!("[plugins.{kind}.grants] dns-lookup = true"),
            status: binding
                .filter(|b| b.grants.dns_lookup)
                .map(|_| GrantStatus::Present("granted".to_owned())),
        });
    }
    if binding.is_some() {
        for capability in &mut out {
            if capability.status.is_none() {
                capability.status = Some(GrantStatus::Missing("not granted".to_owned()));
            }
        }
    }
    out
}

/// An HTTP grant in plain words: where requests go, and which headers the
/// host adds (never their values).
fn http_grant_words(grant: &crate::environment::HttpGrant) -> String {
    let mut words = format!("`{}` under `{}`", grant.origin, grant.path_prefix);
    if !grant.addresses.is_empty() {
        let shown: Vec<String> = grant.addresses.iter().map(ToString::to_string).collect();
        words.push_str(&format!(", connecting only to {}", shown.join(", ")));
    }
    if let Some(ca) = &grant.ca {
        words.push_str(&format!(", trusting only the CA in `{ca}`"));
    }
    if !grant.headers.is_empty() {
        let names: Vec<String> = grant.headers.keys().map(|h| format!("`{h}`")).collect();
        words.push_str(&format!(
            "; the host adds {} from secrets",
            names.join(", ")
        ));
    }
    words
}

/// What loading says of `bytes` as a component of `role`: `None` when every
/// import links, else the refusal loading gives (`` `NAME` does not link:
/// … ``), found with the linker loading uses for that role.
fn link_refusal(
    runtime: &Runtime,
    bytes: &[u8],
    role: Role,
    manifest: Option<&Manifest>,
) -> Result<Option<String>, ReviewError> {
    let component = wasmtime::component::Component::new(runtime.engine(), bytes)
        .map_err(|e| InspectError::Component(format!("{e:#}")))?;
    let linked = match role {
        Role::Plugin(_) => runtime
            .plugin_linker()
            .instantiate_pre(&component)
            .map(drop),
        Role::Policy => runtime
            .policy_linker()
            .instantiate_pre(&component)
            .map(drop),
    };
    Ok(linked.err().map(|e| {
        crate::sandbox::guest_error::BindError::Link {
            plugin: manifest.map_or_else(|| "the component".to_owned(), |m| m.name.clone()),
            message: format!("{e:#}"),
        }
        .to_string()
    }))
}

/// An import in plain words, as this host serves it to a component of `role`
/// whose manifest (if any) requests what `manifest` says.
fn import(name: &str, role: Option<Role>, manifest: Option<&Manifest>) -> Import {
    let interface = name.split('@').next().unwrap_or(name).to_owned();
    let policy = role == Some(Role::Policy);
    let (origin, meaning) = match interface.as_str() {
        "failback:plugin/host" if policy => (
            "failback",
            "cannot link: a policy module is given no host interface (loading refuses it)",
        ),
        "failback:plugin/host" => (
            "failback",
            "writes log lines to the host's audit and reads its configuration values (`config`)",
        ),
        "failback:plugin/types" | "failback:policy/types" => {
            ("failback", "the contract's shared types (no behaviour)")
        }
        i if i.starts_with("wasi:") => ("wasi", wasi_meaning(i, policy)),
        _ => (
            "foreign",
            "outside failback's contract: the component cannot link here",
        ),
    };
    let links = !meaning.contains("cannot link");
    let unreachable = manifest
        .filter(|_| links && !policy)
        .and_then(|m| unreachable(&interface, &m.capabilities));
    Import {
        name: name.to_owned(),
        interface,
        meaning: meaning.to_owned(),
        origin,
        links,
        unreachable,
    }
}

/// What a plugin's linked import `interface` can reach when its manifest
/// requests `capabilities`: nothing, said so, when none of the capabilities
/// that import serves is requested (the sandbox grants only those).
fn unreachable(interface: &str, capabilities: &crate::manifest::Capabilities) -> Option<String> {
    use crate::manifest::Protocol;
    let endpoints = |protocol: Protocol| {
        capabilities
            .network
            .iter()
            .any(|endpoint| endpoint.protocol == protocol)
    };
    let idle = match interface {
        "wasi:filesystem/types" | "wasi:filesystem/preopens" if capabilities.dirs.is_empty() => {
            "no directory is requested: it can open nothing"
        }
        "wasi:sockets/network" | "wasi:sockets/instance-network"
            if capabilities.network.is_empty() && !capabilities.dns_lookup =>
        {
            "no network endpoint and no name lookup are requested: it can reach nothing"
        }
        "wasi:sockets/tcp" | "wasi:sockets/tcp-create-socket" if !endpoints(Protocol::Tcp) => {
            "no TCP endpoint is requested: it can connect nowhere"
        }
        "wasi:sockets/udp" | "wasi:sockets/udp-create-socket" if !endpoints(Protocol::Udp) => {
            "no UDP endpoint is requested: it can send nowhere"
        }
        "wasi:sockets/ip-name-lookup" if !capabilities.dns_lookup => {
            "name lookup is not requested: it can resolve nothing"
        }
        "wasi:http/outgoing-handler" if capabilities.http.is_empty() => {
            "no HTTP capability is requested: it can send no request"
        }
        _ => return None,
    };
    let family = interface.split('/').next().unwrap_or(interface);
    let family = if interface == "wasi:sockets/ip-name-lookup" {
        interface
    } else {
        family
    };
    Some(format!("imports {family}, but {idle}"))
}

/// What a WASI interface lets a component do here. Policy modules get none of
/// the capabilities and fixed clocks and random numbers (policies are pure).
fn wasi_meaning(interface: &str, policy: bool) -> &'static str {
    match (interface, policy) {
        ("wasi:filesystem/types", false) => {
            "reads and writes files, in the directories it is granted only"
        }
        ("wasi:filesystem/preopens", false) => "lists the directories it is granted",
        ("wasi:sockets/network" | "wasi:sockets/instance-network", false) => {
            "uses the network, to the addresses it is granted only"
        }
        ("wasi:sockets/tcp" | "wasi:sockets/tcp-create-socket", false) => {
            "opens TCP connections, to the addresses it is granted only"
        }
        ("wasi:sockets/udp" | "wasi:sockets/udp-create-socket", false) => {
            "sends and receives UDP datagrams, with the addresses it is granted only"
        }
        ("wasi:sockets/ip-name-lookup", false) => {
            "resolves host names, only when granted `dns-lookup`"
        }
        ("wasi:http/outgoing-handler", false) => {
            "sends HTTP requests, only to the origins, methods and paths it is granted; the host adds the secret headers and follows no redirect"
        }
        ("wasi:http/types", false) => {
            "HTTP requests and responses, as the host sends and reads them"
        }
        (i, true) if i.starts_with("wasi:http/") => {
            "cannot link: a policy module is given no HTTP (loading refuses it)"
        }
        (i, true) if i.starts_with("wasi:filesystem/") => {
            "cannot link: a policy module is given no files (loading refuses it)"
        }
        (i, true) if i.starts_with("wasi:sockets/") => {
            "cannot link: a policy module is given no network (loading refuses it)"
        }
        ("wasi:clocks/wall-clock", false) => "reads the time of day",
        ("wasi:clocks/monotonic-clock", false) => {
            "measures elapsed time and waits, within the call's deadline"
        }
        ("wasi:clocks/wall-clock" | "wasi:clocks/monotonic-clock", true) => {
            "reads a clock that stands still (policies are pure)"
        }
        ("wasi:random/random", false) => "draws secure random numbers",
        ("wasi:random/insecure" | "wasi:random/insecure-seed", false) => {
            "draws non-cryptographic random numbers"
        }
        (i, true) if i.starts_with("wasi:random/") => {
            "draws random numbers that are the same every call (policies are pure)"
        }
        ("wasi:io/streams" | "wasi:io/error" | "wasi:io/poll", _) => {
            "moves bytes through streams and waits on them, within the call's deadline"
        }
        ("wasi:cli/environment", _) => {
            "reads environment variables and arguments: the host gives none"
        }
        ("wasi:cli/exit", _) => "ends its own call early",
        ("wasi:cli/stdin", _) => "reads standard input: always empty",
        ("wasi:cli/stdout", _) => "writes standard output: discarded",
        ("wasi:cli/stderr", _) => {
            "writes standard error: kept, secrets redacted, in the error of a call that fails"
        }
        (i, _) if i.starts_with("wasi:cli/terminal-") => "asks for a terminal: there is none",
        _ => "a WASI interface this host does not provide: the component cannot link here",
    }
}

/// What changed from `old` to `new`.
fn changes(old: &Review, new: &Review) -> Changes {
    let changed = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) if a != b => Some((a.clone(), b.clone())),
        _ => None,
    };
    let version_of = |i: &Import| i.name.split_once('@').map(|(_, v)| v.to_owned());
    let mut new_imports = Vec::new();
    let mut changed_imports = Vec::new();
    for import in &new.imports {
        match old.imports.iter().find(|o| o.interface == import.interface) {
            None => new_imports.push(import.clone()),
            Some(before) if before.name != import.name => changed_imports.push((
                import.interface.clone(),
                version_of(before).unwrap_or_default(),
                version_of(import).unwrap_or_default(),
            )),
            Some(_) => {}
        }
    }
    let removed_imports = old
        .imports
        .iter()
        .filter(|o| !new.imports.iter().any(|i| i.interface == o.interface))
        .map(|o| o.name.clone())
        .collect();
    let mut new_capabilities = Vec::new();
    let mut changed_capabilities = Vec::new();
    for capability in &new.capabilities {
        match old.capabilities.iter().find(|o| o.name == capability.name) {
            None => new_capabilities.push(capability.clone()),
            Some(before) if before.asks != capability.asks => changed_capabilities.push((
                capability.name.clone(),
                before.asks.clone(),
                capability.asks.clone(),
            )),
            Some(_) => {}
        }
    }
    let removed_capabilities = old
        .capabilities
        .iter()
        .filter(|o| !new.capabilities.iter().any(|c| c.name == o.name))
        .map(|o| o.name.clone())
        .collect();
    let mut raised_limits = Vec::new();
    let mut lowered_limits = Vec::new();
    for (limit, before, now) in [
        (
            "memory-mib",
            old.limits.manifest.memory_mib,
            new.limits.manifest.memory_mib,
        ),
        (
            "call-timeout-ms",
            old.limits.manifest.call_timeout_ms,
            new.limits.manifest.call_timeout_ms,
        ),
    ] {
        if now > before {
            raised_limits.push((limit.to_owned(), before, now));
        } else if now < before {
            lowered_limits.push((limit.to_owned(), before, now));
        }
    }
    let keys = |r: &Review| {
        r.signatures
            .iter()
            .map(|s| s.key.clone())
            .collect::<Vec<_>>()
    };
    let (old_keys, new_keys) = (keys(old), keys(new));
    Changes {
        version: changed(&old.version, &new.version),
        world: changed(&old.world, &new.world),
        new_imports,
        removed_imports,
        changed_imports,
        new_capabilities,
        removed_capabilities,
        changed_capabilities,
        raised_limits,
        lowered_limits,
        new_signers: new_keys
            .iter()
            .filter(|k| !old_keys.contains(k))
            .cloned()
            .collect(),
        removed_signers: old_keys
            .iter()
            .filter(|k| !new_keys.contains(k))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn every_wasi_interface_the_host_links_has_plain_words() {
        for interface in [
            "wasi:filesystem/types",
            "wasi:filesystem/preopens",
            "wasi:sockets/tcp",
            "wasi:sockets/udp",
            "wasi:sockets/ip-name-lookup",
            "wasi:clocks/wall-clock",
            "wasi:random/random",
            "wasi:io/streams",
            "wasi:cli/environment",
            "wasi:cli/terminal-stdout",
        ] {
            let words = wasi_meaning(interface, false);
            assert!(!words.contains("cannot link"), "{interface}: {words}");
            let words = wasi_meaning(interface, true);
            assert!(!words.contains("does not provide"), "{interface}: {words}");
            // A policy module is linked no files and no network.
            let linked = !interface.starts_with("wasi:filesystem/")
                && !interface.starts_with("wasi:sockets/");
            assert_eq!(
                !words.contains("cannot link"),
                linked,
                "{interface}: {words}"
            );
        }
        assert!(wasi_meaning("wasi:http/outgoing-handler", false).contains("origins"));
        assert!(wasi_meaning("wasi:http/types", true).contains("cannot link"));
        assert!(wasi_meaning("wasi:keyvalue/store", false).contains("cannot link"));
    }

    #[test]
    fn a_policy_module_is_told_its_clock_stands_still() {
        assert!(wasi_meaning("wasi:clocks/wall-clock", true).contains("stands still"));
        assert_eq!(
            import("wasi:sockets/tcp@0.2.6", Some(Role::Policy), None).origin,
            "wasi"
        );
    }

    #[test]
    fn an_import_with_no_capability_to_use_it_says_it_reaches_nothing() {
        let manifest = |capabilities: &str| {
            Manifest::parse(&format!(
                "name = \"t\"\nversion = \"1.0.0\"\nworld = \"failback:plugin/dns-provider@0.3.0\"\n{capabilities}"
            ))
            .unwrap()
        };
        let bare = manifest("");
        let said = |name: &str, m: &Manifest| import(name, Some(m.role), Some(m)).unreachable;
        assert_eq!(
            said("wasi:filesystem/types@0.2.6", &bare).as_deref(),
            Some("imports wasi:filesystem, but no directory is requested: it can open nothing")
        );
        assert_eq!(
            said("wasi:sockets/tcp@0.2.6", &bare).as_deref(),
            Some("imports wasi:sockets, but no TCP endpoint is requested: it can connect nowhere")
        );
        assert_eq!(
            said("wasi:sockets/ip-name-lookup@0.2.6", &bare).as_deref(),
            Some(
                "imports wasi:sockets/ip-name-lookup, but name lookup is not requested: it can resolve nothing"
            )
        );
        assert_eq!(said("wasi:clocks/wall-clock@0.2.6", &bare), None);
        let networked = manifest("[[capabilities.network]]\nname = \"dns\"\nprotocol = \"tcp\"\n");
        assert_eq!(said("wasi:sockets/tcp@0.2.6", &networked), None);
        assert!(said("wasi:sockets/udp@0.2.6", &networked).is_some());
        assert!(said("wasi:filesystem/types@0.2.6", &networked).is_some());
    }
}
