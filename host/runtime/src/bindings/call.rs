//! One call into a guest: a fresh store with its WASI context, limits, hostcall
//! fuel and deadline, the imports guests link against (plugins and policies
//! each their own), and the translation of whatever went wrong into a typed
//! [`CallError`] that keeps what the guest returned apart from what the runtime
//! stopped.
//!
//! Every call runs asynchronously under a time-out at its deadline, so a guest
//! waiting in a host call (a socket that never answers, a FIFO, a clock) is
//! stopped like one spinning in its own code (the epoch deadline). Whatever a
//! guest says — log lines, stderr, `plugin-error` messages — has its secrets
//! redacted and its control characters escaped before it is kept or cut.
//!
//! Plugins ([`crate::bindings::plugin`]) and policy modules ([`crate::bindings::policy`]) both call
//! through [`Guest::call`]; every call leaves an audit record.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use failback_core::text::{printable, printable_lines};
use wasmtime::component::{HasData, HasSelf, InstancePre, Linker, Resource, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store, StoreContextMut, Trap};
use wasmtime_wasi::cli::WasiCliView as _;
use wasmtime_wasi::clocks::WasiClocksView as _;
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::wit::v0_1_0::base::failback::plugin::{host, types};
use crate::bindings::wit::v0_2_0::base::failback::plugin::host as host_v0_2;
use crate::bindings::wit::v0_3_0::base::failback::plugin::host as host_v0_3;
use crate::digest::Digest;
use crate::environment::ResolvedValue;
use crate::manifest::Limits;
use crate::record::audit::{
    AuditRecord, AuditSink, LogLevel, LogLine, MAX_LOG_LINE_BYTES, MAX_LOG_LINES_PER_CALL, Outcome,
};
use crate::sandbox::capability::{NetworkDenials, Preopen, Sandbox};
use crate::sandbox::guest_error::{CallError, PluginError};
use crate::sandbox::http::send::{HttpAccess, HttpHooks};
use crate::trust::Signer;

/// How much of a trapping guest's stderr the host keeps for the error, after
/// redaction.
const STDERR_BYTES: usize = 4_096;
/// How much of a guest's stderr the host captures before redacting it: more
/// than it keeps, so that a secret is redacted whole before the text is cut.
const STDERR_CAPTURE_BYTES: usize = 64 << 10;
/// Core instances, tables and memories one store may create. A component built
/// for `wasm32-wasip2` instantiates a handful of core modules (the program and
/// the adapter shims); these bounds leave room for that and no more.
const MAX_CORE_INSTANCES: usize = 32;
const MAX_TABLES: usize = 32;
const MAX_MEMORIES: usize = 2;
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// The WASI version of the interfaces the host shadows.
const WASI_VERSION: &str = "0.2.12";

/// The state of one store: one call.
pub struct CallState {
    /// When the call's time is up.
    deadline: Instant,
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: CallLimiter,
    host: HostState,
    /// The granted directories, opened once when the plugin was loaded: what
    /// `wasi:filesystem/preopens.get-directories` hands the guest.
    preopens: Arc<[Preopen]>,
    http: WasiHttpCtx,
    /// What judges and sends the guest's HTTP requests ([`crate::sandbox::http`]).
    http_hooks: HttpHooks,
}

impl fmt::Debug for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallState")
            .field("plugin", &self.host.plugin)
            .field("function", &self.host.function)
            .finish_non_exhaustive()
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

/// The secrets of a guest's configuration, and the one way its texts are made
/// fit to keep: every secret replaced, then control characters escaped, then
/// cut — in that order, so that no cut leaves part of a secret behind.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    /// Longest first, so that a secret holding another is replaced whole.
    secrets: Arc<[String]>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

/// What a secret is replaced with.
const REDACTED: &str = "<redacted>";

