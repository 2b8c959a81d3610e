//! The trust policy: which keys an operator trusts to sign what runs
//! (`[trust]` in the environment file, `docs/environment.md`), and the one
//! decision of whether a loaded component may run — [`TrustPolicy::judge`].
//!
//! Keys are trusted for every role (`[trust] keys`) or for one: a plugin kind
//! (`[trust.dns-provider] keys`) or the policy modules (`[trust.policy] keys`).
//! With `require-signatures = true` a component runs only if a key trusted for
//! its role signed it ([`crate::signature`]). Whatever the setting, a
//! component whose signature names a trusted key but does not hold for its
//! bytes — changed after it was signed — is refused.
//!
//! The components the `failback` binary carries (the lab plugins, the standard
//! policies) are trusted as the binary is: a component byte for byte one of
//! them ([`Signer::BuiltIn`]; for a development build, its manifest file too)
//! was built from the same source, in the same build, as the program the
//! operator already chose to run; trusting it adds no party to trust. It proves nothing more: not who wrote the source, nor that
//! anyone reviewed it. The CLI hands their digests in
//! ([`TrustPolicy::with_built_in`]).
//!
//! Every decision names who signed (a fingerprint, `built-in`, `unsigned`, or
//! `development build`), and the audit carries it on every record of the
//! component ([`Signer`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use cap_std::fs::Dir;
use serde::{Deserialize, Serialize, Serializer};

use crate::digest::Digest;
use crate::files::{FileError, RelativePath, read_text};
use crate::manifest::Role;
use crate::signature::{Fingerprint, KeyError, KeyId, PublicKey, Signatures};

/// Where a key is written: inline in the environment file, or in a file of
/// the environment directory (one key per line, as in `authorized_keys`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Inline(PublicKey),
    File(RelativePath),
}

/// The `[trust]` table as the environment file gives it: key files not read yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustBindings {
    pub require_signatures: bool,
    /// Keys trusted for every role.
    pub keys: Vec<KeySource>,
    /// Keys trusted for one role only.
    pub scoped: BTreeMap<Role, Vec<KeySource>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawTrust {
    #[serde(default)]
    require_signatures: bool,
    #[serde(default)]
    keys: Vec<RawKey>,
    dns_provider: Option<RawScope>,
    port_probe: Option<RawScope>,
    management_store: Option<RawScope>,
    server_control: Option<RawScope>,
    pool_control: Option<RawScope>,
    policy: Option<RawScope>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    keys: Vec<RawKey>,
}

/// A key as a table of the environment file gives it: an OpenSSH public key
/// line, or `{ file = "keys/vendor.pub" }`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum RawKey {
    Line(String),
    File(RawKeyFile),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKeyFile {
    file: String,
}

/// A key a `[trust]` or `[approvals]` table gives that is not one.
#[derive(Debug, thiserror::Error)]
pub enum KeyLineError {
    #[error("`[{table}]`: key `{line}`: {source}")]
    Key {
        table: &'static str,
        line: String,
        source: KeyError,
    },
    #[error("`[{table}]`: {source}")]
    File {
        table: &'static str,
        source: FileError,
    },
}

/// Check the keys `table` gives: each inline line parsed, each file path made
/// relative to the environment directory.
pub(crate) fn key_sources(
    table: &'static str,
    keys: Vec<RawKey>,
) -> Result<Vec<KeySource>, KeyLineError> {
    keys.into_iter()
        .map(|key| match key {
            RawKey::Line(line) => {
                PublicKey::parse(&line)
                    .map(KeySource::Inline)
                    .map_err(|source| KeyLineError::Key {
                        table,
                        line,
                        source,
                    })
            }
            RawKey::File(file) => RelativePath::new(&file.file)
                .map(KeySource::File)
                .map_err(|source| KeyLineError::File { table, source }),
        })
        .collect()
}

