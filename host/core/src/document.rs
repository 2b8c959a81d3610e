//! The plan document: the one form of a [`Plan`] that `plan --format json`
//! prints, `plan --out` saves, `apply PLAN` reads and the journal keeps.
//!
//! Its JSON is the serde form of [`Plan`], every object read with unknown
//! fields refused. Its **digest** is a stable function of the document, for
//! the journal, the audit log and (later) signed approvals:
//!
//! > sha256 of the RFC 8785 (JCS) canonical JSON of the document without its
//! > `digest` and `approvals` members, as 64 lowercase hex digits.
//!
//! So the digest covers everything that decides what runs and how it is
//! judged: the format version, the intent (with any inherited TTLs), the
//! overrides, the goal, the provenance (the environment file's, each plugin's
//! and each policy module's sha256, and every rule's level), the observed
//! start, every step with its changes and operations, the topology drafts,
//! and the findings. [`Plan::seal`] sets `digest`; [`read`] refuses a document
//! whose `digest` does not match its content.
//!
//! The **approvals** ([`crate::plan::Approval`]) are signatures over the
//! digest, so they stay outside it: adding one changes neither the digest nor
//! anything it covers, and an approval holds for exactly one digest.
//!
//! [`first_difference`] names where two plans part: what `apply PLAN` reports
//! when the saved plan is not the one re-derived now; [`differences`] names
//! every place, for `plan --check`.
//!
//! The same machinery — a `format_version`, a `digest` over the canonical
//! JSON without it, unknown fields refused, the path of a misshapen field
//! named — serves every document failback writes and reads back
//! ([`Sealed`]): the plan, and the captured state of [`crate::capture`].

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::plan::{Action, FORMAT_VERSION, Operation, Plan};

/// A document failback writes with a format version and a digest of its
/// content, and reads back with both checked.
pub trait Sealed: Serialize + DeserializeOwned {
    /// The format version this failback writes and reads.
    const FORMAT_VERSION: u32;
    /// What the document is, for messages (`a plan document`).
    const KIND: &'static str;
    /// The `digest` it states.
    fn stated_digest(&self) -> &str;
}

impl Sealed for Plan {
    const FORMAT_VERSION: u32 = FORMAT_VERSION;
    const KIND: &'static str = "a plan document";
    fn stated_digest(&self) -> &str {
        &self.digest
    }
}

/// A plan document cannot be read, or cannot be put in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("it is not JSON: {0}")]
    Json(String),
    #[error("it has format version {found}, this failback reads version {expected}")]
    FormatVersion { found: String, expected: u32 },
    #[error("it is not {kind}: {detail}")]
    Shape { kind: &'static str, detail: String },
    #[error(
        "its content does not match its digest: it says {stated}, its content has {actual}; it was edited after it was made"
    )]
    Digest { stated: String, actual: String },
    #[error("it cannot be put in canonical form: {0}")]
    Canonical(String),
}

/// The canonical JSON (RFC 8785) of `document` without its `digest` (and a
/// plan's `approvals`): the bytes its digest is the sha256 of.
///
/// # Errors
/// [`DocumentError::Canonical`] if the document cannot be serialized (it
/// always can: every map key is a string).
pub fn canonical(document: &impl Serialize) -> Result<Vec<u8>, DocumentError> {
    let mut value =
        serde_json::to_value(document).map_err(|e| DocumentError::Canonical(e.to_string()))?;
    if let Value::Object(map) = &mut value {
        map.remove("digest");
        map.remove("approvals");
    }
    let mut out = Vec::with_capacity(1 << 16);
    write_canonical(&value, &mut out)?;
    Ok(out)
}

