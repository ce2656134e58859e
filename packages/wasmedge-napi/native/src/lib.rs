//! napi-rs binding running WASI preview1 modules on WasmEdge through its C API.
//!
//! libwasmedge is opened at run time (see `ffi`), so the addon builds and loads on machines
//! without WasmEdge and only `loadLibrary` (or the first `Vm`) fails, naming the missing library
//! and the package that provides it.
//!
//! WasmEdge's WASI gives the guest this process's fds 0, 1 and 2; it has no way to take other
//! descriptors. So `Vm.run` `dup2`s the requested descriptors onto 0, 1 and 2 for the time of the
//! run (and puts the originals back after it): the binding is meant for a process that exists to
//! run one guest at a time (a container process).
#![deny(clippy::all)]

mod ffi;

use std::ffi::{c_char, CString};
use std::os::fd::{FromRawFd, OwnedFd};
use std::ptr;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, Error, Result, Status, Task};
use napi_derive::napi;

use ffi::{Api, WasmEdgeBytes, WasmEdgeString};

/// Environment variable naming the library to load when no path is given.
const LIBRARY_ENV: &str = "WASMEDGE_LIB";

fn failure(message: impl Into<String>) -> Error {
    Error::new(Status::GenericFailure, message.into())
}

fn cstring(what: &str, value: &str) -> Result<CString> {
    CString::new(value).map_err(|_| Error::new(Status::InvalidArg, format!("{what} {value:?} contains a NUL byte")))
}

fn library(path: Option<String>) -> Result<&'static Api> {
    if let Some(api) = ffi::loaded() {
        return Ok(api);
    }
    let path = path
        .filter(|p| !p.is_empty())
        .or_else(|| std::env::var(LIBRARY_ENV).ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| ffi::DEFAULT_LIBRARY.to_string());
    ffi::load(&path).map_err(|reason| {
        failure(format!(
            "cannot load WasmEdge's library {path}: {reason}. Install libwasmedge0 (WasmEdge 0.14; Debian 13 / \
             Ubuntu 24.04+: apt-get install libwasmedge0), or set {LIBRARY_ENV} to the path of libwasmedge.so.0"
        ))
    })
}

/// What was loaded.
#[napi(object)]
pub struct LibraryInfo {
    /// The path or soname given to `dlopen`.
    pub path: String,
    /// WasmEdge's version, e.g. `0.14.1`.
    pub version: String,
    /// Whether the library has the AOT compiler (built with LLVM).
    pub has_compiler: bool,
}

/// Loads libwasmedge (once per process) from `path`, else `$WASMEDGE_LIB`, else `libwasmedge.so.0`
/// through the dynamic loader's normal search. Later calls return the library loaded first.
#[napi]
pub fn load_library(path: Option<String>) -> Result<LibraryInfo> {
    let api = library(path)?;
    Ok(LibraryInfo { path: api.path.clone(), version: api.version(), has_compiler: api.compiler.is_some() })
}

/// Sets what WasmEdge itself logs: `off`, `error` (its default) or `debug`. WasmEdge logs to this
/// process's stdout, which during a run is the guest's: a container process turns it off.
#[napi]
pub fn set_log_level(level: String) -> Result<()> {
    let api = library(None)?;
    let set = match level.as_str() {
        "off" => api.log_off,
        "error" => api.log_set_error_level,
        "debug" => api.log_set_debug_level,
        _ => return Err(Error::new(Status::InvalidArg, format!("unknown log level {level:?}: expected off, error or debug"))),
    };
    // SAFETY: a global setting of the library, no arguments.
    unsafe { set() };
    Ok(())
}

/// Loads the WasmEdge plugin(s) at `path` (a shared library or a directory of them).
#[napi]
pub fn load_plugins(path: String) -> Result<()> {
    let api = library(None)?;
    let c_path = cstring("plugin path", &path)?;
    // SAFETY: a valid NUL-terminated path; WasmEdge copies what it needs.
    unsafe { (api.plugin_load_from_path)(c_path.as_ptr()) };
    Ok(())
}

