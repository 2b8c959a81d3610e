use failback_core::deployment::assemble;
use failback_core::document::{self, DocumentError, first_difference};
use failback_core::intent::{Intent, IntentFlags};
use failback_core::lab::{self, Scenario};
use failback_core::observed::RecordData;
use failback_core::operation as op;
use failback_core::plan::{Action, Operation, OperationsError, Plan, plan};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::lab_reader;

fn sealed(s: Scenario) -> Plan {
    let snap = assemble(&lab_reader::observe(&lab::files(s))).unwrap();
    let intent = Intent::resolve(&IntentFlags::default(), &snap.deployment).unwrap();
    let mut p = plan(&snap, &intent).unwrap();
    p.seal().unwrap();
    p
}

fn step_of(p: &Plan, action: Action) -> usize {
    p.steps.iter().position(|s| s.action == action).unwrap()
}

#[test]
fn the_digest_is_the_sha256_of_the_canonical_json_without_the_digest() {
    let p = sealed(Scenario::EdgeFailover);
    let canonical = document::canonical(&p).unwrap();
    let text = std::str::from_utf8(&canonical).unwrap();
    // RFC 8785: sorted keys, no whitespace; the digest member is left out.
    assert!(
        text.starts_with("{\"drafts\":{\"draft-1\":"),
        "{}",
        &text[..40]
    );
    assert!(!text.contains("\"digest\""));
    assert!(!text.contains("\n  "));
    use sha2::Digest as _;
    assert_eq!(p.digest, hex::encode(sha2::Sha256::digest(&canonical)));
    // Key order and whitespace of the file do not change it.
    let mut value: Value = serde_json::from_str(&p.to_json()).unwrap();
    value.as_object_mut().unwrap().remove("digest");
    let compact = serde_json::to_string(&value).unwrap();
    let reread: Plan =
        serde_json::from_str(&compact.replacen('{', &format!("{{\"digest\":\"{}\",", p.digest), 1))
            .unwrap();
    assert_eq!(document::digest(&reread).unwrap(), p.digest);
}

#[test]
fn a_document_reads_back_as_itself() {
    for s in Scenario::ALL {
        let p = sealed(s);
        assert_eq!(document::read(&p.to_json()).unwrap(), p, "{}", s.name());
    }
}

#[test]
fn an_unknown_field_anywhere_is_refused_naming_its_path() {
    let p = sealed(Scenario::EdgeFailover);
    let mut value: Value = serde_json::from_str(&p.to_json()).unwrap();
    value["steps"][2]["operations"][0]["force"] = json!(true);
    let err = document::read(&value.to_string()).unwrap_err();
    assert!(
        matches!(&err, DocumentError::Shape { detail: m, .. } if m.contains("steps[2].operations[0]") && m.contains("force")),
        "{err}"
    );
    assert!(!crate::schema::errors(&value).is_empty());
}

#[test]
fn an_edited_document_whose_digest_was_not_recomputed_is_refused() {
    let p = sealed(Scenario::EdgeFailover);
    let text = p
        .to_json()
        .replace("edgepool2.contoso.com", "edgepool9.contoso.com");
    assert!(matches!(
        document::read(&text),
        Err(DocumentError::Digest { .. })
    ));
}

#[test]
fn another_format_version_is_refused_naming_it() {
    let p = sealed(Scenario::XmppOnly);
    let text = p
        .to_json()
        .replace("\"format_version\": 4", "\"format_version\": 1");
    let err = document::read(&text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "it has format version 1, this failback reads version 4"
    );
}

/// A plan saved by a failback of format version 3 (before operations in
/// batches) is refused naming both versions, not read as misshapen at its
/// first `set-site-route`.
#[test]
fn a_plan_saved_in_format_version_3_is_refused_naming_both_versions() {
    let p = sealed(Scenario::EdgeAndFrontEndFailover);
    let text = as_format_version_3(&p.to_json());
    assert!(text.contains("\"op\": \"set-site-route\""), "{text}");
    assert!(text.contains("\"op\": \"await-replica\""), "{text}");
    let err = document::read(&text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "it has format version 3, this failback reads version 4"
    );
}

#[test]
fn the_first_difference_names_the_step_and_the_field() {
    let p = sealed(Scenario::EdgeFailover);
    let mut edited = p.clone();
    let i = step_of(&p, Action::SetXmppARecord);
    let Operation::ReplaceRrset(op::ReplaceRrset { data, .. }) = &mut edited.steps[i].operations[0]
    else {
        panic!("{:?}", edited.steps[i].operations);
    };
    data[0] = RecordData::A("203.0.113.66".into());
    let d = first_difference(&edited, &p).unwrap();
    assert_eq!(d.step, Some((p.steps[i].index, Action::SetXmppARecord)));
    assert_eq!(d.field, "operations[0].data[0].address");
    assert_eq!(d.left, "\"203.0.113.66\"");
    assert_eq!(d.right, "\"131.107.155.10\"");
    assert!(first_difference(&p, &p.clone()).is_none());
}

