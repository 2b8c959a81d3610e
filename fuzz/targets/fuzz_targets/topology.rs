//! The `topology` target: see failback_fuzz_checks::topology.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = failback_fuzz_checks::topology::check(data);
});
