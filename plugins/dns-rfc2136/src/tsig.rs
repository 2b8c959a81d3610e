//! TSIG (RFC 8945) with HMAC-SHA256: signing requests and verifying the answers,
//! including the later messages of a zone transfer (§5.3.1), which chain each
//! MAC to the one before.
//!
//! The MAC is computed over the message as it is on the wire without its TSIG
//! record (ARCOUNT one less, the original ID), followed by the TSIG variables
//! (§4.3.3); an answer's digest starts with the request's MAC. [`crate::wire`]
//! provides the bytes and where the record starts.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::wire::{self, CLASS_ANY, Decoded, Message, Name, RData, Record, TYPE_TSIG, Tsig};

type HmacSha256 = Hmac<Sha256>;

/// The one algorithm this plugin signs with.
pub const HMAC_SHA256: &str = "hmac-sha256";
/// Seconds of clock difference accepted either way (RFC 8945 recommends 300).
pub const FUDGE: u16 = 300;
/// Length of an untruncated HMAC-SHA256.
const MAC_LEN: usize = 32;
/// Unsigned messages a transfer may carry between two signed ones (§5.3.1).
const MAX_UNSIGNED_RUN: usize = 99;

/// A TSIG key: its name and its secret. `Debug` never shows the secret.
#[derive(Clone)]
pub struct Key {
    name: Name,
    algorithm: Name,
    secret: Vec<u8>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name.to_string())
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Key {
    /// A key named `name` with the raw `secret`.
    pub fn new(name: &str, secret: Vec<u8>) -> Result<Self, wire::WireError> {
        Ok(Self {
            name: Name::parse(name)?,
            algorithm: Name::parse(HMAC_SHA256)?,
            secret,
        })
    }

    #[must_use]
    pub fn name(&self) -> &Name {
        &self.name
    }

    fn hmac(&self) -> HmacSha256 {
        // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
        HmacSha256::new_from_slice(&self.secret)
            .unwrap_or_else(|_| HmacSha256::new(&Default::default()))
    }
}

/// Why an answer's TSIG did not verify, or the server did not accept ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsigError {
    /// The server set the TSIG error field (BADSIG, BADKEY, BADTIME, ...): it
    /// did not accept the request's signature.
    Server(u16),
    /// The answer carries no TSIG record where one is required.
    Unsigned,
    /// The answer is signed with another key or algorithm.
    OtherKey(String),
    /// The answer's MAC is not the one the key gives.
    BadMac,
    /// The answer was signed further from now than the fudge allows.
    BadTime { signed: u64, now: u64 },
    /// A transfer sent more unsigned messages in a row than RFC 8945 allows.
    TooManyUnsigned,
}

impl fmt::Display for TsigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Server(code) => write!(
                f,
                "{}: the server did not accept the request's signature",
                wire::rcode::name(*code)
            ),
            Self::Unsigned => f.write_str("the answer is not signed"),
            Self::OtherKey(what) => write!(f, "the answer is signed with {what}"),
            Self::BadMac => f.write_str("BADSIG: the answer's signature does not verify"),
            Self::BadTime { signed, now } => write!(
                f,
                "BADTIME: the answer was signed at {signed}, the local clock says {now} (fudge {FUDGE} s)"
            ),
            Self::TooManyUnsigned => write!(
                f,
                "the transfer sent over {MAX_UNSIGNED_RUN} unsigned messages in a row"
            ),
        }
    }
}

