//! Between the WIT's records and hickory-proto's: the record types the
//! failback touches, names in the WIT's form (lower case, no final dot), TXT
//! text split into and joined from 255-byte strings; and how messages write
//! names and response codes.

use std::net::{Ipv4Addr, Ipv6Addr};

use failback_plugin_sdk::dns::{DnsRecord, RecordData, RecordType, SrvData};
use failback_plugin_sdk::types::PluginError;
use hickory_proto::ProtoError;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SRV, TXT};
use hickory_proto::rr::{self, DNSClass, Name, RData, Record};

/// The wire type of a WIT record type.
#[must_use]
pub fn wire_type(rtype: RecordType) -> rr::RecordType {
    match rtype {
        RecordType::A => rr::RecordType::A,
        RecordType::Aaaa => rr::RecordType::AAAA,
        RecordType::Cname => rr::RecordType::CNAME,
        RecordType::Srv => rr::RecordType::SRV,
        RecordType::Txt => rr::RecordType::TXT,
    }
}

#[must_use]
pub fn type_name(rtype: RecordType) -> &'static str {
    match rtype {
        RecordType::A => "A",
        RecordType::Aaaa => "AAAA",
        RecordType::Cname => "CNAME",
        RecordType::Srv => "SRV",
        RecordType::Txt => "TXT",
    }
}

fn data_type(data: &RecordData) -> RecordType {
    match data {
        RecordData::A(_) => RecordType::A,
        RecordData::Aaaa(_) => RecordType::Aaaa,
        RecordData::Cname(_) => RecordType::Cname,
        RecordData::Srv(_) => RecordType::Srv,
        RecordData::Txt(_) => RecordType::Txt,
    }
}

/// A fully qualified name from `text` (`_xmpp-server._tcp.contoso.com`, with
/// or without the final dot).
pub fn parse_name(text: &str) -> Result<Name, ProtoError> {
    let mut name = Name::from_ascii(text)?;
    name.set_fqdn(true);
    Ok(name)
}

/// A name given by the caller, or an `invalid` error naming it.
pub fn name(text: &str) -> Result<Name, PluginError> {
    parse_name(text)
        .map_err(|e| PluginError::Invalid(format!("`{text}` is not a domain name: {e}")))
}

/// A name as the WIT and messages write it: without the final dot
/// (`contoso.com`); the root is the empty string.
#[must_use]
pub fn text(name: &Name) -> String {
    let mut text = name.to_ascii();
    if text.ends_with('.') {
        text.pop();
    }
    text
}

/// A response code's mnemonic, as RFCs and server logs name it (`REFUSED`).
#[must_use]
pub fn rcode_name(code: ResponseCode) -> String {
    let name = match code {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::YXRRSet => "YXRRSET",
        ResponseCode::NXRRSet => "NXRRSET",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::NotZone => "NOTZONE",
        // 16 is BADVERS in the header (with EDNS) and BADSIG in a TSIG record;
        // this plugin sends no EDNS, so a 16 it sees is a TSIG error.
        ResponseCode::BADVERS | ResponseCode::BADSIG => "BADSIG",
        ResponseCode::BADKEY => "BADKEY",
        ResponseCode::BADTIME => "BADTIME",
        ResponseCode::BADTRUNC => "BADTRUNC",
        other => return format!("RCODE{}", u16::from(other)),
    };
    name.to_owned()
}

/// The wire form of one WIT record of the set (`owner`, `rtype`), with `ttl`.
pub fn to_wire(
    owner: &Name,
    rtype: RecordType,
    ttl: u32,
    data: &RecordData,
) -> Result<Record, PluginError> {
    if data_type(data) != rtype {
        return Err(PluginError::Invalid(format!(
            "a {} record in the {} set of `{}`",
            type_name(data_type(data)),
            type_name(rtype),
            text(owner)
        )));
    }
    let data = match data {
        RecordData::A(text) => RData::A(A(text
            .parse::<Ipv4Addr>()
            .map_err(|_| PluginError::Invalid(format!("`{text}` is not an IPv4 address")))?)),
        RecordData::Aaaa(text) => {
            RData::AAAA(AAAA(text.parse::<Ipv6Addr>().map_err(|_| {
                PluginError::Invalid(format!("`{text}` is not an IPv6 address"))
            })?))
        }
        RecordData::Cname(target) => RData::CNAME(CNAME(name(target)?)),
        RecordData::Srv(srv) => RData::SRV(SRV::new(
            srv.priority,
            srv.weight,
            srv.port,
            name(&srv.target)?,
        )),
        RecordData::Txt(text) => RData::TXT(split_txt(text.as_bytes())),
    };
    Ok(Record::from_rdata(owner.clone(), ttl, data))
}

/// TXT text as character-strings of at most 255 bytes; the empty text is one
/// empty string.
fn split_txt(text: &[u8]) -> TXT {
    if text.is_empty() {
        return TXT::from_bytes(vec![&[]]);
    }
    TXT::from_bytes(text.chunks(255).collect())
}

