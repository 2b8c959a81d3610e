//! `failback plugin new`: write a plugin crate a vendor builds outside this
//! repository — its own `Cargo.toml` (wit-bindgen from crates.io, at the
//! version the workspace builds its plugins with), the WIT files of
//! `failback:plugin` as this binary carries them from `wit/plugin`, the
//! manifest, a README with the commands, and one source file per world whose
//! every function answers "not implemented".
//!
//! The templates are in `host/cli/template/`; `{name}`-style placeholders are
//! filled here.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::Outcome;
use crate::cli::World;

/// The plugin WIT package, carried from `wit/plugin` (a test checks that
/// every file there is here).
const WIT: [(&str, &str); 6] = [
    ("dns.wit", include_str!("../../../../wit/plugin/dns.wit")),
    (
        "management.wit",
        include_str!("../../../../wit/plugin/management.wit"),
    ),
    (
        "pools.wit",
        include_str!("../../../../wit/plugin/pools.wit"),
    ),
    (
        "probe.wit",
        include_str!("../../../../wit/plugin/probe.wit"),
    ),
    (
        "servers.wit",
        include_str!("../../../../wit/plugin/servers.wit"),
    ),
    (
        "types.wit",
        include_str!("../../../../wit/plugin/types.wit"),
    ),
];

/// The workspace manifest: the wit-bindgen dependency the template uses is
/// the one the workspace's plugins are built with.
const WORKSPACE: &str = include_str!("../../../../Cargo.toml");

const CARGO_TOML: &str = include_str!("../../template/Cargo.toml.in");
const PLUGIN_TOML: &str = include_str!("../../template/plugin.toml.in");
const README: &str = include_str!("../../template/README.md.in");
const GITIGNORE: &str = include_str!("../../template/gitignore");

/// What differs between the worlds' crates.
struct Template {
    world: &'static str,
    interface: &'static str,
    /// What the plugin does, after "a plugin of the world:".
    purpose: &'static str,
    source: &'static str,
    /// The manifest's network capability, requested or shown commented out.
    network: &'static str,
    /// Arguments of `plugin test` beyond the component and the world.
    test_args: &'static str,
    test_notes: &'static str,
}

/// A network or HTTP capability the plugin may uncomment and rename.
const NETWORK_EXAMPLE: &str = "\n# A network endpoint the plugin talks to (`--grant api=192.0.2.10:443`):\n\
# [[capabilities.network]]\n# name = \"api\"\n# protocol = \"tcp\"\n\
\n# Or an HTTPS API, through the host's wasi:http (the `wasip2` crate's `http`\n\
# module): the environment grants one origin and the headers the host adds from\n\
# secrets (`--grant rest-api=https://api.example.com:443/v1`,\n\
# `--grant-header rest-api:x-api-key=API_KEY`); the plugin never holds the key.\n\
# [[capabilities.http]]\n# name = \"rest-api\"\n# methods = [\"GET\", \"PATCH\"]\n";

fn template(world: World) -> Template {
    match world {
        World::DnsProvider => Template {
            world: "dns-provider",
            interface: "dns",
            purpose: "records of the external zone",
            source: include_str!("../../template/dns-provider.rs"),
            network: NETWORK_EXAMPLE,
            test_args: " \\\n    --zone test.example.com",
            test_notes: "`--zone` names a zone of your test DNS service: the cases replace and delete\n\
                         record sets under `failback-kit.<zone>` only, and delete what they wrote.\n",
        },
        World::PortProbe => Template {
            world: "port-probe",
            interface: "probe",
            purpose: "external reachability of an endpoint",
            source: include_str!("../../template/port-probe.rs"),
            network: "\n# The endpoints the probe may connect to, as the environment lists them.\n\
                      # `failback plugin test` grants its loopback listeners here.\n\
                      [[capabilities.network]]\nname = \"edge-endpoints\"\nprotocol = \"tcp\"\n",
            test_args: "",
            test_notes: "The kit probes listeners it starts on 127.0.0.1 (an XMPP server, a service that\n\
                         is not XMPP, a silent one, a closed port and a filtered one) and grants their\n\
                         addresses to the `edge-endpoints` capability for the run. Add\n\
                         `--xmpp-server ADDR --xmpp-domain DOMAIN` to probe a real XMPP server too.\n",
        },
        World::ManagementStore => Template {
            world: "management-store",
            interface: "management",
            purpose: "the topology, the sites' routes and replication",
            source: include_str!("../../template/management-store.rs"),
            network: NETWORK_EXAMPLE,
            test_args: "",
            test_notes: "The cases publish the topology they read (unchanged) and enable it, set the\n\
                         first site's routes and set them back, and replicate to a replica.\n",
        },
        World::ServerControl => Template {
            world: "server-control",
            interface: "servers",
            purpose: "services and local setup on each server",
            source: include_str!("../../template/server-control.rs"),
            network: NETWORK_EXAMPLE,
            test_args: " \\\n    --machine edge1.test.example.com",
            test_notes: "`--machine` names a server of your test environment: the cases start its Lync\n\
                         services and run local setup on it.\n",
        },
        World::PoolControl => Template {
            world: "pool-control",
            interface: "pools",
            purpose: "Front End pool failover state and failback",
            source: include_str!("../../template/pool-control.rs"),
            network: NETWORK_EXAMPLE,
            test_args: "",
            test_notes: "The cases fail back a failed-over pool of your test environment, when it has\n\
                         one, and try the failbacks the host must never make.\n",
        },
    }
}

