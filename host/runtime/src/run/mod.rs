//! The run: a judged plan applied step by step. It names judgment and the
//! rooms below.
//!
//! [`apply`] runs a plan's steps through the plugins, each judged by the gate,
//! verified against the plan's predicted state, journaled and audited, one run
//! per environment at a time; `operation` is what each kind of step asks of
//! the plugins.

pub mod apply;
pub(crate) mod operation;
