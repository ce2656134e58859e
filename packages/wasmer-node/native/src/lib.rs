//! Runs WASI preview1 modules on Wasmer (Cranelift) with wasmer-wasix, for Node.
//!
//! The surface is small and synchronous: a `WasiRunner` compiles one module and runs it on the
//! calling thread (callers use a `worker_threads` Worker so the Node main thread stays free).
//! The guest's stdio are the caller's file descriptors, read and written directly as the guest
//! makes its calls; its `/` is a host directory reached through the kernel (so, in a process that
//! changed its root, symlinks resolve inside that root).
#![deny(clippy::all)]

mod guest;

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Uint8Array};
use napi::{Env, Error, Result, Status, Task};
use napi_derive::napi;
use wasmer::{Engine, Module};

use guest::GuestError;

/// The napi error of a guest error: InvalidArg for the caller's fault, GenericFailure otherwise.
fn napi_error(err: GuestError) -> Error {
    match err {
        GuestError::Invalid(message) => Error::new(Status::InvalidArg, message),
        GuestError::Failed(message) => Error::new(Status::GenericFailure, message),
    }
}

fn failure(message: impl Into<String>) -> Error {
    Error::new(Status::GenericFailure, message.into())
}

/// Options of a runner's engine.
#[napi(object)]
pub struct RunnerOptions {
    /// Cap on the size of each of the guest's linear memories, in bytes (rounded down to whole
    /// 64 KiB pages); growing past it fails the `memory.grow` (malloc returns NULL). A module
    /// whose initial memory is above the cap fails to start.
    pub memory_limit_bytes: Option<i64>,
}

/// One run of the compiled module.
#[napi(object)]
pub struct RunOptions {
    /// The guest's argv; `args[0]` is the program name.
    pub args: Vec<String>,
    /// The guest's environment, as `[name, value]` pairs; nothing else reaches the guest.
    pub env: Vec<(String, String)>,
    /// Host directory the guest sees as `/` (read-write); no filesystem when absent.
    pub preopen_dir: Option<String>,
    /// File descriptors of this process that become the guest's fds 0, 1 and 2 (they are
    /// duplicated; the caller keeps its own).
    pub stdin: i32,
    pub stdout: i32,
    pub stderr: i32,
    /// Exported function to call; `_start` when absent. Other functions must take no
    /// parameters; a reactor's `_initialize` runs first.
    pub func: Option<String>,
}

/// Compiles and runs WASI preview1 modules on a Wasmer engine of its own.
#[napi]
pub struct WasiRunner {
    engine: Engine,
    module: Option<Module>,
    /// wasmer-wasix does its I/O and timers through tokio; one small runtime per runner, shared
    /// with the runs on libuv's pool (`runAsync`).
    tokio: Arc<tokio::runtime::Runtime>,
}

#[napi]
impl WasiRunner {
    #[napi(constructor)]
    pub fn new(options: Option<RunnerOptions>) -> Result<Self> {
        Ok(Self {
            engine: guest::engine(options.and_then(|o| o.memory_limit_bytes)).map_err(napi_error)?,
            module: None,
            tokio: guest::io_runtime().map_err(napi_error)?,
        })
    }

    /// Validates and compiles `bytes` (a WebAssembly binary) as the module later runs execute.
    #[napi]
    pub fn compile(&mut self, bytes: Uint8Array) -> Result<()> {
        let module = guest::compile(&self.engine, &bytes[..]).map_err(napi_error)?;
        self.module = Some(module);
        Ok(())
    }

    /// Runs the compiled module to completion on the calling thread and returns its exit code:
    /// 0 when the function returns, the `proc_exit` status otherwise. Throws on a trap with
    /// Wasmer's trap message, or when the guest cannot be set up.
    #[napi]
    pub fn run(&self, options: RunOptions) -> Result<i32> {
        run_module(&self.engine, self.compiled()?, &self.tokio, options)
    }

    /// Like `run`, on a thread of libuv's pool rather than the calling one: the promise settles
    /// with the exit status (or the error `run` would throw). The JS thread stays free, without
    /// the memory of a worker thread's own JS engine.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn run_async(&self, options: RunOptions) -> Result<AsyncTask<RunTask>> {
        Ok(AsyncTask::new(RunTask {
            engine: self.engine.clone(),
            module: self.compiled()?,
            tokio: self.tokio.clone(),
            options: Some(options),
        }))
    }

    fn compiled(&self) -> Result<Module> {
        self.module
            .clone()
            .ok_or_else(|| failure("no module: call compile() first"))
    }
}

/// A `run` on libuv's thread pool (see `WasiRunner::runAsync`).
pub struct RunTask {
    engine: Engine,
    module: Module,
    tokio: Arc<tokio::runtime::Runtime>,
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
        run_module(&self.engine, self.module.clone(), &self.tokio, options)
    }

    fn resolve(&mut self, _env: Env, output: i32) -> Result<i32> {
        Ok(output)
    }
}

fn run_module(engine: &Engine, module: Module, tokio: &tokio::runtime::Runtime, options: RunOptions) -> Result<i32> {
    let run = guest::Run {
        args: options.args,
        env: options.env,
        preopen_dir: options.preopen_dir,
        stdin: options.stdin,
        stdout: options.stdout,
        stderr: options.stderr,
        func: options.func,
    };
    guest::run_module(engine, module, tokio, run).map_err(napi_error)
}

/// Ends the process at once with `code` (`_exit(2)`): no exit handlers, no joining of threads.
///
/// Wasmer has no interruption that reaches a running guest from another thread here (its host
/// interrupt takes over SIGUSR1, which starts Node's inspector), so a process that must end while
/// a guest runs ends this way; Node's own `process.exit` would wait for the worker thread running it.
#[napi]
pub fn exit_now(code: i32) {
    // SAFETY: _exit never returns and touches no Rust or JS state.
    unsafe { libc::_exit(code) }
}
