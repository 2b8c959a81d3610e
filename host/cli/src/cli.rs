//! The command line's shape: every command, flag and its help text.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use failback_core::intent::IntentFlags;
use failback_core::lab::Scenario;
use failback_runtime::Overrides;

/// Fail the Edge pool used for SIP and XMPP federation back to its home site
/// after a Lync Server / Skype for Business disaster recovery — as a typed plan,
/// checked by policies on every state, carried out by sandboxed plugins.
///
/// Exit codes: 0 ok, 1 error, 2 usage, 3 vetoed by policy, 4 the plan changed
/// (`plan --check`).
#[derive(Debug, Parser)]
#[command(name = "failback", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Plan the failback: observe the environment through its plugins, compute the
    /// steps (A0–A13) and check every state of the plan against the policies.
    ///
    /// Nothing is changed: planning only reads. `failback plan approve PLAN` signs
    /// a saved plan.
    Plan(PlanArgs),
    /// Observe the deployment through the environment's plugins and write it
    /// down: the captured state, with when it was observed and the sha256 of
    /// each plugin that observed it (schema: docs/state.schema.json).
    ///
    /// `plan --from` and `verify --from` plan and judge it later, elsewhere,
    /// with no plugin loaded: to rehearse a failback, or to share a case.
    /// Nothing is changed: observing only reads.
    Observe(ObserveArgs),
    /// The change report of a run from the journal: one self-contained HTML
    /// file (nothing is fetched) with the deployment drawn before → after,
    /// every step with what it changes and its journaled outcome, the
    /// findings, why the steps come in their order, and the digests.
    ///
    /// `failback plan --format html` writes the same report for a plan not
    /// yet applied.
    Report(ReportArgs),
    /// Check every invariant on the deployment as it is now (exit 0 when none
    /// blocks, 3 otherwise). The goal invariants compare it to where the default
    /// failback (or the intent flags) would end.
    Verify(VerifyArgs),
    /// The policy rules.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The lab: a simulated contoso.com deployment after a failover, in files.
    #[command(subcommand)]
    Lab(LabCommand),
    /// Inspect, pack, sign, verify and review plugin components.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Apply a plan: each step re-observed, re-checked by the policies, run
    /// through its plugin and verified against the plan's prediction, with
    /// intent and outcome journaled before and after every side effect.
    ///
    /// Without PLAN, a fresh plan is made, shown and confirmed (`--yes` skips the
    /// question). With PLAN (a `failback plan --out FILE --format json`), it is
    /// refused if the state, the policies or the plugins changed since.
    Apply(ApplyArgs),
    /// Continue the interrupted (or halted) last run of this environment: a step
    /// that was in flight is re-verified first and re-run only if its
    /// postcondition does not hold.
    ///
    /// With a shared journal (`[journal]`), from any machine whose environment
    /// file binds the same plugins, policies and levels (docs/apply.md).
    Resume(ResumeArgs),
    /// The current or last run of this environment, step by step.
    Status(RunArgs),
    /// The past runs of this environment, newest first.
    History(RunArgs),
    /// The hash-chained audit log of apply runs.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Clear the lock of a deployment whose journal is shared (`[journal]`),
    /// written to the audit trail with the previous holder and the reason.
    ///
    /// Refused while the holder's database session is alive, unless
    /// `--force`, which ends that session: its run stops before its next
    /// operation and can be resumed. A holder that died has already let the
    /// lock go (its session ended); this clears its holder row.
    Unlock(UnlockArgs),
    /// The shared journal on PostgreSQL: set up its schema, copy a local
    /// journal into it.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// The whole job on the embedded lab: write a lab, plan, apply, verify, and
    /// say what changed.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The environment file.
    #[arg(long, default_value = "failback.toml")]
    pub env: PathBuf,
    /// A saved plan (`failback plan --out FILE --format json`).
    pub plan: Option<PathBuf>,
    /// Apply without asking for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Progress as text lines (a bar per step on a terminal) or JSON event lines.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub intent: IntentArgs,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    #[command(flatten)]
    pub lock_wait: LockWait,
}

