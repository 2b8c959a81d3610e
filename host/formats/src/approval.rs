//! Plan approvals: who signed off a saved plan before `apply` may run it
//! (DESIGN §6, "who approved = who the journal says").
//!
//! An approval is an OpenSSH signature (SSHSIG, OpenSSH's PROTOCOL.sshsig) in
//! the namespace [`NAMESPACE`] over the plan's digest written as the 64
//! lowercase hex characters `failback plan` prints, with no newline. `failback
//! plan approve --key` makes one with the `ssh-key` crate ([`approve`]);
//! `printf %s DIGEST | ssh-keygen -Y sign -f KEY -n failback-plan` makes the
//! same kind by hand ([`from_signature`] adds it). It lives in the plan
//! document's `approvals`, outside what the digest covers
//! ([`failback_core::document`]), so an approval holds for one plan only.
//!
//! `[approvals]` in the environment file says how many distinct keys must
//! approve (`required`) and which keys count (`keys`, read as `[trust]` reads
//! its keys: [`crate::trust::read_keys`]). [`ApprovalPolicy::judge`] is the one
//! decision: each approval counts when its signature is readable, in the
//! namespace, by the key it names, by a key `[approvals]` trusts, over this
//! plan's digest, and by a key not counted already. Everything else is named
//! with the reason it did not count.

use std::fmt;

use cap_std::fs::Dir;
use failback_core::plan::Approval;
use serde::Deserialize;
use ssh_key::{HashAlg, SshSig};

use crate::signature::{Fingerprint, KeyError, PublicKey, SigningKey};
use crate::trust::{
    KeyLineError, KeySource, KeysError, RawKey, TrustedKey, key_sources, read_keys,
};

/// The SSHSIG namespace of a plan approval: a signature made for anything
/// else (`file`, `git`) is not an approval.
pub const NAMESPACE: &str = "failback-plan";

/// The `[approvals]` table as the environment file gives it: key files not
/// read yet. `required = 0` (the default, no table) requires no approval.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalBindings {
    pub required: u32,
    pub keys: Vec<KeySource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApprovals {
    required: u32,
    #[serde(default)]
    keys: Vec<RawKey>,
}

impl ApprovalBindings {
    pub(crate) fn parse(raw: RawApprovals) -> Result<Self, KeyLineError> {
        Ok(Self {
            required: raw.required,
            keys: key_sources("approvals", raw.keys)?,
        })
    }

    /// Read the key files through `dir`, the environment directory.
    pub fn resolve(&self, dir: &Dir) -> Result<ApprovalPolicy, ApprovalError> {
        ApprovalPolicy::new(self.required, read_keys("approvals", &self.keys, dir)?)
    }
}

/// Why approvals could not be read, made, or were not enough.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(
        "`[approvals]` requires {required} approvals, but trusts only {trusted} distinct key{}: no plan could ever be approved",
        plural(*trusted)
    )]
    Unreachable { required: u32, trusted: usize },
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("the approval cannot be made: {0}")]
    Sign(String),
    #[error("the signature does not count for this plan: {0}")]
    Rejected(Rejection),
    #[error("{0}")]
    Insufficient(Box<Tally>),
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The approval policy, its key files read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalPolicy {
    required: u32,
    /// The keys whose approvals count, each once.
    keys: Vec<PublicKey>,
}

impl ApprovalPolicy {
    /// A policy requiring `required` approvals by distinct keys of `keys`.
    ///
    /// # Errors
    /// [`ApprovalError::Unreachable`] when fewer distinct keys are trusted
    /// than approvals are required.
    pub fn new(required: u32, keys: Vec<PublicKey>) -> Result<Self, ApprovalError> {
        let mut distinct: Vec<PublicKey> = Vec::new();
        for key in keys {
            if !distinct
                .iter()
                .any(|k| k.fingerprint() == key.fingerprint())
            {
                distinct.push(key);
            }
        }
        if usize::try_from(required).unwrap_or(usize::MAX) > distinct.len() {
            return Err(ApprovalError::Unreachable {
                required,
                trusted: distinct.len(),
            });
        }
        Ok(Self {
            required,
            keys: distinct,
        })
    }

    /// How many distinct trusted keys must approve a plan (0: none).
    #[must_use]
    pub fn required(&self) -> u32 {
        self.required
    }

