//! What running a guest on wasmtime means, independent of who hosts it: the Node addon of this
//! crate and the native container process (`runwasi-wasmtime-executor`) both compile this file, so
//! a module behaves the same under either. Nothing here knows about napi.

use std::fs::File;
use std::io;
use std::os::fd::FromRawFd;

use wasmtime::{Config, Linker, Module, OptLevel, Store, Trap, Val, WasmBacktrace};

/// The function a WASI command starts at.
pub const START: &str = "_start";
/// The function a WASI reactor initialises itself with before any other export is called.
pub const INITIALIZE: &str = "_initialize";
/// Frames of a trap's wasm backtrace kept in the error message.
const BACKTRACE_FRAMES: usize = 10;
/// Export of a `wasi:cli/command` component (any 0.2.x version).
pub const CLI_RUN: &str = "wasi:cli/run@0.2";
/// Export of a `wasi:http/proxy` component (any 0.2.x version).
pub const HTTP_HANDLER: &str = "wasi:http/incoming-handler@0.2";

/// Whether `bytes` is a component rather than a core module: both start with `\0asm`, then a
/// 16-bit version and a 16-bit layer, which is 0 for modules and 1 for components.
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && &bytes[0..4] == b"\0asm" && bytes[6..8] == [1, 0]
}

/// The message of a failed run: for a trap, wasmtime's trap message on the first line and the top
/// of the wasm backtrace below it; otherwise the error and its causes.
pub fn describe(err: &wasmtime::Error) -> String {
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

/// Engine settings a shim's configuration may change (wasmtime's defaults where absent).
#[derive(Default, Debug, Clone)]
#[cfg_attr(feature = "settings-json", derive(serde::Deserialize))]
#[cfg_attr(feature = "settings-json", serde(rename_all = "camelCase", default))]
pub struct EngineSettings {
    pub max_wasm_stack: Option<u32>,
    pub cranelift_opt_level: Option<String>,
    pub wasm_simd: Option<bool>,
    pub wasm_relaxed_simd: Option<bool>,
    pub wasm_multi_memory: Option<bool>,
    pub wasm_memory64: Option<bool>,
    pub wasm_tail_call: Option<bool>,
    pub memory_reservation: Option<i64>,
    pub memory_guard_size: Option<i64>,
}

/// Applies `settings` to `config`; a bad value is reported as a sentence naming the setting.
pub fn configure(config: &mut Config, settings: &EngineSettings) -> Result<(), String> {
    if let Some(size) = settings.max_wasm_stack {
        config.max_wasm_stack(size as usize);
    }
    if let Some(level) = &settings.cranelift_opt_level {
        config.cranelift_opt_level(match level.as_str() {
            "none" => OptLevel::None,
            "speed" => OptLevel::Speed,
            "speed_and_size" => OptLevel::SpeedAndSize,
            other => {
                return Err(format!(
                    "cranelift_opt_level {other:?} is not none, speed or speed_and_size"
                ))
            }
        });
    }
    if let Some(on) = settings.wasm_simd {
        config.wasm_simd(on);
    }
    if let Some(on) = settings.wasm_relaxed_simd {
        config.wasm_relaxed_simd(on);
    }
    if let Some(on) = settings.wasm_multi_memory {
        config.wasm_multi_memory(on);
    }
    if let Some(on) = settings.wasm_memory64 {
        config.wasm_memory64(on);
    }
    if let Some(on) = settings.wasm_tail_call {
        config.wasm_tail_call(on);
    }
    let bytes = |name: &str, value: i64| -> Result<u64, String> {
        u64::try_from(value).map_err(|_| format!("{name} must not be negative"))
    };
    if let Some(value) = settings.memory_reservation {
        config.memory_reservation(bytes("memory_reservation", value)?);
    }
    if let Some(value) = settings.memory_guard_size {
        config.memory_guard_size(bytes("memory_guard_size", value)?);
    }
    Ok(())
}

/// Hex text naming the settings an engine's artifacts depend on: artifacts of engines with the
/// same text load in each other. Stable for a given build.
pub fn compatibility_hash(engine: &wasmtime::Engine) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    format!("{:016x}", std::hash::Hasher::finish(&hasher))
}

/// Instantiates a preview1 module and calls `func` (after `_initialize` for another function).
pub fn run_module<T: 'static>(
    linker: &Linker<T>,
    store: &mut Store<T>,
    module: &Module,
    func: &str,
) -> wasmtime::Result<()> {
    let instance = linker.instantiate(&mut *store, module)?;
    let Some(entry) = instance.get_func(&mut *store, func) else {
        wasmtime::bail!("the module exports no function {func}");
    };
    if func != START {
        if let Some(init) = instance.get_func(&mut *store, INITIALIZE) {
            init.call(&mut *store, &[], &mut [])?;
        }
    }
    let ty = entry.ty(&*store);
    if ty.params().len() != 0 {
        wasmtime::bail!("function {func} takes parameters; an entrypoint must take none");
    }
    let mut results = vec![Val::I32(0); ty.results().len()];
    entry.call(&mut *store, &[], &mut results)
}

/// Duplicates `fd` into a `File` the guest owns, in blocking mode.
///
/// The blocking flag lives on the shared open file description: a descriptor handed to a guest
/// is the guest's, and wasmtime's WASI streams expect blocking reads and writes.
pub fn guest_file(fd: i32) -> io::Result<File> {
    // SAFETY: fcntl on an arbitrary integer only inspects or duplicates it; errors are reported.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
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
