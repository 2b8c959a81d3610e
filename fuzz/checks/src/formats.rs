//! The formats read without an engine (failback-formats): the operator's
//! environment file, plugin manifests, OpenSSH keys, SSHSIG approvals, a
//! component's sections and signatures, the audit log. Every reading is
//! total (an error, never a panic); and where a format carries a property:
//! an approval that verifies over one plan digest does not over another; a
//! component the manifest is packed into carries that manifest, read back
//! equal; a signature check against a key that signed nothing verifies
//! nothing; an audit log that verifies refuses a record appended that does
//! not chain to its last hash.

use failback_core::plan::Approval;
use failback_formats::signature::{self, PublicKey, SigningKey};
use failback_formats::{ApprovalPolicy, Environment, Manifest, approval, audit_log, package};

/// The plan digest the approvals are over.
pub const DIGEST: &str = "5e0c9a1b2f3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7";
/// Another digest, which no approval over [`DIGEST`] may count for.
const OTHER_DIGEST: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The approver's key: fixed, so seeds signed with it verify.
#[must_use]
pub fn key() -> SigningKey {
    SigningKey::from_seed([7; 32], "alice@contoso.com")
}

/// A key that signed nothing.
fn stranger() -> PublicKey {
    SigningKey::from_seed([9; 32], "mallory@contoso.com")
        .public()
        .clone()
}

pub fn environment_file(data: &[u8]) -> bool {
    let Some(text) = crate::text(data) else {
        return false;
    };
    Environment::parse(text).is_ok()
}

pub fn manifest(data: &[u8]) -> bool {
    let Some(text) = crate::text(data) else {
        return false;
    };
    Manifest::parse(text).is_ok()
}

/// A key (public line or private key) or an approval, by the text's form.
pub fn keys_and_approvals(data: &[u8]) -> bool {
    let Some(text) = crate::text(data) else {
        return false;
    };
    let public = PublicKey::parse(text).map(|k| k.fingerprint()).is_ok();
    let private = SigningKey::parse(text, None).is_ok();
    let approved = match approval::from_signature(DIGEST, text, "now".to_owned()) {
        Ok(approval) => {
            assert!(
                approval::from_signature(OTHER_DIGEST, text, "now".to_owned()).is_err(),
                "an approval over one plan digest verifies over another"
            );
            judged(&approval);
            true
        }
        Err(_) => false,
    };
    public || private || approved
}

/// `approval` judged by a policy of the fixed key: a tally or an error,
/// never a panic; over another digest it counts for nothing.
fn judged(approval: &Approval) {
    let Ok(policy) = ApprovalPolicy::new(1, vec![key().public().clone()]) else {
        panic!("a policy of one key cannot be made");
    };
    let _ = policy.judge(DIGEST, std::slice::from_ref(approval));
    assert!(
        policy
            .judge(OTHER_DIGEST, std::slice::from_ref(approval))
            .is_err(),
        "an approval counts for a plan it did not approve"
    );
}

/// The manifest the component target packs: the lab-dns plugin's.
pub const LAB_MANIFEST: &str = include_str!("../../../plugins/lab-dns/plugin.toml");

/// A component's bytes: its sections, its manifest, its signatures checked
/// against a key that signed nothing; packed with a manifest, it carries it.
pub fn component(data: &[u8]) -> bool {
    let Ok(sections) = package::sections(data) else {
        return false;
    };
    let _ = package::is_signed(&sections);
    let _ = package::embedded_manifest(data);
    if let Ok(signatures) = signature::check(data, None, &[stranger()]) {
        assert!(
            signatures.verified.is_empty(),
            "a key that signed nothing verified a signature"
        );
    }
    if let Ok(packed) = package::pack(data, LAB_MANIFEST) {
        assert_eq!(
            package::embedded_manifest(&packed.bytes)
                .ok()
                .flatten()
                .as_ref(),
            Some(&packed.manifest),
            "a packed component does not carry the manifest packed into it"
        );
    }
    true
}

/// The audit log's bytes, walked; one that verifies refuses a record that
/// does not chain to its last hash.
pub fn audit_log(data: &[u8]) -> bool {
    let Ok(verified) = audit_log::verify_bytes(data) else {
        return false;
    };
    if verified.torn.is_none() && data.last().is_none_or(|&b| b == b'\n') {
        let seq = u64::try_from(verified.records).unwrap_or(u64::MAX);
        let (line, _) =
            audit_log::format_line(seq, &"f".repeat(64), "forged", serde_json::json!({}));
        if verified.last_hash != "f".repeat(64) {
            let mut forged = data.to_vec();
            forged.extend_from_slice(line.as_bytes());
            forged.push(b'\n');
            assert!(
                audit_log::verify_bytes(&forged).is_err(),
                "a record that does not chain to the last hash verifies"
            );
        }
    }
    true
}
