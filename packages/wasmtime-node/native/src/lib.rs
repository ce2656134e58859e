//! Runs WASI preview1 modules, WASI preview2 command components and `wasi:http/proxy` components
//! on wasmtime, for Node.
//!
//! The surface is deliberately small and synchronous: a `WasiRunner` compiles one workload and runs
//! it on the calling thread (callers use a `worker_threads` Worker, so the Node main thread stays
//! free). A guest is stopped by epoch interruption: every runner has its own wasmtime `Engine`
//! with an epoch deadline one tick ahead, and `interrupt` bumps the epoch from any thread.
//!
//! Because a runner object lives in the JS realm of the thread that made it, other threads reach
//! it through its numeric `handle` and the module-level `interrupt(handle, waitMs)`; a
//! `ProxyServer` made on any thread serves the proxy component a runner compiled.
#![deny(clippy::all)]

mod guest;
mod proxy;

pub(crate) use guest::{describe, is_component, START};
use guest::{run_module, CLI_RUN, HTTP_HANDLER};

pub use proxy::{ProxyServer, ServeOptions};

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use napi::bindgen_prelude::{AsyncTask, Buffer, Uint8Array};
use napi::{Env, Error, Result, Status, Task};
use napi_derive::napi;
use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Config, Engine, Linker, Module, Precompiled, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{InputFile, OutputFile};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// What a runner compiled.
#[derive(Clone)]
pub(crate) enum Workload {
    /// A core module, run as a WASI preview1 program.
    Module(Module),
    /// A component exporting `wasi:cli/run`, run as a WASI preview2 command.
    Command(Component),
    /// A component exporting `wasi:http/incoming-handler`, served by a `ProxyServer`.
    Proxy(Component),
}

impl Workload {
    fn kind(&self) -> &'static str {
        match self {
            Workload::Module(_) => "module",
            Workload::Command(_) => "command",
            Workload::Proxy(_) => "proxy",
        }
    }

    /// Sorts a component by its exports; a component that is both a proxy and a command is
    /// served, as a server is what its author most likely meant to ship.
    fn of_component(engine: &Engine, component: Component) -> Result<Self> {
        let ty = component.component_type();
        let names: Vec<String> = ty
            .exports(engine)
            .map(|(name, _)| name.to_string())
            .collect();
        if names.iter().any(|n| n.starts_with(HTTP_HANDLER)) {
            return Ok(Workload::Proxy(component));
        }
        if names.iter().any(|n| n.starts_with(CLI_RUN)) {
            return Ok(Workload::Command(component));
        }
        Err(Error::new(
            Status::InvalidArg,
            format!(
                "the component exports neither wasi:cli/run nor wasi:http/incoming-handler (it exports: {})",
                if names.is_empty() { "nothing".to_string() } else { names.join(", ") }
            ),
        ))
    }
}

/// What a runner shares with other threads: its engine (for the epoch) and whether a guest runs.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    /// The settings `engine` was made with, for engines made later for the same code (a proxy
    /// server's pooling engine).
    pub(crate) config: Config,
    /// Engines of proxy servers serving this runner's workload: an interrupt reaches them too.
    pub(crate) proxy_engines: Mutex<Vec<Engine>>,
    /// The compiled workload, shared so a `ProxyServer` on another thread can serve it.
    pub(crate) workload: Mutex<Option<Workload>>,
    /// Set by the first interrupt; a runner that was interrupted never starts a guest again.
    pub(crate) interrupted: AtomicBool,
    /// Whether `run` is executing, with `idle` signalled when it stops.
    running: Mutex<bool>,
    idle: Condvar,
}

impl Shared {
    pub(crate) fn workload(&self) -> MutexGuard<'_, Option<Workload>> {
        self.workload
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn running(&self) -> MutexGuard<'_, bool> {
        // A panic while holding this lock cannot leave the bool inconsistent.
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        self.engine.increment_epoch();
        let engines = self
            .proxy_engines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for engine in engines.iter() {
            engine.increment_epoch();
        }
    }

    /// Waits up to `timeout` for `run` to return; true when no guest is running.
    fn wait_idle(&self, timeout: Duration) -> bool {
        let guard = self.running();
        let (guard, _) = self
            .idle
            .wait_timeout_while(guard, timeout, |running| *running)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        !*guard
    }
}

