//! The lab's zone file (`dns/<zone>.zone`, the lab-dns plugin's RFC 1035
//! master file): what reads is written, and what is written reads again and
//! is written the same (write → parse → write is stable).

use crate::lab_zone::Zone;

/// The apex the lab's zone has.
pub const APEX: &str = "contoso.com";

pub fn check(data: &[u8]) -> bool {
    let Some(text) = crate::text(data) else {
        return false;
    };
    let Ok(zone) = Zone::parse(APEX, text) else {
        return false;
    };
    let written = zone.write();
    let again = match Zone::parse(APEX, &written) {
        Ok(again) => again,
        Err(e) => panic!("the written zone does not read: {e}\n{written}"),
    };
    assert_eq!(
        again.write(),
        written,
        "write → parse → write is not stable"
    );
    true
}