/// Why the key files of a table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("`[{table}]`: key file `{path}`, line {line}: {source}")]
    File {
        table: &'static str,
        path: String,
        line: usize,
        source: KeyError,
    },
    #[error("`[{table}]`: key file `{path}` holds no key")]
    EmptyFile { table: &'static str, path: String },
    #[error("`[{table}]`: {source}")]
    Read {
        table: &'static str,
        source: FileError,
    },
}

/// The keys of `sources`, the key files of `table` read through `dir`, the
/// environment directory (one key a line, as in `authorized_keys`; blank
/// lines and `#` comments skipped).
pub fn read_keys(
    table: &'static str,
    sources: &[KeySource],
    dir: &Dir,
) -> Result<Vec<PublicKey>, KeysError> {
    let mut keys = Vec::new();
    for source in sources {
        match source {
            KeySource::Inline(key) => keys.push(key.clone()),
            KeySource::File(path) => {
                let text =
                    read_text(dir, path).map_err(|source| KeysError::Read { table, source })?;
                let before = keys.len();
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let key = PublicKey::parse(line).map_err(|source| KeysError::File {
                        table,
                        path: path.to_string(),
                        line: n + 1,
                        source,
                    })?;
                    keys.push(key);
                }
                if keys.len() == before {
                    return Err(KeysError::EmptyFile {
                        table,
                        path: path.to_string(),
                    });
                }
            }
        }
    }
    Ok(keys)
}

/// Why the trust policy could not be read, or refused a component.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(
        "`{subject}` ({role}) is unsigned, and `[trust]` requires signatures; {}",
        trusted_list(*role, trusted)
    )]
    Unsigned {
        subject: String,
        role: Role,
        trusted: Vec<TrustedKey>,
    },
    #[error(
        "`{subject}` ({role}) is a development build: its manifest is a file beside the component, which no signature covers, and `[trust]` requires signatures (pack it with `failback plugin pack`, then sign it)"
    )]
    Development { subject: String, role: Role },
    #[error(
        "`{subject}` ({role}) is signed by {}, not by a key trusted for {role}; {}",
        signers(signed, elsewhere),
        trusted_list(*role, trusted)
    )]
    Untrusted {
        subject: String,
        role: Role,
        signed: Vec<KeyId>,
        /// Keys among `signed` that are trusted for other roles, with those roles.
        elsewhere: BTreeMap<Fingerprint, Vec<Role>>,
        trusted: Vec<TrustedKey>,
    },
    #[error(
        "`{subject}` ({role}) names trusted key {key} as its signer, but that signature does not hold for its bytes: it was changed after it was signed"
    )]
    Broken {
        subject: String,
        role: Role,
        key: Fingerprint,
    },
}

fn trusted_list(role: Role, trusted: &[TrustedKey]) -> String {
    if trusted.is_empty() {
        return format!("no key is trusted for {role}");
    }
    let keys: Vec<String> = trusted.iter().map(ToString::to_string).collect();
    format!("trusted for {role}: {}", keys.join(", "))
}

fn signers(signed: &[KeyId], elsewhere: &BTreeMap<Fingerprint, Vec<Role>>) -> String {
    let named: Vec<String> = signed
        .iter()
        .map(|id| match id {
            KeyId::Fingerprint(fp) => match elsewhere.get(fp) {
                Some(roles) => {
                    let roles: Vec<&str> = roles.iter().map(|r| r.name()).collect();
                    format!("{fp} (trusted for {} only)", roles.join(", "))
                }
                None => fp.to_string(),
            },
            other => other.to_string(),
        })
        .collect();
    named.join(" and ")
}

/// A trusted key, as refusals and reports name it: fingerprint and comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustedKey {
    pub fingerprint: Fingerprint,
    pub comment: String,
}

impl fmt::Display for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.comment.is_empty() {
            write!(f, "{}", self.fingerprint)
        } else {
            write!(f, "{} ({})", self.fingerprint, self.comment)
        }
    }
}

