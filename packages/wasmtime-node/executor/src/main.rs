//! `runwasi-wasmtime-executor`: a container's own process for `@runwasi/shim-wasmtime`, without
//! Node.
//!
//! The shim daemon starts it (in the container's namespaces) instead of a Node container process,
//! which costs ~50 ms of CPU and ~10 MiB to start; this one costs a few milliseconds and a few MiB.
//! It speaks the container-process protocol of `@runwasi/containerd-shim-wasm` as JSON lines on
//! the channel fd the daemon passes (`NODE_CHANNEL_FD`, Node's `json` IPC serialization), with
//! bytes as base64 text:
//!
//! 1. → `ready {pid}` once the engine exists (a bad configuration is a `failed` instead);
//! 2. ← `prepare {...}`: open the container's stdout/stderr, change root to the rootfs, find and
//!    check the module, through the precompilation cache (`precompiled-lookup` →, ← `precompiled`,
//!    `precompiled-store` →), then → `prepared` (or `failed {code, message}`); a workload this
//!    process does not run (a `wasi:http` proxy) is answered with `unsupported`, and the daemon
//!    gives the container a Node process instead;
//! 3. ← `start`: run the guest on this thread; → `exit {status}` (after a `run-error` for a trap)
//!    and exit with the status.
//!
//! Signals that would end a native process end this one with 128+n, also as pid 1 of a pid
//! namespace (where the kernel drops signals left at their default action).

#[path = "../../native/src/guest.rs"]
mod guest;

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component as PathPart, Path, PathBuf};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Config, Engine, Linker, Module, Precompiled, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{InputFile, OutputFile};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use guest::{describe, is_component, EngineSettings, CLI_RUN, HTTP_HANDLER, START};

/// The environment variable holding this process's settings (JSON, see [`Settings`]).
const SETTINGS_ENV: &str = "RUNWASI_WASMTIME_EXECUTOR_SETTINGS";
/// The status of a container whose guest trapped or could not run (as the Node container process).
const TRAP_EXIT_STATUS: i32 = 134;
/// Memory kept free under a container's limit for the engine's own allocations while a guest runs.
const ENGINE_HEADROOM_BYTES: i64 = 16 * 1024 * 1024;
/// A WebAssembly page: the least a memory cap can leave a guest.
const WASM_PAGE_BYTES: i64 = 64 * 1024;
/// How long the daemon may take to answer from the precompilation cache.
const PRECOMPILED_LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Label prefix of precompiled artifacts on a module blob (the daemon's `precompiledLabel`).
const PRECOMPILED_LABEL_PREFIX: &str = "runwasi.io/precompiled/wasmtime";
/// Signals whose default action ends a process; each ends this one with 128+n.
const TERMINATING_SIGNALS: [i32; 7] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
];

/// What the shim's engine hands this process (from its configuration file).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Settings {
    engine: EngineSettings,
    /// Cap on each linear memory, in bytes.
    memory_limit_bytes: Option<i64>,
    /// Whether to go through the precompilation cache (the configuration's `precompile`).
    precompile: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OciProcess {
    args: Vec<String>,
    env: Vec<String>,
    cwd: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Layer {
    media_type: String,
    bytes: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Prepare {
    rootfs: String,
    #[serde(default)]
    process: OciProcess,
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    stderr: String,
    #[serde(default)]
    layers: Vec<Layer>,
    memory_limit_bytes: Option<i64>,
}

/// Messages from the daemon.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum ToExecutor {
    Prepare(Box<Prepare>),
    Start,
    Precompiled { artifact: Option<String> },
    #[serde(other)]
    Other,
}

/// A failure of the set-up, reported as `failed {code, message}` (codes of the shim's errors).
struct Failure {
    code: &'static str,
    message: String,
}

impl Failure {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// The channel to the daemon: JSON lines, one message each.
struct Channel {
    reader: BufReader<File>,
    writer: File,
}

impl Channel {
    fn open() -> io::Result<Self> {
        let fd: i32 = std::env::var("NODE_CHANNEL_FD")
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| io::Error::other("NODE_CHANNEL_FD is not set: this program is started by the shim"))?;
        // SAFETY: the daemon passed this descriptor for us to own; the duplicate is ours too.
        let reader = unsafe { File::from_raw_fd(fd) };
        let writer = reader.try_clone()?;
        // The channel is not for the guest's eyes.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        Ok(Self { reader: BufReader::new(reader), writer })
    }

    /// Sends a message; a daemon that went away is not this process's concern.
    fn send(&mut self, message: Value) {
        let mut line = message.to_string();
        line.push('\n');
        let _ = self.writer.write_all(line.as_bytes());
    }

    /// The next message, waiting at most until `deadline`; None on EOF or timeout.
    fn recv(&mut self, deadline: Option<Instant>) -> Option<ToExecutor> {
        loop {
            if let Some(deadline) = deadline {
                if self.reader.buffer().is_empty() && !self.wait_readable(deadline) {
                    return None;
                }
            }
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            match serde_json::from_str::<ToExecutor>(&line) {
                Ok(ToExecutor::Other) | Err(_) => continue,
                Ok(message) => return Some(message),
            }
        }
    }

    fn wait_readable(&self, deadline: Instant) -> bool {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut poll = libc::pollfd { fd: self.reader.get_ref().as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut poll, 1, left.as_millis().min(i32::MAX as u128) as i32) };
            if n > 0 {
                return true;
            }
            if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return false;
            }
        }
    }
}

