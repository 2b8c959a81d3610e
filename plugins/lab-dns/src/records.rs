//! The `dns` interface over a directory of zone files: `<zone>.zone` per zone,
//! rewritten whole on each change, and a line in `lab-dns.log` per side effect.

use std::io;
use std::path::PathBuf;

use failback_plugin_sdk::dns::{DnsRecord, PluginError, RecordData, RecordType, SrvData};
use failback_plugin_sdk::files;

use crate::zone::{self, RData, Record, Type, Zone};

const LOG: &str = "lab-dns.log";

/// Where the plugin's granted directories are.
#[derive(Debug)]
pub(crate) struct Lab {
    /// Holds `<zone>.zone`.
    pub(crate) dir: PathBuf,
    /// Holds `lab-dns.log`.
    pub(crate) writes: PathBuf,
}

impl Lab {
    /// Every A, AAAA, CNAME, SRV and TXT record of `zone`.
    pub(crate) fn list_records(&self, zone: &str) -> Result<Vec<DnsRecord>, PluginError> {
        let (_, zone) = self.read(zone)?;
        Ok(zone.records.iter().filter_map(to_wit).collect())
    }

    /// Replace the set (`name`, `rtype`) of `zone` with `data`, each with `ttl`.
    pub(crate) fn replace_rrset(
        &self,
        zone: &str,
        name: &str,
        rtype: RecordType,
        ttl: u32,
        data: &[RecordData],
    ) -> Result<(), PluginError> {
        let (path, mut parsed) = self.read(zone)?;
        let name = owner(&parsed, name)?;
        let kind = from_wit_type(rtype);
        if ttl > zone::MAX_TTL {
            return Err(PluginError::Invalid(format!(
                "TTL `{ttl}` of `{name}` is past the greatest, {}",
                zone::MAX_TTL
            )));
        }
        let mut set: Vec<RData> = Vec::with_capacity(data.len());
        for item in data {
            let item = from_wit(&name, kind, item)?;
            if !set.iter().any(|d| d.same_as(&item)) {
                set.push(item);
            }
        }
        check_cname_rules(&parsed, &name, kind, &set)?;
        if parsed.replace_rrset(&name, kind, ttl, &set) {
            self.write(&path, &parsed)?;
        }
        let rendered: Vec<String> = data.iter().map(render).collect();
        self.log(&format!(
            "replace-rrset {} {name} {} {ttl} [{}]",
            parsed.apex,
            type_name(rtype),
            rendered.join(", ")
        ))
    }

    /// Delete the set (`name`, `rtype`) from `zone`; an absent set is no error.
    pub(crate) fn delete_rrset(
        &self,
        zone: &str,
        name: &str,
        rtype: RecordType,
    ) -> Result<(), PluginError> {
        let (path, mut parsed) = self.read(zone)?;
        let name = owner(&parsed, name)?;
        if parsed.delete_rrset(&name, from_wit_type(rtype)) {
            self.write(&path, &parsed)?;
        }
        self.log(&format!(
            "delete-rrset {} {name} {}",
            parsed.apex,
            type_name(rtype)
        ))
    }

    /// The zone's file name and its parsed content.
    fn read(&self, zone: &str) -> Result<(String, Zone), PluginError> {
        let apex = zone::check_name(zone)
            .ok()
            .filter(|apex| !apex.is_empty())
            .ok_or_else(|| PluginError::Invalid(format!("zone `{zone}` is not a domain name")))?;
        let file = format!("{apex}.zone");
        let text = std::fs::read_to_string(self.dir.join(&file)).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                PluginError::NotFound(format!("zone `{apex}` does not exist"))
            } else {
                files::io_error("read", &file, &e)
            }
        })?;
        let parsed = Zone::parse(&apex, &text)
            .map_err(|e| PluginError::Failed(format!("zone file `{file}` is malformed: {e}")))?;
        Ok((file, parsed))
    }

    fn write(&self, file: &str, zone: &Zone) -> Result<(), PluginError> {
        files::write_atomic(&self.dir.join(file), zone.write().as_bytes())
            .map_err(|e| files::io_error("write", file, &e))
    }

    fn log(&self, line: &str) -> Result<(), PluginError> {
        files::append_line(&self.writes.join(LOG), line)
            .map_err(|e| files::io_error("append to", LOG, &e))
    }
}

