//! `failback plugin test`: parse the arguments into the conformance kit's
//! inputs (`failback_runtime::conformance`), run it, and write its report as
//! text, JSON or JUnit XML.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use failback_runtime::conformance::{
    CaseReport, Component, Kit, KitError, Outcome as CaseOutcome, OutcomeKind, Report, Subject,
    XmppServer,
};
use failback_runtime::environment::{HttpGrant, SecretRef};
use failback_runtime::http::Origin;
use failback_runtime::manifest::PluginKind;
use failback_runtime::{LoadError, NullAuditSink, Runtime, package};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use serde::Serialize;

use super::plugin::manifest_beside;
use crate::Outcome;
use crate::cli::{PluginTestArgs, ReportFormat, World};
use crate::session::{OpenedEnvironment, open_cache, open_environment, trust_policy};

/// The JSON report's version: a reader checks it before anything else.
const FORMAT_VERSION: u32 = 1;

fn kind(world: World) -> PluginKind {
    match world {
        World::DnsProvider => PluginKind::DnsProvider,
        World::PortProbe => PluginKind::PortProbe,
        World::ManagementStore => PluginKind::ManagementStore,
        World::ServerControl => PluginKind::ServerControl,
        World::PoolControl => PluginKind::PoolControl,
    }
}

pub fn run(args: PluginTestArgs) -> Result<Outcome> {
    let subject = Subject {
        zone: args.zone.clone(),
        machine: args.machine.clone(),
        xmpp_server: args
            .xmpp_server
            .zip(args.xmpp_domain.clone())
            .map(|(address, domain)| XmppServer { address, domain }),
        listeners: None,
    };
    let runtime =
        Runtime::new(Arc::new(NullAuditSink)).context("cannot start the plugin runtime")?;
    let cache = open_cache()?;
    let kit = Kit {
        runtime: &runtime,
        cache: &cache,
    };
    let report = match (&args.env, args.kind, &args.file, args.world) {
        (Some(env), Some(world), _, _) => test_binding(kit, env, kind(world), subject)?,
        (None, _, Some(file), Some(world)) => test_file(kit, file, kind(world), &args, subject)?,
        // clap requires FILE and --world, or --env and --kind.
        _ => bail!("give FILE and --world, or --env and --kind"),
    };
    let out = match args.format {
        ReportFormat::Text => text(&report),
        ReportFormat::Json => json(&report)?,
        ReportFormat::Junit => junit(&report)?,
    };
    std::io::stdout().write_all(out.as_bytes())?;
    let failed = report.count(OutcomeKind::Failed);
    if failed > 0 {
        bail!(
            "{failed} conformance case{} failed",
            if failed == 1 { "" } else { "s" }
        );
    }
    Ok(Outcome::Ok)
}

fn test_binding(kit: Kit<'_>, env: &Path, kind: PluginKind, subject: Subject) -> Result<Report> {
    let OpenedEnvironment {
        environment, dir, ..
    } = open_environment(env)?;
    let trust = trust_policy(&environment, &dir)?;
    kit.test_binding(
        &environment,
        &trust,
        kind,
        &dir,
        &|name| std::env::var(name).ok(),
        subject,
    )
    .map_err(|e| hinted(e, kind, false))
    .with_context(|| format!("cannot test the `{kind}` plugin of `{}`", env.display()))
}

/// The kit's error, with what to give on the command line when it lacks
/// something (`file`: testing a component file, not an environment's plugin).
fn hinted(error: KitError, kind: PluginKind, file: bool) -> anyhow::Error {
    let hint = match &error {
        KitError::Load(LoadError::Capability(_)) if file => "grant a network capability with \
            --grant NAME=ADDR[,ADDR…], name lookup with --grant dns-lookup"
            .to_owned(),
        KitError::NoZone => "give one with --zone ZONE".to_owned(),
        KitError::NoMachine(_) => "give one with --machine FQDN".to_owned(),
        KitError::DirectoryGrant(_) => format!(
            "bind the plugin in an environment file (docs/environment.md) and run \
             `failback plugin test --env failback.toml --kind {kind}`"
        ),
        _ => return error.into(),
    };
    anyhow::anyhow!("{error}; {hint}")
}

