//! Loading a component, the trust chain's last link in the runtime: its
//! manifest, signatures, trust and grants are checked, then it is compiled
//! (or taken from the cache) and bound as a plugin or a policy module. The
//! files those checks read are `failback_formats`'s.
//!
//! `engine` is the [`crate::Runtime`] that loads them; `inspect` describes a
//! component without running it; [`review`] tells an operator, before binding
//! one, what it is, what it may reach and who vouches for it. It names the
//! bindings, the sandbox and the records.

pub(crate) mod engine;
pub(crate) mod inspect;
pub mod review;
