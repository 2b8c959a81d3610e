//! Every value a plugin returns, through its gate ([`Observation::check`]),
//! with structured input: a lab observation (any scenario) whose fields the
//! input then changes, value by value — names taken from the observation
//! itself, the same in capitals or with a final dot, names an attacker would
//! try, or any string the input makes. Bytes alone would seldom make an
//! observation that gets past the gate, or whose names meet one another.
//!
//! Past the gate: the observation is written as a captured state and read
//! back equal (an edited one refused); it assembles or fails with an error;
//! the plan made from it is sealed and reads back equal; and nothing an
//! operator reads of it — the plan's text and PowerShell, the captured
//! state's text — holds a control character other than a line break or a
//! tab, whatever the plugin returned. Refused by the gate, the same
//! observation is refused when read from a captured state too.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use failback_core::capture::CapturedState;
use failback_core::deployment::assemble;
use failback_core::document;
use failback_core::intent::{Intent, IntentFlags};
use failback_core::observed::{
    Observation, PoolState, PortState, RecordData, ServiceState, ServiceStatus, SrvData, XmppAnswer,
};
use failback_core::plan::{PluginDigest, plan};
use failback_core::render;

/// At most this many changes to one observation.
const MAX_CHANGES: u32 = 16;

/// Strings a hostile plugin would try where a name goes.
const HOSTILE: &[&str] = &[
    "",
    ".",
    "..",
    "EdgeServer:",
    "EdgeServer:edgepool1.contoso.com",
    "EdgeServer:EDGEPOOL2.CONTOSO.COM.",
    "*.contoso.com",
    "_xmpp-server._tcp.contoso.com",
    "a..contoso.com",
    "-edge.contoso.com",
    "edge1.contoso.com\n[ok] federation moved",
    "\u{1b}[31medge1.contoso.com",
    "edge1.contoso.com\u{202e}",
    "edge1.contoso.com'; Remove-Item C:\\ -Recurse; '",
    "$(Get-Process)",
    "`whoami`",
    "\"quoted\"",
    "1.2.3.4",
    "::1",
    "256.1.1.1",
    "xn--bcher-kva.contoso.com",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.contoso.com",
];

/// The lab observations the input starts from.
fn bases() -> &'static [Observation] {
    static BASES: OnceLock<Vec<Observation>> = OnceLock::new();
    BASES.get_or_init(|| {
        crate::lab::file_sets()
            .iter()
            .filter_map(|(_, files)| crate::lab::observe(files))
            .collect()
    })
}

pub fn check(data: &[u8]) -> bool {
    let mut u = Unstructured::new(data);
    let Ok(base) = u.choose(bases()) else {
        return false;
    };
    let mut observation = base.clone();
    let names = names(&observation);
    let changes = u.int_in_range(0..=MAX_CHANGES).unwrap_or(0);
    for _ in 0..changes {
        if change(&mut u, &names, &mut observation).is_err() {
            break;
        }
    }
    let state = CapturedState::new(
        "2026-12-01T17:20:00Z".to_owned(),
        "lab".to_owned(),
        "0".repeat(64),
        BTreeMap::from([(
            "dns-provider".to_owned(),
            PluginDigest {
                name: "lab-dns".to_owned(),
                sha256: "0".repeat(64),
            },
        )]),
        observation.clone(),
    );
    let state = match state {
        Ok(state) => state,
        Err(e) => panic!("a captured state of an observation cannot be sealed: {e}"),
    };
    if observation.check().is_err() {
        assert!(
            CapturedState::read(&state.to_json()).is_err(),
            "the gate refuses the observation, but a captured state of it reads"
        );
        return false;
    }
    crate::state_document::read_back(&state);
    let Ok(snapshot) = assemble(&observation) else {
        return true;
    };
    readable(
        "the captured state",
        &render::captured(&state, &snapshot.deployment),
    );
    let Ok(intent) = Intent::resolve(&IntentFlags::default(), &snapshot.deployment) else {
        return true;
    };
    let Ok(mut made) = plan(&snapshot, &intent) else {
        return true;
    };
    assert_eq!(made.seal(), Ok(()), "the plan cannot be sealed");
    assert_eq!(
        document::read(&made.to_json()).as_ref(),
        Ok(&made),
        "the plan of an observation does not read back"
    );
    readable("the plan's text", &render::text(&made));
    readable("the plan's PowerShell", &render::powershell(&made));
    true
}

