//! What a call into a guest can end in, other than a value: the guest's own
//! answer ([`PluginError`], its WIT `plugin-error`), a failure the runtime
//! detected and the guest never saw ([`CallError`]), and a component that does
//! not fit the world it is bound to ([`BindError`]).
//!
//! A leaf: the bindings ([`crate::bindings::wit`]) convert into these, the call layer
//! ([`crate::bindings::call`]) reports them, and plugins, policy modules and the engine
//! return them — none of those is needed to name one.

use serde::Serialize;

use crate::manifest::Role;
use crate::sandbox::capability::NetworkDenial;

/// What a plugin answered when the environment refused or failed a request
/// (the WIT `plugin-error`): a domain error, reported as the plugin's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "message")]
pub enum PluginError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("failed: {0}")]
    Failed(String),
}

impl PluginError {
    /// This error with its message passed through `f`.
    #[must_use]
    pub(crate) fn map_message(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            Self::Config(m) => Self::Config(f(m)),
            Self::NotFound(m) => Self::NotFound(f(m)),
            Self::Refused(m) => Self::Refused(f(m)),
            Self::Conflict(m) => Self::Conflict(f(m)),
            Self::Unavailable(m) => Self::Unavailable(f(m)),
            Self::Invalid(m) => Self::Invalid(f(m)),
            Self::Failed(m) => Self::Failed(f(m)),
        }
    }
}

/// Why a call into a plugin or a policy module did not return a value.
///
/// [`CallError::Plugin`] is the guest's own answer (its WIT `plugin-error`);
/// every other variant is something the runtime detected and the guest never
/// saw.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("plugin `{plugin}` answered `{function}` with an error: {error}")]
    Plugin {
        plugin: String,
        function: &'static str,
        error: PluginError,
    },
    #[error("`{plugin}` ran past its time limit of {timeout_ms} ms in `{function}`")]
    Timeout {
        plugin: String,
        function: &'static str,
        timeout_ms: u32,
    },
    #[error(
        "`{plugin}` ran past its memory limit of {limit_mib} MiB in `{function}` (it asked for {requested_bytes} bytes)"
    )]
    MemoryLimit {
        plugin: String,
        function: &'static str,
        limit_mib: u32,
        requested_bytes: usize,
    },
    #[error(
        "`{plugin}` ran past its table limit of {limit} elements in `{function}` (it asked for {requested_elements})"
    )]
    TableLimit {
        plugin: String,
        function: &'static str,
        limit: usize,
        requested_elements: usize,
    },
    #[error("`{plugin}` trapped in `{function}`: {trap}{}", stderr_suffix(.stderr))]
    Trap {
        plugin: String,
        function: &'static str,
        trap: String,
        /// What the guest wrote to stderr (a panic message): secrets redacted,
        /// control characters escaped, cut at 4 KiB.
        stderr: String,
    },
    #[error("`{plugin}` was denied {} in `{function}`", list(.denials, *.more))]
    Denied {
        plugin: String,
        function: &'static str,
        /// The first denials of the call.
        denials: Vec<NetworkDenial>,
        /// How many more there were.
        more: usize,
    },
    #[error(
        "`{plugin}` passed more than the {limit} bytes allowed in one transfer to the host in `{function}`"
    )]
    ResultTooLarge {
        plugin: String,
        function: &'static str,
        limit: usize,
    },
    #[error(
        "`{plugin}` answered `{function}` with {answered} answers for {asked} objects: refusing the whole batch"
    )]
    AnswerCount {
        plugin: String,
        function: &'static str,
        asked: usize,
        answered: usize,
    },
    #[error("`{plugin}` cannot be instantiated for `{function}`: {message}")]
    Instantiate {
        plugin: String,
        function: &'static str,
        message: String,
    },
    #[error("the sandbox of `{plugin}` cannot be set up for `{function}`: {message}")]
    Sandbox {
        plugin: String,
        function: &'static str,
        message: String,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(" (stderr: {stderr})")
    }
}

fn list(denials: &[NetworkDenial], more: usize) -> String {
    let mut text = denials
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

impl CallError {
    /// Whether this is the guest's own answer rather than a runtime failure.
    #[must_use]
    pub fn is_plugin_error(&self) -> bool {
        matches!(self, Self::Plugin { .. })
    }
}

/// A component that does not fit the world it is bound to: found when its
/// bindings are made, before any call.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("`{plugin}` implements `{world}`, not the `{kind}` world it is bound to")]
    WrongWorld {
        plugin: String,
        kind: Role,
        world: String,
    },
    #[error("`{plugin}` does not link: {message}")]
    Link { plugin: String, message: String },
}
