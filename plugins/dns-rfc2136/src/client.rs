//! Talking to the authoritative server: one TCP connection per request
//! (RFC 1035 §4.2.2, two-byte length prefix), a deadline over the whole
//! exchange, TSIG on every request and on every answer, and the server's answer
//! codes turned into the WIT's typed [`PluginError`]s.
//!
//! Only TCP: a zone transfer needs it, and an UPDATE that fits in UDP gains
//! nothing from it here but a second code path (and retries on loss).

use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use failback_plugin_sdk::types::PluginError;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

use crate::records::{rcode_name, text};
use crate::tsig::{self, Key, Received, TsigError, Verifier};

/// Messages a zone transfer may take, at most (a bound on a misbehaving server).
const MAX_TRANSFER_MESSAGES: usize = 10_000;

/// The server and how to reach it, from the plugin's configuration.
#[derive(Debug, Clone)]
pub struct Server {
    pub address: SocketAddr,
    pub timeout: Duration,
    pub key: Key,
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// A message ID no one can guess (WASI's random source through std's hasher keys).
fn random_id() -> u16 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(now_seconds());
    u16::try_from(hasher.finish() & 0xffff).unwrap_or(0)
}

/// One open exchange with the server, within one deadline.
struct Connection<'s> {
    server: &'s Server,
    stream: TcpStream,
    deadline: Instant,
}

impl Server {
    fn unavailable(&self, what: &str, error: &io::Error) -> PluginError {
        PluginError::Unavailable(format!("dns server `{}`: {what}: {error}", self.address))
    }

    fn timed_out(&self) -> PluginError {
        PluginError::Unavailable(format!(
            "dns server `{}` did not answer within {} ms",
            self.address,
            self.timeout.as_millis()
        ))
    }

    fn connect(&self) -> Result<Connection<'_>, PluginError> {
        let deadline = Instant::now() + self.timeout;
        let stream = TcpStream::connect_timeout(&self.address, self.timeout).map_err(|e| {
            if e.kind() == io::ErrorKind::TimedOut {
                self.timed_out()
            } else {
                self.unavailable("cannot connect", &e)
            }
        })?;
        // Over WASI sockets a connect to a closed port is now and then reported
        // as done; the socket then has no peer.
        if let Err(error) = stream.peer_addr() {
            let error = stream.take_error().ok().flatten().unwrap_or(error);
            return Err(self.unavailable("cannot connect", &error));
        }
        // Requests are small and answered at once; do not wait to fill a segment.
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            server: self,
            stream,
            deadline,
        })
    }

    /// Send `message` signed and return the one answer, verified.
    pub fn exchange(&self, message: &Message, zone: &Name) -> Result<Message, PluginError> {
        let (bytes, request_mac) = tsig::sign(&self.key, message, now_seconds())
            .map_err(|e| PluginError::Invalid(format!("cannot encode the request: {e}")))?;
        let mut connection = self.connect()?;
        connection.send(&bytes)?;
        let mut verifier = Verifier::new(&self.key, request_mac);
        let raw = connection.receive()?;
        Ok(self.check(&raw, message, zone, &mut verifier)?.message)
    }

    /// Every record of `zone` by AXFR (RFC 5936): the answers of every message,
    /// from the opening SOA to the closing one, each message's TSIG verified.
    pub fn transfer(&self, zone: &Name) -> Result<Vec<Record>, PluginError> {
        let mut query = Message::new(random_id(), MessageType::Query, OpCode::Query);
        query.add_query(Query::query(zone.clone(), RecordType::AXFR));
        let (bytes, request_mac) = tsig::sign(&self.key, &query, now_seconds())
            .map_err(|e| PluginError::Invalid(format!("cannot encode the request: {e}")))?;
        let mut connection = self.connect()?;
        connection.send(&bytes)?;
        let mut verifier = Verifier::new(&self.key, request_mac);
        let mut records = Vec::new();
        let mut soa_seen = 0;
        for _ in 0..MAX_TRANSFER_MESSAGES {
            let raw = connection.receive()?;
            let answer = self.check(&raw, &query, zone, &mut verifier)?;
            for record in answer.message.answers {
                if record.record_type() == RecordType::SOA && record.name == *zone {
                    soa_seen += 1;
                    if soa_seen == 2 {
                        verifier.finish().map_err(|e| self.tsig_error(&e))?;
                        return Ok(records);
                    }
                } else if soa_seen == 0 {
                    return Err(PluginError::Failed(format!(
                        "the transfer of zone `{}` from `{}` does not start with its SOA",
                        text(zone),
                        self.address
                    )));
                }
                records.push(record);
            }
        }
        Err(PluginError::Failed(format!(
            "the transfer of zone `{}` from `{}` did not end within {MAX_TRANSFER_MESSAGES} messages",
            text(zone),
            self.address
        )))
    }

    /// Decode one answer to `request`, turn an error code into a typed error,
    /// and verify its TSIG.
    fn check(
        &self,
        raw: &[u8],
        request: &Message,
        zone: &Name,
        verifier: &mut Verifier<'_>,
    ) -> Result<Received, PluginError> {
        let answer = Received::decode(raw).map_err(|e| {
            PluginError::Failed(format!(
                "dns server `{}` sent a malformed answer: {e}",
                self.address
            ))
        })?;
        let header = &answer.message.metadata;
        if header.message_type != MessageType::Response
            || header.id != request.metadata.id
            || header.op_code != request.metadata.op_code
        {
            return Err(PluginError::Failed(format!(
                "dns server `{}` sent an answer that is not to this request",
                self.address
            )));
        }
        if header.truncation {
            return Err(PluginError::Failed(format!(
                "dns server `{}` truncated its answer over TCP",
                self.address
            )));
        }
        // The TSIG error field speaks first: a server that did not accept the
        // signature says NOTAUTH in the header and why in the TSIG record.
        if let Some(error) = answer.tsig().and_then(|tsig| tsig.error) {
            return Err(self.tsig_error(&TsigError::Server(error.into())));
        }
        let code = header.response_code;
        if code != ResponseCode::NoError {
            // An error answer is reported even when it is not signed: a forged
            // one can only make the plugin fail, never make it believe a change.
            // NOTAUTH signed with the key, though, means the key was accepted and
            // the server does not serve the zone.
            let signed = verifier.verify(raw, &answer, now_seconds()).is_ok();
            if code == ResponseCode::NotAuth && signed {
                return Err(PluginError::NotFound(format!(
                    "NOTAUTH: `{}` is not authoritative for zone `{}`",
                    self.address,
                    text(zone)
                )));
            }
            return Err(self.rcode_error(code, request, zone));
        }
        verifier
            .verify(raw, &answer, now_seconds())
            .map_err(|e| self.tsig_error(&e))?;
        Ok(answer)
    }

    fn tsig_error(&self, error: &TsigError) -> PluginError {
        PluginError::Refused(format!(
            "{error} (key `{}`, server `{}`)",
            self.key.name(),
            self.address
        ))
    }

    fn rcode_error(&self, code: ResponseCode, request: &Message, zone: &Name) -> PluginError {
        let name = rcode_name(code);
        let server = self.address;
        let zone = text(zone);
        let what = if request.metadata.op_code == OpCode::Update {
            format!("the update of zone `{zone}`")
        } else {
            format!("the transfer of zone `{zone}`")
        };
        match code {
            ResponseCode::Refused => {
                PluginError::Refused(format!("{name}: `{server}` refused {what}"))
            }
            ResponseCode::NotAuth => PluginError::Refused(format!(
                "{name}: `{server}` did not authorize {what} with key `{}`",
                self.key.name()
            )),
            ResponseCode::NXDomain => {
                PluginError::NotFound(format!("{name}: `{server}` has no zone `{zone}`"))
            }
            ResponseCode::NotZone => PluginError::NotFound(format!(
                "{name}: `{server}` says a name of {what} is not in the zone"
            )),
            ResponseCode::ServFail => {
                PluginError::Unavailable(format!("{name}: `{server}` failed {what}"))
            }
            ResponseCode::FormErr | ResponseCode::NotImp => {
                PluginError::Invalid(format!("{name}: `{server}` cannot carry out {what}"))
            }
            _ => PluginError::Failed(format!("{name}: `{server}` answered {what} with {name}")),
        }
    }
}

