//! The record sets the cut-over writes (SIP and XMPP federation's SRV and
//! address sets), computed once from the start state.

use crate::deployment::{Deployment, EdgePoolState, RrSet, SIP_FEDERATION_PORT, XMPP_PORT};
use crate::intent::Intent;
use crate::observed::{RecordData, RecordType, SrvData};

use super::{PlanError, in_zone, sip_federation_srv, xmpp_srv};

/// A record set the cut-over writes: its type, name and data.
pub(super) type RecordTarget = (RecordType, String, Vec<RecordData>);

/// The record sets the cut-over writes, computed once from the start state.
/// A set with no data is deleted.
#[derive(Debug, Clone)]
pub(super) struct Targets {
    /// SIP federation: SRV and the Access Edge address sets.
    pub(super) sip: Vec<RecordTarget>,
    pub(super) xmpp: Option<XmppTargets>,
}

/// XMPP: the SRV, and the address sets of its target.
#[derive(Debug, Clone)]
pub(super) struct XmppTargets {
    pub(super) srv: RecordTarget,
    pub(super) addresses: Vec<RecordTarget>,
}

impl Targets {
    /// Every set, in the order the cut-over writes them.
    pub(super) fn sets(&self) -> impl Iterator<Item = (RecordType, &str, &[RecordData])> {
        self.sip
            .iter()
            .chain(
                self.xmpp
                    .iter()
                    .flat_map(|x| std::iter::once(&x.srv).chain(&x.addresses)),
            )
            .map(|(rtype, name, data)| (*rtype, name.as_str(), data.as_slice()))
    }
}

/// The address sets of `name` that make it resolve to `pool`'s Access Edge
/// IPs: an A set of its IPv4 addresses and an AAAA set of its IPv6 ones. A
/// family the pool has no address of is left out, or deleted when `start`
/// holds a set of it at `name` — else partners on that family would still
/// reach the pool it points at.
fn address_sets(start: &Deployment, name: &str, pool: &EdgePoolState) -> Vec<RecordTarget> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for ip in &pool.access_edge_ips {
        match ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V6(_)) => v6.push(RecordData::Aaaa(ip.clone())),
            _ => v4.push(RecordData::A(ip.clone())),
        }
    }
    [(RecordType::A, v4), (RecordType::Aaaa, v6)]
        .into_iter()
        .filter(|(rtype, data)| !data.is_empty() || start.rrset(name, *rtype).is_some())
        .map(|(rtype, mut data)| {
            data.sort();
            data.dedup();
            (rtype, name.to_owned(), data)
        })
        .collect()
}

fn srv_like(existing: Option<&RrSet>, port: u16, target: &str) -> Vec<RecordData> {
    let (priority, weight) = existing
        .and_then(|s| {
            s.data.iter().find_map(|d| match d {
                RecordData::Srv(srv) => Some((srv.priority, srv.weight)),
                _ => None,
            })
        })
        .unwrap_or((0, 0));
    vec![RecordData::Srv(SrvData {
        priority,
        weight,
        port,
        target: target.to_owned(),
    })]
}

pub(super) fn targets(
    start: &Deployment,
    intent: &Intent,
    pool: &EdgePoolState,
) -> Result<Targets, PlanError> {
    let zone = &start.zone;
    if (intent.sip_federation || intent.xmpp) && pool.access_edge_ips.is_empty() {
        return Err(PlanError::NoAccessEdgeIps(pool.fqdn.clone()));
    }
    let mut t = Targets {
        sip: Vec::new(),
        xmpp: None,
    };
    if intent.sip_federation {
        let fqdn = access_edge_name(start, pool)?;
        let srv_name = sip_federation_srv(zone);
        let srv = srv_like(
            start.rrset(&srv_name, RecordType::Srv),
            SIP_FEDERATION_PORT,
            &fqdn,
        );
        t.sip.push((RecordType::Srv, srv_name, srv));
        t.sip.extend(address_sets(start, &fqdn, pool));
    }
    if intent.xmpp {
        let srv_name = xmpp_srv(zone);
        let existing = start.rrset(&srv_name, RecordType::Srv);
        let records: Vec<&SrvData> = existing
            .iter()
            .flat_map(|s| &s.data)
            .filter_map(|d| match d {
                RecordData::Srv(srv) => Some(srv),
                _ => None,
            })
            .collect();
        t.xmpp = Some(if records.len() > 1 {
            per_pool_xmpp_srv(start, &srv_name, &records, pool)?
        } else {
            let other_pool_names: Vec<&str> = start
                .edge_pools
                .iter()
                .filter(|p| p.fqdn != pool.fqdn)
                .filter_map(|p| p.access_edge_fqdn.as_deref())
                .collect();
            // Keep the SRV's target name when it is in the zone and not another
            // pool's own Access Edge name; else use `xmpp.<zone>`.
            let target = records
                .first()
                .map(|srv| srv.target.clone())
                .filter(|t| in_zone(t, zone) && !other_pool_names.contains(&t.as_str()))
                .unwrap_or_else(|| format!("xmpp.{zone}"));
            // A target that is an alias keeps the alias, pointed at the
            // restored pool's Access Edge name, which gets its addresses.
            let addresses = if start.rrset(&target, RecordType::Cname).is_some() {
                let access_edge = access_edge_name(start, pool)?;
                let mut sets = vec![(
                    RecordType::Cname,
                    target.clone(),
                    vec![RecordData::Cname(access_edge.clone())],
                )];
                sets.extend(address_sets(start, &access_edge, pool));
                sets
            } else {
                address_sets(start, &target, pool)
            };
            XmppTargets {
                srv: (
                    RecordType::Srv,
                    srv_name,
                    srv_like(existing, XMPP_PORT, &target),
                ),
                addresses,
            }
        });
    }
    Ok(t)
}

