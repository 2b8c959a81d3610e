use std::path::Path;

use failback_core::deployment::assemble;
use failback_core::intent::{Intent, IntentFlags};
use failback_core::lab::{self, Scenario};
use failback_core::{plan, render};
use serde::Deserialize;

use crate::support::lab_reader;

/// One case: a lab scenario and the intent flags the operator gives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case shows.
    description: String,
    scenario: String,
    #[serde(default)]
    intent: IntentFlags,
    /// The intent is refused: the error message is snapshot instead of the plan.
    #[serde(default)]
    expect_error: bool,
    /// A reason to skip the case, written out.
    skip: Option<String>,
}

#[test]
fn corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 8, "the corpus lost cases");
    for path in paths {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let case: Case = toml::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Some(reason) = &case.skip {
            assert!(!reason.trim().is_empty(), "{name}: a skip needs a reason");
            continue;
        }
        let scenario: Scenario = case.scenario.parse().unwrap();
        let observation = lab_reader::observe(&lab::files(scenario));
        let snapshot = assemble(&observation).unwrap();
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("snapshots");
        settings.set_prepend_module_to_snapshot(false);
        settings.set_info(&case.description);
        settings.bind(
            || match Intent::resolve(&case.intent, &snapshot.deployment) {
                Err(e) => {
                    assert!(case.expect_error, "{name}: {e}");
                    insta::assert_snapshot!(format!("{name}.error"), e.to_string());
                }
                Ok(intent) => {
                    assert!(!case.expect_error, "{name}: the intent was accepted");
                    let mut plan = plan::plan(&snapshot, &intent).unwrap();
                    plan.seal().unwrap();
                    insta::assert_snapshot!(format!("{name}.text"), render::text(&plan));
                    let json = render::json(&plan);
                    crate::schema::validate(&name, &json);
                    insta::assert_snapshot!(format!("{name}.json"), json);
                    insta::assert_snapshot!(format!("{name}.ps1"), render::powershell(&plan));
                    crate::planner::check_plan(&name, &plan);
                }
            },
        );
    }
}
