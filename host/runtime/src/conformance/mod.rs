//! The conformance kit: what the host relies on from each plugin world, as
//! executable cases run against a real plugin (`failback plugin test`).
//!
//! Each world has its cases in one module ([`dns`], [`probe`], [`management`],
//! [`servers`], [`pools`]): a table of [`Case`]s, each naming the WIT function
//! whose promise it checks and the promise in the WIT's words, and one small
//! function per case. A case passes, fails with what was expected and what came
//! back, or is skipped with a reason: when the environment has nothing to try
//! it on, or when a function it calls did not pass that function's first case
//! (so a plugin that implements nothing fails once per function, not once per
//! case).
//!
//! The kit loads the plugin through the runtime's public API
//! ([`Runtime::load_plugin`] and the typed wrappers), in the sandbox an operator
//! would run it in: a component file with its manifest, configuration and
//! grants ([`Kit::test_component`]), or a plugin as an environment binds it
//! ([`Kit::test_binding`]). Port-probe cases probe listeners the kit starts on
//! loopback ([`Listeners`]); the kit grants their endpoints to every TCP
//! network capability the probe's manifest requests, for the run.
//!
//! Some cases change the environment: they publish the topology, replace and
//! delete record sets, set site routes, start services, run setup and fail a
//! pool back. Run the kit against a vendor's test environment, never a
//! production one.

mod dns;
mod listeners;
mod load;
mod management;
mod pools;
mod probe;
mod servers;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use failback_core::text::quoted;
use serde::Serialize;

use crate::digest::Digest;
use crate::loading::engine::LoadError;
use crate::manifest::{ManifestError, PluginKind};
use crate::package::PackError;
use crate::sandbox::guest_error::BindError;
use crate::sandbox::guest_error::CallError;
use crate::sandbox::guest_error::PluginError;

pub use listeners::{Endpoints, Listeners};
pub use load::{Component, Kit};

/// What the cases act on, beyond the plugin itself.
#[derive(Debug, Default)]
pub struct Subject {
    /// dns-provider: the zone the cases write in. They touch only record sets
    /// under `failback-kit.<zone>` and delete them at the end.
    pub zone: Option<String>,
    /// server-control: a machine the plugin serves (its FQDN).
    pub machine: Option<String>,
    /// port-probe: a real XMPP server to probe besides the kit's listeners.
    pub xmpp_server: Option<XmppServer>,
    /// port-probe: listeners already started (to describe them to a plugin
    /// that reads reachability from elsewhere); by default the kit starts its
    /// own for the run.
    pub listeners: Option<Listeners>,
}

/// A real XMPP server for the port-probe cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmppServer {
    /// Where it takes server-to-server streams.
    pub address: SocketAddr,
    /// The domain it serves, for the stream's `to`.
    pub domain: String,
}

/// Why the kit could not run the cases (a failing case is not an error: it is
/// in the [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error("the environment binds no `{0}` plugin")]
    NotBound(PluginKind),
    #[error("the manifest is refused: {0}")]
    Manifest(#[from] ManifestError),
    #[error("the manifest the component carries cannot be read: {0}")]
    Package(#[from] PackError),
    #[error("the component carries no manifest, and none was given")]
    NoManifest,
    #[error("the manifest declares world `{world}`, but the plugin is tested as `{kind}`")]
    World { kind: PluginKind, world: String },
    #[error(
        "the manifest requests directories ({}), and only an environment file grants a directory",
        quoted(.0)
    )]
    DirectoryGrant(Vec<String>),
    #[error("the dns-provider cases need a zone the plugin may write in")]
    NoZone,
    #[error("the server-control cases need a machine the plugin serves{}", because(.0))]
    NoMachine(Option<String>),
    #[error("the plugin cannot be loaded: {0}")]
    Load(#[from] LoadError),
    #[error("the plugin cannot be loaded: {0}")]
    Bind(#[from] BindError),
    #[error("cannot start the kit's loopback listeners: {0}")]
    Listeners(String),
    #[error("cannot place the component for the run: {0}")]
    Scratch(std::io::Error),
}

fn because(reason: &Option<String>) -> String {
    reason.as_ref().map_or_else(String::new, |reason| {
        format!(": none was given, and {reason}")
    })
}

/// The plugin a report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tested {
    pub name: String,
    pub version: String,
    /// The world as the manifest writes it (`failback:plugin/dns-provider@0.1.0`).
    pub world: String,
    pub kind: PluginKind,
    pub sha256: Digest,
}