impl Redactor {
    /// The redactor of `config`'s secrets and of `more` (the values of the
    /// headers the host adds to HTTP requests).
    pub(crate) fn with(config: &BTreeMap<String, ResolvedValue>, more: &[String]) -> Self {
        let mut secrets: Vec<String> = config
            .values()
            .filter_map(|value| match value {
                ResolvedValue::Secret(secret) if !secret.expose().is_empty() => {
                    Some(secret.expose().to_owned())
                }
                _ => None,
            })
            .chain(more.iter().filter(|s| !s.is_empty()).cloned())
            .collect();
        secrets.dedup();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self {
            secrets: secrets.into(),
        }
    }

    /// `text` with every secret replaced. When `text` was cut short before it
    /// got here (`cut_short`), an end that begins a secret is replaced too.
    fn redact(&self, text: &str, cut_short: bool) -> String {
        let mut text = text.to_owned();
        for secret in self.secrets.iter() {
            text = text.replace(secret.as_str(), REDACTED);
        }
        if cut_short {
            for secret in self.secrets.iter() {
                let partial = (1..secret.len())
                    .rev()
                    .filter(|&n| secret.is_char_boundary(n))
                    .find(|&n| text.ends_with(&secret[..n]));
                if let Some(n) = partial {
                    text.truncate(text.len() - n);
                    text.push_str(REDACTED);
                }
            }
        }
        text
    }

    /// A single-line text a guest gave (a log line, an error message): redacted,
    /// escaped ([`printable`]), then cut at `max` bytes.
    pub(crate) fn line(&self, text: &str, max: usize) -> String {
        cut(printable(&self.redact(text, false)).into_owned(), max)
    }

    /// What a guest wrote to stderr, captured up to `capacity` bytes: redacted,
    /// each line escaped, then cut at [`STDERR_BYTES`].
    fn stderr(&self, captured: &[u8], capacity: usize) -> String {
        let text = String::from_utf8_lossy(captured);
        let redacted = self.redact(&text, captured.len() >= capacity);
        cut(printable_lines(redacted.trim()), STDERR_BYTES)
    }

    /// The guest's `plugin-error`, every message made fit to show.
    fn plugin_error(&self, error: PluginError) -> PluginError {
        error.map_message(|message| self.line(&message, MAX_LOG_LINE_BYTES))
    }
}

/// `text` cut at `max` bytes, on a character boundary.
fn cut(mut text: String, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// What the `host` import needs during one call.
struct HostState {
    plugin: Arc<str>,
    function: &'static str,
    config: Arc<BTreeMap<String, ResolvedValue>>,
    redactor: Redactor,
    audit: Arc<dyn AuditSink>,
    lines: u32,
    dropped: u32,
}

impl types::Host for CallState {}

/// `failback:plugin/host@0.2.0`: 0.1.0's, unchanged.
impl host_v0_2::Host for CallState {
    fn log(&mut self, level: types::LogLevel, message: String) {
        host::Host::log(self, level, message);
    }

    fn config(&mut self, key: String) -> Option<String> {
        host::Host::config(self, key)
    }
}

/// `failback:plugin/host@0.3.0`: 0.1.0's, unchanged.
impl host_v0_3::Host for CallState {
    fn log(&mut self, level: types::LogLevel, message: String) {
        host::Host::log(self, level, message);
    }

    fn config(&mut self, key: String) -> Option<String> {
        host::Host::config(self, key)
    }
}

impl host::Host for CallState {
    fn log(&mut self, level: types::LogLevel, message: String) {
        let host = &mut self.host;
        if host.lines >= MAX_LOG_LINES_PER_CALL {
            host.dropped = host.dropped.saturating_add(1);
            return;
        }
        host.lines += 1;
        host.audit.log(LogLine {
            plugin: host.plugin.to_string(),
            function: host.function.to_owned(),
            level: match level {
                types::LogLevel::Debug => LogLevel::Debug,
                types::LogLevel::Info => LogLevel::Info,
                types::LogLevel::Warn => LogLevel::Warn,
                types::LogLevel::Error => LogLevel::Error,
            },
            message: host.redactor.line(&message, MAX_LOG_LINE_BYTES),
        });
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.host
            .config
            .get(&key)
            .map(|value| value.value().to_owned())
    }
}

/// The data of the `wasi:io` bindings: the store's resource table.
struct Table;

impl HasData for Table {
    type Data<'a> = &'a mut ResourceTable;
}

fn table(state: &mut CallState) -> &mut ResourceTable {
    &mut state.table
}

/// Add the imports a plugin may use to `linker`: all of WASI (asynchronous, so
/// that every wait ends at the call's deadline), with the preopened directories
/// handed out from the handles opened at load ([`CallState::preopens`]), and
/// the `host` interface of every track.
pub(crate) fn link_plugin(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    // `wasi:http/outgoing-handler` and its types: every request is judged and
    // sent by the host ([`crate::sandbox::http`]).
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    linker.allow_shadowing(true);
    linker
        .instance(&format!("wasi:filesystem/preopens@{WASI_VERSION}"))?
        .func_wrap(
            "get-directories",
            |mut store: StoreContextMut<'_, CallState>, (): ()| {
                let state = store.data_mut();
                let preopens = Arc::clone(&state.preopens);
                let mut directories = Vec::with_capacity(preopens.len());
                for preopen in preopens.iter() {
                    let descriptor: Resource<Descriptor> =
                        state.table.push(Descriptor::Dir(preopen.dir.clone()))?;
                    directories.push((descriptor, preopen.guest_path.clone()));
                }
                Ok((directories,))
            },
        )?;
    linker.allow_shadowing(false);
    host::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)?;
    host_v0_2::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)?;
    host_v0_3::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)?;
    Ok(())
}

