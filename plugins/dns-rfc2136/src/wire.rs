//! The DNS wire format (RFC 1035 §4), as much of it as the plugin speaks: the
//! header, questions, and resource records of the types A, AAAA, CNAME, SRV
//! (RFC 2782), TXT, SOA and TSIG (RFC 8945); any other type is carried as
//! opaque bytes.
//!
//! Names are written uncompressed (always allowed) and read with compression
//! pointers followed, backwards only. [`decode`] also says where a trailing TSIG
//! record starts, so [`crate::tsig`] can compute the MAC over the message as it
//! was before the record was added.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
pub const TYPE_TSIG: u16 = 250;
pub const TYPE_AXFR: u16 = 252;

pub const CLASS_IN: u16 = 1;
pub const CLASS_ANY: u16 = 255;

pub const OPCODE_QUERY: u8 = 0;
pub const OPCODE_UPDATE: u8 = 5;

/// Response codes of the header (RFC 1035, RFC 2136) and of the TSIG record's
/// error field (RFC 8945).
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    pub const YXDOMAIN: u16 = 6;
    pub const YXRRSET: u16 = 7;
    pub const NXRRSET: u16 = 8;
    pub const NOTAUTH: u16 = 9;
    pub const NOTZONE: u16 = 10;
    pub const BADSIG: u16 = 16;
    pub const BADKEY: u16 = 17;
    pub const BADTIME: u16 = 18;
    pub const BADTRUNC: u16 = 22;

    /// The code's mnemonic, as RFCs and server logs name it.
    #[must_use]
    pub fn name(code: u16) -> String {
        match code {
            NOERROR => "NOERROR".to_owned(),
            FORMERR => "FORMERR".to_owned(),
            SERVFAIL => "SERVFAIL".to_owned(),
            NXDOMAIN => "NXDOMAIN".to_owned(),
            NOTIMP => "NOTIMP".to_owned(),
            REFUSED => "REFUSED".to_owned(),
            YXDOMAIN => "YXDOMAIN".to_owned(),
            YXRRSET => "YXRRSET".to_owned(),
            NXRRSET => "NXRRSET".to_owned(),
            NOTAUTH => "NOTAUTH".to_owned(),
            NOTZONE => "NOTZONE".to_owned(),
            BADSIG => "BADSIG".to_owned(),
            BADKEY => "BADKEY".to_owned(),
            BADTIME => "BADTIME".to_owned(),
            BADTRUNC => "BADTRUNC".to_owned(),
            other => format!("RCODE{other}"),
        }
    }
}

/// Longest name on the wire (RFC 1035 §2.3.4).
const MAX_NAME_BYTES: usize = 255;
const MAX_LABEL_BYTES: usize = 63;
/// Compression pointers followed while reading one name, at most.
const MAX_POINTERS: usize = 64;

/// Why bytes are not a DNS message, or a value cannot be written as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The message ended inside the named part.
    Truncated(&'static str),
    /// A name is malformed (bad label, too long, pointer loop).
    BadName(String),
    /// A record's data does not match its type or length.
    BadData(String),
    /// The message is too long to send over TCP (65,535 bytes).
    TooLong(usize),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated(part) => write!(f, "the message ends inside its {part}"),
            Self::BadName(why) => write!(f, "bad name: {why}"),
            Self::BadData(why) => write!(f, "bad record data: {why}"),
            Self::TooLong(len) => write!(f, "the message is {len} bytes, over 65535"),
        }
    }
}

/// A domain name: its labels, as they came (compare with [`Name::eq_ignore_case`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Name(Vec<Vec<u8>>);

