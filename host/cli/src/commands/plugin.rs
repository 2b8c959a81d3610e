//! `failback plugin inspect`: what a component is and what it asks for;
//! `failback plugin export`: write out a plugin the binary carries;
//! `failback plugin pack|sign|verify`: one file a plugin, signed
//! (`failback_runtime::{package, signature}`). The review is in `review.rs`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use failback_runtime::manifest::Manifest;
use failback_runtime::signature::{self, KeyId, Placement, PublicKey, SigningKey};
use failback_runtime::{Digest, Inspection, NullAuditSink, Runtime, inspect, package};
use serde::Serialize;

use crate::Outcome;
use crate::cli::Format;

pub fn inspect_file(file: &Path, manifest: Option<&Path>, format: Format) -> Result<Outcome> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?;
    let carried = package::embedded_manifest_text(&bytes)
        .with_context(|| format!("cannot read `{}`", file.display()))?
        .map(str::to_owned);
    // A manifest named, else the one inside the component, else a development
    // build's beside it.
    let manifest_path = manifest.map(Path::to_path_buf).or_else(|| {
        let guess = manifest_beside(file);
        (carried.is_none() && guess.exists()).then_some(guess)
    });
    let manifest_text = match &manifest_path {
        Some(p) => Some(
            std::fs::read_to_string(p).with_context(|| format!("cannot read `{}`", p.display()))?,
        ),
        None => carried,
    };
    let runtime =
        Runtime::new(Arc::new(NullAuditSink)).context("cannot start the plugin runtime")?;
    let inspection = inspect(&runtime, &bytes, manifest_text.as_deref())
        .with_context(|| format!("cannot inspect `{}`", file.display()))?;
    let out = match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&inspection)?;
            text.push('\n');
            text
        }
        Format::Text => text(file, manifest_path.as_deref(), &inspection),
    };
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(Outcome::Ok)
}

/// `manifest` is the file the manifest was read from; `None` when it is the
/// one inside the component (or there is none).
fn text(file: &Path, manifest: Option<&Path>, i: &Inspection) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "component  {}", file.display());
    let _ = writeln!(out, "sha256     {}", i.sha256);
    let _ = writeln!(out, "size       {} bytes", i.size);
    let _ = writeln!(
        out,
        "worlds     {}",
        if i.worlds.is_empty() {
            "(none of failback's)".to_owned()
        } else {
            i.worlds.join(", ")
        }
    );
    out.push_str("exports\n");
    for item in &i.exports {
        let _ = writeln!(out, "  {} ({})", item.name, item.kind);
        for f in &item.functions {
            let _ = writeln!(out, "    {f}");
        }
    }
    out.push_str("imports\n");
    for item in &i.imports {
        let _ = writeln!(out, "  {} ({})", item.name, item.kind);
    }
    if !i.foreign_imports.is_empty() {
        let _ = writeln!(
            out,
            "foreign imports (cannot link here): {}",
            i.foreign_imports.join(", ")
        );
    }
    match &i.manifest {
        Some(m) => {
            match manifest {
                Some(path) => {
                    let _ = writeln!(
                        out,
                        "manifest   {} (beside the component: a development build, unsigned)",
                        path.display()
                    );
                }
                None => out.push_str(
                    "manifest   inside the component (its digest and signatures cover it)\n",
                ),
            }
            let _ = writeln!(out, "  name     {} {}", m.name, m.version);
            let _ = writeln!(out, "  world    {}", m.world);
            let _ = writeln!(
                out,
                "  sha256   {}",
                match (i.manifest_matches, manifest) {
                    (Some(true), _) => "matches the component",
                    (Some(false), _) => "DOES NOT match the component",
                    (None, None) => "(none: the component's own digest covers it)",
                    (None, Some(_)) => "(none)",
                }
            );
            let _ = writeln!(
                out,
                "  limits   {} MiB memory, {} ms per call",
                m.limits.memory_mib, m.limits.call_timeout_ms
            );
            out.push_str("  requests\n");
            if m.capabilities.is_empty() {
                out.push_str("    nothing: no files, no sockets, no name lookup\n");
            }
            for d in &m.capabilities.dirs {
                let _ = writeln!(out, "    dir `{}` at {} ({})", d.name, d.guest_path, d.mode);
            }
            for n in &m.capabilities.network {
                let _ = writeln!(out, "    network `{}` ({})", n.name, n.protocol);
            }
            for h in &m.capabilities.http {
                let methods: Vec<&str> = h.methods.iter().map(|m| m.name()).collect();
                let _ = writeln!(
                    out,
                    "    http `{}` ({}; responses up to {} bytes)",
                    h.name,
                    methods.join(", "),
                    h.max_response_bytes
                );
            }
            if m.capabilities.dns_lookup {
                out.push_str("    name lookup\n");
            }
        }
        None => out.push_str("manifest   (none given: capabilities unknown)\n"),
    }
    out
}