/// The owner name of a change: a name in the zone, lower case, no final dot.
fn owner(zone: &Zone, name: &str) -> Result<String, PluginError> {
    let checked = zone::check_name(name).map_err(PluginError::Invalid)?;
    if !zone::in_zone(&checked, &zone.apex) {
        return Err(PluginError::Invalid(format!(
            "`{checked}` is outside the zone `{}`",
            zone.apex
        )));
    }
    Ok(checked)
}

/// What a zone cannot hold (RFC 1034 §3.6.2, RFC 2181 §10.1): a CNAME beside
/// other data at a name, more than one CNAME at a name, a CNAME at the apex.
fn check_cname_rules(
    zone: &Zone,
    name: &str,
    kind: Type,
    set: &[RData],
) -> Result<(), PluginError> {
    if set.is_empty() {
        return Ok(());
    }
    let others: Vec<Type> = zone
        .records
        .iter()
        .filter(|r| r.name == name && r.data.rtype() != kind)
        .map(|r| r.data.rtype())
        .collect();
    if kind == Type::Cname {
        if name == zone.apex {
            return Err(PluginError::Invalid(format!(
                "a CNAME at the zone apex `{name}`"
            )));
        }
        if set.len() > 1 {
            return Err(PluginError::Invalid(format!(
                "{} CNAME records at `{name}`; a name has at most one",
                set.len()
            )));
        }
        if !others.is_empty() {
            return Err(PluginError::Invalid(format!(
                "a CNAME at `{name}`, which has other records"
            )));
        }
    } else if others.contains(&Type::Cname) {
        return Err(PluginError::Invalid(format!(
            "records beside the CNAME at `{name}`"
        )));
    }
    Ok(())
}

fn from_wit_type(rtype: RecordType) -> Type {
    match rtype {
        RecordType::A => Type::A,
        RecordType::Aaaa => Type::Aaaa,
        RecordType::Cname => Type::Cname,
        RecordType::Srv => Type::Srv,
        RecordType::Txt => Type::Txt,
    }
}

/// The WIT name of a record type, for the log.
fn type_name(rtype: RecordType) -> &'static str {
    match rtype {
        RecordType::A => "a",
        RecordType::Aaaa => "aaaa",
        RecordType::Cname => "cname",
        RecordType::Srv => "srv",
        RecordType::Txt => "txt",
    }
}

/// A record for the host; NS records are the zone's own, not listed.
fn to_wit(record: &Record) -> Option<DnsRecord> {
    let data = match &record.data {
        RData::Ns(_) => return None,
        RData::A(address) => RecordData::A(address.to_string()),
        RData::Aaaa(address) => RecordData::Aaaa(address.to_string()),
        RData::Cname(target) => RecordData::Cname(target.clone()),
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => RecordData::Srv(SrvData {
            priority: *priority,
            weight: *weight,
            port: *port,
            target: target.clone(),
        }),
        RData::Txt(strings) => RecordData::Txt(strings.concat()),
    };
    Some(DnsRecord {
        name: record.name.clone(),
        ttl: record.ttl,
        data,
    })
}

/// The host's record data as the zone holds it, checked against `kind`.
fn from_wit(name: &str, kind: Type, data: &RecordData) -> Result<RData, PluginError> {
    let target = |target: &str| {
        zone::check_name(target)
            .map_err(|message| PluginError::Invalid(format!("the target of `{name}`: {message}")))
    };
    let rdata = match data {
        RecordData::A(address) => RData::A(address.parse().map_err(|_| {
            PluginError::Invalid(format!("`{address}` for `{name}` is not an IPv4 address"))
        })?),
        RecordData::Aaaa(address) => RData::Aaaa(address.parse().map_err(|_| {
            PluginError::Invalid(format!("`{address}` for `{name}` is not an IPv6 address"))
        })?),
        RecordData::Cname(cname) => RData::Cname(target(cname)?),
        RecordData::Srv(srv) => RData::Srv {
            priority: srv.priority,
            weight: srv.weight,
            port: srv.port,
            target: target(&srv.target)?,
        },
        RecordData::Txt(text) => RData::Txt(zone::character_strings(text)),
    };
    if rdata.rtype() != kind {
        return Err(PluginError::Invalid(format!(
            "`{}` data in the `{}` set of `{name}`",
            type_name_of(rdata.rtype()),
            type_name_of(kind)
        )));
    }
    Ok(rdata)
}