impl Name {
    /// The root name.
    #[must_use]
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// Parse `text` (`_xmpp-server._tcp.contoso.com`, with or without the final
    /// dot). Labels are taken as written; escapes (`\.`) are not supported.
    pub fn parse(text: &str) -> Result<Self, WireError> {
        let trimmed = text.strip_suffix('.').unwrap_or(text);
        if trimmed.is_empty() {
            return Ok(Self::root());
        }
        let mut labels = Vec::new();
        for label in trimmed.split('.') {
            if label.is_empty() {
                return Err(WireError::BadName(format!("`{text}` has an empty label")));
            }
            if label.len() > MAX_LABEL_BYTES {
                return Err(WireError::BadName(format!(
                    "`{text}` has a label over {MAX_LABEL_BYTES} bytes"
                )));
            }
            if label.contains('\\') || label.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(WireError::BadName(format!(
                    "`{text}` holds a character a host name cannot"
                )));
            }
            labels.push(label.as_bytes().to_vec());
        }
        let name = Self(labels);
        if name.wire_len() > MAX_NAME_BYTES {
            return Err(WireError::BadName(format!(
                "`{text}` is over {MAX_NAME_BYTES} bytes"
            )));
        }
        Ok(name)
    }

    /// The length of the name on the wire, uncompressed.
    #[must_use]
    pub fn wire_len(&self) -> usize {
        self.0.iter().map(|l| l.len() + 1).sum::<usize>() + 1
    }

    /// Write the name uncompressed.
    pub fn write(&self, out: &mut Vec<u8>) {
        for label in &self.0 {
            // Labels are at most 63 bytes: checked by `parse` and `read_name`.
            out.push(u8::try_from(label.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(label);
        }
        out.push(0);
    }

    /// Write the name in canonical form (RFC 4034 §6.2: lower case, uncompressed),
    /// as TSIG digests it.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        for label in &self.0 {
            out.push(u8::try_from(label.len()).unwrap_or(u8::MAX));
            out.extend(label.iter().map(u8::to_ascii_lowercase));
        }
        out.push(0);
    }

    #[must_use]
    pub fn eq_ignore_case(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }

    /// The name in lower case, without the final dot (`contoso.com`); the root is
    /// the empty string.
    #[must_use]
    pub fn to_lowercase_string(&self) -> String {
        self.to_string().to_ascii_lowercase()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, label) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&String::from_utf8_lossy(label))?;
        }
        Ok(())
    }
}

/// The data of a TSIG record (RFC 8945 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tsig {
    pub algorithm: Name,
    /// Seconds since the epoch; 48 bits on the wire.
    pub time_signed: u64,
    pub fudge: u16,
    pub mac: Vec<u8>,
    pub original_id: u16,
    pub error: u16,
    pub other: Vec<u8>,
}

/// The data of one resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(Name),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: Name,
    },
    /// The character-strings, each at most 255 bytes.
    Txt(Vec<Vec<u8>>),
    Soa {
        mname: Name,
        rname: Name,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
    Tsig(Tsig),
    /// No data (RDLENGTH 0): the delete forms of an UPDATE (RFC 2136 §2.5).
    Empty,
    /// Any other type, as it came.
    Other(Vec<u8>),
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub data: RData,
}

/// One question (in an UPDATE: the zone section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

/// A DNS message. In an UPDATE the four sections are zone, prerequisite, update
/// and additional (RFC 2136 §2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub id: u16,
    pub response: bool,
    pub opcode: u8,
    pub authoritative: bool,
    pub truncated: bool,
    pub recursion_desired: bool,
    pub recursion_available: bool,
    /// The header's 4-bit response code.
    pub rcode: u8,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

/// A decoded message and, when its last additional record is a TSIG, the offset
/// where that record starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub message: Message,
    pub tsig_offset: Option<usize>,
}

fn count(len: usize, section: &'static str) -> Result<u16, WireError> {
    u16::try_from(len).map_err(|_| WireError::BadData(format!("too many records in the {section}")))
}

impl Message {
    /// The message on the wire (without the TCP length prefix).
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(&self.id.to_be_bytes());
        let mut flags: u16 = 0;
        if self.response {
            flags |= 0x8000;
        }
        flags |= u16::from(self.opcode & 0x0f) << 11;
        if self.authoritative {
            flags |= 0x0400;
        }
        if self.truncated {
            flags |= 0x0200;
        }
        if self.recursion_desired {
            flags |= 0x0100;
        }
        if self.recursion_available {
            flags |= 0x0080;
        }
        flags |= u16::from(self.rcode & 0x0f);
        out.extend_from_slice(&flags.to_be_bytes());
        for (len, section) in [
            (self.questions.len(), "question section"),
            (self.answers.len(), "answer section"),
            (self.authority.len(), "authority section"),
            (self.additional.len(), "additional section"),
        ] {
            out.extend_from_slice(&count(len, section)?.to_be_bytes());
        }
        for question in &self.questions {
            question.name.write(&mut out);
            out.extend_from_slice(&question.qtype.to_be_bytes());
            out.extend_from_slice(&question.qclass.to_be_bytes());
        }
        for record in self
            .answers
            .iter()
            .chain(&self.authority)
            .chain(&self.additional)
        {
            record.write(&mut out)?;
        }
        if out.len() > usize::from(u16::MAX) {
            return Err(WireError::TooLong(out.len()));
        }
        Ok(out)
    }
}

