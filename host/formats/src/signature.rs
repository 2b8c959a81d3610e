//! Signatures with the keys vendors already have: OpenSSH Ed25519 keys, and
//! the WebAssembly tool-conventions signature format (Signatures.md, through
//! the `wasmsign2` crate) over a whole component.
//!
//! A signature covers every byte of the component after its `signature`
//! section: its code, its nested modules and the manifest it carries
//! ([`crate::package`]) alike. It is embedded (the `signature` custom section,
//! first in the component) or detached (the same section's payload in a file of
//! its own, the component left as it was). Each signature names its key by the
//! key's OpenSSH SHA-256 fingerprint (its key id), so a component signed by a
//! key nobody trusts can still be reported as "signed by `SHA256:…`" — a claim
//! only, which no trusted key vouches for.
//!
//! Keys are read with the `ssh-key` crate (an `id_ed25519` as `ssh-keygen`
//! writes it, passphrase-protected or not; a `.pub` line); what trust a key
//! gets is [`crate::trust`]'s business, not this module's.

use std::fmt;

use serde::{Serialize, Serializer};
use ssh_key::HashAlg;
use ssh_key::private::KeypairData;
use ssh_key::public::KeyData;

use crate::package::{self, PackError};

/// The largest detached signature the host reads (64 KiB: room for 256
/// signatures of 64 bytes with their key ids).
pub const MAX_SIGNATURE_BYTES: u64 = 64 << 10;

/// An OpenSSH public key's SHA-256 fingerprint, shown as `ssh-keygen -l` shows
/// it (`SHA256:` and unpadded base64).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The raw SHA-256, as a signature's key id carries it.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", ssh_key::Fingerprint::Sha256(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The SHA-256 fingerprint of `key`, as OpenSSH computes it (the digest of
/// the key's wire encoding).
fn fingerprint_of(key: &ssh_key::PublicKey) -> Fingerprint {
    // Asked for SHA-256, `ssh-key` answers SHA-256.
    Fingerprint(
        key.fingerprint(HashAlg::Sha256)
            .sha256()
            .unwrap_or_default(),
    )
}

/// An OpenSSH Ed25519 public key (`ssh-ed25519 AAAA… comment`).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: ssh_key::PublicKey,
    fingerprint: Fingerprint,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, {:?})", self.fingerprint, self.comment())
    }
}

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not an OpenSSH public key (`ssh-ed25519 AAAA… comment`): {0}")]
    Public(String),
    #[error("not an OpenSSH private key (as `ssh-keygen -t ed25519` writes it): {0}")]
    Private(String),
    #[error("a `{0}` key: signatures here are Ed25519 (`ssh-keygen -t ed25519`)")]
    Algorithm(String),
    #[error("the key is protected by a passphrase, and none was given")]
    PassphraseNeeded,
    #[error("the passphrase does not open the key")]
    Passphrase,
}

impl PublicKey {
    /// Read one OpenSSH public key line.
    pub fn parse(line: &str) -> Result<Self, KeyError> {
        let key = ssh_key::PublicKey::from_openssh(line.trim())
            .map_err(|e| KeyError::Public(e.to_string()))?;
        Self::new(key)
    }

    pub(crate) fn new(key: ssh_key::PublicKey) -> Result<Self, KeyError> {
        if !matches!(key.key_data(), KeyData::Ed25519(_)) {
            return Err(KeyError::Algorithm(key.algorithm().to_string()));
        }
        let fingerprint = fingerprint_of(&key);
        Ok(Self { key, fingerprint })
    }

    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The comment of the key line (`vendor@example.com`), possibly empty.
    #[must_use]
    pub fn comment(&self) -> &str {
        self.key.comment()
    }

    /// The key as `ssh-key` has it (SSHSIG verification, [`crate::approval`]).
    pub(crate) fn ssh(&self) -> &ssh_key::PublicKey {
        &self.key
    }

    /// The raw 32-byte Ed25519 key.
    fn ed25519(&self) -> Option<&[u8; 32]> {
        match self.key.key_data() {
            KeyData::Ed25519(key) => Some(&key.0),
            _ => None,
        }
    }

    /// The key for `wasmsign2`.
    fn wasmsign(&self) -> Option<wasmsign2::PublicKey> {
        let mut bytes = vec![0x01];
        bytes.extend_from_slice(self.ed25519()?);
        wasmsign2::PublicKey::from_bytes(&bytes).ok()
    }
}

/// An OpenSSH Ed25519 private key, opened.
pub struct SigningKey {
    key: ssh_key::PrivateKey,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.public.fingerprint)
    }
}

impl SigningKey {
    /// Read an OpenSSH private key file's text, opening it with `passphrase`
    /// when it is protected by one.
    pub fn parse(text: &str, passphrase: Option<&str>) -> Result<Self, KeyError> {
        let mut key = ssh_key::PrivateKey::from_openssh(text.trim())
            .map_err(|e| KeyError::Private(e.to_string()))?;
        if key.is_encrypted() {
            let passphrase = passphrase.ok_or(KeyError::PassphraseNeeded)?;
            key = key.decrypt(passphrase).map_err(|_| KeyError::Passphrase)?;
        }
        if !matches!(key.key_data(), KeypairData::Ed25519(_)) {
            return Err(KeyError::Algorithm(key.algorithm().to_string()));
        }
        let public = PublicKey::new(key.public_key().clone())?;
        Ok(Self { key, public })
    }

