use failback_runtime::manifest::Limits;
use failback_runtime::{CacheOutcome, ComponentCache, Digest, Outcome, Refusal, TrustPolicy};

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
    assert_eq!(outcome, CacheOutcome::Replaced(Refusal::Seal));
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
    assert_eq!(outcome, CacheOutcome::Replaced(Refusal::Seal));
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
    // No temporary file is left behind: the entry and the cache's key.
    assert_eq!(
        std::fs::read_dir(fixture.cache_dir.path()).unwrap().count(),
        2
    );
}

/// The mappings of this process that overlap `range`, each with its
/// permissions (`r-xp`): from `/proc/self/maps`.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn mappings_over(range: &std::ops::Range<*const u8>) -> Vec<String> {
    let (start, end) = (range.start.addr(), range.end.addr());
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter_map(|line| {
            let (span, rest) = line.split_once(' ')?;
            let (from, to) = span.split_once('-')?;
            let from = usize::from_str_radix(from, 16).ok()?;
            let to = usize::from_str_radix(to, 16).ok()?;
            (from < end && start < to).then(|| rest[..4].to_owned())
        })
        .collect()
}

/// The attack: code changed in memory between the check of its seal and its
/// run. A cached entry is loaded in place, from memory the host maps and
/// fills itself (wasmtime no longer copies it into memory of its own): were
/// that memory left writable, a write anywhere in the process could change
/// checked code. It is read-only before wasmtime sees it, its text read and
/// execute.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn a_cached_components_code_is_never_writable_once_its_seal_is_checked() {
    let fixture = Fixture::new();
    let bytes = good_component();
    fixture.runtime.compile(&fixture.cache, &bytes).unwrap();
    let (component, outcome) = fixture.runtime.compile(&fixture.cache, &bytes).unwrap();
    assert_eq!(outcome, CacheOutcome::Hit);
    let range = component.image_range();
    let mapped = mappings_over(&range);
    assert!(!mapped.is_empty());
    assert!(
        mapped.iter().all(|perms| !perms.contains('w')),
        "{mapped:?}"
    );
    assert!(mapped.iter().any(|perms| perms == "r-xp"), "{mapped:?}");
    // (That the memory is unmapped with the component is not asserted here:
    // the tests beside this one map memory too, and the kernel hands freed
    // addresses out again at once.)
    drop(component);
    // The host keeps serving: the entry loads and runs again.
    let env = crate::common::good(&fixture, "dns-provider", "");
    let dns = fixture.load(&env).unwrap().dns_provider.unwrap();
    assert_eq!(dns.list_records("contoso.com").unwrap().len(), 1);
}

#[test]
fn a_plugin_loaded_from_a_cached_entry_runs() {
    let fixture = Fixture::new();
    let env = crate::common::good(&fixture, "dns-provider", "");
    fixture.load(&env).unwrap();
    let dns = fixture.load(&env).unwrap().dns_provider.unwrap();
    assert_eq!(dns.list_records("contoso.com").unwrap().len(), 1);
}

/// The attack: copying another component's compiled file over a pinned
/// plugin's entry made the host run the other code, with no error.
#[test]
fn another_components_compiled_entry_copied_over_a_plugins_entry_is_refused() {
    let fixture = Fixture::new();
    let good = good_component();
    let hostile = std::fs::read(failback_guests::paths::FAILBACK_TEST_HOSTILE).unwrap();
    fixture.runtime.compile(&fixture.cache, &good).unwrap();
    fixture.runtime.compile(&fixture.cache, &hostile).unwrap();
    std::fs::copy(entry(&fixture, &hostile), entry(&fixture, &good)).unwrap();

    let env = crate::common::good(&fixture, "dns-provider", "");
    let dns = fixture.load(&env).unwrap().dns_provider.unwrap();
    // The pinned component runs, not the planted one (which would refuse `read:`
    // zones or loop; the good guest answers every zone with one record).
    let records = dns.list_records("loop").unwrap();
    assert_eq!(records.len(), 1);
    let refused = fixture
        .audit
        .records()
        .into_iter()
        .find(|r| matches!(&r.outcome, Outcome::Denied(text) if text.contains("seal")))
        .expect("the refused entry is audited");
    assert_eq!(refused.digest, Digest::of(&good));
    // The host keeps serving from the replaced entry.
    let (_, outcome) = fixture.runtime.compile(&fixture.cache, &good).unwrap();
    assert_eq!(outcome, CacheOutcome::Hit);
}

