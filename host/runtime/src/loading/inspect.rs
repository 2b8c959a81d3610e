//! `failback plugin inspect`: what a component is, from its bytes alone (and its
//! manifest, when given) — for a security reviewer deciding whether to grant it
//! anything.
//!
//! The component is compiled (not run) to read its type: its imports and exports.
//! The worlds it implements are found by matching those against the contract:
//! a plugin world's interface among its exports, and nothing imported beyond
//! `failback:plugin/host`, its types and WASI.

use serde::Serialize;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use crate::digest::Digest;
use crate::loading::engine::Runtime;
use crate::manifest::{Manifest, ManifestError, POLICY_PACKAGE_VERSIONS, PluginKind, PluginTrack};
/// What a component is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inspection {
    pub sha256: Digest,
    /// Size of the component file in bytes.
    pub size: usize,
    /// The worlds it implements (`failback:plugin/dns-provider@0.1.0`).
    pub worlds: Vec<String>,
    pub imports: Vec<Item>,
    pub exports: Vec<Item>,
    /// Imports outside the contract (neither `failback:plugin/host`, its types,
    /// nor WASI): the component cannot link here.
    pub foreign_imports: Vec<String>,
    /// The manifest, when one was given.
    pub manifest: Option<Manifest>,
    /// Whether the manifest's sha256 is the component's.
    pub manifest_matches: Option<bool>,
}

/// One import or export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// `failback:plugin/dns@0.1.0`, `wasi:filesystem/types@0.2.6`, ...
    pub name: String,
    /// `instance`, `func`, `type`, `resource`, `module`, `component`.
    pub kind: &'static str,
    /// For an instance: its functions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<String>,
}

/// Why a component could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("not a WASM component this engine can compile: {0}")]
    Component(String),
    #[error("manifest: {0}")]
    Manifest(#[from] ManifestError),
}

/// Describe the component `bytes`, with its manifest's text if there is one.
pub fn inspect(
    runtime: &Runtime,
    bytes: &[u8],
    manifest: Option<&str>,
) -> Result<Inspection, InspectError> {
    let sha256 = Digest::of(bytes);
    let manifest = manifest.map(Manifest::parse).transpose()?;
    let engine = runtime.engine();
    let component =
        Component::new(engine, bytes).map_err(|e| InspectError::Component(format!("{e:#}")))?;
    let ty = component.component_type();
    let item = |name: &str, item: ComponentItem| {
        let (kind, functions) = match item {
            ComponentItem::ComponentFunc(_) => ("func", Vec::new()),
            ComponentItem::CoreFunc(_) => ("core-func", Vec::new()),
            ComponentItem::Module(_) => ("module", Vec::new()),
            ComponentItem::Component(_) => ("component", Vec::new()),
            ComponentItem::ComponentInstance(instance) => (
                "instance",
                instance
                    .exports(engine)
                    .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
                    .map(|(name, _)| name.to_owned())
                    .collect(),
            ),
            ComponentItem::Type(_) => ("type", Vec::new()),
            ComponentItem::Resource(_) => ("resource", Vec::new()),
        };
        Item {
            name: name.to_owned(),
            kind,
            functions,
        }
    };
    let imports: Vec<Item> = ty
        .imports(engine)
        .map(|(name, it)| item(name, it.ty))
        .collect();
    let exports: Vec<Item> = ty
        .exports(engine)
        .map(|(name, it)| item(name, it.ty))
        .collect();

    let foreign_imports: Vec<String> = imports
        .iter()
        .map(|i| i.name.clone())
        .filter(|name| !is_contract_import(name))
        .collect();
    let exported = |name: &str| exports.iter().any(|e| e.name == name);
    let mut worlds = Vec::new();
    if foreign_imports.is_empty() {
        for track in PluginTrack::ALL {
            for kind in PluginKind::ALL {
                let interface = format!(
                    "failback:plugin/{}@{}",
                    kind.export_interface(),
                    track.version()
                );
                if exported(&interface) {
                    worlds.push(track.world(kind));
                }
            }
        }
        let policy_uses_host = imports
            .iter()
            .any(|i| i.name.starts_with("failback:plugin/"));
        for version in POLICY_PACKAGE_VERSIONS {
            if exported(&format!("failback:policy/rules@{version}")) && !policy_uses_host {
                worlds.push(format!("failback:policy/policy@{version}"));
            }
        }
    }
    let manifest_matches = manifest.as_ref().map(|m| m.sha256 == Some(sha256));
    Ok(Inspection {
        sha256,
        size: bytes.len(),
        worlds,
        imports,
        exports,
        foreign_imports,
        manifest,
        manifest_matches,
    })
}

/// An import a plugin or policy may have: the host interface and the shared
/// types (of either package, a plugin's on any track) and WASI.
fn is_contract_import(name: &str) -> bool {
    PluginTrack::ALL.into_iter().any(|track| {
        name == format!("failback:plugin/host@{track}")
            || name == format!("failback:plugin/types@{track}")
    }) || POLICY_PACKAGE_VERSIONS
        .iter()
        .any(|v| name == format!("failback:policy/types@{v}"))
        || name.starts_with("wasi:")
}