extern "C" fn end_by_signal(signal: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + signal) }
}

fn handle_terminating_signals() {
    for signal in TERMINATING_SIGNALS {
        // SAFETY: installs a handler that only calls _exit.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = end_by_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// This process's pid as the host sees it: the first `NSpid` entry (in a new pid namespace the
/// process is 1 inside it).
fn host_pid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .and_then(|rest| rest.split_whitespace().next().and_then(|p| p.parse().ok()))
        })
        .unwrap_or_else(std::process::id)
}

/// Resident memory of this process in bytes.
fn own_rss() -> i64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<i64>().ok()))
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Opens a container output stream as the Node container process does: a fifo read-write (writes
/// never fail with EPIPE, the open never blocks), a `file://` URI or file for appending, /dev/null
/// for ''.
fn open_output(path: &str) -> Result<File, Failure> {
    if path.is_empty() {
        return OpenOptions::new().write(true).open("/dev/null").map_err(|e| Failure::new("INTERNAL", e.to_string()));
    }
    let target = match path.strip_prefix("file://") {
        Some(rest) => percent_decode(rest.find('/').map_or("", |i| &rest[i..])),
        None => path.to_string(),
    };
    if target.split_once("://").is_some_and(|(scheme, _)| !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_lowercase())) {
        return Err(Failure::new(
            "INVALID_ARGUMENT",
            format!("unsupported stdio URI {path}: only fifos and file:// are supported"),
        ));
    }
    let is_fifo = std::fs::metadata(&target).map(|m| m.file_type().is_fifo()).unwrap_or(false);
    let opened = if is_fifo {
        OpenOptions::new().read(true).write(true).open(&target)
    } else {
        OpenOptions::new().append(true).create(true).mode(0o640).open(&target)
    };
    opened.map_err(|e| Failure::new("INTERNAL", format!("cannot open {target}: {e}")))
}

/// `posix.resolve(cwd, path)` without touching the filesystem.
fn resolve(cwd: &str, path: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    let joined = if path.starts_with('/') { PathBuf::from(path) } else { Path::new(cwd).join(path) };
    for part in joined.components() {
        match part {
            PathPart::ParentDir => {
                out.pop();
            }
            PathPart::Normal(p) => out.push(p),
            _ => {}
        }
    }
    out
}

fn is_file(path: &Path) -> bool {
    std::fs::metadata(path).map(|m| m.is_file()).unwrap_or(false)
}

/// `NAME=VALUE` strings as pairs, the last of duplicate names winning, in first-seen order.
fn env_pairs(env: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for entry in env {
        let Some(eq) = entry.find('=').filter(|&eq| eq > 0) else { continue };
        let (name, value) = (&entry[..eq], &entry[eq + 1..]);
        match out.iter_mut().find(|(n, _)| n == name) {
            Some(pair) => pair.1 = value.to_string(),
            None => out.push((name.to_string(), value.to_string())),
        }
    }
    out
}