/// Add the imports a policy module may use to `linker`: what a `wasm32-wasip2`
/// std guest imports to run at all — `wasi:io`, `wasi:cli` (no arguments, no
/// environment, stdin closed), and the clocks and random numbers, which a
/// policy's context fixes ([`Sandbox::policy`]) so that no verdict depends on
/// time or chance. No files, no sockets, no `host`: a module that imports
/// them does not link.
pub(crate) fn link_policy(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::WasiCli;
    use wasmtime_wasi::clocks::WasiClocks;
    use wasmtime_wasi::p2::bindings::{cli, clocks, random};
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi_io::bindings::wasi::io;

    let l = linker;
    io::error::add_to_linker::<CallState, Table>(l, table)?;
    io::poll::add_to_linker::<CallState, Table>(l, table)?;
    io::streams::add_to_linker::<CallState, Table>(l, table)?;
    cli::exit::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::environment::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::stdin::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::stdout::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::stderr::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_input::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_output::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_stdin::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_stdout::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_stderr::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    clocks::wall_clock::add_to_linker::<CallState, WasiClocks>(l, CallState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<CallState, WasiClocks>(l, CallState::clocks)?;
    random::random::add_to_linker::<CallState, WasiRandom>(l, |s| s.wasi.random())?;
    random::insecure::add_to_linker::<CallState, WasiRandom>(l, |s| s.wasi.random())?;
    random::insecure_seed::add_to_linker::<CallState, WasiRandom>(l, |s| s.wasi.random())?;
    Ok(())
}

/// A limit the guest ran into, noted by the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LimitHit {
    Memory { requested_bytes: usize },
    Table { requested_elements: usize },
}

/// The store's resource limiter: the plugin's memory limit over all the
/// memories of the instance together, and fixed bounds on tables and
/// instances. A growth past a limit traps at once (rather than failing
/// `memory.grow`) and is noted, so the error names the limit.
#[derive(Debug)]
struct CallLimiter {
    memory_bytes: usize,
    /// The bytes of every memory of the store, as the limiter last allowed them.
    memory_in_use: usize,
    hit: Option<LimitHit>,
}

