//! The project's WASM guests, built from source for `wasm32-wasip2` by this
//! crate's build script: the lab plugins and the policy modules that the
//! `failback` binary carries ([`STANDARD`]), and the hostile guests that the
//! sandbox tests load by path ([`paths`]).
//!
//! Nothing here is committed as a binary: a clean clone builds every component
//! from the sources under `plugins/`, `policies/` and `tests/guests/`.

/// Which part of the tree a guest comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// `plugins/`: a plugin world implementation.
    Plugin,
    /// `policies/`: a policy module.
    Policy,
}

/// A standard guest carried by the binary.
#[derive(Debug)]
pub struct Guest {
    /// The crate's package name (`failback-lab-dns`).
    pub package: &'static str,
    pub group: Group,
    /// The component's bytes.
    pub bytes: &'static [u8],
    /// The sha256 of `bytes` (64 lowercase hex digits), computed by the build
    /// script from the file it embeds, so that a run need not hash every
    /// component the binary carries to know them.
    pub sha256: &'static str,
    /// Its manifest (`plugin.toml`), with the component's sha256.
    pub manifest: Option<&'static str>,
}

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// The standard guest named `package`, if there is one.
pub fn standard(package: &str) -> Option<&'static Guest> {
    STANDARD.iter().find(|guest| guest.package == package)
}