/// Options of a {@link Vm}.
#[napi(object)]
pub struct VmOptions {
    /// Library to load if none is loaded yet (see `loadLibrary`).
    pub library_path: Option<String>,
    /// Cap on each linear memory of the guest, in 64 KiB pages: `memory.grow` past it fails.
    pub max_memory_pages: Option<u32>,
    /// Ignore native code that a module compiled ahead of time carries and interpret its
    /// WebAssembly instead. That code is machine code nobody validates: a module from an untrusted
    /// source must not have it run.
    pub force_interpreter: Option<bool>,
}

/// One run of the loaded module.
#[napi(object)]
pub struct RunOptions {
    /// The guest's argv; `args[0]` is the program name.
    pub args: Vec<String>,
    /// The guest's environment, as `[name, value]` pairs; nothing else reaches the guest.
    pub env: Vec<(String, String)>,
    /// Directories to preopen, in WasmEdge's form `GUEST:HOST` (or one path for both).
    pub dirs: Vec<String>,
    /// Descriptors of this process to `dup2` onto fds 0, 1 and 2 before the run (WasmEdge's WASI
    /// always uses 0/1/2). Left alone when absent or already in place.
    pub stdin: Option<i32>,
    pub stdout: Option<i32>,
    pub stderr: Option<i32>,
    /// Exported function to call; `_start` when absent. Other functions must take no parameters;
    /// a reactor's `_initialize` runs first.
    pub func: Option<String>,
}

struct VmInner {
    api: &'static Api,
    conf: *mut ffi::ConfigureContext,
    vm: *mut ffi::VmContext,
    /// The loaded module's bytes, kept while the VM may refer to them.
    module: Option<Vec<u8>>,
    ran: bool,
}

// SAFETY: the contexts are used by one thread at a time (the mutex around VmInner).
unsafe impl Send for VmInner {}

impl Drop for VmInner {
    fn drop(&mut self) {
        // SAFETY: both were created by this VmInner and are deleted once.
        unsafe {
            (self.api.vm_delete)(self.vm);
            (self.api.configure_delete)(self.conf);
        }
    }
}

impl VmInner {
    fn check(&self, what: &str, res: ffi::WasmEdgeResult) -> Result<()> {
        // SAFETY: plain value functions.
        if unsafe { (self.api.result_ok)(res) } {
            Ok(())
        } else {
            Err(failure(format!("{what}: {}", self.api.message(res))))
        }
    }

    fn has_function(&self, name: &str) -> bool {
        // SAFETY: the name outlives the call; the VM has an instantiated module.
        !unsafe { (self.api.vm_get_function_type)(self.vm, WasmEdgeString::borrow(name)) }.is_null()
    }

    fn execute(&self, name: &str) -> ffi::WasmEdgeResult {
        // SAFETY: no parameters or returns are passed; the name outlives the call.
        unsafe { (self.api.vm_execute)(self.vm, WasmEdgeString::borrow(name), ptr::null(), 0, ptr::null_mut(), 0) }
    }

    fn run(&mut self, job: &RunJob) -> Result<u32> {
        if self.module.is_none() {
            return Err(failure("no module loaded: call load() first"));
        }
        if self.ran {
            return Err(failure("this Vm has already run its module; create a new one"));
        }
        self.ran = true;
        let api = self.api;
        // SAFETY: the VM was created with the WASI host registration.
        let wasi = unsafe { (api.vm_get_import_module_context)(self.vm, ffi::HOST_REGISTRATION_WASI) };
        if wasi.is_null() {
            return Err(failure("the VM has no WASI module"));
        }
        let ptrs = |v: &[CString]| v.iter().map(|s| s.as_ptr()).collect::<Vec<*const c_char>>();
        let (args, env, dirs) = (ptrs(&job.args), ptrs(&job.env), ptrs(&job.dirs));
        let or_null = |v: &Vec<*const c_char>| if v.is_empty() { ptr::null() } else { v.as_ptr() };
        // SAFETY: arrays of valid C strings that outlive the call; WasmEdge copies them.
        unsafe {
            (api.module_instance_init_wasi)(
                wasi,
                or_null(&args),
                args.len() as u32,
                or_null(&env),
                env.len() as u32,
                or_null(&dirs),
                dirs.len() as u32,
            )
        };
        // SAFETY: the VM holds a validated module.
        self.check("cannot instantiate the module", unsafe { (api.vm_instantiate)(self.vm) })?;
        if job.func != "_start" && self.has_function("_initialize") {
            let res = self.execute("_initialize");
            self.finish("_initialize", res, wasi)?;
        }
        if !self.has_function(&job.func) {
            return Err(Error::new(Status::InvalidArg, format!("the module exports no function {:?}", job.func)));
        }
        let res = self.execute(&job.func);
        self.finish(&job.func, res, wasi)
    }

