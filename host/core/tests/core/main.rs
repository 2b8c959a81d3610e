//! failback-core's integration tests: one binary, a module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The in-process fake of the lab plugins (reads lab files into an observation).
mod support {
    pub mod lab_reader;
}
/// The captured state: reading it back, its schema, the attacks on it; plan
/// differences.
mod capture;
/// The scenario corpus: one TOML case per file, snapshots of every rendering.
mod corpus;
/// The plan document: digest, reading, differences, the schema.
mod document;
/// The name index of a deployment against the walk it replaces.
mod names;
/// The planner's guarantees: safety, idempotency, determinism.
mod planner;
/// Healthy → failover → failback on generated deployments (issue 15).
mod round_trip;
/// Plan documents validated against docs/plan.schema.json.
mod schema;
/// Topology XML: round trip, edits, malformed input.
mod topology;