impl Record {
    /// Write the record uncompressed.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        self.name.write(out);
        out.extend_from_slice(&self.rtype.to_be_bytes());
        out.extend_from_slice(&self.class.to_be_bytes());
        out.extend_from_slice(&self.ttl.to_be_bytes());
        let length_at = out.len();
        out.extend_from_slice(&[0, 0]);
        write_rdata(&self.data, out)?;
        let rdlength = out.len() - length_at - 2;
        let rdlength = u16::try_from(rdlength)
            .map_err(|_| WireError::BadData(format!("{rdlength} bytes of data in one record")))?;
        out[length_at..length_at + 2].copy_from_slice(&rdlength.to_be_bytes());
        Ok(())
    }
}

fn write_rdata(data: &RData, out: &mut Vec<u8>) -> Result<(), WireError> {
    match data {
        RData::A(ip) => out.extend_from_slice(&ip.octets()),
        RData::Aaaa(ip) => out.extend_from_slice(&ip.octets()),
        RData::Cname(name) => name.write(out),
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => {
            out.extend_from_slice(&priority.to_be_bytes());
            out.extend_from_slice(&weight.to_be_bytes());
            out.extend_from_slice(&port.to_be_bytes());
            target.write(out);
        }
        RData::Txt(strings) => {
            for string in strings {
                let len = u8::try_from(string.len()).map_err(|_| {
                    WireError::BadData(format!("a TXT string of {} bytes", string.len()))
                })?;
                out.push(len);
                out.extend_from_slice(string);
            }
        }
        RData::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        } => {
            mname.write(out);
            rname.write(out);
            for value in [serial, refresh, retry, expire, minimum] {
                out.extend_from_slice(&value.to_be_bytes());
            }
        }
        RData::Tsig(tsig) => {
            tsig.algorithm.write(out);
            write_u48(tsig.time_signed, out);
            out.extend_from_slice(&tsig.fudge.to_be_bytes());
            let mac_len = u16::try_from(tsig.mac.len())
                .map_err(|_| WireError::BadData("a TSIG MAC over 65535 bytes".to_owned()))?;
            out.extend_from_slice(&mac_len.to_be_bytes());
            out.extend_from_slice(&tsig.mac);
            out.extend_from_slice(&tsig.original_id.to_be_bytes());
            out.extend_from_slice(&tsig.error.to_be_bytes());
            let other_len = u16::try_from(tsig.other.len())
                .map_err(|_| WireError::BadData("TSIG other data over 65535 bytes".to_owned()))?;
            out.extend_from_slice(&other_len.to_be_bytes());
            out.extend_from_slice(&tsig.other);
        }
        RData::Empty => {}
        RData::Other(bytes) => out.extend_from_slice(bytes),
    }
    Ok(())
}

/// The low 48 bits of `value`, big-endian (TSIG's time signed).
pub fn write_u48(value: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&value.to_be_bytes()[2..]);
}

