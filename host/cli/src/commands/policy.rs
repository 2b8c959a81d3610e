//! `failback policy list`: every rule, its family, level and rationale.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use failback_core::plan::Level;
use failback_runtime::gate::Rule;
use failback_runtime::{Environment, Gate, NullAuditSink, PolicyBindings, Runtime, TrustPolicy};

use crate::Outcome;
use crate::cli::Format;
use crate::session::{built_in_digests, open_cache, standard_policies, trust_policy};

/// The gate of the environment `env` when it exists (with the environment's
/// name), else of the standard modules at their default levels.
pub fn gate(env: &Path) -> Result<(Runtime, Gate, Option<String>)> {
    let runtime =
        Runtime::new(Arc::new(NullAuditSink)).context("cannot start the plugin runtime")?;
    let cache = open_cache()?;
    let root = env
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let dir = Dir::open_ambient_dir(root, ambient_authority())
        .with_context(|| format!("cannot open `{}`", root.display()))?;
    let (bindings, trust, named) = match env.file_name().and_then(|f| f.to_str()) {
        Some(file) if env.exists() => {
            let environment = Environment::load(&dir, file)
                .with_context(|| format!("cannot load the environment `{}`", env.display()))?;
            (
                PolicyBindings::parse(environment.policies.as_ref())?,
                trust_policy(&environment, &dir)?,
                Some(environment.name),
            )
        }
        _ => (
            PolicyBindings::parse(None)?,
            TrustPolicy::open().with_built_in(built_in_digests()?),
            None,
        ),
    };
    let gate = Gate::load(
        &runtime,
        &cache,
        &standard_policies()?,
        &bindings,
        &trust,
        &dir,
    )
    .context("cannot load the policy modules")?;
    Ok((runtime, gate, named))
}

pub fn list(env: &Path, format: Format) -> Result<Outcome> {
    let (_runtime, gate, _) = gate(env)?;
    let out = match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&serde_json::json!({
                "format_version": 1,
                "rules": gate.rules(),
            }))?;
            text.push('\n');
            text
        }
        Format::Text => table(gate.rules()),
    };
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(Outcome::Ok)
}

fn table(rules: &[Rule]) -> String {
    let width = rules.iter().map(|r| r.id.len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in rules {
        let invariants: Vec<String> = r.invariants.iter().map(u8::to_string).collect();
        let _ = writeln!(
            out,
            "{:width$}  {:<9}  {:<10}  {:<11}  inv {:<5}  {}",
            r.id,
            level(r.level),
            r.family,
            r.scope,
            if invariants.is_empty() {
                "-".to_owned()
            } else {
                invariants.join(",")
            },
            r.rationale
        );
    }
    out
}

pub fn level(level: Level) -> &'static str {
    match level {
        Level::Advisory => "advisory",
        Level::Mandatory => "mandatory",
        Level::Hard => "hard",
    }
}

/// One policy case file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case shows, for the report.
    description: String,
    /// The lab scenario whose observed state the case starts from.
    scenario: String,
    /// The failback intent (the goal the final-state rules compare to).
    #[serde(default)]
    intent: failback_core::intent::IntentFlags,
    /// Edits of the observed start state, applied before the check.
    #[serde(default)]
    start: Vec<Change>,
    /// Check the planner's own steps.
    #[serde(default)]
    plan: bool,
    /// Or check these steps.
    #[serde(default)]
    steps: Vec<CaseStep>,
    /// The findings expected, all of them.
    #[serde(default)]
    expect: Vec<Expected>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseStep {
    action: failback_core::plan::Action,
    target: Option<String>,
    /// For `pool-failback`: the `-PoolFqdn` it runs with.
    argument: Option<String>,
    #[serde(default)]
    changes: Vec<Change>,
}

/// A finding: the rule and the first state it holds on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    rule: String,
    state: u32,
}

use failback_core::deployment::Change;

