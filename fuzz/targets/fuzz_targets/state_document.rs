//! The `state_document` target: see failback_fuzz_checks::state_document.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = failback_fuzz_checks::state_document::check(data);
});
