//! The host side of the WIT contract, one module per version track of the
//! packages (`failback:plugin@0.1.0`, `failback:policy@0.1.0`).
//!
//! Each track holds the `bindgen!` output for its worlds and the conversions
//! between its types and `failback_core::observed` at the edge. A new track (a
//! `0.2.0` package) adds a module beside [`v0_1_0`] and touches no method of the
//! typed plugin API ([`crate::plugin`]).

pub mod v0_1_0;
