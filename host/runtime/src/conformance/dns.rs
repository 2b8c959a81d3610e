//! The dns-provider cases (`wit/plugin/dns.wit`): what the host relies on when
//! it reads the external zone and moves the SIP and XMPP records.
//!
//! The cases write only record sets under `failback-kit.<zone>` (one name per
//! record type, so no CNAME shares a name with other data) and delete them at
//! the end; a set the kit could not delete is named in the report's notes.
//! A zone that must not exist is `failback-kit.invalid`.

use failback_core::observed::rtype_name;
use failback_core::observed::{DnsRecord, RecordData, RecordType, SrvData};
use serde::Serialize;

use super::{
    ABSENT, Case, CaseReport, Checked, Miss, Variant, answer, none_of, refusal, run_cases, shown,
};
use crate::bindings::plugin::DnsProvider;

const LIST: &str = "dns.list-records";
const REPLACE: &str = "dns.replace-rrset";
const DELETE: &str = "dns.delete-rrset";

/// The label under which the kit writes its sets.
const KIT: &str = "failback-kit";

pub(super) struct Dns {
    plugin: DnsProvider,
    zone: String,
    /// Every set a plugin took a write of, for the clean-up.
    written: Vec<(String, RecordType)>,
}

pub(super) const CASES: &[Case<Dns>] = &[
    Case {
        id: "list-records",
        function: LIST,
        uses: &[],
        promise: "list-records(zone) answers with the zone's records",
        check: list_records,
    },
    Case {
        id: "names",
        function: LIST,
        uses: &[],
        promise: "every name is fully qualified, lower case, without the final dot and in the zone; \
                  every CNAME and SRV target is without the final dot",
        check: names,
    },
    Case {
        id: "unknown-zone",
        function: LIST,
        uses: &[],
        promise: "listing a zone that does not exist is plugin-error::not-found",
        check: unknown_zone,
    },
    Case {
        id: "replace",
        function: REPLACE,
        uses: &[],
        promise: "replace-rrset of an A set in the zone succeeds (the set is created when absent)",
        check: replace,
    },
    Case {
        id: "replace-then-list",
        function: REPLACE,
        uses: &[LIST],
        promise: "after replace-rrset, list-records shows the set exactly: each record of data, \
                  each with ttl",
        check: replace_then_list,
    },
    Case {
        id: "replace-again",
        function: REPLACE,
        uses: &[LIST],
        promise: "re-applying the same set succeeds and changes nothing",
        check: replace_again,
    },
    Case {
        id: "replace-shrinks",
        function: REPLACE,
        uses: &[LIST],
        promise: "replace-rrset replaces: records of the set not in data are gone, and the set \
                  has the new ttl",
        check: replace_shrinks,
    },
    Case {
        id: "round-trip-aaaa",
        function: REPLACE,
        uses: &[LIST],
        promise: "an AAAA set comes back as written, in canonical text form",
        check: round_trip_aaaa,
    },
    Case {
        id: "round-trip-cname",
        function: REPLACE,
        uses: &[LIST],
        promise: "a CNAME set comes back as written: a fully qualified target without the final dot",
        check: round_trip_cname,
    },
    Case {
        id: "round-trip-srv",
        function: REPLACE,
        uses: &[LIST],
        promise: "an SRV set comes back as written: priority, weight, port and target",
        check: round_trip_srv,
    },
    Case {
        id: "round-trip-txt",
        function: REPLACE,
        uses: &[LIST],
        promise: "a TXT set comes back as written: its text, spaces and all",
        check: round_trip_txt,
    },
    Case {
        id: "wrong-type",
        function: REPLACE,
        uses: &[LIST],
        promise: "data of another type than rtype is plugin-error::invalid, and nothing is written",
        check: wrong_type,
    },
    Case {
        id: "replace-unknown-zone",
        function: REPLACE,
        uses: &[],
        promise: "replace-rrset in a zone that does not exist is plugin-error::not-found",
        check: replace_unknown_zone,
    },
    Case {
        id: "delete-absent",
        function: DELETE,
        uses: &[],
        promise: "deleting an absent set succeeds",
        check: delete_absent,
    },
    Case {
        id: "delete-then-list",
        function: DELETE,
        uses: &[LIST, REPLACE],
        promise: "after delete-rrset the set is gone from list-records, and the name's other sets \
                  stay",
        check: delete_then_list,
    },
    Case {
        id: "delete-unknown-zone",
        function: DELETE,
        uses: &[],
        promise: "delete-rrset in a zone that does not exist is plugin-error::not-found",
        check: delete_unknown_zone,
    },
];