/// The container's module as the Node container process finds it (after the root change): the
/// first wasm layer of the image, else a file resolved against the working directory or `PATH`.
fn read_module(prepare: &Prepare, module_path: &str, cwd: &str) -> Result<Vec<u8>, Failure> {
    let (bytes, what) = if let Some(layer) = prepare.layers.first() {
        let bytes = BASE64
            .decode(&layer.bytes)
            .map_err(|e| Failure::new("INTERNAL", format!("the wasm layer did not arrive whole: {e}")))?;
        (bytes, format!("wasm layer ({})", layer.media_type))
    } else {
        if module_path.is_empty() {
            return Err(Failure::new(
                "INVALID_ARGUMENT",
                "the container has no process args: args[0] must name a wasm module",
            ));
        }
        let path = if module_path.contains('/') {
            let path = resolve(cwd, module_path);
            if !is_file(&path) {
                return Err(Failure::new("NOT_FOUND", format!("module {module_path} does not exist in the container rootfs")));
            }
            path
        } else {
            let search = env_pairs(&prepare.process.env)
                .into_iter()
                .find(|(n, _)| n == "PATH")
                .map(|(_, v)| v)
                .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_string());
            let mut dirs: Vec<&str> = search.split(':').collect();
            dirs.push(cwd);
            dirs.push("/");
            dirs.iter()
                .map(|dir| resolve("/", &format!("{}/{module_path}", if dir.is_empty() { "/" } else { dir })))
                .find(|candidate| is_file(candidate))
                .ok_or_else(|| Failure::new("NOT_FOUND", format!("module {module_path} not found in the container's PATH or root")))?
        };
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| Failure::new("INTERNAL", format!("cannot read module {}: {e}", path.display())))?;
        (bytes, format!("module {}", path.display()))
    };
    if bytes.len() < 8 || bytes[0..4] != *b"\0asm" {
        return Err(Failure::new("INVALID_ARGUMENT", format!("{what} is not a WebAssembly binary (no \\0asm header)")));
    }
    Ok(bytes)
}

/// What this process runs.
enum Workload {
    Module(Module),
    Command(Component),
}

/// Sorts a compiled module or component; a proxy is not run here.
enum Loaded {
    Runnable(Workload),
    Proxy,
}

