//! `runwasi-wasmtime-executor`: a container's own process for `@runwasi/shim-wasmtime`, without
//! Node.
//!
//! The shim daemon starts it instead of a Node container process, which costs ~50 ms of CPU and
//! ~10 MiB to start; this one costs a few milliseconds and about a MiB. The protocol, the
//! container set-up and the precompilation cache are `runwasi-executor`'s; this file is the
//! wasmtime engine: modules and `wasi:cli/command` components run on the main thread, without
//! epoch interruption (a signal ends the process), and `wasi:http` proxies are left to the Node
//! container process, which serves them.

#[path = "../../native/src/guest.rs"]
mod guest;

use runwasi_executor::{own_rss, Checked, Container, Failure};
use serde::Deserialize;
use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Config, Engine, Linker, Module, Precompiled, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{InputFile, OutputFile};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use guest::{describe, is_component, EngineSettings, CLI_RUN, HTTP_HANDLER, START};

/// The environment variable holding this process's settings (JSON, see [`Settings`]).
const SETTINGS_ENV: &str = "RUNWASI_WASMTIME_EXECUTOR_SETTINGS";
/// Memory kept free under a container's limit for the engine's own allocations while a guest runs.
const ENGINE_HEADROOM_BYTES: i64 = 16 * 1024 * 1024;
/// A WebAssembly page: the least a memory cap can leave a guest.
const WASM_PAGE_BYTES: i64 = 64 * 1024;

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

/// What this process runs.
enum Workload {
    Module(Module),
    Command(Component),
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

struct Wasmtime {
    engine: Engine,
    settings: Settings,
}

impl Wasmtime {
    fn from_env() -> Result<Self, Failure> {
        let settings: Settings = match std::env::var(SETTINGS_ENV).ok().filter(|s| !s.is_empty()) {
            None => Settings::default(),
            Some(text) => serde_json::from_str(&text).map_err(|err| Failure::invalid(format!("{SETTINGS_ENV} is not valid: {err}")))?,
        };
        let mut config = Config::new();
        let engine = guest::configure(&mut config, &settings.engine)
            .and_then(|()| Engine::new(&config).map_err(|e| format!("cannot create a wasmtime engine: {e:#}")))
            .map_err(|message| Failure::invalid(format!("the wasmtime configuration is not usable: {message}")))?;
        Ok(Self { engine, settings })
    }

    /// A component to run, or the reason it is left to Node.
    fn component(&self, component: Component) -> Result<Checked<Workload>, String> {
        let names: Vec<String> = component.component_type().exports(&self.engine).map(|(name, _)| name.to_string()).collect();
        if names.iter().any(|n| n.starts_with(HTTP_HANDLER)) {
            return Ok(Checked::Unsupported("a wasi:http proxy component is served by the Node container process".into()));
        }
        if names.iter().any(|n| n.starts_with(CLI_RUN)) {
            return Ok(Checked::Run(Workload::Command(component)));
        }
        Err(format!(
            "the component exports neither wasi:cli/run nor wasi:http/incoming-handler (it exports: {})",
            if names.is_empty() { "nothing".to_string() } else { names.join(", ") }
        ))
    }

    /// The cap of the guest's linear memories: the configured one, and what the container's
    /// limit leaves once this process and some headroom are counted.
    fn memory_limit(&self, container: &Container) -> Option<i64> {
        let left = container.memory_limit_bytes.map(|spec| (spec - own_rss() - ENGINE_HEADROOM_BYTES).max(WASM_PAGE_BYTES));
        [self.settings.memory_limit_bytes, left].into_iter().flatten().min()
    }
}

impl runwasi_executor::Engine for Wasmtime {
    type Workload = Workload;

    fn name(&self) -> &str {
        "wasmtime"
    }

    fn cache_key(&self) -> Option<String> {
        (self.settings.precompile != Some(false)).then(|| format!("wasmtime-{}", guest::compatibility_hash(&self.engine)))
    }

    fn compile(&self, bytes: &[u8]) -> Result<Checked<Workload>, String> {
        if is_component(bytes) {
            let component = Component::new(&self.engine, bytes).map_err(|e| format!("invalid WebAssembly component: {e:#}"))?;
            self.component(component)
        } else {
            let module = Module::new(&self.engine, bytes).map_err(|e| format!("invalid WebAssembly module: {e:#}"))?;
            Ok(Checked::Run(Workload::Module(module)))
        }
    }

    fn precompile(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let what = if is_component(bytes) { "component" } else { "module" };
        if is_component(bytes) { self.engine.precompile_component(bytes) } else { self.engine.precompile_module(bytes) }
            .map_err(|e| format!("invalid WebAssembly {what}: {e:#}"))
    }

    fn load_precompiled(&self, artifact: &[u8]) -> Result<Checked<Workload>, String> {
        let invalid = |e: wasmtime::Error| format!("unusable precompiled artifact: {e:#}");
        match Engine::detect_precompiled(artifact) {
            // SAFETY: wasmtime checks the artifact's format, version and engine settings; the bytes
            // come from containerd's content store, addressed by their digest, or from this process.
            Some(Precompiled::Module) => Ok(Checked::Run(Workload::Module(unsafe { Module::deserialize(&self.engine, artifact) }.map_err(invalid)?))),
            Some(Precompiled::Component) => self.component(unsafe { Component::deserialize(&self.engine, artifact) }.map_err(invalid)?),
            None => Err("unusable precompiled artifact: not a wasmtime artifact".to_string()),
        }
    }

    fn check(&self, workload: &Workload, container: &Container, module: &str) -> Result<(), Failure> {
        if matches!(workload, Workload::Command(_)) && container.func != START {
            return Err(Failure::invalid(format!(
                "{module}: a component has no entrypoint {} (it runs wasi:cli/run or serves wasi:http)",
                container.func
            )));
        }
        Ok(())
    }

    fn run(&self, workload: Workload, container: Container) -> Result<i32, String> {
        let limits = match self.memory_limit(&container) {
            Some(bytes) => StoreLimitsBuilder::new().memory_size(bytes as usize).build(),
            None => StoreLimits::default(),
        };
        let mut wasi = WasiCtxBuilder::new();
        wasi.allow_blocking_current_thread(true);
        wasi.args(&container.args).envs(&container.env);
        wasi.stdin(InputFile::new(guest::guest_file(0).map_err(|e| format!("the guest's stdin: {e}"))?));
        wasi.stdout(OutputFile::new(container.stdout));
        wasi.stderr(OutputFile::new(container.stderr));
        wasi.preopened_dir("/", "/", FsPerms::ReadWrite)
            .map_err(|e| format!("cannot preopen the container rootfs as the guest's /: {e:#}"))?;
        let engine = &self.engine;
        let outcome = match workload {
            Workload::Module(module) => {
                let mut store = Store::new(engine, P1State { wasi: wasi.build_p1(), limits });
                store.limiter(|state| &mut state.limits);
                let mut linker: Linker<P1State> = Linker::new(engine);
                p1::add_to_linker_sync(&mut linker, |state: &mut P1State| &mut state.wasi).map_err(|e| format!("cannot link WASI: {e:#}"))?;
                guest::run_module(&linker, &mut store, &module, &container.func)
            }
            Workload::Command(component) => {
                let mut store = Store::new(engine, P2State { wasi: wasi.build(), table: ResourceTable::new(), limits });
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
}

fn main() {
    runwasi_executor::run(Wasmtime::from_env)
}