/// Marks a runner as running for as long as it lives.
struct RunningGuard<'a>(&'a Shared);

impl<'a> RunningGuard<'a> {
    fn enter(shared: &'a Shared) -> Result<Self> {
        let mut running = shared.running();
        if *running {
            return Err(failure("this runner is already running a guest"));
        }
        *running = true;
        Ok(Self(shared))
    }
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        *self.0.running() = false;
        self.0.idle.notify_all();
    }
}

/// Every live runner of the process, by handle (the addon is loaded once per process, so this map
/// is shared by the main thread and all worker threads).
static RUNNERS: LazyLock<Mutex<HashMap<u32, Arc<Shared>>>> = LazyLock::new(Default::default);
static NEXT_HANDLE: AtomicU32 = AtomicU32::new(1);

pub(crate) fn runners() -> MutexGuard<'static, HashMap<u32, Arc<Shared>>> {
    RUNNERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn failure(message: impl Into<String>) -> Error {
    Error::new(Status::GenericFailure, message.into())
}

/// Options of a runner's engine.
#[napi(object)]
pub struct RunnerOptions {
    /// Maximum native stack, in bytes, the guest may use before it traps with a stack overflow
    /// (wasmtime's default is 512 KiB). Must fit in the stack of the thread that calls `run`.
    pub max_wasm_stack: Option<u32>,
    /// Cranelift's optimisation level: `none`, `speed` (wasmtime's default) or `speed_and_size`.
    pub cranelift_opt_level: Option<String>,
    /// WebAssembly proposals, on or off (wasmtime's defaults when absent).
    pub wasm_simd: Option<bool>,
    pub wasm_relaxed_simd: Option<bool>,
    pub wasm_multi_memory: Option<bool>,
    pub wasm_memory64: Option<bool>,
    pub wasm_tail_call: Option<bool>,
    /// Virtual address space reserved up front for each linear memory, in bytes (wasmtime's
    /// default is 4 GiB on 64-bit hosts, which makes bounds checks free).
    pub memory_reservation: Option<i64>,
    /// Guard region after each linear memory, in bytes.
    pub memory_guard_size: Option<i64>,
}

/// Applies the engine settings of `options` to `config`; a bad value is an InvalidArg error.
fn configure(config: &mut Config, options: &RunnerOptions) -> Result<()> {
    let settings = guest::EngineSettings {
        max_wasm_stack: options.max_wasm_stack,
        cranelift_opt_level: options.cranelift_opt_level.clone(),
        wasm_simd: options.wasm_simd,
        wasm_relaxed_simd: options.wasm_relaxed_simd,
        wasm_multi_memory: options.wasm_multi_memory,
        wasm_memory64: options.wasm_memory64,
        wasm_tail_call: options.wasm_tail_call,
        memory_reservation: options.memory_reservation,
        memory_guard_size: options.memory_guard_size,
    };
    guest::configure(config, &settings).map_err(|message| Error::new(Status::InvalidArg, message))
}

/// One run of the compiled module or command component.
#[napi(object)]
pub struct RunOptions {
    /// The guest's argv; `args[0]` is the program name.
    pub args: Vec<String>,
    /// The guest's environment, as `[name, value]` pairs; nothing else reaches the guest.
    pub env: Vec<(String, String)>,
    /// Host directory the guest sees as `/` (read-write); no preopen when absent.
    pub preopen_dir: Option<String>,
    /// File descriptors of this process that become the guest's fds 0, 1 and 2 (they are
    /// duplicated; the caller keeps its own).
    pub stdin: i32,
    pub stdout: i32,
    pub stderr: i32,
    /// Exported function to call; `_start` when absent. Other functions must take no
    /// parameters; a reactor's `_initialize` runs first.
    pub func: Option<String>,
    /// Cap on the size of each of the guest's linear memories, in bytes; growing past it fails
    /// the `memory.grow` (malloc returns NULL) instead of trapping.
    pub memory_limit_bytes: Option<i64>,
}