fn classify_component(engine: &Engine, component: Component) -> Result<Loaded, String> {
    let names: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    if names.iter().any(|n| n.starts_with(HTTP_HANDLER)) {
        return Ok(Loaded::Proxy);
    }
    if names.iter().any(|n| n.starts_with(CLI_RUN)) {
        return Ok(Loaded::Runnable(Workload::Command(component)));
    }
    Err(format!(
        "the component exports neither wasi:cli/run nor wasi:http/incoming-handler (it exports: {})",
        if names.is_empty() { "nothing".to_string() } else { names.join(", ") }
    ))
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Loaded, String> {
    if is_component(bytes) {
        let component = Component::new(engine, bytes).map_err(|e| format!("invalid WebAssembly component: {e:#}"))?;
        classify_component(engine, component)
    } else {
        let module = Module::new(engine, bytes).map_err(|e| format!("invalid WebAssembly module: {e:#}"))?;
        Ok(Loaded::Runnable(Workload::Module(module)))
    }
}

fn load_precompiled(engine: &Engine, artifact: &[u8]) -> Result<Loaded, String> {
    let invalid = |e: wasmtime::Error| format!("unusable precompiled artifact: {e:#}");
    match Engine::detect_precompiled(artifact) {
        // SAFETY: wasmtime checks the artifact's format, version and engine settings; the bytes
        // come from containerd's content store, addressed by their digest, or from this process.
        Some(Precompiled::Module) => Ok(Loaded::Runnable(Workload::Module(
            unsafe { Module::deserialize(engine, artifact) }.map_err(invalid)?,
        ))),
        Some(Precompiled::Component) => {
            classify_component(engine, unsafe { Component::deserialize(engine, artifact) }.map_err(invalid)?)
        }
        None => Err("unusable precompiled artifact: not a wasmtime artifact".to_string()),
    }
}

/// Compiles the module through the precompilation cache: a cached artifact when the daemon has one
/// that loads, else compile once here and hand the artifact to the daemon to keep.
fn check_workload(channel: &mut Channel, engine: &Engine, module: &[u8], arg0: &str, cached: bool) -> Result<Loaded, Failure> {
    let invalid = |message: String| Failure::new("INVALID_ARGUMENT", format!("{arg0}: {message}"));
    if !cached {
        return compile(engine, module).map_err(invalid);
    }
    let label = format!("{PRECOMPILED_LABEL_PREFIX}/wasmtime-{}", guest::compatibility_hash(engine));
    let digest = format!("sha256:{:x}", Sha256::digest(module));
    channel.send(json!({ "type": "precompiled-lookup", "label": label, "digest": digest }));
    let deadline = Instant::now() + PRECOMPILED_LOOKUP_TIMEOUT;
    let artifact = loop {
        match channel.recv(Some(deadline)) {
            Some(ToExecutor::Precompiled { artifact }) => break artifact.and_then(|a| BASE64.decode(a).ok()),
            Some(_) => continue,
            None => break None,
        }
    };
    if let Some(artifact) = artifact {
        match load_precompiled(engine, &artifact) {
            Ok(loaded) => return Ok(loaded),
            Err(message) => eprintln!("the cached precompiled module did not load; compiling again: {message}"),
        }
    }
    let what = if is_component(module) { "component" } else { "module" };
    let artifact = if is_component(module) { engine.precompile_component(module) } else { engine.precompile_module(module) }
        .map_err(|e| invalid(format!("invalid WebAssembly {what}: {e:#}")))?;
    let loaded = load_precompiled(engine, &artifact).map_err(invalid)?;
    channel.send(json!({
        "type": "precompiled-store",
        "label": label,
        "module": BASE64.encode(module),
        "artifact": BASE64.encode(&artifact),
    }));
    Ok(loaded)
}

/// Per-store data of a preview1 run.
struct P1State {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

/// Per-store data of a command component.
struct P2State {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for P2State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A prepared container, waiting for `start`.
struct Container {
    workload: Workload,
    func: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdout: File,
    stderr: File,
    memory_limit: Option<i64>,
}

/// Runs the guest to completion; its exit status, or the message of a trap.
fn run(engine: &Engine, container: Container) -> Result<i32, String> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.allow_blocking_current_thread(true);
    wasi.args(&container.args).envs(&container.env);
    let stdin = guest::guest_file(0).map_err(|e| format!("the guest's stdin: {e}"))?;
    wasi.stdin(InputFile::new(stdin));
    wasi.stdout(OutputFile::new(container.stdout));
    wasi.stderr(OutputFile::new(container.stderr));
    wasi.preopened_dir("/", "/", FsPerms::ReadWrite)
        .map_err(|e| format!("cannot preopen the container rootfs as the guest's /: {e:#}"))?;
    let limits = match container.memory_limit {
        Some(bytes) => StoreLimitsBuilder::new().memory_size(bytes as usize).build(),
        None => StoreLimits::default(),
    };
    let outcome = match container.workload {
        Workload::Module(module) => {
            let mut store = Store::new(engine, P1State { wasi: wasi.build_p1(), limits });
            store.limiter(|state| &mut state.limits);
            let mut linker: Linker<P1State> = Linker::new(engine);
            p1::add_to_linker_sync(&mut linker, |state: &mut P1State| &mut state.wasi)
                .map_err(|e| format!("cannot link WASI: {e:#}"))?;
            guest::run_module(&linker, &mut store, &module, &container.func)
        }
        Workload::Command(component) => {
            let state = P2State { wasi: wasi.build(), table: ResourceTable::new(), limits };
            let mut store = Store::new(engine, state);
            store.limiter(|state| &mut state.limits);
            let mut linker = wasmtime::component::Linker::<P2State>::new(engine);
            wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| format!("cannot link WASI: {e:#}"))?;
            (|| {
                let command = Command::instantiate(&mut store, &component, &linker)?;
                match command.wasi_cli_run().call_run(&mut store)? {
                    Ok(()) => Ok(()),
                    Err(()) => Err(I32Exit(1).into()),
                }
            })()
        }
    };
    match outcome {
        Ok(()) => Ok(0),
        Err(err) => match err.downcast_ref::<I32Exit>() {
            Some(I32Exit(code)) => Ok(*code),
            None => Err(describe(&err)),
        },
    }
}

/// Sets the container up: stdio, root, module. `Ok(None)` when the workload is not for this process.
fn prepare(channel: &mut Channel, engine: &Engine, settings: &Settings, prepare: Prepare) -> Result<Option<Container>, Failure> {
    let stdout = open_output(&prepare.stdout)?;
    let stderr = open_output(&prepare.stderr)?;
    let root = CString::new(prepare.rootfs.as_str()).map_err(|_| Failure::new("INTERNAL", "the rootfs path has a NUL byte"))?;
    // SAFETY: plain system calls on a valid C string.
    if unsafe { libc::chroot(root.as_ptr()) } != 0 || std::env::set_current_dir("/").is_err() {
        let err = io::Error::last_os_error();
        return Err(Failure::new("INTERNAL", format!("cannot enter the container rootfs {}: {err}", prepare.rootfs)));
    }
    let cwd = prepare.process.cwd.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| "/".to_string());
    // A missing working directory leaves the guest at `/`, as WASI preopens are absolute anyway.
    let _ = std::env::set_current_dir(&cwd);

    let arg0 = prepare.process.args.first().cloned().unwrap_or_default();
    let (module_path, func) = match arg0.rfind('#') {
        Some(hash) if hash + 1 < arg0.len() => (arg0[..hash].to_string(), arg0[hash + 1..].to_string()),
        Some(hash) => (arg0[..hash].to_string(), START.to_string()),
        None => (arg0.clone(), START.to_string()),
    };
    let module = read_module(&prepare, &module_path, &cwd)?;
    let cached = settings.precompile != Some(false);
    let workload = match check_workload(channel, engine, &module, &module_path, cached)? {
        Loaded::Proxy => return Ok(None),
        Loaded::Runnable(workload) => workload,
    };
    if matches!(workload, Workload::Command(_)) && func != START {
        return Err(Failure::new(
            "INVALID_ARGUMENT",
            format!("{module_path}: a component has no entrypoint {func} (it runs wasi:cli/run or serves wasi:http)"),
        ));
    }
    let mut limits = Vec::new();
    if let Some(configured) = settings.memory_limit_bytes {
        limits.push(configured);
    }
    if let Some(spec) = prepare.memory_limit_bytes.filter(|&b| b > 0) {
        limits.push((spec - own_rss() - ENGINE_HEADROOM_BYTES).max(WASM_PAGE_BYTES));
    }
    let mut args = prepare.process.args.clone();
    if let Some(first) = args.first_mut() {
        *first = module_path;
    }
    Ok(Some(Container {
        workload,
        func,
        args,
        env: env_pairs(&prepare.process.env),
        stdout,
        stderr,
        memory_limit: limits.into_iter().min(),
    }))
}