    fn trusted(&self, fingerprint: Fingerprint) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.fingerprint() == fingerprint)
    }

    /// Count the approvals of the plan of `digest`.
    ///
    /// # Errors
    /// [`ApprovalError::Insufficient`], with the whole tally, when fewer than
    /// [`Self::required`] distinct trusted keys approved it.
    pub fn judge(&self, digest: &str, approvals: &[Approval]) -> Result<Tally, ApprovalError> {
        let mut tally = Tally {
            required: self.required,
            digest: digest.to_owned(),
            approvers: Vec::new(),
            rejected: Vec::new(),
            missing: Vec::new(),
        };
        for (n, approval) in approvals.iter().enumerate() {
            match self.count(digest, approval, &tally.approvers) {
                Ok(key) => tally.approvers.push(key),
                Err((by, why)) => tally.rejected.push(Rejected {
                    number: n + 1,
                    by,
                    why,
                }),
            }
        }
        tally.missing = self
            .keys
            .iter()
            .filter(|k| {
                !tally
                    .approvers
                    .iter()
                    .any(|a| a.fingerprint == k.fingerprint())
            })
            .map(named)
            .collect();
        if tally.approvers.len() < usize::try_from(self.required).unwrap_or(usize::MAX) {
            return Err(ApprovalError::Insufficient(Box::new(tally)));
        }
        Ok(tally)
    }

    /// Whether `approval` counts for `digest` beside `counted`: the key that
    /// approved, or who it claims to be by and why it does not count.
    fn count(
        &self,
        digest: &str,
        approval: &Approval,
        counted: &[TrustedKey],
    ) -> Result<TrustedKey, (String, Rejection)> {
        let claimed = approval.key.clone();
        let (signature, key) = read(&approval.signature).map_err(|why| (claimed.clone(), why))?;
        let fingerprint = key.fingerprint().to_string();
        if approval.key != fingerprint {
            return Err((
                claimed,
                Rejection::Claimed {
                    claimed: approval.key.clone(),
                    actual: fingerprint,
                },
            ));
        }
        let Some(trusted) = self.trusted(key.fingerprint()) else {
            return Err((named(&key).to_string(), Rejection::Untrusted));
        };
        let by = named(trusted);
        holds(trusted, digest, &signature).map_err(|why| (by.to_string(), why))?;
        if counted.iter().any(|k| k.fingerprint == by.fingerprint) {
            return Err((by.to_string(), Rejection::Duplicate));
        }
        Ok(by)
    }
}

/// A key as approvals name it: its fingerprint and comment.
fn named(key: &PublicKey) -> TrustedKey {
    TrustedKey {
        fingerprint: key.fingerprint(),
        comment: key.comment().to_owned(),
    }
}

/// The signature of an armored SSHSIG, and its signer's key.
fn read(armored: &str) -> Result<(SshSig, PublicKey), Rejection> {
    let signature =
        SshSig::from_pem(armored.trim()).map_err(|e| Rejection::Unreadable(e.to_string()))?;
    let key = PublicKey::new(ssh_key::PublicKey::new(signature.public_key().clone(), ""))
        .map_err(|e| Rejection::Unreadable(e.to_string()))?;
    if signature.namespace() != NAMESPACE {
        return Err(Rejection::Namespace(signature.namespace().to_owned()));
    }
    Ok((signature, key))
}

/// Whether `signature` by `key` is over `digest`.
fn holds(key: &PublicKey, digest: &str, signature: &SshSig) -> Result<(), Rejection> {
    if key
        .ssh()
        .verify(NAMESPACE, digest.as_bytes(), signature)
        .is_ok()
    {
        return Ok(());
    }
    // `echo DIGEST | ssh-keygen -Y sign` signs a final newline too.
    if key
        .ssh()
        .verify(NAMESPACE, format!("{digest}\n").as_bytes(), signature)
        .is_ok()
    {
        return Err(Rejection::Newline);
    }
    Err(Rejection::AnotherPlan)
}