/// `pool`'s Access Edge FQDN, where the cut-over writes its addresses: it
/// must be in the zone and not an alias.
fn access_edge_name(start: &Deployment, pool: &EdgePoolState) -> Result<String, PlanError> {
    let fqdn = pool
        .access_edge_fqdn
        .clone()
        .ok_or_else(|| PlanError::NoAccessEdgeFqdn(pool.fqdn.clone()))?;
    if !in_zone(&fqdn, &start.zone) {
        return Err(PlanError::OutsideZone {
            fqdn,
            zone: start.zone.clone(),
        });
    }
    if let Some(alias) = start.rrset(&fqdn, RecordType::Cname) {
        return Err(PlanError::AccessEdgeAlias {
            fqdn,
            target: alias
                .data
                .iter()
                .filter_map(|d| match d {
                    RecordData::Cname(t) => Some(t.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(fqdn)
}

/// XMPP with one SRV record per Edge pool, ordered by priority (what the XMPP
/// failover page recommends): the record whose target resolves to `pool` in
/// `start` is made the highest priority (the lowest number, RFC 2782) by
/// taking the priority of the record that has it; the other records stay, as
/// the fallback their pools are. Its target then gets `pool`'s addresses (A9).
///
/// # Errors
/// [`PlanError::NoSrvOfPool`] when no record's target resolves to `pool`:
/// which record is `pool`'s cannot be told.
fn per_pool_xmpp_srv(
    start: &Deployment,
    srv_name: &str,
    records: &[&SrvData],
    pool: &EdgePoolState,
) -> Result<XmppTargets, PlanError> {
    let resolves_to_pool = |name: &str| {
        [RecordType::A, RecordType::Aaaa]
            .into_iter()
            .filter_map(|rtype| start.rrset(name, rtype))
            .flat_map(|set| &set.data)
            .any(|d| match d {
                RecordData::A(ip) | RecordData::Aaaa(ip) => pool.access_edge_ips.contains(ip),
                _ => false,
            })
    };
    let ours = records
        .iter()
        .position(|srv| resolves_to_pool(&srv.target))
        .ok_or_else(|| PlanError::NoSrvOfPool {
            srv: srv_name.to_owned(),
            records: records.len(),
            pool: pool.fqdn.clone(),
        })?;
    let best = records.iter().map(|srv| srv.priority).min().unwrap_or(0);
    let our_priority = records.get(ours).map_or(best, |srv| srv.priority);
    let mut data: Vec<RecordData> = records
        .iter()
        .enumerate()
        .map(|(i, srv)| {
            let priority = if i == ours {
                best
            } else if srv.priority == best {
                // The record that had the highest priority takes ours; on a
                // tie, the next one down, so that ours is the only highest.
                if our_priority == best {
                    best.saturating_add(1)
                } else {
                    our_priority
                }
            } else {
                srv.priority
            };
            RecordData::Srv(SrvData {
                priority,
                port: if i == ours { XMPP_PORT } else { srv.port },
                ..(*srv).clone()
            })
        })
        .collect();
    data.sort();
    let target = records
        .get(ours)
        .map(|srv| srv.target.clone())
        .unwrap_or_default();
    if !in_zone(&target, &start.zone) {
        return Err(PlanError::OutsideZone {
            fqdn: target,
            zone: start.zone.clone(),
        });
    }
    Ok(XmppTargets {
        srv: (RecordType::Srv, srv_name.to_owned(), data),
        addresses: address_sets(start, &target, pool),
    })
}