/// `failback plugin export NAME DIR`: write a carried plugin and its manifest
/// (which holds the component's sha256, as the engine requires) into `dir`, and
/// print the lines that bind it, the manifest pinned by its own sha256. The binary's copy is the one built with it, so
/// an operator never has to find the build tree's hash-named directories.
pub fn export(name: &str, dir: &Path) -> Result<Outcome> {
    let mut carried = Vec::new();
    let mut found = None;
    for guest in failback_guests::STANDARD {
        let Some(text) = guest.manifest else {
            continue;
        };
        let manifest = Manifest::parse(text)
            .with_context(|| format!("the manifest of `{}`", guest.package))?;
        if manifest.name == name {
            found = Some((guest, text, manifest));
            break;
        }
        carried.push(manifest.name);
    }
    let Some((guest, text, manifest)) = found else {
        carried.sort();
        bail!(
            "this binary carries no plugin `{name}`; it carries: {}",
            carried.join(", ")
        );
    };
    let sha256 = manifest
        .sha256
        .with_context(|| format!("the manifest of `{name}` has no sha256"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let component = dir.join(format!("{name}.wasm"));
    let manifest_file = dir.join(format!("{name}.plugin.toml"));
    std::fs::write(&component, guest.bytes)
        .with_context(|| format!("cannot write `{}`", component.display()))?;
    std::fs::write(&manifest_file, text)
        .with_context(|| format!("cannot write `{}`", manifest_file.display()))?;
    // Forward slashes: the environment file's paths are the same on every system.
    let shown = |p: &Path| p.display().to_string().replace('\\', "/");
    let out = format!(
        "[plugins.{}]\npath = \"{}\"\nsha256 = \"{sha256}\"\nmanifest = \"{}\"\nmanifest-sha256 = \"{}\"\n",
        manifest.role.name(),
        shown(&component),
        shown(&manifest_file),
        Digest::of(text.as_bytes()),
    );
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(Outcome::Ok)
}

/// The manifest file beside `component` when none is named:
/// `<component without .wasm>.plugin.toml`.
pub fn manifest_beside(component: &Path) -> PathBuf {
    PathBuf::from(format!(
        "{}.plugin.toml",
        component.with_extension("").display()
    ))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))
}

/// Write `bytes` to `path` whole or not at all: a temporary file beside it,
/// renamed over it.
/// Write `bytes` to `path` whole or not at all (a temporary file beside it,
/// synced, renamed over it).
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write into `{}`", dir.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    file.persist(path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}

/// `failback plugin pack COMPONENT --out FILE [--manifest plugin.toml]`.
pub fn pack(component: &Path, manifest: Option<&Path>, out: &Path) -> Result<Outcome> {
    if same_file(component, out) {
        bail!("`--out` names the component itself: write the packed component to another file");
    }
    let bytes = read(component)?;
    let manifest_path = manifest.map_or_else(|| manifest_beside(component), Path::to_path_buf);
    let text = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("cannot read the manifest `{}`", manifest_path.display()))?;
    let packed = package::pack(&bytes, &text)
        .with_context(|| format!("cannot pack `{}`", component.display()))?;
    write_whole(out, &packed.bytes)?;
    let m = &packed.manifest;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "packed     {} {} ({}) into {}",
        m.name,
        m.version,
        m.world,
        out.display()
    );
    if packed.replaced {
        report.push_str("           (the manifest it carried before is replaced)\n");
    }
    let _ = writeln!(report, "sha256     {}", Digest::of(&packed.bytes));
    let _ = writeln!(report, "size       {} bytes", packed.bytes.len());
    report
        .push_str("unsigned   sign it with `failback plugin sign FILE --key ~/.ssh/id_ed25519`\n");
    std::io::stdout().write_all(report.as_bytes())?;
    Ok(Outcome::Ok)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The OpenSSH private key at `path`, opened with `$FAILBACK_KEY_PASSPHRASE`
/// when it is protected by a passphrase.
pub fn open_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key `{}`", path.display()))?;
    let passphrase = std::env::var("FAILBACK_KEY_PASSPHRASE").ok();
    SigningKey::parse(&text, passphrase.as_deref())
        .with_context(|| format!("cannot open the key `{}`", path.display()))
}

