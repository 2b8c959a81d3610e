//! `failback plugin review`: the report a security reviewer approves
//! (`failback_runtime::review`), as text, Markdown for a change ticket, or
//! JSON for tooling.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use failback_core::text::quoted;
use failback_runtime::review::{
    self, Capability, Changes, Context, GrantStatus, Import, ManifestPlace, Review, Subject,
};
use failback_runtime::{Environment, NullAuditSink, Runtime, package};

use super::plugin::{detached_signature, manifest_beside};
use crate::Outcome;
use crate::cli::ReviewFormat;
use crate::session::{self, trust_policy};

/// What `plugin review` was asked.
pub struct Args {
    pub file: PathBuf,
    pub env: Option<PathBuf>,
    pub since: Option<PathBuf>,
    pub manifest: Option<PathBuf>,
    pub signature: Option<PathBuf>,
    pub format: ReviewFormat,
}

/// A component and what comes beside it, read.
struct Read {
    bytes: Vec<u8>,
    manifest: Option<String>,
    signature: Option<Vec<u8>>,
}

impl Read {
    /// `file`, with `manifest` (else the development manifest beside it, when
    /// the component carries none) and `signature` (else `FILE.sig`, if any).
    fn open(file: &Path, manifest: Option<&Path>, signature: Option<&Path>) -> Result<Self> {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?;
        let manifest = match manifest {
            Some(path) => Some(path.to_path_buf()),
            None => {
                let carries = package::embedded_manifest(&bytes)
                    .with_context(|| format!("cannot read `{}`", file.display()))?
                    .is_some();
                let beside = manifest_beside(file);
                (!carries && beside.exists()).then_some(beside)
            }
        };
        let manifest = manifest
            .map(|path| {
                std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read the manifest `{}`", path.display()))
            })
            .transpose()?;
        let signature = detached_signature(file, signature)?.map(|(_, bytes)| bytes);
        Ok(Self {
            bytes,
            manifest,
            signature,
        })
    }

    fn subject(&self) -> Subject<'_> {
        Subject {
            bytes: &self.bytes,
            manifest: self.manifest.as_deref(),
            signature: self.signature.as_deref(),
        }
    }
}

pub fn run(args: &Args) -> Result<Outcome> {
    let out = report(args)?;
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(Outcome::Ok)
}

/// The review `args` asks for, in its format.
pub fn report(args: &Args) -> Result<String> {
    let subject = Read::open(
        &args.file,
        args.manifest.as_deref(),
        args.signature.as_deref(),
    )?;
    let before = args
        .since
        .as_deref()
        .map(|old| Read::open(old, None, None))
        .transpose()?;
    let environment =
        args.env
            .as_deref()
            .map(|env| -> Result<_> {
                let root = session::root_of(env);
                let dir = Dir::open_ambient_dir(&root, ambient_authority())
                    .with_context(|| format!("cannot open `{}`", root.display()))?;
                let file = env.file_name().and_then(|f| f.to_str()).with_context(|| {
                    format!("`{}` is not an environment file name", env.display())
                })?;
                let environment = Environment::load(&dir, file)
                    .with_context(|| format!("cannot load the environment `{}`", env.display()))?;
                let trust = trust_policy(&environment, &dir)?;
                Ok((environment, trust))
            })
            .transpose()?;
    let runtime =
        Runtime::new(Arc::new(NullAuditSink)).context("cannot start the plugin runtime")?;
    let review = review::review(
        &runtime,
        subject.subject(),
        environment.as_ref().map(|(environment, trust)| Context {
            plugins: &environment.plugins,
            trust,
        }),
        before.as_ref().map(Read::subject),
    )
    .with_context(|| format!("cannot review `{}`", args.file.display()))?;
    let shown = |p: &Path| p.display().to_string();
    let out = match args.format {
        ReviewFormat::Json => format!("{}\n", serde_json::to_string_pretty(&review)?),
        ReviewFormat::Text => text(
            &review,
            &shown(&args.file),
            args.since.as_deref().map(shown),
        ),
        ReviewFormat::Markdown => markdown(
            &review,
            &shown(&args.file),
            args.since.as_deref().map(shown),
        ),
    };
    Ok(out)
}

