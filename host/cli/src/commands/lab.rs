//! `failback lab init` and `failback lab scenarios`: write the embedded default
//! deployment, with the lab plugins the binary carries and the environment file
//! that binds them.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use failback_core::lab::{self, Scenario};
use failback_guests::Group;
use failback_runtime::Digest;
use failback_runtime::manifest::Manifest;

use crate::Outcome;

/// The directory of the environment that holds the lab plugins.
const PLUGIN_DIR: &str = "plugins";

pub fn scenarios() -> Result<Outcome> {
    let mut out = String::new();
    for scenario in Scenario::ALL {
        let _ = writeln!(out, "{:<28} {}", scenario.name(), scenario.description());
    }
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(Outcome::Ok)
}

pub fn init(path: &Path, scenario: Scenario, sites: u32) -> Result<Outcome> {
    write_with_sites(path, scenario, sites)?;
    let grown = if sites == lab::LAB_SITES {
        String::new()
    } else {
        format!(" with {sites} sites")
    };
    eprintln!(
        "wrote the `{}` lab{grown} into {}; run `failback plan` there",
        scenario.name(),
        path.display()
    );
    Ok(Outcome::Ok)
}

/// Write the lab of `scenario` into `path`, which must be absent or empty.
pub fn write(path: &Path, scenario: Scenario) -> Result<()> {
    write_with_sites(path, scenario, lab::LAB_SITES)
}

/// As [`write`], the deployment grown to `sites` sites by bystanders
/// ([`lab::files_with_sites`]). Nothing is written when `sites` is out of range.
pub fn write_with_sites(path: &Path, scenario: Scenario, sites: u32) -> Result<()> {
    let files = lab::files_with_sites(scenario, sites)?;
    match std::fs::read_dir(path) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "`{}` is not empty: `lab init` writes only into a new or empty directory, so nothing there is overwritten",
                    path.display()
                );
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(path)
                .with_context(|| format!("cannot create `{}`", path.display()))?;
        }
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read `{}`", path.display()));
        }
    }
    let dir = Dir::open_ambient_dir(path, ambient_authority())
        .with_context(|| format!("cannot open `{}`", path.display()))?;

    for (file, bytes) in files {
        put(&dir, &file, &bytes)?;
    }
    dir.create_dir_all("writes")
        .context("cannot create `writes`")?;
    let environment = write_plugins(&dir)?;
    put(
        &dir,
        failback_runtime::environment::ENVIRONMENT_FILE,
        environment.as_bytes(),
    )
}

fn put(dir: &Dir, file: &str, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = Path::new(file)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        dir.create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    dir.write(file, bytes)
        .with_context(|| format!("cannot write `{file}`"))
}

/// Write each lab plugin and its manifest under `plugins/`, and return the
/// environment file binding them, granting each exactly what it requests.
fn write_plugins(dir: &Dir) -> Result<String> {
    let mut environment = format!(
        "# The lab's environment: each plugin kind bound to a lab plugin, by path and\n\
         # sha256 (its manifest pinned by sha256 too), granted exactly the\n\
         # directories its manifest requests.\n\n\
         [environment]\nname = \"contoso lab\"\nzone = \"{}\"\n\n\
         # Only signed components run: the lab's plugins and the standard policies\n\
         # are the ones the failback binary carries, trusted as the binary is\n\
         # (`built-in`, docs/environment.md). Add `keys = [...]` to trust a vendor.\n\
         [trust]\nrequire-signatures = true\n",
        lab::LAB_ZONE
    );
    let mut bound = 0;
    for guest in failback_guests::STANDARD {
        if guest.group != Group::Plugin || !guest.package.starts_with("failback-lab-") {
            continue;
        }
        let manifest_text = guest
            .manifest
            .with_context(|| format!("the plugin `{}` carries no manifest", guest.package))?;
        let manifest = Manifest::parse(manifest_text)
            .with_context(|| format!("the manifest of `{}`", guest.package))?;
        let component = format!("{PLUGIN_DIR}/{}.wasm", manifest.name);
        let manifest_file = format!("{PLUGIN_DIR}/{}.plugin.toml", manifest.name);
        put(dir, &component, guest.bytes)?;
        put(dir, &manifest_file, manifest_text.as_bytes())?;
        let sha256 = manifest
            .sha256
            .with_context(|| format!("the manifest of `{}` has no sha256", guest.package))?;

        let kind = manifest.role.name();
        let manifest_sha256 = Digest::of(manifest_text.as_bytes());
        let _ = write!(
            environment,
            "\n[plugins.{kind}]\npath = \"{component}\"\nsha256 = \"{sha256}\"\nmanifest = \"{manifest_file}\"\nmanifest-sha256 = \"{manifest_sha256}\"\n"
        );
        if !manifest.capabilities.dirs.is_empty() {
            let _ = writeln!(environment, "\n[plugins.{kind}.grants.dirs]");
            for request in &manifest.capabilities.dirs {
                let _ = writeln!(
                    environment,
                    "{} = {{ path = \"{}\", mode = \"{}\" }}",
                    request.name, request.name, request.mode
                );
            }
        }
        bound += 1;
    }
    if bound != 5 {
        bail!("the binary carries {bound} lab plugins, not one per plugin kind (5)");
    }
    Ok(environment)
}
