//! The `manifest` target: see failback_fuzz_checks::formats::manifest.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = failback_fuzz_checks::formats::manifest(data);
});
