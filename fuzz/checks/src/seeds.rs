//! The targets' seeds, generated from what the formats are today: the lab's
//! files for every scenario (and each grown with every shape a generated lab
//! adds), the plan snapshots without their snapshot header and the plans of
//! every lab, the captured state of every lab, DNS answers signed with the
//! fixed key (one message, a transfer, unsigned), and XMPP answers as servers
//! and other listeners give them. `fuzz-seeds DIR` writes them to
//! `DIR/<target>/<name>`; the replay test checks each with its target.

use std::collections::BTreeMap;
use std::path::Path;

use crate::records;
use failback_core::capture::CapturedState;
use failback_core::deployment::assemble;
use failback_core::intent::{Intent, IntentFlags};
use failback_core::observed::{Observation, RecordData};
use failback_core::plan::{PluginDigest, plan};
use failback_plugin_sdk::dns as wit;
use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::Name;

use crate::dns_answer;

/// One seed: its target, a name for its file, its bytes.
#[derive(Debug, Clone)]
pub struct Seed {
    pub target: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
}

fn seed(target: &'static str, name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Seed {
    Seed {
        target,
        name: name.into(),
        bytes: bytes.into(),
    }
}

/// Every seed of every target.
#[must_use]
pub fn all() -> Vec<Seed> {
    let mut out = Vec::new();
    let labs = crate::lab::file_sets();
    let mut observations = Vec::new();
    for (name, files) in &labs {
        if let Some(xml) = crate::lab::file(files, "store/topology.xml") {
            out.push(seed("topology", format!("{name}.xml"), xml));
        }
        let zone_path = format!("dns/{}.zone", crate::lab::ZONE);
        if let Some(zone) = crate::lab::file(files, &zone_path) {
            out.push(seed("zone", format!("{name}.zone"), zone));
        }
        if let Some(observation) = crate::lab::observe(files) {
            observations.push((name.clone(), observation));
        }
    }
    for (name, observation) in &observations {
        if let Some(state) = captured(observation) {
            out.push(seed(
                "state_document",
                format!("{name}.json"),
                state.to_json(),
            ));
        }
        out.extend(plans(name, observation));
    }
    out.extend(plan_snapshots());
    // The observation target: each lab as it is (a choice and no change),
    // then with changes the bytes after make.
    for i in 0..observations.len() {
        let i = u8::try_from(i).unwrap_or(u8::MAX);
        out.push(seed("observation", format!("lab-{i}"), vec![i, 0]));
        let changes: Vec<u8> = std::iter::once(i)
            .chain(std::iter::once(8))
            .chain((0u8..64).map(|k| k.wrapping_mul(37).wrapping_add(i)))
            .collect();
        out.push(seed("observation", format!("lab-{i}-changed"), changes));
    }
    out.extend(dns_answers(&observations));
    out.extend(xmpp_answers());
    out.extend(formats());
    out
}

/// Write every seed under `dir/<target>/`.
///
/// # Errors
/// When a directory or a file cannot be written.
pub fn write(dir: &Path) -> std::io::Result<usize> {
    let seeds = all();
    for seed in &seeds {
        let target = dir.join(seed.target);
        std::fs::create_dir_all(&target)?;
        std::fs::write(target.join(&seed.name), &seed.bytes)?;
    }
    Ok(seeds.len())
}

/// The captured state of `observation`, as `failback observe` writes it.
fn captured(observation: &Observation) -> Option<CapturedState> {
    let plugin = |name: &str| PluginDigest {
        name: name.to_owned(),
        sha256: "ab".repeat(32),
    };
    CapturedState::new(
        "2026-12-01T17:20:00Z".to_owned(),
        "lab".to_owned(),
        "cd".repeat(32),
        BTreeMap::from([
            ("dns-provider".to_owned(), plugin("lab-dns")),
            ("management-store".to_owned(), plugin("lab-store")),
        ]),
        observation.clone(),
    )
    .ok()
}