/// Append the RFC 8785 form of `value` to `out`: objects' members sorted by
/// their names' UTF-16 code units, numbers as ECMAScript prints them, strings
/// with only `"`, `\\` and control characters escaped, no whitespace.
///
/// It writes what `serde_json_canonicalizer` writes for the same value (a
/// property test holds the two together) without that crate's buffer per
/// member and re-parse of each member's name, which were most of a plan's
/// digest at a thousand sites.
///
/// # Errors
/// [`DocumentError::Canonical`] for a number that is not finite.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), DocumentError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            // JSON has one number type, the double: an integer is written as
            // the double it rounds to, as ECMAScript's `Number.toString`.
            let double = number.as_f64().filter(|d| d.is_finite()).ok_or_else(|| {
                DocumentError::Canonical(format!("`{number}` is not a finite number"))
            })?;
            out.extend_from_slice(ryu_js::Buffer::new().format_finite(double).as_bytes());
        }
        Value::String(text) => write_string(text, out)?,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            // The map is in UTF-8 order, which is UTF-16's except for names
            // with characters above U+FFFF: sorting an already sorted list
            // is one pass.
            let mut members: Vec<(&String, &Value)> = members.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(name, out)?;
                out.push(b':');
                write_canonical(member, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// A JSON string as RFC 8785 writes it: serde_json's escaping is the same
/// (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control characters as
/// `\u00xx` in lower case; nothing else escaped).
fn write_string(text: &str, out: &mut Vec<u8>) -> Result<(), DocumentError> {
    serde_json::to_writer(out, text).map_err(|e| DocumentError::Canonical(e.to_string()))
}

/// The digest of `document`: see the module docs.
///
/// # Errors
/// As [`canonical`].
pub fn digest(document: &impl Serialize) -> Result<String, DocumentError> {
    Ok(hex::encode(Sha256::digest(canonical(document)?)))
}

/// `document` as pretty JSON with a final newline, fields in their declared
/// order.
#[must_use]
pub fn pretty(document: &impl Serialize) -> String {
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    text
}

impl Plan {
    /// Set `digest` to the digest of the document as it is now. Call it last,
    /// once findings and provenance are in.
    ///
    /// # Errors
    /// As [`canonical`].
    pub fn seal(&mut self) -> Result<(), DocumentError> {
        self.digest = digest(self)?;
        Ok(())
    }

    /// The document as pretty JSON with a final newline, fields in their
    /// declared order.
    #[must_use]
    pub fn to_json(&self) -> String {
        pretty(self)
    }
}

/// Read a plan document: JSON, of this format version, of the plan's shape
/// with no unknown field anywhere, whose `digest` matches its content.
///
/// # Errors
/// [`DocumentError`] naming the first thing that does not hold; a shape error
/// names the path of the offending field (`steps[2].operations[0]`).
pub fn read(text: &str) -> Result<Plan, DocumentError> {
    read_sealed(text)
}

/// Read a [`Sealed`] document: JSON, of its format version, of its shape with
/// no unknown field anywhere, whose `digest` matches its content.
///
/// # Errors
/// As [`read`].
pub fn read_sealed<D: Sealed>(text: &str) -> Result<D, DocumentError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| DocumentError::Json(e.to_string()))?;
    let version = value.get("format_version");
    if version.and_then(Value::as_u64) != Some(u64::from(D::FORMAT_VERSION)) {
        return Err(DocumentError::FormatVersion {
            found: version.map_or_else(|| "none".to_owned(), Value::to_string),
            expected: D::FORMAT_VERSION,
        });
    }
    let document: D = serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        DocumentError::Shape {
            kind: D::KIND,
            detail: if path == "." {
                e.inner().to_string()
            } else {
                format!("`{path}`: {}", e.inner())
            },
        }
    })?;
    let actual = digest(&document)?;
    if document.stated_digest() != actual {
        return Err(DocumentError::Digest {
            stated: document.stated_digest().to_owned(),
            actual,
        });
    }
    Ok(document)
}

/// Where two plans first differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The step the field belongs to (its index and action), when it is in a
    /// step.
    pub step: Option<(usize, Action)>,
    /// The field's path: inside the step (`operations[0].data[0].address`)
    /// when `step` is set, else from the document's root
    /// (`drafts.draft-2`, `start.edge_pools[1].federation_enabled`).
    pub field: String,
    /// For a topology draft: the step that publishes it.
    pub published_by: Option<usize>,
    /// The value in the first plan, and in the second (long texts: the first
    /// line that differs, with its number).
    pub left: String,
    pub right: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((index, action)) = self.step {
            write!(f, "step {index} ({action}), ")?;
        }
        write!(f, "`{}`", self.field)?;
        if let Some(step) = self.published_by {
            write!(f, " (published by step {step})")?;
        }
        write!(f, ": {} against {}", self.left, self.right)
    }
}

/// The order in which a plan's fields are compared: what it was made from
/// first, then what it does.
const FIELD_ORDER: [&str; 9] = [
    "format_version",
    "provenance",
    "intent",
    "overrides",
    "goal",
    "start",
    "steps",
    "drafts",
    "findings",
];

/// The first field where `left` and `right` differ (their `digest` aside), in
/// the order of [`FIELD_ORDER`], then document order within a field: `None`
/// when they are the same document.
#[must_use]
pub fn first_difference(left: &Plan, right: &Plan) -> Option<Difference> {
    let (Ok(l), Ok(r)) = (serde_json::to_value(left), serde_json::to_value(right)) else {
        return None;
    };
    FIELD_ORDER.iter().find_map(|key| {
        first((*key).to_owned(), l.get(*key), r.get(*key))
            .map(|(path, a, b)| difference(left, right, path, a, b))
    })
}

/// Every field where `left` and `right` differ (their `digest` aside), in the
/// order of [`first_difference`]: a step or finding one plan has and the
/// other lacks is one difference (its value against `(absent)`), a changed
/// record or route is one per changed field. Empty when they are the same
/// document.
#[must_use]
pub fn differences(left: &Plan, right: &Plan) -> Vec<Difference> {
    let (Ok(l), Ok(r)) = (serde_json::to_value(left), serde_json::to_value(right)) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for key in FIELD_ORDER {
        every(key.to_owned(), l.get(key), r.get(key), &mut found);
    }
    found
        .into_iter()
        .map(|(path, a, b)| difference(left, right, path, a, b))
        .collect()
}

