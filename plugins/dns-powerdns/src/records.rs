//! Between the WIT's records and the PowerDNS API's: names canonical with the
//! final dot on the wire and without it in the contract, record content in
//! PowerDNS's zone-file form (`10 5 5269 xmpp.contoso.com.`, TXT as quoted
//! strings of at most 255 bytes).

use std::net::{Ipv4Addr, Ipv6Addr};

use failback_plugin_sdk::dns::{DnsRecord, RecordData, RecordType, SrvData};
use failback_plugin_sdk::types::PluginError;
use serde::Deserialize;

/// The type's name on the wire.
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

fn parse_type(name: &str) -> Option<RecordType> {
    Some(match name {
        "A" => RecordType::A,
        "AAAA" => RecordType::Aaaa,
        "CNAME" => RecordType::Cname,
        "SRV" => RecordType::Srv,
        "TXT" => RecordType::Txt,
        _ => return None,
    })
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

/// `name` as the contract writes it: lower case, no final dot.
#[must_use]
pub fn plain(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `name` as PowerDNS writes it: canonical, with the final dot; an
/// `invalid` error when it is not a domain name.
pub fn canonical(name: &str) -> Result<String, PluginError> {
    let plain = plain(name);
    let valid = !plain.is_empty()
        && plain.len() <= 253
        && plain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if valid {
        Ok(format!("{plain}."))
    } else {
        Err(PluginError::Invalid(format!(
            "`{name}` is not a domain name"
        )))
    }
}

/// The content of one record, in PowerDNS's form; `invalid` when `data` is
/// not of `rtype` or malformed.
pub fn content(rtype: RecordType, data: &RecordData) -> Result<String, PluginError> {
    if data_type(data) != rtype {
        return Err(PluginError::Invalid(format!(
            "a {} record set cannot hold {} data",
            type_name(rtype),
            type_name(data_type(data))
        )));
    }
    let invalid = |what: &str, text: &str| PluginError::Invalid(format!("`{text}` is not {what}"));
    Ok(match data {
        RecordData::A(address) => address
            .parse::<Ipv4Addr>()
            .map_err(|_| invalid("an IPv4 address", address))?
            .to_string(),
        RecordData::Aaaa(address) => address
            .parse::<Ipv6Addr>()
            .map_err(|_| invalid("an IPv6 address", address))?
            .to_string(),
        RecordData::Cname(target) => canonical(target)?,
        RecordData::Srv(srv) => format!(
            "{} {} {} {}",
            srv.priority,
            srv.weight,
            srv.port,
            canonical(&srv.target)?
        ),
        RecordData::Txt(text) => quote_txt(text.as_bytes()),
    })
}

/// TXT text as quoted character-strings of at most 255 bytes each, `"` and `\`
/// escaped, bytes outside printable ASCII as `\DDD`.
fn quote_txt(text: &[u8]) -> String {
    let chunks: Vec<&[u8]> = if text.is_empty() {
        vec![&[]]
    } else {
        text.chunks(255).collect()
    };
    chunks
        .iter()
        .map(|chunk| {
            let mut quoted = String::from("\"");
            for &byte in *chunk {
                match byte {
                    b'"' | b'\\' => {
                        quoted.push('\\');
                        quoted.push(char::from(byte));
                    }
                    0x20..=0x7e => quoted.push(char::from(byte)),
                    _ => quoted.push_str(&format!("\\{byte:03}")),
                }
            }
            quoted.push('"');
            quoted
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text of TXT content: its quoted strings joined, escapes undone.
fn unquote_txt(content: &str) -> Option<String> {
    let bytes = content.as_bytes();
    let mut text = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            b'"' => {
                i += 1;
                loop {
                    match *bytes.get(i)? {
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\\' => {
                            let next = *bytes.get(i + 1)?;
                            if next.is_ascii_digit() {
                                let digits = std::str::from_utf8(bytes.get(i + 1..i + 4)?).ok()?;
                                text.push(digits.parse::<u8>().ok()?);
                                i += 4;
                            } else {
                                text.push(next);
                                i += 2;
                            }
                        }
                        byte => {
                            text.push(byte);
                            i += 1;
                        }
                    }
                }
            }
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&text).into_owned())
}

/// The data of one record of `rtype` from PowerDNS's content, or `None` when
/// it does not read.
fn data(rtype: RecordType, content: &str) -> Option<RecordData> {
    Some(match rtype {
        RecordType::A => RecordData::A(content.parse::<Ipv4Addr>().ok()?.to_string()),
        RecordType::Aaaa => RecordData::Aaaa(content.parse::<Ipv6Addr>().ok()?.to_string()),
        RecordType::Cname => RecordData::Cname(plain(content)),
        RecordType::Srv => {
            let mut parts = content.split_whitespace();
            let srv = SrvData {
                priority: parts.next()?.parse().ok()?,
                weight: parts.next()?.parse().ok()?,
                port: parts.next()?.parse().ok()?,
                target: plain(parts.next()?),
            };
            if parts.next().is_some() {
                return None;
            }
            RecordData::Srv(srv)
        }
        RecordType::Txt => RecordData::Txt(unquote_txt(content)?),
    })
}

/// A zone as `GET …/zones/{zone}` answers it (the fields read here).
#[derive(Debug, Deserialize)]
pub struct Zone {
    #[serde(default)]
    pub rrsets: Vec<RrSet>,
}

#[derive(Debug, Deserialize)]
pub struct RrSet {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub ttl: u32,
    #[serde(default)]
    pub records: Vec<Record>,
}

#[derive(Debug, Deserialize)]
pub struct Record {
    pub content: String,
    #[serde(default)]
    pub disabled: bool,
}

/// The zone's records of the types the failback touches, enabled ones only;
/// the others are skipped (the SOA, NS, MX, …), as is content that does not
/// read (counted in the second value).
#[must_use]
pub fn from_zone(zone: &Zone) -> (Vec<DnsRecord>, usize) {
    let mut records = Vec::new();
    let mut unreadable = 0;
    for set in &zone.rrsets {
        let Some(rtype) = parse_type(&set.rtype) else {
            continue;
        };
        for record in set.records.iter().filter(|r| !r.disabled) {
            match data(rtype, &record.content) {
                Some(data) => records.push(DnsRecord {
                    name: plain(&set.name),
                    ttl: set.ttl,
                    data,
                }),
                None => unreadable += 1,
            }
        }
    }
    (records, unreadable)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn every_type_round_trips_through_the_content_form() {
        for (rtype, item) in [
            (RecordType::A, RecordData::A("192.0.2.1".to_owned())),
            (
                RecordType::Aaaa,
                RecordData::Aaaa("2001:db8::10".to_owned()),
            ),
            (
                RecordType::Cname,
                RecordData::Cname("sip.contoso.com".to_owned()),
            ),
            (
                RecordType::Srv,
                RecordData::Srv(SrvData {
                    priority: 10,
                    weight: 5,
                    port: 5269,
                    target: "xmpp.contoso.com".to_owned(),
                }),
            ),
            (
                RecordType::Txt,
                RecordData::Txt("say \"hi\" \\ there".to_owned()),
            ),
            (RecordType::Txt, RecordData::Txt("t".repeat(600))),
        ] {
            let text = content(rtype, &item).unwrap();
            // The WIT types have no `PartialEq`: compare their debug forms.
            assert_eq!(
                format!("{:?}", data(rtype, &text)),
                format!("{:?}", Some(item)),
                "{text}"
            );
        }
    }

    #[test]
    fn names_are_canonical_on_the_wire_and_plain_in_the_contract() {
        assert_eq!(canonical("Sip.Contoso.com").unwrap(), "sip.contoso.com.");
        assert_eq!(canonical("sip.contoso.com.").unwrap(), "sip.contoso.com.");
        assert_eq!(plain("SIP.contoso.com."), "sip.contoso.com");
        assert!(canonical("bad name.com").is_err());
    }

    #[test]
    fn data_of_another_type_is_invalid() {
        assert!(matches!(
            content(RecordType::A, &RecordData::Txt("x".to_owned())),
            Err(PluginError::Invalid(_))
        ));
        assert!(matches!(
            content(RecordType::A, &RecordData::A("not an address".to_owned())),
            Err(PluginError::Invalid(_))
        ));
    }
}