/// The plan documents of the lab `name`: the failback with the default
/// intent, and a failover to edgepool2.
fn plans(name: &str, observation: &Observation) -> Vec<Seed> {
    let Ok(snapshot) = assemble(observation) else {
        return Vec::new();
    };
    let failover = IntentFlags {
        failover: true,
        to: Some("edgepool2.contoso.com".to_owned()),
        ..IntentFlags::default()
    };
    let mut out = Vec::new();
    for (kind, flags) in [("failback", IntentFlags::default()), ("failover", failover)] {
        let Ok(intent) = Intent::resolve(&flags, &snapshot.deployment) else {
            continue;
        };
        if let Ok(mut made) = plan(&snapshot, &intent)
            && made.seal().is_ok()
        {
            out.push(seed(
                "plan_document",
                format!("{name}-{kind}.json"),
                made.to_json(),
            ));
        }
    }
    out
}

/// The plan snapshots of host/core's corpus, without their snapshot header.
fn plan_snapshots() -> Vec<Seed> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../host/core/tests/core/snapshots");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".json.snap") else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        // `---`, the header's lines, `---`, then the snapshot.
        let Some(body) = text
            .strip_prefix("---\n")
            .and_then(|t| t.split_once("\n---\n"))
            .map(|(_, body)| body)
        else {
            continue;
        };
        out.push(seed("plan_document", format!("snapshot-{stem}.json"), body));
    }
    out
}

/// A response to the fixed request, with `answers` in its answer section.
fn response(answers: Vec<hickory_proto::rr::Record>) -> Message {
    let mut message = dns_answer::request();
    message.metadata.message_type = MessageType::Response;
    message.metadata.op_code = OpCode::Update;
    message.answers = answers;
    message
}

/// Signed answers: an UPDATE's, a zone transfer's three messages (signed,
/// unsigned, signed) carrying a lab's records, and an unsigned one.
fn dns_answers(observations: &[(String, Observation)]) -> Vec<Seed> {
    let mut out = Vec::new();
    let request_mac = dns_answer::request_mac();
    let now = dns_answer::NOW;
    if let Some(update) =
        dns_answer::signed_answer(&request_mac, &[], &response(Vec::new()), false, now)
    {
        out.push(seed("dns_answer", "update", dns_answer::framed(&[update])));
    }
    let records: Vec<_> = observations
        .first()
        .map(|(_, o)| o.dns.iter().filter_map(wire).collect())
        .unwrap_or_default();
    let (first, second) = records.split_at(records.len() / 2);
    let first = response(first.to_vec());
    let unsigned = response(second.to_vec());
    let last = response(Vec::new());
    let transfer = (|| {
        let first = dns_answer::signed_answer(&request_mac, &[], &first, false, now)?;
        let unsigned = unsigned.to_vec().ok()?;
        let last = dns_answer::signed_answer(
            &dns_answer::mac_of(&first)?,
            &unsigned,
            &last,
            true,
            now + 1,
        )?;
        Some(vec![first, unsigned, last])
    })();
    if let Some(transfer) = transfer {
        out.push(seed(
            "dns_answer",
            "transfer",
            dns_answer::framed(&transfer),
        ));
    }
    if let Ok(unsigned) = response(Vec::new()).to_vec() {
        out.push(seed(
            "dns_answer",
            "unsigned",
            dns_answer::framed(&[unsigned]),
        ));
    }
    out
}

/// The wire form of one of the lab's records.
fn wire(record: &failback_core::observed::DnsRecord) -> Option<hickory_proto::rr::Record> {
    let (rtype, data) = match &record.data {
        RecordData::A(a) => (wit::RecordType::A, wit::RecordData::A(a.clone())),
        RecordData::Aaaa(a) => (wit::RecordType::Aaaa, wit::RecordData::Aaaa(a.clone())),
        RecordData::Cname(t) => (wit::RecordType::Cname, wit::RecordData::Cname(t.clone())),
        RecordData::Srv(s) => (
            wit::RecordType::Srv,
            wit::RecordData::Srv(wit::SrvData {
                priority: s.priority,
                weight: s.weight,
                port: s.port,
                target: s.target.clone(),
            }),
        ),
        RecordData::Txt(t) => (wit::RecordType::Txt, wit::RecordData::Txt(t.clone())),
    };
    let owner = Name::from_ascii(format!("{}.", record.name)).ok()?;
    records::to_wire(&owner, rtype, record.ttl, &data).ok()
}