fn test_file(
    kit: Kit<'_>,
    file: &Path,
    kind: PluginKind,
    args: &PluginTestArgs,
    subject: Subject,
) -> Result<Report> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?;
    // The manifest named, else the one the component carries (a packed
    // component), else a development build's beside it.
    let carried = package::embedded_manifest_text(&bytes)
        .with_context(|| format!("cannot read `{}`", file.display()))?
        .is_some();
    let manifest_path = match &args.manifest {
        Some(path) => Some(path.clone()),
        None => (!carried).then(|| manifest_beside(file)),
    };
    let manifest = manifest_path
        .map(|path| {
            std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read the manifest `{}` (give it with --manifest, or pack it into the component)",
                    path.display()
                )
            })
        })
        .transpose()?;
    let (network, dns_lookup) = grants(&args.grants)?;
    let (http, secrets) = http_grants(&args.grants, &args.grant_headers)?;
    let component = Component {
        kind,
        bytes,
        manifest,
        config: config(&args.config)?,
        network,
        dns_lookup,
        http,
        secrets,
    };
    let scratch = tempfile::tempdir().context("cannot make a scratch directory")?;
    let scratch_dir = Dir::open_ambient_dir(scratch.path(), ambient_authority())
        .context("cannot open the scratch directory")?;
    kit.test_component(&scratch_dir, component, subject)
        .map_err(|e| hinted(e, kind, true))
        .with_context(|| format!("cannot test `{}`", file.display()))
}

/// `KEY=VALUE` arguments.
fn config(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .with_context(|| format!("--config `{pair}` is not KEY=VALUE"))?;
            Ok((key.to_owned(), value.to_owned()))
        })
        .collect()
}

/// `NAME=ADDR[,ADDR…]` and `dns-lookup` arguments.
fn grants(grants: &[String]) -> Result<(BTreeMap<String, Vec<SocketAddr>>, bool)> {
    let mut network: BTreeMap<String, Vec<SocketAddr>> = BTreeMap::new();
    let mut dns_lookup = false;
    for grant in grants {
        if grant == "dns-lookup" {
            dns_lookup = true;
            continue;
        }
        let Some((name, addresses)) = grant.split_once('=') else {
            bail!("--grant `{grant}` is not NAME=ADDR[,ADDR…], NAME=URL or `dns-lookup`");
        };
        if addresses.contains("://") {
            // An HTTP grant: `http_grants` reads it.
            continue;
        }
        for address in addresses.split(',') {
            let address = address.trim().parse().with_context(|| {
                format!(
                    "--grant `{grant}`: `{address}` is not a socket address (`192.0.2.53:53`, `[::1]:53`)"
                )
            })?;
            network.entry(name.to_owned()).or_default().push(address);
        }
    }
    Ok((network, dns_lookup))
}

/// The HTTP grants among `grants` (`NAME=https://HOST:PORT[/PREFIX]`), with
/// the secret headers of `headers` (`NAME:HEADER=VARIABLE`, the header bound
/// to an environment variable of this process, never to a value on the
/// command line), and the values of those variables.
fn http_grants(
    grants: &[String],
    headers: &[String],
) -> Result<(BTreeMap<String, HttpGrant>, BTreeMap<String, String>)> {
    let mut http = BTreeMap::new();
    for grant in grants {
        let Some((name, url)) = grant.split_once('=') else {
            continue;
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            continue;
        };
        let (authority, prefix) = rest
            .find('/')
            .map_or((rest, "/"), |at| (&rest[..at], &rest[at..]));
        let origin: Origin = format!("{scheme}://{authority}")
            .parse()
            .with_context(|| format!("--grant `{grant}`"))?;
        http.insert(
            name.to_owned(),
            HttpGrant {
                origin,
                path_prefix: match prefix.trim_end_matches('/') {
                    "" => "/".to_owned(),
                    trimmed => trimmed.to_owned(),
                },
                addresses: Vec::new(),
                ca: None,
                headers: BTreeMap::new(),
            },
        );
    }
    let mut secrets = BTreeMap::new();
    for header in headers {
        let parsed = header
            .split_once(':')
            .and_then(|(name, rest)| rest.split_once('=').map(|(h, v)| (name, h, v)));
        let Some((name, field, variable)) = parsed else {
            bail!("--grant-header `{header}` is not NAME:HEADER=VARIABLE");
        };
        let Some(grant) = http.get_mut(name) else {
            bail!(
                "--grant-header `{header}`: `{name}` is not granted an origin by --grant {name}=URL"
            );
        };
        let value = std::env::var(variable).with_context(|| {
            format!("--grant-header `{header}`: environment variable `{variable}` is not set")
        })?;
        grant.headers.insert(
            field.to_ascii_lowercase(),
            SecretRef::Env(variable.to_owned()),
        );
        secrets.insert(variable.to_owned(), value);
    }
    Ok((http, secrets))
}

