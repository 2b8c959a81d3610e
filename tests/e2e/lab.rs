use crate::support::{failback, lab, run};

#[test]
fn lab_init_writes_the_deployment_the_plugins_and_the_environment() {
    let dir = lab("edge-failover");
    let mut files: Vec<String> = walk(dir.path())
        .into_iter()
        .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    files.sort();
    insta::assert_snapshot!("lab-files", files.join("\n"));

    // The sha256 each binding names must be its own file's: each digest is
    // named by the file it was computed from; everything else of the environment file is for people to read.
    let env = std::fs::read_to_string(dir.path().join("failback.toml")).unwrap();
    let env = crate::support::placeholders(&env, &crate::support::lab_digests(dir.path()));
    insta::assert_snapshot!("lab-environment", env);
}

#[test]
fn lab_init_refuses_a_directory_that_is_not_empty_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let (code, stdout, stderr) = run(failback().args(["lab", "init"]).arg(dir.path()));
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert_eq!(
        crate::support::redact(&stderr, dir.path()),
        "error: `[LAB]` is not empty: `lab init` writes only into a new or empty directory, so nothing there is overwritten\n"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn lab_scenarios_lists_each_with_what_it_simulates() {
    let (code, stdout, _) = run(failback().args(["lab", "scenarios"]));
    assert_eq!(code, 0);
    insta::assert_snapshot!("lab-scenarios", stdout);
}

#[test]
fn an_unknown_scenario_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(failback()
        .args(["lab", "init", "--scenario", "edge-fail"])
        .arg(dir.path().join("lab")));
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid value 'edge-fail'"), "{stderr}");
    assert!(!dir.path().join("lab").exists());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.push(path.join(""));
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
