//! The plan document (`plan --out`, read by `apply PLAN`, handed from one
//! operator to another): what reads is re-sealed to the digest it states,
//! written and read back equal; a document whose digest does not match its
//! content is refused, whether the digest or the content was changed; and
//! what reads renders (text, PowerShell, JSON) and gives its trajectory
//! without a panic.

use failback_core::document::{self, DocumentError};
use failback_core::plan::Plan;
use failback_core::render;

pub fn check(data: &[u8]) -> bool {
    let Some(text) = crate::text(data) else {
        return false;
    };
    let Ok(plan) = document::read(text) else {
        return false;
    };
    let mut resealed = plan.clone();
    assert_eq!(
        resealed.seal(),
        Ok(()),
        "a plan that reads cannot be sealed"
    );
    assert_eq!(
        resealed.digest, plan.digest,
        "re-sealed, the digest changed"
    );
    assert_eq!(
        document::read(&plan.to_json()).as_ref(),
        Ok(&plan),
        "written and read again, the plan is another"
    );
    refused_when_edited(&plan);
    let _ = render::text(&plan);
    let _ = render::powershell(&plan);
    let _ = render::json(&plan);
    let _ = plan.states();
    true
}

/// `plan` with its digest changed, or with its content changed under the
/// same digest, is refused as not matching.
fn refused_when_edited(plan: &Plan) {
    let mut other_digest = plan.clone();
    other_digest.digest = crate::state_document::another_digest(&plan.digest);
    let mut other_content = plan.clone();
    other_content
        .drafts
        .insert("draft-fuzz".to_owned(), "<Topology/>".to_owned());
    for edited in [other_digest, other_content] {
        let read = document::read(&edited.to_json());
        assert!(
            matches!(read, Err(DocumentError::Digest { .. })),
            "an edited plan is not refused for its digest: {read:?}"
        );
    }
}
