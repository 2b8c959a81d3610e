//! The run's records: what a run leaves behind, and what the sandbox writes
//! into as guests are called. The lowest room: it names no other.
//!
//! [`audit`] holds the records (a call, an HTTP request, a log line, a policy
//! decision) and the sinks they go to; [`audit_log`] chains them to disk (its
//! lines and their verifying are `failback_formats::audit_log`'s). [`journal`]
//! keeps each run's steps in SQLite, [`pg`] the same on a shared PostgreSQL
//! with the audit trail beside it. [`lock`] lets one run at a time hold an
//! environment; [`state`] keeps `.failback/` private; [`progress`] is what a
//! run tells the operator as it goes.

pub mod audit;
pub mod audit_log;
pub mod journal;
pub mod lock;
pub mod pg;
pub mod progress;
pub mod state;