impl CallLimiter {
    fn new(memory_bytes: usize) -> Self {
        Self {
            memory_bytes,
            memory_in_use: 0,
            hit: None,
        }
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // A new memory comes here too, growing from 0 to its initial size.
        let in_use = self
            .memory_in_use
            .saturating_sub(current)
            .saturating_add(desired);
        if in_use > self.memory_bytes {
            self.hit = Some(LimitHit::Memory {
                requested_bytes: in_use,
            });
            return Err(wasmtime::format_err!("memory limit reached"));
        }
        self.memory_in_use = in_use;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.hit = Some(LimitHit::Table {
                requested_elements: desired,
            });
            return Err(wasmtime::format_err!("table limit reached"));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_CORE_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// What the runtime shares with every guest.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    /// The imports of plugins ([`link_plugin`]).
    pub(crate) plugin_linker: Arc<Linker<CallState>>,
    /// The imports of policy modules ([`link_policy`]).
    pub(crate) policy_linker: Arc<Linker<CallState>>,
    pub(crate) audit: Arc<dyn AuditSink>,
    /// Epoch ticks per millisecond of wall time, rounded up per call.
    pub(crate) tick_ms: u64,
    pub(crate) max_result_bytes: usize,
    /// The thread that advances the epoch. Every loaded plugin and policy
    /// holds it, so a guest that outlives its `Runtime` still times out.
    pub(crate) _ticker: Arc<Ticker>,
}

/// How often the ticker thread advances the epoch.
pub(crate) const TICK: Duration = Duration::from_millis(5);

/// The thread that advances the epoch every [`TICK`]; stopped when the last
/// runtime clone, plugin or policy module goes away.
///
/// The thread waits parked, not asleep, so that dropping the ticker wakes it at
/// once: a process ends when its work does, not at the ticker's next tick.
#[derive(Debug)]
pub(crate) struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    pub(crate) fn start(engine: Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("failback-epoch".to_owned())
                .spawn(move || {
                    let mut next = Instant::now() + TICK;
                    while !stop.load(Ordering::Acquire) {
                        // A wake-up before `next` is the drop (or spurious):
                        // check `stop`, then wait out the rest of the tick.
                        let now = Instant::now();
                        if now < next {
                            std::thread::park_timeout(next - now);
                            continue;
                        }
                        engine.increment_epoch();
                        next += TICK;
                    }
                })?
        };
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// A loaded guest, plugin or policy module: everything a call needs but the
/// typed bindings.
#[derive(Clone)]
pub(crate) struct Guest {
    pub(crate) name: Arc<str>,
    pub(crate) digest: Digest,
    /// Who vouches for the component, on every audit record of it.
    pub(crate) signer: Arc<Signer>,
    pub(crate) limits: Limits,
    pub(crate) sandbox: Sandbox,
    /// What the guest's HTTP requests are judged and sent with
    /// ([`crate::sandbox::http`]): nothing granted for a policy module.
    pub(crate) http: Arc<HttpAccess>,
    pub(crate) config: Arc<BTreeMap<String, ResolvedValue>>,
    pub(crate) redactor: Redactor,
    pub(crate) shared: Shared,
}

impl fmt::Debug for Guest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guest")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// What one call's store reports beside its data: the socket uses refused and
/// what the guest wrote to stderr.
struct Witness {
    denials: NetworkDenials,
    stderr: MemoryOutputPipe,
}

/// Where a call failed.
enum Stage {
    Instantiate(wasmtime::Error),
    Call(wasmtime::Error),
}

/// What one call's guest code answered, or where it stopped; `None` when the
/// deadline came first.
type Returned<R> = Option<Result<Result<R, types::PluginError>, Stage>>;

/// How many calls of [`Guest::call_each`] run at once: each holds an instance
/// slot of the pooling allocator ([`crate::RuntimeOptions::max_instances`]),
/// so that a long list leaves slots for everything else.
const CONCURRENT_CALLS: usize = 16;

impl Guest {
    /// Call `function` in a fresh store: `instantiate` makes the bindings,
    /// `call` calls the export, `convert` turns the guest's value into the
    /// host's. The whole call — instantiation, the guest's code and every host
    /// call it makes — ends at the deadline.
    pub(crate) fn call<B, R, O>(
        &self,
        function: &'static str,
        instantiate: impl AsyncFnOnce(&mut Store<CallState>) -> wasmtime::Result<B>,
        call: impl AsyncFnOnce(
            &B,
            &mut Store<CallState>,
        ) -> wasmtime::Result<Result<R, types::PluginError>>,
        convert: impl FnOnce(R) -> O,
    ) -> Result<O, CallError> {
        self.call_until(self.deadline(), function, instantiate, call, convert)
    }

