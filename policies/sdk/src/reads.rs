//! What a rule reads of a state ([`Reads`]), and the names of routes the
//! world and the rules share: an Edge pool's service identity, a site's route
//! of a kind. A leaf: the world ([`crate::World`]) indexes states by what
//! changed, the rules ([`crate::Rule`]) say what they read.

use crate::{RouteKind, Site};

/// The parts of a state a rule reads, so that the engine re-runs an
/// every-state rule only on the states whose step touched one of them (a rule
/// whose inputs did not change sees what it saw on the state before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reads(u16);

impl Reads {
    pub const NOTHING: Self = Self(0);
    pub const FEDERATION: Self = Self(1);
    pub const SERVICES: Self = Self(1 << 1);
    pub const REPLICA: Self = Self(1 << 2);
    pub const SETUP_VERSION: Self = Self(1 << 3);
    pub const ROUTES: Self = Self(1 << 4);
    pub const DNS: Self = Self(1 << 5);
    pub const XMPP_PORT: Self = Self(1 << 6);
    pub const MEDIA: Self = Self(1 << 7);
    pub const POOL_STATE: Self = Self(1 << 8);
    pub const NEXT_HOP: Self = Self(1 << 9);
    pub const STORE: Self = Self(1 << 10);
    pub const TOPOLOGY_VERSION: Self = Self(1 << 11);
    pub const DRAFT: Self = Self(1 << 12);
    /// Everything: the safe default for a rule that does not say.
    pub const ALL: Self = Self(u16::MAX);

    /// `self` and `other`.
    #[must_use]
    pub const fn and(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }
}

/// The service identity of an Edge pool in a route: `EdgeServer:<fqdn>`.
pub fn edge_identity(fqdn: &str) -> String {
    format!("EdgeServer:{fqdn}")
}

/// The pool FQDN of an `EdgeServer:<fqdn>` identity (prefix case-insensitive).
pub fn identity_fqdn(identity: &str) -> Option<&str> {
    let (role, fqdn) = identity.split_once(':')?;
    (role.eq_ignore_ascii_case("EdgeServer") && !fqdn.is_empty()).then_some(fqdn)
}

/// A site's route of `kind`, if set.
pub fn route_of(site: &Site, kind: RouteKind) -> Option<&str> {
    match kind {
        RouteKind::Federation => site.federation_route.as_deref(),
        RouteKind::XmppFederation => site.xmpp_federation_route.as_deref(),
    }
}

/// `route kind` as operators say it.
pub fn route_name(kind: RouteKind) -> &'static str {
    match kind {
        RouteKind::Federation => "federation route",
        RouteKind::XmppFederation => "XMPP route",
    }
}
