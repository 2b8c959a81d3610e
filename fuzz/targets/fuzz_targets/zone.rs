//! The `zone` target: see failback_fuzz_checks::zone.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = failback_fuzz_checks::zone::check(data);
});
