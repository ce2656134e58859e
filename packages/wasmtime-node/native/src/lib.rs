//! Runs WASI preview1 modules on wasmtime, for Node.
//!
//! The surface is deliberately small and synchronous: a `WasiRunner` compiles one module and runs
//! it on the calling thread (callers use a `worker_threads` Worker, so the Node main thread stays
//! free). A guest is stopped by epoch interruption: every runner has its own wasmtime `Engine`
//! with an epoch deadline one tick ahead, and `interrupt` bumps the epoch from any thread.
//!
//! Because a runner object lives in the JS realm of the thread that made it, other threads reach
//! it through its numeric `handle` and the module-level `interrupt(handle, waitMs)`.
#![deny(clippy::all)]

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use napi::bindgen_prelude::Uint8Array;
use napi::{Error, Result, Status};
use napi_derive::napi;
use wasmtime::{
    Config, Engine, Linker, Module, Store, StoreLimits, StoreLimitsBuilder, Trap, Val,
    WasmBacktrace,
};
use wasmtime_wasi::cli::{InputFile, OutputFile};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

/// The function a WASI command starts at.
const START: &str = "_start";
/// The function a WASI reactor initialises itself with before any other export is called.
const INITIALIZE: &str = "_initialize";
/// Frames of a trap's wasm backtrace kept in the error message.
const BACKTRACE_FRAMES: usize = 10;

/// What a runner shares with other threads: its engine (for the epoch) and whether a guest runs.
struct Shared {
    engine: Engine,
    /// Set by the first interrupt; a runner that was interrupted never starts a guest again.
    interrupted: AtomicBool,
    /// Whether `run` is executing, with `idle` signalled when it stops.
    running: Mutex<bool>,
    idle: Condvar,
}