    /// Call `function` once for each of `inputs`, in order, each call in its
    /// own store, all of them under one deadline: a batch sent to a plugin
    /// whose track has only the function for one object. It stops at the
    /// first call that does not succeed and returns its error; the inputs
    /// after it are not sent. Each call is audited as [`Guest::call`] audits
    /// one.
    pub(crate) fn call_in_turn<I, B, R>(
        &self,
        function: &'static str,
        inputs: &[I],
        instantiate: impl AsyncFn(&mut Store<CallState>) -> wasmtime::Result<B>,
        call: impl AsyncFn(
            &B,
            &mut Store<CallState>,
            &I,
        ) -> wasmtime::Result<Result<R, types::PluginError>>,
    ) -> Result<Vec<R>, CallError> {
        let deadline = self.deadline();
        let (instantiate, call) = (&instantiate, &call);
        inputs
            .iter()
            .map(|input| {
                self.call_until(
                    deadline,
                    function,
                    async |store| instantiate(store).await,
                    async |bindings, store| call(bindings, store, input).await,
                    |value| value,
                )
            })
            .collect()
    }

    /// [`Guest::call`], ending at `deadline`.
    fn call_until<B, R, O>(
        &self,
        deadline: Instant,
        function: &'static str,
        instantiate: impl AsyncFnOnce(&mut Store<CallState>) -> wasmtime::Result<B>,
        call: impl AsyncFnOnce(
            &B,
            &mut Store<CallState>,
        ) -> wasmtime::Result<Result<R, types::PluginError>>,
        convert: impl FnOnce(R) -> O,
    ) -> Result<O, CallError> {
        let at = SystemTime::now();
        let started = Instant::now();
        let (mut store, witness) = self.store(function, deadline);
        let returned = until_deadline(deadline, async {
            let bindings = instantiate(&mut store).await.map_err(Stage::Instantiate)?;
            call(&bindings, &mut store).await.map_err(Stage::Call)
        });
        let result = self.finish(function, &store, &witness, returned, convert);
        self.audit(function, at, started, &result);
        result
    }

    /// Call `function` once for each of `inputs`, each call in its own store,
    /// all of them at once under one deadline: what the guest waits for in one
    /// call (a peer that never answers) does not delay the others, and the
    /// whole costs about the longest call, not their sum. One answer per
    /// input, in order; each call is audited as [`Guest::call`] audits one.
    ///
    /// At most [`CONCURRENT_CALLS`] run at a time; a call still waiting for its
    /// turn at the deadline is a time-out too.
    pub(crate) fn call_each<I, B, R, O>(
        &self,
        function: &'static str,
        inputs: &[I],
        instantiate: impl AsyncFn(&mut Store<CallState>) -> wasmtime::Result<B>,
        call: impl AsyncFn(
            &B,
            &mut Store<CallState>,
            &I,
        ) -> wasmtime::Result<Result<R, types::PluginError>>,
        convert: impl Fn(R) -> O,
    ) -> Vec<Result<O, CallError>> {
        use futures_util::StreamExt as _;

        let at = SystemTime::now();
        let started = Instant::now();
        let deadline = self.deadline();
        let mut stores: Vec<_> = inputs
            .iter()
            .map(|_| self.store(function, deadline))
            .collect();
        let returned: Vec<Returned<R>> = {
            let (instantiate, call) = (&instantiate, &call);
            let calls = stores
                .iter_mut()
                .zip(inputs)
                .map(|((store, _), input)| async move {
                    let bindings = instantiate(store).await.map_err(Stage::Instantiate)?;
                    call(&bindings, store, input).await.map_err(Stage::Call)
                });
            let all = futures_util::stream::iter(calls)
                .map(|call| tokio::time::timeout_at(deadline.into(), call))
                .buffered(CONCURRENT_CALLS)
                .map(Result::ok)
                .collect::<Vec<_>>();
            wasmtime_wasi::runtime::in_tokio(all)
        };
        stores
            .iter()
            .zip(returned)
            .map(|((store, witness), returned)| {
                let result = self.finish(function, store, witness, returned, &convert);
                self.audit(function, at, started, &result);
                result
            })
            .collect()
    }

