//! The failback domain model, topology XML, planner and rendering.
//!
//! Pure: no WASM engine, no async runtime, no file or network access. The
//! runtime hands it what the plugins observed ([`observed`]) and gets back the
//! checked deployment, the plan and its renderings; the CLI does all I/O.

pub mod deployment;
pub mod intent;
pub mod lab;
pub mod observed;
pub mod plan;
pub mod render;
pub mod topology;