/// Per-store data of a preview1 run: the WASI context and the resource limits.
struct P1State {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

/// Per-store data of a component: the WASI context, its resources and the resource limits.
pub(crate) struct P2State {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: StoreLimits,
}

impl WasiView for P2State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The store limits for an optional cap on each linear memory.
pub(crate) fn memory_limits(bytes: Option<i64>) -> Result<StoreLimits> {
    match bytes {
        Some(bytes) if bytes < 0 => Err(Error::new(
            Status::InvalidArg,
            "memoryLimitBytes is negative",
        )),
        Some(bytes) => Ok(StoreLimitsBuilder::new()
            .memory_size(bytes as usize)
            .build()),
        None => Ok(StoreLimits::default()),
    }
}

/// Adds the guest's `/` (read-write) to a WASI context, when there is one.
pub(crate) fn preopen(wasi: &mut WasiCtxBuilder, dir: Option<&str>) -> Result<()> {
    if let Some(dir) = dir {
        wasi.preopened_dir(dir, "/", FsPerms::ReadWrite)
            .map_err(|e| failure(format!("cannot preopen {dir} as the guest's /: {e:#}")))?;
    }
    Ok(())
}

/// The exit code of a finished run, or the error to throw.
fn exit_code(outcome: wasmtime::Result<()>) -> Result<i32> {
    match outcome {
        Ok(()) => Ok(0),
        Err(err) => match err.downcast_ref::<I32Exit>() {
            Some(I32Exit(code)) => Ok(*code),
            None => Err(failure(describe(&err))),
        },
    }
}

/// Duplicates `fd` into a `File` the guest owns, in blocking mode (see `guest::guest_file`).
pub(crate) fn guest_file(fd: i32, what: &str) -> Result<File> {
    guest::guest_file(fd).map_err(|err| {
        Error::new(
            Status::InvalidArg,
            format!("the guest's {what} (fd {fd}): {err}"),
        )
    })
}

/// Compiles and runs WASI preview1 modules and preview2 components on an engine of its own.
#[napi]
pub struct WasiRunner {
    handle: u32,
    shared: Arc<Shared>,
}

#[napi]
impl WasiRunner {
    #[napi(constructor)]
    pub fn new(options: Option<RunnerOptions>) -> Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        if let Some(options) = &options {
            configure(&mut config, options)?;
        }
        // Settings that contradict each other (simd off with relaxed simd on, say) fail here.
        let engine = Engine::new(&config).map_err(|e| {
            Error::new(
                Status::InvalidArg,
                format!("cannot create a wasmtime engine: {e:#}"),
            )
        })?;
        let shared = Arc::new(Shared {
            engine,
            config,
            proxy_engines: Mutex::new(Vec::new()),
            workload: Mutex::new(None),
            interrupted: AtomicBool::new(false),
            running: Mutex::new(false),
            idle: Condvar::new(),
        });
        let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
        runners().insert(handle, shared.clone());
        Ok(Self { handle, shared })
    }

