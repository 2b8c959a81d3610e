use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_std::fs::Dir;
use failback_runtime::{
    ComponentCache, Digest, Environment, MemoryAuditSink, Plugins, Runtime, RuntimeOptions,
};
use tempfile::TempDir;

/// The source manifest of a test guest crate, with `sha256` of its built component added.
pub fn stamped_manifest(crate_dir: &str, component: &[u8]) -> String {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/guests")
        .join(crate_dir)
        .join("plugin.toml");
    let text = std::fs::read_to_string(source).unwrap();
    format!("sha256 = \"{}\"\n{text}", Digest::of(component))
}

/// An environment directory, a runtime auditing in memory and a cache.
pub struct Fixture {
    pub env_dir: TempDir,
    pub cache_dir: TempDir,
    pub audit: Arc<MemoryAuditSink>,
    pub runtime: Runtime,
    pub cache: ComponentCache,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with_options(RuntimeOptions::default())
    }

    pub fn with_options(options: RuntimeOptions) -> Self {
        let env_dir = tempfile::tempdir().unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        let audit = Arc::new(MemoryAuditSink::new());
        let runtime = Runtime::with_options(audit.clone(), options).unwrap();
        let cache = ComponentCache::open(cache_dir.path()).unwrap();
        Self {
            env_dir,
            cache_dir,
            audit,
            runtime,
            cache,
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.env_dir.path().join(relative)
    }

    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub fn dir(&self) -> Dir {
        Dir::open_ambient_dir(self.env_dir.path(), cap_std::ambient_authority()).unwrap()
    }

    /// Copy a built guest into `plugins/<name>.wasm` with `manifest` beside it;
    /// the `[plugins.<kind>]` table binding it (without grants), the component
    /// and the manifest pinned by their sha256.
    pub fn install(&self, name: &str, component: &str, manifest: &str, kind: &str) -> String {
        let bytes = std::fs::read(component).unwrap();
        self.write(&format!("plugins/{name}.wasm"), &bytes);
        self.write(&format!("plugins/{name}.plugin.toml"), manifest);
        format!(
            "[plugins.{kind}]\npath = \"plugins/{name}.wasm\"\nsha256 = \"{}\"\nmanifest-sha256 = \"{}\"\n",
            Digest::of(&bytes),
            Digest::of(manifest.as_bytes())
        )
    }

    /// Write `failback.toml` with `plugins` (TOML text) and load it.
    pub fn environment(&self, plugins: &str) -> Environment {
        self.write(
            "failback.toml",
            format!("[environment]\nname = \"test\"\nzone = \"contoso.com\"\n\n{plugins}"),
        );
        Environment::load(&self.dir(), "failback.toml").unwrap()
    }

    pub fn load(&self, environment: &Environment) -> Result<Plugins, failback_runtime::LoadError> {
        let dir = self.dir();
        let trust = environment.trust.resolve(&dir).unwrap();
        self.runtime
            .load_plugins(environment, &trust, &dir, &self.cache, &|_| None)
    }
}

pub fn good_component() -> Vec<u8> {
    std::fs::read(failback_guests::paths::FAILBACK_TEST_GOOD).unwrap()
}

/// The well-behaved guest installed as `kind`, with `config` (TOML lines).
pub fn good(fixture: &Fixture, kind: &str, config: &str) -> Environment {
    let bytes = good_component();
    let manifest = stamped_manifest("good", &bytes).replace("dns-provider", kind);
    let mut table = fixture.install(
        "good",
        failback_guests::paths::FAILBACK_TEST_GOOD,
        &manifest,
        kind,
    );
    if !config.is_empty() {
        table.push_str(&format!("\n[plugins.{kind}.config]\n{config}\n"));
    }
    fixture.environment(&table)
}