    /// The exit code after `func` returned `res`: WASI's (0, or the status of `proc_exit`), or the trap.
    fn finish(&self, func: &str, res: ffi::WasmEdgeResult, wasi: *mut ffi::ModuleInstanceContext) -> Result<u32> {
        // SAFETY: plain value functions and a live WASI module.
        unsafe {
            if (self.api.result_ok)(res) {
                return Ok((self.api.module_instance_wasi_get_exit_code)(wasi));
            }
            if (self.api.result_get_code)(res) == ffi::ERR_TERMINATED {
                return Ok((self.api.module_instance_wasi_get_exit_code)(wasi));
            }
        }
        Err(failure(format!("wasm trap in {func}: {}", self.api.message(res))))
    }
}

struct RunJob {
    args: Vec<CString>,
    env: Vec<CString>,
    dirs: Vec<CString>,
    func: String,
}

/// The async task that runs a guest on a libuv worker thread.
pub struct RunTask {
    inner: Arc<Mutex<VmInner>>,
    job: RunJob,
    stdio: Option<SavedFds>,
}

impl Task for RunTask {
    type Output = u32;
    type JsValue = u32;

    fn compute(&mut self) -> Result<u32> {
        let result = match self.inner.try_lock() {
            Ok(mut inner) => inner.run(&self.job),
            Err(_) => Err(failure("this Vm is already running")),
        };
        drop(self.stdio.take());
        result
    }

    fn resolve(&mut self, _env: Env, output: u32) -> Result<u32> {
        Ok(output)
    }
}

/// This process's descriptors 0/1/2 as they were before a run replaced them.
struct SavedFds(Vec<(i32, i32)>);

impl SavedFds {
    /// Makes each `(fd, target)` this process's descriptor `target` in blocking mode (WasmEdge
    /// does not retry EAGAIN), keeping a copy of what `target` was.
    fn install(pairs: &[(Option<i32>, i32)]) -> Result<Self> {
        let mut saved = SavedFds(Vec::new());
        for &(fd, target) in pairs {
            let Some(fd) = fd else { continue };
            // SAFETY: plain descriptor syscalls on descriptors the caller named.
            unsafe {
                if fd != target {
                    let copy = libc::fcntl(target, libc::F_DUPFD_CLOEXEC, 3);
                    if libc::dup2(fd, target) < 0 {
                        let err = std::io::Error::last_os_error();
                        if copy >= 0 {
                            libc::close(copy);
                        }
                        return Err(failure(format!("dup2({fd}, {target}): {err}")));
                    }
                    saved.0.push((copy, target));
                }
                let flags = libc::fcntl(target, libc::F_GETFL);
                if flags >= 0 && flags & libc::O_NONBLOCK != 0 {
                    libc::fcntl(target, libc::F_SETFL, flags & !libc::O_NONBLOCK);
                }
            }
        }
        Ok(saved)
    }
}

impl Drop for SavedFds {
    /// Puts the original descriptors back, so what the process writes to its stderr after the
    /// run (its log) does not land in the guest's stream.
    fn drop(&mut self) {
        for &(copy, target) in self.0.iter().rev() {
            // SAFETY: plain descriptor syscalls on descriptors saved by `install`.
            unsafe {
                if copy >= 0 {
                    libc::dup2(copy, target);
                    libc::close(copy);
                } else {
                    libc::close(target);
                }
            }
        }
    }
}

