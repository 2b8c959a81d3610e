#![allow(
    clippy::print_stdout,
    reason = "cargo reads a build script's directives from its stdout"
)]

//! Builds every guest crate of the workspace for `wasm32-wasip2` with a nested
//! cargo (its own target directory, the `guest` profile), then writes
//! `guests.rs` into `OUT_DIR`: the path of each component, and the bytes of the
//! standard ones (lab plugins and policies) so the `failback` binary carries them.
//!
//! A guest crate is any crate under `plugins/`, `policies/` or `tests/guests/`
//! whose `[lib]` is a `cdylib`. The pattern is wasmtime's
//! `crates/test-programs/artifacts/build.rs`.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

const TARGET: &str = "wasm32-wasip2";

struct GuestCrate {
    package: String,
    group: &'static str,
    /// The crate's directory.
    dir: PathBuf,
    /// The crate's `plugin.toml`, when it has one (every field but `sha256`).
    manifest: Option<PathBuf>,
}

fn main() {
    if let Err(message) = run() {
        // A build script reports failure by exiting non-zero; the message is shown by cargo.
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .ok_or("host/guests is not two levels below the workspace root")?
        .to_path_buf();
    let out_dir = PathBuf::from(var("OUT_DIR")?);
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out (or one level deeper with
    // --target); find <target> as the ancestor that holds CACHEDIR.TAG.
    let target_dir = out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.join("target"));
    let guest_target_dir = target_dir.join("guests");

    let watched = ["wit", "plugins", "policies", "tests/guests"].map(|dir| root.join(dir));
    for dir in &watched {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    // The workspace manifest holds the `guest` profile the guests are built
    // with: a change to it must rebuild them.
    for file in ["Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }

    let guests = discover(&root)?;
    // A crate the guests use by path from elsewhere in the workspace (the
    // transition crate the policy SDK applies changes with) is guest code too.
    for dir in path_dependencies(&root, &guests)? {
        if !watched
            .iter()
            .any(|w| dir.starts_with(w.canonicalize().unwrap_or_else(|_| w.clone())))
        {
            println!("cargo:rerun-if-changed={}", dir.display());
        }
    }
    ensure_target()?;
    build(&root, &guest_target_dir, &guests)?;
    write_module(&out_dir, &guest_target_dir, &guests)
}

fn var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|_| format!("cargo did not set `{name}`"))
}

/// Every guest crate, sorted by package name so that the generated module is stable.
fn discover(root: &Path) -> Result<Vec<GuestCrate>, String> {
    let mut guests = Vec::new();
    for (dir, group) in [
        ("plugins", "plugin"),
        ("policies", "policy"),
        ("tests/guests", "test"),
    ] {
        let Ok(entries) = fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let manifest_path = entry.path().join("Cargo.toml");
            let Ok(text) = fs::read_to_string(&manifest_path) else {
                continue;
            };
            let manifest: toml::Table = text
                .parse()
                .map_err(|e| format!("`{}`: {e}", manifest_path.display()))?;
            let is_cdylib = manifest
                .get("lib")
                .and_then(|lib| lib.get("crate-type"))
                .and_then(|types| types.as_array())
                .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
            if !is_cdylib {
                continue;
            }
            let package = manifest
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str())
                .ok_or_else(|| format!("`{}` has no package name", manifest_path.display()))?;
            let manifest = Some(entry.path().join("plugin.toml")).filter(|path| path.exists());
            guests.push(GuestCrate {
                package: package.to_owned(),
                group,
                dir: entry.path(),
                manifest,
            });
        }
    }
    guests.sort_by(|a, b| a.package.cmp(&b.package));
    Ok(guests)
}

/// The directory of every crate the guests depend on by path, directly or
/// through another such crate (`path = …`, or `workspace = true` naming a
/// workspace dependency with a path).
fn path_dependencies(root: &Path, guests: &[GuestCrate]) -> Result<Vec<PathBuf>, String> {
    let read = |dir: &Path| -> Result<toml::Table, String> {
        let path = dir.join("Cargo.toml");
        fs::read_to_string(&path)
            .map_err(|e| format!("`{}`: {e}", path.display()))?
            .parse()
            .map_err(|e| format!("`{}`: {e}", path.display()))
    };
    let workspace = read(root)?;
    let workspace_path = |name: &str| {
        workspace
            .get("workspace")
            .and_then(|w| w.get("dependencies"))
            .and_then(|d| d.get(name))
            .and_then(|d| d.get("path"))
            .and_then(|p| p.as_str())
            .map(|p| root.join(p))
    };
    let mut found: Vec<PathBuf> = Vec::new();
    let mut pending: Vec<PathBuf> = guests.iter().map(|g| g.dir.clone()).collect();
    while let Some(dir) = pending.pop() {
        let manifest = read(&dir)?;
        for section in ["dependencies", "build-dependencies"] {
            let Some(dependencies) = manifest.get(section).and_then(|d| d.as_table()) else {
                continue;
            };
            for (name, dependency) in dependencies {
                let path = match dependency.get("path").and_then(|p| p.as_str()) {
                    Some(path) => Some(dir.join(path)),
                    None if dependency.get("workspace").and_then(toml::Value::as_bool)
                        == Some(true) =>
                    {
                        workspace_path(name)
                    }
                    None => None,
                };
                if let Some(path) = path.and_then(|p| p.canonicalize().ok())
                    && !found.contains(&path)
                {
                    found.push(path.clone());
                    pending.push(path);
                }
            }
        }
    }
    Ok(found)
}

