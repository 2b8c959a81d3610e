//! `failback plugin inspect`: what a component is and what it asks for;
//! `failback plugin export`: write out a plugin the binary carries.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use failback_runtime::manifest::Manifest;
use failback_runtime::{Digest, Inspection, NullAuditSink, Runtime, inspect};

use crate::Outcome;
use crate::cli::Format;

pub fn inspect_file(file: &Path, manifest: Option<&Path>, format: Format) -> Result<Outcome> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?;
    let manifest_path = manifest.map(Path::to_path_buf).or_else(|| {
        let guess = PathBuf::from(format!("{}.plugin.toml", file.with_extension("").display()));
        guess.exists().then_some(guess)
    });
    let manifest_text = manifest_path
        .as_ref()
        .map(|p| {
            std::fs::read_to_string(p).with_context(|| format!("cannot read `{}`", p.display()))
        })
        .transpose()?;
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
    match (&i.manifest, manifest) {
        (Some(m), Some(path)) => {
            let _ = writeln!(out, "manifest   {}", path.display());
            let _ = writeln!(out, "  name     {} {}", m.name, m.version);
            let _ = writeln!(out, "  world    {}", m.world);
            let _ = writeln!(
                out,
                "  sha256   {}",
                match i.manifest_matches {
                    Some(true) => "matches the component",
                    Some(false) => "DOES NOT match the component",
                    None => "(none)",
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
            if m.capabilities.dns_lookup {
                out.push_str("    name lookup\n");
            }
        }
        _ => out.push_str("manifest   (none given: capabilities unknown)\n"),
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
        manifest.kind.name(),
        shown(&component),
        shown(&manifest_file),
        Digest::of(text.as_bytes()),
    );
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(Outcome::Ok)
}