/// A WasmEdge VM with the WASI host module: load one module, run it once.
#[napi]
pub struct Vm {
    inner: Arc<Mutex<VmInner>>,
}

#[napi]
impl Vm {
    /// Creates a VM (loading libwasmedge first if needed).
    #[napi(constructor)]
    pub fn new(options: Option<VmOptions>) -> Result<Self> {
        let (library_path, max_pages, interpret) = match options {
            Some(o) => (o.library_path, o.max_memory_pages, o.force_interpreter.unwrap_or(false)),
            None => (None, None, false),
        };
        let api = library(library_path)?;
        // SAFETY: contexts created and owned here; VmInner deletes them.
        unsafe {
            let conf = (api.configure_create)();
            if conf.is_null() {
                return Err(failure("WasmEdge_ConfigureCreate failed"));
            }
            (api.configure_add_host_registration)(conf, ffi::HOST_REGISTRATION_WASI);
            if let Some(pages) = max_pages {
                (api.configure_set_max_memory_page)(conf, pages);
            }
            (api.configure_set_force_interpreter)(conf, interpret);
            let vm = (api.vm_create)(conf, ptr::null_mut());
            if vm.is_null() {
                (api.configure_delete)(conf);
                return Err(failure("WasmEdge_VMCreate failed"));
            }
            Ok(Self { inner: Arc::new(Mutex::new(VmInner { api, conf, vm, module: None, ran: false })) })
        }
    }

    /// Parses and validates a module (plain WebAssembly, or one WasmEdge compiled ahead of time).
    /// Throws an `InvalidArg` error with WasmEdge's reason when it is not valid.
    #[napi]
    pub fn load(&self, bytes: Buffer) -> Result<()> {
        let mut inner = self.inner.try_lock().map_err(|_| failure("this Vm is running"))?;
        if inner.ran {
            return Err(failure("this Vm has already run its module; create a new one"));
        }
        let copy = bytes.to_vec();
        let wasm = WasmEdgeBytes { length: copy.len() as u32, buf: copy.as_ptr() };
        let api = inner.api;
        // SAFETY: the bytes live in `inner.module` as long as the VM may use them.
        let res = unsafe { (api.vm_load_wasm_from_bytes)(inner.vm, wasm) };
        inner.module = Some(copy);
        let invalid = |what: &str, res| Error::new(Status::InvalidArg, format!("{what}: {}", api.message(res)));
        if !unsafe { (api.result_ok)(res) } {
            inner.module = None;
            return Err(invalid("invalid WebAssembly module", res));
        }
        // SAFETY: a module is loaded.
        let res = unsafe { (api.vm_validate)(inner.vm) };
        if !unsafe { (api.result_ok)(res) } {
            inner.module = None;
            return Err(invalid("invalid WebAssembly module", res));
        }
        Ok(())
    }

    /// Installs the stdio descriptors (on the calling thread), then runs the module's `func` on a
    /// libuv worker thread. Resolves the exit code (0, or the status of `proc_exit`); rejects on a
    /// trap or when the module cannot be instantiated (an import WasmEdge lacks, a missing export).
    #[napi(ts_return_type = "Promise<number>")]
    pub fn run(&self, options: RunOptions) -> Result<AsyncTask<RunTask>> {
        let job = RunJob {
            args: options.args.iter().map(|a| cstring("argument", a)).collect::<Result<_>>()?,
            env: options
                .env
                .iter()
                .map(|(k, v)| cstring("environment variable", &format!("{k}={v}")))
                .collect::<Result<_>>()?,
            dirs: options.dirs.iter().map(|d| cstring("directory", d)).collect::<Result<_>>()?,
            func: options.func.unwrap_or_else(|| "_start".to_string()),
        };
        let stdio = SavedFds::install(&[(options.stdin, 0), (options.stdout, 1), (options.stderr, 2)])?;
        Ok(AsyncTask::new(RunTask { inner: self.inner.clone(), job, stdio: Some(stdio) }))
    }
}

