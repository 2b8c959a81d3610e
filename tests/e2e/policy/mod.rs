/// `failback policy test tests/policy-cases`: every case passes, and every
/// rule fires in at least one case.
mod corpus;
/// Snapshots of `policy list` and of a vetoed plan's findings.
mod snapshots;
