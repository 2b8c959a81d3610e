//! Packed, signed plugins under a trust policy: each attack on the signature
//! is refused at load, named in the audit, and the host keeps serving.

use failback_runtime::signature::{self, Placement, SigningKey};
use failback_runtime::{Digest, LoadError, Outcome, TrustError, package};

use crate::common::{Fixture, good_component};

/// The good guest's manifest as its vendor writes it (no `sha256`).
fn source_manifest() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/guests/good/plugin.toml");
    std::fs::read_to_string(path).unwrap()
}

/// The good guest packed with its manifest.
fn packed() -> Vec<u8> {
    package::pack(&good_component(), &source_manifest())
        .unwrap()
        .bytes
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed([n; 32], &format!("vendor-{n}@example.com"))
}

fn signed(bytes: &[u8], n: u8) -> Vec<u8> {
    signature::sign(bytes, &key(n), Placement::Embedded)
        .unwrap()
        .component
}

/// `[trust]` requiring signatures, trusting key `n` for every role.
fn trusting(n: u8) -> String {
    format!(
        "[trust]\nrequire-signatures = true\nkeys = [{:?}]\n",
        key(n).public_line().unwrap()
    )
}

/// Write `bytes` as the dns-provider (its manifest inside it, pinned by its
/// sha256) with `extra` TOML, and load it.
fn load(
    fixture: &Fixture,
    bytes: &[u8],
    extra: &str,
) -> Result<failback_runtime::Plugins, LoadError> {
    fixture.write("plugins/good.wasm", bytes);
    let env = fixture.environment(&format!(
        "[plugins.dns-provider]\npath = \"plugins/good.wasm\"\nsha256 = \"{}\"\n\n{extra}",
        Digest::of(bytes)
    ));
    fixture.load(&env)
}

/// The host still loads and runs a component key 1 signed, under key 1's
/// trust, and every record of it names key 1.
fn assert_still_serving(fixture: &Fixture) {
    let plugins = load(fixture, &signed(&packed(), 1), &trusting(1)).unwrap();
    let dns = plugins.dns_provider.unwrap();
    dns.list_records("contoso.com").unwrap();
    let fingerprint = key(1).public().fingerprint().to_string();
    let last = fixture.audit.records().pop().unwrap();
    assert_eq!(last.function, "dns.list-records");
    assert_eq!(last.signer.as_deref(), Some(fingerprint.as_str()));
}

/// The last audit record is a load refusal naming `text`.
fn assert_denied(fixture: &Fixture, text: &str) {
    let last = fixture.audit.records().pop().unwrap();
    assert_eq!(last.function, "load");
    assert!(
        matches!(&last.outcome, Outcome::Denied(reason) if reason.contains(text)),
        "{:?}",
        last.outcome
    );
}

#[test]
fn a_signed_component_runs_and_every_record_names_its_signer() {
    let fixture = Fixture::new();
    assert_still_serving(&fixture);
    let plugins = load(&fixture, &signed(&packed(), 1), &trusting(1)).unwrap();
    let dns = plugins.dns_provider.unwrap();
    assert_eq!(
        dns.plugin().signer().to_string(),
        key(1).public().fingerprint().to_string()
    );
}

#[test]
fn an_unsigned_component_is_refused_naming_the_trusted_keys() {
    let fixture = Fixture::new();
    let error = load(&fixture, &packed(), &trusting(1)).unwrap_err();
    assert!(
        matches!(&error, LoadError::Trust(e) if matches!(**e, TrustError::Unsigned { .. })),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "`test-good` (dns-provider) is unsigned, and `[trust]` requires signatures; trusted for dns-provider: {} (vendor-1@example.com)",
            key(1).public().fingerprint()
        )
    );
    assert_denied(&fixture, "is unsigned");
    assert_still_serving(&fixture);
}

#[test]
fn a_component_signed_by_an_untrusted_key_is_refused_naming_its_signer() {
    let fixture = Fixture::new();
    let error = load(&fixture, &signed(&packed(), 2), &trusting(1)).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "`test-good` (dns-provider) is signed by {}, not by a key trusted for dns-provider; trusted for dns-provider: {} (vendor-1@example.com)",
            key(2).public().fingerprint(),
            key(1).public().fingerprint()
        )
    );
    assert_denied(&fixture, &key(2).public().fingerprint().to_string());
    assert_still_serving(&fixture);
}

