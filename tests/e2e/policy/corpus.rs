use std::collections::BTreeSet;

use crate::support::{failback, tests_dir};

#[test]
fn the_policy_corpus_passes() {
    let cases = tests_dir().join("policy-cases");
    let output = failback()
        .arg("policy")
        .arg("test")
        .arg(&cases)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "`failback policy test tests/policy-cases` failed ({}):\n{report}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let cases = std::fs::read_dir(&cases)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "toml")
        })
        .count();
    assert!(
        report.contains(&format!("{cases} passed, 0 failed")),
        "every case ran:\n{report}"
    );
}

#[derive(serde::Deserialize)]
struct Case {
    #[serde(default)]
    expect: Vec<Expected>,
}

#[derive(serde::Deserialize)]
struct Expected {
    rule: String,
}

/// A rule no case expects to fire is a rule the corpus never shows vetoing.
#[test]
fn every_rule_fires_in_some_case() {
    let output = failback()
        .args(["policy", "list", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rules: BTreeSet<String> = list["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let mut fired = BTreeSet::new();
    for entry in std::fs::read_dir(tests_dir().join("policy-cases")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let case: Case =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            fired.extend(case.expect.into_iter().map(|e| e.rule));
        }
    }
    let missing: Vec<&String> = rules.difference(&fired).collect();
    assert!(missing.is_empty(), "no case fires {missing:?}");
    let unknown: Vec<&String> = fired.difference(&rules).collect();
    assert!(unknown.is_empty(), "cases expect unknown rules {unknown:?}");
}

/// A case that fails is reported with its diff and makes the command fail.
#[test]
fn a_failing_case_is_reported_with_its_diff() {
    let dir = tempfile::tempdir().unwrap();
    let case = std::fs::read_to_string(
        tests_dir().join("policy-cases/federation-single-pool-enable-before-disable.toml"),
    )
    .unwrap()
    .replace(
        r#"expect = [{ rule = "federation.single-pool", state = 3 }]"#,
        "expect = []",
    );
    std::fs::write(dir.path().join("wrong.toml"), case).unwrap();
    let output = failback()
        .arg("policy")
        .arg("test")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report =
        String::from_utf8_lossy(&output.stdout).replace(&dir.path().display().to_string(), "[DIR]");
    insta::assert_snapshot!(report);
}