    /// The key of an Ed25519 `seed`, with `comment` (tests, benchmarks).
    #[must_use]
    pub fn from_seed(seed: [u8; 32], comment: &str) -> Self {
        let pair = ssh_key::private::Ed25519Keypair::from_seed(&seed);
        let public = ssh_key::PublicKey::new(KeyData::Ed25519(pair.public), comment);
        let fingerprint = fingerprint_of(&public);
        let mut key = ssh_key::PrivateKey::from(pair);
        key.set_comment(comment);
        Self {
            key,
            public: PublicKey {
                key: public,
                fingerprint,
            },
        }
    }

    /// The key as an OpenSSH private key file, unprotected (tests).
    pub fn to_openssh(&self) -> Result<String, KeyError> {
        self.key
            .to_openssh(ssh_key::LineEnding::LF)
            .map(|text| text.to_string())
            .map_err(|e| KeyError::Private(e.to_string()))
    }

    #[must_use]
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The key as `ssh-key` has it (SSHSIG signing, [`crate::approval`]).
    pub(crate) fn ssh(&self) -> &ssh_key::PrivateKey {
        &self.key
    }

    /// The public key as an OpenSSH line.
    pub fn public_line(&self) -> Result<String, KeyError> {
        self.public
            .key
            .to_openssh()
            .map_err(|e| KeyError::Public(e.to_string()))
    }

    fn wasmsign(&self) -> Result<wasmsign2::SecretKey, SignatureError> {
        let KeypairData::Ed25519(pair) = self.key.key_data() else {
            return Err(SignatureError::Key(KeyError::Algorithm(
                self.key.algorithm().to_string(),
            )));
        };
        let mut bytes = vec![0x81];
        bytes.extend_from_slice(&pair.to_bytes());
        wasmsign2::SecretKey::from_bytes(&bytes).map_err(|e| SignatureError::Format(e.to_string()))
    }
}

/// Why a component could not be signed or its signatures read.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("{0}")]
    Component(#[from] PackError),
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error(
        "the component already carries a signature: add one more embedded, or detach from an unsigned component"
    )]
    AlreadyEmbedded,
    #[error("the signature is not in the tool-conventions format: {0}")]
    Format(String),
}

/// Where a signature goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Inside the component (a signature already there is kept beside it).
    Embedded,
    /// In a file of its own; the component is left as it was.
    Detached,
}

/// A signed component: its bytes, and the signature when it is detached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The component: signed (embedded), or as it was (detached).
    pub component: Vec<u8>,
    /// The detached signature, to write beside the component.
    pub detached: Option<Vec<u8>>,
}

/// Sign the component `bytes` with `key`.
pub fn sign(
    bytes: &[u8],
    key: &SigningKey,
    placement: Placement,
) -> Result<Signed, SignatureError> {
    let sections = package::sections(bytes)?;
    if placement == Placement::Detached && package::is_signed(&sections) {
        return Err(SignatureError::AlreadyEmbedded);
    }
    let module = wasmsign2::Module::deserialize(&mut &bytes[..]).map_err(format_error)?;
    let key_id = key.public.fingerprint.0.to_vec();
    let (module, signature) = key
        .wasmsign()?
        .sign_multi(
            module,
            Some(&key_id),
            placement == Placement::Detached,
            false,
        )
        .map_err(format_error)?;
    Ok(match placement {
        Placement::Embedded => {
            let mut component = Vec::with_capacity(bytes.len() + signature.len() + 16);
            module.serialize(&mut component).map_err(format_error)?;
            Signed {
                component,
                detached: None,
            }
        }
        Placement::Detached => Signed {
            component: bytes.to_vec(),
            detached: Some(signature),
        },
    })
}

/// Who a signature says made it: the key id it carries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyId {
    /// An OpenSSH SHA-256 fingerprint (what `failback plugin sign` writes).
    Fingerprint(Fingerprint),
    /// Another key id (another signing tool's), in hex.
    Other(String),
    /// The signature names no key.
    Anonymous,
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fingerprint(fingerprint) => write!(f, "{fingerprint}"),
            Self::Other(hex) => write!(f, "key id {hex}"),
            Self::Anonymous => f.write_str("a key it does not name"),
        }
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What a component's signatures say, checked against some keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signatures {
    /// Who each signature says made it, in order; empty when unsigned.
    pub claimed: Vec<KeyId>,
    /// The keys (of those given) whose signature holds for these bytes.
    pub verified: Vec<Fingerprint>,
}

impl Signatures {
    #[must_use]
    pub fn is_signed(&self) -> bool {
        !self.claimed.is_empty()
    }
}

