//! The failback domain model, topology XML, planner and rendering.
//!
//! Pure: no WASM engine, no async runtime, no file or network access. The
//! runtime hands it what the plugins observed ([`observed`]) and gets back the
//! checked deployment, the plan and its renderings; the CLI does all I/O.

pub mod deployment;
pub mod observed;
pub mod topology;
