use std::collections::BTreeMap;

use failback_core::capture::{CaptureError, CapturedState};
use failback_core::document::{DocumentError, differences};
use failback_core::lab::{self, Scenario};
use failback_core::plan::PluginDigest;
use serde_json::{Value, json};

use crate::support::lab_reader;

fn captured(s: Scenario) -> CapturedState {
    let plugins = BTreeMap::from([(
        "dns-provider".to_owned(),
        PluginDigest {
            name: "lab-dns".to_owned(),
            sha256: "a".repeat(64),
        },
    )]);
    CapturedState::new(
        "2026-12-01T17:20:00Z".to_owned(),
        "contoso-lab".to_owned(),
        "b".repeat(64),
        plugins,
        lab_reader::observe(&lab::files(s)),
    )
    .unwrap()
}

#[test]
fn a_captured_state_reads_back_as_itself_and_matches_its_schema() {
    let schema: Value =
        serde_json::from_str(include_str!("../../../../docs/state.schema.json")).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    for s in Scenario::ALL {
        let state = captured(s);
        let text = state.to_json();
        assert_eq!(CapturedState::read(&text).unwrap(), state, "{}", s.name());
        let value: Value = serde_json::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {}", s.name(), errors.join("\n"));
    }
}

#[test]
fn an_unknown_field_in_the_observation_is_refused_naming_its_path() {
    let mut value: Value =
        serde_json::from_str(&captured(Scenario::EdgeFailover).to_json()).unwrap();
    value["observation"]["sites"][0]["extra_route"] = json!("EdgeServer:evil.contoso.com");
    let err = CapturedState::read(&value.to_string()).unwrap_err();
    assert!(
        matches!(&err, CaptureError::Document(DocumentError::Shape { kind: "a captured state", detail })
            if detail.contains("observation.sites[0]") && detail.contains("extra_route")),
        "{err}"
    );
}

/// The attack: a captured state re-sealed by hand with a value no plugin
/// could report (a record name with a newline). Refused where it enters, as a
/// plugin's report is.
#[test]
fn a_resealed_state_with_a_hostile_value_is_refused_where_it_enters() {
    let mut state = captured(Scenario::EdgeFailover);
    state.observation.dns[0].name = "sip.contoso.com\nRemove-Item".to_owned();
    let mut value: Value = serde_json::from_str(&state.to_json()).unwrap();
    value.as_object_mut().unwrap().remove("digest");
    let digest = failback_core::document::digest(&value).unwrap();
    value["digest"] = json!(digest);
    let err = CapturedState::read(&value.to_string()).unwrap_err();
    assert!(matches!(err, CaptureError::Observation(_)), "{err}");
    assert!(err.to_string().contains("is not a DNS name"), "{err}");
}

/// Found by the `observation` fuzz target (fuzz/regressions/observation/):
/// the gate checks names and addresses, not a TXT record's text, and the
/// captured state's text (`failback observe`, `verify --from`) showed that
/// text raw: a plugin's `\u{1c}` (or an escape sequence) reached the
/// operator's terminal. It is shown escaped, on its line.
#[test]
fn a_txt_record_s_control_character_is_shown_escaped_in_the_captured_state() {
    use failback_core::deployment::assemble;
    use failback_core::observed::RecordData;

    let mut state = captured(Scenario::EdgeFailover);
    let txt = state
        .observation
        .dns
        .iter_mut()
        .find(|r| r.name == "xmpp.contoso.com")
        .unwrap();
    txt.data = RecordData::Txt("\u{1c}\u{1b}[2J".to_owned());
    state.observation.check().unwrap();
    let snapshot = assemble(&state.observation).unwrap();
    let text = failback_core::render::captured(&state, &snapshot.deployment);
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
    assert!(
        text.contains("xmpp.contoso.com TXT \\u{1c}\\u{1b}[2J ttl"),
        "{text}"
    );
}

/// Found by the `observation` fuzz target (fuzz/regressions/observation/):
/// the zone of a captured state was not checked, and its text showed a
/// control character in it (`zone a\u{e}`) raw. A zone that is not a DNS
/// name is refused where it enters.
#[test]
fn a_control_character_in_the_zone_is_refused_where_it_enters() {
    let mut state = captured(Scenario::EdgeFailover);
    state.observation.zone = "a\u{e}".to_owned();
    let resealed = CapturedState::new(
        state.observed_at,
        state.environment,
        state.environment_sha256,
        state.plugins,
        state.observation,
    )
    .unwrap();
    let err = CapturedState::read(&resealed.to_json()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "what it says the plugins reported does not hold: the zone: `a\\u{e}` is not a DNS name"
    );
    // The lab's zone, with or without its final dot, is one.
    let mut state = captured(Scenario::EdgeFailover);
    state.observation.zone = "contoso.com.".to_owned();
    state.observation.check().unwrap();
}

#[test]
fn a_state_of_another_format_version_is_refused() {
    let mut value: Value = serde_json::from_str(&captured(Scenario::XmppOnly).to_json()).unwrap();
    value["format_version"] = json!(2);
    let err = CapturedState::read(&value.to_string()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "it has format version 2, this failback reads version 1"
    );
}

#[test]
fn differences_name_every_changed_field_and_a_new_finding() {
    use failback_core::deployment::assemble;
    use failback_core::intent::{Intent, IntentFlags};
    use failback_core::plan::plan;
    let make = |files: &[(String, Vec<u8>)]| {
        let snap = assemble(&lab_reader::observe(files)).unwrap();
        let intent = Intent::resolve(&IntentFlags::default(), &snap.deployment).unwrap();
        let mut p = plan(&snap, &intent).unwrap();
        p.seal().unwrap();
        p
    };
    let files = lab::files(Scenario::EdgeFailover);
    let approved = make(&files);
    assert!(differences(&approved, &approved.clone()).is_empty());
    let mut now = approved.clone();
    now.findings.push(failback_core::plan::Finding {
        module: "dns".to_owned(),
        rule: "dns.new-rule".to_owned(),
        level: failback_core::plan::Level::Advisory,
        state: 1,
        step: Some(1),
        message: "a new finding".to_owned(),
        values: vec![],
        hint: "look".to_owned(),
        through: 1,
        standing: false,
        blocking: false,
        overridden: None,
    });
    now.start.dns[0].ttl += 1;
    let found = differences(&approved, &now);
    let fields: Vec<&str> = found.iter().map(|d| d.field.as_str()).collect();
    assert!(fields.contains(&"start.dns[0].ttl"), "{fields:?}");
    assert!(fields.contains(&"findings[0]"), "{fields:?}");
    let finding = found.iter().find(|d| d.field == "findings[0]").unwrap();
    assert_eq!(finding.left, "(absent)");
    assert!(finding.right.contains("dns.new-rule"));
}