    /// Process-wide id of this runner, for `interrupt(handle)` from another thread.
    #[napi(getter)]
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// What the last `compile` or `loadPrecompiled` produced: `module`, `command` or `proxy`;
    /// null before.
    #[napi(getter)]
    pub fn kind(&self) -> Option<&'static str> {
        self.shared.workload().as_ref().map(Workload::kind)
    }

    /// Validates and compiles `bytes` (a WebAssembly module or component) as the workload later
    /// runs execute, and returns its kind.
    #[napi]
    pub fn compile(&self, bytes: Uint8Array) -> Result<&'static str> {
        let engine = &self.shared.engine;
        let workload = if is_component(&bytes) {
            let component = Component::new(engine, &bytes[..]).map_err(|e| {
                Error::new(
                    Status::InvalidArg,
                    format!("invalid WebAssembly component: {e:#}"),
                )
            })?;
            Workload::of_component(engine, component)?
        } else {
            let module = Module::new(engine, &bytes[..]).map_err(|e| {
                Error::new(
                    Status::InvalidArg,
                    format!("invalid WebAssembly module: {e:#}"),
                )
            })?;
            Workload::Module(module)
        };
        let kind = workload.kind();
        *self.shared.workload() = Some(workload);
        Ok(kind)
    }

    /// Compiles `bytes` (a module or component) to this engine's native code without keeping it,
    /// and returns the artifact `loadPrecompiled` accepts.
    #[napi]
    pub fn precompile(&self, bytes: Uint8Array) -> Result<Buffer> {
        let engine = &self.shared.engine;
        let artifact = if is_component(&bytes) {
            engine.precompile_component(&bytes)
        } else {
            engine.precompile_module(&bytes)
        };
        let what = if is_component(&bytes) {
            "component"
        } else {
            "module"
        };
        artifact.map(Buffer::from).map_err(|e| {
            Error::new(
                Status::InvalidArg,
                format!("invalid WebAssembly {what}: {e:#}"),
            )
        })
    }

    /// Identifies the engine settings an artifact depends on: artifacts made by runners with the
    /// same hash load in each other. Hex text, stable for a given build of this addon.
    #[napi]
    pub fn precompile_compatibility_hash(&self) -> String {
        guest::compatibility_hash(&self.shared.engine)
    }

    /// Loads an artifact of `precompile` (made by a runner with the same compatibility hash) as
    /// the workload later runs execute, and returns its kind. The artifact is native code run as
    /// is: it must come from a trusted store that checks its integrity (a content-addressed one).
    #[napi]
    pub fn load_precompiled(&self, artifact: Uint8Array) -> Result<&'static str> {
        let engine = &self.shared.engine;
        let invalid = |e: wasmtime::Error| {
            Error::new(
                Status::InvalidArg,
                format!("unusable precompiled artifact: {e:#}"),
            )
        };
        let workload = match Engine::detect_precompiled(&artifact) {
            // SAFETY: wasmtime checks the artifact's format, its wasmtime version and the engine
            // settings it was compiled for; the caller vouches for where the bytes come from.
            Some(Precompiled::Module) => Workload::Module(
                unsafe { Module::deserialize(engine, &artifact[..]) }.map_err(invalid)?,
            ),
            Some(Precompiled::Component) => {
                let component =
                    unsafe { Component::deserialize(engine, &artifact[..]) }.map_err(invalid)?;
                Workload::of_component(engine, component)?
            }
            None => {
                return Err(Error::new(
                    Status::InvalidArg,
                    "unusable precompiled artifact: not a wasmtime artifact",
                ))
            }
        };
        let kind = workload.kind();
        *self.shared.workload() = Some(workload);
        Ok(kind)
    }

    /// Runs the compiled module or command component to completion on the calling thread and
    /// returns its exit code: 0 when it returns, the `proc_exit`/`wasi:cli/exit` status otherwise
    /// (a command whose `run` returns an error exits with 1). Throws on a trap (including an
    /// interrupt) with wasmtime's trap message, or when the guest cannot be set up.
    #[napi]
    pub fn run(&self, options: RunOptions) -> Result<i32> {
        run_workload(&self.shared, options)
    }

    /// Like `run`, on a thread of libuv's pool rather than the calling one: the promise settles
    /// with the exit status (or the error `run` would throw). The JS thread stays free, without
    /// the memory of a worker thread's own JS engine.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn run_async(&self, options: RunOptions) -> AsyncTask<RunTask> {
        AsyncTask::new(RunTask {
            shared: self.shared.clone(),
            options: Some(options),
        })
    }

    /// Stops the running guest at its next epoch check (it traps with `interrupt`), and makes
    /// later runs of this runner fail. Safe to call at any time.
    #[napi]
    pub fn interrupt(&self) {
        self.shared.interrupt();
    }
}

/// Makes `store` trap on the next epoch tick; fails when the runner was already interrupted.
pub(crate) fn arm_interrupt<T>(shared: &Shared, store: &mut Store<T>) -> Result<()> {
    // Set before checking `interrupted`, so an interrupt either is seen below or bumps the epoch
    // past this deadline.
    store.set_epoch_deadline(1);
    store.epoch_deadline_trap();
    if shared.interrupted.load(Ordering::SeqCst) {
        return Err(failure("interrupted before the guest started"));
    }
    Ok(())
}

/// A `run` on libuv's thread pool (see `WasiRunner::runAsync`).
pub struct RunTask {
    shared: Arc<Shared>,
    options: Option<RunOptions>,
}

impl Task for RunTask {
    type Output = i32;
    type JsValue = i32;

