//! A built plugin in an environment directory of its own, loaded into the real
//! `failback-runtime` with exactly the grants a test gives it: how an operator's
//! `failback.toml` runs it.

use std::path::Path;
use std::sync::Arc;

use cap_std::fs::Dir;
use failback_runtime::{
    CallError, ComponentCache, Digest, DnsProvider, Environment, MemoryAuditSink, PluginError,
    PortProbe, Runtime,
};
use tempfile::TempDir;

/// An environment directory with one plugin, and the runtime that loads it.
#[derive(Debug)]
pub struct Harness {
    pub env_dir: TempDir,
    pub audit: Arc<MemoryAuditSink>,
    runtime: Runtime,
    cache: ComponentCache,
}

impl Harness {
    pub fn new() -> Self {
        let env_dir = tempfile::tempdir().unwrap();
        // One cache for every test of the binary: the components compile once.
        let cache_root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("servers-component-cache");
        std::fs::create_dir_all(&cache_root).unwrap();
        let cache = ComponentCache::open(&cache_root).unwrap();
        let audit = Arc::new(MemoryAuditSink::new());
        let runtime = Runtime::new(audit.clone()).unwrap();
        Self {
            env_dir,
            audit,
            runtime,
            cache,
        }
    }

    fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let path = self.env_dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    /// Install `component` (with its built manifest) as `name`, bind it as
    /// `kind` with `tables` (TOML: its config and grants), and load it.
    fn load(
        &self,
        name: &str,
        component: &str,
        manifest: &str,
        kind: &str,
        tables: &str,
    ) -> Result<failback_runtime::Plugins, failback_runtime::LoadError> {
        let bytes = std::fs::read(component).unwrap();
        let manifest = std::fs::read(manifest).unwrap();
        self.write(&format!("plugins/{name}.wasm"), &bytes);
        self.write(&format!("plugins/{name}.plugin.toml"), &manifest);
        self.write(
            "failback.toml",
            format!(
                "[environment]\nname = \"servers\"\nzone = \"contoso.com\"\n\n\
                 [plugins.{kind}]\npath = \"plugins/{name}.wasm\"\nsha256 = \"{}\"\n\
                 manifest-sha256 = \"{}\"\n\n{tables}",
                Digest::of(&bytes),
                Digest::of(&manifest)
            ),
        );
        let dir = Dir::open_ambient_dir(self.env_dir.path(), cap_std::ambient_authority()).unwrap();
        let environment = Environment::load(&dir, "failback.toml").unwrap();
        self.runtime.load_plugins(
            &environment,
            &failback_runtime::TrustPolicy::open(),
            &dir,
            &self.cache,
            &|_| None,
        )
    }

    /// dns-rfc2136 talking to `server` with key `key_name`/`secret` (the secret
    /// given by reference, as a file), granted `granted`.
    pub fn dns(&self, server: &str, key_name: &str, secret: &str, granted: &str) -> DnsProvider {
        self.write("secrets/tsig.key", format!("{secret}\n"));
        let tables = format!(
            "[plugins.dns-provider.config]\n\
             server = \"{server}\"\nkey-name = \"{key_name}\"\n\
             key-secret = {{ file = \"secrets/tsig.key\" }}\ntimeout-ms = 3000\n\n\
             [plugins.dns-provider.grants.network]\ndns-server = [\"{granted}\"]\n"
        );
        self.load(
            "dns-rfc2136",
            failback_guests::paths::FAILBACK_DNS_RFC2136,
            failback_guests::paths::FAILBACK_DNS_RFC2136_MANIFEST,
            "dns-provider",
            &tables,
        )
        .unwrap()
        .dns_provider
        .unwrap()
    }

    /// dns-powerdns reaching the API at `api` (its base URL), granted
    /// `origin` under `/api/v1` with the header `x-api-key` bound to `key` (a
    /// file); `ca`, when given, is the PEM of the only CA it trusts.
    pub fn powerdns(&self, api: &str, origin: &str, key: &str, ca: Option<&str>) -> DnsProvider {
        self.powerdns_plugins(api, origin, key, ca, "")
            .unwrap()
            .dns_provider
            .unwrap()
    }

    /// [`Harness::powerdns`] with `extra` lines in the grant, or why it does
    /// not load.
    pub fn powerdns_plugins(
        &self,
        api: &str,
        origin: &str,
        key: &str,
        ca: Option<&str>,
        extra: &str,
    ) -> Result<failback_runtime::Plugins, failback_runtime::LoadError> {
        self.write("secrets/pdns.key", format!("{key}\n"));
        let ca_line = match ca {
            Some(pem) => {
                self.write("certs/ca.pem", pem);
                "ca = \"certs/ca.pem\"\n"
            }
            None => "",
        };
        let tables = format!(
            "[plugins.dns-provider.config]\napi = \"{api}\"\n\n\
             [plugins.dns-provider.grants.http.powerdns-api]\n\
             origin = \"{origin}\"\npath-prefix = \"/api/v1\"\n{ca_line}{extra}\n\
             headers = {{ x-api-key = {{ file = \"secrets/pdns.key\" }} }}\n"
        );
        self.load(
            "dns-powerdns",
            failback_guests::paths::FAILBACK_DNS_POWERDNS,
            failback_guests::paths::FAILBACK_DNS_POWERDNS_MANIFEST,
            "dns-provider",
            &tables,
        )
    }

    /// probe-xmpp granted `endpoints`.
    pub fn probe(&self, endpoints: &[String]) -> PortProbe {
        let list = endpoints
            .iter()
            .map(|e| format!("\"{e}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let tables = format!("[plugins.port-probe.grants.network]\nedge-endpoints = [{list}]\n");
        self.load(
            "probe-xmpp",
            failback_guests::paths::FAILBACK_PROBE_XMPP,
            failback_guests::paths::FAILBACK_PROBE_XMPP_MANIFEST,
            "port-probe",
            &tables,
        )
        .unwrap()
        .port_probe
        .unwrap()
    }
}

/// The plugin's own error, or a failure naming what came back instead.
pub fn plugin_error<T: std::fmt::Debug>(result: Result<T, CallError>) -> PluginError {
    match result {
        Err(CallError::Plugin { error, .. }) => error,
        other => panic!("expected the plugin's own error, got {other:?}"),
    }
}