/// The attack: `compile_verified` trusts the digest it is given (a plugin's,
/// checked by the loader; a built-in policy module's, taken from the build),
/// and compiled whatever bytes came with it into that digest's entry, so that
/// every later run loaded them as the component of that digest.
#[test]
fn bytes_given_under_another_components_digest_are_not_compiled_into_its_entry() {
    let fixture = Fixture::new();
    let good = good_component();
    let hostile = std::fs::read(failback_guests::paths::FAILBACK_TEST_HOSTILE).unwrap();
    let error = fixture
        .runtime
        .compile_verified(&fixture.cache, Digest::of(&good), &hostile)
        .map(|(_, outcome)| outcome)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "refusing to compile component `{}` into the cache: its bytes have sha256 `{}`",
            Digest::of(&good),
            Digest::of(&hostile)
        )
    );
    assert!(!entry(&fixture, &good).exists());
    // The host keeps serving: the pinned component is compiled from its own
    // bytes, and runs.
    let env = crate::common::good(&fixture, "dns-provider", "");
    let dns = fixture.load(&env).unwrap().dns_provider.unwrap();
    assert_eq!(dns.list_records("loop").unwrap().len(), 1);
    let (_, outcome) = fixture.runtime.compile(&fixture.cache, &good).unwrap();
    assert_eq!(outcome, CacheOutcome::Hit);
}

fn policy_bytes(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn another_modules_compiled_entry_copied_over_a_policy_modules_entry_is_refused() {
    let fixture = Fixture::new();
    let policy = policy_bytes(failback_guests::paths::FAILBACK_TEST_POLICY);
    let hostile = policy_bytes(failback_guests::paths::FAILBACK_TEST_HOSTILE_POLICY);
    fixture.runtime.compile(&fixture.cache, &policy).unwrap();
    fixture.runtime.compile(&fixture.cache, &hostile).unwrap();
    std::fs::copy(entry(&fixture, &hostile), entry(&fixture, &policy)).unwrap();

    let module = fixture
        .runtime
        .load_policy(
            "test-policy",
            &policy,
            &fixture.cache,
            Limits::default(),
            &TrustPolicy::open(),
            None,
        )
        .unwrap();
    assert_eq!(module.rules().unwrap()[0].id, "test.single-federation");
    assert!(
        fixture
            .audit
            .records()
            .iter()
            .any(|r| matches!(&r.outcome, Outcome::Denied(text) if text.contains("seal")))
    );
}

#[test]
fn a_corrupted_policy_entry_is_recompiled_and_audited() {
    let fixture = Fixture::new();
    let policy = policy_bytes(failback_guests::paths::FAILBACK_TEST_POLICY);
    fixture.runtime.compile(&fixture.cache, &policy).unwrap();
    let path = entry(&fixture, &policy);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let module = fixture
        .runtime
        .load_policy(
            "test-policy",
            &policy,
            &fixture.cache,
            Limits::default(),
            &TrustPolicy::open(),
            None,
        )
        .unwrap();
    assert_eq!(module.rules().unwrap().len(), 2);
    assert!(fixture.audit.records().iter().any(|r| r.function == "load"
        && matches!(&r.outcome, Outcome::Denied(text) if text.contains("compiled again"))));
}

#[cfg(unix)]
#[test]
fn an_entry_that_is_a_symbolic_link_is_not_followed() {
    let fixture = Fixture::new();
    let good = good_component();
    let hostile = std::fs::read(failback_guests::paths::FAILBACK_TEST_HOSTILE).unwrap();
    fixture.runtime.compile(&fixture.cache, &hostile).unwrap();
    std::os::unix::fs::symlink(entry(&fixture, &hostile), entry(&fixture, &good)).unwrap();
    let (_, outcome) = fixture.runtime.compile(&fixture.cache, &good).unwrap();
    assert_eq!(outcome, CacheOutcome::Replaced(Refusal::NotAFile));
    assert!(
        !std::fs::symlink_metadata(entry(&fixture, &good))
            .unwrap()
            .is_symlink()
    );
}

#[cfg(unix)]
mod ownership {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_cache_directory_and_its_key_are_private() {
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().join("cache");
        ComponentCache::open(&root).unwrap();
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join(failback_runtime::cache::KEY_FILE)), 0o600);
    }

    #[test]
    fn a_cache_directory_others_can_write_to_is_refused() {
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().join("cache");
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = ComponentCache::open(&root).unwrap_err();
        assert!(
            error.to_string().contains("others may write to it"),
            "{error}"
        );
        // Made private again, it is used.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        ComponentCache::open(&root).unwrap();
        assert_eq!(mode(&root), 0o700);
    }

    #[test]
    fn a_cache_directory_of_another_user_is_refused() {
        assert_eq!(
            rustix::process::geteuid().as_raw(),
            0,
            "this test gives a directory to another user, which needs root (as CI runs)"
        );
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().join("cache");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::chown(&root, Some(65534), Some(65534)).unwrap();
        let error = ComponentCache::open(&root).unwrap_err();
        assert!(
            error.to_string().contains("belongs to user 65534"),
            "{error}"
        );
    }
}
