//! The part of WasmEdge's C API (`wasmedge/wasmedge.h`, 0.14) this binding calls, resolved from
//! libwasmedge with `dlopen` at run time.
//!
//! The declarations follow the 0.14.1 headers: structs passed by value are `#[repr(C)]` copies of
//! theirs, C enums are passed as `u32`, contexts are opaque pointers. Only symbols present since
//! 0.13 are required; the AOT compiler is optional because builds without LLVM lack it.

use std::ffi::{c_char, c_void, CStr};
use std::sync::Mutex;

use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};

/// `WasmEdge_String`: a borrowed, not NUL-terminated, buffer.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct WasmEdgeString {
    pub length: u32,
    pub buf: *const c_char,
}

impl WasmEdgeString {
    /// Borrows `s`; the caller keeps `s` alive while WasmEdge uses the result.
    pub fn borrow(s: &str) -> Self {
        Self { length: s.len() as u32, buf: s.as_ptr().cast() }
    }
}

/// `WasmEdge_Bytes`: a borrowed byte buffer.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct WasmEdgeBytes {
    pub length: u32,
    pub buf: *const u8,
}

/// `WasmEdge_Result`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct WasmEdgeResult {
    pub code: u32,
}

/// `WasmEdge_ConfigureContext`.
pub enum ConfigureContext {}
/// `WasmEdge_VMContext`.
pub enum VmContext {}
/// `WasmEdge_ModuleInstanceContext`.
pub enum ModuleInstanceContext {}
/// `WasmEdge_CompilerContext`.
pub enum CompilerContext {}

/// `WasmEdge_HostRegistration_Wasi`.
pub const HOST_REGISTRATION_WASI: u32 = 0;
/// `WasmEdge_CompilerOutputFormat_Wasm`: the module with the native code in custom sections.
pub const COMPILER_OUTPUT_FORMAT_WASM: u32 = 1;
/// `WasmEdge_CompilerOptimizationLevel_O2`.
pub const COMPILER_OPTIMIZATION_O2: u32 = 2;
/// `WasmEdge_ErrCode_Terminated`: the guest called `proc_exit`.
pub const ERR_TERMINATED: u32 = 0x01;

/// The AOT compiler functions (absent from builds without LLVM).
pub struct CompilerApi {
    pub create: unsafe extern "C" fn(*const ConfigureContext) -> *mut CompilerContext,
    pub compile_from_bytes:
        unsafe extern "C" fn(*mut CompilerContext, WasmEdgeBytes, *const c_char) -> WasmEdgeResult,
    pub delete: unsafe extern "C" fn(*mut CompilerContext),
    pub set_optimization_level: unsafe extern "C" fn(*mut ConfigureContext, u32),
    pub set_output_format: unsafe extern "C" fn(*mut ConfigureContext, u32),
}

/// The loaded library and the functions taken from it.
pub struct Api {
    _lib: Library,
    /// What was passed to `dlopen`.
    pub path: String,
    pub version_get: unsafe extern "C" fn() -> *const c_char,
    pub log_off: unsafe extern "C" fn(),
    pub log_set_error_level: unsafe extern "C" fn(),
    pub log_set_debug_level: unsafe extern "C" fn(),
    pub result_ok: unsafe extern "C" fn(WasmEdgeResult) -> bool,
    pub result_get_code: unsafe extern "C" fn(WasmEdgeResult) -> u32,
    pub result_get_message: unsafe extern "C" fn(WasmEdgeResult) -> *const c_char,
    pub configure_create: unsafe extern "C" fn() -> *mut ConfigureContext,
    pub configure_add_host_registration: unsafe extern "C" fn(*mut ConfigureContext, u32),
    pub configure_set_max_memory_page: unsafe extern "C" fn(*mut ConfigureContext, u32),
    pub configure_set_force_interpreter: unsafe extern "C" fn(*mut ConfigureContext, bool),
    pub configure_delete: unsafe extern "C" fn(*mut ConfigureContext),
    pub vm_create: unsafe extern "C" fn(*const ConfigureContext, *mut c_void) -> *mut VmContext,
    pub vm_delete: unsafe extern "C" fn(*mut VmContext),
    pub vm_load_wasm_from_bytes: unsafe extern "C" fn(*mut VmContext, WasmEdgeBytes) -> WasmEdgeResult,
    pub vm_validate: unsafe extern "C" fn(*mut VmContext) -> WasmEdgeResult,
    pub vm_instantiate: unsafe extern "C" fn(*mut VmContext) -> WasmEdgeResult,
    #[allow(clippy::type_complexity)]
    pub vm_execute: unsafe extern "C" fn(
        *mut VmContext,
        WasmEdgeString,
        *const c_void,
        u32,
        *mut c_void,
        u32,
    ) -> WasmEdgeResult,
    pub vm_get_function_type: unsafe extern "C" fn(*const VmContext, WasmEdgeString) -> *const c_void,
    pub vm_get_import_module_context:
        unsafe extern "C" fn(*const VmContext, u32) -> *mut ModuleInstanceContext,
    #[allow(clippy::type_complexity)]
    pub module_instance_init_wasi: unsafe extern "C" fn(
        *mut ModuleInstanceContext,
        *const *const c_char,
        u32,
        *const *const c_char,
        u32,
        *const *const c_char,
        u32,
    ),
    pub module_instance_wasi_get_exit_code: unsafe extern "C" fn(*const ModuleInstanceContext) -> u32,
    pub plugin_load_from_path: unsafe extern "C" fn(*const c_char),
    pub compiler: Option<CompilerApi>,
}

