//! The container-process protocol of `@runwasi/containerd-shim-wasm`, for engines written in Rust.
//!
//! An engine that ships a native container process (`Engine.nativeExecutor` on the TypeScript
//! side) implements [`Engine`] and calls [`run`] from its `main`. The shim daemon starts the
//! program for each container (ahead of time, in the container's namespaces) and talks to it in
//! JSON lines on the descriptor named by `NODE_CHANNEL_FD` (Node's `json` IPC serialization),
//! bytes as base64 text:
//!
//! 1. → `ready {pid}` once the engine exists (or `failed {code, message}`);
//! 2. ← `prepare {rootfs, process, stdout, stderr, layers, memoryLimitBytes, cgroupTasks}`: the
//!    process joins its cgroup itself when it can (`cgroupTasks`, v1), the container's
//!    outputs are opened, the root changes to the rootfs, the module is found and checked,
//!    through the precompilation cache (`precompiled-lookup` →, ← `precompiled`,
//!    `precompiled-store` →); → `prepared {joinedCgroup}`, `failed`, or `unsupported {message}` for a workload
//!    the engine leaves to its Node container process;
//! 3. ← `start`: the guest runs on the main thread; → `run-error {message}` for a trap, then
//!    `exit {status}`, and the process exits with the status.
//!
//! Signals whose default action ends a process end this one with 128+n, also as pid 1 of a pid
//! namespace, where the kernel drops signals left at their default action.

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

/// The function a WASI command starts at.
pub const DEFAULT_FUNC: &str = "_start";
/// The status of a container whose guest trapped or could not run.
pub const TRAP_EXIT_STATUS: i32 = 134;
/// How long the daemon may take to answer from the precompilation cache.
const PRECOMPILED_LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Label prefix of precompiled artifacts on a module blob (the daemon's `precompiledLabel`).
const PRECOMPILED_LABEL_PREFIX: &str = "runwasi.io/precompiled";
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

/// A failure reported to the daemon as `failed {code, message}`; `code` is one of the shim's error
/// codes (`INVALID_ARGUMENT`, `NOT_FOUND`, `INTERNAL`, ...), the message is what `ctr` shows.
#[derive(Debug)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    /// A failure of class `code`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// An `INVALID_ARGUMENT` failure: the workload or the settings are at fault.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("INVALID_ARGUMENT", message)
    }
}

/// What the engine made of a module.
pub enum Checked<W> {
    /// A workload this process runs.
    Run(W),
    /// A workload left to the engine's Node container process; the reason goes to the shim log.
    Unsupported(String),
}

/// The container as the engine runs it, once the root is the container rootfs.
pub struct Container {
    /// The guest's argv: the module path (without `#func`) and the spec's other arguments.
    pub args: Vec<String>,
    /// The guest's environment: the spec's `NAME=VALUE` entries, the last of a name winning.
    pub env: Vec<(String, String)>,
    /// The exported function to call (`_start` unless `args[0]` ends in `#func`).
    pub func: String,
    /// The container's stdout and stderr; stdin is this process's fd 0.
    pub stdout: File,
    pub stderr: File,
    /// The spec's memory limit in bytes, when it has one.
    pub memory_limit_bytes: Option<i64>,
}

/// A WebAssembly engine run by a native container process.
pub trait Engine {
    /// A compiled workload.
    type Workload;

    /// The engine's name, as in the shim (`wasmtime`): the precompilation label's middle part.
    fn name(&self) -> &str;

    /// Names the compiler build and settings artifacts depend on (letters, digits, `.`, `_`,
    /// `-`), or None (the default) to compile every module without the precompilation cache.
    fn cache_key(&self) -> Option<String> {
        None
    }

    /// Compiles `module` (the module file or wasm layer the container names).
    fn compile(&self, module: &[u8]) -> Result<Checked<Self::Workload>, String>;

    /// Compiles `module` into an artifact [`Engine::load_precompiled`] accepts; needed only with
    /// a [`Engine::cache_key`].
    fn precompile(&self, _module: &[u8]) -> Result<Vec<u8>, String> {
        Err(format!("the {} engine keeps no precompiled modules", self.name()))
    }

    /// Loads an artifact of [`Engine::precompile`] made under the same cache key.
    fn load_precompiled(&self, _artifact: &[u8]) -> Result<Checked<Self::Workload>, String> {
        Err(format!("the {} engine keeps no precompiled modules", self.name()))
    }

    /// Checks the compiled workload against the container (an entrypoint it lacks, say);
    /// `module` is the module's path as `args[0]` names it.
    fn check(&self, _workload: &Self::Workload, _container: &Container, _module: &str) -> Result<(), Failure> {
        Ok(())
    }

    /// Runs the guest to completion on this thread: its exit status, or the message of a trap.
    fn run(&self, workload: Self::Workload, container: Container) -> Result<i32, String>;
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
    /// The `tasks` files of the container's cgroup (v1) to join by writing 0 to each.
    #[serde(default)]
    cgroup_tasks: Vec<String>,
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
        // Not for the guest's eyes, nor any program the engine might start.
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

