//! The captured state (`failback observe`, read by `plan --from` and `verify
//! --from`) as bytes: what reads holds what a plugin may report, is written
//! and read back equal, is refused once its digest or content is changed,
//! and assembles (or fails to, with an error) and renders without a panic.

use failback_core::capture::{CaptureError, CapturedState};
use failback_core::deployment::assemble;
use failback_core::document::DocumentError;
use failback_core::render;

pub fn check(data: &[u8]) -> bool {
    let Some(text) = crate::text(data) else {
        return false;
    };
    let Ok(state) = CapturedState::read(text) else {
        return false;
    };
    read_back(&state);
    if let Ok(snapshot) = assemble(&state.observation) {
        let _ = render::captured(&state, &snapshot.deployment);
    }
    true
}

/// `state`, written and read again, is itself; with its digest or its
/// content changed, it is refused for its digest.
pub fn read_back(state: &CapturedState) {
    assert_eq!(
        CapturedState::read(&state.to_json()).as_ref(),
        Ok(state),
        "written and read again, the captured state is another"
    );
    let mut other_digest = state.clone();
    other_digest.digest = another_digest(&state.digest);
    let mut other_content = state.clone();
    other_content.environment.push('x');
    for edited in [other_digest, other_content] {
        let read = CapturedState::read(&edited.to_json());
        assert!(
            matches!(
                read,
                Err(CaptureError::Document(DocumentError::Digest { .. }))
            ),
            "an edited captured state is not refused for its digest: {read:?}"
        );
    }
}

/// A digest other than `digest`: its first character changed.
pub fn another_digest(digest: &str) -> String {
    let mut chars = digest.chars();
    let first = match chars.next() {
        Some('0') => '1',
        _ => '0',
    };
    std::iter::once(first).chain(chars).collect()
}
