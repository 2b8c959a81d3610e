//! TSIG (RFC 8945) with HMAC-SHA256: signing requests and verifying the answers,
//! including the later messages of a zone transfer (§5.3.1), which chain each
//! MAC to the one before.
//!
//! The messages are hickory-proto's; the MAC is ours (hmac/sha2), because
//! hickory-proto signs only through its DNSSEC features, which bring a native
//! crypto library. The MAC is computed over the message as it is on the wire
//! without its TSIG record (ARCOUNT one less, the original ID), followed by the
//! TSIG variables (§4.3.3); an answer's digest starts with the request's MAC.
//! [`Received`] notes where a received message's TSIG record starts, so the
//! digest covers exactly the bytes the server sent.

use std::fmt;

use hickory_proto::ProtoError;
use hickory_proto::op::{Header, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::tsig::{TSIG, TsigAlgorithm, make_tsig_record, message_tbs};
use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::serialize::binary::{BinDecodable as _, BinDecoder, BinEncoder};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::records;

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
    secret: Vec<u8>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &records::text(&self.name))
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Key {
    /// A key named `name` with the raw `secret`.
    pub fn new(name: &str, secret: Vec<u8>) -> Result<Self, ProtoError> {
        Ok(Self {
            name: records::parse_name(name)?,
            secret,
        })
    }

    /// The key's name, as messages show it.
    #[must_use]
    pub fn name(&self) -> String {
        records::text(&self.name)
    }

    fn hmac(&self) -> HmacSha256 {
        // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
        HmacSha256::new_from_slice(&self.secret)
            .unwrap_or_else(|_| HmacSha256::new(&Default::default()))
    }

    fn mac(&self, input: &[u8]) -> Vec<u8> {
        let mut hmac = self.hmac();
        hmac.update(input);
        hmac.finalize().into_bytes().to_vec()
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
                records::rcode_name(<ResponseCode as From<u16>>::from(*code))
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

/// A TSIG record's data before its MAC is known.
fn unsigned_tsig(id: u16, time: u64) -> TSIG {
    TSIG::new(
        TsigAlgorithm::HmacSha256,
        time,
        FUDGE,
        Vec::new(),
        id,
        None,
        Vec::new(),
    )
}

/// The TSIG variables of §4.3.3 that follow the message in the digest; a
/// transfer's later messages use only the timers.
fn variables(key: &Key, tsig: &TSIG, timers_only: bool) -> Result<Vec<u8>, ProtoError> {
    let mut out = Vec::with_capacity(64);
    if timers_only {
        // Time Signed is 48 bits on the wire.
        out.extend_from_slice(&tsig.time.to_be_bytes()[2..]);
        out.extend_from_slice(&tsig.fudge.to_be_bytes());
    } else {
        tsig.emit_tsig_for_mac(&mut BinEncoder::new(&mut out), &key.name)?;
    }
    Ok(out)
}

/// `message` signed with `key` at `time` (seconds since the epoch): the bytes
/// to send and the request's MAC, which the answer's digest starts with.
///
/// The MAC covers hickory-proto's encoding of `message`; the bytes sent are
/// the same encoding with the TSIG record after it (a test checks this, and
/// another that the MAC is the one `nsupdate` computes).
pub fn sign(key: &Key, message: &Message, time: u64) -> Result<(Vec<u8>, Vec<u8>), ProtoError> {
    let tsig = unsigned_tsig(message.metadata.id, time);
    let mac = key.mac(&message_tbs(message, &tsig, &key.name)?);
    let mut signed = message.clone();
    signed.signature = Some(Box::new(make_tsig_record(
        key.name.clone(),
        tsig.set_mac(mac.clone()),
    )));
    let bytes = signed.to_vec()?;
    if bytes.len() > usize::from(u16::MAX) {
        return Err(ProtoError::from(format!(
            "the request is {} bytes, over 65535",
            bytes.len()
        )));
    }
    Ok((bytes, mac))
}

/// A message as it came: decoded from its bytes and, when it is signed, its
/// TSIG record and where that record starts in the bytes.
#[derive(Debug)]
pub struct Received {
    pub message: Message,
    signature: Option<Signature>,
}

#[derive(Debug)]
struct Signature {
    /// Where the TSIG record starts in the bytes.
    offset: usize,
    /// The record's owner: the key's name.
    key: Name,
    tsig: TSIG,
}

impl Received {
    /// Decode `raw` (without the TCP length prefix). A TSIG record may only be
    /// the last record of the message (RFC 8945 §5.1).
    pub fn decode(raw: &[u8]) -> Result<Self, ProtoError> {
        let mut message = Message::from_vec(raw)?;
        let is_tsig = |r: &Record| matches!(r.data, RData::TSIG(_));
        let signed = message.additionals.last().is_some_and(is_tsig);
        if message.additionals.iter().filter(|r| is_tsig(r)).count() > usize::from(signed) {
            return Err(ProtoError::from(
                "a TSIG record that is not the last record",
            ));
        }
        let offset = last_record_at(raw)?;
        let signature = match message.additionals.pop_if(|r| is_tsig(r)) {
            Some(Record {
                name,
                data: RData::TSIG(tsig),
                ..
            }) => Some(Signature {
                offset,
                key: name,
                tsig,
            }),
            _ => None,
        };
        Ok(Self { message, signature })
    }

    /// The message's TSIG record data, if it is signed.
    #[must_use]
    pub fn tsig(&self) -> Option<&TSIG> {
        self.signature.as_ref().map(|s| &s.tsig)
    }
}

/// Where the last record of the message `raw` starts; past the last byte when
/// it has none. Every record is read, so the message holds nothing after them.
fn last_record_at(raw: &[u8]) -> Result<usize, ProtoError> {
    let mut decoder = BinDecoder::new(raw);
    let counts = Header::read(&mut decoder)?.counts;
    for _ in 0..counts.queries {
        Query::read(&mut decoder)?;
    }
    let records =
        u32::from(counts.answers) + u32::from(counts.authorities) + u32::from(counts.additionals);
    let mut last = decoder.index();
    for _ in 0..records {
        last = decoder.index();
        Record::<RData>::read(&mut decoder)?;
    }
    if !decoder.is_empty() {
        return Err(ProtoError::from(format!(
            "{} bytes after the last record",
            decoder.len()
        )));
    }
    Ok(last)
}

/// `raw` as it was before its TSIG record was added: the bytes up to the
/// record, ARCOUNT one less, the original ID (RFC 1035 §4.1.1 puts the ID in
/// bytes 0–1 and ARCOUNT in bytes 10–11).
fn unsigned_bytes(raw: &[u8], tsig_offset: usize, original_id: u16) -> Vec<u8> {
    let mut bytes = raw[..tsig_offset].to_vec();
    bytes[0..2].copy_from_slice(&original_id.to_be_bytes());
    let arcount = u16::from_be_bytes([bytes[10], bytes[11]]).saturating_sub(1);
    bytes[10..12].copy_from_slice(&arcount.to_be_bytes());
    bytes
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

    /// Verify the next answer, `raw` as received and `answer` decoded from it,
    /// at `now` (seconds since the epoch). The first answer must be signed;
    /// later ones of a transfer may be unsigned, up to 99 in a row.
    pub fn verify(&mut self, raw: &[u8], answer: &Received, now: u64) -> Result<(), TsigError> {
        let Some(Signature { offset, key, tsig }) = &answer.signature else {
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
        if *key != self.key.name {
            return Err(TsigError::OtherKey(format!("key `{}`", records::text(key))));
        }
        if let Some(error) = tsig.error {
            return Err(TsigError::Server(error.into()));
        }
        if tsig.algorithm != TsigAlgorithm::HmacSha256 {
            return Err(TsigError::OtherKey(format!(
                "algorithm `{}`",
                records::text(&tsig.algorithm.to_name())
            )));
        }
        if tsig.mac.len() != MAC_LEN {
            return Err(TsigError::BadMac);
        }
        let mut input = Vec::with_capacity(2 + MAC_LEN + self.pending.len() + raw.len() + 64);
        // The prior MAC is 32 bytes: the request's, or a verified answer's.
        input.extend_from_slice(
            &u16::try_from(self.prior_mac.len())
                .unwrap_or(0)
                .to_be_bytes(),
        );
        input.extend_from_slice(&self.prior_mac);
        input.append(&mut self.pending);
        input.extend_from_slice(&unsigned_bytes(raw, *offset, tsig.oid));
        let timers = variables(self.key, tsig, !self.first).map_err(|_| TsigError::BadMac)?;
        input.extend_from_slice(&timers);
        let mut hmac = self.key.hmac();
        hmac.update(&input);
        hmac.verify_slice(&tsig.mac)
            .map_err(|_| TsigError::BadMac)?;
        if now.abs_diff(tsig.time) > u64::from(tsig.fudge) {
            return Err(TsigError::BadTime {
                signed: tsig.time,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use base64::Engine as _;
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::{DNSClass, RecordType};

    use super::*;

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

    /// The MAC a request signed with `key` should carry: what a server computes
    /// to check it, from the bytes as they came.
    fn request_mac(key: &Key, raw: &[u8]) -> Vec<u8> {
        let answer = Received::decode(raw).unwrap();
        let Signature { offset, tsig, .. } = answer.signature.unwrap();
        let mut input = unsigned_bytes(raw, offset, tsig.oid);
        input.extend_from_slice(&variables(key, &tsig, false).unwrap());
        key.mac(&input)
    }

    /// An UPDATE that BIND 9.18's `nsupdate -y hmac-sha256:failback-key:<SECRET>`
    /// sent (captured off the wire): delete the `_xmpp-server._tcp` SRV set, add
    /// one SRV record.
    const NSUPDATE_REQUEST: &str = "fbd32800000100000002000107636f6e746f736f03636f6d00000600010c5f786d70702d736572766572045f74637007636f6e746f736f03636f6d00002100ff000000000000c01d002100010000012c001800000005149504786d707007636f6e746f736f03636f6d000c6661696c6261636b2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b084b52012c002095b40afd09d43d5da4cc670fa055d79e1e8976e6a6f8cad4527f3733d361aa85fbd300000000";

    #[test]
    fn the_mac_matches_what_nsupdate_computed() {
        let raw = hex(NSUPDATE_REQUEST);
        let answer = Received::decode(&raw).unwrap();
        let tsig = answer.tsig().unwrap();
        assert_eq!(tsig.time, 0x6b08_4b52);
        assert_eq!(request_mac(&key(), &raw), tsig.mac);

        // Any other key gives another MAC.
        let other = Key::new("failback-key", b"another secret".to_vec()).unwrap();
        assert_ne!(request_mac(&other, &raw), tsig.mac);
    }

    #[test]
    fn signing_nsupdate_s_update_covers_hickory_s_encoding_of_it() {
        // Re-sign nsupdate's update at the time nsupdate signed it. hickory-proto
        // compresses one name nsupdate wrote in full, so the bytes and the MAC
        // differ; the MAC is the one a server computes over the bytes sent,
        // and the message is the same.
        let raw = hex(NSUPDATE_REQUEST);
        let mut nsupdate = Received::decode(&raw).unwrap();
        let tsig = nsupdate.tsig().unwrap().clone();
        nsupdate.message.metadata.id = tsig.oid;
        let (signed, mac) = sign(&key(), &nsupdate.message, tsig.time).unwrap();
        assert_eq!(
            signed.len(),
            raw.len() - 11,
            "one 13-byte suffix becomes a pointer"
        );
        assert_eq!(request_mac(&key(), &signed), mac);
        let ours = Received::decode(&signed).unwrap();
        assert_eq!(ours.message, nsupdate.message);
        let ours = ours.tsig().unwrap();
        assert_eq!(
            (ours.time, ours.fudge, ours.oid),
            (tsig.time, tsig.fudge, tsig.oid)
        );
    }

    #[test]
    fn the_mac_covers_the_bytes_sent() {
        let (signed, mac) = sign(&key(), &update(), 1_000_000).unwrap();
        assert_eq!(request_mac(&key(), &signed), mac);
        let again = Received::decode(&signed).unwrap();
        assert_eq!(again.message.queries, update().queries);
        assert_eq!(again.message.authorities, update().authorities);
        assert!(again.message.additionals.is_empty());
        let tsig = again.tsig().unwrap();
        assert_eq!((tsig.oid, tsig.time, tsig.fudge), (42, 1_000_000, FUDGE));
    }

    fn update() -> Message {
        let mut message = Message::new(42, MessageType::Query, OpCode::Update);
        message.add_query(Query::query(
            records::parse_name("contoso.com").unwrap(),
            RecordType::SOA,
        ));
        let mut delete = Record::update0(
            records::parse_name("_sipfederationtls._tcp.contoso.com").unwrap(),
            0,
            RecordType::SRV,
        );
        delete.dns_class = DNSClass::ANY;
        message.add_authority(delete);
        message
    }

    /// A response to `update()` with ID `id`, unsigned.
    fn response(id: u16) -> Message {
        let mut message = update();
        message.metadata.id = id;
        message.metadata.message_type = MessageType::Response;
        message
    }

    /// `message` signed as RFC 8945 says a server signs: after the prior MAC,
    /// over `covered` (earlier unsigned messages) and the message itself.
    fn signed_by_server(
        key: &Key,
        prior: &[u8],
        covered: &[u8],
        message: &Message,
        timers_only: bool,
        time: u64,
    ) -> Vec<u8> {
        let tsig = unsigned_tsig(message.metadata.id, time);
        let mut input = (u16::try_from(prior.len()).unwrap()).to_be_bytes().to_vec();
        input.extend_from_slice(prior);
        input.extend_from_slice(covered);
        input.extend_from_slice(&message.to_vec().unwrap());
        input.extend_from_slice(&variables(key, &tsig, timers_only).unwrap());
        let mut signed = message.clone();
        signed.signature = Some(Box::new(make_tsig_record(
            key.name.clone(),
            tsig.set_mac(key.mac(&input)),
        )));
        signed.to_vec().unwrap()
    }

    fn answer(key: &Key, prior: &[u8], timers_only: bool, time: u64, id: u16) -> Vec<u8> {
        signed_by_server(key, prior, &[], &response(id), timers_only, time)
    }

    fn mac_of(raw: &[u8]) -> Vec<u8> {
        Received::decode(raw).unwrap().tsig().unwrap().mac.clone()
    }

    fn verify(verifier: &mut Verifier<'_>, raw: &[u8], now: u64) -> Result<(), TsigError> {
        verifier.verify(raw, &Received::decode(raw).unwrap(), now)
    }

    #[test]
    fn a_signed_answer_verifies_and_a_tampered_one_does_not() {
        let key = key();
        let (_, request_mac) = sign(&key, &update(), 1_000_000).unwrap();
        let raw = answer(&key, &request_mac, false, 1_000_010, 42);
        let mut verifier = Verifier::new(&key, request_mac.clone());
        verify(&mut verifier, &raw, 1_000_000).unwrap();
        verifier.finish().unwrap();

        let mut tampered = raw.clone();
        tampered[3] |= 0x05;
        let mut verifier = Verifier::new(&key, request_mac.clone());
        assert_eq!(
            verify(&mut verifier, &tampered, 1_000_000),
            Err(TsigError::BadMac)
        );

        let late = answer(&key, &request_mac, false, 1_000_000 + 301, 42);
        let mut verifier = Verifier::new(&key, request_mac.clone());
        assert!(matches!(
            verify(&mut verifier, &late, 1_000_000),
            Err(TsigError::BadTime { .. })
        ));

        let unsigned = response(42).to_vec().unwrap();
        let mut verifier = Verifier::new(&key, request_mac);
        assert_eq!(
            verify(&mut verifier, &unsigned, 1_000_000),
            Err(TsigError::Unsigned)
        );
    }

    #[test]
    fn a_transfer_chains_each_mac_to_the_one_before() {
        let key = key();
        let (_, request_mac) = sign(&key, &update(), 7).unwrap();
        let first = answer(&key, &request_mac, false, 7, 42);
        let unsigned = response(42).to_vec().unwrap();
        // The third message's digest covers the unsigned second one too.
        let third = signed_by_server(&key, &mac_of(&first), &unsigned, &response(42), true, 8);
        let mut verifier = Verifier::new(&key, request_mac.clone());
        for raw in [&first, &unsigned, &third] {
            verify(&mut verifier, raw, 7).unwrap();
        }
        verifier.finish().unwrap();

        // Ending on an unsigned message is not a verified transfer.
        let mut verifier = Verifier::new(&key, request_mac.clone());
        for raw in [&first, &unsigned] {
            verify(&mut verifier, raw, 7).unwrap();
        }
        assert_eq!(verifier.finish(), Err(TsigError::Unsigned));

        // Out of order, the chain breaks.
        let second_signed = answer(&key, &mac_of(&first), true, 8, 42);
        let mut verifier = Verifier::new(&key, request_mac);
        assert_eq!(
            verify(&mut verifier, &second_signed, 7),
            Err(TsigError::BadMac)
        );
    }

    #[test]
    fn a_server_tsig_error_is_reported_by_its_code() {
        let key = key();
        let mut message = response(42);
        message.signature = Some(Box::new(make_tsig_record(
            key.name.clone(),
            TSIG::new(
                TsigAlgorithm::HmacSha256,
                0,
                FUDGE,
                Vec::new(),
                42,
                Some(17.into()),
                Vec::new(),
            ),
        )));
        let raw = message.to_vec().unwrap();
        let mut verifier = Verifier::new(&key, vec![0; 32]);
        let error = verify(&mut verifier, &raw, 0).unwrap_err();
        assert_eq!(error, TsigError::Server(17));
        assert!(error.to_string().starts_with("BADKEY"));
    }

    #[test]
    fn a_tsig_record_before_the_last_record_is_malformed() {
        let key = key();
        let signed = answer(&key, &[0; 32], false, 0, 42);
        let mut message = Message::from_vec(&signed).unwrap();
        let tsig = message.additionals.pop().unwrap();
        message.add_additional(tsig);
        message.add_additional(Record::from_rdata(
            records::parse_name("contoso.com").unwrap(),
            0,
            RData::A(hickory_proto::rr::rdata::A::new(192, 0, 2, 1)),
        ));
        let error = Received::decode(&message.to_vec().unwrap()).unwrap_err();
        assert!(error.to_string().contains("not the last record"), "{error}");
    }

    #[test]
    fn truncated_or_looping_answers_are_errors_not_panics() {
        let raw = answer(&key(), &[0; 32], false, 0, 42);
        for len in 0..raw.len() {
            assert!(
                Received::decode(&raw[..len]).is_err(),
                "{len} bytes decoded"
            );
        }
        let mut longer = raw.clone();
        longer.push(0);
        assert!(Received::decode(&longer).is_err());
        // A name whose compression pointer points at itself, or forward.
        for pointer in [12, 40] {
            let mut looping = vec![0, 9, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0];
            looping.extend_from_slice(&[0xc0, pointer, 0, 1, 0, 1]);
            assert!(Received::decode(&looping).is_err(), "pointer to {pointer}");
        }
    }

    #[test]
    fn the_key_s_debug_form_hides_the_secret() {
        let shown = format!("{:?}", key());
        assert!(shown.contains("failback-key") && shown.contains("<redacted>"));
        assert!(!shown.contains("secret-secret"));
    }
}