    fn fail(&mut self, failure: Failure) -> ! {
        self.send(json!({ "type": "failed", "code": failure.code, "message": failure.message }));
        std::process::exit(1);
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

/// Resident memory of this process in bytes, e.g. to leave a guest what a container's memory
/// limit leaves once the engine is counted.
pub fn own_rss() -> i64 {
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
        return Err(Failure::invalid(format!("unsupported stdio URI {path}: only fifos and file:// are supported")));
    }
    let is_fifo = std::fs::metadata(&target).map(|m| m.file_type().is_fifo()).unwrap_or(false);
    let opened = if is_fifo {
        OpenOptions::new().read(true).write(true).open(&target)
    } else {
        OpenOptions::new().append(true).create(true).mode(0o640).open(&target)
    };
    opened.map_err(|e| Failure::new("INTERNAL", format!("cannot open {target}: {e}")))
}

/// Joins the container's cgroup by writing `0` (this thread) to each of its v1 `tasks` files, which
/// the kernel does without the RCU grace period it makes another process's move wait for. Only
/// while this process has a single thread: a thread moved alone would leave the others outside.
/// False when it did not (the shim then moves the process itself).
fn join_cgroup(tasks: &[String]) -> bool {
    if tasks.is_empty() {
        return false;
    }
    let single_threaded = std::fs::read_to_string("/proc/self/status")
        .map(|status| status.lines().any(|l| l.split_whitespace().eq(["Threads:", "1"])))
        .unwrap_or(false);
    single_threaded
        && tasks.iter().all(|file| {
            OpenOptions::new().write(true).open(file).and_then(|mut f| f.write_all(b"0")).is_ok()
        })
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
            return Err(Failure::invalid("the container has no process args: args[0] must name a wasm module"));
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
        return Err(Failure::invalid(format!("{what} is not a WebAssembly binary (no \\0asm header)")));
    }
    Ok(bytes)
}

/// Compiles the module through the precompilation cache: a cached artifact when the daemon has one
/// that loads, else compile once here and hand the artifact to the daemon to keep.
fn check_workload<E: Engine>(channel: &mut Channel, engine: &E, module: &[u8], arg0: &str) -> Result<Checked<E::Workload>, Failure> {
    let invalid = |message: String| Failure::invalid(format!("{arg0}: {message}"));
    let Some(key) = engine.cache_key() else {
        return engine.compile(module).map_err(invalid);
    };
    let label = format!("{PRECOMPILED_LABEL_PREFIX}/{}/{key}", engine.name());
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
        match engine.load_precompiled(&artifact) {
            Ok(checked) => return Ok(checked),
            Err(message) => eprintln!("the cached precompiled module did not load; compiling again: {message}"),
        }
    }
    let artifact = engine.precompile(module).map_err(invalid)?;
    let checked = engine.load_precompiled(&artifact).map_err(invalid)?;
    channel.send(json!({
        "type": "precompiled-store",
        "label": label,
        "module": BASE64.encode(module),
        "artifact": BASE64.encode(&artifact),
    }));
    Ok(checked)
}

/// Sets the container up: outputs, root, module. `Ok(Err(reason))` when the workload is left to
/// the Node container process.
fn prepare<E: Engine>(channel: &mut Channel, engine: &E, prepare: Prepare) -> Result<Result<(E::Workload, Container), String>, Failure> {
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
        Some(hash) => (arg0[..hash].to_string(), DEFAULT_FUNC.to_string()),
        None => (arg0.clone(), DEFAULT_FUNC.to_string()),
    };
    let module = read_module(&prepare, &module_path, &cwd)?;
    let workload = match check_workload(channel, engine, &module, &module_path)? {
        Checked::Unsupported(reason) => return Ok(Err(reason)),
        Checked::Run(workload) => workload,
    };
    let mut args = prepare.process.args.clone();
    if let Some(first) = args.first_mut() {
        *first = module_path.clone();
    }
    let container = Container {
        args,
        env: env_pairs(&prepare.process.env),
        func,
        stdout,
        stderr,
        memory_limit_bytes: prepare.memory_limit_bytes.filter(|&b| b > 0),
    };
    engine.check(&workload, &container, &module_path)?;
    Ok(Ok((workload, container)))
}

/// Runs this process as a container's native container process for the engine `make_engine`
/// builds (a bad configuration is its `Failure`). Never returns: the process exits with the
/// guest's status.
pub fn run<E: Engine>(make_engine: impl FnOnce() -> Result<E, Failure>) -> ! {
    handle_terminating_signals();
    let mut channel = match Channel::open() {
        Ok(channel) => channel,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(2);
        }
    };
    let engine = make_engine().unwrap_or_else(|failure| channel.fail(failure));
    channel.send(json!({ "type": "ready", "pid": host_pid() }));

    // Until it holds a container, the process dies with the daemon (EOF).
    let request = loop {
        match channel.recv(None) {
            Some(ToExecutor::Prepare(request)) => break request,
            Some(_) => continue,
            None => std::process::exit(1),
        }
    };
    // First, while the host's /sys/fs/cgroup is in reach and before anything else runs.
    let joined_cgroup = join_cgroup(&request.cgroup_tasks);
    let (workload, container) = match prepare(&mut channel, &engine, *request) {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(reason)) => {
            channel.send(json!({ "type": "unsupported", "message": reason }));
            std::process::exit(1);
        }
        Err(failure) => channel.fail(failure),
    };
    channel.send(json!({ "type": "prepared", "joinedCgroup": joined_cgroup }));
    loop {
        match channel.recv(None) {
            Some(ToExecutor::Start) => break,
            Some(_) => continue,
            // The daemon went away before starting the container; containerd's delete cleans up.
            None => std::process::exit(1),
        }
    }
    let status = match engine.run(workload, container) {
        Ok(status) => status & 0xff,
        Err(message) => {
            eprintln!("{} failed to run the workload: {message}", engine.name());
            channel.send(json!({ "type": "run-error", "message": message }));
            TRAP_EXIT_STATUS
        }
    };
    channel.send(json!({ "type": "exit", "status": status }));
    std::process::exit(status);
}