/// Options of {@link compile}.
#[napi(object)]
pub struct CompileOptions {
    /// Library to load if none is loaded yet (see `loadLibrary`).
    pub library_path: Option<String>,
}

/// The async task that compiles a module ahead of time on a libuv worker thread.
pub struct CompileTask {
    api: &'static Api,
    bytes: Vec<u8>,
    out: CString,
}

// SAFETY: only owned data and the process-wide API table.
unsafe impl Send for CompileTask {}

impl Task for CompileTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        let api = self.api;
        let Some(compiler) = api.compiler.as_ref() else {
            return Err(failure(format!("{} has no AOT compiler (built without LLVM)", api.path)));
        };
        // SAFETY: contexts created and deleted here; bytes and path outlive the calls.
        unsafe {
            let conf = (api.configure_create)();
            if conf.is_null() {
                return Err(failure("WasmEdge_ConfigureCreate failed"));
            }
            (compiler.set_optimization_level)(conf, ffi::COMPILER_OPTIMIZATION_O2);
            (compiler.set_output_format)(conf, ffi::COMPILER_OUTPUT_FORMAT_WASM);
            let cc = (compiler.create)(conf);
            if cc.is_null() {
                (api.configure_delete)(conf);
                return Err(failure("WasmEdge_CompilerCreate failed"));
            }
            let bytes = WasmEdgeBytes { length: self.bytes.len() as u32, buf: self.bytes.as_ptr() };
            let res = (compiler.compile_from_bytes)(cc, bytes, self.out.as_ptr());
            (compiler.delete)(cc);
            (api.configure_delete)(conf);
            if !(api.result_ok)(res) {
                return Err(failure(format!("AOT compilation failed: {}", api.message(res))));
            }
        }
        Ok(())
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

/// Compiles `bytes` ahead of time into `outPath`: a WebAssembly module carrying native code in
/// custom sections, which `Vm.load` runs natively. Rejects when the library has no compiler.
#[napi(ts_return_type = "Promise<void>")]
pub fn compile(bytes: Buffer, out_path: String, options: Option<CompileOptions>) -> Result<AsyncTask<CompileTask>> {
    let api = library(options.and_then(|o| o.library_path))?;
    let out = cstring("output path", &out_path)?;
    Ok(AsyncTask::new(CompileTask { api, bytes: bytes.to_vec(), out }))
}

fn os_failure(call: &str, arg: &str) -> Error {
    failure(format!("{call} {arg}: {}", std::io::Error::last_os_error()))
}

/// An AOT compiler that keeps working after the process changes its root: it remembers the root
/// it was made under, and compiles on a thread that alone goes back there.
#[napi]
pub struct Compiler {
    api: &'static Api,
    root: Arc<OwnedFd>,
    temp_dir: String,
}

/// Options of a {@link Compiler}.
#[napi(object)]
pub struct CompilerOptions {
    /// Library to load if none is loaded yet (see `loadLibrary`).
    pub library_path: Option<String>,
    /// Directory for the compiler's files, as seen from the root the compiler was made under
    /// (default `/tmp`).
    pub temp_dir: Option<String>,
}

