//! What running a WASI preview1 module on Wasmer means, independent of who hosts it: the Node
//! addon of this crate and the native container process (`runwasi-wasmer-executor`) both compile
//! this file, so a module behaves the same under either. Nothing here knows about napi; errors
//! are text, classed as the guest's fault or the host's.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll};

use virtual_fs::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf, VirtualFile};
use wasmer::sys::vm::{
    MemoryError, MemoryStyle, TableStyle, VMMemory, VMMemoryDefinition, VMTable, VMTableDefinition,
};
use wasmer::sys::{BaseTunables, Cranelift, EngineBuilder, NativeEngineExt, Tunables};
use wasmer::{Engine, MemoryType, Module, Pages, RuntimeError, Store, TableType};
use wasmer_wasix::runtime::task_manager::tokio::TokioTaskManager;
use wasmer_wasix::{PluggableRuntime, WasiEnv, WasiError, WasiRuntimeError};

/// The function a WASI command starts at.
pub const START: &str = "_start";
/// The function a WASI reactor initialises itself with before any other export is called.
pub const INITIALIZE: &str = "_initialize";
/// Size of a wasm page.
const PAGE: u64 = 65536;

/// Why a guest could not run, or what it did wrong.
#[derive(Debug)]
pub enum GuestError {
    /// The caller's input is at fault (a bad descriptor, an invalid module).
    Invalid(String),
    /// The run failed: a trap, a guest that cannot be set up, a host error.
    Failed(String),
}

pub type Result<T> = std::result::Result<T, GuestError>;

fn failure(message: impl Into<String>) -> GuestError {
    GuestError::Failed(message.into())
}

fn invalid(message: impl Into<String>) -> GuestError {
    GuestError::Invalid(message.into())
}

/// A Cranelift engine, with each linear memory capped at `memory_limit_bytes` when given.
pub fn engine(memory_limit_bytes: Option<i64>) -> Result<Engine> {
    let mut engine: Engine = EngineBuilder::new(Cranelift::default()).engine().into();
    if let Some(bytes) = memory_limit_bytes {
        if bytes < 0 {
            return Err(invalid("memoryLimitBytes is negative"));
        }
        let pages = u32::try_from(bytes as u64 / PAGE).unwrap_or(u32::MAX);
        engine.set_tunables(CappedMemory {
            base: BaseTunables::new(),
            max: Pages(pages.min(65536)),
        });
    }
    Ok(engine)
}

/// The small tokio runtime wasmer-wasix does a guest's I/O and timers on (one worker thread).
pub fn io_runtime() -> Result<Arc<tokio::runtime::Runtime>> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("wasmer-io")
        .enable_all()
        .build()
        .map_err(|e| failure(format!("cannot start the I/O runtime: {e}")))?;
    Ok(Arc::new(tokio))
}

/// Validates and compiles `bytes` (a WebAssembly binary) for `engine`.
pub fn compile(engine: &Engine, bytes: &[u8]) -> Result<Module> {
    Module::new(engine, bytes).map_err(|e| invalid(format!("invalid WebAssembly module: {}", chain(&e))))
}

/// One run of a compiled module.
pub struct Run {
    /// The guest's argv; `args[0]` is the program name.
    pub args: Vec<String>,
    /// The guest's environment; nothing else reaches the guest.
    pub env: Vec<(String, String)>,
    /// Host directory the guest sees as `/` (read-write); no filesystem when absent.
    pub preopen_dir: Option<String>,
    /// Descriptors of this process that become the guest's fds 0, 1 and 2 (duplicated).
    pub stdin: i32,
    pub stdout: i32,
    pub stderr: i32,
    /// Exported function to call; `_start` when absent.
    pub func: Option<String>,
}

/// An error and its causes on one line, `outer: inner: …`, without repeating a cause whose text
/// the outer message already contains.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// Base tunables with every linear memory's maximum lowered to a cap, so that `memory.grow` past
/// it fails (malloc returns NULL) instead of reaching the host's memory.
struct CappedMemory {
    base: BaseTunables,
    max: Pages,
}

