//! The published topology (`Get-CsTopology -AsXml`, from the management
//! store): read; the document comes back byte for byte as read; every edit
//! the planner can make on the document's own pools either fails with an
//! error or gives text that reads again and says what the edit set; a
//! federation edit that already holds changes nothing.

use failback_core::topology::{Topology, TopologyEdit};

/// At most this many pools of each kind are edited, so that one input costs
/// at most a few hundred edits.
const POOLS: usize = 6;

pub fn check(data: &[u8]) -> bool {
    let Some(text) = crate::text(data) else {
        return false;
    };
    let Ok(topology) = Topology::parse(text) else {
        return false;
    };
    assert_eq!(
        topology.xml(),
        text,
        "the document does not come back as read"
    );
    for edits in edits(&topology) {
        let held = edits.iter().all(|e| holds(&topology, e));
        // An edit of a pool without the element it changes is an error, and
        // may be: the property is that what is written reads again.
        let Ok(edited) = topology.edit(&edits) else {
            continue;
        };
        // Federation is read and written by one predicate. A dependency
        // edit may rewrite a document the model reads through a fallback
        // (a `ConfServices` with no usable Edge dependency, read through its
        // `MediationServer`) though the edit held: it normalizes, and the
        // result reads the same (docs/fuzzing.md).
        let federation = edits
            .iter()
            .all(|e| matches!(e, TopologyEdit::SetFederation { .. }));
        if held && federation {
            assert_eq!(edited, text, "{edits:?} already held but changed the text");
        }
        let again = match Topology::parse(&edited) {
            Ok(again) => again,
            Err(e) => panic!("{edits:?} gave text that does not read: {e}\n{edited}"),
        };
        for edit in &edits {
            assert!(
                holds(&again, edit),
                "{edit:?} is not what the edited document says\n{edited}"
            );
        }
    }
    true
}

/// Whether `edit` holds in `topology`.
fn holds(topology: &Topology, edit: &TopologyEdit) -> bool {
    let same = |a: Option<&String>, b: &str| a.is_some_and(|a| a.eq_ignore_ascii_case(b));
    match edit {
        TopologyEdit::SetFederation { edge_pool, enabled } => topology
            .edge_pool(edge_pool)
            .is_some_and(|p| p.federation_enabled == *enabled),
        TopologyEdit::SetMediaEdgePool {
            front_end_pool,
            edge_pool,
        } => same(
            topology
                .front_end_pool(front_end_pool)
                .and_then(|p| p.media_edge_pool.as_ref()),
            edge_pool,
        ),
        TopologyEdit::SetNextHop {
            edge_pool,
            next_hop,
        } => same(
            topology
                .edge_pool(edge_pool)
                .and_then(|p| p.next_hop.as_ref()),
            next_hop,
        ),
    }
}

/// Every edit the planner makes, alone, on the first pools of the document:
/// federation on and off (A2), a Front End pool's media Edge pool (A11, not
/// a Director's), an Edge pool's next hop (to a Front End or Director pool); and A2's pair, federation off on one pool and on on
/// another in one edit.
fn edits(topology: &Topology) -> Vec<Vec<TopologyEdit>> {
    let edge: Vec<&str> = topology
        .edge_pools()
        .iter()
        .take(POOLS)
        .map(|p| p.fqdn.as_str())
        .collect();
    // A Director has no media: the planner associates Front End pools only.
    let media: Vec<&str> = topology
        .front_end_pools()
        .iter()
        .filter(|p| !p.director)
        .take(POOLS)
        .map(|p| p.fqdn.as_str())
        .collect();
    let front_end: Vec<&str> = topology
        .front_end_pools()
        .iter()
        .take(POOLS)
        .map(|p| p.fqdn.as_str())
        .collect();
    let mut out = Vec::new();
    for &pool in &edge {
        for enabled in [false, true] {
            out.push(vec![TopologyEdit::SetFederation {
                edge_pool: pool.to_owned(),
                enabled,
            }]);
        }
        for &other in &edge {
            if other != pool {
                out.push(vec![
                    TopologyEdit::SetFederation {
                        edge_pool: other.to_owned(),
                        enabled: false,
                    },
                    TopologyEdit::SetFederation {
                        edge_pool: pool.to_owned(),
                        enabled: true,
                    },
                ]);
            }
        }
        for &fe in &media {
            out.push(vec![TopologyEdit::SetMediaEdgePool {
                front_end_pool: fe.to_owned(),
                edge_pool: pool.to_owned(),
            }]);
        }
        for &fe in &front_end {
            out.push(vec![TopologyEdit::SetNextHop {
                edge_pool: pool.to_owned(),
                next_hop: fe.to_owned(),
            }]);
        }
    }
    out
}