/// Approve the plan of `digest` with `key`, at `at` (UTC, as the journal
/// writes times).
///
/// # Errors
/// [`ApprovalError::Sign`] if the signature cannot be made or written.
pub fn approve(digest: &str, key: &SigningKey, at: String) -> Result<Approval, ApprovalError> {
    let signature = key
        .ssh()
        .sign(NAMESPACE, HashAlg::Sha512, digest.as_bytes())
        .and_then(|s| s.to_pem(ssh_key::LineEnding::LF))
        .map_err(|e| ApprovalError::Sign(e.to_string()))?;
    Ok(Approval {
        signature,
        key: key.public().fingerprint().to_string(),
        comment: key.public().comment().to_owned(),
        at,
    })
}

/// An approval of the plan of `digest` from an armored SSHSIG made by hand
/// (`ssh-keygen -Y sign -n failback-plan`), added at `at`. The signature
/// carries its key but not the key's comment: the comment is left empty.
///
/// # Errors
/// [`ApprovalError::Rejected`] when it is not a readable approval, in the
/// namespace, over this digest.
pub fn from_signature(digest: &str, armored: &str, at: String) -> Result<Approval, ApprovalError> {
    let (signature, key) = read(armored).map_err(ApprovalError::Rejected)?;
    holds(&key, digest, &signature).map_err(ApprovalError::Rejected)?;
    Ok(Approval {
        signature: armored.trim().to_owned() + "\n",
        key: key.fingerprint().to_string(),
        comment: String::new(),
        at,
    })
}

/// How the approvals of one plan counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub required: u32,
    /// The plan's digest.
    pub digest: String,
    /// The distinct trusted keys whose approval holds, in document order.
    pub approvers: Vec<TrustedKey>,
    /// The approvals that did not count, and why.
    pub rejected: Vec<Rejected>,
    /// The trusted keys that have not approved.
    pub missing: Vec<TrustedKey>,
}

/// An approval that did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Its place in the document's `approvals`, from 1.
    pub number: usize,
    /// Who it is by: the trusted key's name, or the fingerprint it claims.
    pub by: String,
    pub why: Rejection,
}

/// Why an approval did not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("it is not an OpenSSH Ed25519 signature (`ssh-keygen -Y sign`): {0}")]
    Unreadable(String),
    #[error("it was made for namespace `{0}`, not `{NAMESPACE}`")]
    Namespace(String),
    #[error("it names key {claimed}, but is signed by {actual}")]
    Claimed { claimed: String, actual: String },
    #[error("its key is not one `[approvals]` trusts")]
    Untrusted,
    #[error("it approves another plan (its signature is not over this plan's digest)")]
    AnotherPlan,
    #[error(
        "it signs this plan's digest followed by a newline: sign the 64 characters alone (`printf %s DIGEST`, not `echo`)"
    )]
    Newline,
    #[error("a second approval by the same key counts once")]
    Duplicate,
}