impl CappedMemory {
    fn capped(&self, ty: &MemoryType) -> MemoryType {
        let mut ty = *ty;
        ty.maximum = Some(ty.maximum.map_or(self.max, |m| m.min(self.max)));
        ty
    }

    fn check(&self, ty: &MemoryType) -> std::result::Result<MemoryType, MemoryError> {
        if ty.minimum > self.max {
            return Err(MemoryError::Generic(format!(
                "the module needs {} pages of memory at start, above the limit of {} pages",
                ty.minimum.0, self.max.0
            )));
        }
        Ok(self.capped(ty))
    }
}

impl Tunables for CappedMemory {
    fn memory_style(&self, memory: &MemoryType) -> MemoryStyle {
        self.base.memory_style(&self.capped(memory))
    }

    fn table_style(&self, table: &TableType) -> TableStyle {
        self.base.table_style(table)
    }

    fn create_host_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
    ) -> std::result::Result<VMMemory, MemoryError> {
        self.base.create_host_memory(&self.check(ty)?, style)
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        vm_definition_location: NonNull<VMMemoryDefinition>,
    ) -> std::result::Result<VMMemory, MemoryError> {
        let ty = self.check(ty)?;
        // SAFETY: the caller's guarantee about `vm_definition_location` is passed on unchanged.
        unsafe {
            self.base
                .create_vm_memory(&ty, style, vm_definition_location)
        }
    }

    fn create_host_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
    ) -> std::result::Result<VMTable, String> {
        self.base.create_host_table(ty, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        vm_definition_location: NonNull<VMTableDefinition>,
    ) -> std::result::Result<VMTable, String> {
        // SAFETY: as above.
        unsafe { self.base.create_vm_table(ty, style, vm_definition_location) }
    }
}

/// One of the guest's stdio streams: a descriptor of this process, read or written directly on
/// the guest's thread as the guest calls `fd_read`/`fd_write` (nothing is buffered on the way).
#[derive(Debug)]
struct HostFd {
    file: File,
    /// The guest's descriptor number (0, 1 or 2).
    guest_fd: u32,
}

impl HostFd {
    /// Duplicates `fd` for the guest, in blocking mode: the guest has its thread to itself, and a
    /// blocking read or write is what a WASI program expects of its stdio.
    fn dup(fd: i32, guest_fd: u32, what: &str) -> Result<Self> {
        // SAFETY: fcntl on an arbitrary integer only inspects or duplicates it; errors are reported.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if dup < 0 {
            let err = io::Error::last_os_error();
            return Err(invalid(format!("the guest's {what} (fd {fd}): {err}")));
        }
        // SAFETY: `dup` is a descriptor we just created and own.
        let file = unsafe { File::from_raw_fd(dup) };
        // The flag lives on the open file description shared with the caller's descriptor; the
        // descriptor is the guest's from now on.
        unsafe {
            let flags = libc::fcntl(dup, libc::F_GETFL);
            if flags >= 0 && flags & libc::O_NONBLOCK != 0 {
                libc::fcntl(dup, libc::F_SETFL, flags & !libc::O_NONBLOCK);
            }
        }
        Ok(Self { file, guest_fd })
    }
}

impl AsyncRead for HostFd {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = loop {
            match self.file.read(buf.initialize_unfilled()) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        Poll::Ready(n.map(|n| buf.advance(n)))
    }
}

impl AsyncWrite for HostFd {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.file.write(buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.file.write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncSeek for HostFd {
    fn start_seek(self: Pin<&mut Self>, _position: io::SeekFrom) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::ESPIPE))
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Err(io::Error::from_raw_os_error(libc::ESPIPE)))
    }
}

impl VirtualFile for HostFd {
    fn last_accessed(&self) -> u64 {
        0
    }