    fn compute(&mut self) -> Result<i32> {
        let options = self
            .options
            .take()
            .ok_or_else(|| failure("the run was already started"))?;
        run_workload(&self.shared, options)
    }

    fn resolve(&mut self, _env: Env, output: i32) -> Result<i32> {
        Ok(output)
    }
}

/// Runs the workload `shared` holds with `options`, on the calling thread, and returns its exit
/// status.
fn run_workload(shared: &Shared, options: RunOptions) -> Result<i32> {
    let workload = shared
        .workload()
        .clone()
        .ok_or_else(|| failure("nothing compiled: call compile() first"))?;
    let _running = RunningGuard::enter(shared)?;

    let mut wasi = WasiCtxBuilder::new();
    // The guest has this thread to itself: do blocking I/O on it rather than through tokio.
    wasi.allow_blocking_current_thread(true);
    wasi.args(&options.args).envs(&options.env);
    wasi.stdin(InputFile::new(guest_file(options.stdin, "stdin")?));
    wasi.stdout(OutputFile::new(guest_file(options.stdout, "stdout")?));
    wasi.stderr(OutputFile::new(guest_file(options.stderr, "stderr")?));
    preopen(&mut wasi, options.preopen_dir.as_deref())?;
    let limits = memory_limits(options.memory_limit_bytes)?;

    match workload {
        Workload::Module(module) => {
            let state = P1State {
                wasi: wasi.build_p1(),
                limits,
            };
            let mut store = Store::new(&shared.engine, state);
            store.limiter(|state| &mut state.limits);
            arm_interrupt(shared, &mut store)?;
            let mut linker: Linker<P1State> = Linker::new(&shared.engine);
            p1::add_to_linker_sync(&mut linker, |state: &mut P1State| &mut state.wasi)
                .map_err(|e| failure(format!("cannot link WASI: {e:#}")))?;
            let func = options.func.as_deref().unwrap_or(START);
            exit_code(run_module(&linker, &mut store, &module, func))
        }
        Workload::Command(component) => {
            if let Some(func) = options.func.as_deref().filter(|f| *f != START) {
                return Err(Error::new(
                    Status::InvalidArg,
                    format!("a component runs through wasi:cli/run; it has no entrypoint {func}"),
                ));
            }
            let state = P2State {
                wasi: wasi.build(),
                table: ResourceTable::new(),
                limits,
            };
            let mut store = Store::new(&shared.engine, state);
            store.limiter(|state| &mut state.limits);
            arm_interrupt(shared, &mut store)?;
            let mut linker = wasmtime::component::Linker::<P2State>::new(&shared.engine);
            wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
                .map_err(|e| failure(format!("cannot link WASI: {e:#}")))?;
            exit_code((|| {
                let command = Command::instantiate(&mut store, &component, &linker)?;
                match command.wasi_cli_run().call_run(&mut store)? {
                    Ok(()) => Ok(()),
                    Err(()) => Err(I32Exit(1).into()),
                }
            })())
        }
        Workload::Proxy(_) => Err(Error::new(
            Status::InvalidArg,
            "the component is a wasi:http proxy: serve it with a ProxyServer",
        )),
    }
}

impl Drop for WasiRunner {
    fn drop(&mut self) {
        runners().remove(&self.handle);
    }
}

/// Interrupts the runner `handle` from any thread, then waits up to `waitMs` (default 0) for its
/// guest to stop. Returns true when no guest of that runner is running (also for unknown handles).
#[napi(js_name = "interrupt")]
pub fn interrupt_runner(handle: u32, wait_ms: Option<u32>) -> bool {
    let Some(shared) = runners().get(&handle).cloned() else {
        return true;
    };
    shared.interrupt();
    shared.wait_idle(Duration::from_millis(wait_ms.unwrap_or(0).into()))
}

/// Ends the process at once with `code` (`_exit(2)`): no exit handlers, no joining of threads.
///
/// For the moment a process must end while a guest is blocked in a host call (a read of stdin,
/// a sleep) that epoch interruption cannot reach; Node's own `process.exit` would wait for the
/// worker thread running it.
#[napi]
pub fn exit_now(code: i32) {
    // SAFETY: _exit never returns and touches no Rust or JS state.
    unsafe { libc::_exit(code) }
}
