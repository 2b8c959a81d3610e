//! `failback journal setup`, `failback journal migrate` and `failback
//! unlock`: the shared journal on PostgreSQL (`failback_runtime::pg`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use failback_runtime::Holder;
use failback_runtime::audit_log::{AUDIT_FILE, verify_anchored, verify_text_anchored};
use failback_runtime::journal::JOURNAL_FILE;
use failback_runtime::pg::{self, PgJournal, Target};
use failback_runtime::{JournalStore as _, SqliteJournal};

use crate::Outcome;
use crate::cli::UnlockArgs;
use crate::session;
use crate::store::{self, Store};

/// The user of a `postgres://user@host/…` URL, and the URL with another
/// user in its place.
fn with_user(url: &str, user: &str) -> Result<(String, String)> {
    let (scheme, rest) = url
        .split_once("://")
        .with_context(|| format!("`{url}` is not a PostgreSQL URL"))?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some((app, host)) = authority.rsplit_once('@') else {
        bail!("the journal URL `{url}` names no user: the application role is its user");
    };
    Ok((app.to_owned(), format!("{scheme}://{user}@{host}{tail}")))
}

pub fn setup(env: &Path, owner: &str, owner_password_env: Option<&str>) -> Result<Outcome> {
    let opened = session::open_environment(env)?;
    let Some(binding) = opened.environment.journal else {
        bail!(
            "the environment `{}` has no `[journal]`: its journal is the local one, which needs no setup",
            env.display()
        );
    };
    let (app, owner_url) = with_user(&binding.url, owner)?;
    let mut owner_binding = binding.clone();
    owner_binding.url = owner_url;
    owner_binding.password_env = owner_password_env.map(str::to_owned);
    let target: Target = store::target(&owner_binding, &opened.dir)?;
    let done = pg::setup(&target, &app)
        .with_context(|| format!("cannot set up the journal as `{owner}`"))?;
    if done.applied.is_empty() {
        eprintln!(
            "the journal's schema is at version {} already; `{app}` is granted what it needs",
            done.from
        );
    } else {
        eprintln!(
            "migrated the journal's schema from version {} to {} as `{owner}`; `{app}` may read and write the journal and append to the audit trail, and nothing else",
            done.from,
            pg::SCHEMA_VERSION
        );
    }
    Ok(Outcome::Ok)
}

pub fn unlock(args: &UnlockArgs) -> Result<Outcome> {
    let Store::Shared { target, deployment } = Store::of(&args.env)? else {
        bail!(
            "`failback unlock` is for a shared journal (`[journal]`): the local lock of `{}` is let go when its holder exits, however it exits",
            args.env.display()
        );
    };
    if args.reason.trim().is_empty() {
        bail!("`--reason` is empty: say why, for the audit trail");
    }
    let journal = PgJournal::open(&target, &deployment)?;
    let unlocked = journal
        .unlock(&args.reason, args.force, &Holder::this_process("unlock"))
        .with_context(|| format!("refusing to unlock the deployment `{deployment}`"))?;
    match unlocked.previous {
        None => {
            eprintln!("nobody held the lock of the deployment `{deployment}`; nothing was done")
        }
        Some(previous) if unlocked.ended => eprintln!(
            "ended the session of {previous} and cleared the lock of the deployment `{deployment}`; the unlock is in the audit trail"
        ),
        Some(previous) => eprintln!(
            "the lock of the deployment `{deployment}` was free (its holder's session had ended): cleared the holder row of {previous}; the unlock is in the audit trail"
        ),
    }
    Ok(Outcome::Ok)
}

/// `failback journal migrate`'s arguments.
pub struct Migrate {
    pub env: PathBuf,
    pub to: String,
    pub deployment: String,
    pub password_env: Option<String>,
    pub ca: Option<PathBuf>,
}

pub fn migrate(args: &Migrate) -> Result<Outcome> {
    let state = session::root_of(&args.env).join(session::STATE_DIR);
    let (journal_path, audit_path) = (state.join(JOURNAL_FILE), state.join(AUDIT_FILE));
    if !journal_path.exists() {
        bail!(
            "the environment `{}` has no local journal to copy (`{}` is absent)",
            args.env.display(),
            journal_path.display()
        );
    }
    let local = SqliteJournal::open(&journal_path)?;
    let runs = pg::export_runs(&local)?;
    let anchors = local.anchors()?;
    let lines: Vec<String> = if audit_path.exists() {
        let verified = verify_anchored(&audit_path, &anchors)
            .context("refusing to copy an audit log that does not verify")?;
        if verified.torn.is_some() {
            bail!(
                "the audit log's last line was cut short by a crash: `failback resume` (or `apply`) repairs it; copy after that"
            );
        }
        std::fs::read_to_string(&audit_path)
            .with_context(|| format!("cannot read `{}`", audit_path.display()))?
            .lines()
            .map(str::to_owned)
            .collect()
    } else {
        Vec::new()
    };
    let ca = args
        .ca
        .as_ref()
        .map(|p| std::fs::read(p).with_context(|| format!("cannot read `{}`", p.display())))
        .transpose()?;
    let target = Target::new(&args.to, args.password_env.as_deref(), ca.as_deref())?;
    let shared = PgJournal::open(&target, &args.deployment)?;
    shared
        .lock(
            &Holder::this_process("journal migrate"),
            std::time::Duration::ZERO,
        )
        .context("refusing to copy")?;
    if !shared.runs(1)?.is_empty() || !shared.audit_lines()?.is_empty() {
        bail!(
            "refusing to copy: the deployment `{}` already has runs or audit records in the shared journal",
            args.deployment
        );
    }
    let mut records = Vec::with_capacity(lines.len());
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line)
            .with_context(|| "an audit line is not a JSON record".to_owned())?;
        let field = |name: &str| {
            value
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let seq = value.get("seq").and_then(serde_json::Value::as_u64);
        let (Some(seq), Some(prev), Some(hash)) = (seq, field("prev"), field("hash")) else {
            bail!("an audit line lacks its `seq`, `prev` or `hash`");
        };
        records.push((seq, prev, hash, line.clone()));
    }
    shared.import(runs.clone(), records)?;
    // The copy, read back, is the original.
    let copied = pg::export_runs(&shared)?;
    if copied != runs {
        bail!(
            "the copy does not read back as the original: check the shared journal before using it"
        );
    }
    let copied_lines = shared.audit_lines()?;
    if copied_lines != lines {
        bail!("the audit trail does not read back as the original");
    }
    let mut text = Vec::new();
    for line in &copied_lines {
        text.extend_from_slice(line.as_bytes());
        text.push(b'\n');
    }
    let verified = verify_text_anchored(&text, &shared.anchors()?)?;
    shared.release()?;
    eprintln!(
        "copied {} run{} and {} audit records into the deployment `{}`, and checked the copy: every run, step and operation equal, the chain holds (last sha256 {}) with every anchor found",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        verified.records,
        args.deployment,
        verified.last_hash
    );
    eprintln!(
        "to use it, add to `{}`:\n  [journal]\n  url = \"{}\"\n  deployment = \"{}\"",
        args.env.display(),
        args.to,
        args.deployment
    );
    Ok(Outcome::Ok)
}
