//! The failback domain model, topology XML, planner and rendering.
//!
//! Pure: no WASM engine, no async runtime, no file or network access. The
//! runtime hands it what the plugins observed and gets back the checked
//! deployment, the plan and its renderings; the CLI does all I/O.
//!
//! - [`observed`]: the plugin WIT records as Rust values, and [`observed::Observation`];
//! - [`topology`]: the published topology XML, read and edited losslessly;
//! - [`capture`]: the captured state: an observation written down, planned later;
//! - [`deployment`]: observation → checked [`deployment::Deployment`] (the policy
//!   WIT `state`), [`deployment::Change`], [`deployment::probe_targets`];
//! - [`diff`]: the field-level difference of two deployments;
//! - [`document`]: the plan document: its canonical digest, reading it with
//!   its checks, and the first difference between two plans;
//! - [`intent`]: what to fail back, checked;
//! - [`plan`]: the planner, its steps, findings;
//! - [`operation`]: the operations steps are carried out by, one type each:
//!   their effect and their PowerShell;
//! - [`render`]: text, JSON and PowerShell;
//! - [`report`]: the change report, one self-contained HTML page;
//! - [`lab`]: the lab's file sets per scenario;
//! - [`text`]: strings from the environment, checked on entry and escaped on exit.

pub mod capture;
pub mod deployment;
pub mod describe;
pub mod diff;
pub mod document;
pub mod intent;
pub mod lab;
pub mod observed;
pub mod operation;
pub mod plan;
pub mod render;
pub mod report;
pub mod text;
pub mod topology;