impl fmt::Display for Tally {
    /// What `apply` says when the approvals are not enough: who approved, what
    /// did not count and why, who has not approved and how many are missing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let have = self.approvers.len();
        let required = usize::try_from(self.required).unwrap_or(usize::MAX);
        if have == 0 {
            write!(
                f,
                "it has no approval, and `[approvals]` requires {required}"
            )?;
        } else {
            write!(
                f,
                "it has {have} of the {required} approvals `[approvals]` requires"
            )?;
        }
        for key in &self.approvers {
            write!(f, "\n  approved by {key}")?;
        }
        for r in &self.rejected {
            write!(
                f,
                "\n  not counted: approval {}, by {}: {}",
                r.number, r.by, r.why
            )?;
        }
        let needed = required.saturating_sub(have);
        if needed > 0 {
            let missing: Vec<String> = self.missing.iter().map(ToString::to_string).collect();
            write!(f, "\n  {needed} more needed, from: {}", missing.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
    use super::*;

    const PLAN: &str = "6c3b0f2a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807f6e5d4c3b2a19080";
    const OTHER: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    const AT: &str = "2026-12-01T17:30:00Z";

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed([n; 32], &format!("approver-{n}@contoso.com"))
    }

    fn two_of(keys: &[u8]) -> ApprovalPolicy {
        ApprovalPolicy::new(2, keys.iter().map(|n| key(*n).public().clone()).collect()).unwrap()
    }

    fn by(n: u8, digest: &str) -> Approval {
        approve(digest, &key(n), AT.to_owned()).unwrap()
    }

    fn insufficient(result: Result<Tally, ApprovalError>) -> Tally {
        match result {
            Err(ApprovalError::Insufficient(tally)) => *tally,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn two_approvals_of_two_trusted_keys_approve_the_plan() {
        let tally = two_of(&[1, 2])
            .judge(PLAN, &[by(1, PLAN), by(2, PLAN)])
            .unwrap();
        assert_eq!(tally.approvers.len(), 2);
        assert!(tally.missing.is_empty() && tally.rejected.is_empty());
    }

    #[test]
    fn no_approval_is_refused_naming_every_key_missing() {
        let tally = insufficient(two_of(&[1, 2]).judge(PLAN, &[]));
        assert_eq!(tally.missing.len(), 2);
        let text = tally.to_string();
        assert!(text.starts_with("it has no approval"), "{text}");
        assert!(text.contains("2 more needed"), "{text}");
    }

    #[test]
    fn one_approval_of_two_is_refused_naming_who_approved_and_who_is_missing() {
        let tally = insufficient(two_of(&[1, 2]).judge(PLAN, &[by(1, PLAN)]));
        let text = tally.to_string();
        assert!(text.contains("1 of the 2"), "{text}");
        assert!(
            text.contains(&format!(
                "approved by {} (approver-1@contoso.com)",
                key(1).public().fingerprint()
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "1 more needed, from: {} (approver-2@contoso.com)",
                key(2).public().fingerprint()
            )),
            "{text}"
        );
    }

    #[test]
    fn the_same_key_approving_twice_counts_once() {
        let tally = insufficient(two_of(&[1, 2]).judge(PLAN, &[by(1, PLAN), by(1, PLAN)]));
        assert_eq!(tally.approvers.len(), 1);
        assert_eq!(tally.rejected[0].why, Rejection::Duplicate);
        assert_eq!(tally.rejected[0].number, 2);
    }

    #[test]
    fn an_approval_of_another_plan_does_not_count() {
        let tally = insufficient(two_of(&[1, 2]).judge(PLAN, &[by(1, PLAN), by(2, OTHER)]));
        assert_eq!(tally.rejected[0].why, Rejection::AnotherPlan);
    }

    #[test]
    fn an_approval_by_an_untrusted_key_does_not_count() {
        let tally = insufficient(two_of(&[1, 2]).judge(PLAN, &[by(1, PLAN), by(3, PLAN)]));
        assert_eq!(tally.rejected[0].why, Rejection::Untrusted);
        assert!(
            tally.rejected[0]
                .by
                .contains(&key(3).public().fingerprint().to_string())
        );
    }

    #[test]
    fn an_approval_naming_another_key_than_its_signer_does_not_count() {
        let mut forged = by(3, PLAN);
        forged.key = key(2).public().fingerprint().to_string();
        forged.comment = "approver-2@contoso.com".to_owned();
        let tally = insufficient(two_of(&[1, 2]).judge(PLAN, &[by(1, PLAN), forged]));
        assert!(matches!(tally.rejected[0].why, Rejection::Claimed { .. }));
    }

    #[test]
    fn a_signature_made_for_another_namespace_does_not_count() {
        let signature = key(2)
            .ssh()
            .sign("file", HashAlg::Sha512, PLAN.as_bytes())
            .unwrap()
            .to_pem(ssh_key::LineEnding::LF)
            .unwrap();
        assert!(matches!(
            from_signature(PLAN, &signature, AT.to_owned()),
            Err(ApprovalError::Rejected(Rejection::Namespace(ns))) if ns == "file"
        ));
    }

    #[test]
    fn a_signature_over_the_digest_and_a_newline_is_named_as_such() {
        let signature = key(1)
            .ssh()
            .sign(NAMESPACE, HashAlg::Sha512, format!("{PLAN}\n").as_bytes())
            .unwrap()
            .to_pem(ssh_key::LineEnding::LF)
            .unwrap();
        assert!(matches!(
            from_signature(PLAN, &signature, AT.to_owned()),
            Err(ApprovalError::Rejected(Rejection::Newline))
        ));
    }

    #[test]
    fn more_approvals_required_than_keys_trusted_is_refused() {
        let keys = vec![key(1).public().clone(), key(1).public().clone()];
        assert!(matches!(
            ApprovalPolicy::new(2, keys),
            Err(ApprovalError::Unreachable {
                required: 2,
                trusted: 1
            })
        ));
    }
}
