//! Plugins' outgoing HTTP (`wasi:http/outgoing-handler`), scoped by origin.
//!
//! A manifest asks for a named HTTP capability, with the methods it needs
//! ([`crate::manifest::HttpRequest`]); the environment grants it as one exact
//! origin (scheme, host, explicit port), a path prefix, optional pinned
//! addresses, an optional CA replacing the web roots, and headers the host
//! adds from secrets ([`crate::environment::HttpGrant`]). There are no
//! wildcards. [`crate::capability::check`] pairs the two like any grant.
//!
//! At each request the host, not the guest, decides ([`judge`], a pure
//! function tested in place): the request goes out only when it names a
//! granted origin, a granted method and a path under the prefix, carries no
//! dot segment and no secret in its query. Then [`send`] sends it with the
//! host's own client: names resolved host-side (or the pinned addresses),
//! rustls with the grant's roots, the secret headers added, no redirect
//! followed, every wait ended by the call's deadline, the response body
//! bounded, and one audit record per request (method, origin, path, status,
//! bytes, duration; never a header value). The secret headers are forbidden
//! to the guest: it cannot set them, and they are taken out of every response
//! before it sees one.

mod judge;
pub(crate) mod send;

pub(crate) use failback_formats::http::split_authority;
pub use failback_formats::http::{
    DEFAULT_RESPONSE_BYTES, Method, Origin, OriginError, Scheme, is_secret_header_name,
};
pub use judge::{HttpRefusal, Outgoing, judge};