/// A cursor over a whole message, so compression pointers can reach back.
struct Reader<'a> {
    message: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, part: &'static str) -> Result<&'a [u8], WireError> {
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.message.len())
            .ok_or(WireError::Truncated(part))?;
        let bytes = &self.message[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn u8(&mut self, part: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, part)?[0])
    }

    fn u16(&mut self, part: &'static str) -> Result<u16, WireError> {
        let bytes = self.take(2, part)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self, part: &'static str) -> Result<u32, WireError> {
        let bytes = self.take(4, part)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn u48(&mut self, part: &'static str) -> Result<u64, WireError> {
        let bytes = self.take(6, part)?;
        let mut value = [0u8; 8];
        value[2..].copy_from_slice(bytes);
        Ok(u64::from_be_bytes(value))
    }

    /// A name at the cursor, following compression pointers (each must point
    /// before the place it is read from, so a loop cannot form).
    fn name(&mut self) -> Result<Name, WireError> {
        let mut labels = Vec::new();
        let mut wire_len = 1;
        let mut at = self.at;
        let mut resume = None;
        let mut pointers = 0;
        loop {
            let len = *self.message.get(at).ok_or(WireError::Truncated("name"))?;
            match len & 0xc0 {
                0x00 => {
                    let len = usize::from(len);
                    if len == 0 {
                        at += 1;
                        break;
                    }
                    let label = self
                        .message
                        .get(at + 1..at + 1 + len)
                        .ok_or(WireError::Truncated("name"))?;
                    wire_len += len + 1;
                    if wire_len > MAX_NAME_BYTES {
                        return Err(WireError::BadName(format!(
                            "a name over {MAX_NAME_BYTES} bytes"
                        )));
                    }
                    labels.push(label.to_vec());
                    at += 1 + len;
                }
                0xc0 => {
                    let low = *self
                        .message
                        .get(at + 1)
                        .ok_or(WireError::Truncated("name"))?;
                    let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                    if target >= at {
                        return Err(WireError::BadName(format!(
                            "a compression pointer at {at} points forward to {target}"
                        )));
                    }
                    pointers += 1;
                    if pointers > MAX_POINTERS {
                        return Err(WireError::BadName(
                            "too many compression pointers".to_owned(),
                        ));
                    }
                    if resume.is_none() {
                        resume = Some(at + 2);
                    }
                    at = target;
                }
                _ => {
                    return Err(WireError::BadName(format!(
                        "label type 0x{len:02x} is not supported"
                    )));
                }
            }
        }
        self.at = resume.unwrap_or(at);
        Ok(Name(labels))
    }

    fn record(&mut self) -> Result<Record, WireError> {
        let name = self.name()?;
        let rtype = self.u16("record type")?;
        let class = self.u16("record class")?;
        let ttl = self.u32("record ttl")?;
        let rdlength = usize::from(self.u16("record data length")?);
        let start = self.at;
        let end = start
            .checked_add(rdlength)
            .filter(|end| *end <= self.message.len())
            .ok_or(WireError::Truncated("record data"))?;
        let data = if rdlength == 0 {
            RData::Empty
        } else {
            self.rdata(rtype, rdlength)?
        };
        if self.at != end {
            return Err(WireError::BadData(format!(
                "type {rtype} data of {rdlength} bytes does not parse to its length"
            )));
        }
        Ok(Record {
            name,
            rtype,
            class,
            ttl,
            data,
        })
    }

    fn rdata(&mut self, rtype: u16, rdlength: usize) -> Result<RData, WireError> {
        Ok(match rtype {
            TYPE_A => {
                let b = self.take(4.min(rdlength), "A record")?;
                let octets: [u8; 4] = b
                    .try_into()
                    .map_err(|_| WireError::BadData(format!("an A record of {rdlength} bytes")))?;
                RData::A(Ipv4Addr::from(octets))
            }
            TYPE_AAAA => {
                let b = self.take(16.min(rdlength), "AAAA record")?;
                let octets: [u8; 16] = b.try_into().map_err(|_| {
                    WireError::BadData(format!("an AAAA record of {rdlength} bytes"))
                })?;
                RData::Aaaa(Ipv6Addr::from(octets))
            }
            TYPE_CNAME => RData::Cname(self.name()?),
            TYPE_SRV => RData::Srv {
                priority: self.u16("SRV record")?,
                weight: self.u16("SRV record")?,
                port: self.u16("SRV record")?,
                target: self.name()?,
            },
            TYPE_TXT => {
                let end = self.at + rdlength;
                let mut strings = Vec::new();
                while self.at < end {
                    let len = usize::from(self.u8("TXT record")?);
                    if self.at + len > end {
                        return Err(WireError::BadData(
                            "a TXT string runs past its record".to_owned(),
                        ));
                    }
                    strings.push(self.take(len, "TXT record")?.to_vec());
                }
                RData::Txt(strings)
            }
            TYPE_SOA => RData::Soa {
                mname: self.name()?,
                rname: self.name()?,
                serial: self.u32("SOA record")?,
                refresh: self.u32("SOA record")?,
                retry: self.u32("SOA record")?,
                expire: self.u32("SOA record")?,
                minimum: self.u32("SOA record")?,
            },
            TYPE_TSIG => {
                let algorithm = self.name()?;
                let time_signed = self.u48("TSIG record")?;
                let fudge = self.u16("TSIG record")?;
                let mac_len = usize::from(self.u16("TSIG record")?);
                let mac = self.take(mac_len, "TSIG MAC")?.to_vec();
                let original_id = self.u16("TSIG record")?;
                let error = self.u16("TSIG record")?;
                let other_len = usize::from(self.u16("TSIG record")?);
                let other = self.take(other_len, "TSIG other data")?.to_vec();
                RData::Tsig(Tsig {
                    algorithm,
                    time_signed,
                    fudge,
                    mac,
                    original_id,
                    error,
                    other,
                })
            }
            _ => RData::Other(self.take(rdlength, "record data")?.to_vec()),
        })
    }
}