fn main() {
    handle_terminating_signals();
    let mut channel = match Channel::open() {
        Ok(channel) => channel,
        Err(err) => {
            eprintln!("runwasi-wasmtime-executor: {err}");
            std::process::exit(2);
        }
    };
    let settings: Settings = match std::env::var(SETTINGS_ENV).ok().filter(|s| !s.is_empty()) {
        None => Settings::default(),
        Some(text) => match serde_json::from_str(&text) {
            Ok(settings) => settings,
            Err(err) => {
                channel.send(json!({ "type": "failed", "code": "INVALID_ARGUMENT", "message": format!("{SETTINGS_ENV} is not valid: {err}") }));
                std::process::exit(1);
            }
        },
    };
    let mut config = Config::new();
    let engine = guest::configure(&mut config, &settings.engine)
        .and_then(|()| Engine::new(&config).map_err(|e| format!("cannot create a wasmtime engine: {e:#}")));
    let engine = match engine {
        Ok(engine) => engine,
        Err(message) => {
            let message = format!("the wasmtime configuration is not usable: {message}");
            channel.send(json!({ "type": "failed", "code": "INVALID_ARGUMENT", "message": message }));
            std::process::exit(1);
        }
    };
    channel.send(json!({ "type": "ready", "pid": host_pid() }));

    // Until it holds a container, the process dies with the daemon (EOF).
    let request = loop {
        match channel.recv(None) {
            Some(ToExecutor::Prepare(request)) => break request,
            Some(_) => continue,
            None => std::process::exit(1),
        }
    };
    let container = match prepare(&mut channel, &engine, &settings, *request) {
        Ok(Some(container)) => container,
        Ok(None) => {
            channel.send(json!({ "type": "unsupported", "message": "a wasi:http proxy component is served by the Node container process" }));
            std::process::exit(1);
        }
        Err(failure) => {
            channel.send(json!({ "type": "failed", "code": failure.code, "message": failure.message }));
            std::process::exit(1);
        }
    };
    channel.send(json!({ "type": "prepared" }));
    loop {
        match channel.recv(None) {
            Some(ToExecutor::Start) => break,
            Some(_) => continue,
            // The daemon went away before starting the container; containerd's delete cleans up.
            None => std::process::exit(1),
        }
    }
    let status = match run(&engine, container) {
        Ok(status) => status & 0xff,
        Err(message) => {
            eprintln!("wasmtime failed to run the workload: {message}");
            channel.send(json!({ "type": "run-error", "message": message }));
            TRAP_EXIT_STATUS
        }
    };
    channel.send(json!({ "type": "exit", "status": status }));
    std::process::exit(status);
}
