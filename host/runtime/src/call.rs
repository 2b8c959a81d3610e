//! One call into a guest: a fresh store with its WASI context, limits and epoch
//! deadline, the `host` import, and the translation of whatever went wrong into a
//! typed [`CallError`] that keeps what the guest returned apart from what the
//! runtime stopped.
//!
//! Plugins ([`crate::plugin`]) and policy modules ([`crate::policy`]) both call
//! through [`Guest::call`]; every call leaves an audit record.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use wasmtime::component::{HasSelf, InstancePre, Linker, Resource, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store, StoreContextMut, Trap};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::audit::{
    AuditRecord, AuditSink, LogLevel, LogLine, MAX_LOG_LINE_BYTES, MAX_LOG_LINES_PER_CALL, Outcome,
};
use crate::capability::{NetworkDenial, NetworkDenials, Sandbox};
use crate::digest::Digest;
use crate::environment::ResolvedValue;
use crate::manifest::Limits;
use crate::plugin::PluginError;
use crate::wit::v0_1_0::base::failback::plugin::{host, types};

/// How much of a trapping guest's stderr the host keeps for the error.
const STDERR_BYTES: usize = 4_096;
/// Core instances, tables and memories one store may create. A component built
/// for `wasm32-wasip2` instantiates a handful of core modules (the program and
/// the adapter shims); these bounds leave room for that and no more.
const MAX_CORE_INSTANCES: usize = 32;
const MAX_TABLES: usize = 32;
const MAX_MEMORIES: usize = 2;
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The state of one store: one call.
pub struct CallState {
    /// When the call's time is up.
    deadline: Instant,
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: CallLimiter,
    host: HostState,
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

/// What the `host` import needs during one call.
struct HostState {
    plugin: Arc<str>,
    function: &'static str,
    config: Arc<BTreeMap<String, ResolvedValue>>,
    audit: Arc<dyn AuditSink>,
    lines: u32,
    dropped: u32,
}

impl HostState {
    fn redact(&self, message: &str) -> String {
        let mut message = message.to_owned();
        for value in self.config.values() {
            if let ResolvedValue::Secret(secret) = value
                && !secret.expose().is_empty()
            {
                message = message.replace(secret.expose(), "<redacted>");
            }
        }
        message
    }
}

impl types::Host for CallState {}

impl host::Host for CallState {
    fn log(&mut self, level: types::LogLevel, message: String) {
        let host = &mut self.host;
        if host.lines >= MAX_LOG_LINES_PER_CALL {
            host.dropped = host.dropped.saturating_add(1);
            return;
        }
        host.lines += 1;
        let mut cut = message.len().min(MAX_LOG_LINE_BYTES);
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        let message = host.redact(&message[..cut]);
        host.audit.log(LogLine {
            plugin: host.plugin.to_string(),
            function: host.function.to_owned(),
            level: match level {
                types::LogLevel::Debug => LogLevel::Debug,
                types::LogLevel::Info => LogLevel::Info,
                types::LogLevel::Warn => LogLevel::Warn,
                types::LogLevel::Error => LogLevel::Error,
            },
            message,
        });
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.host
            .config
            .get(&key)
            .map(|value| value.value().to_owned())
    }
}

/// The `wasi:io/poll` interface the synchronous WASI bindings define.
const WASI_IO_POLL: &str = "wasi:io/poll@0.2.12";

/// Replace WASI's two blocking waits, `poll` and `pollable.block`, with ones
/// that give up at the call's deadline.
///
/// The epoch deadline stops a guest only while it runs wasm code; a guest that
/// waits in a host call (`std::thread::sleep`, a read from a socket that never
/// answers) would otherwise hold the host past its time limit for as long as it
/// likes. Both waits run WASI's own implementation under a Tokio time-out at the
/// deadline, and trap as an interrupt (reported as [`CallError::Timeout`]) when
/// it passes.
fn bound_blocking_waits(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;

    fn until_deadline<F: Future>(deadline: Instant, wait: F) -> wasmtime::Result<F::Output> {
        let deadline = tokio::time::Instant::from_std(deadline);
        // The time-out registers with Tokio's timer when created: create it
        // inside the runtime.
        wasmtime_wasi::runtime::in_tokio(
            async move { tokio::time::timeout_at(deadline, wait).await },
        )
        .map_err(|_| wasmtime::Error::from(Trap::Interrupt))
    }

    linker.allow_shadowing(true);
    let mut poll = linker.instance(WASI_IO_POLL)?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, CallState>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            let state = store.data_mut();
            let ready = until_deadline(
                state.deadline,
                async_poll::Host::poll(&mut state.table, pollables),
            )??;
            Ok((ready,))
        },
    )?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, CallState>, (pollable,): (Resource<DynPollable>,)| {
            let state = store.data_mut();
            until_deadline(
                state.deadline,
                async_poll::HostPollable::block(&mut state.table, pollable),
            )??;
            Ok(())
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A limit the guest ran into, noted by the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LimitHit {
    Memory { requested_bytes: usize },
    Table { requested_elements: usize },
}

/// The store's resource limiter: the plugin's memory limit, and fixed bounds on
/// tables and instances. A growth past a limit traps at once (rather than
/// failing `memory.grow`) and is noted, so the error names the limit.
struct CallLimiter {
    memory_bytes: usize,
    hit: Option<LimitHit>,
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.hit = Some(LimitHit::Memory {
                requested_bytes: desired,
            });
            return Err(wasmtime::format_err!("memory limit reached"));
        }
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

/// Why a call into a plugin or a policy module did not return a value.
///
/// [`CallError::Plugin`] is the guest's own answer (its WIT `plugin-error`);
/// every other variant is something the runtime detected and the guest never
/// saw.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("plugin `{plugin}` answered `{function}` with an error: {error}")]
    Plugin {
        plugin: String,
        function: &'static str,
        error: PluginError,
    },
    #[error("`{plugin}` ran past its time limit of {timeout_ms} ms in `{function}`")]
    Timeout {
        plugin: String,
        function: &'static str,
        timeout_ms: u32,
    },
    #[error(
        "`{plugin}` ran past its memory limit of {limit_mib} MiB in `{function}` (it asked for {requested_bytes} bytes)"
    )]
    MemoryLimit {
        plugin: String,
        function: &'static str,
        limit_mib: u32,
        requested_bytes: usize,
    },
    #[error(
        "`{plugin}` ran past its table limit of {MAX_TABLE_ELEMENTS} elements in `{function}` (it asked for {requested_elements})"
    )]
    TableLimit {
        plugin: String,
        function: &'static str,
        requested_elements: usize,
    },
    #[error("`{plugin}` trapped in `{function}`: {trap}{}", stderr_suffix(.stderr))]
    Trap {
        plugin: String,
        function: &'static str,
        trap: String,
        /// What the guest wrote to stderr (a panic message), cut at 4 KiB.
        stderr: String,
    },
    #[error("`{plugin}` was denied {} in `{function}`", list(.denials))]
    Denied {
        plugin: String,
        function: &'static str,
        denials: Vec<NetworkDenial>,
    },
    #[error(
        "`{plugin}` returned {bytes} bytes from `{function}`, more than the {limit} bytes allowed"
    )]
    ResultTooLarge {
        plugin: String,
        function: &'static str,
        bytes: usize,
        limit: usize,
    },
    #[error("`{plugin}` cannot be instantiated for `{function}`: {message}")]
    Instantiate {
        plugin: String,
        function: &'static str,
        message: String,
    },
    #[error("the sandbox of `{plugin}` cannot be set up for `{function}`: {message}")]
    Sandbox {
        plugin: String,
        function: &'static str,
        message: String,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(" (stderr: {stderr})")
    }
}

