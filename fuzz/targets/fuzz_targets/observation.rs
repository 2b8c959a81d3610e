//! The `observation` target: see failback_fuzz_checks::observation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = failback_fuzz_checks::observation::check(data);
});
