//! One file a plugin: the manifest carried inside its component, as a custom
//! section (`failback plugin pack`).
//!
//! A packed component is the component the vendor built with one more
//! top-level custom section, [`MANIFEST_SECTION`], holding the manifest's TOML.
//! A custom section changes nothing the component does — wasmtime skips it,
//! its imports and exports stay as they were — but it is part of the
//! component's bytes, so the component's sha256 pinned by the environment, and
//! a signature over the component ([`crate::signature`]), cover the manifest:
//! raising a limit or asking for one more capability is a different component.
//!
//! A manifest carried this way has no `sha256` (it cannot name the digest of
//! the bytes that hold it). The sections are read with `wasmparser`, top level
//! only: a nested module's or component's own custom sections are not the
//! component's manifest.

use std::ops::Range;

use wasm_encoder::ComponentSection as _;
use wasmparser::{Chunk, Encoding, Parser, Payload};

use crate::digest::Digest;
use crate::manifest::{Manifest, ManifestError, RawManifest};

/// The name of the custom section that carries the manifest.
pub const MANIFEST_SECTION: &str = "failback:manifest";

/// The name of the custom section a tool-conventions signature is embedded in
/// (WebAssembly tool-conventions, Signatures.md), always the first section.
pub const SIGNATURE_SECTION: &str = "signature";

/// A component with its manifest inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The packed component.
    pub bytes: Vec<u8>,
    /// The manifest it carries.
    pub manifest: Manifest,
    /// Whether the component already carried a manifest, which this one replaced.
    pub replaced: bool,
}

/// Why a component could not be packed, or its manifest read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error(
        "not a WebAssembly component (a core module cannot be a plugin: build it as a component)"
    )]
    NotAComponent,
    #[error("the component is malformed: {0}")]
    Malformed(String),
    #[error("the component is signed: packing would break its signature (pack first, then sign)")]
    Signed,
    #[error(
        "the manifest is for another component: it gives sha256 `{manifest}`, the component's is `{actual}`"
    )]
    OtherComponent { manifest: String, actual: Digest },
    #[error("the component carries {0} `{MANIFEST_SECTION}` sections: one at most")]
    ManyManifests(usize),
    #[error("the manifest inside the component is not UTF-8 text")]
    NotText,
    #[error(
        "the manifest inside the component gives a `sha256`: a carried manifest is covered by the component's own digest and names none"
    )]
    EmbeddedDigest,
    #[error("manifest: {0}")]
    Manifest(#[from] ManifestError),
}

/// One top-level section of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The whole section: id, size and contents.
    pub range: Range<usize>,
    /// A custom section's name and data.
    pub custom: Option<(String, Range<usize>)>,
}

/// The top-level sections of the component `bytes`, in order; nested modules
/// and components are single sections.
pub fn sections(bytes: &[u8]) -> Result<Vec<Section>, PackError> {
    let malformed = |e: wasmparser::BinaryReaderError| PackError::Malformed(e.message().to_owned());
    let mut parser = Parser::new(0);
    let mut offset = 0;
    let mut sections = Vec::new();
    loop {
        let rest = bytes.get(offset..).unwrap_or_default();
        let (consumed, payload) = match parser.parse(rest, true).map_err(malformed)? {
            Chunk::Parsed { consumed, payload } => (consumed, payload),
            Chunk::NeedMoreData(_) => {
                return Err(PackError::Malformed("it ends inside a section".to_owned()));
            }
        };
        let start = offset;
        offset += consumed;
        let mut custom = None;
        match payload {
            Payload::Version { encoding, .. } => {
                if encoding != Encoding::Component {
                    return Err(PackError::NotAComponent);
                }
                continue;
            }
            Payload::End(_) => break,
            Payload::ModuleSection {
                unchecked_range, ..
            }
            | Payload::ComponentSection {
                unchecked_range, ..
            } => {
                // The outer parser has stepped over the nested binary; so do we.
                offset = usize::try_from(unchecked_range.end).unwrap_or(usize::MAX);
            }
            Payload::CustomSection(reader) => {
                let data = usize::try_from(reader.data_offset()).unwrap_or(usize::MAX);
                let data = data..data.saturating_add(reader.data().len());
                custom = Some((reader.name().to_owned(), data));
            }
            _ => {}
        }
        sections.push(Section {
            range: start..offset,
            custom,
        });
    }
    Ok(sections)
}

/// The manifest text the component `bytes` carries, unchecked; `None` if it
/// carries none.
pub fn embedded_manifest_text(bytes: &[u8]) -> Result<Option<&str>, PackError> {
    let sections = sections(bytes)?;
    let texts: Vec<&[u8]> = sections
        .iter()
        .filter_map(|s| s.custom.as_ref())
        .filter(|(name, _)| name == MANIFEST_SECTION)
        .map(|(_, data)| bytes.get(data.clone()).unwrap_or_default())
        .collect();
    match texts.as_slice() {
        [] => Ok(None),
        [text] => std::str::from_utf8(text)
            .map(Some)
            .map_err(|_| PackError::NotText),
        many => Err(PackError::ManyManifests(many.len())),
    }
}

/// The component `bytes` without its embedded signature section, if it has
/// one: the bytes every signature of it covers, the same however often and by
/// whom it was signed.
pub fn without_signature(bytes: &[u8]) -> Result<Vec<u8>, PackError> {
    let sections = sections(bytes)?;
    let skip = usize::from(is_signed(&sections));
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(bytes.get(..8).unwrap_or_default());
    for section in sections.iter().skip(skip) {
        out.extend_from_slice(bytes.get(section.range.clone()).unwrap_or_default());
    }
    Ok(out)
}