// SAFETY: the fields are function pointers into a library that stays loaded for the life of the
// process, and the library handle itself is never used after loading.
unsafe impl Send for Api {}
unsafe impl Sync for Api {}

impl Api {
    /// The message WasmEdge gives for `res`.
    pub fn message(&self, res: WasmEdgeResult) -> String {
        // SAFETY: WasmEdge returns a static NUL-terminated string for every code.
        let ptr = unsafe { (self.result_get_message)(res) };
        if ptr.is_null() {
            return format!("error code {:#x}", res.code);
        }
        unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned()
    }

    /// The library's version string (e.g. `0.14.1`).
    pub fn version(&self) -> String {
        // SAFETY: a static NUL-terminated string.
        let ptr = unsafe { (self.version_get)() };
        if ptr.is_null() {
            return String::new();
        }
        unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned()
    }
}

/// The soname users' systems install (Debian 13 / Ubuntu 24.04+: `libwasmedge0`).
pub const DEFAULT_LIBRARY: &str = "libwasmedge.so.0";

static LOADED: Mutex<Option<&'static Api>> = Mutex::new(None);

unsafe fn symbol<T: Copy>(lib: &Library, path: &str, name: &str) -> Result<T, String> {
    lib.get::<T>(name)
        .map(|s| *s)
        .map_err(|e| format!("{path} lacks {name} ({e}); this binding needs WasmEdge 0.14"))
}

/// Loads libwasmedge from `path` once per process; later calls return the library loaded first,
/// whatever path they name. A failed load is not remembered, so a later call may try elsewhere.
pub fn load(path: &str) -> Result<&'static Api, String> {
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(api) = *loaded {
        return Ok(api);
    }
    // RTLD_NOW: every symbol binds now, while the library's files are still reachable (the
    // container process changes its root right after loading).
    // SAFETY: loading runs the library's initialisers, which is what using it means.
    let lib = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }.map_err(|e| {
        // libloading's Display says only "dlopen failed"; the loader's reason is the source.
        match std::error::Error::source(&e) {
            Some(reason) => reason.to_string(),
            None => e.to_string(),
        }
    })?;
    // SAFETY: each type matches the C declaration of the name it is looked up by.
    let api = unsafe {
        let compiler = (|| -> Result<CompilerApi, String> {
            Ok(CompilerApi {
                create: symbol(&lib, path, "WasmEdge_CompilerCreate")?,
                compile_from_bytes: symbol(&lib, path, "WasmEdge_CompilerCompileFromBytes")?,
                delete: symbol(&lib, path, "WasmEdge_CompilerDelete")?,
                set_optimization_level: symbol(&lib, path, "WasmEdge_ConfigureCompilerSetOptimizationLevel")?,
                set_output_format: symbol(&lib, path, "WasmEdge_ConfigureCompilerSetOutputFormat")?,
            })
        })()
        .ok();
        Api {
            path: path.to_string(),
            version_get: symbol(&lib, path, "WasmEdge_VersionGet")?,
            log_off: symbol(&lib, path, "WasmEdge_LogOff")?,
            log_set_error_level: symbol(&lib, path, "WasmEdge_LogSetErrorLevel")?,
            log_set_debug_level: symbol(&lib, path, "WasmEdge_LogSetDebugLevel")?,
            result_ok: symbol(&lib, path, "WasmEdge_ResultOK")?,
            result_get_code: symbol(&lib, path, "WasmEdge_ResultGetCode")?,
            result_get_message: symbol(&lib, path, "WasmEdge_ResultGetMessage")?,
            configure_create: symbol(&lib, path, "WasmEdge_ConfigureCreate")?,
            configure_add_host_registration: symbol(&lib, path, "WasmEdge_ConfigureAddHostRegistration")?,
            configure_set_max_memory_page: symbol(&lib, path, "WasmEdge_ConfigureSetMaxMemoryPage")?,
            configure_set_force_interpreter: symbol(&lib, path, "WasmEdge_ConfigureSetForceInterpreter")?,
            configure_delete: symbol(&lib, path, "WasmEdge_ConfigureDelete")?,
            vm_create: symbol(&lib, path, "WasmEdge_VMCreate")?,
            vm_delete: symbol(&lib, path, "WasmEdge_VMDelete")?,
            vm_load_wasm_from_bytes: symbol(&lib, path, "WasmEdge_VMLoadWasmFromBytes")?,
            vm_validate: symbol(&lib, path, "WasmEdge_VMValidate")?,
            vm_instantiate: symbol(&lib, path, "WasmEdge_VMInstantiate")?,
            vm_execute: symbol(&lib, path, "WasmEdge_VMExecute")?,
            vm_get_function_type: symbol(&lib, path, "WasmEdge_VMGetFunctionType")?,
            vm_get_import_module_context: symbol(&lib, path, "WasmEdge_VMGetImportModuleContext")?,
            module_instance_init_wasi: symbol(&lib, path, "WasmEdge_ModuleInstanceInitWASI")?,
            module_instance_wasi_get_exit_code: symbol(&lib, path, "WasmEdge_ModuleInstanceWASIGetExitCode")?,
            plugin_load_from_path: symbol(&lib, path, "WasmEdge_PluginLoadFromPath")?,
            compiler,
            _lib: lib,
        }
    };
    let api: &'static Api = Box::leak(Box::new(api));
    *loaded = Some(api);
    Ok(api)
}

/// The library loaded so far, if any.
pub fn loaded() -> Option<&'static Api> {
    *LOADED.lock().unwrap_or_else(|e| e.into_inner())
}