/// Read the signatures of the component `bytes` — embedded, or `detached` —
/// and check them against `keys`. A signature that does not hold (the
/// component changed after signing, or a key that did not sign it) is in
/// `claimed` only.
pub fn check(
    bytes: &[u8],
    detached: Option<&[u8]>,
    keys: &[PublicKey],
) -> Result<Signatures, SignatureError> {
    // Framing first, with wasmparser: a section claiming more bytes than the
    // file has is refused before anything allocates for it.
    let sections = package::sections(bytes)?;
    let header = match detached {
        Some(signature) => Some(signature.to_vec()),
        None if package::is_signed(&sections) => sections
            .first()
            .and_then(|s| s.custom.as_ref())
            .and_then(|(_, data)| bytes.get(data.clone()))
            .map(<[u8]>::to_vec),
        None => None,
    };
    let Some(header) = header else {
        return Ok(Signatures {
            claimed: Vec::new(),
            verified: Vec::new(),
        });
    };
    let data = wasmsign2::SignatureData::deserialize(&header).map_err(format_error)?;
    let claimed: Vec<KeyId> = data
        .signed_hashes_set
        .iter()
        .flat_map(|set| &set.signatures)
        .map(|signature| match &signature.key_id {
            None => KeyId::Anonymous,
            Some(id) => match <[u8; 32]>::try_from(id.as_slice()) {
                Ok(bytes) => KeyId::Fingerprint(Fingerprint(bytes)),
                Err(_) => KeyId::Other(hex::encode(id)),
            },
        })
        .collect();
    if claimed.is_empty() {
        return Err(SignatureError::Format(
            "a signature section without a signature".to_owned(),
        ));
    }
    let set = wasmsign2::PublicKeySet::new(keys.iter().filter_map(PublicKey::wasmsign).collect());
    let verified = if set.is_empty() {
        Vec::new()
    } else {
        match set.verify(&mut &bytes[..], detached) {
            Ok(valid) => {
                let mut verified: Vec<Fingerprint> = keys
                    .iter()
                    .filter(|key| {
                        valid
                            .iter()
                            .any(|pk| Some(pk.pk.as_ref()) == key.ed25519().map(|k| &k[..]))
                    })
                    .map(PublicKey::fingerprint)
                    .collect();
                verified.sort();
                verified.dedup();
                verified
            }
            Err(wasmsign2::WSError::VerificationFailed) => Vec::new(),
            Err(e) => return Err(format_error(e)),
        }
    };
    Ok(Signatures { claimed, verified })
}

fn format_error(error: wasmsign2::WSError) -> SignatureError {
    SignatureError::Format(error.to_string().to_lowercase())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    const EMPTY: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed([n; 32], &format!("key-{n}"))
    }

    #[test]
    fn a_signature_holds_for_its_key_only() {
        let signed = sign(&EMPTY, &key(1), Placement::Embedded).unwrap();
        let keys = [key(1).public().clone(), key(2).public().clone()];
        let found = check(&signed.component, None, &keys).unwrap();
        assert_eq!(
            found.claimed,
            [KeyId::Fingerprint(key(1).public().fingerprint())]
        );
        assert_eq!(found.verified, [key(1).public().fingerprint()]);
    }

    #[test]
    fn a_detached_signature_leaves_the_component_as_it_was() {
        let signed = sign(&EMPTY, &key(1), Placement::Detached).unwrap();
        assert_eq!(signed.component, EMPTY);
        let signature = signed.detached.unwrap();
        let found = check(&EMPTY, Some(&signature), &[key(1).public().clone()]).unwrap();
        assert_eq!(found.verified, [key(1).public().fingerprint()]);
        let unsigned = check(&EMPTY, None, &[key(1).public().clone()]).unwrap();
        assert!(!unsigned.is_signed());
    }

    #[test]
    fn a_second_signature_is_added_beside_the_first() {
        let once = sign(&EMPTY, &key(1), Placement::Embedded).unwrap();
        let twice = sign(&once.component, &key(2), Placement::Embedded).unwrap();
        let keys = [key(1).public().clone(), key(2).public().clone()];
        let found = check(&twice.component, None, &keys).unwrap();
        assert_eq!(found.claimed.len(), 2);
        assert_eq!(found.verified.len(), 2);
    }

    #[test]
    fn a_detached_signature_claiming_four_gib_is_refused() {
        // version 1, content type 1, hash 1, one set of 0xffffffff bytes
        let signature = [0x01, 0x01, 0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(matches!(
            check(&EMPTY, Some(&signature), &[key(1).public().clone()]),
            Err(SignatureError::Format(_))
        ));
    }

    #[test]
    fn a_public_key_line_reads_back_with_its_fingerprint() {
        let line = key(7).public_line().unwrap();
        let parsed = PublicKey::parse(&line).unwrap();
        assert_eq!(parsed.fingerprint(), key(7).public().fingerprint());
        assert!(parsed.fingerprint().to_string().starts_with("SHA256:"));
        assert_eq!(parsed.comment(), "key-7");
    }

    #[test]
    fn an_rsa_key_is_refused_by_name() {
        let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 rsa";
        assert!(PublicKey::parse(rsa).is_err());
    }
}
