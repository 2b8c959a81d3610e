//! The DNS answers the dns-rfc2136 plugin reads from the server (its
//! `tsig`): the input is what came over TCP, messages each after its two-byte
//! length, the answers to one signed request (one message, or a zone
//! transfer's several). Decoding is total, and so is turning the records into
//! the WIT's. Nothing unverified is accepted: when the answers verify with
//! the fixed key, they do not with another key, nor as the answers to
//! another request, and changing any one byte of them (but a message's ID,
//! which RFC 8945 leaves out of the MAC: it is the TSIG's original ID that
//! counts) makes them fail.

use std::sync::OnceLock;

use crate::records;
use crate::tsig::{self, FUDGE, Key, Received, Verifier};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::tsig::{TSIG, TsigAlgorithm, make_tsig_record};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::BinEncoder;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The key's name and secret: fixed, so that seeds signed with it verify.
pub const KEY_NAME: &str = "failback-key";
pub const SECRET: &[u8] = b"secret-secret-secret-secret-1234";
/// The time the request is signed and the answers are checked at.
pub const NOW: u64 = 1_765_000_000;
/// At most this many messages are read from one input.
const MAX_MESSAGES: usize = 8;

/// The key, and the MAC of the request every answer answers.
fn fixed() -> &'static (Key, Vec<u8>) {
    static FIXED: OnceLock<(Key, Vec<u8>)> = OnceLock::new();
    FIXED.get_or_init(|| {
        let key = match Key::new(KEY_NAME, SECRET.to_vec()) {
            Ok(key) => key,
            Err(e) => panic!("the fixed key: {e}"),
        };
        let mac = match tsig::sign(&key, &request(), NOW) {
            Ok((_, mac)) => mac,
            Err(e) => panic!("the request cannot be signed: {e}"),
        };
        (key, mac)
    })
}

/// The request the answers answer: an UPDATE of `contoso.com` (its SOA
/// query), ID 42.
#[must_use]
pub fn request() -> Message {
    let mut message = Message::new(42, MessageType::Query, OpCode::Update);
    if let Ok(zone) = Name::from_ascii("contoso.com.") {
        message.add_query(Query::query(zone, RecordType::SOA));
    }
    message
}

/// The messages of `data`: each after its two-byte length, as over TCP; a
/// message cut short ends them.
#[must_use]
pub fn frames(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() < MAX_MESSAGES {
        let [a, b, tail @ ..] = rest else {
            break;
        };
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if tail.len() < len {
            break;
        }
        let (message, after) = tail.split_at(len);
        out.push(message);
        rest = after;
    }
    out
}

/// `messages` framed as over TCP.
#[must_use]
pub fn framed(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for message in messages {
        let len = u16::try_from(message.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(message);
    }
    out
}

/// Whether `messages` verify, in order, as the answers to the request whose
/// MAC is `request_mac`, with `key`: what the plugin accepts.
fn accepted(key: &Key, request_mac: &[u8], messages: &[&[u8]]) -> bool {
    let mut verifier = Verifier::new(key, request_mac.to_vec());
    for raw in messages {
        let Ok(answer) = Received::decode(raw) else {
            return false;
        };
        if verifier.verify(raw, &answer, NOW).is_err() {
            return false;
        }
    }
    verifier.finish().is_ok()
}

pub fn check(data: &[u8]) -> bool {
    let messages = frames(data);
    let mut decoded = 0;
    for raw in &messages {
        if let Ok(answer) = Received::decode(raw) {
            decoded += 1;
            for record in &answer.message.answers {
                let _ = records::from_wire(record);
            }
        }
    }
    let (key, request_mac) = fixed();
    if !accepted(key, request_mac, &messages) {
        return decoded > 0;
    }
    let other_key = match Key::new(KEY_NAME, b"another secret".to_vec()) {
        Ok(key) => key,
        Err(e) => panic!("the other key: {e}"),
    };
    assert!(
        !accepted(&other_key, request_mac, &messages),
        "answers verify with another key"
    );
    let mut other_request = request_mac.clone();
    other_request[0] ^= 1;
    assert!(
        !accepted(key, &other_request, &messages),
        "answers verify as the answers to another request"
    );
    for (i, raw) in messages.iter().enumerate() {
        for at in 2..raw.len() {
            let mut changed = raw.to_vec();
            changed[at] ^= 0xff;
            let mut edited = messages.clone();
            edited[i] = &changed;
            assert!(
                !accepted(key, request_mac, &edited),
                "message {i} verifies with its byte {at} changed"
            );
        }
    }
    true
}

/// `message` signed as a server signs an answer (RFC 8945 §4.3): after the
/// prior MAC, over `covered` (a transfer's unsigned messages since the last
/// signed one) and the message; a transfer's later messages with the timers
/// only. For the seeds.
#[must_use]
pub fn signed_answer(
    prior: &[u8],
    covered: &[u8],
    message: &Message,
    timers_only: bool,
    time: u64,
) -> Option<Vec<u8>> {
    let key_name = Name::from_ascii(format!("{KEY_NAME}.")).ok()?;
    let tsig = TSIG::new(
        TsigAlgorithm::HmacSha256,
        time,
        FUDGE,
        Vec::new(),
        message.metadata.id,
        None,
        Vec::new(),
    );
    let mut input = u16::try_from(prior.len()).ok()?.to_be_bytes().to_vec();
    input.extend_from_slice(prior);
    input.extend_from_slice(covered);
    input.extend_from_slice(&message.to_vec().ok()?);
    if timers_only {
        input.extend_from_slice(&time.to_be_bytes()[2..]);
        input.extend_from_slice(&FUDGE.to_be_bytes());
    } else {
        tsig.emit_tsig_for_mac(&mut BinEncoder::new(&mut input), &key_name)
            .ok()?;
    }
    let mut hmac = Hmac::<Sha256>::new_from_slice(SECRET).ok()?;
    hmac.update(&input);
    let mac = hmac.finalize().into_bytes().to_vec();
    let mut signed = message.clone();
    signed.signature = Some(Box::new(make_tsig_record(key_name, tsig.set_mac(mac))));
    signed.to_vec().ok()
}

/// The request's MAC, which a server's first answer is signed after.
#[must_use]
pub fn request_mac() -> Vec<u8> {
    fixed().1.clone()
}

/// The MAC of a signed message, which the next one of a transfer is signed
/// after.
#[must_use]
pub fn mac_of(raw: &[u8]) -> Option<Vec<u8>> {
    Some(Received::decode(raw).ok()?.tsig()?.mac.clone())
}