/// How long to wait for another holder of the lock.
#[derive(Debug, Clone, Copy, Args)]
pub struct LockWait {
    /// Wait up to SECONDS for another apply or resume to let the lock go,
    /// instead of being refused at once.
    #[arg(long = "lock-wait", value_name = "SECONDS", default_value_t = 0)]
    pub seconds: u64,
}

impl LockWait {
    #[must_use]
    pub fn wait(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds)
    }
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub lock_wait: LockWait,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The environment file (its `[journal]` names the deployment).
    #[arg(long, default_value = "failback.toml")]
    pub env: PathBuf,
    /// Why, for the audit trail.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// End the holder's session if it is alive.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// As the database's owner, create or migrate the journal's schema and
    /// grant the application role (the user of `[journal] url`) what it
    /// needs: read and write the journal, append to the audit trail, no DDL.
    Setup {
        /// The environment file whose `[journal]` names the database and the
        /// application role.
        #[arg(long, default_value = "failback.toml")]
        env: PathBuf,
        /// The owner's user name; its password comes from
        /// `--owner-password-env`, `PGPASSWORD` or `.pgpass`.
        #[arg(long, value_name = "USER")]
        owner: String,
        /// The environment variable holding the owner's password.
        #[arg(long, value_name = "VAR")]
        owner_password_env: Option<String>,
    },
    /// Copy this environment's local journal and audit log into the shared
    /// journal at URL, as deployment NAME, then check the copy: every run,
    /// step and operation equal, the audit chain and its anchors holding.
    Migrate {
        /// The environment file whose `.failback/` is copied.
        #[arg(long, default_value = "failback.toml")]
        env: PathBuf,
        /// The shared journal (`postgres://user@host/database`, no password).
        #[arg(long, value_name = "URL")]
        to: String,
        /// The deployment's name there (`[journal] deployment`).
        #[arg(long, value_name = "NAME")]
        deployment: String,
        /// The environment variable holding the password.
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
        /// The CA certificate (PEM) the server's must chain to.
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ObserveArgs {
    /// The environment file.
    #[arg(long, default_value = "failback.toml", conflicts_with = "lab")]
    pub env: PathBuf,
    /// Observe a fresh lab of this scenario in a temporary directory instead
    /// of an environment file.
    #[arg(long, value_enum, value_name = "SCENARIO")]
    pub lab: Option<Scenario>,
    /// Text: what was observed, for a person. JSON: the captured state, for
    /// `plan --from` (written to `--out` whatever the format).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the captured state (JSON) to FILE; the text summary, if asked
    /// for, still goes to standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The environment file whose journal holds the run.
    #[arg(long, default_value = "failback.toml")]
    pub env: PathBuf,
    /// The run's number (`failback history`); by default the last run.
    pub run: Option<i64>,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The environment file.
    #[arg(long, default_value = "failback.toml")]
    pub env: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain; name the first record that was edited,
    /// removed or moved (exit 1).
    Verify {
        /// The environment file whose `.failback/audit.jsonl` (or shared
        /// journal's audit trail) is checked.
        #[arg(long, default_value = "failback.toml")]
        env: PathBuf,
    },
    /// Write the audit trail, checked, to FILE: the lines of `audit.jsonl`,
    /// which `failback audit verify` of a copy reads alike.
    Export {
        /// The environment file whose audit trail is written.
        #[arg(long, default_value = "failback.toml")]
        env: PathBuf,
        /// Where to write it (created; an existing file is refused).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Write the lab into DIR (absent or empty) and keep it; by default a
    /// temporary directory, removed at the end.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Progress as text lines (a bar per step on a terminal) or JSON event lines.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Write a lab into DIR: the published topology, the external DNS zone, the
    /// servers', replicas' and Front End pools' states, the firewall's external
    /// reachability, the lab plugins and `failback.toml` binding them.
    ///
    /// DIR must be absent or empty: nothing that exists is overwritten.
    Init {
        /// The directory to create.
        dir: PathBuf,
        /// Which failover to simulate.
        #[arg(long, value_parser = scenario(), default_value = "edge-failover")]
        scenario: Scenario,
        /// Grow the deployment to N sites (2 to 10000) for scaling measurements:
        /// Site1 and Site2 as the scenario has them, then bystander sites, each
        /// with a healthy Front End pool and a one-machine Edge pool, their routes
        /// as Site2's.
        #[arg(long, value_name = "N", default_value_t = 2)]
        sites: u32,
    },
    /// List the scenarios `lab init` can write.
    Scenarios,
}

/// A lab scenario by its name, the names and what each simulates listed in
/// `--help` (one list: the core's).
fn scenario() -> impl TypedValueParser<Value = Scenario> {
    PossibleValuesParser::new(
        Scenario::ALL.map(|s| PossibleValue::new(s.name()).help(s.description())),
    )
    .try_map(|name| name.parse::<Scenario>())
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Every rule of the policy modules: its id, level, family, scope, the
    /// DESIGN §2 invariants it enforces and why.
    List {
        /// The environment whose `[policies]` bindings set the levels; without
        /// one, the standard modules at their default levels.
        #[arg(long, default_value = "failback.toml")]
        env: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run policy case files: a lab state, optionally edited, optionally a step
    /// sequence, and the findings expected on it. Reports expected vs actual
    /// with a diff on failure; exit 1 when any case fails.
    Test {
        /// A case file (`.toml`) or a directory of them.
        path: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Bind the component FILE as the environment's KIND plugin: write its
    /// path and sha256, and its manifest's path and sha256 (none when the
    /// component carries its manifest), into the environment file's
    /// `[plugins.KIND]`, keeping the file's comments and layout and the
    /// binding's config and grants; then show the review of what it may
    /// reach. FILE must be inside the environment's directory (`plugin
    /// export NAME plugins` writes the carried ones there).
    ///
    /// A binding pinned to another component is replaced only with
    /// `--replace`; one of zeros (a template's) is filled in.
    Add(PluginAddArgs),
    /// Show what a component is: the world and version it implements, its imports
    /// and exports, its sha256, and (with its manifest) the capabilities it requests.
    Inspect {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Its manifest; by default `<file without .wasm>.plugin.toml` when present.
        #[arg(long)]
        manifest: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Put a manifest inside a component: one file that is the plugin (or policy
    /// module), whose sha256 and signature then cover what it may ask for.
    ///
    /// The manifest's `sha256`, if it gives one, must be the component's; the
    /// packed component carries the manifest without it. Packing a signed
    /// component is refused (pack first, then sign).
    Pack {
        /// The component built for `wasm32-wasip2` (`.wasm`).
        component: PathBuf,
        /// The manifest to embed; by default `<component without .wasm>.plugin.toml`.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Where to write the packed component (must differ from COMPONENT).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Sign a packed component with an OpenSSH Ed25519 key, in the WebAssembly
    /// tool-conventions signature format.
    ///
    /// Embedded (the default), the signature is added to the component, in place
    /// or into `--out`; a component may carry several. `--detached` writes the
    /// signature to `FILE.sig` (or `--out`) and leaves the component as it was.
    /// A passphrase-protected key is opened with `$FAILBACK_KEY_PASSPHRASE`.
    Sign {
        /// The component to sign.
        file: PathBuf,
        /// The private key (`~/.ssh/id_ed25519`).
        #[arg(long)]
        key: PathBuf,
        /// Write the signature to a file of its own.
        #[arg(long)]
        detached: bool,
        /// Where to write the signed component (embedded) or the signature (detached).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Check a component's signatures against public keys: which of them signed
    /// exactly these bytes (exit 0), or that none did (exit 1).
    Verify {
        /// The component.
        file: PathBuf,
        /// An OpenSSH public key file (`id_ed25519.pub`), one key a line (repeatable).
        #[arg(long, required = true)]
        key: Vec<PathBuf>,
        /// A detached signature; by default `FILE.sig` when present, else the
        /// signature the component carries.
        #[arg(long)]
        signature: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// The report a security reviewer approves, read from the component itself:
    /// world and version, every import in plain words, every capability with the
    /// grant that satisfies it, limits, size, digests and signers.
    ///
    /// With `--env`, against that environment: which grants are present, missing
    /// or excess, the limits it tightens, and whether its `[trust]` accepts the
    /// signer. With `--since`, what changed since the version reviewed before:
    /// new imports, new capabilities, raised limits, new signers.
    Review {
        /// The component.
        file: PathBuf,
        /// Review against this environment file.
        #[arg(long)]
        env: Option<PathBuf>,
        /// The version reviewed before.
        #[arg(long, value_name = "OLD.wasm")]
        since: Option<PathBuf>,
        /// The manifest of a development build (unpacked); by default
        /// `<file without .wasm>.plugin.toml` when present and the component
        /// carries none.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// A detached signature; by default `FILE.sig` when present.
        #[arg(long)]
        signature: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = ReviewFormat::Text)]
        format: ReviewFormat,
    },
    /// Write a new plugin crate for WORLD into DIR (default: NAME): a crate that
    /// builds on its own with `cargo build --release --target wasm32-wasip2`,
    /// with the WIT files of this release, its manifest (`plugin.toml`), a
    /// README with the commands, and every function of the world returning a
    /// "not implemented" error.
    ///
    /// DIR must be absent or empty: nothing that exists is overwritten.
    New {
        /// The plugin's name: lowercase letters, digits and `-` (`acme-dns`).
        name: String,
        /// The world the plugin implements.
        #[arg(long, value_enum)]
        world: World,
        /// Where to write the crate.
        dir: Option<PathBuf>,
    },
    /// Run the conformance kit: what the host relies on from the plugin's
    /// world, as cases run against the plugin in its sandbox. Each case names
    /// the WIT function and the promise it checks; a failure says what was
    /// expected and what came back.
    ///
    /// Test a component file (`FILE --world WORLD`, with its manifest, the
    /// configuration and the grants an environment would give it), or a plugin
    /// as an environment binds it (`--env failback.toml --kind KIND`).
    ///
    /// The cases CHANGE what the plugin reaches: they replace and delete DNS
    /// record sets (under `failback-kit.<zone>`), publish and enable the
    /// topology, set site routes (and set them back), start services, run
    /// setup and fail a Front End pool back. Run the kit against a test
    /// environment, never a production one.
    ///
    /// A port-probe plugin probes listeners the kit starts on 127.0.0.1 (an
    /// XMPP server, a service that is not XMPP, a silent one, a closed port and
    /// a filtered one): the kit grants their addresses, and `--xmpp-server`'s,
    /// to every tcp network capability the plugin's manifest requests, for the
    /// run.
    ///
    /// Exit 0 when no case failed, 1 otherwise.
    Test(PluginTestArgs),
    /// Write a plugin this binary carries (`dns-rfc2136`, `dns-powerdns`, `probe-xmpp`, the
    /// `lab-*` ones) into DIR as `NAME.wasm` and `NAME.plugin.toml` (its manifest,
    /// with the component's sha256), and print the `failback.toml` lines that
    /// bind it: path, sha256, manifest.
    Export {
        /// The plugin's name, as its manifest gives it.
        name: String,
        /// The directory to write into (created if missing), usually the
        /// environment's `plugins`; the printed paths are relative to where
        /// the command runs, so run it in the environment's directory.
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct PluginAddArgs {
    /// The component (`.wasm`), inside the environment's directory.
    pub file: PathBuf,
    /// The kind of plugin it is bound as: its manifest must say the same.
    #[arg(long, value_enum)]
    pub kind: World,
    /// The environment file to write the binding into.
    #[arg(long, default_value = "failback.toml")]
    pub env: PathBuf,
    /// The manifest of a development build (unpacked); by default the one the
    /// component carries, else `<file without .wasm>.plugin.toml`.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Replace a binding pinned to another component.
    #[arg(long)]
    pub replace: bool,
}

/// A plugin world of `failback:plugin` (a new plugin is built against 0.3.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum World {
    /// Records in the external DNS zone.
    DnsProvider,
    /// External reachability of an endpoint (XMPP 5269, SIP 5061).
    PortProbe,
    /// The topology, the sites' routes and replication.
    ManagementStore,
    /// Services and local setup on each server.
    ServerControl,
    /// Front End pool failover state and failback.
    PoolControl,
}

#[derive(Debug, Args)]
pub struct PluginTestArgs {
    /// The component (`.wasm`) to test.
    #[arg(required_unless_present = "env", conflicts_with = "env")]
    pub file: Option<PathBuf>,
    /// The world FILE implements.
    #[arg(
        long,
        value_enum,
        required_unless_present = "env",
        conflicts_with = "env"
    )]
    pub world: Option<World>,
    /// FILE's manifest; by default the one FILE carries (`plugin pack`), else
    /// `<FILE without .wasm>.plugin.toml`. A manifest without `sha256` (a
    /// development build's `plugin.toml`) is taken for FILE.
    #[arg(long, conflicts_with = "env")]
    pub manifest: Option<PathBuf>,
    /// A configuration value FILE reads with `config(KEY)` (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", conflicts_with = "env")]
    pub config: Vec<String>,
    /// Grant FILE a network capability its manifest requests: the socket
    /// addresses it may reach (repeatable; `dns-server=192.0.2.53:53`), the
    /// origin and path prefix of an HTTP capability
    /// (`powerdns-api=https://pdns.example.com:8443/api/v1`), or `dns-lookup`
    /// for name lookup. Directories are granted by an environment file: use
    /// `--env`.
    #[arg(
        long = "grant",
        value_name = "NAME=ADDR[,ADDR…]|NAME=URL",
        conflicts_with = "env"
    )]
    pub grants: Vec<String>,
    /// A header the host adds to every request of an HTTP capability, from an
    /// environment variable of this process (repeatable;
    /// `powerdns-api:x-api-key=PDNS_API_KEY`): the secret is never on the
    /// command line, and FILE never sees it.
    #[arg(
        long = "grant-header",
        value_name = "NAME:HEADER=VARIABLE",
        conflicts_with = "env"
    )]
    pub grant_headers: Vec<String>,
    /// Test the plugin this environment file binds to `--kind`, with its
    /// configuration and grants.
    #[arg(long, requires = "kind")]
    pub env: Option<PathBuf>,
    /// The kind of plugin to test in `--env`.
    #[arg(long, value_enum, requires = "env")]
    pub kind: Option<World>,
    /// dns-provider: the zone the cases write in (default with `--env`: its
    /// zone). They write only under `failback-kit.<zone>`, and delete what
    /// they wrote.
    #[arg(long)]
    pub zone: Option<String>,
    /// server-control: a machine the plugin serves (default with `--env`: the
    /// first Edge machine of the topology its management store publishes).
    #[arg(long, value_name = "FQDN")]
    pub machine: Option<String>,
    /// port-probe: a real XMPP server to probe as well (`192.0.2.10:5269`).
    #[arg(long, value_name = "ADDR", requires = "xmpp_domain")]
    pub xmpp_server: Option<std::net::SocketAddr>,
    /// port-probe: the domain the `--xmpp-server` serves.
    #[arg(long, value_name = "DOMAIN", requires = "xmpp_server")]
    pub xmpp_domain: Option<String>,
    /// The report: text for people, JSON for machines, JUnit XML for a CI.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// How a conformance report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Junit,
}

/// Text for people, JSON for machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// How a review is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReviewFormat {
    Text,
    Json,
    /// For a change ticket.
    Markdown,
}

/// How a plan is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// One line per step and the fields it changes, then the findings.
    Text,
    /// The plan as data (`format_version`, `steps`, `findings`); schema in docs/plan.schema.json.
    Json,
    /// The equivalent cmdlets, for an operator to review and run by hand.
    Powershell,
    /// The change report: one self-contained HTML page (before → after
    /// drawings, steps, findings, why this order, digests) for a change board.
    Html,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PlanArgs {
    #[command(subcommand)]
    pub command: Option<PlanCommand>,
    /// The environment file (with `--from`: its policy bindings and levels
    /// only, when it exists; else the standard policy modules at their
    /// default levels).
    #[arg(long, default_value = "failback.toml", conflicts_with = "lab")]
    pub env: PathBuf,
    /// Plan against a fresh lab of this scenario in a temporary directory instead
    /// of an environment file.
    #[arg(long, value_parser = scenario(), value_name = "SCENARIO")]
    pub lab: Option<Scenario>,
    /// Plan from a captured state (`failback observe --out STATE`) instead of
    /// observing now: no plugin is loaded; the policies still judge the plan.
    /// `apply` of such a plan re-derives it from the live state and refuses it
    /// unless it is the same plan.
    #[arg(long, value_name = "STATE", conflicts_with = "lab")]
    pub from: Option<PathBuf>,
    /// Compare the plan made now with an approved plan document (`plan
    /// --format json --out APPROVED`): exit 0 when they are the same, 4 with
    /// every difference (a new step, a changed record, a new finding) when
    /// they are not. For a nightly job that keeps the DR plan current.
    #[arg(long, value_name = "APPROVED", conflicts_with = "out")]
    pub check: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Write the plan to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub intent: IntentArgs,
    #[command(flatten)]
    pub overrides: OverrideArgs,
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Approve a saved plan: sign its digest with your OpenSSH Ed25519 key, and
    /// add the approval to the plan file (its digest unchanged).
    ///
    /// With `[approvals] required = N` in the environment, `failback apply PLAN`
    /// runs only a plan approved by N distinct keys of `[approvals] keys`. The
    /// approval is an SSHSIG in namespace `failback-plan` over the digest's 64
    /// hex characters, which `ssh-keygen` makes too:
    ///
    ///   printf %s DIGEST | ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n failback-plan > plan.sig
    ///
    /// then `failback plan approve PLAN --signature plan.sig` adds it (docs/apply.md).
    Approve(ApproveArgs),
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The saved plan (`failback plan --out FILE --format json`); the approval is
    /// written into it.
    pub plan: PathBuf,
    /// Sign with this OpenSSH Ed25519 private key (`~/.ssh/id_ed25519`); a
    /// passphrase is read from `FAILBACK_KEY_PASSPHRASE`.
    #[arg(
        long,
        value_name = "KEY",
        required_unless_present = "signature",
        conflicts_with = "signature"
    )]
    pub key: Option<PathBuf>,
    /// Add an approval made by hand with `ssh-keygen -Y sign -n failback-plan`.
    #[arg(long, value_name = "FILE.sig")]
    pub signature: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The environment file (with `--from`: its policy bindings and levels
    /// only, when it exists).
    #[arg(long, default_value = "failback.toml", conflicts_with = "lab")]
    pub env: PathBuf,
    /// Verify a fresh lab of this scenario instead of an environment file.
    #[arg(long, value_parser = scenario(), value_name = "SCENARIO")]
    pub lab: Option<Scenario>,
    /// Judge a captured state (`failback observe --out STATE`) instead of
    /// observing now: no plugin is loaded.
    #[arg(long, value_name = "STATE", conflicts_with = "lab")]
    pub from: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub intent: IntentArgs,
    #[command(flatten)]
    pub overrides: OverrideArgs,
}

