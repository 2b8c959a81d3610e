//! The `environment_file` target: see failback_fuzz_checks::formats::environment_file.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = failback_fuzz_checks::formats::environment_file(data);
});