/// One line per case; the expected and actual value under a failure, the
/// reason under a skip; the notes; the counts.
fn text(report: &Report) -> String {
    let plugin = &report.plugin;
    let mut out = format!(
        "{} {} ({}), sha256 {}\n",
        plugin.name, plugin.version, plugin.world, plugin.sha256
    );
    let width = report
        .cases
        .iter()
        .map(|c| c.case.id.len())
        .max()
        .unwrap_or(0);
    for case in &report.cases {
        let mark = match case.outcome {
            CaseOutcome::Passed => "ok  ",
            CaseOutcome::Failed { .. } => "FAIL",
            CaseOutcome::Skipped { .. } => "skip",
        };
        let _ = writeln!(
            out,
            "{mark}  {:<width$}  {}: {}",
            case.case.id, case.case.function, case.case.promise
        );
        match &case.outcome {
            CaseOutcome::Passed => {}
            CaseOutcome::Failed { expected, actual } => {
                let _ = writeln!(out, "      expected:  {expected}");
                let _ = writeln!(out, "      came back: {actual}");
            }
            CaseOutcome::Skipped { reason } => {
                let _ = writeln!(out, "      skipped: {reason}");
            }
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let _ = writeln!(
        out,
        "{} cases: {} passed, {} failed, {} skipped",
        report.cases.len(),
        report.count(OutcomeKind::Passed),
        report.count(OutcomeKind::Failed),
        report.count(OutcomeKind::Skipped)
    );
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    format_version: u32,
    #[serde(flatten)]
    report: &'a Report,
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    passed: usize,
    failed: usize,
    skipped: usize,
}

fn json(report: &Report) -> Result<String> {
    let mut text = serde_json::to_string_pretty(&JsonReport {
        format_version: FORMAT_VERSION,
        report,
        summary: Summary {
            passed: report.count(OutcomeKind::Passed),
            failed: report.count(OutcomeKind::Failed),
            skipped: report.count(OutcomeKind::Skipped),
        },
    })?;
    text.push('\n');
    Ok(text)
}

fn seconds(case: &CaseReport) -> String {
    format!("{:.3}", case.duration.as_secs_f64())
}

/// JUnit XML, as CI systems read it: one test suite for the plugin, one test
/// case per conformance case, grouped by WIT function.
fn junit(report: &Report) -> Result<String> {
    let plugin = &report.plugin;
    let tests = report.cases.len().to_string();
    let failures = report.count(OutcomeKind::Failed).to_string();
    let skipped = report.count(OutcomeKind::Skipped).to_string();
    let total: f64 = report.cases.iter().map(|c| c.duration.as_secs_f64()).sum();
    let time = format!("{total:.3}");
    let suite = format!("{} {} ({})", plugin.name, plugin.version, plugin.kind);
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    // The one suite's counts are the whole run's.
    let counts = [
        ("tests", tests.as_str()),
        ("failures", failures.as_str()),
        ("errors", "0"),
        ("skipped", skipped.as_str()),
        ("time", time.as_str()),
    ];
    writer
        .create_element("testsuites")
        .with_attribute(("name", "failback plugin test"))
        .with_attributes(counts)
        .write_inner_content(|w| {
            w.create_element("testsuite")
                .with_attribute(("name", suite.as_str()))
                .with_attributes(counts)
                .write_inner_content(|w| {
                    let sha256 = plugin.sha256.to_string();
                    w.create_element("properties").write_inner_content(|w| {
                        for (name, value) in [("world", plugin.world.as_str()), ("sha256", &sha256)]
                        {
                            w.create_element("property")
                                .with_attributes([("name", name), ("value", value)])
                                .write_empty()?;
                        }
                        Ok(())
                    })?;
                    for case in &report.cases {
                        junit_case(w, case)?;
                    }
                    if !report.notes.is_empty() {
                        w.create_element("system-out")
                            .write_text_content(BytesText::new(&report.notes.join("\n")))?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    let mut text = String::from_utf8(writer.into_inner())?;
    text.push('\n');
    Ok(text)
}

fn junit_case(w: &mut Writer<Vec<u8>>, case: &CaseReport) -> std::io::Result<()> {
    let name = format!("{}: {}", case.case.id, case.case.promise);
    let time = seconds(case);
    let element = w.create_element("testcase").with_attributes([
        ("classname", case.case.function),
        ("name", name.as_str()),
        ("time", time.as_str()),
    ]);
    match &case.outcome {
        CaseOutcome::Passed => {
            element.write_empty()?;
        }
        CaseOutcome::Failed { expected, actual } => {
            element.write_inner_content(|w| {
                let message = format!("expected {expected}; came back {actual}");
                w.create_element("failure")
                    .with_attributes([("message", message.as_str()), ("type", "conformance")])
                    .write_text_content(BytesText::new(&format!(
                        "expected:  {expected}\ncame back: {actual}"
                    )))?;
                Ok(())
            })?;
        }
        CaseOutcome::Skipped { reason } => {
            element.write_inner_content(|w| {
                w.create_element("skipped")
                    .with_attribute(("message", reason.as_str()))
                    .write_empty()?;
                Ok(())
            })?;
        }
    }
    Ok(())
}