/// The `wit-bindgen` line of the workspace's `[workspace.dependencies]`.
fn wit_bindgen() -> Result<String> {
    let workspace: toml::Table = WORKSPACE
        .parse()
        .context("the workspace manifest carried by this binary")?;
    let dependency = workspace
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.get("wit-bindgen"))
        .and_then(|d| d.as_table())
        .context("the workspace manifest has no wit-bindgen dependency table")?;
    // The version first, as a person writes it.
    let mut keys: Vec<&String> = dependency.keys().collect();
    keys.sort_by_key(|key| *key != "version");
    let fields: Vec<String> = keys
        .into_iter()
        .map(|key| format!("{key} = {}", dependency[key]))
        .collect();
    Ok(format!("wit-bindgen = {{ {} }}", fields.join(", ")))
}

/// Fill the `{key}` placeholders of `text`.
fn fill(text: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(text.to_owned(), |text, (key, value)| {
        text.replace(&format!("{{{key}}}"), value)
    })
}

/// Every file of the crate, by its path in the crate.
fn files(name: &str, world: World) -> Result<Vec<(PathBuf, String)>> {
    let template = template(world);
    let crate_name = name.replace('-', "_");
    let wit_bindgen = wit_bindgen()?;
    let version = format!("failback {}", env!("CARGO_PKG_VERSION"));
    let values = [
        ("name", name),
        ("crate_name", crate_name.as_str()),
        ("world", template.world),
        ("interface", template.interface),
        ("purpose", template.purpose),
        ("wit_bindgen", wit_bindgen.as_str()),
        ("failback_version", version.as_str()),
        ("network", template.network),
        ("test_args", template.test_args),
        ("test_notes", template.test_notes),
    ];
    let mut files = vec![
        (PathBuf::from("Cargo.toml"), fill(CARGO_TOML, &values)),
        (PathBuf::from("plugin.toml"), fill(PLUGIN_TOML, &values)),
        (PathBuf::from("README.md"), fill(README, &values)),
        (PathBuf::from(".gitignore"), GITIGNORE.to_owned()),
        (PathBuf::from("src/lib.rs"), fill(template.source, &values)),
    ];
    for (file, text) in WIT {
        files.push((Path::new("wit").join(file), text.to_owned()));
    }
    Ok(files)
}

/// `failback plugin new NAME --world WORLD [DIR]`.
pub fn new(name: &str, world: World, dir: Option<&Path>) -> Result<Outcome> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || name.starts_with(|c: char| c.is_ascii_digit() || c == '-')
    {
        bail!(
            "plugin name `{name}` must start with a lowercase letter and hold only lowercase \
             letters, digits and `-` (it names the crate and the manifest)"
        );
    }
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_path_buf);
    let files = files(name, world)?;
    match std::fs::read_dir(&dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "`{}` is not empty: `plugin new` writes only into a new or empty directory, \
                     so nothing there is overwritten",
                    dir.display()
                );
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read `{}`", dir.display()));
        }
    }
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        std::fs::write(&path, text)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    let mut out = format!(
        "wrote the {} plugin `{name}` into {}:\n",
        template(world).world,
        dir.display()
    );
    for (path, _) in &files {
        out.push_str(&format!("  {}\n", path.display()));
    }
    out.push_str("build it with `cargo build --release --target wasm32-wasip2`; its README says how to test it\n");
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn the_template_carries_every_file_of_the_plugin_wit_package() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit/plugin");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        on_disk.sort();
        let carried: Vec<&str> = WIT.iter().map(|(name, _)| *name).collect();
        assert_eq!(on_disk, carried);
    }

    #[test]
    fn the_template_depends_on_the_workspace_wit_bindgen() {
        let line = wit_bindgen().unwrap();
        let parsed: toml::Table = line.parse().unwrap();
        assert!(parsed["wit-bindgen"]["version"].is_str(), "{line}");
    }
}