/// Let a mandatory finding pass, for this run, with a reason that is recorded.
#[derive(Debug, Args)]
pub struct OverrideArgs {
    /// A mandatory rule to override (repeatable; each with its own `--reason`).
    /// Hard rules cannot be overridden.
    #[arg(long = "override", value_name = "RULE")]
    pub rules: Vec<String>,
    /// Why the rule is overridden (recorded with the finding).
    #[arg(long = "reason", value_name = "TEXT")]
    pub reasons: Vec<String>,
}

/// What to fail back. With none of the narrowing flags, everything that failed
/// over is failed back to the home Edge pool of the site that failed.
#[derive(Debug, Args)]
pub struct IntentArgs {
    /// The other runbook: fail over to the surviving site's Edge pool (`--to`,
    /// default: the one Edge pool of a site other than the one that has
    /// federation) — SIP federation, XMPP and the failed site's Front End pools'
    /// media, judged by the same policies. The narrowing flags below apply
    /// (except `--pool-failback`).
    #[arg(long)]
    pub failover: bool,
    /// Fail back the SIP federation route (federation on the Edge pool, its DNS).
    #[arg(long)]
    pub sip_federation: bool,
    /// Fail back the XMPP federation route (site routes, SRV and A records, port 5269).
    #[arg(long)]
    pub xmpp: bool,
    /// Re-associate the restored site's Front End pools with their local Edge pool.
    #[arg(long)]
    pub front_ends: bool,
    /// Fail back the restored site's failed-over Front End pools (Invoke-CsPoolFailback).
    #[arg(long)]
    pub pool_failback: bool,
    /// The Edge pool to fail back to (default: the home pool of the site that
    /// failed); with `--failover`, the surviving pool to fail over to.
    #[arg(long, value_name = "POOL")]
    pub to: Option<String>,
    /// The Front End pool the restored Edge pool's next hop returns to (A14),
    /// after the pool failback. A failover moves the next hop to the other
    /// site's Front End pool, and Invoke-CsPoolFailback does not move it back:
    /// by default the failback restores it to the one Front End pool of the
    /// restored site, and asks for this flag when several could serve. Refused
    /// unless POOL is a Front End pool of the restored site that is normal or
    /// failed back by this plan (a Director next hop is never changed).
    #[arg(long, value_name = "POOL")]
    pub next_hop: Option<String>,
    /// The TTL, in seconds, that records get before they are moved (A0); their
    /// original TTL is restored afterwards (A13).
    #[arg(long, value_name = "SECONDS")]
    pub cutover_ttl: Option<u32>,
}

impl IntentArgs {
    /// The flags as the intent resolves them against a deployment.
    pub fn flags(&self) -> IntentFlags {
        IntentFlags {
            sip_federation: self.sip_federation,
            xmpp: self.xmpp,
            front_ends: self.front_ends,
            pool_failback: self.pool_failback,
            to: self.to.clone(),
            cutover_ttl: self.cutover_ttl,
            failover: self.failover,
            next_hop: self.next_hop.clone(),
        }
    }
}

impl OverrideArgs {
    /// Each `--override RULE` paired with its `--reason TEXT`, in order.
    pub fn overrides(&self) -> anyhow::Result<Overrides> {
        if self.rules.len() != self.reasons.len() {
            anyhow::bail!(
                "each `--override RULE` needs its own `--reason TEXT` ({} overrides, {} reasons)",
                self.rules.len(),
                self.reasons.len()
            );
        }
        Ok(Overrides(
            self.rules
                .iter()
                .cloned()
                .zip(self.reasons.iter().cloned())
                .collect(),
        ))
    }
}