/// Who vouches for a component that runs, as every audit record of it says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signer {
    /// Byte for byte a component the `failback` binary carries.
    BuiltIn,
    /// Signed by this trusted key (the first, when several trusted keys did).
    Key(Fingerprint),
    /// Signed, by no key trusted for its role (allowed: signatures not required).
    Untrusted(Vec<KeyId>),
    /// Not signed (allowed: signatures not required).
    Unsigned,
    /// A plugin whose manifest is a file beside it (allowed: signatures not required).
    Development,
}

impl fmt::Display for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BuiltIn => f.write_str("built-in"),
            Self::Key(fingerprint) => write!(f, "{fingerprint}"),
            Self::Untrusted(ids) => {
                let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                write!(f, "untrusted: {}", ids.join(", "))
            }
            Self::Unsigned => f.write_str("unsigned"),
            Self::Development => f.write_str("development build (unsigned)"),
        }
    }
}

impl Serialize for Signer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Where a component to judge comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A plugin whose manifest is a file beside it, of sha256 `manifest`: a
    /// development build.
    Development { manifest: Digest },
    /// A component that is all it is: its manifest, if any, inside it.
    Component,
}

/// The trust policy, its key files read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustPolicy {
    pub require_signatures: bool,
    /// Each key, with the role it is trusted for (`None`: every role).
    keys: Vec<(PublicKey, Option<Role>)>,
    /// The digests of the components the binary carries.
    built_in: BTreeSet<Digest>,
}

impl TrustBindings {
    pub(crate) fn parse(raw: RawTrust) -> Result<Self, KeyLineError> {
        let sources = |keys| key_sources("trust", keys);
        let mut scoped = BTreeMap::new();
        for (role, scope) in [
            (
                Role::Plugin(crate::manifest::PluginKind::DnsProvider),
                raw.dns_provider,
            ),
            (
                Role::Plugin(crate::manifest::PluginKind::PortProbe),
                raw.port_probe,
            ),
            (
                Role::Plugin(crate::manifest::PluginKind::ManagementStore),
                raw.management_store,
            ),
            (
                Role::Plugin(crate::manifest::PluginKind::ServerControl),
                raw.server_control,
            ),
            (
                Role::Plugin(crate::manifest::PluginKind::PoolControl),
                raw.pool_control,
            ),
            (Role::Policy, raw.policy),
        ] {
            if let Some(scope) = scope {
                scoped.insert(role, sources(scope.keys)?);
            }
        }
        Ok(Self {
            require_signatures: raw.require_signatures,
            keys: sources(raw.keys)?,
            scoped,
        })
    }

    /// Read the key files through `dir`, the environment directory.
    pub fn resolve(&self, dir: &Dir) -> Result<TrustPolicy, TrustError> {
        let mut keys = Vec::new();
        let scopes = std::iter::once((None, &self.keys))
            .chain(self.scoped.iter().map(|(role, keys)| (Some(*role), keys)));
        for (role, sources) in scopes {
            keys.extend(
                read_keys("trust", sources, dir)?
                    .into_iter()
                    .map(|key| (key, role)),
            );
        }
        Ok(TrustPolicy {
            require_signatures: self.require_signatures,
            keys,
            built_in: BTreeSet::new(),
        })
    }
}

impl TrustPolicy {
    /// A policy that requires no signature and trusts no key.
    #[must_use]
    pub fn open() -> Self {
        Self::default()
    }

    /// This policy, with the components of these digests trusted as built-in.
    #[must_use]
    pub fn with_built_in(mut self, digests: impl IntoIterator<Item = Digest>) -> Self {
        self.built_in.extend(digests);
        self
    }

    /// This policy with `key` trusted for `role` (`None`: every role).
    #[must_use]
    pub fn trusting(mut self, key: PublicKey, role: Option<Role>) -> Self {
        self.keys.push((key, role));
        self
    }

    /// This policy, requiring signatures or not.
    #[must_use]
    pub fn requiring_signatures(mut self, require: bool) -> Self {
        self.require_signatures = require;
        self
    }