/// The [`Difference`] at `path` (from the document's root) between `left`'s
/// value `a` and `right`'s `b`.
fn difference(
    left: &Plan,
    right: &Plan,
    path: String,
    a: Option<&Value>,
    b: Option<&Value>,
) -> Difference {
    let (left_text, right_text) = texts(a, b);
    let mut difference = Difference {
        step: None,
        field: path.clone(),
        published_by: None,
        left: left_text,
        right: right_text,
    };
    if let Some(rest) = path.strip_prefix("steps[") {
        let (n, field) = rest.split_once(']').unwrap_or((rest, ""));
        if let Some(step) = n
            .parse::<usize>()
            .ok()
            .and_then(|i| left.steps.get(i).or_else(|| right.steps.get(i)))
        {
            difference.step = Some((step.index, step.action));
            difference.field = field.trim_start_matches('.').to_owned();
            if difference.field.is_empty() {
                difference.field = "(the whole step)".to_owned();
            }
        }
    }
    if let Some(name) = path.strip_prefix("drafts.") {
        difference.published_by = left
            .steps
            .iter()
            .find(|s| {
                s.operations.iter().any(
                    |op| matches!(op, Operation::PublishTopology(publish) if publish.draft == *name),
                )
            })
            .map(|s| s.index);
    }
    difference
}

/// Every path where `a` and `b` differ, with both values, into `out`.
fn every<'v>(
    path: String,
    a: Option<&'v Value>,
    b: Option<&'v Value>,
    out: &mut Vec<(String, Option<&'v Value>, Option<&'v Value>)>,
) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                every(format!("{path}.{k}"), x.get(k), y.get(k), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                every(format!("{path}[{i}]"), x.get(i), y.get(i), out);
            }
        }
        _ if a == b => {}
        _ => out.push((path, a, b)),
    }
}

/// The path and both values where `a` and `b` first differ.
fn first<'v>(
    path: String,
    a: Option<&'v Value>,
    b: Option<&'v Value>,
) -> Option<(String, Option<&'v Value>, Option<&'v Value>)> {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .find_map(|k| first(format!("{path}.{k}"), x.get(k), y.get(k)))
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => (0..x.len().max(y.len()))
            .find_map(|i| first(format!("{path}[{i}]"), x.get(i), y.get(i))),
        _ if a == b => None,
        _ => Some((path, a, b)),
    }
}

/// Both values as a person reads them: a multi-line text as its first line
/// that differs, anything else as compact JSON; long values cut.
fn texts(a: Option<&Value>, b: Option<&Value>) -> (String, String) {
    if let (Some(Value::String(x)), Some(Value::String(y))) = (a, b)
        && (x.contains('\n') || y.contains('\n'))
    {
        let (mut xs, mut ys) = (x.lines(), y.lines());
        for number in 1.. {
            match (xs.next(), ys.next()) {
                (None, None) => break,
                (l, r) if l == r => {}
                (l, r) => {
                    let (l, r) = around_difference(l.unwrap_or(""), r.unwrap_or(""));
                    return (
                        format!("line {number} `{l}`"),
                        format!("line {number} `{r}`"),
                    );
                }
            }
        }
    }
    let one = |v: Option<&Value>| v.map_or_else(|| "(absent)".to_owned(), whole);
    (one(a), one(b))
}

/// A value as a person reads it: a whole finding as its level, rule, state
/// and message, a whole step as its index, action and status; anything else
/// as compact JSON, cut.
fn whole(value: &Value) -> String {
    let text = |key: &str| {
        value
            .get(key)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
    };
    if let (Some(rule), Some(message), Some(level), Some(state)) =
        (text("rule"), text("message"), text("level"), text("state"))
    {
        return format!("finding {level} {rule} at state {state}: {message}");
    }
    if let (Some(index), Some(action), Some(status)) =
        (text("index"), text("action"), text("status"))
    {
        return format!("step {index} {action} ({status})");
    }
    cut(&value.to_string())
}

/// Both lines, trimmed, each cut to the part around where they first differ.
fn around_difference(a: &str, b: &str) -> (String, String) {
    const BEFORE: usize = 30;
    const WIDTH: usize = 90;
    let (a, b) = (a.trim(), b.trim());
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let start = common.saturating_sub(BEFORE);
    let window = |t: &str| {
        let mut out: String = t.chars().skip(start).take(WIDTH).collect();
        if start > 0 {
            out.insert(0, '…');
        }
        if t.chars().count() > start + WIDTH {
            out.push('…');
        }
        out
    };
    (window(a), window(b))
}

/// `text` cut to 120 characters.
fn cut(text: &str) -> String {
    const MAX: usize = 120;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(MAX).collect();
        out.push('…');
        out
    }
}