#[test]
fn a_component_signed_by_a_key_trusted_only_for_another_kind_is_refused() {
    let fixture = Fixture::new();
    let scoped = format!(
        "[trust]\nrequire-signatures = true\n[trust.port-probe]\nkeys = [{:?}]\n",
        key(2).public_line().unwrap()
    );
    let error = load(&fixture, &signed(&packed(), 2), &scoped).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(&format!(
            "signed by {} (trusted for port-probe only)",
            key(2).public().fingerprint()
        )),
        "{text}"
    );
    assert!(
        text.ends_with("no key is trusted for dns-provider"),
        "{text}"
    );
    assert_still_serving(&fixture);
}

/// The vendor signed a manifest of 16 MiB; the component is edited to ask for
/// 99: its digest is pinned anew, but the signature no longer holds.
#[test]
fn a_limit_raised_in_the_signed_manifest_breaks_the_signature() {
    let fixture = Fixture::new();
    let mut bytes = signed(&packed(), 1);
    let at = find(&bytes, b"memory-mib = 16");
    bytes[at + b"memory-mib = ".len()..at + b"memory-mib = 16".len()].copy_from_slice(b"99");
    assert_eq!(
        package::embedded_manifest(&bytes)
            .unwrap()
            .unwrap()
            .limits
            .memory_mib,
        99
    );
    let error = load(&fixture, &bytes, &trusting(1)).unwrap_err();
    assert!(
        matches!(&error, LoadError::Trust(e) if matches!(**e, TrustError::Broken { .. })),
        "{error}"
    );
    assert!(
        error.to_string().contains("changed after it was signed"),
        "{error}"
    );
    assert_denied(&fixture, "changed after it was signed");

    // Not required, a trusted key's broken signature is refused all the same.
    let open = trusting(1).replace("require-signatures = true", "require-signatures = false");
    assert!(
        matches!(load(&fixture, &bytes, &open).unwrap_err(), LoadError::Trust(e) if matches!(*e, TrustError::Broken { .. }))
    );
    assert_still_serving(&fixture);
}

#[test]
fn one_byte_of_code_changed_after_signing_breaks_the_signature() {
    let fixture = Fixture::new();
    let mut bytes = signed(&packed(), 1);
    // A string of the guest's code: the message it logs when listing a zone.
    let at = find(&bytes, b"listing `");
    bytes[at] = b'L';
    let error = load(&fixture, &bytes, &trusting(1)).unwrap_err();
    assert!(
        matches!(&error, LoadError::Trust(e) if matches!(**e, TrustError::Broken { .. })),
        "{error}"
    );
    assert_still_serving(&fixture);
}

#[test]
fn a_detached_signature_of_another_file_is_refused() {
    let fixture = Fixture::new();
    let other = package::pack(
        &good_component(),
        &source_manifest().replace("0.1.0\"\nworld", "0.1.1\"\nworld"),
    )
    .unwrap()
    .bytes;
    let signature = signature::sign(&other, &key(1), Placement::Detached)
        .unwrap()
        .detached
        .unwrap();
    fixture.write("plugins/good.wasm.sig", &signature);
    let extra = format!("signature = \"plugins/good.wasm.sig\"\n\n{}", trusting(1));
    let error = load(&fixture, &packed(), &extra).unwrap_err();
    assert!(
        matches!(&error, LoadError::Trust(e) if matches!(**e, TrustError::Broken { .. })),
        "{error}"
    );

    // Its own detached signature holds, and the component stays unsigned inside.
    let own = signature::sign(&packed(), &key(1), Placement::Detached)
        .unwrap()
        .detached
        .unwrap();
    fixture.write("plugins/good.wasm.sig", &own);
    let plugins = load(&fixture, &packed(), &extra).unwrap();
    assert_eq!(
        plugins.dns_provider.unwrap().plugin().signer().to_string(),
        key(1).public().fingerprint().to_string()
    );
    assert_still_serving(&fixture);
}

#[test]
fn a_development_build_is_refused_when_signatures_are_required() {
    let fixture = Fixture::new();
    let manifest = format!(
        "sha256 = \"{}\"\n{}",
        Digest::of(&good_component()),
        source_manifest()
    );
    let mut table = fixture.install(
        "good",
        failback_guests::paths::FAILBACK_TEST_GOOD,
        &manifest,
        "dns-provider",
    );
    table.push_str(&format!("\n{}", trusting(1)));
    let env = fixture.environment(&table);
    let error = fixture.load(&env).unwrap_err();
    assert!(
        error.to_string().contains("is a development build"),
        "{error}"
    );

    // Not required, it runs, and its records say what it is.
    let open = table.replace("require-signatures = true", "require-signatures = false");
    let env = fixture.environment(&open);
    let dns = fixture.load(&env).unwrap().dns_provider.unwrap();
    dns.list_records("contoso.com").unwrap();
    let last = fixture.audit.records().pop().unwrap();
    assert_eq!(last.signer.as_deref(), Some("development build (unsigned)"));
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}