    /// The keys trusted for `role`, each once.
    #[must_use]
    pub fn keys_for(&self, role: Role) -> Vec<PublicKey> {
        let mut keys: Vec<PublicKey> = Vec::new();
        for (key, scope) in &self.keys {
            if scope.is_none_or(|scope| scope == role)
                && !keys.iter().any(|k| k.fingerprint() == key.fingerprint())
            {
                keys.push(key.clone());
            }
        }
        keys
    }

    /// The keys trusted for `role`, as refusals name them.
    #[must_use]
    pub fn trusted(&self, role: Role) -> Vec<TrustedKey> {
        self.keys_for(role)
            .iter()
            .map(|key| TrustedKey {
                fingerprint: key.fingerprint(),
                comment: key.comment().to_owned(),
            })
            .collect()
    }

    /// Whether the component of `digest` is one the binary carries.
    #[must_use]
    pub fn is_built_in(&self, digest: Digest) -> bool {
        self.built_in.contains(&digest)
    }

    /// May `subject`, a component of `role` and `digest` from `origin`, whose
    /// signatures checked against [`Self::keys_for`] `role` are `signatures`,
    /// run — and who vouches for it?
    pub fn judge(
        &self,
        subject: &str,
        role: Role,
        digest: Digest,
        origin: Origin,
        signatures: &Signatures,
    ) -> Result<Signer, TrustError> {
        // Built in: the component, and the manifest file beside it if any,
        // byte for byte the binary's.
        let manifest_built_in = match origin {
            Origin::Development { manifest } => self.is_built_in(manifest),
            Origin::Component => true,
        };
        if self.is_built_in(digest) && manifest_built_in {
            return Ok(Signer::BuiltIn);
        }
        if matches!(origin, Origin::Development { .. }) {
            if self.require_signatures {
                return Err(TrustError::Development {
                    subject: subject.to_owned(),
                    role,
                });
            }
            return Ok(Signer::Development);
        }
        let trusted = self.keys_for(role);
        if let Some(&first) = signatures.verified.first() {
            return Ok(Signer::Key(first));
        }
        // A trusted key named, whose signature does not hold: changed since.
        let broken = signatures.claimed.iter().find_map(|id| match id {
            KeyId::Fingerprint(fp) if trusted.iter().any(|k| k.fingerprint() == *fp) => Some(*fp),
            _ => None,
        });
        if let Some(key) = broken {
            return Err(TrustError::Broken {
                subject: subject.to_owned(),
                role,
                key,
            });
        }
        if !signatures.is_signed() {
            if self.require_signatures {
                return Err(TrustError::Unsigned {
                    subject: subject.to_owned(),
                    role,
                    trusted: self.trusted(role),
                });
            }
            return Ok(Signer::Unsigned);
        }
        if self.require_signatures {
            let mut elsewhere: BTreeMap<Fingerprint, Vec<Role>> = BTreeMap::new();
            for id in &signatures.claimed {
                if let KeyId::Fingerprint(fp) = id {
                    for (key, scope) in &self.keys {
                        if let Some(scope) = scope
                            && key.fingerprint() == *fp
                        {
                            elsewhere.entry(*fp).or_default().push(*scope);
                        }
                    }
                }
            }
            return Err(TrustError::Untrusted {
                subject: subject.to_owned(),
                role,
                signed: signatures.claimed.clone(),
                elsewhere,
                trusted: self.trusted(role),
            });
        }
        Ok(Signer::Untrusted(signatures.claimed.clone()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::manifest::PluginKind;
    use crate::signature::SigningKey;

    const DNS: Role = Role::Plugin(PluginKind::DnsProvider);
    const PROBE: Role = Role::Plugin(PluginKind::PortProbe);

    fn key(n: u8) -> PublicKey {
        SigningKey::from_seed([n; 32], &format!("vendor-{n}"))
            .public()
            .clone()
    }

    fn signed_by(n: u8, holds: bool) -> Signatures {
        Signatures {
            claimed: vec![KeyId::Fingerprint(key(n).fingerprint())],
            verified: if holds {
                vec![key(n).fingerprint()]
            } else {
                Vec::new()
            },
        }
    }

    fn unsigned() -> Signatures {
        Signatures {
            claimed: Vec::new(),
            verified: Vec::new(),
        }
    }

    fn strict() -> TrustPolicy {
        TrustPolicy::open()
            .requiring_signatures(true)
            .trusting(key(1), None)
            .trusting(key(2), Some(PROBE))
    }

    const X: Digest = Digest::from_bytes([0; 32]);

    #[test]
    fn a_component_signed_by_a_trusted_key_runs_under_that_key() {
        let signer = strict()
            .judge("lab-dns", DNS, X, Origin::Component, &signed_by(1, true))
            .unwrap();
        assert_eq!(signer, Signer::Key(key(1).fingerprint()));
    }

    #[test]
    fn an_unsigned_component_is_refused_naming_the_trusted_keys() {
        let error = strict()
            .judge("lab-dns", DNS, X, Origin::Component, &unsigned())
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("is unsigned"), "{text}");
        assert!(text.contains(&key(1).fingerprint().to_string()), "{text}");
        assert!(!text.contains(&key(2).fingerprint().to_string()), "{text}");
    }

    #[test]
    fn a_key_trusted_for_another_kind_is_named_as_such() {
        let error = strict()
            .judge("lab-dns", DNS, X, Origin::Component, &signed_by(2, false))
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(&format!(
                "{} (trusted for port-probe only)",
                key(2).fingerprint()
            )),
            "{text}"
        );
    }

    #[test]
    fn a_broken_signature_of_a_trusted_key_is_refused_even_when_not_required() {
        let open = TrustPolicy::open().trusting(key(1), None);
        let error = open
            .judge("lab-dns", DNS, X, Origin::Component, &signed_by(1, false))
            .unwrap_err();
        assert!(matches!(error, TrustError::Broken { .. }), "{error}");
    }

    #[test]
    fn a_development_build_runs_only_when_signatures_are_not_required() {
        let open = TrustPolicy::open();
        assert_eq!(
            open.judge(
                "x",
                DNS,
                X,
                Origin::Development { manifest: X },
                &unsigned()
            )
            .unwrap(),
            Signer::Development
        );
        assert!(matches!(
            strict().judge(
                "x",
                DNS,
                X,
                Origin::Development { manifest: X },
                &signed_by(1, true)
            ),
            Err(TrustError::Development { .. })
        ));
    }

    #[test]
    fn a_built_in_component_is_trusted_as_the_binary() {
        let digest = Digest::of(b"carried");
        let policy = strict().with_built_in([digest]);
        assert_eq!(
            policy
                .judge("lab-dns", DNS, digest, Origin::Component, &unsigned())
                .unwrap(),
            Signer::BuiltIn
        );
        assert!(
            policy
                .judge("lab-dns", DNS, X, Origin::Component, &unsigned())
                .is_err()
        );
        // A built-in component beside an edited manifest is a development build.
        let edited = Origin::Development {
            manifest: Digest::of(b"edited"),
        };
        assert!(matches!(
            policy.judge("lab-dns", DNS, digest, edited, &unsigned()),
            Err(TrustError::Development { .. })
        ));
        let policy = policy.with_built_in([Digest::of(b"edited")]);
        assert_eq!(
            policy
                .judge("lab-dns", DNS, digest, edited, &unsigned())
                .unwrap(),
            Signer::BuiltIn
        );
    }

    #[test]
    fn an_untrusted_signature_runs_unverified_when_not_required() {
        let signer = TrustPolicy::open()
            .judge("x", DNS, X, Origin::Component, &signed_by(3, false))
            .unwrap();
        assert_eq!(
            signer.to_string(),
            format!("untrusted: {}", key(3).fingerprint())
        );
    }
}