    fn last_modified(&self) -> u64 {
        0
    }

    fn created_time(&self) -> u64 {
        0
    }

    fn size(&self) -> u64 {
        0
    }

    fn set_len(&mut self, _new_size: u64) -> virtual_fs::Result<()> {
        Err(virtual_fs::FsError::PermissionDenied)
    }

    fn unlink(&mut self) -> virtual_fs::Result<()> {
        Ok(())
    }

    fn get_special_fd(&self) -> Option<u32> {
        Some(self.guest_fd)
    }

    // Readiness is not tracked: a read or write blocks the guest's thread until it completes.
    fn poll_read_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(1))
    }

    fn poll_write_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(PAGE as usize))
    }
}

/// The process root as the guest's `/`, with every path resolved by the kernel.
///
/// wasmer-wasix resolves symlinks itself when the filesystem reports them: it refuses relative
/// links that climb above the preopen and follows longer chains than the kernel's 40 links. When
/// the preopen is the process root (a container process after its root change), the kernel's own
/// resolution is exactly right: absolute links, `..` and `/proc/self/root` all stay inside the
/// root. So this filesystem reports links as what they point to (`symlink_metadata` follows them),
/// and wasix hands whole paths to the kernel. Only for `/`: below it the kernel would resolve
/// absolute links against the real root, outside the preopen.
#[derive(Debug)]
struct KernelResolved(virtual_fs::host_fs::FileSystem);

impl virtual_fs::FileSystem for KernelResolved {
    fn readlink(&self, path: &Path) -> virtual_fs::Result<PathBuf> {
        self.0.readlink(path)
    }

    fn read_dir(&self, path: &Path) -> virtual_fs::Result<virtual_fs::ReadDir> {
        self.0.read_dir(path)
    }

    fn create_dir(&self, path: &Path) -> virtual_fs::Result<()> {
        self.0.create_dir(path)
    }

    fn create_symlink(&self, source: &Path, target: &Path) -> virtual_fs::Result<()> {
        self.0.create_symlink(source, target)
    }

    fn hard_link(&self, source: &Path, target: &Path) -> virtual_fs::Result<()> {
        self.0.hard_link(source, target)
    }

    fn remove_dir(&self, path: &Path) -> virtual_fs::Result<()> {
        self.0.remove_dir(path)
    }

    fn rename<'a>(
        &'a self,
        from: &'a Path,
        to: &'a Path,
    ) -> Pin<Box<dyn std::future::Future<Output = virtual_fs::Result<()>> + Send + 'a>> {
        self.0.rename(from, to)
    }

    fn metadata(&self, path: &Path) -> virtual_fs::Result<virtual_fs::Metadata> {
        self.0.metadata(path)
    }

    fn symlink_metadata(&self, path: &Path) -> virtual_fs::Result<virtual_fs::Metadata> {
        self.0.metadata(path)
    }

    fn remove_file(&self, path: &Path) -> virtual_fs::Result<()> {
        self.0.remove_file(path)
    }

    fn new_open_options(&self) -> virtual_fs::OpenOptions<'_> {
        self.0.new_open_options()
    }
}

