//! Where an environment's runs are kept: the SQLite journal, lock file and
//! audit log beside the environment file (`.failback/`), or, with `[journal]`
//! in the environment file, the deployment's shared journal on PostgreSQL
//! (`failback_runtime::pg`). The commands that read or write runs open their
//! journal here, whichever store it is.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use failback_runtime::environment::JournalBinding;
use failback_runtime::files::read_text;
use failback_runtime::journal::JOURNAL_FILE;
use failback_runtime::pg::{PgJournal, Target};
use failback_runtime::{Journal, RunState, SqliteJournal};

use failback_core::intent::FailedOverFrom;

use crate::session::{self, STATE_DIR, Unfinished};

/// The store of an environment's runs.
pub enum Store {
    /// `.failback/` beside the environment file.
    Local { state: PathBuf },
    /// The deployment's journal on PostgreSQL.
    Shared {
        target: Box<Target>,
        deployment: String,
    },
}

impl Store {
    /// The store the environment file `env` names.
    pub fn of(env: &Path) -> Result<Self> {
        let opened = session::open_environment(env)?;
        match opened.environment.journal {
            None => Ok(Self::Local {
                state: session::root_of(env).join(STATE_DIR),
            }),
            Some(binding) => Ok(Self::Shared {
                target: Box::new(target(&binding, &opened.dir)?),
                deployment: binding.deployment,
            }),
        }
    }

    /// Whether the runs are shared between machines.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Shared { .. })
    }

    /// Open the journal to read it: `None` when a local one was never
    /// written.
    pub fn read(&self) -> Result<Option<Box<Journal>>> {
        match self {
            Self::Local { state } => {
                let path = state.join(JOURNAL_FILE);
                if !path.exists() {
                    return Ok(None);
                }
                Ok(Some(Box::new(SqliteJournal::open(&path)?) as Box<Journal>))
            }
            Self::Shared { target, deployment } => Ok(Some(Box::new(PgJournal::open(
                target, deployment,
            )?) as Box<Journal>)),
        }
    }
}

/// The connection target of `binding`, its CA read from the environment
/// directory.
pub fn target(binding: &JournalBinding, dir: &cap_std::fs::Dir) -> Result<Target> {
    let ca = binding
        .ca
        .as_ref()
        .map(|path| {
            read_text(dir, path).with_context(|| format!("cannot read the journal's CA `{path}`"))
        })
        .transpose()?;
    Ok(Target::new(
        &binding.url,
        binding.password_env.as_deref(),
        ca.as_deref().map(str::as_bytes),
    )?)
}

/// The unfinished last run of the environment of `env`, if any (see
/// [`Unfinished`]).
pub fn unfinished_run(env: &Path) -> Result<Option<Unfinished>> {
    match Store::of(env)?.read()? {
        Some(journal) => unfinished_in(journal.as_ref()),
        None => Ok(None),
    }
}

/// The unfinished last run of `journal`, if any.
pub fn unfinished_in(journal: &Journal) -> Result<Option<Unfinished>> {
    let Some(last) = journal.last_run()? else {
        return Ok(None);
    };
    if last.state == RunState::Done {
        return Ok(None);
    }
    let plan = failback_core::document::read(&journal.plan_of(last.id)?).with_context(|| {
        format!(
            "run {} did not finish, and its journaled plan cannot be read (the TTLs it lowered are in it)",
            last.id
        )
    })?;
    Ok(Some(Unfinished {
        run: last.id,
        ttls: plan.restored_ttls(),
    }))
}

/// Where the last finished failover of the environment of `env` moved
/// federation from, if its journal holds one: the home a failback without
/// `--to` returns to (`Intent::resolve_after`).
pub fn failed_over_from(env: &Path) -> Result<Option<FailedOverFrom>> {
    // `plan --from` and `verify --from` need no environment file: without
    // one there is no journal to learn the home from.
    if !env.exists() {
        return Ok(None);
    }
    match Store::of(env)?.read()? {
        Some(journal) => failed_over_in(journal.as_ref()),
        None => Ok(None),
    }
}

/// Where the last finished failover journaled in `journal` moved federation
/// from, if any.
pub fn failed_over_in(journal: &Journal) -> Result<Option<FailedOverFrom>> {
    let Some((run, text)) = journal.last_finished_failover()? else {
        return Ok(None);
    };
    let plan = failback_core::document::read(&text).with_context(|| {
        format!("the plan of run {run}, a finished failover, cannot be read (it says where federation was moved from)")
    })?;
    Ok(FailedOverFrom::of(run, &plan.intent, &plan.start))
}