    /// The guest's own `plugin-error` for `function`, its messages made fit to
    /// show: for an error a guest returns inside a batch's answer.
    pub(crate) fn plugin_error(&self, function: &'static str, error: PluginError) -> CallError {
        CallError::Plugin {
            plugin: self.name.to_string(),
            function,
            error: self.redactor.plugin_error(error),
        }
    }

    /// Leave the audit record of one call.
    pub(crate) fn audit<O>(
        &self,
        function: &'static str,
        at: SystemTime,
        started: Instant,
        result: &Result<O, CallError>,
    ) {
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(CallError::Plugin { error, .. }) => Outcome::PluginError(error.to_string()),
            Err(error @ CallError::Denied { .. }) => Outcome::Denied(error.to_string()),
            Err(error) => Outcome::Failed(error.to_string()),
        };
        self.shared.audit.record(AuditRecord {
            at,
            plugin: self.name.to_string(),
            digest: self.digest,
            signer: Some(self.signer.to_string()),
            function: function.to_owned(),
            duration: started.elapsed(),
            outcome,
        });
    }

    /// What one call came to, from what its guest code returned.
    fn finish<R, O>(
        &self,
        function: &'static str,
        store: &Store<CallState>,
        witness: &Witness,
        returned: Returned<R>,
        convert: impl FnOnce(R) -> O,
    ) -> Result<O, CallError> {
        self.report_notes(store, witness);
        let (denials, more) = witness.denials.take();
        if !denials.is_empty() {
            return Err(CallError::Denied {
                plugin: self.name.to_string(),
                function,
                denials,
                more,
            });
        }
        match returned {
            None => Err(self.timeout(function)),
            Some(Err(Stage::Instantiate(error))) => {
                Err(self.failure(store, function, witness, error, true))
            }
            Some(Err(Stage::Call(error))) => {
                Err(self.failure(store, function, witness, error, false))
            }
            Some(Ok(Err(error))) => Err(self.plugin_error(function, error.into())),
            Some(Ok(Ok(value))) => Ok(convert(value)),
        }
    }

