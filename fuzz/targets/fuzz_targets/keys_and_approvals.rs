//! The `keys_and_approvals` target: see failback_fuzz_checks::formats::keys_and_approvals.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = failback_fuzz_checks::formats::keys_and_approvals(data);
});
