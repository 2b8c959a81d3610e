//! Runtime benchmarks (DESIGN §5): instantiating a plugin from the compiled
//! cache (pooling allocator + `InstancePre`), a no-op call, and loading a cached
//! compiled component against compiling it; a whole plugin load from the cache,
//! unsigned against signed with its signature verified. Results and the command
//! are in BENCHMARKS.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmarks fail by panicking"
)]

use std::sync::Arc;

use cap_std::fs::Dir;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use failback_core::observed::RecordType;
use failback_runtime::signature::{self, Placement};
use failback_runtime::{
    CacheOutcome, ComponentCache, Digest, DnsProvider, Environment, NullAuditSink, PluginKind,
    Runtime, SigningKey, TrustPolicy,
};

struct Setup {
    _env_dir: tempfile::TempDir,
    cache_dir: tempfile::TempDir,
    runtime: Runtime,
    cache: ComponentCache,
    bytes: Vec<u8>,
    dns: DnsProvider,
}

fn setup() -> Setup {
    let env_dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(Arc::new(NullAuditSink)).unwrap();
    let cache = ComponentCache::open(cache_dir.path()).unwrap();
    let bytes = std::fs::read(failback_guests::paths::FAILBACK_TEST_GOOD).unwrap();
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/guests/good/plugin.toml"),
    )
    .unwrap();
    let digest = Digest::of(&bytes);
    std::fs::create_dir(env_dir.path().join("plugins")).unwrap();
    std::fs::write(env_dir.path().join("plugins/good.wasm"), &bytes).unwrap();
    let manifest = format!("sha256 = \"{digest}\"\n{source}");
    std::fs::write(env_dir.path().join("plugins/good.plugin.toml"), &manifest).unwrap();
    let manifest_digest = Digest::of(manifest.as_bytes());
    std::fs::write(
        env_dir.path().join("failback.toml"),
        format!(
            "[environment]\nname = \"bench\"\nzone = \"contoso.com\"\n\
             [plugins.dns-provider]\npath = \"plugins/good.wasm\"\nsha256 = \"{digest}\"\n\
             manifest-sha256 = \"{manifest_digest}\"\n"
        ),
    )
    .unwrap();
    let dir = Dir::open_ambient_dir(env_dir.path(), cap_std::ambient_authority()).unwrap();
    let environment = Environment::load(&dir, "failback.toml").unwrap();
    let dns = runtime
        .load_plugins(&environment, &TrustPolicy::open(), &dir, &cache, &|_| None)
        .unwrap()
        .dns_provider
        .unwrap();
    Setup {
        _env_dir: env_dir,
        cache_dir,
        runtime,
        cache,
        bytes,
        dns,
    }
}

fn benches(c: &mut Criterion) {
    let s = setup();
    let digest = Digest::of(&s.bytes);

    c.bench_function("instantiate from InstancePre (pooling)", |b| {
        b.iter(|| s.dns.plugin().instantiate().unwrap());
    });

    c.bench_function(
        "no-op call (fresh store + instantiate + dns.delete-rrset)",
        |b| {
            b.iter(|| {
                s.dns
                    .delete_rrset("contoso.com", "x.contoso.com", RecordType::A)
                    .unwrap();
            });
        },
    );

    signed_load(c, &s);

    c.bench_function("load cached compiled component (digest known)", |b| {
        b.iter(|| {
            let (_, outcome) = s
                .runtime
                .compile_verified(&s.cache, digest, &s.bytes)
                .unwrap();
            assert_eq!(outcome, CacheOutcome::Hit);
        });
    });

    c.bench_function(
        "load cached compiled component (with sha256 of the component)",
        |b| {
            b.iter(|| {
                let (_, outcome) = s.runtime.compile(&s.cache, &s.bytes).unwrap();
                assert_eq!(outcome, CacheOutcome::Hit);
            });
        },
    );

    let entry = s
        .cache_dir
        .path()
        .join(ComponentCache::entry_name(digest, s.runtime.engine_hash()));
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function("compile component and store it (cache miss)", |b| {
        b.iter_batched(
            || std::fs::remove_file(&entry).unwrap(),
            |()| {
                let (_, outcome) = s
                    .runtime
                    .compile_verified(&s.cache, digest, &s.bytes)
                    .unwrap();
                assert_eq!(outcome, CacheOutcome::Compiled);
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

/// A whole plugin load from the cache: a development build (its manifest a
/// file beside it, nothing to verify) against the same component packed,
/// signed and judged by a trust policy requiring signatures; and the signature
/// check alone.
fn signed_load(c: &mut Criterion, s: &Setup) {
    let key = SigningKey::from_seed([7; 32], "bench");
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/guests/good/plugin.toml"),
    )
    .unwrap();
    let digest = Digest::of(&s.bytes);
    let packed = failback_runtime::pack(&s.bytes, &source).unwrap().bytes;
    let signed = signature::sign(&packed, &key, Placement::Embedded)
        .unwrap()
        .component;
    let env_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(env_dir.path().join("plugins")).unwrap();
    std::fs::write(env_dir.path().join("plugins/good.wasm"), &s.bytes).unwrap();
    let manifest = format!("sha256 = \"{digest}\"\n{source}");
    std::fs::write(env_dir.path().join("plugins/good.plugin.toml"), &manifest).unwrap();
    std::fs::write(env_dir.path().join("plugins/signed.wasm"), &signed).unwrap();
    let head = "[environment]\nname = \"bench\"\nzone = \"contoso.com\"\n[plugins.dns-provider]\n";
    std::fs::write(
        env_dir.path().join("development.toml"),
        format!(
            "{head}path = \"plugins/good.wasm\"\nsha256 = \"{digest}\"\nmanifest-sha256 = \"{}\"\n",
            Digest::of(manifest.as_bytes())
        ),
    )
    .unwrap();
    std::fs::write(
        env_dir.path().join("signed.toml"),
        format!(
            "{head}path = \"plugins/signed.wasm\"\nsha256 = \"{}\"\n",
            Digest::of(&signed)
        ),
    )
    .unwrap();
    let dir = Dir::open_ambient_dir(env_dir.path(), cap_std::ambient_authority()).unwrap();
    let binding = |file: &str| {
        Environment::load(&dir, file).unwrap().plugins[&PluginKind::DnsProvider].clone()
    };
    let (development, signed_binding) = (binding("development.toml"), binding("signed.toml"));
    let open = TrustPolicy::open();
    let strict = TrustPolicy::open()
        .requiring_signatures(true)
        .trusting(key.public().clone(), None);

    let mut group = c.benchmark_group("plugin load (cached)");
    group.bench_function("development build, unsigned", |b| {
        b.iter(|| {
            s.runtime
                .load_plugin(&development, &open, &dir, &s.cache, &|_| None)
                .unwrap()
        });
    });
    group.bench_function("packed, signature verified", |b| {
        b.iter(|| {
            let plugin = s
                .runtime
                .load_plugin(&signed_binding, &strict, &dir, &s.cache, &|_| None)
                .unwrap();
            assert!(matches!(plugin.signer(), failback_runtime::Signer::Key(_)));
        });
    });
    group.bench_function("signature check alone", |b| {
        b.iter(|| {
            let found =
                signature::check(&signed, None, std::slice::from_ref(key.public())).unwrap();
            assert_eq!(found.verified.len(), 1);
        });
    });
    group.finish();
}

criterion_group!(runtime, benches);
criterion_main!(runtime);