/// `failback plugin sign FILE --key KEY [--detached] [--out FILE]`.
pub fn sign(file: &Path, key: &Path, detached: bool, out: Option<&Path>) -> Result<Outcome> {
    let bytes = read(file)?;
    let key = open_key(key)?;
    if package::embedded_manifest(&bytes)
        .with_context(|| format!("cannot read `{}`", file.display()))?
        .is_none()
    {
        bail!(
            "`{}` carries no manifest: pack it first (`failback plugin pack`), so that the signature covers what it may ask for",
            file.display()
        );
    }
    let placement = if detached {
        Placement::Detached
    } else {
        Placement::Embedded
    };
    let signed = signature::sign(&bytes, &key, placement)
        .with_context(|| format!("cannot sign `{}`", file.display()))?;
    let written = match signed.detached {
        Some(signature) => {
            let path = out.map_or_else(|| signature_beside(file), Path::to_path_buf);
            write_whole(&path, &signature)?;
            path
        }
        None => {
            let path = out.unwrap_or(file).to_path_buf();
            write_whole(&path, &signed.component)?;
            path
        }
    };
    let public = key.public();
    let mut report = format!(
        "signed     {} by {}{}\n",
        file.display(),
        public.fingerprint(),
        if public.comment().is_empty() {
            String::new()
        } else {
            format!(" ({})", public.comment())
        }
    );
    let _ = writeln!(
        report,
        "{} {}",
        if detached { "signature " } else { "written   " },
        written.display()
    );
    if !detached {
        let _ = writeln!(report, "sha256     {}", Digest::of(&signed.component));
    }
    std::io::stdout().write_all(report.as_bytes())?;
    Ok(Outcome::Ok)
}

/// A detached signature's usual place: `FILE.sig`.
pub fn signature_beside(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// The detached signature of `file`: `given`, else `FILE.sig` when present.
pub fn detached_signature(file: &Path, given: Option<&Path>) -> Result<Option<(PathBuf, Vec<u8>)>> {
    let path = match given {
        Some(path) => path.to_path_buf(),
        None => {
            let beside = signature_beside(file);
            if !beside.exists() {
                return Ok(None);
            }
            beside
        }
    };
    let bytes = read(&path)?;
    Ok(Some((path, bytes)))
}

/// The OpenSSH public keys in `path`, one a line (`#` comments and blank lines skipped).
pub fn public_keys(path: &Path) -> Result<Vec<PublicKey>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key `{}`", path.display()))?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        keys.push(
            PublicKey::parse(line)
                .with_context(|| format!("`{}`, line {}", path.display(), n + 1))?,
        );
    }
    if keys.is_empty() {
        bail!("`{}` holds no public key", path.display());
    }
    Ok(keys)
}

/// One signature, as `plugin verify` reports it.
#[derive(Debug, Serialize)]
struct VerifiedSignature {
    key: KeyId,
    /// `verified`, `broken` (a key given, which it does not hold for) or
    /// `unknown key` (no key given for it).
    status: &'static str,
}

#[derive(Debug, Serialize)]
struct Verification {
    component: String,
    sha256: Digest,
    /// `embedded`, or the detached signature's path.
    signature: String,
    signatures: Vec<VerifiedSignature>,
    verified: bool,
}

/// `failback plugin verify FILE --key KEY.pub [--signature SIG]`.
pub fn verify(
    file: &Path,
    keys: &[PathBuf],
    signature: Option<&Path>,
    format: Format,
) -> Result<Outcome> {
    let bytes = read(file)?;
    let mut given = Vec::new();
    for path in keys {
        given.extend(public_keys(path)?);
    }
    let detached = detached_signature(file, signature)?;
    let found = signature::check(&bytes, detached.as_ref().map(|(_, b)| b.as_slice()), &given)
        .with_context(|| format!("cannot read the signatures of `{}`", file.display()))?;
    let signatures: Vec<VerifiedSignature> = found
        .claimed
        .iter()
        .map(|key| VerifiedSignature {
            key: key.clone(),
            status: match key {
                KeyId::Fingerprint(fp) if found.verified.contains(fp) => "verified",
                KeyId::Fingerprint(fp) if given.iter().any(|k| k.fingerprint() == *fp) => "broken",
                _ => "unknown key",
            },
        })
        .collect();
    let report = Verification {
        component: file.display().to_string(),
        sha256: Digest::of(&bytes),
        signature: match &detached {
            Some((path, _)) => path.display().to_string(),
            None if found.is_signed() => "embedded".to_owned(),
            None => "none".to_owned(),
        },
        verified: !found.verified.is_empty(),
        signatures,
    };
    let out = match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        Format::Text => {
            let mut out = String::new();
            let _ = writeln!(out, "component  {}", report.component);
            let _ = writeln!(out, "sha256     {}", report.sha256);
            let _ = writeln!(out, "signature  {}", report.signature);
            if report.signatures.is_empty() {
                out.push_str("signed by  nobody: the component is unsigned\n");
            }
            for s in &report.signatures {
                let words = match s.status {
                    "verified" => "holds for these bytes",
                    "broken" => "DOES NOT hold: the component changed after it was signed",
                    _ => "not checked: none of the keys given",
                };
                let _ = writeln!(out, "signed by  {}: {words}", s.key);
            }
            out
        }
    };
    std::io::stdout().write_all(out.as_bytes())?;
    if !report.verified {
        let keys: Vec<String> = given.iter().map(|k| k.fingerprint().to_string()).collect();
        bail!(
            "no signature of `{}` holds for the keys given ({})",
            file.display(),
            keys.join(", ")
        );
    }
    Ok(Outcome::Ok)
}
