//! `failback plugin add FILE --kind KIND`: bind a component as one of the
//! environment's plugins in one command. The component's and its manifest's
//! sha256 are computed here and written into `[plugins.KIND]` of the
//! environment file, edited in place (`toml_edit`: every comment, blank line
//! and the binding's config and grants stay as they were), so that nobody
//! copies hashes by hand. The result is checked as the environment is loaded
//! before it is written, and the review of the plugin, judged against the
//! environment as it now binds it, is shown.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use failback_runtime::manifest::{Manifest, PluginKind};
use failback_runtime::{Digest, Environment, package};
use toml_edit::{DocumentMut, Item, Table, Value};

use super::plugin::{manifest_beside, write_whole};
use super::review;
use crate::Outcome;
use crate::cli::{PluginAddArgs, ReviewFormat, World};
use crate::session;

/// A sha256 of zeros: the placeholder of a template, which pins nothing.
const UNPINNED: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub fn add(args: &PluginAddArgs) -> Result<Outcome> {
    let kind = kind(args.kind);
    let env_text = std::fs::read_to_string(&args.env)
        .with_context(|| format!("cannot read the environment file `{}`", args.env.display()))?;
    let root = session::root_of(&args.env);
    let path = inside(&root, &args.file)?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read `{}`", args.file.display()))?;
    let sha256 = Digest::of(&bytes);

    // The manifest: named, else carried inside the component, else beside it.
    let carried = package::embedded_manifest_text(&bytes)
        .with_context(|| format!("cannot read `{}`", args.file.display()))?
        .map(str::to_owned);
    let beside =
        (args.manifest.is_none() && carried.is_none()).then(|| manifest_beside(&args.file));
    let manifest_file = args.manifest.clone().or(beside);
    let (manifest_text, manifest_pin) = match (&manifest_file, carried) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file).with_context(|| {
                format!(
                    "cannot read the manifest `{}` (a component that carries none needs one beside it, or `--manifest`)",
                    file.display()
                )
            })?;
            let pin = (inside(&root, file)?, Digest::of(text.as_bytes()));
            (text, Some(pin))
        }
        (None, Some(text)) => (text, None),
        (None, None) => bail!("no manifest: the component carries none and none is beside it"),
    };
    let manifest = Manifest::parse(&manifest_text).context("its manifest is not valid")?;
    match manifest.plugin_kind() {
        Some(k) if k == kind => {}
        Some(k) => bail!(
            "`{}` is a `{}` plugin (its manifest says), not a `{}` one",
            args.file.display(),
            k.name(),
            kind.name()
        ),
        None => bail!(
            "`{}` is a policy module, not a plugin: bind it under `[policies]`",
            args.file.display()
        ),
    }
    if let Some(pinned) = &manifest.sha256
        && *pinned != sha256
    {
        bail!(
            "its manifest pins sha256 {pinned}, but `{}` has sha256 {sha256}: they are not of the same build",
            args.file.display()
        );
    }

    let mut document: DocumentMut = env_text
        .parse()
        .with_context(|| format!("the environment file `{}` is not TOML", args.env.display()))?;
    let binding = binding_table(&mut document, kind)?;
    let before = binding
        .get("sha256")
        .and_then(Item::as_str)
        .map(str::to_owned);
    let same = before.as_deref() == Some(sha256.to_string().as_str());
    if let Some(old) = before.as_deref()
        && !same
        && old != UNPINNED
        && !args.replace
    {
        let old_path = binding.get("path").and_then(Item::as_str).unwrap_or("?");
        bail!(
            "the environment already binds `{}` to `{old_path}` (sha256 {old}); nothing was changed\nto bind `{}` (sha256 {sha256}) in its place, review it, then add `--replace`",
            kind.name(),
            args.file.display()
        );
    }
    set(binding, "path", &path);
    set(binding, "sha256", &sha256.to_string());
    match &manifest_pin {
        Some((manifest_path, manifest_sha256)) => {
            set(binding, "manifest", manifest_path);
            set(binding, "manifest-sha256", &manifest_sha256.to_string());
        }
        // The component carries its manifest: its own sha256 covers it.
        None => {
            binding.remove("manifest");
            binding.remove("manifest-sha256");
        }
    }
    let text = document.to_string();
    Environment::parse(&text).with_context(|| {
        format!(
            "with the binding, `{}` would not load; nothing was changed",
            args.env.display()
        )
    })?;
    if text != env_text {
        write_whole(&args.env, text.as_bytes())?;
    }

    let mut out = format!(
        "{} `{}` {} as `{}` in {}\n  sha256 {sha256}\n",
        if same { "already bound:" } else { "bound" },
        manifest.name,
        manifest.version,
        kind.name(),
        args.env.display(),
    );
    match &manifest_pin {
        Some((manifest_path, manifest_sha256)) => out.push_str(&format!(
            "  manifest {manifest_path}, sha256 {manifest_sha256}\n"
        )),
        None => out.push_str("  manifest inside the component (its sha256 covers it)\n"),
    }
    out.push_str("\nthe review of what it may reach, with the environment's grants:\n\n");
    out.push_str(&review::report(&review::Args {
        file: args.file.clone(),
        env: Some(args.env.clone()),
        since: None,
        manifest: manifest_file,
        signature: None,
        format: ReviewFormat::Text,
    })?);
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(Outcome::Ok)
}

fn kind(world: World) -> PluginKind {
    match world {
        World::DnsProvider => PluginKind::DnsProvider,
        World::PortProbe => PluginKind::PortProbe,
        World::ManagementStore => PluginKind::ManagementStore,
        World::ServerControl => PluginKind::ServerControl,
        World::PoolControl => PluginKind::PoolControl,
    }
}

/// `file` as the environment file writes it: relative to the environment's
/// directory `root`, with forward slashes, inside it.
fn inside(root: &Path, file: &Path) -> Result<String> {
    let canonical = |p: &Path| -> Result<PathBuf> {
        p.canonicalize()
            .with_context(|| format!("cannot read `{}`", p.display()))
    };
    let root = canonical(root)?;
    let relative = canonical(file)?
        .strip_prefix(&root)
        .map(Path::to_path_buf)
        .map_err(|_| {
            anyhow::anyhow!(
                "`{}` is outside the environment's directory `{}`: an environment binds files inside it only; copy it there (into `plugins/`, say) and add that copy",
                file.display(),
                root.display()
            )
        })?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Ok(parts.join("/"))
}

/// `[plugins.KIND]` of `document`, created (after the others) when missing.
fn binding_table(document: &mut DocumentMut, kind: PluginKind) -> Result<&mut Table> {
    let plugins = document
        .entry("plugins")
        .or_insert_with(|| {
            let mut table = Table::new();
            table.set_implicit(true);
            Item::Table(table)
        })
        .as_table_mut()
        .context("`plugins` in the environment file is not a table")?;
    plugins
        .entry(kind.name())
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_mut()
        .with_context(|| {
            format!(
                "`plugins.{}` in the environment file is not a table",
                kind.name()
            )
        })
}

/// Set `key` of `table` to `text`, keeping the comments around the old value.
fn set(table: &mut Table, key: &str, text: &str) {
    match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(value) => {
            let decor = value.decor().clone();
            *value = Value::from(text);
            *value.decor_mut() = decor;
        }
        None => {
            table.insert(key, toml_edit::value(text));
        }
    }
}
