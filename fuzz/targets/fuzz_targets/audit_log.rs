//! The `audit_log` target: see failback_fuzz_checks::formats::audit_log.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = failback_fuzz_checks::formats::audit_log(data);
});