/// `RUSTUP_AUTO_INSTALL=0` machines do not add the toolchain file's targets by
/// themselves: add `wasm32-wasip2` when the sysroot lacks it.
fn ensure_target() -> Result<(), String> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run `{rustc} --print sysroot`: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).exists() {
        return Ok(());
    }
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Ok(toolchain) = env::var("RUSTUP_TOOLCHAIN") {
        rustup.args(["--toolchain", &toolchain]);
    }
    let status = rustup
        .status()
        .map_err(|e| format!("the `{TARGET}` target is missing and rustup cannot be run: {e}"))?;
    if !status.success() {
        return Err(format!(
            "the `{TARGET}` target is missing and `rustup target add {TARGET}` failed"
        ));
    }
    Ok(())
}

fn build(root: &Path, target_dir: &Path, guests: &[GuestCrate]) -> Result<(), String> {
    if guests.is_empty() {
        return Ok(());
    }
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(&cargo);
    command
        .current_dir(root)
        .args(["build", "--target", TARGET, "--profile", "guest"])
        .arg("--target-dir")
        .arg(target_dir);
    for guest in guests {
        command.args(["--package", &guest.package]);
    }
    // The outer build's flags are for the host, not for the guests.
    for name in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_LLVM_COV",
        "LLVM_PROFILE_FILE",
    ] {
        command.env_remove(name);
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run `{cargo}`: {e}"))?;
    if !status.success() {
        return Err("building the wasm32-wasip2 guests failed (see above)".to_owned());
    }
    Ok(())
}

fn write_module(out_dir: &Path, target_dir: &Path, guests: &[GuestCrate]) -> Result<(), String> {
    let mut paths = String::new();
    let mut standard = String::new();
    for guest in guests {
        let file_stem = guest.package.replace('-', "_");
        let component = target_dir
            .join(TARGET)
            .join("guest")
            .join(format!("{file_stem}.wasm"));
        let bytes = fs::read(&component).map_err(|e| {
            format!(
                "the guest `{}` built but `{}` cannot be read: {e}",
                guest.package,
                component.display()
            )
        })?;
        let sha256 = sha256_hex(&bytes);
        let constant = file_stem.to_uppercase();
        let component = component.display().to_string();
        let _ = writeln!(
            paths,
            "    /// `{}` ({})\n    pub const {constant}: &str = {component:?};",
            guest.package, guest.group
        );
        let manifest = match &guest.manifest {
            Some(source) => {
                let path = write_manifest(out_dir, &file_stem, source, &sha256)?;
                let _ = writeln!(
                    paths,
                    "    /// The manifest of `{}`, with the built component's sha256\n    pub const {constant}_MANIFEST: &str = {path:?};",
                    guest.package
                );
                format!("Some(include_str!({path:?}))")
            }
            None => "None".to_owned(),
        };
        if guest.group != "test" {
            let group = if guest.group == "plugin" {
                "Plugin"
            } else {
                "Policy"
            };
            let _ = writeln!(
                standard,
                "    Guest {{ package: {:?}, group: Group::{group}, bytes: include_bytes!({component:?}), sha256: {sha256:?}, manifest: {manifest} }},",
                guest.package
            );
        }
    }
    let module = format!(
        "/// The path of each guest component (and its manifest) in the build tree.\npub mod paths {{\n{paths}}}\n\n\
         /// The standard guests, carried by the binary.\npub static STANDARD: &[Guest] = &[\n{standard}];\n"
    );
    fs::write(out_dir.join("guests.rs"), module).map_err(|e| format!("cannot write guests.rs: {e}"))
}

/// The crate's `plugin.toml` with the `sha256` of the built component as its first
/// line (a top-level key must come before the first table header).
fn write_manifest(
    out_dir: &Path,
    file_stem: &str,
    source: &Path,
    hex: &str,
) -> Result<String, String> {
    let text = fs::read_to_string(source)
        .map_err(|e| format!("cannot read `{}`: {e}", source.display()))?;
    let path = out_dir.join(format!("{file_stem}.plugin.toml"));
    fs::write(&path, format!("sha256 = \"{hex}\"\n{text}"))
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    Ok(path.display().to_string())
}

/// The sha256 of `bytes`, 64 lowercase hex digits.
fn sha256_hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(64);
    for byte in Sha256::digest(bytes) {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}
