use failback_guests::paths;
use failback_runtime::review::{Review, Subject, review};
use failback_runtime::{Limits, TrustPolicy};

use crate::common::{Fixture, stamped_manifest};

fn reviewed(fixture: &Fixture, bytes: &[u8], manifest: Option<&str>) -> Review {
    review(
        &fixture.runtime,
        Subject {
            bytes,
            manifest,
            signature: None,
        },
        None,
        None,
    )
    .unwrap()
}

/// A policy module built with std reads a file, so it imports
/// `wasi:filesystem`, which no policy module is linked. Loading refuses it
/// ("does not link"); the review said "files: none" of that import, as if it
/// would load. Now it says "cannot link", and gives loading's own refusal.
/// The host keeps serving: a good policy module loads afterwards.
#[test]
fn a_policy_module_importing_files_cannot_link_and_its_review_says_so() {
    let fixture = Fixture::new();
    let bytes = std::fs::read(paths::FAILBACK_TEST_FILES_POLICY).unwrap();
    let loaded = fixture.runtime.load_policy(
        "files-policy",
        &bytes,
        &fixture.cache,
        Limits::default(),
        &TrustPolicy::open(),
        None,
    );
    let refusal = match loaded {
        Ok(_) => panic!("loading a policy module importing wasi:filesystem succeeded"),
        Err(error) => error.to_string(),
    };
    assert!(refusal.contains("does not link"), "{refusal}");
    assert!(refusal.contains("wasi:filesystem"), "{refusal}");

    let review = reviewed(&fixture, &bytes, None);
    let files: Vec<_> = review
        .imports
        .iter()
        .filter(|i| i.interface.starts_with("wasi:filesystem/"))
        .collect();
    assert!(!files.is_empty(), "the module imports wasi:filesystem");
    for import in files {
        assert!(!import.links, "{}", import.name);
        assert!(
            import.meaning.starts_with("cannot link"),
            "{}",
            import.meaning
        );
    }
    // Loading's words, but for the name it was loaded under.
    let said = review.link.expect("the review says it does not link");
    let message = |text: &str| text.split_once("does not link: ").unwrap().1.to_owned();
    assert_eq!(message(&said), message(&refusal));

    let good = std::fs::read(paths::FAILBACK_TEST_POLICY).unwrap();
    fixture
        .runtime
        .load_policy(
            "test-policy",
            &good,
            &fixture.cache,
            Limits::default(),
            &TrustPolicy::open(),
            None,
        )
        .unwrap();
}

/// A plugin that imports `wasi:filesystem` and `wasi:sockets` and requests no
/// directory and no endpoint: each such import is marked as reaching
/// nothing, and the component links.
#[test]
fn a_plugin_importing_files_and_sockets_it_requests_nothing_for_reaches_nothing() {
    let fixture = Fixture::new();
    let bytes = std::fs::read(paths::FAILBACK_TEST_IDLE_IMPORTS).unwrap();
    let manifest = stamped_manifest("idle-imports", &bytes);
    let review = reviewed(&fixture, &bytes, Some(&manifest));
    assert_eq!(review.link, None);
    let said = |interface: &str| {
        review
            .imports
            .iter()
            .find(|i| i.interface == interface)
            .unwrap_or_else(|| panic!("no import of {interface}"))
            .unreachable
            .clone()
    };
    assert_eq!(
        said("wasi:filesystem/types").as_deref(),
        Some("imports wasi:filesystem, but no directory is requested: it can open nothing")
    );
    assert_eq!(
        said("wasi:sockets/tcp").as_deref(),
        Some("imports wasi:sockets, but no TCP endpoint is requested: it can connect nowhere")
    );
    // What it may use is not marked.
    assert!(
        review
            .imports
            .iter()
            .filter(|i| i.interface.starts_with("wasi:io/") || i.origin == "failback")
            .all(|i| i.unreachable.is_none())
    );
}

/// Every guest of the repository: the review says an import does not link
/// exactly when loading the component (by the linker of its kind) refuses it.
#[test]
fn the_review_says_cannot_link_exactly_when_loading_refuses() {
    let fixture = Fixture::new();
    for path in [
        paths::FAILBACK_TEST_FILES_POLICY,
        paths::FAILBACK_TEST_IDLE_IMPORTS,
        paths::FAILBACK_TEST_GOOD,
        paths::FAILBACK_TEST_HOSTILE,
        paths::FAILBACK_TEST_POLICY,
        paths::FAILBACK_TEST_HOSTILE_POLICY,
        paths::FAILBACK_LAB_DNS,
        paths::FAILBACK_DNS_RFC2136,
        paths::FAILBACK_PROBE_XMPP,
        paths::FAILBACK_POLICIES,
    ] {
        let bytes = std::fs::read(path).unwrap();
        let review = reviewed(&fixture, &bytes, None);
        assert_eq!(
            review.link.is_none(),
            review.imports.iter().all(|i| i.links),
            "{path}: {:?}",
            review.link
        );
    }
}
