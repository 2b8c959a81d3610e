//! What an XMPP server (or anything listening on 5269) answers the probe's
//! stream open (probe-xmpp's `stream`): the reading is total. It is re-run on
//! the whole buffer after every read, as the probe does, so every prefix the
//! probe could hold is read, up to the probe's bound; the bytes shown to the
//! operator stay within theirs.

use crate::xmpp::{self as stream, MAX_ANSWER_BYTES, MAX_OTHER_BYTES};

/// The probe's read buffer.
const READ: usize = 1024;

pub fn check(data: &[u8]) -> bool {
    let mut end = 0;
    loop {
        let answer = stream::parse(&data[..end]);
        if answer.complete || end >= MAX_ANSWER_BYTES || end == data.len() {
            break;
        }
        // The first byte alone, then reads of the probe's buffer.
        end = if end == 0 {
            1
        } else {
            (end + READ).min(data.len())
        };
    }
    let shown = stream::first_bytes(data);
    assert!(
        shown.len() <= MAX_OTHER_BYTES,
        "{} bytes shown, over {MAX_OTHER_BYTES}",
        shown.len()
    );
    true
}