/// Every case of the plugin's world and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub plugin: Tested,
    pub cases: Vec<CaseReport>,
    /// What the kit noticed beside the cases (a record set it could not clean up).
    pub notes: Vec<String>,
}

impl Report {
    /// How many cases ended with `outcome`'s kind.
    #[must_use]
    pub fn count(&self, kind: OutcomeKind) -> usize {
        self.cases
            .iter()
            .filter(|c| c.outcome.kind() == kind)
            .count()
    }

    /// Whether no case failed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.count(OutcomeKind::Failed) == 0
    }
}

/// A case of the kit: what it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CaseInfo {
    /// The case's name, unique in its world (`replace-then-list`).
    pub id: &'static str,
    /// The WIT function whose promise it checks (`dns.replace-rrset`).
    pub function: &'static str,
    /// The promise, in the WIT's words.
    pub promise: &'static str,
}

/// Every case of `kind`'s world, in the order the kit runs them.
#[must_use]
pub fn cases(kind: PluginKind) -> Vec<CaseInfo> {
    match kind {
        PluginKind::DnsProvider => dns::CASES.iter().map(Case::info).collect(),
        PluginKind::PortProbe => probe::CASES.iter().map(Case::info).collect(),
        PluginKind::ManagementStore => management::CASES.iter().map(Case::info).collect(),
        PluginKind::ServerControl => servers::CASES.iter().map(Case::info).collect(),
        PluginKind::PoolControl => pools::CASES.iter().map(Case::info).collect(),
    }
}

/// One case and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseReport {
    #[serde(flatten)]
    pub case: CaseInfo,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(rename = "duration_ms", serialize_with = "millis")]
    pub duration: Duration,
}

fn millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

/// How a case ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    /// The plugin broke the promise: what the case expected, what came back.
    Failed {
        expected: String,
        actual: String,
    },
    /// The case did not run, and why.
    Skipped {
        reason: String,
    },
}

/// The kind of an [`Outcome`], for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    Passed,
    Failed,
    Skipped,
}

impl Outcome {
    #[must_use]
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Self::Passed => OutcomeKind::Passed,
            Self::Failed { .. } => OutcomeKind::Failed,
            Self::Skipped { .. } => OutcomeKind::Skipped,
        }
    }
}

/// One promise of a world, as an executable case over the world's context `C`.
pub(crate) struct Case<C> {
    pub(crate) id: &'static str,
    pub(crate) function: &'static str,
    /// The other functions the case calls: it is skipped when one of them did
    /// not pass its first case.
    pub(crate) uses: &'static [&'static str],
    pub(crate) promise: &'static str,
    pub(crate) check: fn(&mut C) -> Checked,
}

impl<C> Case<C> {
    fn info(&self) -> CaseInfo {
        CaseInfo {
            id: self.id,
            function: self.function,
            promise: self.promise,
        }
    }
}

