//! The `xmpp_stream` target: see failback_fuzz_checks::xmpp_stream.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = failback_fuzz_checks::xmpp_stream::check(data);
});
