use failback_runtime::{CacheOutcome, ComponentCache, Digest};

use crate::common::{Fixture, good_component};

fn entry(fixture: &Fixture, bytes: &[u8]) -> std::path::PathBuf {
    fixture.cache_dir.path().join(ComponentCache::entry_name(
        Digest::of(bytes),
        fixture.runtime.engine_hash(),
    ))
}

#[test]
fn a_component_is_compiled_once_then_loaded_from_the_cache() {
    let fixture = Fixture::new();
    let bytes = good_component();
    let (_, outcome) = fixture.runtime.compile(&fixture.cache, &bytes).unwrap();
    assert_eq!(outcome, CacheOutcome::Compiled);
    assert!(entry(&fixture, &bytes).is_file());
    let (_, outcome) = fixture.runtime.compile(&fixture.cache, &bytes).unwrap();
    assert_eq!(outcome, CacheOutcome::Hit);
}

#[test]
fn the_entry_name_holds_the_digest_and_the_engine_hash() {
    let fixture = Fixture::new();
    let bytes = good_component();
    let name = ComponentCache::entry_name(Digest::of(&bytes), fixture.runtime.engine_hash());
    assert!(name.starts_with(&Digest::of(&bytes).to_string()));
    assert!(name.contains(fixture.runtime.engine_hash()));
    assert_eq!(fixture.runtime.engine_hash().len(), 16);
    // Another engine configuration would name another entry: a stale entry is
    // never found, let alone run.
    let other = ComponentCache::entry_name(Digest::of(&bytes), "0000000000000000");
    assert_ne!(name, other);
}

#[test]
fn a_corrupt_entry_is_recompiled_and_replaced_not_run() {
    let fixture = Fixture::new();
    let bytes = good_component();
    fixture.runtime.compile(&fixture.cache, &bytes).unwrap();
    let path = entry(&fixture, &bytes);
    std::fs::write(&path, b"\x7fELF garbage that is not a compiled component").unwrap();
    let (_, outcome) = fixture.runtime.compile(&fixture.cache, &bytes).unwrap();
    assert_eq!(outcome, CacheOutcome::Replaced);
    let (_, outcome) = fixture.runtime.compile(&fixture.cache, &bytes).unwrap();
    assert_eq!(outcome, CacheOutcome::Hit);
}

#[test]
fn a_truncated_entry_is_recompiled_and_replaced() {
    let fixture = Fixture::new();
    let bytes = good_component();
    fixture.runtime.compile(&fixture.cache, &bytes).unwrap();
    let path = entry(&fixture, &bytes);
    let whole = std::fs::read(&path).unwrap();
    std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    let (_, outcome) = fixture.runtime.compile(&fixture.cache, &bytes).unwrap();
    assert_eq!(outcome, CacheOutcome::Replaced);
    assert_eq!(std::fs::read(&path).unwrap().len(), whole.len());
}

#[cfg(unix)]
#[test]
fn an_entry_is_replaced_by_rename_never_written_in_place() {
    use std::os::unix::fs::MetadataExt as _;
    let fixture = Fixture::new();
    let bytes = good_component();
    fixture.runtime.compile(&fixture.cache, &bytes).unwrap();
    let path = entry(&fixture, &bytes);
    std::fs::write(&path, b"corrupt").unwrap();
    let before = std::fs::metadata(&path).unwrap().ino();
    fixture.runtime.compile(&fixture.cache, &bytes).unwrap();
    assert_ne!(std::fs::metadata(&path).unwrap().ino(), before);
    // No temporary file is left behind.
    assert_eq!(
        std::fs::read_dir(fixture.cache_dir.path()).unwrap().count(),
        1
    );
}

#[test]
fn a_plugin_loaded_from_a_cached_entry_runs() {
    let fixture = Fixture::new();
    let env = crate::common::good(&fixture, "dns-provider", "");
    fixture.load(&env).unwrap();
    let dns = fixture.load(&env).unwrap().dns_provider.unwrap();
    assert_eq!(dns.list_records("contoso.com").unwrap().len(), 1);
}