/// What listeners on 5269 answer the stream open: Prosody-like servers with
/// and without STARTTLS required, a stream error, a client-to-server
/// listener, and a web server.
fn xmpp_answers() -> Vec<Seed> {
    let header = |ns: &str| {
        format!(
            "<?xml version='1.0'?><stream:stream xmlns='{ns}' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' id='a1b2c3' from='contoso.com' version='1.0'>"
        )
    };
    let tls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    let required = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>";
    let features = |inner: &str| format!("<stream:features>{inner}</stream:features>");
    vec![
        seed(
            "xmpp_stream",
            "server-starttls",
            format!("{}{}", header("jabber:server"), features(tls)),
        ),
        seed(
            "xmpp_stream",
            "server-starttls-required",
            format!("{}{}", header("jabber:server"), features(required)),
        ),
        seed(
            "xmpp_stream",
            "server-dialback",
            format!(
                "{}{}",
                header("jabber:server"),
                features("<dialback xmlns='urn:xmpp:features:dialback'/>")
            ),
        ),
        seed(
            "xmpp_stream",
            "stream-error",
            format!(
                "{}<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>",
                header("jabber:server")
            ),
        ),
        seed(
            "xmpp_stream",
            "client-listener",
            format!("{}{}", header("jabber:client"), features(tls)),
        ),
        seed(
            "xmpp_stream",
            "web-server",
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        ),
    ]
}

/// The repository's files of `pattern`'s form: `dir/*/file`.
fn repository_files(dir: &str, file: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(dir);
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            std::fs::read(e.path().join(file)).ok().map(|b| (name, b))
        })
        .collect();
    out.sort();
    out
}

/// The formats' seeds: the examples' environment files and the plugins'
/// manifests as the repository has them; a key, its public line and an
/// approval made with the fixed key; the empty component, packed with the
/// lab-dns manifest, then signed; an audit log of three records.
fn formats() -> Vec<Seed> {
    use failback_formats::signature::Placement;
    use failback_formats::{approval, audit_log, package, signature};

    use crate::formats::{DIGEST, LAB_MANIFEST, key};

    let mut out = Vec::new();
    for (name, bytes) in repository_files("examples", "failback.toml") {
        out.push(seed("environment_file", format!("{name}.toml"), bytes));
    }
    for (name, bytes) in repository_files("plugins", "plugin.toml") {
        out.push(seed("manifest", format!("{name}.toml"), bytes));
    }
    let key = key();
    if let Ok(private) = key.to_openssh() {
        out.push(seed("keys_and_approvals", "private-key", private));
    }
    if let Ok(public) = key.public_line() {
        out.push(seed("keys_and_approvals", "public-key", public));
    }
    if let Ok(approved) = approval::approve(DIGEST, &key, "2026-12-01T17:30:00Z".to_owned()) {
        out.push(seed("keys_and_approvals", "approval", approved.signature));
    }
    let empty = b"\0asm\x0d\0\x01\0".to_vec();
    out.push(seed("component", "empty", empty.clone()));
    if let Ok(packed) = package::pack(&empty, LAB_MANIFEST) {
        if let Ok(signed) = signature::sign(&packed.bytes, &key, Placement::Embedded) {
            out.push(seed("component", "packed-signed", signed.component));
        }
        out.push(seed("component", "packed", packed.bytes));
    }
    let mut log = String::new();
    let mut prev = "0".repeat(64);
    for (seq, kind) in [
        (1, "run-started"),
        (2, "step-started"),
        (3, "step-finished"),
    ] {
        let (line, hash) = audit_log::format_line(
            seq,
            &prev,
            kind,
            serde_json::json!({"run": 1, "step": "A1"}),
        );
        log.push_str(&line);
        log.push('\n');
        prev = hash;
    }
    out.push(seed("audit_log", "three-records", log));
    out
}
