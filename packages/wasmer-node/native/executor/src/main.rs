//! `runwasi-wasmer-executor`: a container's own process for `@runwasi/shim-wasmer`, without Node.
//!
//! The shim daemon starts it instead of a Node container process (~50 ms of CPU and ~10 MiB to
//! start). The protocol and the container set-up are `runwasi-executor`'s; this file is the Wasmer
//! engine, running the module the way `@runwasi/wasmer-node`'s `WasiRunner` does (the same
//! `src/guest.rs`), on the main thread: a signal ends the process, which is the interruption
//! Wasmer lacks inside a Node process.

#[path = "../../src/guest.rs"]
mod guest;

use std::os::fd::AsRawFd;

use runwasi_executor::{Checked, Container, Failure};
use serde::Deserialize;
use wasmer::Module;

use guest::{GuestError, Run};

/// The environment variable holding this process's settings (JSON, see [`Settings`]).
const SETTINGS_ENV: &str = "RUNWASI_WASMER_EXECUTOR_SETTINGS";

/// What the shim's engine hands this process.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Settings {
    /// Cap on each linear memory, in bytes.
    memory_limit_bytes: Option<i64>,
}

fn text(err: GuestError) -> String {
    match err {
        GuestError::Invalid(message) | GuestError::Failed(message) => message,
    }
}

/// The engine; its I/O runtime (a thread) starts with the guest, so the process is still
/// single-threaded when it joins its cgroup.
struct Wasmer(wasmer::Engine);

impl Wasmer {
    fn from_env() -> Result<Self, Failure> {
        let settings: Settings = match std::env::var(SETTINGS_ENV).ok().filter(|s| !s.is_empty()) {
            None => Settings::default(),
            Some(text) => serde_json::from_str(&text).map_err(|err| Failure::invalid(format!("{SETTINGS_ENV} is not valid: {err}")))?,
        };
        let engine = guest::engine(settings.memory_limit_bytes)
            .map_err(|err| Failure::invalid(format!("cannot start the Wasmer runner: {}", text(err))))?;
        Ok(Self(engine))
    }
}

impl runwasi_executor::Engine for Wasmer {
    type Workload = Module;

    fn name(&self) -> &str {
        "wasmer"
    }

    // No `cache_key`: modules are compiled at every `Create`, as in the Node container process.
    fn compile(&self, module: &[u8]) -> Result<Checked<Module>, String> {
        guest::compile(&self.0, module).map(Checked::Run).map_err(text)
    }

    fn run(&self, module: Module, container: Container) -> Result<i32, String> {
        let run = Run {
            args: container.args,
            env: container.env,
            preopen_dir: Some("/".into()),
            stdin: 0,
            stdout: container.stdout.as_raw_fd(),
            stderr: container.stderr.as_raw_fd(),
            func: Some(container.func),
        };
        let tokio = guest::io_runtime().map_err(text)?;
        let status = guest::run_module(&self.0, module, &tokio, run).map_err(text);
        // The guest's own copies of the descriptors are closed; these were ours until now.
        drop(container.stdout);
        drop(container.stderr);
        status
    }
}

fn main() {
    runwasi_executor::run(Wasmer::from_env)
}
