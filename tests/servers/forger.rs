//! A DNS server of the tests' own on loopback, for what an honest BIND never
//! does: it answers every UPDATE with NOERROR and every AXFR of `contoso.com`
//! with a small zone in two messages, signed (TSIG, HMAC-SHA256) as its
//! [`Forgery`] says — correctly with the shared key, not at all, with
//! another key, or a transfer whose last message is unsigned. The correct
//! signing is the control: the plugin accepts it, so a refusal of the others
//! is the plugin checking the answer, not the server signing badly.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::tsig::{TSIG, TsigAlgorithm, make_tsig_record, message_tbs};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// How the server signs its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgery {
    /// Every answer signed with the shared key, as RFC 8945 says: the control.
    Honest,
    /// No answer signed.
    Unsigned,
    /// Every answer signed with another secret under the shared key's name.
    WrongKey,
    /// A transfer's first message signed, its last (closing SOA) unsigned.
    TransferEndsUnsigned,
}

/// The server, answering on `address` until the test ends.
#[derive(Debug)]
pub struct Forger {
    pub address: SocketAddr,
}

/// The other secret of [`Forgery::WrongKey`].
const OTHER_SECRET: &[u8] = b"not-the-shared-secret-not-the-shared";

impl Forger {
    /// Start answering on a loopback port with `forgery`, sharing the base64
    /// `secret` of `key_name` with the plugin.
    pub fn start(forgery: Forgery, key_name: &str, secret: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret)
            .unwrap();
        let key = Name::from_ascii(key_name).unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                serve(stream, forgery, &key, &secret);
            }
        });
        Self { address }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn read_message(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut length = [0; 2];
    stream.read_exact(&mut length).ok()?;
    let mut bytes = vec![0; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut bytes).ok()?;
    Some(bytes)
}

fn write_message(stream: &mut TcpStream, bytes: &[u8]) {
    let length = u16::try_from(bytes.len()).unwrap().to_be_bytes();
    let _ = stream.write_all(&length);
    let _ = stream.write_all(bytes);
}

fn hmac(secret: &[u8], input: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

/// `message` signed as the answer after the one whose MAC is `prior_mac`
/// (RFC 8945 §4.3.3, §5.3.1): the digest is the prior MAC, the message, and
/// the TSIG variables (all of them on the first answer, the timers only on
/// a transfer's later ones). Returns the bytes and the MAC.
fn sign(
    message: &Message,
    key: &Name,
    secret: &[u8],
    prior_mac: &[u8],
    first: bool,
) -> (Vec<u8>, Vec<u8>) {
    let tsig = TSIG::new(
        TsigAlgorithm::HmacSha256,
        now(),
        300,
        Vec::new(),
        message.metadata.id,
        None,
        Vec::new(),
    );
    let mut input = u16::try_from(prior_mac.len())
        .unwrap()
        .to_be_bytes()
        .to_vec();
    input.extend_from_slice(prior_mac);
    if first {
        input.extend_from_slice(&message_tbs(message, &tsig, key).unwrap());
    } else {
        input.extend_from_slice(&message.to_vec().unwrap());
        input.extend_from_slice(&tsig.time.to_be_bytes()[2..]);
        input.extend_from_slice(&tsig.fudge.to_be_bytes());
    }
    let mac = hmac(secret, &input);
    let mut signed = message.clone();
    signed.signature = Some(Box::new(make_tsig_record(
        key.clone(),
        tsig.set_mac(mac.clone()),
    )));
    (signed.to_vec().unwrap(), mac)
}

/// The request's MAC: its TSIG record's, wherever hickory-proto put it.
fn request_mac(request: &Message) -> Vec<u8> {
    if let Some(record) = &request.signature {
        return record.data.mac.clone();
    }
    request
        .additionals
        .iter()
        .find_map(|record| match &record.data {
            RData::TSIG(tsig) => Some(tsig.mac.clone()),
            _ => None,
        })
        .expect("the plugin signs every request")
}

fn serve(mut stream: TcpStream, forgery: Forgery, key: &Name, secret: &[u8]) {
    let Some(bytes) = read_message(&mut stream) else {
        return;
    };
    let request = Message::from_vec(&bytes).unwrap();
    let request_mac = request_mac(&request);
    let answer = |answers: Vec<Record>| {
        let mut message = Message::new(
            request.metadata.id,
            MessageType::Response,
            request.metadata.op_code,
        );
        message.metadata.response_code = ResponseCode::NoError;
        message.metadata.authoritative = true;
        message.add_queries(request.queries.clone());
        message.add_answers(answers);
        message
    };
    let messages = if request.metadata.op_code == OpCode::Update {
        vec![answer(Vec::new())]
    } else {
        let zone = Name::from_ascii("contoso.com.").unwrap();
        let soa = Record::from_rdata(
            zone.clone(),
            300,
            RData::SOA(SOA::new(
                Name::from_ascii("ns1.contoso.com.").unwrap(),
                Name::from_ascii("hostmaster.contoso.com.").unwrap(),
                7,
                3600,
                600,
                86400,
                300,
            )),
        );
        let a = Record::from_rdata(
            Name::from_ascii("sip.contoso.com.").unwrap(),
            300,
            RData::A(A::new(192, 0, 2, 20)),
        );
        assert_eq!(a.record_type(), RecordType::A);
        vec![answer(vec![soa.clone(), a]), answer(vec![soa])]
    };
    let mut prior = request_mac;
    for (i, message) in messages.iter().enumerate() {
        let first = i == 0;
        let last = i + 1 == messages.len();
        let bytes = match forgery {
            Forgery::Unsigned => message.to_vec().unwrap(),
            Forgery::TransferEndsUnsigned if last && !first => message.to_vec().unwrap(),
            Forgery::WrongKey => sign(message, key, OTHER_SECRET, &prior, first).0,
            Forgery::Honest | Forgery::TransferEndsUnsigned => {
                let (bytes, mac) = sign(message, key, secret, &prior, first);
                prior = mac;
                bytes
            }
        };
        write_message(&mut stream, &bytes);
    }
}