/// The name of a function on a plugin's track: the cases name the functions
/// of one track, and a plugin of another answers them through the function
/// that track has instead (`servers.read-machines` for `servers.list-services`).
pub(crate) type Relabel = fn(&'static str) -> &'static str;

/// What a case's check found.
pub(crate) type Checked = Result<(), Miss>;

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Miss {
    Failed {
        expected: String,
        actual: String,
    },
    /// Nothing to try the case on (a reason for the reader).
    NotApplicable(String),
}

impl Miss {
    pub(crate) fn failed(expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Self::Failed {
            expected: expected.into(),
            actual: actual.into(),
        }
    }
}

/// Run `cases` in order over `context`. The first case of each function that
/// has something to try is its gate: when it does not pass, every later case
/// of that function or calling it is skipped, naming it.
pub(crate) fn run_cases<C>(cases: &[Case<C>], context: &mut C) -> Vec<CaseReport> {
    run_cases_as(cases, context, |function| function)
}

/// [`run_cases`], each function named as `relabel` names it on the plugin's
/// track, in the gating and in the report.
pub(crate) fn run_cases_as<C>(
    cases: &[Case<C>],
    context: &mut C,
    relabel: Relabel,
) -> Vec<CaseReport> {
    // Functions whose gate ran (or was skipped for another function).
    let mut gated: Vec<&'static str> = Vec::new();
    // Function → its gate, when the gate did not pass.
    let mut stopped: BTreeMap<&'static str, &'static str> = BTreeMap::new();
    let mut reports = Vec::with_capacity(cases.len());
    for case in cases {
        let function = relabel(case.function);
        let is_gate = !gated.contains(&function);
        let blocked = std::iter::once(function)
            .chain(case.uses.iter().copied().map(relabel))
            .find_map(|function| stopped.get(function).map(|gate| (function, *gate)));
        let started = Instant::now();
        let (outcome, settles) = match blocked {
            Some((function, gate)) => (
                Outcome::Skipped {
                    reason: format!("`{function}` did not pass its first case, `{gate}`"),
                },
                true,
            ),
            None => match (case.check)(context) {
                Ok(()) => (Outcome::Passed, true),
                Err(Miss::Failed { expected, actual }) => {
                    (Outcome::Failed { expected, actual }, true)
                }
                // Nothing to try: the next case of the function is its gate.
                Err(Miss::NotApplicable(reason)) => (Outcome::Skipped { reason }, false),
            },
        };
        if is_gate && settles {
            gated.push(function);
            if outcome != Outcome::Passed {
                stopped.insert(function, case.id);
            }
        }
        reports.push(CaseReport {
            case: CaseInfo {
                function,
                ..case.info()
            },
            outcome,
            duration: started.elapsed(),
        });
    }
    reports
}

/// A plugin error as the WIT names it: `plugin-error::not-found("…")`, the
/// message escaped (it comes from the plugin).
pub(crate) fn wit_error(error: &PluginError) -> String {
    let (variant, message) = match error {
        PluginError::Config(m) => ("config", m),
        PluginError::NotFound(m) => ("not-found", m),
        PluginError::Refused(m) => ("refused", m),
        PluginError::Conflict(m) => ("conflict", m),
        PluginError::Unavailable(m) => ("unavailable", m),
        PluginError::Invalid(m) => ("invalid", m),
        PluginError::Failed(m) => ("failed", m),
    };
    format!("plugin-error::{variant}({message:?})")
}

/// What a failed call came back with, for a reader: the plugin's own error as
/// the WIT names it, or what the runtime stopped.
pub(crate) fn came_back(error: &CallError) -> String {
    match error {
        CallError::Plugin { error, .. } => wit_error(error),
        other => other.to_string(),
    }
}

/// A value that came back, as JSON (escaped: it comes from the plugin).
pub(crate) fn shown<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("(cannot be shown: {e})"))
}

/// The value of a call the case needs to succeed; else a failure saying what
/// was `expected` and what came back.
pub(crate) fn answer<T>(result: Result<T, CallError>, expected: &str) -> Result<T, Miss> {
    result.map_err(|error| Miss::failed(expected, came_back(&error)))
}

/// Pass when nothing is `wrong`; else fail with `expected`, showing the wrong
/// items after `shows`.
pub(crate) fn none_of<T: Serialize>(
    wrong: &[T],
    expected: impl Into<String>,
    shows: &str,
) -> Checked {
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(Miss::failed(expected, format!("{shows} {}", shown(&wrong))))
    }
}

/// The WIT variant names of [`PluginError`], for the cases that expect one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    NotFound,
    Conflict,
    Invalid,
}

impl Variant {
    fn matches(self, error: &PluginError) -> bool {
        matches!(
            (self, error),
            (Self::NotFound, PluginError::NotFound(_))
                | (Self::Conflict, PluginError::Conflict(_))
                | (Self::Invalid, PluginError::Invalid(_))
        )
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotFound => "plugin-error::not-found",
            Self::Conflict => "plugin-error::conflict",
            Self::Invalid => "plugin-error::invalid",
        })
    }
}

/// A call the case needs to fail with one of `variants`.
pub(crate) fn refusal<T: Serialize>(result: Result<T, CallError>, variants: &[Variant]) -> Checked {
    let expected = variants
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ");
    match result {
        Err(CallError::Plugin { error, .. }) if variants.iter().any(|v| v.matches(&error)) => {
            Ok(())
        }
        Err(error) => Err(Miss::failed(expected, came_back(&error))),
        Ok(value) => Err(Miss::failed(expected, format!("ok: {}", shown(&value)))),
    }
}

/// A name in the kit's own part of a namespace: unlikely to be anyone's, and
/// under `.invalid` (RFC 2606) where it names something that must not exist.
pub(crate) const ABSENT: &str = "failback-kit.invalid";

