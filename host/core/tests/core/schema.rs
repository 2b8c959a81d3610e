use std::sync::OnceLock;

/// The validator of `docs/plan.schema.json`, built once.
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../../docs/plan.schema.json")).unwrap();
        jsonschema::draft202012::new(&schema).unwrap()
    })
}

/// `document` (a plan's JSON) is valid against the schema; every error is
/// named with its path.
pub fn validate(name: &str, document: &str) {
    let value: serde_json::Value = serde_json::from_str(document).unwrap();
    let errors: Vec<String> = validator()
        .iter_errors(&value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {}", errors.join("\n"));
}

/// The errors the schema finds in `value`.
pub fn errors(value: &serde_json::Value) -> Vec<String> {
    validator()
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}