impl Shared {
    fn running(&self) -> MutexGuard<'_, bool> {
        // A panic while holding this lock cannot leave the bool inconsistent.
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        self.engine.increment_epoch();
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

fn runners() -> MutexGuard<'static, HashMap<u32, Arc<Shared>>> {
    RUNNERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn failure(message: impl Into<String>) -> Error {
    Error::new(Status::GenericFailure, message.into())
}

/// The message of a failed run: for a trap, wasmtime's trap message on the first line and the top
/// of the wasm backtrace below it; otherwise the error and its causes.
fn describe(err: &wasmtime::Error) -> String {
    let Some(trap) = err.downcast_ref::<Trap>() else {
        return format!("{err:#}");
    };
    let Some(backtrace) = err.downcast_ref::<WasmBacktrace>() else {
        return trap.to_string();
    };
    let text = backtrace.to_string();
    let mut lines = text.lines().skip(1); // "error while executing at wasm backtrace:"
    let mut out = format!("{trap}\nwasm backtrace:");
    for line in lines.by_ref().take(BACKTRACE_FRAMES) {
        out.push('\n');
        out.push_str(line);
    }
    let more = lines.count();
    if more > 0 {
        out.push_str(&format!("\n  … {more} more frames"));
    }
    out
}

/// Options of a runner's engine.
#[napi(object)]
pub struct RunnerOptions {
    /// Maximum native stack, in bytes, the guest may use before it traps with a stack overflow
    /// (wasmtime's default is 512 KiB). Must fit in the stack of the thread that calls `run`.
    pub max_wasm_stack: Option<u32>,
}

/// One run of the compiled module.
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

/// Per-store data: the WASI context and the resource limits.
struct State {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

/// Duplicates `fd` into a `File` the guest owns, in blocking mode.
///
/// The blocking flag lives on the shared open file description: a descriptor handed to a guest
/// is the guest's, and wasmtime's WASI streams expect blocking reads and writes.
fn guest_file(fd: i32, what: &str) -> Result<File> {
    // SAFETY: fcntl on an arbitrary integer only inspects or duplicates it; errors are reported.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        let err = io::Error::last_os_error();
        return Err(Error::new(
            Status::InvalidArg,
            format!("the guest's {what} (fd {fd}): {err}"),
        ));
    }
    // SAFETY: `dup` is a descriptor we just created and own.
    let file = unsafe { File::from_raw_fd(dup) };
    unsafe {
        let flags = libc::fcntl(dup, libc::F_GETFL);
        if flags >= 0 && flags & libc::O_NONBLOCK != 0 {
            libc::fcntl(dup, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

/// Compiles and runs WASI preview1 modules on an engine of its own.
#[napi]
pub struct WasiRunner {
    handle: u32,
    shared: Arc<Shared>,
    module: Option<Module>,
}

#[napi]
impl WasiRunner {
    #[napi(constructor)]
    pub fn new(options: Option<RunnerOptions>) -> Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        if let Some(size) = options.and_then(|o| o.max_wasm_stack) {
            config.max_wasm_stack(size as usize);
        }
        let engine = Engine::new(&config)
            .map_err(|e| failure(format!("cannot create a wasmtime engine: {e:#}")))?;
        let shared = Arc::new(Shared {
            engine,
            interrupted: AtomicBool::new(false),
            running: Mutex::new(false),
            idle: Condvar::new(),
        });
        let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
        runners().insert(handle, shared.clone());
        Ok(Self {
            handle,
            shared,
            module: None,
        })
    }

    /// Process-wide id of this runner, for `interrupt(handle)` from another thread.
    #[napi(getter)]
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Validates and compiles `bytes` (a WebAssembly binary) as the module later runs execute.
    #[napi]
    pub fn compile(&mut self, bytes: Uint8Array) -> Result<()> {
        let module = Module::new(&self.shared.engine, &bytes[..]).map_err(|e| {
            Error::new(
                Status::InvalidArg,
                format!("invalid WebAssembly module: {e:#}"),
            )
        })?;
        self.module = Some(module);
        Ok(())
    }

    /// Runs the compiled module to completion on the calling thread and returns its exit code:
    /// 0 when the function returns, the `proc_exit` status otherwise. Throws on a trap (including
    /// an interrupt) with wasmtime's trap message, or when the guest cannot be set up.
    #[napi]
    pub fn run(&self, options: RunOptions) -> Result<i32> {
        let module = self
            .module
            .as_ref()
            .ok_or_else(|| failure("no module: call compile() first"))?;
        let shared = &*self.shared;
        let _running = RunningGuard::enter(shared)?;

        let mut wasi = WasiCtxBuilder::new();
        // The guest has this thread to itself: do blocking I/O on it rather than through tokio.
        wasi.allow_blocking_current_thread(true);
        wasi.args(&options.args).envs(&options.env);
        wasi.stdin(InputFile::new(guest_file(options.stdin, "stdin")?));
        wasi.stdout(OutputFile::new(guest_file(options.stdout, "stdout")?));
        wasi.stderr(OutputFile::new(guest_file(options.stderr, "stderr")?));
        if let Some(dir) = &options.preopen_dir {
            wasi.preopened_dir(dir, "/", FsPerms::ReadWrite)
                .map_err(|e| failure(format!("cannot preopen {dir} as the guest's /: {e:#}")))?;
        }
        let limits = match options.memory_limit_bytes {
            Some(bytes) if bytes < 0 => {
                return Err(Error::new(
                    Status::InvalidArg,
                    "memoryLimitBytes is negative",
                ))
            }
            Some(bytes) => StoreLimitsBuilder::new()
                .memory_size(bytes as usize)
                .build(),
            None => StoreLimits::default(),
        };
        let mut store = Store::new(
            &shared.engine,
            State {
                wasi: wasi.build_p1(),
                limits,
            },
        );
        store.limiter(|state| &mut state.limits);
        // Trap on the first epoch tick after this point; set before checking `interrupted`, so an
        // interrupt either is seen below or bumps the epoch past this deadline.
        store.set_epoch_deadline(1);
        store.epoch_deadline_trap();
        if shared.interrupted.load(Ordering::SeqCst) {
            return Err(failure("interrupted before the guest started"));
        }

        let mut linker: Linker<State> = Linker::new(&shared.engine);
        p1::add_to_linker_sync(&mut linker, |state: &mut State| &mut state.wasi)
            .map_err(|e| failure(format!("cannot link WASI: {e:#}")))?;
        let func = options.func.as_deref().unwrap_or(START);

        let outcome = (|| -> wasmtime::Result<()> {
            let instance = linker.instantiate(&mut store, module)?;
            let Some(entry) = instance.get_func(&mut store, func) else {
                wasmtime::bail!("the module exports no function {func}");
            };
            if func != START {
                if let Some(init) = instance.get_func(&mut store, INITIALIZE) {
                    init.call(&mut store, &[], &mut [])?;
                }
            }
            let ty = entry.ty(&store);
            if ty.params().len() != 0 {
                wasmtime::bail!("function {func} takes parameters; an entrypoint must take none");
            }
            let mut results = vec![Val::I32(0); ty.results().len()];
            entry.call(&mut store, &[], &mut results)
        })();

        match outcome {
            Ok(()) => Ok(0),
            Err(err) => match err.downcast_ref::<I32Exit>() {
                Some(I32Exit(code)) => Ok(*code),
                None => Err(failure(describe(&err))),
            },
        }
    }

    /// Stops the running guest at its next epoch check (it traps with `interrupt`), and makes
    /// later runs of this runner fail. Safe to call at any time.
    #[napi]
    pub fn interrupt(&self) {
        self.shared.interrupt();
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