/// What the manifest's place means, in words.
fn manifest_words(place: ManifestPlace) -> &'static str {
    match place {
        ManifestPlace::Inside => "inside the component (its digest and signatures cover it)",
        ManifestPlace::Beside => {
            "a file beside the component: a DEVELOPMENT BUILD (unsigned), which no signature covers"
        }
        ManifestPlace::None => "none: what the component may ask for is unknown",
    }
}

fn status_words(status: Option<&GrantStatus>) -> String {
    match status {
        None => String::new(),
        Some(GrantStatus::Present(how)) => format!("present: {how}"),
        Some(GrantStatus::Missing(why)) => format!("MISSING: {why}"),
    }
}

/// `lab-dns 0.1.0`, or what stands in for it without a manifest.
fn name_version(r: &Review) -> String {
    match (&r.name, &r.version) {
        (Some(name), Some(version)) => format!("{name} {version}"),
        _ => "(no manifest: name and version unknown)".to_owned(),
    }
}

fn or_none(value: Option<&String>) -> &str {
    value.map_or("(none)", String::as_str)
}

/// The report as text for a terminal.
fn text(r: &Review, file: &str, since: Option<String>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "component   {file}");
    let _ = writeln!(
        out,
        "plugin      {}{}",
        name_version(r),
        r.vendor
            .as_ref()
            .map_or_else(String::new, |v| format!(", by {v}"))
    );
    if let Some(description) = &r.description {
        let _ = writeln!(out, "            {description}");
    }
    let _ = writeln!(out, "world       {}", or_none(r.world.as_ref()));
    let _ = writeln!(
        out,
        "implements  {}",
        if r.implements.is_empty() {
            "(none of failback's worlds)".to_owned()
        } else {
            r.implements.join(", ")
        }
    );
    let _ = writeln!(out, "manifest    {}", manifest_words(r.manifest));
    let _ = writeln!(out, "size        {} bytes", r.size);
    let _ = writeln!(out, "sha256      {}", r.digests.sha256);
    let _ = writeln!(
        out,
        "unsigned    {} (without its signatures)",
        r.digests.unsigned_sha256
    );
    if let Some(digest) = r.digests.manifest_sha256 {
        let _ = writeln!(
            out,
            "            {digest} (sha256 of the manifest it carries)"
        );
    }

    out.push_str("\nsigned by\n");
    if r.signatures.is_empty() {
        out.push_str("  nobody: the component is unsigned\n");
    }
    for s in &r.signatures {
        let _ = writeln!(
            out,
            "  {}{}",
            s.key,
            match s.holds {
                Some(true) => ": holds (a trusted key)",
                Some(false) => ": DOES NOT hold: changed after it was signed",
                None => "",
            }
        );
    }

    out.push_str("\nimports\n");
    if let Some(refusal) = &r.link {
        let _ = writeln!(out, "  CANNOT LINK: loading refuses it: {refusal}");
    }
    for i in &r.imports {
        let _ = writeln!(out, "  {}\n      {}", i.name, i.meaning);
        if let Some(unreachable) = &i.unreachable {
            let _ = writeln!(out, "      REACHES NOTHING: {unreachable}");
        }
    }
    out.push_str("\nexports\n");
    for e in &r.exports {
        let _ = writeln!(out, "  {e}");
    }

    out.push_str("\ncapabilities\n");
    if r.capabilities.is_empty() {
        out.push_str("  none: no files, no sockets, no name lookup\n");
    }
    for c in &r.capabilities {
        let _ = writeln!(out, "  {} ({}): {}", c.name, c.kind, c.asks);
        let _ = writeln!(out, "      granted by  {}", c.grant);
        let status = status_words(c.status.as_ref());
        if !status.is_empty() {
            let _ = writeln!(out, "      here        {status}");
        }
    }
    if let Some(excess) = &r.excess_grants {
        let _ = writeln!(
            out,
            "  excess grants: {}",
            if excess.is_empty() {
                "none".to_owned()
            } else {
                excess.join(", ")
            }
        );
    }

    let m = r.limits.manifest;
    let _ = writeln!(
        out,
        "\nlimits      {} MiB memory, {} ms per call",
        m.memory_mib, m.call_timeout_ms
    );
    if let Some(e) = r.limits.environment {
        let _ = writeln!(
            out,
            "  here      {} MiB memory, {} ms per call",
            e.memory_mib, e.call_timeout_ms
        );
    }
    if let Some(b) = &r.binding {
        let _ = writeln!(
            out,
            "\nbinding     [plugins.{}] pins {}{}",
            b.kind,
            b.sha256,
            if b.this_component {
                ": this component"
            } else {
                ": ANOTHER component"
            }
        );
    }
    if let Some(t) = &r.trust {
        let _ = writeln!(
            out,
            "\ntrust       signatures {}",
            if t.require_signatures {
                "required"
            } else {
                "not required"
            }
        );
        if let Some(signer) = &t.signer {
            let _ = writeln!(out, "  runs as   {signer}");
        }
        if let Some(refused) = &t.refused {
            let _ = writeln!(out, "  REFUSED   {refused}");
        }
    }
    if let (Some(changes), Some(old)) = (&r.since, since) {
        let _ = writeln!(out, "\nsince {old}");
        changes_text(&mut out, changes, "  ");
    }
    out
}