/// Decode a whole message (without the TCP length prefix).
pub fn decode(message: &[u8]) -> Result<Decoded, WireError> {
    let mut reader = Reader { message, at: 0 };
    let id = reader.u16("header")?;
    let flags = reader.u16("header")?;
    let counts = [
        reader.u16("header")?,
        reader.u16("header")?,
        reader.u16("header")?,
        reader.u16("header")?,
    ];
    let mut decoded = Message {
        id,
        response: flags & 0x8000 != 0,
        opcode: u8::try_from((flags >> 11) & 0x0f).unwrap_or(0),
        authoritative: flags & 0x0400 != 0,
        truncated: flags & 0x0200 != 0,
        recursion_desired: flags & 0x0100 != 0,
        recursion_available: flags & 0x0080 != 0,
        rcode: u8::try_from(flags & 0x000f).unwrap_or(0),
        ..Message::default()
    };
    for _ in 0..counts[0] {
        let name = reader.name()?;
        let qtype = reader.u16("question")?;
        let qclass = reader.u16("question")?;
        decoded.questions.push(Question {
            name,
            qtype,
            qclass,
        });
    }
    for _ in 0..counts[1] {
        decoded.answers.push(reader.record()?);
    }
    for _ in 0..counts[2] {
        decoded.authority.push(reader.record()?);
    }
    let mut tsig_offset = None;
    for i in 0..counts[3] {
        let start = reader.at;
        let record = reader.record()?;
        if record.rtype == TYPE_TSIG {
            if i + 1 != counts[3] {
                return Err(WireError::BadData(
                    "a TSIG record that is not the last record".to_owned(),
                ));
            }
            tsig_offset = Some(start);
        }
        decoded.additional.push(record);
    }
    if reader.at != message.len() {
        return Err(WireError::BadData(format!(
            "{} bytes after the last record",
            message.len() - reader.at
        )));
    }
    Ok(Decoded {
        message: decoded,
        tsig_offset,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use super::*;

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    fn every_type() -> Vec<Record> {
        let record = |n: &str, rtype, data| Record {
            name: name(n),
            rtype,
            class: CLASS_IN,
            ttl: 300,
            data,
        };
        vec![
            record(
                "contoso.com",
                TYPE_SOA,
                RData::Soa {
                    mname: name("ns1.contoso.com"),
                    rname: name("hostmaster.contoso.com"),
                    serial: 2024010101,
                    refresh: 3600,
                    retry: 600,
                    expire: 86400,
                    minimum: 300,
                },
            ),
            record(
                "sip.contoso.com",
                TYPE_A,
                RData::A(Ipv4Addr::new(192, 0, 2, 10)),
            ),
            record(
                "sip.contoso.com",
                TYPE_AAAA,
                RData::Aaaa("2001:db8::10".parse().unwrap()),
            ),
            record(
                "www.contoso.com",
                TYPE_CNAME,
                RData::Cname(name("web.contoso.com")),
            ),
            record(
                "_xmpp-server._tcp.contoso.com",
                TYPE_SRV,
                RData::Srv {
                    priority: 10,
                    weight: 5,
                    port: 5269,
                    target: name("xmpp.contoso.com"),
                },
            ),
            record(
                "contoso.com",
                TYPE_TXT,
                RData::Txt(vec![b"v=spf1 -all".to_vec(), vec![b'x'; 255]]),
            ),
            record("contoso.com", 99, RData::Other(vec![1, 2, 3])),
        ]
    }

    #[test]
    fn every_record_type_round_trips() {
        let message = Message {
            id: 0xbeef,
            response: true,
            opcode: OPCODE_QUERY,
            authoritative: true,
            rcode: 3,
            questions: vec![Question {
                name: name("contoso.com"),
                qtype: TYPE_AXFR,
                qclass: CLASS_IN,
            }],
            answers: every_type(),
            additional: vec![Record {
                name: name("failback-key"),
                rtype: TYPE_TSIG,
                class: CLASS_ANY,
                ttl: 0,
                data: RData::Tsig(Tsig {
                    algorithm: name("hmac-sha256"),
                    time_signed: 0x0000_1234_5678_9abc,
                    fudge: 300,
                    mac: vec![7; 32],
                    original_id: 0xbeef,
                    error: 0,
                    other: Vec::new(),
                }),
            }],
            ..Message::default()
        };
        let bytes = message.encode().unwrap();
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.message, message);
        let tsig_at = decoded.tsig_offset.unwrap();
        // The TSIG record starts with its owner name.
        assert_eq!(&bytes[tsig_at..tsig_at + 13], b"\x0cfailback-key");
    }

    #[test]
    fn the_header_flags_are_where_rfc_1035_puts_them() {
        let message = Message {
            id: 1,
            opcode: OPCODE_UPDATE,
            ..Message::default()
        };
        assert_eq!(&message.encode().unwrap()[..4], &[0, 1, 0x28, 0]);
        let bytes = [0, 2, 0x84, 0x05, 0, 0, 0, 0, 0, 0, 0, 0];
        let decoded = decode(&bytes).unwrap().message;
        assert!(decoded.response && decoded.authoritative);
        assert_eq!(decoded.rcode, 5);
        assert_eq!(decoded.opcode, OPCODE_QUERY);
    }

    #[test]
    fn compressed_names_are_followed() {
        // Header: one answer. The answer's owner is a pointer to offset 12,
        // where `contoso.com` is written after a question.
        let mut bytes = vec![0, 9, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0];
        name("contoso.com").write(&mut bytes);
        bytes.extend_from_slice(&[0, 6, 0, 1]);
        // `sip` + pointer to `contoso.com`.
        bytes.extend_from_slice(&[3, b's', b'i', b'p', 0xc0, 12]);
        bytes.extend_from_slice(&[0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12]);
        let decoded = decode(&bytes).unwrap().message;
        assert_eq!(decoded.answers[0].name.to_string(), "sip.contoso.com");
        assert_eq!(decoded.answers[0].data, RData::Cname(name("contoso.com")));
    }

    #[test]
    fn a_forward_or_looping_pointer_is_refused() {
        let mut bytes = vec![0, 9, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(matches!(decode(&bytes), Err(WireError::BadName(_))));
        let mut bytes = vec![0, 9, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&[0xc0, 40, 0, 1, 0, 1]);
        assert!(matches!(decode(&bytes), Err(WireError::BadName(_))));
    }

    #[test]
    fn truncated_messages_are_errors_not_panics() {
        let message = Message {
            answers: every_type(),
            ..Message::default()
        };
        let bytes = message.encode().unwrap();
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "{len} bytes decoded");
        }
    }

    #[test]
    fn names_parse_and_print_without_the_final_dot() {
        assert_eq!(name("Contoso.COM.").to_lowercase_string(), "contoso.com");
        assert_eq!(name(".").to_string(), "");
        assert!(name("SIP.contoso.com").eq_ignore_case(&name("sip.Contoso.com")));
        assert!(Name::parse("a..b").is_err());
        assert!(Name::parse(&"x".repeat(64)).is_err());
        assert!(Name::parse(&["abcdefghi"; 26].join(".")).is_err());
        let mut canonical = Vec::new();
        name("Sip.Contoso.com").write_canonical(&mut canonical);
        assert_eq!(canonical, b"\x03sip\x07contoso\x03com\x00");
    }
}