    /// When a call starting now must end.
    fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_millis(u64::from(self.limits.call_timeout_ms))
    }

    /// A fresh store for one call of `function` ending at `deadline`, with its
    /// WASI context, limiter, hostcall fuel and epoch deadline; the call's
    /// witness.
    fn store(&self, function: &'static str, deadline: Instant) -> (Store<CallState>, Witness) {
        let witness = Witness {
            denials: NetworkDenials::default(),
            stderr: MemoryOutputPipe::new(STDERR_CAPTURE_BYTES),
        };
        let wasi = self
            .sandbox
            .wasi_context(&witness.denials, witness.stderr.clone());
        let memory_bytes = usize::try_from(self.limits.memory_mib)
            .unwrap_or(usize::MAX)
            .saturating_mul(1 << 20);
        let mut store = Store::new(
            &self.shared.engine,
            CallState {
                deadline,
                wasi,
                table: ResourceTable::new(),
                limiter: CallLimiter::new(memory_bytes),
                host: HostState {
                    plugin: Arc::clone(&self.name),
                    function,
                    config: Arc::clone(&self.config),
                    redactor: self.redactor.clone(),
                    audit: Arc::clone(&self.shared.audit),
                    lines: 0,
                    dropped: 0,
                },
                preopens: self.sandbox.shared_preopens(),
                http: WasiHttpCtx::new(),
                http_hooks: HttpHooks::new(
                    Arc::clone(&self.http),
                    deadline,
                    witness.denials.clone(),
                    Arc::clone(&self.shared.audit),
                    Arc::clone(&self.name),
                    function,
                ),
            },
        );
        store.limiter(|state| &mut state.limiter);
        // Whatever the guest hands the host in one go — the value it returns,
        // a log line, a write — is bounded before it is lifted.
        store.set_hostcall_fuel(self.shared.max_result_bytes);
        let ticks = u64::from(self.limits.call_timeout_ms).div_ceil(self.shared.tick_ms) + 1;
        store.set_epoch_deadline(ticks);
        (store, witness)
    }

    /// Instantiate in a fresh store and drop it, calling nothing: proves the
    /// guest links and starts within its limits (and is what the instantiation
    /// benchmark measures). Not audited: no guest function runs.
    pub(crate) fn instantiate(&self, pre: &InstancePre<CallState>) -> Result<(), CallError> {
        const FUNCTION: &str = "instantiate";
        let (mut store, witness) = self.store(FUNCTION, self.deadline());
        match until_deadline(store.data().deadline, pre.instantiate_async(&mut store)) {
            None => Err(self.timeout(FUNCTION)),
            Some(Ok(_)) => Ok(()),
            Some(Err(error)) => Err(self.failure(&store, FUNCTION, &witness, error, true)),
        }
    }

    /// Log what the guest should know it lost: log lines past the budget, and
    /// datagrams from addresses it was not granted, which were dropped.
    fn report_notes(&self, store: &Store<CallState>, witness: &Witness) {
        let host = &store.data().host;
        let note = |message: String| {
            host.audit.log(LogLine {
                plugin: host.plugin.to_string(),
                function: host.function.to_owned(),
                level: LogLevel::Warn,
                message,
            });
        };
        if host.dropped > 0 {
            note(format!(
                "{} more log lines dropped (at most {MAX_LOG_LINES_PER_CALL} per call)",
                host.dropped
            ));
        }
        let unsolicited = witness.denials.unsolicited();
        if unsolicited > 0 {
            note(format!(
                "{unsolicited} datagrams from addresses not granted were dropped"
            ));
        }
    }

    fn timeout(&self, function: &'static str) -> CallError {
        CallError::Timeout {
            plugin: self.name.to_string(),
            function,
            timeout_ms: self.limits.call_timeout_ms,
        }
    }

    /// Name what stopped the call.
    fn failure(
        &self,
        store: &Store<CallState>,
        function: &'static str,
        witness: &Witness,
        error: wasmtime::Error,
        instantiating: bool,
    ) -> CallError {
        let plugin = self.name.to_string();
        match store.data().limiter.hit {
            Some(LimitHit::Memory { requested_bytes }) => {
                return CallError::MemoryLimit {
                    plugin,
                    function,
                    limit_mib: self.limits.memory_mib,
                    requested_bytes,
                };
            }
            Some(LimitHit::Table { requested_elements }) => {
                return CallError::TableLimit {
                    limit: MAX_TABLE_ELEMENTS,
                    plugin,
                    function,
                    requested_elements,
                };
            }
            None => {}
        }
        if is_hostcall_fuel_exhausted(&error) {
            return CallError::ResultTooLarge {
                plugin,
                function,
                limit: self.shared.max_result_bytes,
            };
        }
        let stderr = || {
            self.redactor
                .stderr(&witness.stderr.contents(), STDERR_CAPTURE_BYTES)
        };
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => self.timeout(function),
            Some(trap) => CallError::Trap {
                plugin,
                function,
                trap: trap.to_string(),
                stderr: stderr(),
            },
            None if instantiating => CallError::Instantiate {
                plugin,
                function,
                message: self.redactor.line(&format!("{error:#}"), STDERR_BYTES),
            },
            None => CallError::Trap {
                plugin,
                function,
                trap: self.redactor.line(&format!("{error:#}"), STDERR_BYTES),
                stderr: stderr(),
            },
        }
    }
}