/// Runs `module` to completion on the calling thread and returns its exit code: 0 when the
/// function returns, the `proc_exit` status otherwise.
pub fn run_module(
    engine: &Engine,
    module: Module,
    tokio: &tokio::runtime::Runtime,
    options: Run,
) -> Result<i32> {
    let _entered = tokio.enter();

    let mut runtime =
        PluggableRuntime::new(Arc::new(TokioTaskManager::new(tokio.handle().clone())));
    runtime.set_engine(engine.clone());

    let mut args = options.args.into_iter();
    let mut wasi = WasiEnv::builder(args.next().unwrap_or_default());
    wasi.add_args(args);
    wasi.add_envs(options.env);
    wasi.set_runtime(Arc::new(runtime));
    wasi.set_stdin(Box::new(HostFd::dup(options.stdin, 0, "stdin")?));
    wasi.set_stdout(Box::new(HostFd::dup(options.stdout, 1, "stdout")?));
    wasi.set_stderr(Box::new(HostFd::dup(options.stderr, 2, "stderr")?));
    if let Some(dir) = &options.preopen_dir {
        let fs = virtual_fs::host_fs::FileSystem::new(tokio.handle().clone(), dir)
            .map_err(|e| failure(format!("cannot use {dir} as the guest's /: {e}")))?;
        let is_root = std::fs::canonicalize(dir).is_ok_and(|d| d == Path::new("/"));
        let fs: Arc<dyn virtual_fs::FileSystem + Send + Sync> = if is_root {
            Arc::new(KernelResolved(fs))
        } else {
            Arc::new(fs)
        };
        wasi.set_fs(fs);
        wasi.add_preopen_dir("/")
            .map_err(|e| failure(format!("cannot preopen {dir} as the guest's /: {e}")))?;
    }

    let mut store = Store::new(engine.clone());
    let (instance, env) = wasi
        .instantiate(module, &mut store)
        .map_err(|e| failure(describe_setup(&e)))?;
    let func = options.func.as_deref().unwrap_or(START);

    let outcome = (|| -> std::result::Result<(), RunFailure> {
        let entry = instance
            .exports
            .get_function(func)
            .map_err(|_| RunFailure::Setup(format!("the module exports no function {func}")))?
            .clone();
        if !entry.ty(&store).params().is_empty() {
            return Err(RunFailure::Setup(format!(
                "function {func} takes parameters; an entrypoint must take none"
            )));
        }
        if func != START {
            if let Ok(init) = instance.exports.get_function(INITIALIZE) {
                init.clone().call(&mut store, &[])?;
            }
        }
        entry.call(&mut store, &[])?;
        Ok(())
    })();

    let status = match outcome {
        Ok(()) => Ok(0),
        Err(RunFailure::Trap(err)) => match err.downcast::<WasiError>() {
            Ok(WasiError::Exit(code)) => Ok(code.raw()),
            Ok(other) => Err(failure(other.to_string())),
            Err(err) => Err(failure(describe_trap(&err))),
        },
        Err(RunFailure::Setup(message)) => Err(failure(message)),
    };
    // Closes the guest's descriptors and ends its process record.
    let code = status.as_ref().map_or(1, |c| *c);
    env.on_exit(&mut store, Some(code.into()));
    status
}

/// Why a run ended without returning.
enum RunFailure {
    Trap(RuntimeError),
    Setup(String),
}

impl From<RuntimeError> for RunFailure {
    fn from(err: RuntimeError) -> Self {
        Self::Trap(err)
    }
}

/// Why a guest could not be instantiated (an import nobody provides, a memory above the limit…).
fn describe_setup(err: &WasiRuntimeError) -> String {
    // wasix files every instantiation failure under "Memory access error"; the inner error
    // alone says what happened.
    let what = match err {
        WasiRuntimeError::Thread(inner) => chain(inner),
        other => chain(other),
    };
    format!("cannot start the guest: {what}")
}

/// A trap's message, then the top of its wasm backtrace.
fn describe_trap(err: &RuntimeError) -> String {
    let mut out = match err.clone().to_trap() {
        Some(_) => format!("wasm trap: {}", err.message()),
        None => err.message(),
    };
    let trace = err.trace();
    if !trace.is_empty() {
        out.push_str("\nwasm backtrace:");
        for frame in trace.iter().take(10) {
            let name = frame.function_name().unwrap_or("<unnamed>");
            out.push_str(&format!(
                "\n  {}!{} (func {})",
                frame.module_name(),
                name,
                frame.func_index()
            ));
        }
        if trace.len() > 10 {
            out.push_str(&format!("\n  … {} more frames", trace.len() - 10));
        }
    }
    out
}