/// The TSIG variables of §4.3.3 that follow the message in the digest; a
/// transfer's later messages use only the timers.
fn write_variables(key: &Key, tsig: &Tsig, timers_only: bool, out: &mut Vec<u8>) {
    if !timers_only {
        key.name.write_canonical(out);
        out.extend_from_slice(&CLASS_ANY.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        tsig.algorithm.write_canonical(out);
    }
    wire::write_u48(tsig.time_signed, out);
    out.extend_from_slice(&tsig.fudge.to_be_bytes());
    if !timers_only {
        out.extend_from_slice(&tsig.error.to_be_bytes());
        // Other Len fits: it came from, or goes to, a u16 on the wire.
        let other_len = u16::try_from(tsig.other.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&other_len.to_be_bytes());
        out.extend_from_slice(&tsig.other);
    }
}

/// The digest input: the prior MAC (for an answer), the messages, the variables.
fn digest_input(
    key: &Key,
    prior_mac: Option<&[u8]>,
    messages: &[u8],
    tsig: &Tsig,
    timers_only: bool,
) -> Vec<u8> {
    let mut input = Vec::with_capacity(messages.len() + 128);
    if let Some(prior) = prior_mac {
        let len = u16::try_from(prior.len()).unwrap_or(u16::MAX);
        input.extend_from_slice(&len.to_be_bytes());
        input.extend_from_slice(prior);
    }
    input.extend_from_slice(messages);
    write_variables(key, tsig, timers_only, &mut input);
    input
}

/// `message` signed with `key` at `time` (seconds since the epoch): the bytes
/// to send and the request's MAC, which the answer's digest starts with.
pub fn sign(
    key: &Key,
    message: &Message,
    time: u64,
) -> Result<(Vec<u8>, Vec<u8>), wire::WireError> {
    let mut bytes = message.encode()?;
    let mut tsig = Tsig {
        algorithm: key.algorithm.clone(),
        time_signed: time,
        fudge: FUDGE,
        mac: Vec::new(),
        original_id: message.id,
        error: 0,
        other: Vec::new(),
    };
    let mut hmac = key.hmac();
    hmac.update(&digest_input(key, None, &bytes, &tsig, false));
    tsig.mac = hmac.finalize().into_bytes().to_vec();
    let mac = tsig.mac.clone();
    let arcount = u16::from_be_bytes([bytes[10], bytes[11]])
        .checked_add(1)
        .ok_or_else(|| wire::WireError::BadData("too many additional records".to_owned()))?;
    bytes[10..12].copy_from_slice(&arcount.to_be_bytes());
    Record {
        name: key.name.clone(),
        rtype: TYPE_TSIG,
        class: CLASS_ANY,
        ttl: 0,
        data: RData::Tsig(tsig),
    }
    .write(&mut bytes)?;
    if bytes.len() > usize::from(u16::MAX) {
        return Err(wire::WireError::TooLong(bytes.len()));
    }
    Ok((bytes, mac))
}

/// `raw` as it was before its TSIG record was added: the bytes up to the
/// record, ARCOUNT one less, the original ID.
fn unsigned_bytes(raw: &[u8], tsig_offset: usize, original_id: u16) -> Vec<u8> {
    let mut bytes = raw[..tsig_offset].to_vec();
    bytes[0..2].copy_from_slice(&original_id.to_be_bytes());
    let arcount = u16::from_be_bytes([bytes[10], bytes[11]]).saturating_sub(1);
    bytes[10..12].copy_from_slice(&arcount.to_be_bytes());
    bytes
}

/// The TSIG record of a decoded message, if it has one.
#[must_use]
pub fn record_of(decoded: &Decoded) -> Option<(&Record, &Tsig)> {
    decoded.tsig_offset?;
    let record = decoded.message.additional.last()?;
    match &record.data {
        RData::Tsig(tsig) => Some((record, tsig)),
        _ => None,
    }
}

/// Verifies the answers to one signed request: one message, or each message of
/// a zone transfer in turn.
#[derive(Debug)]
pub struct Verifier<'k> {
    key: &'k Key,
    /// The MAC the next signed message's digest starts with.
    prior_mac: Vec<u8>,
    /// Unsigned messages since the last signed one.
    pending: Vec<u8>,
    unsigned_run: usize,
    first: bool,
}

impl<'k> Verifier<'k> {
    /// A verifier for the answers to the request whose MAC is `request_mac`.
    #[must_use]
    pub fn new(key: &'k Key, request_mac: Vec<u8>) -> Self {
        Self {
            key,
            prior_mac: request_mac,
            pending: Vec::new(),
            unsigned_run: 0,
            first: true,
        }
    }

