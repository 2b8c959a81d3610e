//! Between the WIT's records and the wire's: the record types the failback
//! touches, names in the WIT's form (lower case, no final dot), TXT text split
//! into and joined from 255-byte strings.

use std::net::{Ipv4Addr, Ipv6Addr};

use failback_plugin_sdk::dns::{DnsRecord, RecordData, RecordType, SrvData};
use failback_plugin_sdk::types::PluginError;

use crate::wire::{
    CLASS_IN, Name, RData, Record, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_SRV, TYPE_TXT,
};

/// The wire type of a WIT record type.
#[must_use]
pub fn wire_type(rtype: RecordType) -> u16 {
    match rtype {
        RecordType::A => TYPE_A,
        RecordType::Aaaa => TYPE_AAAA,
        RecordType::Cname => TYPE_CNAME,
        RecordType::Srv => TYPE_SRV,
        RecordType::Txt => TYPE_TXT,
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

/// A name given by the caller, or an `invalid` error naming it.
pub fn name(text: &str) -> Result<Name, PluginError> {
    Name::parse(text).map_err(|e| PluginError::Invalid(e.to_string()))
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
            "a {} record in the {} set of `{owner}`",
            type_name(data_type(data)),
            type_name(rtype)
        )));
    }
    let data = match data {
        RecordData::A(text) => RData::A(
            text.parse::<Ipv4Addr>()
                .map_err(|_| PluginError::Invalid(format!("`{text}` is not an IPv4 address")))?,
        ),
        RecordData::Aaaa(text) => RData::Aaaa(
            text.parse::<Ipv6Addr>()
                .map_err(|_| PluginError::Invalid(format!("`{text}` is not an IPv6 address")))?,
        ),
        RecordData::Cname(target) => RData::Cname(name(target)?),
        RecordData::Srv(srv) => RData::Srv {
            priority: srv.priority,
            weight: srv.weight,
            port: srv.port,
            target: name(&srv.target)?,
        },
        RecordData::Txt(text) => RData::Txt(split_txt(text.as_bytes())),
    };
    Ok(Record {
        name: owner.clone(),
        rtype: wire_type(rtype),
        class: CLASS_IN,
        ttl,
        data,
    })
}

/// TXT text as character-strings of at most 255 bytes; the empty text is one
/// empty string.
fn split_txt(text: &[u8]) -> Vec<Vec<u8>> {
    if text.is_empty() {
        return vec![Vec::new()];
    }
    text.chunks(255).map(<[u8]>::to_vec).collect()
}

/// The WIT form of a record from the zone, if it is of a type the WIT carries.
#[must_use]
pub fn from_wire(record: &Record) -> Option<DnsRecord> {
    let data = match &record.data {
        RData::A(ip) if record.rtype == TYPE_A => RecordData::A(ip.to_string()),
        RData::Aaaa(ip) if record.rtype == TYPE_AAAA => RecordData::Aaaa(ip.to_string()),
        RData::Cname(target) if record.rtype == TYPE_CNAME => {
            RecordData::Cname(target.to_lowercase_string())
        }
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } if record.rtype == TYPE_SRV => RecordData::Srv(SrvData {
            priority: *priority,
            weight: *weight,
            port: *port,
            target: target.to_lowercase_string(),
        }),
        RData::Txt(strings) if record.rtype == TYPE_TXT => {
            RecordData::Txt(String::from_utf8_lossy(&strings.concat()).into_owned())
        }
        _ => return None,
    };
    if record.class != CLASS_IN {
        return None;
    }
    Some(DnsRecord {
        name: record.name.to_lowercase_string(),
        ttl: record.ttl,
        data,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use super::*;
    use crate::wire::TYPE_SOA;

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
        let RData::Txt(strings) = record.data else {
            unreachable!("a TXT record")
        };
        assert_eq!(
            strings.iter().map(Vec::len).collect::<Vec<_>>(),
            [255, 255, 90]
        );
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
        assert!(matches!(name("a..b"), Err(PluginError::Invalid(_))));
    }

    #[test]
    fn names_come_back_lower_case_without_the_final_dot_and_other_types_are_skipped() {
        let record = Record {
            name: name("SIP.Contoso.COM.").unwrap(),
            rtype: TYPE_CNAME,
            class: CLASS_IN,
            ttl: 5,
            data: RData::Cname(name("Edge.Contoso.com.").unwrap()),
        };
        let back = from_wire(&record).unwrap();
        assert_eq!(back.name, "sip.contoso.com");
        assert!(matches!(back.data, RecordData::Cname(target) if target == "edge.contoso.com"));
        let soa = Record {
            rtype: TYPE_SOA,
            data: RData::Other(vec![0]),
            ..record
        };
        assert!(from_wire(&soa).is_none());
    }
}