#[napi]
impl Compiler {
    /// Remembers the current root; fails when the library has no AOT compiler.
    #[napi(constructor)]
    pub fn new(options: Option<CompilerOptions>) -> Result<Self> {
        let (library_path, temp_dir) = match options {
            Some(o) => (o.library_path, o.temp_dir),
            None => (None, None),
        };
        let api = library(library_path)?;
        if api.compiler.is_none() {
            return Err(failure(format!("{} has no AOT compiler (built without LLVM)", api.path)));
        }
        // SAFETY: a valid NUL-terminated path; the fd is owned below.
        let root = unsafe { libc::open(c"/".as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if root < 0 {
            return Err(os_failure("open", "/"));
        }
        // SAFETY: root was just opened and is owned from here on.
        let root = Arc::new(unsafe { OwnedFd::from_raw_fd(root) });
        Ok(Self { api, root, temp_dir: temp_dir.unwrap_or_else(|| "/tmp".to_string()) })
    }

    /// Compiles `bytes` as {@link compile} does and resolves the compiled module's bytes.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn compile(&self, bytes: Buffer) -> Result<AsyncTask<CompilerTask>> {
        Ok(AsyncTask::new(CompilerTask {
            api: self.api,
            root: self.root.clone(),
            temp_dir: self.temp_dir.clone(),
            bytes: bytes.to_vec(),
        }))
    }
}

/// The async task of {@link Compiler.compile}.
pub struct CompilerTask {
    api: &'static Api,
    root: Arc<OwnedFd>,
    temp_dir: String,
    bytes: Vec<u8>,
}

// SAFETY: only owned data, a shared descriptor and the process-wide API table.
unsafe impl Send for CompilerTask {}

/// Runs on the compiler thread: its filesystem context is its own (see `CompilerTask::compute`).
fn compile_in(api: &'static Api, root: i32, temp_dir: &str, bytes: Vec<u8>) -> Result<Vec<u8>> {
    // SAFETY: these calls change only the calling thread's filesystem context.
    unsafe {
        if libc::unshare(libc::CLONE_FS) != 0 {
            return Err(os_failure("unshare", "CLONE_FS"));
        }
        // Without CAP_SYS_CHROOT the process root cannot have changed either: carry on.
        if libc::fchdir(root) == 0 && libc::chroot(c".".as_ptr()) != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EPERM) {
                return Err(failure(format!("chroot to the compiler's root: {err}")));
            }
        }
    }
    let template = cstring("temp dir", &format!("{}/wasmedge-aot-XXXXXX", temp_dir.trim_end_matches('/')))?;
    let mut template = template.into_bytes_with_nul();
    // SAFETY: a writable NUL-terminated template, as mkdtemp wants.
    if unsafe { libc::mkdtemp(template.as_mut_ptr().cast()) }.is_null() {
        return Err(os_failure("mkdtemp", temp_dir));
    }
    template.pop();
    let dir = String::from_utf8(template).map_err(|_| failure("mkdtemp returned a non-UTF-8 path"))?;
    let out = format!("{dir}/module.wasm");
    let mut task = CompileTask { api, bytes, out: cstring("output path", &out)? };
    let result = task.compute().and_then(|()| std::fs::read(&out).map_err(|e| failure(format!("read {out}: {e}"))));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

impl Task for CompilerTask {
    type Output = Vec<u8>;
    type JsValue = Buffer;

    fn compute(&mut self) -> Result<Vec<u8>> {
        use std::os::fd::AsRawFd;
        // WasmEdge writes its output (and a temporary object file beside it) by path, made
        // absolute with getcwd(). After the process changed its root (a container process), the
        // compiler's files have nowhere to go inside it, and getcwd() fails outside it. So the
        // compiler runs on a thread of its own with its own filesystem context (unshare
        // CLONE_FS): that thread alone returns to the root the Compiler was made under; the rest
        // of the process keeps its root and working directory throughout.
        let (api, root, temp_dir, bytes) = (self.api, self.root.as_raw_fd(), self.temp_dir.clone(), std::mem::take(&mut self.bytes));
        std::thread::scope(|scope| {
            let thread = std::thread::Builder::new()
                .name("wasmedge-aot".into())
                .stack_size(16 << 20)
                .spawn_scoped(scope, move || compile_in(api, root, &temp_dir, bytes))
                .map_err(|e| failure(format!("cannot start the compiler thread: {e}")))?;
            thread.join().unwrap_or_else(|_| Err(failure("the compiler thread panicked")))
        })
    }

    fn resolve(&mut self, _env: Env, output: Vec<u8>) -> Result<Buffer> {
        Ok(Buffer::from(output))
    }
}