/// Run `work` on WASI's Tokio runtime until it ends or `deadline` passes
/// (`None`). Every wait a guest makes in a host call — a stream, a socket, a
/// name lookup, a file, a clock — is a future of this one, so the deadline
/// ends it; wasm code that never waits is stopped by the epoch deadline.
///
/// A file operation runs on a blocking thread (WASI's `spawn_blocking`): at
/// the deadline the call returns, and the thread stays blocked until the
/// operating system answers (a FIFO nobody writes to keeps it).
fn until_deadline<F: Future>(deadline: Instant, work: F) -> Option<F::Output> {
    let deadline = tokio::time::Instant::from_std(deadline);
    // The time-out registers with Tokio's timer when created: create it inside
    // the runtime.
    wasmtime_wasi::runtime::in_tokio(async move { tokio::time::timeout_at(deadline, work).await })
        .ok()
}

/// Whether `error` is wasmtime refusing to lift more data from the guest than
/// the store's hostcall fuel allows (its error type is private; its text is
/// checked by the oversized-result tests).
fn is_hostcall_fuel_exhausted(error: &wasmtime::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.to_string().contains("fuel allocated for hostcalls"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn the_memory_limit_holds_for_all_memories_of_an_instance_together() {
        let mut limiter = CallLimiter::new(32 << 20);
        // Two memories of 20 MiB each: the first fits, the second does not.
        assert!(limiter.memory_growing(0, 20 << 20, None).unwrap());
        assert!(limiter.memory_growing(0, 20 << 20, None).is_err());
        assert_eq!(
            limiter.hit,
            Some(LimitHit::Memory {
                requested_bytes: 40 << 20
            })
        );
        // Growing the first within the total is fine.
        let mut limiter = CallLimiter::new(32 << 20);
        assert!(limiter.memory_growing(0, 20 << 20, None).unwrap());
        assert!(limiter.memory_growing(20 << 20, 30 << 20, None).unwrap());
        assert!(limiter.memory_growing(0, 4 << 20, None).is_err());
    }

    fn redactor(secret: &str) -> Redactor {
        Redactor::with(
            &BTreeMap::from([(
                "key".to_owned(),
                ResolvedValue::Secret(crate::environment::Secret::new(secret.to_owned())),
            )]),
            &[],
        )
    }

    #[test]
    fn a_secret_is_redacted_before_a_line_is_cut() {
        let redactor = redactor("s3cret-value");
        let line = format!("{}s3cret-value", "x".repeat(MAX_LOG_LINE_BYTES - 4));
        let kept = redactor.line(&line, MAX_LOG_LINE_BYTES);
        assert!(!kept.contains("s3cr"), "{}", &kept[kept.len() - 20..]);
    }

    #[test]
    fn a_secret_cut_short_by_the_capture_is_redacted_too() {
        let redactor = redactor("s3cret-value");
        let captured = format!("{}s3cr", "x".repeat(10));
        let kept = redactor.stderr(captured.as_bytes(), captured.len());
        assert_eq!(kept, format!("{}{REDACTED}", "x".repeat(10)));
    }

    #[test]
    fn guest_text_is_one_escaped_line() {
        let kept = redactor("zz-secret").line("ok\n\u{1b}[2Jfake line", 100);
        assert_eq!(kept, "ok\\n\\u{1b}[2Jfake line");
    }
}