fn list(denials: &[NetworkDenial]) -> String {
    denials
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl CallError {
    /// Whether this is the guest's own answer rather than a runtime failure.
    #[must_use]
    pub fn is_plugin_error(&self) -> bool {
        matches!(self, Self::Plugin { .. })
    }
}

/// What the runtime shares with every guest.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) linker: Arc<Linker<CallState>>,
    pub(crate) audit: Arc<dyn AuditSink>,
    /// Epoch ticks per millisecond of wall time, rounded up per call.
    pub(crate) tick_ms: u64,
    pub(crate) max_result_bytes: usize,
    /// The thread that advances the epoch. Every loaded plugin and policy
    /// holds it, so a guest that outlives its `Runtime` still times out.
    pub(crate) _ticker: Arc<crate::engine::Ticker>,
}

/// A loaded guest, plugin or policy module: everything a call needs but the
/// typed bindings.
#[derive(Clone)]
pub(crate) struct Guest {
    pub(crate) name: Arc<str>,
    pub(crate) digest: Digest,
    pub(crate) limits: Limits,
    pub(crate) sandbox: Sandbox,
    pub(crate) config: Arc<BTreeMap<String, ResolvedValue>>,
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

impl Guest {
    /// Add the WASI and `host` imports every guest may use to `linker`.
    pub(crate) fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
        wasmtime_wasi::p2::add_to_linker_sync(linker)?;
        bound_blocking_waits(linker)?;
        host::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)?;
        Ok(())
    }

    /// Call `function` in a fresh store: `instantiate` makes the bindings,
    /// `call` calls the export, `convert` turns the guest's value into the
    /// host's and `size` measures it.
    pub(crate) fn call<B, R, O>(
        &self,
        function: &'static str,
        instantiate: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<B>,
        call: impl FnOnce(&B, &mut Store<CallState>) -> wasmtime::Result<Result<R, types::PluginError>>,
        convert: impl FnOnce(R) -> O,
        size: impl FnOnce(&O) -> usize,
    ) -> Result<O, CallError> {
        let at = SystemTime::now();
        let started = Instant::now();
        let result = self.run(function, instantiate, call, convert, size);
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(CallError::Plugin { error, .. }) => Outcome::PluginError(error.to_string()),
            Err(error @ CallError::Denied { .. }) => Outcome::Denied(error.to_string()),
            Err(error) => Outcome::Failed(error.to_string()),
        };
        self.shared.audit.record(AuditRecord {
            at,
            plugin: self.name.to_string(),
            digest: self.digest,
            function: function.to_owned(),
            duration: started.elapsed(),
            outcome,
        });
        result
    }

    fn run<B, R, O>(
        &self,
        function: &'static str,
        instantiate: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<B>,
        call: impl FnOnce(&B, &mut Store<CallState>) -> wasmtime::Result<Result<R, types::PluginError>>,
        convert: impl FnOnce(R) -> O,
        size: impl FnOnce(&O) -> usize,
    ) -> Result<O, CallError> {
        let plugin = || self.name.to_string();
        let (mut store, denials, stderr) = self.store(function)?;
        let bindings = instantiate(&mut store)
            .map_err(|error| self.failure(&store, function, &stderr, error, true))?;
        let returned = call(&bindings, &mut store);
        self.report_dropped_lines(&mut store);
        let denied = denials.take();
        if !denied.is_empty() {
            return Err(CallError::Denied {
                plugin: plugin(),
                function,
                denials: denied,
            });
        }
        match returned {
            Err(error) => Err(self.failure(&store, function, &stderr, error, false)),
            Ok(Err(error)) => Err(CallError::Plugin {
                plugin: plugin(),
                function,
                error: error.into(),
            }),
            Ok(Ok(value)) => {
                let value = convert(value);
                let bytes = size(&value);
                if bytes > self.shared.max_result_bytes {
                    return Err(CallError::ResultTooLarge {
                        plugin: plugin(),
                        function,
                        bytes,
                        limit: self.shared.max_result_bytes,
                    });
                }
                Ok(value)
            }
        }
    }

    /// A fresh store for one call of `function`, with its WASI context,
    /// limiter and epoch deadline; the call's socket denials and stderr.
    fn store(
        &self,
        function: &'static str,
    ) -> Result<(Store<CallState>, NetworkDenials, MemoryOutputPipe), CallError> {
        let denials = NetworkDenials::default();
        let stderr = MemoryOutputPipe::new(STDERR_BYTES);
        let wasi = self
            .sandbox
            .wasi_context(&denials, stderr.clone())
            .map_err(|e| CallError::Sandbox {
                plugin: self.name.to_string(),
                function,
                message: e.to_string(),
            })?;
        let memory_bytes = usize::try_from(self.limits.memory_mib)
            .unwrap_or(usize::MAX)
            .saturating_mul(1 << 20);
        let mut store = Store::new(
            &self.shared.engine,
            CallState {
                deadline: Instant::now()
                    + Duration::from_millis(u64::from(self.limits.call_timeout_ms)),
                wasi,
                table: ResourceTable::new(),
                limiter: CallLimiter {
                    memory_bytes,
                    hit: None,
                },
                host: HostState {
                    plugin: Arc::clone(&self.name),
                    function,
                    config: Arc::clone(&self.config),
                    audit: Arc::clone(&self.shared.audit),
                    lines: 0,
                    dropped: 0,
                },
            },
        );
        store.limiter(|state| &mut state.limiter);
        let ticks = u64::from(self.limits.call_timeout_ms).div_ceil(self.shared.tick_ms) + 1;
        store.set_epoch_deadline(ticks);
        Ok((store, denials, stderr))
    }

    /// Instantiate in a fresh store and drop it, calling nothing: proves the
    /// guest links and starts within its limits (and is what the instantiation
    /// benchmark measures). Not audited: no guest function runs.
    pub(crate) fn instantiate(&self, pre: &InstancePre<CallState>) -> Result<(), CallError> {
        const FUNCTION: &str = "instantiate";
        let (mut store, _, stderr) = self.store(FUNCTION)?;
        pre.instantiate(&mut store)
            .map(drop)
            .map_err(|error| self.failure(&store, FUNCTION, &stderr, error, true))
    }

    fn report_dropped_lines(&self, store: &mut Store<CallState>) {
        let host = &store.data().host;
        if host.dropped > 0 {
            host.audit.log(LogLine {
                plugin: host.plugin.to_string(),
                function: host.function.to_owned(),
                level: LogLevel::Warn,
                message: format!(
                    "{} more log lines dropped (at most {MAX_LOG_LINES_PER_CALL} per call)",
                    host.dropped
                ),
            });
        }
    }

    /// Name what stopped the call.
    fn failure(
        &self,
        store: &Store<CallState>,
        function: &'static str,
        stderr: &MemoryOutputPipe,
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
                    plugin,
                    function,
                    requested_elements,
                };
            }
            None => {}
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallError::Timeout {
                plugin,
                function,
                timeout_ms: self.limits.call_timeout_ms,
            },
            Some(trap) => CallError::Trap {
                plugin,
                function,
                trap: trap.to_string(),
                stderr: String::from_utf8_lossy(&stderr.contents()).into_owned(),
            },
            None if instantiating => CallError::Instantiate {
                plugin,
                function,
                message: format!("{error:#}"),
            },
            None => CallError::Trap {
                plugin,
                function,
                trap: format!("{error:#}"),
                stderr: String::from_utf8_lossy(&stderr.contents()).into_owned(),
            },
        }
    }
}