impl Connection<'_> {
    fn remaining(&self) -> Result<Duration, PluginError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(self.server.timed_out())
        } else {
            Ok(left)
        }
    }

    fn io_error(&self, what: &str, error: &io::Error) -> PluginError {
        match error.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => self.server.timed_out(),
            _ => self.server.unavailable(what, error),
        }
    }

    fn send(&mut self, message: &[u8]) -> Result<(), PluginError> {
        let len = u16::try_from(message.len())
            .map_err(|_| PluginError::Invalid(format!("a request of {} bytes", message.len())))?;
        let mut framed = Vec::with_capacity(message.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(message);
        let left = self.remaining()?;
        self.stream
            .set_write_timeout(Some(left))
            .map_err(|e| self.io_error("cannot set a write time-out", &e))?;
        self.stream
            .write_all(&framed)
            .map_err(|e| self.io_error("cannot send", &e))
    }

    fn read_exact(&mut self, buffer: &mut [u8]) -> Result<(), PluginError> {
        let mut filled = 0;
        while filled < buffer.len() {
            let left = self.remaining()?;
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| self.io_error("cannot set a read time-out", &e))?;
            match self.stream.read(&mut buffer[filled..]) {
                Ok(0) => {
                    return Err(PluginError::Unavailable(format!(
                        "dns server `{}` closed the connection before its answer was complete",
                        self.server.address
                    )));
                }
                Ok(read) => filled += read,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error("cannot read the answer", &e)),
            }
        }
        Ok(())
    }

    /// One length-prefixed message.
    fn receive(&mut self) -> Result<Vec<u8>, PluginError> {
        let mut prefix = [0u8; 2];
        self.read_exact(&mut prefix)?;
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        self.read_exact(&mut message)?;
        Ok(message)
    }
}

/// The update section that deletes the RRset (`name`, `rtype`) (RFC 2136 §2.5.2).
#[must_use]
pub fn delete_rrset(name: &Name, rtype: RecordType) -> Record {
    let mut record = Record::update0(name.clone(), 0, rtype);
    record.dns_class = DNSClass::ANY;
    record
}

/// An UPDATE of `zone` with `updates` and no prerequisites.
#[must_use]
pub fn update(zone: &Name, updates: Vec<Record>) -> Message {
    let mut message = Message::new(random_id(), MessageType::Query, OpCode::Update);
    message.add_query(Query::query(zone.clone(), RecordType::SOA));
    message.add_authorities(updates);
    message
}