    /// Verify the next answer, `raw` as received and `decoded` from it, at
    /// `now` (seconds since the epoch). The first answer must be signed; later
    /// ones of a transfer may be unsigned, up to 99 in a row.
    pub fn verify(&mut self, raw: &[u8], decoded: &Decoded, now: u64) -> Result<(), TsigError> {
        let (Some(offset), Some((record, tsig))) = (decoded.tsig_offset, record_of(decoded)) else {
            if self.first {
                return Err(TsigError::Unsigned);
            }
            self.unsigned_run += 1;
            if self.unsigned_run > MAX_UNSIGNED_RUN {
                return Err(TsigError::TooManyUnsigned);
            }
            self.pending.extend_from_slice(raw);
            return Ok(());
        };
        if !record.name.eq_ignore_case(&self.key.name) {
            return Err(TsigError::OtherKey(format!("key `{}`", record.name)));
        }
        if tsig.error != 0 {
            return Err(TsigError::Server(tsig.error));
        }
        if !tsig.algorithm.eq_ignore_case(&self.key.algorithm) {
            return Err(TsigError::OtherKey(format!(
                "algorithm `{}`",
                tsig.algorithm
            )));
        }
        if tsig.mac.len() != MAC_LEN {
            return Err(TsigError::BadMac);
        }
        let mut messages = std::mem::take(&mut self.pending);
        messages.extend_from_slice(&unsigned_bytes(raw, offset, tsig.original_id));
        let input = digest_input(
            self.key,
            Some(&self.prior_mac),
            &messages,
            tsig,
            !self.first,
        );
        let mut hmac = self.key.hmac();
        hmac.update(&input);
        hmac.verify_slice(&tsig.mac)
            .map_err(|_| TsigError::BadMac)?;
        if now.abs_diff(tsig.time_signed) > u64::from(tsig.fudge) {
            return Err(TsigError::BadTime {
                signed: tsig.time_signed,
                now,
            });
        }
        self.prior_mac.clone_from(&tsig.mac);
        self.unsigned_run = 0;
        self.first = false;
        Ok(())
    }

    /// Whether the last answer verified was signed, as a transfer's last message
    /// must be.
    pub fn finish(&self) -> Result<(), TsigError> {
        if self.first || self.unsigned_run > 0 {
            Err(TsigError::Unsigned)
        } else {
            Ok(())
        }
    }
}