#[cfg(test)]
mod tests {
    use super::*;

    struct Calls(Vec<&'static str>);

    fn pass(c: &mut Calls) -> Checked {
        c.0.push("pass");
        Ok(())
    }

    fn fail(c: &mut Calls) -> Checked {
        c.0.push("fail");
        Err(Miss::failed(
            "ok",
            "plugin-error::failed(\"not implemented\")",
        ))
    }

    fn not_applicable(c: &mut Calls) -> Checked {
        c.0.push("not-applicable");
        Err(Miss::NotApplicable("nothing to try it on".to_owned()))
    }

    fn case(
        id: &'static str,
        function: &'static str,
        uses: &'static [&'static str],
        check: fn(&mut Calls) -> Checked,
    ) -> Case<Calls> {
        Case {
            id,
            function,
            uses,
            promise: "",
            check,
        }
    }

    #[test]
    fn a_function_whose_first_case_fails_skips_every_case_that_calls_it() {
        let cases = [
            case("list", "dns.list-records", &[], pass),
            case("replace", "dns.replace-rrset", &[], fail),
            case(
                "replace-then-list",
                "dns.replace-rrset",
                &["dns.list-records"],
                pass,
            ),
            case("names", "dns.list-records", &[], pass),
            case("delete", "dns.delete-rrset", &["dns.replace-rrset"], pass),
        ];
        let mut calls = Calls(Vec::new());
        let reports = run_cases(&cases, &mut calls);
        let outcomes: Vec<_> = reports.iter().map(|r| r.outcome.kind()).collect();
        assert_eq!(
            outcomes,
            [
                OutcomeKind::Passed,
                OutcomeKind::Failed,
                OutcomeKind::Skipped,
                OutcomeKind::Passed,
                OutcomeKind::Skipped,
            ]
        );
        assert_eq!(calls.0, ["pass", "fail", "pass"]);
        assert_eq!(
            reports[4].outcome,
            Outcome::Skipped {
                reason: "`dns.replace-rrset` did not pass its first case, `replace`".to_owned()
            }
        );
    }

    #[test]
    fn a_later_case_that_fails_stops_nothing() {
        let cases = [
            case("list", "dns.list-records", &[], pass),
            case("names", "dns.list-records", &[], fail),
            case("unknown-zone", "dns.list-records", &[], pass),
        ];
        let reports = run_cases(&cases, &mut Calls(Vec::new()));
        assert_eq!(reports[2].outcome, Outcome::Passed);
    }

    #[test]
    fn a_gate_with_nothing_to_try_hands_the_gate_to_the_next_case() {
        let cases = [
            case("replicate", "management.replicate", &[], not_applicable),
            case("replicate-unknown", "management.replicate", &[], fail),
            case("replicate-again", "management.replicate", &[], pass),
        ];
        let reports = run_cases(&cases, &mut Calls(Vec::new()));
        assert_eq!(
            reports[0].outcome,
            Outcome::Skipped {
                reason: "nothing to try it on".to_owned()
            }
        );
        assert_eq!(reports[1].outcome.kind(), OutcomeKind::Failed);
        assert_eq!(
            reports[2].outcome,
            Outcome::Skipped {
                reason: "`management.replicate` did not pass its first case, `replicate-unknown`"
                    .to_owned()
            }
        );
    }

    /// So that a plugin which implements nothing fails once per function: a
    /// function's first case must not need another function to pass.
    #[test]
    fn the_first_case_of_each_function_calls_no_other_function() {
        fn check<C>(world: &str, cases: &[Case<C>]) {
            let mut seen = Vec::new();
            for case in cases {
                if !seen.contains(&case.function) {
                    seen.push(case.function);
                    assert!(
                        case.uses.is_empty(),
                        "{world}: `{}` uses {:?}",
                        case.id,
                        case.uses
                    );
                }
            }
        }
        check("dns-provider", dns::CASES);
        check("port-probe", probe::CASES);
        check("management-store", management::CASES);
        check("server-control", servers::CASES);
        check("pool-control", pools::CASES);
    }

    #[test]
    fn a_plugin_error_is_named_by_its_wit_variant_with_its_message_escaped() {
        assert_eq!(
            wit_error(&PluginError::NotFound("zone `x`\u{1b}[2J".to_owned())),
            "plugin-error::not-found(\"zone `x`\\u{1b}[2J\")"
        );
    }
}