/// Run every dns-provider case against `plugin` in `zone`; the reports and
/// the notes of the clean-up.
pub(super) fn run(plugin: &DnsProvider, zone: &str) -> (Vec<CaseReport>, Vec<String>) {
    let mut dns = Dns {
        plugin: plugin.clone(),
        zone: zone.trim_end_matches('.').to_ascii_lowercase(),
        written: Vec::new(),
    };
    let reports = run_cases(CASES, &mut dns);
    (reports, dns.clean_up())
}

/// One record of a set as list-records shows it: what the cases compare.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct Entry {
    ttl: u32,
    data: RecordData,
}

impl Dns {
    /// `<label>.failback-kit.<zone>`
    fn name(&self, label: &str) -> String {
        format!("{label}.{KIT}.{}", self.zone)
    }

    fn list(&self) -> Result<Vec<DnsRecord>, Miss> {
        answer(
            self.plugin.list_records(&self.zone),
            &format!("the records of zone `{}`", self.zone),
        )
    }

    /// The set (`name`, `rtype`) as list-records shows it, sorted.
    fn set(&self, name: &str, rtype: RecordType) -> Result<Vec<Entry>, Miss> {
        let mut set: Vec<Entry> = self
            .list()?
            .into_iter()
            .filter(|r| r.name == name && r.data.record_type() == rtype)
            .map(|r| Entry {
                ttl: r.ttl,
                data: r.data,
            })
            .collect();
        set.sort();
        Ok(set)
    }

    fn replace(&mut self, name: &str, rtype: RecordType, ttl: u32, data: &[RecordData]) -> Checked {
        answer(
            self.plugin
                .replace_rrset(&self.zone, name, rtype, ttl, data),
            "ok",
        )?;
        self.written.push((name.to_owned(), rtype));
        Ok(())
    }

    /// Replace (`name`, `rtype`) with `data` at `ttl`, then find exactly that
    /// set in list-records.
    fn replace_and_find(
        &mut self,
        name: &str,
        rtype: RecordType,
        ttl: u32,
        data: &[RecordData],
    ) -> Checked {
        self.replace(name, rtype, ttl, data)?;
        let mut expected: Vec<Entry> = data
            .iter()
            .map(|data| Entry {
                ttl,
                data: data.clone(),
            })
            .collect();
        expected.sort();
        let found = self.set(name, rtype)?;
        if found == expected {
            Ok(())
        } else {
            Err(Miss::failed(
                format!("list-records to show `{name}` as {}", shown(&expected)),
                format!("it shows {}", shown(&found)),
            ))
        }
    }

    fn round_trip(&mut self, label: &str, rtype: RecordType, data: &[RecordData]) -> Checked {
        let name = self.name(label);
        self.replace_and_find(&name, rtype, 300, data)
    }

    /// Delete every set a case wrote; a note for each one that stays.
    fn clean_up(&mut self) -> Vec<String> {
        let mut written = std::mem::take(&mut self.written);
        written.sort();
        written.dedup();
        written
            .into_iter()
            .filter_map(|(name, rtype)| {
                self.plugin
                    .delete_rrset(&self.zone, &name, rtype)
                    .err()
                    .map(|error| {
                        format!(
                            "the kit's {} set `{name}` may remain: deleting it failed: {}",
                            rtype_name(rtype),
                            super::came_back(&error)
                        )
                    })
            })
            .collect()
    }
}

fn a(address: &str) -> RecordData {
    RecordData::A(address.to_owned())
}

fn list_records(dns: &mut Dns) -> Checked {
    dns.list().map(drop)
}

/// Lower case, no final dot: how list-records names a record.
fn plain(name: &str) -> bool {
    !name.ends_with('.') && !name.bytes().any(|b| b.is_ascii_uppercase())
}

fn names(dns: &mut Dns) -> Checked {
    let zone = &dns.zone;
    let in_zone = |name: &str| name == zone || name.ends_with(&format!(".{zone}"));
    let wrong: Vec<DnsRecord> = dns
        .list()?
        .into_iter()
        .filter(|record| {
            let target_ok = match &record.data {
                RecordData::Cname(target) => !target.ends_with('.'),
                RecordData::Srv(srv) => !srv.target.ends_with('.'),
                _ => true,
            };
            !(plain(&record.name) && in_zone(&record.name) && target_ok)
        })
        .collect();
    if wrong.is_empty() {
        return Ok(());
    }
    let first: Vec<&DnsRecord> = wrong.iter().take(3).collect();
    Err(Miss::failed(
        format!("names lower case in `{zone}`, names and targets without the final dot"),
        format!("{} records are not, such as {}", wrong.len(), shown(&first)),
    ))
}

fn unknown_zone(dns: &mut Dns) -> Checked {
    refusal(dns.plugin.list_records(ABSENT), &[Variant::NotFound])
}

fn replace(dns: &mut Dns) -> Checked {
    let name = dns.name("a");
    dns.replace(&name, RecordType::A, 300, &[a("192.0.2.1"), a("192.0.2.2")])
}

