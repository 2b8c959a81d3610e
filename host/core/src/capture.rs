//! The captured state: one observation of the deployment written down, so
//! that it can be planned and judged later, elsewhere, with no plugin loaded
//! (`failback observe`, then `plan --from` and `verify --from`), and shared
//! as a case.
//!
//! It holds the raw [`Observation`] — exactly what the plugins reported, which
//! [`crate::deployment::assemble`] checks into what the planner starts from —
//! with when it was observed and the sha256 of each plugin that observed it.
//! It is a [`Sealed`] document like the plan: a `format_version`, a `digest`
//! over its canonical JSON, unknown fields refused (schema:
//! `docs/state.schema.json`). Reading it checks what the plugins reported as
//! if they had just reported it ([`Observation::check`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::document::{self, DocumentError, Sealed};
use crate::observed::{Observation, ObservationError};
use crate::plan::PluginDigest;

/// The format version of the captured state this failback writes and reads.
pub const STATE_FORMAT_VERSION: u32 = 1;

/// One observation of the deployment, with who observed it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapturedState {
    pub format_version: u32,
    /// The sha256 of the document's canonical JSON without this field.
    pub digest: String,
    /// When the plugins were asked (RFC 3339, UTC: `2026-12-01T17:20:00Z`).
    pub observed_at: String,
    /// The environment's name (`failback.toml`'s `name`).
    pub environment: String,
    /// The sha256 of the environment file's bytes.
    pub environment_sha256: String,
    /// Each plugin that observed, by plugin kind (`dns-provider`).
    pub plugins: BTreeMap<String, PluginDigest>,
    /// What they reported.
    pub observation: Observation,
}

impl Sealed for CapturedState {
    const FORMAT_VERSION: u32 = STATE_FORMAT_VERSION;
    const KIND: &'static str = "a captured state";
    fn stated_digest(&self) -> &str {
        &self.digest
    }
}

/// A captured state cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("what it says the plugins reported does not hold: {0}")]
    Observation(#[from] ObservationError),
}

impl CapturedState {
    /// A captured state of `observation`, sealed with its digest.
    ///
    /// # Errors
    /// As [`document::canonical`].
    pub fn new(
        observed_at: String,
        environment: String,
        environment_sha256: String,
        plugins: BTreeMap<String, PluginDigest>,
        observation: Observation,
    ) -> Result<Self, DocumentError> {
        let mut state = Self {
            format_version: STATE_FORMAT_VERSION,
            digest: String::new(),
            observed_at,
            environment,
            environment_sha256,
            plugins,
            observation,
        };
        state.digest = document::digest(&state)?;
        Ok(state)
    }

    /// The document as pretty JSON with a final newline.
    #[must_use]
    pub fn to_json(&self) -> String {
        document::pretty(self)
    }

    /// Read a captured state: a [`Sealed`] document whose observation holds
    /// what a plugin may report.
    ///
    /// # Errors
    /// [`CaptureError`] naming the first thing that does not hold.
    pub fn read(text: &str) -> Result<Self, CaptureError> {
        let state: Self = document::read_sealed(text)?;
        state.observation.check()?;
        Ok(state)
    }
}