/// `text`, which an operator reads, holds no control character but line
/// breaks and tabs: none a plugin returned reaches the terminal.
fn readable(what: &str, text: &str) {
    if let Some(c) = text
        .chars()
        .find(|&c| c.is_control() && c != '\n' && c != '\t')
    {
        panic!("{what} holds the control character {c:?}:\n{text}");
    }
}

/// Every name the observation holds, for changes that make names meet.
fn names(observation: &Observation) -> Vec<String> {
    let mut names: Vec<String> = observation
        .dns
        .iter()
        .map(|r| r.name.clone())
        .chain(observation.sites.iter().map(|s| s.site.clone()))
        .chain(observation.services.keys().cloned())
        .chain(observation.replicas.iter().map(|r| r.fqdn.clone()))
        .chain(observation.pools.iter().map(|p| p.fqdn.clone()))
        .chain(observation.probes.iter().map(|p| p.request.host.clone()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A string where a name goes: one of the observation's, changed or not, a
/// hostile one, or any.
fn string(u: &mut Unstructured<'_>, names: &[String]) -> Result<String> {
    Ok(match u.int_in_range(0..=4u8)? {
        0 => u.choose(names)?.clone(),
        1 => u.choose(names)?.to_ascii_uppercase(),
        2 => format!("{}.", u.choose(names)?),
        3 => (*u.choose(HOSTILE)?).to_owned(),
        _ => u.arbitrary()?,
    })
}

fn optional(u: &mut Unstructured<'_>, names: &[String]) -> Result<Option<String>> {
    Ok(if u.arbitrary()? {
        Some(string(u, names)?)
    } else {
        None
    })
}

/// The route identity of a name (`EdgeServer:<name>`), or any string.
fn route(u: &mut Unstructured<'_>, names: &[String]) -> Result<Option<String>> {
    Ok(match u.int_in_range(0..=2u8)? {
        0 => None,
        1 => Some(format!("EdgeServer:{}", string(u, names)?)),
        _ => Some(string(u, names)?),
    })
}

/// An index into a list of `len` items.
fn index(u: &mut Unstructured<'_>, len: usize) -> Result<usize> {
    if len == 0 {
        return Err(arbitrary::Error::NotEnoughData);
    }
    u.choose_index(len)
}

fn record_data(u: &mut Unstructured<'_>, names: &[String]) -> Result<RecordData> {
    Ok(match u.int_in_range(0..=4u8)? {
        0 => RecordData::A(string(u, names)?),
        1 => RecordData::Aaaa(string(u, names)?),
        2 => RecordData::Cname(string(u, names)?),
        3 => RecordData::Srv(SrvData {
            priority: u.arbitrary()?,
            weight: u.arbitrary()?,
            port: *u.choose(&[5061, 5269, 443, 0, u16::MAX])?,
            target: string(u, names)?,
        }),
        _ => RecordData::Txt(u.arbitrary()?),
    })
}

/// One change to one value of `o`.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per kind of value a plugin returns, read as a table"
)]
fn change(u: &mut Unstructured<'_>, names: &[String], o: &mut Observation) -> Result<()> {
    match u.int_in_range(0..=15u8)? {
        0 => o.zone = string(u, names)?,
        1 => {
            o.topology.version = u.arbitrary()?;
            o.topology.enabled = u.arbitrary()?;
        }
        2 => {
            let i = index(u, o.sites.len())?;
            let site = &mut o.sites[i];
            match u.int_in_range(0..=2u8)? {
                0 => site.site = string(u, names)?,
                1 => site.federation_route = route(u, names)?,
                _ => site.xmpp_federation_route = route(u, names)?,
            }
        }
        3 => {
            o.store.active_master = optional(u, names)?;
        }
        4 => {
            let i = index(u, o.replicas.len())?;
            let replica = &mut o.replicas[i];
            replica.fqdn = string(u, names)?;
            replica.up_to_date = u.arbitrary()?;
            replica.last_update = optional(u, names)?;
        }
        5 => {
            let i = index(u, o.dns.len())?;
            let record = &mut o.dns[i];
            match u.int_in_range(0..=2u8)? {
                0 => record.name = string(u, names)?,
                1 => record.ttl = u.arbitrary()?,
                _ => record.data = record_data(u, names)?,
            }
        }
        6 => {
            let i = index(u, o.dns.len())?;
            if u.arbitrary()? {
                o.dns.remove(i);
            } else {
                let copy = o.dns[i].clone();
                o.dns.push(copy);
            }
        }
        7 => {
            let machine = string(u, names)?;
            let services = o.services.entry(machine).or_default();
            let state = *u.choose(&[
                ServiceState::Running,
                ServiceState::Stopped,
                ServiceState::StartPending,
                ServiceState::StopPending,
                ServiceState::Disabled,
            ])?;
            match services.first_mut() {
                Some(service) if u.arbitrary()? => service.state = state,
                _ => services.push(ServiceStatus {
                    name: string(u, names)?,
                    state,
                }),
            }
        }
        8 => {
            let machine = u.choose(names)?.clone();
            if u.arbitrary()? {
                o.services.remove(&machine);
            } else {
                o.setup_versions.insert(machine, u.arbitrary()?);
            }
        }
        9 => {
            let machine = string(u, names)?;
            o.setup_versions.insert(machine, u.arbitrary()?);
        }
        10 => {
            let i = index(u, o.probes.len())?;
            let report = &mut o.probes[i].report;
            report.state = *u.choose(&[PortState::Open, PortState::Closed, PortState::Filtered])?;
            report.detail = if u.arbitrary()? {
                u.arbitrary()?
            } else {
                string(u, names)?
            };
            report.xmpp = if u.arbitrary()? {
                Some(XmppAnswer {
                    stream_header: u.arbitrary()?,
                    stream_id: optional(u, names)?,
                    features: u.arbitrary()?,
                    starttls: u.arbitrary()?,
                    other: if u.arbitrary()? {
                        Some(u.arbitrary()?)
                    } else {
                        None
                    },
                })
            } else {
                None
            };
        }
        11 => {
            let i = index(u, o.probes.len())?;
            let request = &mut o.probes[i].request;
            request.host = string(u, names)?;
            request.port = u.arbitrary()?;
            request.stream_to = optional(u, names)?;
        }
        12 => {
            let i = index(u, o.pools.len())?;
            let pool = &mut o.pools[i];
            match u.int_in_range(0..=4u8)? {
                0 => pool.fqdn = string(u, names)?,
                1 => {
                    pool.state = *u.choose(&[
                        PoolState::Normal,
                        PoolState::FailedOver,
                        PoolState::FailingBack,
                    ])?;
                }
                2 => pool.backup_pool = optional(u, names)?,
                3 => pool.failover_fqdn = optional(u, names)?,
                _ => pool.online = u.arbitrary()?,
            }
        }
        13 => {
            let others = bases();
            let other = u.choose(others)?;
            o.topology.xml.clone_from(&other.topology.xml);
        }
        14 => {
            let i = index(u, o.sites.len())?;
            o.sites.remove(i);
        }
        _ => {
            o.store.file_transfer_agents.push(string(u, names)?);
        }
    }
    Ok(())
}