/// The WIT form of a record from the zone, if it is of a type the WIT carries.
#[must_use]
pub fn from_wire(record: &Record) -> Option<DnsRecord> {
    let data = match &record.data {
        RData::A(ip) => RecordData::A(ip.0.to_string()),
        RData::AAAA(ip) => RecordData::Aaaa(ip.0.to_string()),
        RData::CNAME(target) => RecordData::Cname(text(&target.0.to_lowercase())),
        RData::SRV(srv) => RecordData::Srv(SrvData {
            priority: srv.priority,
            weight: srv.weight,
            port: srv.port,
            target: text(&srv.target.to_lowercase()),
        }),
        RData::TXT(txt) => {
            RecordData::Txt(String::from_utf8_lossy(&txt.txt_data.concat()).into_owned())
        }
        _ => return None,
    };
    if record.dns_class != DNSClass::IN {
        return None;
    }
    Some(DnsRecord {
        name: text(&record.name.to_lowercase()),
        ttl: record.ttl,
        data,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use hickory_proto::rr::rdata::SOA;

    use super::*;

    fn owner() -> Name {
        name("_xmpp-server._tcp.contoso.com").unwrap()
    }

    #[test]
    fn every_wit_type_round_trips_through_the_wire_form() {
        let cases = [
            (RecordType::A, RecordData::A("192.0.2.10".to_owned())),
            (
                RecordType::Aaaa,
                RecordData::Aaaa("2001:db8::10".to_owned()),
            ),
            (
                RecordType::Cname,
                RecordData::Cname("edge.contoso.com".to_owned()),
            ),
            (
                RecordType::Srv,
                RecordData::Srv(SrvData {
                    priority: 0,
                    weight: 0,
                    port: 5269,
                    target: "xmpp.contoso.com".to_owned(),
                }),
            ),
            (RecordType::Txt, RecordData::Txt("t".repeat(600))),
        ];
        for (rtype, data) in cases {
            let record = to_wire(&owner(), rtype, 300, &data).unwrap();
            assert_eq!(record.record_type(), wire_type(rtype));
            let back = from_wire(&record).unwrap();
            assert_eq!(format!("{:?}", back.data), format!("{data:?}"));
            assert_eq!(back.ttl, 300);
            assert_eq!(back.name, "_xmpp-server._tcp.contoso.com");
        }
    }

    #[test]
    fn long_txt_is_split_into_255_byte_strings() {
        let record = to_wire(
            &owner(),
            RecordType::Txt,
            60,
            &RecordData::Txt("a".repeat(600)),
        )
        .unwrap();
        let RData::TXT(txt) = record.data else {
            unreachable!("a TXT record")
        };
        assert_eq!(
            txt.txt_data.iter().map(|s| s.len()).collect::<Vec<_>>(),
            [255, 255, 90]
        );
        let empty = split_txt(b"");
        assert_eq!(empty.txt_data.len(), 1);
    }

    #[test]
    fn data_of_another_type_or_malformed_is_invalid() {
        let mismatch = to_wire(
            &owner(),
            RecordType::Srv,
            60,
            &RecordData::A("192.0.2.1".to_owned()),
        );
        assert!(
            matches!(mismatch, Err(PluginError::Invalid(m)) if m.contains("A record in the SRV set"))
        );
        let bad_ip = to_wire(
            &owner(),
            RecordType::A,
            60,
            &RecordData::A("192.0.2".to_owned()),
        );
        assert!(matches!(bad_ip, Err(PluginError::Invalid(m)) if m.contains("`192.0.2`")));
        for bad in ["a..b", "a b.contoso.com", &"x".repeat(64)] {
            assert!(
                matches!(name(bad), Err(PluginError::Invalid(m)) if m.starts_with(&format!("`{bad}` is not a domain name"))),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_come_back_lower_case_without_the_final_dot_and_other_types_are_skipped() {
        let record = Record::from_rdata(
            name("SIP.Contoso.COM.").unwrap(),
            5,
            RData::CNAME(CNAME(name("Edge.Contoso.com.").unwrap())),
        );
        let back = from_wire(&record).unwrap();
        assert_eq!(back.name, "sip.contoso.com");
        assert!(matches!(back.data, RecordData::Cname(target) if target == "edge.contoso.com"));
        let soa = Record::from_rdata(
            record.name.clone(),
            5,
            RData::SOA(SOA::new(owner(), owner(), 1, 2, 3, 4, 5)),
        );
        assert!(from_wire(&soa).is_none());
        let mut chaos = record;
        chaos.dns_class = DNSClass::CH;
        assert!(from_wire(&chaos).is_none());
        assert_eq!(text(&Name::root()), "");
    }

    #[test]
    fn response_codes_are_named_by_their_mnemonic() {
        assert_eq!(rcode_name(ResponseCode::Refused), "REFUSED");
        assert_eq!(rcode_name(ResponseCode::NotAuth), "NOTAUTH");
        assert_eq!(rcode_name(<ResponseCode as From<u16>>::from(16)), "BADSIG");
        assert_eq!(rcode_name(<ResponseCode as From<u16>>::from(17)), "BADKEY");
        assert_eq!(
            rcode_name(<ResponseCode as From<u16>>::from(3841)),
            "RCODE3841"
        );
    }
}