#[test]
fn a_draft_that_differs_is_named_with_its_line_and_the_step_that_publishes_it() {
    let p = sealed(Scenario::EdgeAndFrontEndFailover);
    let mut edited = p.clone();
    let draft = edited.drafts.get_mut("draft-2").unwrap();
    *draft = draft.replacen(
        "ConfiguredFqdn=\"sip.contoso.com\"",
        "ConfiguredFqdn=\"sip.evil.example\"",
        1,
    );
    let d = first_difference(&edited, &p).unwrap();
    assert_eq!(d.field, "drafts.draft-2");
    let publisher = p
        .steps
        .iter()
        .find(|s| s.action == Action::ReassociateFrontEnds)
        .unwrap()
        .index;
    assert_eq!(d.published_by, Some(publisher));
    assert!(
        d.left.starts_with("line ") && d.left.contains("sip.evil.example"),
        "{d}"
    );
}

/// An operation that writes something other than what its step's changes
/// say (the policies judged the changes) is refused before anything runs.
#[test]
fn an_edited_operation_disagrees_with_its_changes() {
    let p = sealed(Scenario::EdgeFailover);
    let states = p.states().unwrap();
    let i = step_of(&p, Action::SetXmppARecord);
    let mut step = p.steps[i].clone();
    step.check_operations(&states[i]).unwrap();
    let Operation::ReplaceRrset(op::ReplaceRrset { data, .. }) = &mut step.operations[0] else {
        panic!();
    };
    data[0] = RecordData::A("203.0.113.66".into());
    let err = step.check_operations(&states[i]).unwrap_err();
    assert!(matches!(err, OperationsError::Disagree { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("record A xmpp.contoso.com data: changes 131.107.155.10, 131.107.155.11 ttl 300, operations 131.107.155.11, 203.0.113.66 ttl 300"),
        "{err}"
    );

    let mut step = p.steps[i].clone();
    let Operation::ReplaceRrset(op::ReplaceRrset { zone, .. }) = &mut step.operations[0] else {
        panic!();
    };
    *zone = "fabrikam.com".into();
    assert_eq!(
        step.check_operations(&states[i]).unwrap_err().to_string(),
        "step 12 (set-xmpp-a-record): operation 0 (replace-rrset) writes to zone `fabrikam.com`, but the deployment's zone is `contoso.com`"
    );
}

/// A10 predicts edgepool1's TCP 5269 open only through the probe that names
/// the pool: a probe that names another pool, or none, disagrees with the
/// step's change, so a saved plan cannot make the policies judge a port open
/// that no probe verifies.
#[test]
fn a_port_predicted_open_needs_the_probe_that_verifies_it() {
    let p = sealed(Scenario::EdgeFailover);
    let states = p.states().unwrap();
    let i = step_of(&p, Action::VerifyXmppPort);
    let step = &p.steps[i];
    step.check_operations(&states[i]).unwrap();
    let last = step.operations.len() - 1;

    let mut other = step.clone();
    let Operation::Probe(probe) = &mut other.operations[last] else {
        panic!("A10 probes");
    };
    probe.edge_pool = Some("edgepool2.contoso.com".into());
    let err = other.check_operations(&states[i]).unwrap_err();
    assert!(matches!(err, OperationsError::Disagree { .. }), "{err}");

    let mut none = step.clone();
    let Operation::Probe(probe) = &mut none.operations[last] else {
        panic!("A10 probes");
    };
    probe.edge_pool = None;
    let err = none.check_operations(&states[i]).unwrap_err();
    assert!(err.to_string().contains("xmpp_port_open"), "{err}");
}

/// A step whose changes say more, or less, than its operations do is refused
/// as well: the operations are checked against the changes in place while
/// they agree, and the two states compared once they part.
#[test]
fn changes_that_no_operation_makes_or_that_are_left_out_disagree() {
    let p = sealed(Scenario::EdgeFailover);
    let states = p.states().unwrap();
    for action in [Action::SetFederationEdge, Action::SetXmppFederationRoute] {
        let i = step_of(&p, action);
        p.steps[i].check_operations(&states[i]).unwrap();

        let mut more = p.steps[i].clone();
        let extra = p.steps[step_of(&p, Action::SetXmppARecord)].changes[0].clone();
        more.changes.push(extra);
        let err = more.check_operations(&states[i]).unwrap_err();
        assert!(
            err.to_string()
                .contains("its operations do not do what its changes say: record A xmpp.contoso.com data: changes"),
            "{err}"
        );

        let mut fewer = p.steps[i].clone();
        fewer.changes.pop();
        let err = fewer.check_operations(&states[i]).unwrap_err();
        assert!(matches!(err, OperationsError::Disagree { .. }), "{err}");
    }
}

#[test]
fn every_step_of_every_plan_does_what_its_changes_say() {
    for s in Scenario::ALL {
        let p = sealed(s);
        let states = p.states().unwrap();
        for (step, before) in p.steps.iter().zip(&states) {
            step.check_operations(before)
                .unwrap_or_else(|e| panic!("{}: {e}", s.name()));
        }
    }
}

#[test]
fn an_approval_added_changes_neither_the_digest_nor_the_reading() {
    let p = sealed(Scenario::EdgeFailover);
    let mut approved = p.clone();
    approved.approvals.push(failback_core::plan::Approval {
        signature: "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
            .to_owned(),
        key: "SHA256:K9gGyX8OAK8aH8Myj6djqSaXI8jbj6xPk69x2xhtbpA".to_owned(),
        comment: "alice@contoso.com".to_owned(),
        at: "2026-12-01T17:30:00Z".to_owned(),
    });
    assert_eq!(document::digest(&approved).unwrap(), p.digest);
    let text = approved.to_json();
    assert_eq!(document::read(&text).unwrap(), approved);
    crate::schema::validate("approved", &text);
    // A document none approved has no `approvals` member at all.
    assert!(!p.to_json().contains("\"approvals\""));
}

/// `plan`, a format version 4 document, as a failback of format version 3
/// wrote it: one `set-site-route` per route of a `set-site-routes`, and a
/// `replicate` and an `await-replica` per replica of a `replicate`.
fn as_format_version_3(plan: &str) -> String {
    let mut value: Value = serde_json::from_str(plan).unwrap();
    value["format_version"] = json!(3);
    for step in value["steps"].as_array_mut().unwrap() {
        let operations = std::mem::take(step["operations"].as_array_mut().unwrap());
        step["operations"] = operations
            .into_iter()
            .flat_map(|op| match op["op"].as_str() {
                Some("set-site-routes") => op["routes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        json!({"op": "set-site-route", "site": r["site"], "kind": r["kind"], "identity": r["identity"]})
                    })
                    .collect(),
                Some("replicate") => op["fqdns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|fqdn| {
                        [
                            json!({"op": "replicate", "fqdn": fqdn}),
                            json!({"op": "await-replica", "fqdn": fqdn}),
                        ]
                    })
                    .collect(),
                _ => vec![op],
            })
            .collect();
    }
    serde_json::to_string_pretty(&value).unwrap()
}

