//! The `failback` command line.

fn main() {}