/// The changes as lines, each with `indent`.
fn changes_text(out: &mut String, c: &Changes, indent: &str) {
    if c.is_empty() {
        let _ = writeln!(out, "{indent}nothing a reviewer approves changed");
        return;
    }
    if let Some((a, b)) = &c.version {
        let _ = writeln!(out, "{indent}version {a} -> {b}");
    }
    if let Some((a, b)) = &c.world {
        let _ = writeln!(out, "{indent}world {a} -> {b}");
    }
    for i in &c.new_imports {
        let _ = writeln!(out, "{indent}NEW IMPORT {}: {}", i.name, i.meaning);
    }
    for (interface, a, b) in &c.changed_imports {
        let _ = writeln!(out, "{indent}import {interface} {a} -> {b}");
    }
    for name in &c.removed_imports {
        let _ = writeln!(out, "{indent}import removed {name}");
    }
    for cap in &c.new_capabilities {
        let _ = writeln!(
            out,
            "{indent}NEW CAPABILITY {} ({}): {}",
            cap.name, cap.kind, cap.asks
        );
    }
    for (name, a, b) in &c.changed_capabilities {
        let _ = writeln!(out, "{indent}capability {name}: {a} -> {b}");
    }
    for name in &c.removed_capabilities {
        let _ = writeln!(out, "{indent}capability removed {name}");
    }
    for (limit, a, b) in &c.raised_limits {
        let _ = writeln!(out, "{indent}RAISED LIMIT {limit} {a} -> {b}");
    }
    for (limit, a, b) in &c.lowered_limits {
        let _ = writeln!(out, "{indent}lowered limit {limit} {a} -> {b}");
    }
    for key in &c.new_signers {
        let _ = writeln!(out, "{indent}new signer {key}");
    }
    for key in &c.removed_signers {
        let _ = writeln!(out, "{indent}signer gone {key}");
    }
}

/// Markdown's table cells: a pipe would end the cell, a line break the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn import_row(i: &Import) -> String {
    let meaning = match &i.unreachable {
        Some(unreachable) => format!("{} **Reaches nothing:** {unreachable}", i.meaning),
        None => i.meaning.clone(),
    };
    format!("| `{}` | {} | {} |\n", i.name, i.origin, cell(&meaning))
}

fn capability_row(c: &Capability, with_status: bool) -> String {
    let mut row = format!(
        "| `{}` | {} | {} | `{}` |",
        c.name,
        c.kind,
        cell(&c.asks),
        cell(&c.grant)
    );
    if with_status {
        let _ = write!(row, " {} |", cell(&status_words(c.status.as_ref())));
    }
    row.push('\n');
    row
}