/// Characters that test a canonical writer: control characters (escaped),
/// quotes and backslashes, the private-use block just below U+FFFF and
/// characters above it (whose UTF-16 order differs from their UTF-8 order),
/// and plain letters.
fn canonical_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::char::range('a', 'e'),
        prop::char::range('\u{0}', '\u{1f}'),
        prop::sample::select(vec!['"', '\\', '/', '\u{7f}', 'é', '\u{2028}']),
        prop::char::range('\u{e000}', '\u{e002}'),
        prop::char::range('\u{fffd}', '\u{ffff}'),
        prop::char::range('\u{10000}', '\u{10002}'),
        any::<char>(),
    ]
}

fn canonical_text() -> impl Strategy<Value = String> {
    prop::collection::vec(canonical_char(), 0..6).prop_map(String::from_iter)
}

/// Any JSON value serde_json holds: every number kind, texts and member
/// names of the characters above, nested.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![0u64, 1, 9_007_199_254_740_992, 9_007_199_254_740_993])
            .prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            -0.0,
            0.5,
            1e21,
            1e-7,
            123.456,
            f64::MAX,
            f64::MIN_POSITIVE
        ])
        .prop_map(Value::from),
        canonical_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(canonical_text(), inner, 0..8)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The digest's canonical writer writes what the RFC 8785 library it
    /// replaced (`serde_json_canonicalizer`) writes, byte for byte.
    #[test]
    fn the_canonical_writer_writes_what_serde_json_canonicalizer_writes(value in json_value()) {
        let mut ours = Vec::new();
        document::write_canonical(&value, &mut ours).unwrap();
        prop_assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json_canonicalizer::to_string(&value).unwrap()
        );
    }
}

/// Every lab plan, and a plan over a grown lab, has the digest the RFC 8785
/// library gives: plans saved before the canonical writer read back.
#[test]
fn every_plan_digest_is_the_one_serde_json_canonicalizer_gives() {
    let mut plans: Vec<Plan> = Scenario::ALL.into_iter().map(sealed).collect();
    let grown = lab::files_with_sites(Scenario::EdgeFailover, 30).unwrap();
    let snap = assemble(&lab_reader::observe(&grown)).unwrap();
    let intent = Intent::resolve(&IntentFlags::default(), &snap.deployment).unwrap();
    let mut p = plan(&snap, &intent).unwrap();
    p.seal().unwrap();
    plans.push(p);
    for p in plans {
        let mut value = serde_json::to_value(&p).unwrap();
        let members = value.as_object_mut().unwrap();
        members.remove("digest");
        members.remove("approvals");
        let theirs = serde_json_canonicalizer::to_vec(&value).unwrap();
        assert_eq!(document::canonical(&p).unwrap(), theirs);
        use sha2::Digest as _;
        assert_eq!(p.digest, hex::encode(sha2::Sha256::digest(&theirs)));
    }
}