fn replace_then_list(dns: &mut Dns) -> Checked {
    let name = dns.name("a");
    dns.replace_and_find(&name, RecordType::A, 300, &[a("192.0.2.1"), a("192.0.2.2")])
}

fn replace_again(dns: &mut Dns) -> Checked {
    let name = dns.name("a");
    let data = [a("192.0.2.1"), a("192.0.2.2")];
    dns.replace(&name, RecordType::A, 300, &data)?;
    let mut before = dns.list()?;
    before.sort();
    dns.replace(&name, RecordType::A, 300, &data)?;
    let mut after = dns.list()?;
    after.sort();
    if before == after {
        return Ok(());
    }
    let added: Vec<&DnsRecord> = after.iter().filter(|r| !before.contains(r)).collect();
    let removed: Vec<&DnsRecord> = before.iter().filter(|r| !after.contains(r)).collect();
    Err(Miss::failed(
        "the same zone after the same replace-rrset",
        format!("it gained {} and lost {}", shown(&added), shown(&removed)),
    ))
}

fn replace_shrinks(dns: &mut Dns) -> Checked {
    let name = dns.name("a");
    dns.replace(&name, RecordType::A, 300, &[a("192.0.2.1"), a("192.0.2.2")])?;
    dns.replace_and_find(&name, RecordType::A, 600, &[a("192.0.2.3")])
}

fn round_trip_aaaa(dns: &mut Dns) -> Checked {
    dns.round_trip(
        "aaaa",
        RecordType::Aaaa,
        &[RecordData::Aaaa("2001:db8::10".to_owned())],
    )
}

fn round_trip_cname(dns: &mut Dns) -> Checked {
    let target = dns.name("target");
    dns.round_trip("cname", RecordType::Cname, &[RecordData::Cname(target)])
}

fn round_trip_srv(dns: &mut Dns) -> Checked {
    let target = dns.name("xmpp");
    dns.round_trip(
        "_xmpp-server._tcp",
        RecordType::Srv,
        &[RecordData::Srv(SrvData {
            priority: 10,
            weight: 5,
            port: 5269,
            target,
        })],
    )
}

fn round_trip_txt(dns: &mut Dns) -> Checked {
    dns.round_trip(
        "txt",
        RecordType::Txt,
        &[RecordData::Txt("failback conformance kit".to_owned())],
    )
}

fn wrong_type(dns: &mut Dns) -> Checked {
    let name = dns.name("wrong-type");
    let answered = dns.plugin.replace_rrset(
        &dns.zone,
        &name,
        RecordType::A,
        300,
        &[RecordData::Txt("not an address".to_owned())],
    );
    if answered.is_ok() {
        dns.written.push((name.clone(), RecordType::A));
    }
    refusal(answered, &[Variant::Invalid])?;
    let written: Vec<DnsRecord> = dns.list()?.into_iter().filter(|r| r.name == name).collect();
    none_of(
        &written,
        format!("no record at `{name}`"),
        "list-records shows",
    )
}

fn replace_unknown_zone(dns: &mut Dns) -> Checked {
    let name = format!("a.{ABSENT}");
    refusal(
        dns.plugin
            .replace_rrset(ABSENT, &name, RecordType::A, 300, &[a("192.0.2.1")]),
        &[Variant::NotFound],
    )
}

fn delete_absent(dns: &mut Dns) -> Checked {
    let name = dns.name("absent");
    answer(
        dns.plugin.delete_rrset(&dns.zone, &name, RecordType::A),
        "ok",
    )
}

fn delete_then_list(dns: &mut Dns) -> Checked {
    let name = dns.name("a");
    dns.replace(&name, RecordType::A, 300, &[a("192.0.2.1")])?;
    dns.replace(
        &name,
        RecordType::Txt,
        300,
        &[RecordData::Txt("stays".to_owned())],
    )?;
    answer(
        dns.plugin.delete_rrset(&dns.zone, &name, RecordType::A),
        "ok",
    )?;
    let left: Vec<DnsRecord> = dns.list()?.into_iter().filter(|r| r.name == name).collect();
    let stays = [DnsRecord {
        name: name.clone(),
        ttl: 300,
        data: RecordData::Txt("stays".to_owned()),
    }];
    if left == stays {
        Ok(())
    } else {
        Err(Miss::failed(
            format!("only the TXT set left at `{name}`: {}", shown(&stays)),
            format!("list-records shows {}", shown(&left)),
        ))
    }
}

fn delete_unknown_zone(dns: &mut Dns) -> Checked {
    let name = format!("a.{ABSENT}");
    refusal(
        dns.plugin.delete_rrset(ABSENT, &name, RecordType::A),
        &[Variant::NotFound],
    )
}