/// The MAC a request signed with `key` should carry: what a server computes to
/// check it (used to check this module against another implementation's
/// requests).
#[cfg(test)]
fn request_mac(key: &Key, raw: &[u8], decoded: &Decoded) -> Option<Vec<u8>> {
    let offset = decoded.tsig_offset?;
    let (_, tsig) = record_of(decoded)?;
    let bytes = unsigned_bytes(raw, offset, tsig.original_id);
    let mut hmac = key.hmac();
    hmac.update(&digest_input(key, None, &bytes, tsig, false));
    Some(hmac.finalize().into_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use base64::Engine as _;

    use super::*;
    use crate::wire::{CLASS_IN, OPCODE_UPDATE, Question, TYPE_SOA, TYPE_SRV, decode};

    const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=";

    fn key() -> Key {
        let secret = base64::engine::general_purpose::STANDARD
            .decode(SECRET)
            .unwrap();
        Key::new("failback-key", secret).unwrap()
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// An UPDATE that BIND 9.18's `nsupdate -y hmac-sha256:failback-key:<SECRET>`
    /// sent (captured off the wire): delete the `_xmpp-server._tcp` SRV set, add
    /// one SRV record. It uses name compression, as this module does not.
    const NSUPDATE_REQUEST: &str = "fbd32800000100000002000107636f6e746f736f03636f6d00000600010c5f786d70702d736572766572045f74637007636f6e746f736f03636f6d00002100ff000000000000c01d002100010000012c001800000005149504786d707007636f6e746f736f03636f6d000c6661696c6261636b2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b084b52012c002095b40afd09d43d5da4cc670fa055d79e1e8976e6a6f8cad4527f3733d361aa85fbd300000000";

    #[test]
    fn the_mac_matches_what_nsupdate_computed() {
        let raw = hex(NSUPDATE_REQUEST);
        let decoded = decode(&raw).unwrap();
        let (_, tsig) = record_of(&decoded).unwrap();
        assert_eq!(tsig.time_signed, 0x6b08_4b52);
        assert_eq!(request_mac(&key(), &raw, &decoded).unwrap(), tsig.mac);

        // Any other key gives another MAC.
        let other = Key::new("failback-key", b"another secret".to_vec()).unwrap();
        assert_ne!(request_mac(&other, &raw, &decoded).unwrap(), tsig.mac);
    }

    #[test]
    fn signing_the_same_update_at_the_same_time_gives_nsupdate_s_mac() {
        // Re-build nsupdate's request (uncompressed) and sign it at the time it
        // was signed: the MAC differs only because the bytes differ, so compare
        // against the MAC of nsupdate's own bytes recomputed from our encoding.
        let raw = hex(NSUPDATE_REQUEST);
        let decoded = decode(&raw).unwrap();
        let (_, tsig) = record_of(&decoded).unwrap();
        let mut message = decoded.message.clone();
        message.additional.pop();
        let (signed, mac) = sign(&key(), &message, tsig.time_signed).unwrap();
        let again = decode(&signed).unwrap();
        assert_eq!(request_mac(&key(), &signed, &again).unwrap(), mac);
        assert_eq!(again.message.questions, message.questions);
        assert_eq!(again.message.authority, message.authority);
        assert_eq!(again.message.additional.len(), 1);
    }

    fn update() -> Message {
        Message {
            id: 42,
            opcode: OPCODE_UPDATE,
            questions: vec![Question {
                name: Name::parse("contoso.com").unwrap(),
                qtype: TYPE_SOA,
                qclass: CLASS_IN,
            }],
            authority: vec![Record {
                name: Name::parse("_sipfederationtls._tcp.contoso.com").unwrap(),
                rtype: TYPE_SRV,
                class: CLASS_ANY,
                ttl: 0,
                data: RData::Empty,
            }],
            ..Message::default()
        }
    }

    /// A server's answer to `request_mac`, signed as RFC 8945 says a server does.
    fn answer(key: &Key, prior: &[u8], timers_only: bool, time: u64, id: u16) -> Vec<u8> {
        let mut message = update();
        message.id = id;
        message.response = true;
        let mut bytes = message.encode().unwrap();
        let mut tsig = Tsig {
            algorithm: Name::parse(HMAC_SHA256).unwrap(),
            time_signed: time,
            fudge: FUDGE,
            mac: Vec::new(),
            original_id: id,
            error: 0,
            other: Vec::new(),
        };
        let mut hmac = key.hmac();
        hmac.update(&digest_input(key, Some(prior), &bytes, &tsig, timers_only));
        tsig.mac = hmac.finalize().into_bytes().to_vec();
        bytes[11] += 1;
        Record {
            name: key.name.clone(),
            rtype: TYPE_TSIG,
            class: CLASS_ANY,
            ttl: 0,
            data: RData::Tsig(tsig),
        }
        .write(&mut bytes)
        .unwrap();
        bytes
    }

    fn mac_of(raw: &[u8]) -> Vec<u8> {
        let decoded = decode(raw).unwrap();
        record_of(&decoded).unwrap().1.mac.clone()
    }

    #[test]
    fn a_signed_answer_verifies_and_a_tampered_one_does_not() {
        let key = key();
        let (_, request_mac) = sign(&key, &update(), 1_000_000).unwrap();
        let raw = answer(&key, &request_mac, false, 1_000_010, 42);
        let mut verifier = Verifier::new(&key, request_mac.clone());
        verifier
            .verify(&raw, &decode(&raw).unwrap(), 1_000_000)
            .unwrap();
        verifier.finish().unwrap();

        let mut tampered = raw.clone();
        tampered[3] |= 0x05;
        let mut verifier = Verifier::new(&key, request_mac.clone());
        assert_eq!(
            verifier.verify(&tampered, &decode(&tampered).unwrap(), 1_000_000),
            Err(TsigError::BadMac)
        );

        let late = answer(&key, &request_mac, false, 1_000_000 + 301, 42);
        let mut verifier = Verifier::new(&key, request_mac.clone());
        assert!(matches!(
            verifier.verify(&late, &decode(&late).unwrap(), 1_000_000),
            Err(TsigError::BadTime { .. })
        ));

        let unsigned = update().encode().unwrap();
        let mut verifier = Verifier::new(&key, request_mac);
        assert_eq!(
            verifier.verify(&unsigned, &decode(&unsigned).unwrap(), 1_000_000),
            Err(TsigError::Unsigned)
        );
    }

    #[test]
    fn a_transfer_chains_each_mac_to_the_one_before() {
        let key = key();
        let (_, request_mac) = sign(&key, &update(), 7).unwrap();
        let first = answer(&key, &request_mac, false, 7, 42);
        let unsigned = {
            let mut message = update();
            message.response = true;
            message.encode().unwrap()
        };
        // The third message's digest covers the unsigned second one too.
        let third = {
            let mut message = update();
            message.id = 42;
            message.response = true;
            let bytes = message.encode().unwrap();
            let tsig = Tsig {
                algorithm: Name::parse(HMAC_SHA256).unwrap(),
                time_signed: 8,
                fudge: FUDGE,
                mac: Vec::new(),
                original_id: 42,
                error: 0,
                other: Vec::new(),
            };
            let mut covered = unsigned.clone();
            covered.extend_from_slice(&bytes);
            let mut hmac = key.hmac();
            hmac.update(&digest_input(
                &key,
                Some(&mac_of(&first)),
                &covered,
                &tsig,
                true,
            ));
            let mut bytes = bytes;
            bytes[11] += 1;
            Record {
                name: key.name.clone(),
                rtype: TYPE_TSIG,
                class: CLASS_ANY,
                ttl: 0,
                data: RData::Tsig(Tsig {
                    mac: hmac.finalize().into_bytes().to_vec(),
                    ..tsig
                }),
            }
            .write(&mut bytes)
            .unwrap();
            bytes
        };
        let mut verifier = Verifier::new(&key, request_mac.clone());
        for raw in [&first, &unsigned, &third] {
            verifier.verify(raw, &decode(raw).unwrap(), 7).unwrap();
        }
        verifier.finish().unwrap();

        // Ending on an unsigned message is not a verified transfer.
        let mut verifier = Verifier::new(&key, request_mac.clone());
        for raw in [&first, &unsigned] {
            verifier.verify(raw, &decode(raw).unwrap(), 7).unwrap();
        }
        assert_eq!(verifier.finish(), Err(TsigError::Unsigned));

        // Out of order, the chain breaks.
        let second_signed = answer(&key, &mac_of(&first), true, 8, 42);
        let mut verifier = Verifier::new(&key, request_mac);
        assert_eq!(
            verifier.verify(&second_signed, &decode(&second_signed).unwrap(), 7),
            Err(TsigError::BadMac)
        );
    }

    #[test]
    fn a_server_tsig_error_is_reported_by_its_code() {
        let key = key();
        let mut raw = update().encode().unwrap();
        raw[11] = 1;
        Record {
            name: key.name.clone(),
            rtype: TYPE_TSIG,
            class: CLASS_ANY,
            ttl: 0,
            data: RData::Tsig(Tsig {
                algorithm: Name::parse(HMAC_SHA256).unwrap(),
                time_signed: 0,
                fudge: FUDGE,
                mac: Vec::new(),
                original_id: 42,
                error: wire::rcode::BADKEY,
                other: Vec::new(),
            }),
        }
        .write(&mut raw)
        .unwrap();
        let mut verifier = Verifier::new(&key, vec![0; 32]);
        let error = verifier
            .verify(&raw, &decode(&raw).unwrap(), 0)
            .unwrap_err();
        assert_eq!(error, TsigError::Server(wire::rcode::BADKEY));
        assert!(error.to_string().starts_with("BADKEY"));
    }

    #[test]
    fn the_key_s_debug_form_hides_the_secret() {
        let shown = format!("{:?}", key());
        assert!(shown.contains("failback-key") && shown.contains("<redacted>"));
        assert!(!shown.contains("secret-secret"));
    }
}
