//! The `dns_answer` target: see failback_fuzz_checks::dns_answer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = failback_fuzz_checks::dns_answer::check(data);
});
