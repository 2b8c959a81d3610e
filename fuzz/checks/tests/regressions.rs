//! Every input kept in `fuzz/regressions/<target>/` (each a crash a fuzz
//! target found, minimized, fixed since) and every generated seed, fed to the
//! check of its target: what the fuzz targets assert, run by `cargo test`
//! without cargo-fuzz.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use failback_fuzz_checks::{TARGETS, seeds};

fn check_of(target: &str) -> failback_fuzz_checks::Check {
    TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, check)| *check)
        .unwrap_or_else(|| panic!("no fuzz target `{target}`"))
}

#[test]
fn every_kept_crash_holds_its_target_s_properties() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../regressions");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let target_dir = entry.unwrap().path();
        if !target_dir.is_dir() {
            continue;
        }
        let target = target_dir.file_name().unwrap().to_str().unwrap().to_owned();
        let check = check_of(&target);
        for input in std::fs::read_dir(&target_dir).unwrap() {
            let path = input.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            eprintln!("{target}: {}", path.display());
            check(&bytes);
        }
    }
}

/// Each target's seeds hold its properties, and at least one of them gets
/// past the parser: seeds that no longer read (a format changed under them)
/// would leave the target fuzzing the parser's first error only.
#[test]
fn every_target_s_seeds_reach_its_properties() {
    let seeds = seeds::all();
    for (target, check) in TARGETS {
        let mine: Vec<_> = seeds.iter().filter(|s| s.target == *target).collect();
        let reached = mine.iter().filter(|s| check(&s.bytes)).count();
        eprintln!(
            "{target}: {reached} of {} seeds reach its properties",
            mine.len()
        );
        assert!(reached > 0, "no seed of `{target}` gets past its parser");
    }
}