/// The report in Markdown, for a change ticket.
fn markdown(r: &Review, file: &str, since: Option<String>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Review: {}\n", name_version(r));
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| component | `{}` |", cell(file));
    if let Some(vendor) = &r.vendor {
        let _ = writeln!(out, "| vendor | {} |", cell(vendor));
    }
    if let Some(description) = &r.description {
        let _ = writeln!(out, "| description | {} |", cell(description));
    }
    let _ = writeln!(out, "| world | `{}` |", or_none(r.world.as_ref()));
    let _ = writeln!(out, "| implements | {} |", r.implements.join(", "));
    let _ = writeln!(out, "| manifest | {} |", manifest_words(r.manifest));
    let _ = writeln!(out, "| size | {} bytes |", r.size);
    let _ = writeln!(out, "| sha256 | `{}` |", r.digests.sha256);
    let _ = writeln!(
        out,
        "| sha256 without signatures | `{}` |",
        r.digests.unsigned_sha256
    );
    if let Some(digest) = r.digests.manifest_sha256 {
        let _ = writeln!(out, "| manifest sha256 | `{digest}` |");
    }
    let m = r.limits.manifest;
    let _ = writeln!(
        out,
        "| limits | {} MiB memory, {} ms per call |",
        m.memory_mib, m.call_timeout_ms
    );
    if let Some(e) = r.limits.environment {
        let _ = writeln!(
            out,
            "| limits here | {} MiB memory, {} ms per call |",
            e.memory_mib, e.call_timeout_ms
        );
    }

    out.push_str("\n## Signed by\n\n");
    if r.signatures.is_empty() {
        out.push_str("Nobody: the component is unsigned.\n");
    }
    for s in &r.signatures {
        let _ = writeln!(
            out,
            "- `{}`{}",
            s.key,
            match s.holds {
                Some(true) => ": holds (a trusted key)",
                Some(false) => ": **does not hold**: changed after it was signed",
                None => "",
            }
        );
    }
    if let Some(t) = &r.trust {
        let _ = writeln!(
            out,
            "\nTrust here: signatures {}.",
            if t.require_signatures {
                "required"
            } else {
                "not required"
            }
        );
        if let Some(signer) = &t.signer {
            let _ = writeln!(out, "Runs as: `{signer}`.");
        }
        if let Some(refused) = &t.refused {
            let _ = writeln!(out, "**Refused**: {}", cell(refused));
        }
    }

    out.push_str("\n## Imports\n\n");
    if let Some(refusal) = &r.link {
        let _ = writeln!(
            out,
            "**Cannot link: loading refuses it:** {}\n",
            cell(refusal)
        );
    }
    out.push_str("| import | from | what it lets the component do here |\n|---|---|---|\n");
    for i in &r.imports {
        out.push_str(&import_row(i));
    }
    out.push_str("\n## Exports\n\n");
    for e in &r.exports {
        let _ = writeln!(out, "- `{e}`");
    }

    out.push_str("\n## Capabilities\n\n");
    let with_status = r.excess_grants.is_some();
    if r.capabilities.is_empty() {
        out.push_str("None: no files, no sockets, no name lookup.\n");
    } else {
        out.push_str("| name | kind | asks | granted by |");
        out.push_str(if with_status {
            " here |\n|---|---|---|---|---|\n"
        } else {
            "\n|---|---|---|---|\n"
        });
        for c in &r.capabilities {
            out.push_str(&capability_row(c, with_status));
        }
    }
    if let Some(excess) = &r.excess_grants {
        let _ = writeln!(
            out,
            "\nExcess grants: {}.",
            if excess.is_empty() {
                "none".to_owned()
            } else {
                quoted(excess)
            }
        );
    }
    if let Some(b) = &r.binding {
        let _ = writeln!(
            out,
            "\nThe environment's `[plugins.{}]` pins `{}`: {}.",
            b.kind,
            b.sha256,
            if b.this_component {
                "this component"
            } else {
                "**another component**"
            }
        );
    }
    if let (Some(changes), Some(old)) = (&r.since, since) {
        let _ = writeln!(out, "\n## Since `{}`\n", cell(&old));
        let mut lines = String::new();
        changes_text(&mut lines, changes, "- ");
        out.push_str(&lines);
    }
    out
}
