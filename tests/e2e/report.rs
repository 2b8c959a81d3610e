//! Rehearsing a failback: a captured state planned and judged with no plugin
//! loaded, a plan checked against the approved one, and the change report,
//! rendered by a real browser.

use std::path::Path;

use failback_core::lab::Scenario;

use crate::support::{failback, lab, redact, run, validate_plan, validate_state};

/// `failback observe --out STATE` in the lab `dir`.
fn observe(dir: &Path) -> std::path::PathBuf {
    let state = dir.join("state.json");
    let (code, stdout, stderr) = run(failback()
        .args(["observe", "--out"])
        .arg(&state)
        .arg("--env")
        .arg(dir.join("failback.toml")));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("observed "), "{stdout}");
    assert!(stderr.contains("(state sha256 "), "{stderr}");
    state
}

fn plan_json(args: &[&str], dir: &Path) -> serde_json::Value {
    let (code, stdout, stderr) = run(failback()
        .args(["plan", "--format", "json"])
        .args(args)
        .arg("--env")
        .arg(dir.join("failback.toml")));
    assert_eq!(code, 0, "{stderr}");
    validate_plan(&stdout);
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn observe_says_what_was_observed_by_whom_and_when() {
    let dir = lab("edge-and-front-end-failover");
    let (code, stdout, stderr) = run(failback()
        .args(["observe", "--env"])
        .arg(dir.path().join("failback.toml")));
    assert_eq!(code, 0, "{stderr}");
    insta::with_settings!({filters => vec![
        (r"[0-9a-f]{64}", "[SHA256]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
    ]}, {
        insta::assert_snapshot!("observe-edge-and-front-end-failover", stdout);
    });
}

#[test]
fn a_captured_state_plans_as_the_live_one_with_no_plugin_loaded() {
    let dir = lab("edge-and-front-end-failover");
    let state = observe(dir.path());
    let text = std::fs::read_to_string(&state).unwrap();
    validate_state(&text);
    let captured: serde_json::Value = serde_json::from_str(&text).unwrap();
    let live = plan_json(&[], dir.path());
    // No plugin can be loaded: the plan comes from the file alone.
    std::fs::remove_dir_all(dir.path().join("plugins")).unwrap();
    let from = plan_json(&["--from", state.to_str().unwrap()], dir.path());
    for field in ["intent", "goal", "start", "steps", "drafts", "findings"] {
        assert_eq!(live[field], from[field], "{field}");
    }
    assert_eq!(live["provenance"]["plugins"], from["provenance"]["plugins"]);
    assert_eq!(
        live["provenance"]["policies"],
        from["provenance"]["policies"]
    );
    assert_eq!(live["provenance"].get("captured"), None);
    assert_eq!(
        from["provenance"]["captured"]["sha256"], captured["digest"],
        "the plan names the state it was made from"
    );
    assert_eq!(
        from["provenance"]["captured"]["observed_at"],
        captured["observed_at"]
    );

    let (code, stdout, stderr) = run(failback()
        .args(["verify", "--from"])
        .arg(&state)
        .arg("--env")
        .arg(dir.path().join("failback.toml")));
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.starts_with("verify contoso lab"), "{stdout}");
}

/// The attack: a captured state edited after it was observed (an Edge pool's
/// route moved) is planned as if the plugins had reported it. Refused: its
/// digest no longer matches; and a re-sealed one with a hostile value is
/// refused where it enters, as a plugin's would be. The host keeps serving.
#[test]
fn an_edited_captured_state_is_refused() {
    let dir = lab("edge-failover");
    let state = observe(dir.path());
    let text = std::fs::read_to_string(&state).unwrap();
    let edited = text.replacen("\"ttl\": 3600", "\"ttl\": 60", 1);
    assert_ne!(edited, text);
    std::fs::write(&state, &edited).unwrap();
    let (code, stdout, stderr) = run(failback()
        .args(["plan", "--from"])
        .arg(&state)
        .arg("--env")
        .arg(dir.path().join("failback.toml")));
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    insta::with_settings!({filters => vec![(r"[0-9a-f]{64}", "[SHA256]")]}, {
        insta::assert_snapshot!("plan-from-edited-state", redact(&stderr, dir.path()));
    });
    // An unknown field is refused by name.
    let unknown = text.replacen("\"zone\":", "\"injected\": 1, \"zone\":", 1);
    std::fs::write(&state, &unknown).unwrap();
    let (code, _, stderr) = run(failback()
        .args(["plan", "--from"])
        .arg(&state)
        .arg("--env")
        .arg(dir.path().join("failback.toml")));
    assert_eq!(code, 1);
    assert!(stderr.contains("unknown field `injected`"), "{stderr}");
    // The host keeps serving: the original state still plans.
    std::fs::write(&state, &text).unwrap();
    plan_json(&["--from", state.to_str().unwrap()], dir.path());
}

#[test]
fn apply_of_a_plan_from_a_captured_state_runs_only_on_that_state() {
    // The live deployment is still the captured one: the plan applies.
    let dir = lab("xmpp-only");
    let plan = plan_from_captured(dir.path());
    let (code, _, stderr) = run(failback()
        .args(["apply", "--yes", "--env"])
        .arg(dir.path().join("failback.toml"))
        .arg(&plan));
    assert_eq!(code, 0, "{stderr}");

    // The deployment drifted after the state was captured: refused, naming
    // the change, and nothing ran.
    let dir = lab("xmpp-only");
    let plan = plan_from_captured(dir.path());
    drift(dir.path(), "sip2.contoso.com");
    let (code, _, stderr) = run(failback()
        .args(["apply", "--yes", "--env"])
        .arg(dir.path().join("failback.toml"))
        .arg(&plan));
    assert_eq!(code, 1);
    assert!(
        stderr
            .contains("the deployment changed since the state the plan was made from was observed"),
        "{stderr}"
    );
    assert!(stderr.contains("sip2.contoso.com"), "{stderr}");
    let (_, history, _) = run(failback()
        .args(["history", "--env"])
        .arg(dir.path().join("failback.toml")));
    assert!(!history.contains("run 1"), "{history}");
}

/// `observe`, then `plan --from` the captured state into `plan.json`.
fn plan_from_captured(dir: &Path) -> std::path::PathBuf {
    let state = observe(dir);
    let plan = dir.join("plan.json");
    let (code, _, stderr) = run(failback()
        .args(["plan", "--format", "json", "--from"])
        .arg(&state)
        .arg("--out")
        .arg(&plan)
        .arg("--env")
        .arg(dir.join("failback.toml")));
    assert_eq!(code, 0, "{stderr}");
    plan
}

/// The lab's deployment drifts: the A record of `name` moves from
/// 131.107.156.10 to 131.107.156.99.
fn drift(dir: &Path, name: &str) {
    let zone = dir.join("dns/contoso.com.zone");
    let text = std::fs::read_to_string(&zone).unwrap();
    let moved = text.replacen(
        &format!("{name}. 3600 IN A 131.107.156.10"),
        &format!("{name}. 3600 IN A 131.107.156.99"),
        1,
    );
    assert_ne!(moved, text);
    std::fs::write(&zone, moved).unwrap();
}

#[test]
fn plan_check_exits_4_with_the_differences_when_the_plan_changed() {
    let dir = lab("edge-failover");
    let env = dir.path().join("failback.toml");
    let approved = dir.path().join("approved.json");
    let (code, _, stderr) = run(failback()
        .args(["plan", "--format", "json", "--out"])
        .arg(&approved)
        .arg("--env")
        .arg(&env));
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run(failback()
        .args(["plan", "--check"])
        .arg(&approved)
        .arg("--env")
        .arg(&env));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("the plan is the approved one"),
        "{stdout}"
    );

    drift(dir.path(), "sip.contoso.com");
    let (code, stdout, stderr) = run(failback()
        .args(["plan", "--check"])
        .arg(&approved)
        .arg("--env")
        .arg(&env));
    assert_eq!(code, 4, "{stderr}");
    insta::with_settings!({filters => vec![(r"[0-9a-f]{64}", "[SHA256]")]}, {
        insta::assert_snapshot!("plan-check-changed", stdout);
    });
    let (code, stdout, _) = run(failback()
        .args(["plan", "--check"])
        .arg(&approved)
        .args(["--format", "json", "--env"])
        .arg(&env));
    assert_eq!(code, 4);
    let check: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(check["same"], false);
    let differences = check["differences"].as_array().unwrap();
    assert!(!differences.is_empty());
    assert!(
        differences.iter().any(
            |d| d["approved"].as_str().unwrap().contains("131.107.156.10")
                && d["now"].as_str().unwrap().contains("131.107.156.99")
        ),
        "{stdout}"
    );
}

