//! The `component` target: see failback_fuzz_checks::formats::component.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = failback_fuzz_checks::formats::component(data);
});