/// `failback policy test PATH`.
pub fn test(path: &Path) -> Result<Outcome> {
    let files = case_files(path)?;
    let mut starts: std::collections::BTreeMap<
        String,
        (tempfile::TempDir, crate::session::Session),
    > = std::collections::BTreeMap::new();
    let (mut passed, mut failed) = (0, 0);
    let mut out = String::new();
    for file in &files {
        let name = file.display().to_string();
        match run_case(file, &mut starts) {
            Ok(None) => {
                passed += 1;
                let _ = writeln!(out, "ok    {name}");
            }
            Ok(Some(diff)) => {
                failed += 1;
                let _ = writeln!(out, "FAIL  {name}\n{diff}");
            }
            Err(error) => {
                failed += 1;
                let _ = writeln!(out, "FAIL  {name}: {error:#}");
            }
        }
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    std::io::stdout().write_all(out.as_bytes())?;
    if failed > 0 {
        anyhow::bail!(
            "{failed} policy case{} failed",
            if failed == 1 { "" } else { "s" }
        );
    }
    Ok(Outcome::Ok)
}

fn case_files(path: &Path) -> Result<Vec<std::path::PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in
        std::fs::read_dir(path).with_context(|| format!("cannot read `{}`", path.display()))?
    {
        let entry = entry?;
        if entry.path().extension().is_some_and(|e| e == "toml") {
            files.push(entry.path());
        }
    }
    files.sort();
    if files.is_empty() {
        anyhow::bail!("`{}` holds no `.toml` case files", path.display());
    }
    Ok(files)
}

/// Run one case; `Ok(Some(diff))` when the findings differ from the expected.
fn run_case(
    file: &Path,
    starts: &mut std::collections::BTreeMap<String, (tempfile::TempDir, crate::session::Session)>,
) -> Result<Option<String>> {
    use failback_core::intent::Intent;
    use failback_core::plan::{Argument, Step, StepStatus, plan};

    let text = std::fs::read_to_string(file)?;
    let case: Case = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    if case.plan && !case.steps.is_empty() {
        anyhow::bail!(
            "a case checks either the planner's steps (`plan = true`) or its own `steps`, not both"
        );
    }
    let scenario: failback_core::lab::Scenario = case.scenario.parse()?;
    if !starts.contains_key(&case.scenario) {
        let dir = tempfile::tempdir()?;
        crate::commands::lab::write(dir.path(), scenario)?;
        let session = crate::session::open(&dir.path().join(failback_runtime::ENVIRONMENT_FILE))?;
        starts.insert(case.scenario.clone(), (dir, session));
    }
    let Some((_, session)) = starts.get(&case.scenario) else {
        anyhow::bail!("lab `{}` did not open", case.scenario);
    };
    let mut snapshot = session.observe()?;
    for change in &case.start {
        snapshot.deployment.apply(change)?;
        // A port the case sets was not observed refused: the planner must
        // not count on A1 opening it (docs/policies.md).
        if let Change::XmppPortOpen { edge_pool, .. } = change {
            snapshot
                .xmpp_refused
                .remove(&edge_pool.to_ascii_lowercase());
        }
    }
    let intent = Intent::resolve(&case.intent, &snapshot.deployment)?;
    let planned = plan(&snapshot, &intent)?;
    let steps: Vec<Step> = if case.plan {
        planned.steps.clone()
    } else {
        case.steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| Step {
                index: i + 1,
                id: s.action.id().to_owned(),
                action: s.action,
                status: StepStatus::Planned,
                target: s.target,
                arguments: s
                    .argument
                    .map(|a| [("pool_fqdn".to_owned(), Argument::Text(a))].into())
                    .unwrap_or_default(),
                preconditions: Vec::new(),
                changes: s.changes,
                summary: Vec::new(),
                verify: String::new(),
                operations: Vec::new(),
            })
            .collect()
    };
    let findings = session.gate.check(
        &planned.goal,
        &snapshot.deployment,
        &steps,
        &failback_runtime::Overrides::default(),
    )?;
    let mut actual: Vec<Expected> = findings
        .iter()
        .map(|f| Expected {
            rule: f.rule.clone(),
            state: f.state,
        })
        .collect();
    actual.sort();
    actual.dedup();
    let mut expected = case.expect;
    expected.sort();
    if actual == expected {
        return Ok(None);
    }
    let mut diff = format!("  {}\n  expected (-) vs actual (+):\n", case.description);
    for e in &expected {
        let mark = if actual.contains(e) { ' ' } else { '-' };
        let _ = writeln!(diff, "  {mark} {} at state {}", e.rule, e.state);
    }
    for a in actual.iter().filter(|a| !expected.contains(a)) {
        let finding = findings
            .iter()
            .find(|f| f.rule == a.rule && f.state == a.state)
            .map(|f| f.message.as_str())
            .unwrap_or_default();
        let _ = writeln!(diff, "  + {} at state {}: {finding}", a.rule, a.state);
    }
    Ok(Some(diff))
}