/// The attack: a site named `<script>…` in the topology and the management
/// store (site names come from the environment) reaches the report's HTML.
/// It is shown as text, never as markup; the host keeps serving.
#[test]
fn a_script_in_a_site_name_is_text_in_the_report() {
    let dir = lab("edge-failover");
    let store = dir.path().join("store/store.json");
    let text = std::fs::read_to_string(&store).unwrap();
    std::fs::write(
        &store,
        text.replace("\"Site2\"", "\"Site2<script>alert(1)</script>\""),
    )
    .unwrap();
    let topology = dir.path().join("store/topology.xml");
    let text = std::fs::read_to_string(&topology).unwrap();
    std::fs::write(
        &topology,
        text.replace(
            "<Name>Site2</Name>",
            "<Name>Site2&lt;script&gt;alert(1)&lt;/script&gt;</Name>",
        ),
    )
    .unwrap();
    let report = dir.path().join("report.html");
    let (code, _, stderr) = run(failback()
        .args(["plan", "--format", "html", "--out"])
        .arg(&report)
        .arg("--env")
        .arg(dir.path().join("failback.toml")));
    assert_eq!(code, 0, "{stderr}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("Site2&lt;script&gt;alert(1)&lt;/script&gt;"));
    // In the browser: the name is text, and the page has no script element.
    let dom = browser_dom(&report);
    assert!(!dom.contains("<script"), "{dom}");
    assert!(dom.contains("site Site2&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The host keeps serving.
    plan_json(&[], dir.path());
}

#[test]
fn the_report_of_one_scenario_is_snapshot() {
    let dir = lab("edge-failover");
    let (code, stdout, stderr) = run(failback()
        .args(["plan", "--format", "html", "--env"])
        .arg(dir.path().join("failback.toml")));
    assert_eq!(code, 0, "{stderr}");
    // One element a line, for a snapshot a person can review.
    let lines = stdout.replace("><", ">\n<");
    insta::with_settings!({filters => vec![(r"[0-9a-f]{64}", "[SHA256]")]}, {
        insta::assert_snapshot!("report-edge-failover-html", lines);
    });
}

/// The text of each cell of the table row that starts at `open` (`<tr …>`)
/// in `html`, tags removed.
fn row_cells(html: &str, open: &str) -> Vec<String> {
    let start = html
        .find(open)
        .unwrap_or_else(|| panic!("no row `{open}` in the report"));
    let row = &html[start..start + html[start..].find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let cell = &cell[cell.find('>').unwrap() + 1..];
            let mut text = String::new();
            let mut in_tag = false;
            for c in cell.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text
        })
        .collect()
}

/// Every step of the run has its row with its journaled outcome, and every
/// "why this order" row names the planned step and its predecessor and says
/// what the swap would raise — checked row by row against the plan and the
/// journal, not by the section's headings.
#[test]
fn report_shows_a_run_from_the_journal() {
    let dir = lab("xmpp-only");
    let env = dir.path().join("failback.toml");
    let plan = plan_json(&[], dir.path());
    let (code, _, stderr) = run(failback().args(["apply", "--yes", "--env"]).arg(&env));
    assert_eq!(code, 0, "{stderr}");
    let (code, status, stderr) = run(failback()
        .args(["status", "--format", "json", "--env"])
        .arg(&env));
    assert_eq!(code, 0, "{stderr}");
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let (code, stdout, stderr) = run(failback().args(["report", "--env"]).arg(&env));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("<h2>Run 1</h2>"), "{stdout}");
    assert!(stdout.contains("; done.</p>"), "{stdout}");

    let steps = plan["steps"].as_array().unwrap();
    let journaled = status["steps"].as_array().unwrap();
    let name = |step: &serde_json::Value| {
        format!(
            "{} {}",
            step["id"].as_str().unwrap(),
            step["action"].as_str().unwrap()
        )
    };
    for step in steps {
        let index = step["index"].as_u64().unwrap();
        let cells = row_cells(&stdout, &format!("<tr id=\"step-{index}\">"));
        assert_eq!(cells[0], index.to_string());
        assert_eq!(cells[1], name(step));
        assert_eq!(cells[2], step["status"].as_str().unwrap(), "step {index}");
        let outcome = journaled
            .iter()
            .find(|s| s["index"] == index)
            .map_or("-", |s| s["outcome"].as_str().unwrap());
        assert_eq!(cells[5], outcome, "step {index}");
        if step["status"] == "planned" {
            assert_eq!(outcome, "done", "step {index}");
        }
    }

    let planned: Vec<&serde_json::Value> =
        steps.iter().filter(|s| s["status"] == "planned").collect();
    let rows: Vec<Vec<String>> = stdout
        .match_indices("<tr class=\"order\">")
        .map(|(at, open)| row_cells(&stdout[at..], open))
        .collect();
    assert_eq!(
        rows.len(),
        planned.len() - 1,
        "one row per planned step after the first"
    );
    for (row, pair) in rows.iter().zip(planned.windows(2)) {
        let (before, step) = (pair[0], pair[1]);
        assert_eq!(row[0], format!("{}. {}", step["index"], name(step)));
        assert_eq!(row[1], format!("{}. {}", before["index"], name(before)));
        assert!(!row[2].is_empty(), "{row:?}");
    }
    // The XMPP A record moved before the route that makes it right is what
    // the DNS rules refuse: that swap's row names the rule.
    let a9 = rows
        .iter()
        .find(|row| row[0].ends_with("A9 set-xmpp-a-record"))
        .expect("a row for A9");
    assert!(
        a9[1].ends_with("A7 set-xmpp-federation-route") && a9[2].contains("dns.xmpp-a-record"),
        "{a9:?}"
    );
    let (code, _, stderr) = run(failback().args(["report", "7", "--env"]).arg(&env));
    assert_eq!(code, 1);
    assert!(stderr.contains("the journal has no run 7"), "{stderr}");
}

/// Every lab scenario's report in headless Chromium: the screenshot is not
/// blank, and the page the browser built holds every step and every finding.
#[test]
fn every_scenario_report_renders_in_a_browser() {
    for scenario in Scenario::ALL.map(Scenario::name) {
        let dir = lab(scenario);
        let env = dir.path().join("failback.toml");
        let report = dir.path().join("report.html");
        let (code, _, stderr) = run(failback()
            .args(["plan", "--format", "html", "--out"])
            .arg(&report)
            .arg("--env")
            .arg(&env));
        assert!(code == 0 || code == 3, "{scenario}: {stderr}");
        let plan = plan_json_any(&env);

        let screenshot = dir.path().join("report.png");
        let out = chromium()
            .arg(format!("--screenshot={}", screenshot.display()))
            .arg("--window-size=1280,2000")
            .arg(url(&report))
            .output()
            .expect("chromium runs (scripts/test installs it)");
        assert!(out.status.success(), "{scenario}: chromium failed: {out:?}");
        let inked = inked_pixels(&screenshot);
        assert!(
            inked > 20_000,
            "{scenario}: the screenshot is blank ({inked} pixels drawn)"
        );

        let dom = browser_dom(&report);
        for step in plan["steps"].as_array().unwrap() {
            let id = format!("id=\"step-{}\"", step["index"]);
            assert!(dom.contains(&id), "{scenario}: no {id} in the page");
        }
        let findings = plan["findings"].as_array().unwrap();
        assert_eq!(
            dom.matches("<tr class=\"finding\">").count(),
            findings.len(),
            "{scenario}: every finding, once"
        );
        for finding in findings {
            let rule = finding["rule"].as_str().unwrap();
            assert!(
                dom.contains(rule),
                "{scenario}: no finding {rule} in the page"
            );
        }
        assert!(dom.contains("Why this order"), "{scenario}");
    }
}

/// The plan of `env` as JSON, vetoed or not.
fn plan_json_any(env: &Path) -> serde_json::Value {
    let (code, stdout, stderr) = run(failback()
        .args(["plan", "--format", "json", "--env"])
        .arg(env));
    assert!(code == 0 || code == 3, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// Headless Chromium. `--no-sandbox`: the tests may run as root (in CI
/// containers), where Chromium refuses its sandbox; the page is our own file.
fn chromium() -> std::process::Command {
    let mut command = std::process::Command::new("chromium");
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
    ]);
    command
}

fn url(file: &Path) -> String {
    format!("file://{}", file.display())
}

/// The DOM Chromium built from `file`, serialized.
fn browser_dom(file: &Path) -> String {
    let out = chromium()
        .arg("--dump-dom")
        .arg(url(file))
        .output()
        .expect("chromium runs (scripts/test installs it)");
    assert!(out.status.success(), "chromium failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// How many pixels of the PNG `path` differ from its top-left pixel (the
/// page's background).
fn inked_pixels(path: &Path) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let channels = info.color_type.samples();
    let pixels = &buffer[..info.buffer_size()];
    let background = &pixels[..channels];
    pixels
        .chunks(channels)
        .filter(|pixel| *pixel != background)
        .count()
}