fn type_name_of(kind: Type) -> &'static str {
    match kind {
        Type::Ns => "ns",
        Type::A => "a",
        Type::Aaaa => "aaaa",
        Type::Cname => "cname",
        Type::Srv => "srv",
        Type::Txt => "txt",
    }
}

/// One record's data as the log shows it.
fn render(data: &RecordData) -> String {
    match data {
        RecordData::A(text) | RecordData::Aaaa(text) | RecordData::Cname(text) => text.clone(),
        RecordData::Srv(srv) => format!(
            "{} {} {} {}",
            srv.priority, srv.weight, srv.port, srv.target
        ),
        RecordData::Txt(text) => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]

    use super::*;

    const ZONE: &str = "$ORIGIN contoso.com.
$TTL 3600
@ IN SOA ns1 hostmaster 2026112001 3600 600 86400 300
@ IN NS ns1
ns1 IN A 131.107.1.1
sip 300 IN A 131.107.155.100
_sipfederationtls._tcp 300 IN SRV 0 0 5061 sip
_xmpp-server._tcp 300 IN SRV 10 0 5269 xmpp
xmpp 300 IN A 131.107.155.100
webconf IN CNAME sip
";

    fn lab() -> (tempfile::TempDir, Lab) {
        let root = tempfile::tempdir().unwrap();
        let lab = Lab {
            dir: root.path().join("dns"),
            writes: root.path().join("writes"),
        };
        std::fs::create_dir(&lab.dir).unwrap();
        std::fs::create_dir(&lab.writes).unwrap();
        std::fs::write(lab.dir.join("contoso.com.zone"), ZONE).unwrap();
        (root, lab)
    }

    fn file(lab: &Lab) -> String {
        std::fs::read_to_string(lab.dir.join("contoso.com.zone")).unwrap()
    }

    fn log(lab: &Lab) -> String {
        std::fs::read_to_string(lab.writes.join(LOG)).unwrap_or_default()
    }

    fn serial(lab: &Lab) -> u32 {
        Zone::parse("contoso.com", &file(lab)).unwrap().soa.serial
    }

    fn a(address: &str) -> RecordData {
        RecordData::A(address.to_owned())
    }

    /// The records at `name`, with their data as the log renders it.
    fn list(lab: &Lab, name: &str) -> Vec<(u32, String)> {
        lab.list_records("contoso.com")
            .unwrap()
            .into_iter()
            .filter(|r| r.name == name)
            .map(|r| (r.ttl, render(&r.data)))
            .collect()
    }

    fn rows(rows: &[(u32, &str)]) -> Vec<(u32, String)> {
        rows.iter()
            .map(|(ttl, data)| (*ttl, (*data).to_owned()))
            .collect()
    }

    #[test]
    fn list_records_returns_every_record_but_soa_and_ns() {
        let (_root, lab) = lab();
        let records = lab.list_records("Contoso.com.").unwrap();
        let mut names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "_sipfederationtls._tcp.contoso.com",
                "_xmpp-server._tcp.contoso.com",
                "ns1.contoso.com",
                "sip.contoso.com",
                "webconf.contoso.com",
                "xmpp.contoso.com"
            ]
        );
        let srv = records
            .iter()
            .find(|r| r.name == "_xmpp-server._tcp.contoso.com")
            .unwrap();
        assert_eq!(srv.ttl, 300);
        assert!(matches!(&srv.data, RecordData::Srv(s)
            if s.port == 5269 && s.priority == 10 && s.target == "xmpp.contoso.com"));
        assert_eq!(
            list(&lab, "webconf.contoso.com"),
            rows(&[(3600, "sip.contoso.com")])
        );
    }

    #[test]
    fn an_absent_zone_is_not_found() {
        let (_root, lab) = lab();
        let err = lab.list_records("fabrikam.com").unwrap_err();
        assert!(
            matches!(&err, PluginError::NotFound(m) if m == "zone `fabrikam.com` does not exist"),
            "{err:?}"
        );
        let err = lab
            .delete_rrset("fabrikam.com", "sip.fabrikam.com", RecordType::A)
            .unwrap_err();
        assert!(matches!(err, PluginError::NotFound(_)));
        // A zone name cannot reach outside the directory.
        let err = lab.list_records("../store/x").unwrap_err();
        assert!(
            matches!(&err, PluginError::Invalid(m) if m.contains("`../store/x`")),
            "{err:?}"
        );
    }

    #[test]
    fn replace_rrset_rewrites_the_file_with_the_serial_incremented() {
        let (_root, lab) = lab();
        lab.replace_rrset(
            "contoso.com",
            "XMPP.contoso.com.",
            RecordType::A,
            60,
            &[a("131.107.155.10"), a("131.107.155.11")],
        )
        .unwrap();
        assert_eq!(
            list(&lab, "xmpp.contoso.com"),
            rows(&[(60, "131.107.155.10"), (60, "131.107.155.11")])
        );
        assert_eq!(serial(&lab), 2026112002);
        let text = file(&lab);
        assert!(
            text.starts_with("$ORIGIN contoso.com.\n$TTL 3600\ncontoso.com. "),
            "{text}"
        );
        assert!(
            text.contains("\nxmpp.contoso.com.                     60 IN A     131.107.155.10\n"),
            "{text}"
        );
        assert!(!lab.dir.join("contoso.com.zone.tmp").exists());
        // Re-applying the same set succeeds and changes nothing, but is logged.
        lab.replace_rrset(
            "contoso.com",
            "xmpp.contoso.com",
            RecordType::A,
            60,
            &[a("131.107.155.11"), a("131.107.155.10")],
        )
        .unwrap();
        assert_eq!(file(&lab), text);
        assert_eq!(
            log(&lab),
            "replace-rrset contoso.com xmpp.contoso.com a 60 [131.107.155.10, 131.107.155.11]\n\
             replace-rrset contoso.com xmpp.contoso.com a 60 [131.107.155.11, 131.107.155.10]\n"
        );
    }

    #[test]
    fn replace_rrset_creates_a_set() {
        let (_root, lab) = lab();
        let srv = RecordData::Srv(SrvData {
            priority: 0,
            weight: 0,
            port: 5269,
            target: "xmpp.contoso.com".into(),
        });
        lab.replace_rrset(
            "contoso.com",
            "_xmpp-server._tcp.fed.contoso.com",
            RecordType::Srv,
            300,
            &[srv],
        )
        .unwrap();
        assert_eq!(
            list(&lab, "_xmpp-server._tcp.fed.contoso.com"),
            rows(&[(300, "0 0 5269 xmpp.contoso.com")])
        );
        lab.replace_rrset(
            "contoso.com",
            "contoso.com",
            RecordType::Txt,
            300,
            &[RecordData::Txt("v=spf1 -all".into())],
        )
        .unwrap();
        assert_eq!(list(&lab, "contoso.com"), rows(&[(300, "\"v=spf1 -all\"")]));
        assert_eq!(serial(&lab), 2026112003);
        assert!(
            log(&lab)
                .ends_with("replace-rrset contoso.com contoso.com txt 300 [\"v=spf1 -all\"]\n")
        );
    }

    #[test]
    fn delete_rrset_removes_the_set_and_an_absent_set_is_no_error() {
        let (_root, lab) = lab();
        lab.delete_rrset(
            "contoso.com",
            "_xmpp-server._tcp.contoso.com",
            RecordType::Srv,
        )
        .unwrap();
        assert_eq!(list(&lab, "_xmpp-server._tcp.contoso.com"), rows(&[]));
        assert_eq!(serial(&lab), 2026112002);
        let text = file(&lab);
        lab.delete_rrset(
            "contoso.com",
            "_xmpp-server._tcp.contoso.com",
            RecordType::Srv,
        )
        .unwrap();
        lab.delete_rrset("contoso.com", "sip.contoso.com", RecordType::Aaaa)
            .unwrap();
        assert_eq!(file(&lab), text);
        assert_eq!(list(&lab, "sip.contoso.com").len(), 1);
        assert_eq!(log(&lab).lines().count(), 3);
    }

    #[test]
    fn requests_the_zone_cannot_hold_are_invalid_and_change_nothing() {
        let (_root, lab) = lab();
        let cases: [(&str, RecordType, Vec<RecordData>, &str); 8] = [
            (
                "sip.fabrikam.com",
                RecordType::A,
                vec![a("10.0.0.1")],
                "`sip.fabrikam.com` is outside the zone `contoso.com`",
            ),
            (
                "bad name.contoso.com",
                RecordType::A,
                vec![a("10.0.0.1")],
                "`bad name.contoso.com` is not a valid domain name",
            ),
            (
                "sip.contoso.com",
                RecordType::A,
                vec![a("10.0.0.300")],
                "`10.0.0.300` for `sip.contoso.com` is not an IPv4 address",
            ),
            (
                "sip.contoso.com",
                RecordType::A,
                vec![RecordData::Aaaa("::1".into())],
                "`aaaa` data in the `a` set of `sip.contoso.com`",
            ),
            (
                "sip.contoso.com",
                RecordType::Cname,
                vec![RecordData::Cname("x.contoso.com".into())],
                "a CNAME at `sip.contoso.com`, which has other records",
            ),
            (
                "webconf.contoso.com",
                RecordType::A,
                vec![a("10.0.0.1")],
                "records beside the CNAME at `webconf.contoso.com`",
            ),
            (
                "contoso.com",
                RecordType::Cname,
                vec![RecordData::Cname("x.contoso.com".into())],
                "a CNAME at the zone apex `contoso.com`",
            ),
            (
                "w.contoso.com",
                RecordType::Cname,
                vec![
                    RecordData::Cname("x.contoso.com".into()),
                    RecordData::Cname("y.contoso.com".into()),
                ],
                "2 CNAME records at `w.contoso.com`; a name has at most one",
            ),
        ];
        for (name, rtype, data, message) in cases {
            let err = lab
                .replace_rrset("contoso.com", name, rtype, 300, &data)
                .unwrap_err();
            assert!(
                matches!(&err, PluginError::Invalid(m) if m == message),
                "{name}: {err:?}"
            );
        }
        let err = lab
            .replace_rrset(
                "contoso.com",
                "sip.contoso.com",
                RecordType::A,
                u32::MAX,
                &[a("10.0.0.1")],
            )
            .unwrap_err();
        assert!(matches!(err, PluginError::Invalid(_)));
        assert_eq!(file(&lab), ZONE);
        assert_eq!(log(&lab), "");
    }

    /// The form `failback lab init` writes (host/core `lab`): absolute owners,
    /// explicit TTL and class, one record a line.
    #[test]
    fn reads_and_changes_the_zone_lab_init_writes() {
        let (_root, lab) = lab();
        let init = "$ORIGIN contoso.com.
$TTL 3600
contoso.com. 3600 IN SOA ns1.contoso.com. hostmaster.contoso.com. 2026112001 3600 600 604800 300
contoso.com. 3600 IN NS ns1.contoso.com.
_sip._tls.contoso.com. 3600 IN SRV 0 0 443 sip.contoso.com.
_sipfederationtls._tcp.contoso.com. 3600 IN SRV 0 0 5061 sip.contoso.com.
ns1.contoso.com. 3600 IN A 131.107.155.2
sip.contoso.com. 3600 IN A 131.107.155.20
sip.contoso.com. 3600 IN A 131.107.155.21
xmpp.contoso.com. 3600 IN A 131.107.155.20
";
        std::fs::write(lab.dir.join("contoso.com.zone"), init).unwrap();
        assert_eq!(lab.list_records("contoso.com").unwrap().len(), 6);
        lab.replace_rrset(
            "contoso.com",
            "_xmpp-server._tcp.contoso.com",
            RecordType::Srv,
            3600,
            &[RecordData::Srv(SrvData {
                priority: 0,
                weight: 0,
                port: 5269,
                target: "xmpp.contoso.com".into(),
            })],
        )
        .unwrap();
        lab.replace_rrset(
            "contoso.com",
            "xmpp.contoso.com",
            RecordType::A,
            300,
            &[a("131.107.155.10")],
        )
        .unwrap();
        assert_eq!(serial(&lab), 2026112003);
        assert_eq!(
            list(&lab, "_xmpp-server._tcp.contoso.com"),
            rows(&[(3600, "0 0 5269 xmpp.contoso.com")])
        );
        assert_eq!(
            list(&lab, "xmpp.contoso.com"),
            rows(&[(300, "131.107.155.10")])
        );
        assert_eq!(list(&lab, "sip.contoso.com").len(), 2);
    }

    #[test]
    fn a_malformed_zone_file_fails_naming_the_line() {
        let (_root, lab) = lab();
        std::fs::write(
            lab.dir.join("contoso.com.zone"),
            ZONE.replace("xmpp 300 IN A 131.107.155.100", "xmpp 300 IN A 131.107.155"),
        )
        .unwrap();
        let err = lab.list_records("contoso.com").unwrap_err();
        assert!(
            matches!(&err, PluginError::Failed(m) if m == "zone file `contoso.com.zone` is malformed: line 9: `131.107.155` is not an IPv4 address"),
            "{err:?}"
        );
    }
}