/// The manifest the component `bytes` carries, checked; `None` if it carries
/// none.
pub fn embedded_manifest(bytes: &[u8]) -> Result<Option<Manifest>, PackError> {
    let Some(text) = embedded_manifest_text(bytes)? else {
        return Ok(None);
    };
    let manifest = Manifest::parse(text)?;
    if manifest.sha256.is_some() {
        return Err(PackError::EmbeddedDigest);
    }
    Ok(Some(manifest))
}

/// Whether the component `bytes` has an embedded signature (its first section
/// is the tool-conventions `signature` section).
pub fn is_signed(sections: &[Section]) -> bool {
    sections
        .first()
        .and_then(|s| s.custom.as_ref())
        .is_some_and(|(name, _)| name == SIGNATURE_SECTION)
}

/// Put the manifest `text` inside the component `bytes`, replacing the one it
/// carries if any. A manifest that gives a `sha256` must give the component's
/// (it is dropped: the packed component's own digest covers the manifest). The
/// manifest is written back from its checked form, so what the component
/// carries is exactly what the host reads.
pub fn pack(bytes: &[u8], text: &str) -> Result<Packed, PackError> {
    let sections = sections(bytes)?;
    if is_signed(&sections) {
        return Err(PackError::Signed);
    }
    let mut raw = RawManifest::read(text)?;
    let actual = Digest::of(bytes);
    if let Some(given) = raw.sha256.take()
        && given != actual.to_string()
    {
        return Err(PackError::OtherComponent {
            manifest: given,
            actual,
        });
    }
    let text = raw.write()?;
    let manifest = Manifest::check(raw)?;

    let is_manifest = |s: &Section| {
        s.custom
            .as_ref()
            .is_some_and(|(n, _)| n == MANIFEST_SECTION)
    };
    let replaced = sections.iter().any(is_manifest);
    let mut out = Vec::with_capacity(bytes.len() + text.len() + 32);
    out.extend_from_slice(bytes.get(..8).unwrap_or_default());
    for section in sections.iter().filter(|s| !is_manifest(s)) {
        out.extend_from_slice(bytes.get(section.range.clone()).unwrap_or_default());
    }
    wasm_encoder::CustomSection {
        name: MANIFEST_SECTION.into(),
        data: text.as_bytes().into(),
    }
    .append_to_component(&mut out);
    Ok(Packed {
        bytes: out,
        manifest,
        replaced,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    /// The smallest component: the header and nothing else.
    const EMPTY: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    const MANIFEST: &str = "name = \"lab-dns\"\nversion = \"0.1.0\"\n\
                            world = \"failback:plugin/dns-provider@0.1.0\"\n";

    #[test]
    fn a_packed_component_carries_its_manifest() {
        let packed = pack(&EMPTY, MANIFEST).unwrap();
        assert!(!packed.replaced);
        let carried = embedded_manifest(&packed.bytes).unwrap().unwrap();
        assert_eq!(carried, packed.manifest);
        assert_eq!(carried.name, "lab-dns");
    }

    #[test]
    fn packing_again_replaces_the_manifest() {
        let once = pack(&EMPTY, MANIFEST).unwrap();
        let raised = format!("{MANIFEST}[limits]\nmemory-mib = 512\n");
        let twice = pack(&once.bytes, &raised).unwrap();
        assert!(twice.replaced);
        let carried = embedded_manifest(&twice.bytes).unwrap().unwrap();
        assert_eq!(carried.limits.memory_mib, 512);
    }

    #[test]
    fn a_core_module_is_not_packed() {
        let module = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        assert_eq!(pack(&module, MANIFEST), Err(PackError::NotAComponent));
    }

    #[test]
    fn a_section_longer_than_the_file_is_malformed() {
        let mut bytes = EMPTY.to_vec();
        // A custom section claiming 4 GiB.
        bytes.extend_from_slice(&[0x00, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, b'x']);
        assert!(matches!(
            embedded_manifest(&bytes),
            Err(PackError::Malformed(_))
        ));
    }

    #[test]
    fn a_second_manifest_section_is_refused() {
        let mut bytes = pack(&EMPTY, MANIFEST).unwrap().bytes;
        wasm_encoder::CustomSection {
            name: MANIFEST_SECTION.into(),
            data: b"name = \"other\"".as_slice().into(),
        }
        .append_to_component(&mut bytes);
        assert_eq!(embedded_manifest(&bytes), Err(PackError::ManyManifests(2)));
    }

    #[test]
    fn a_manifest_for_another_component_is_refused() {
        let text = format!("sha256 = \"{}\"\n{MANIFEST}", Digest::of(b"other"));
        assert!(matches!(
            pack(&EMPTY, &text),
            Err(PackError::OtherComponent { .. })
        ));
        let own = format!("sha256 = \"{}\"\n{MANIFEST}", Digest::of(&EMPTY));
        let packed = pack(&EMPTY, &own).unwrap();
        assert_eq!(packed.manifest.sha256, None);
    }

    #[test]
    fn a_carried_manifest_with_a_digest_is_refused() {
        let mut bytes = EMPTY.to_vec();
        let text = format!("sha256 = \"{}\"\n{MANIFEST}", Digest::of(b"x"));
        wasm_encoder::CustomSection {
            name: MANIFEST_SECTION.into(),
            data: text.as_bytes().into(),
        }
        .append_to_component(&mut bytes);
        assert_eq!(embedded_manifest(&bytes), Err(PackError::EmbeddedDigest));
    }
}
