//! `runwasi-componentize`: the two component-model steps of the demo app's build, which Debian's
//! clang cannot do on its own.
//!
//! ```text
//! runwasi-componentize bindgen-c <wit-dir> <world> <out-dir>
//!     C bindings (world.c, world.h, world_component_type.o) for a WIT world; the object file
//!     carries the world's type so the linked module knows what it imports and exports.
//! runwasi-componentize new <command|reactor|proxy> <module.wasm> <component.wasm>
//!     A WASI preview1 core module wrapped into a component with the matching preview1 adapter.
//! ```
//!
//! Errors go to stderr as one line and exit status 1.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use wasi_preview1_component_adapter_provider as adapters;
use wit_bindgen_core::wit_parser::Resolve;
use wit_bindgen_core::Files;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("runwasi-componentize: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["bindgen-c", wit, world, out] => bindgen_c(Path::new(wit), world, Path::new(out)),
        ["new", kind, module, component] => {
            new_component(kind, Path::new(module), Path::new(component))
        }
        _ => bail!(
            "usage: runwasi-componentize bindgen-c <wit-dir> <world> <out-dir> | \
             new <command|reactor|proxy> <module.wasm> <component.wasm>"
        ),
    }
}

fn bindgen_c(wit: &Path, world: &str, out: &Path) -> Result<()> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_path(wit)
        .with_context(|| format!("cannot read the WIT in {}", wit.display()))?;
    let world_id = resolve
        .select_world(&[package], Some(world))
        .with_context(|| format!("no world {world} in {}", wit.display()))?;
    let mut files = Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world_id, &mut files)
        .context("generating C bindings")?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, contents) in files.iter() {
        let path = out.join(name);
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn new_component(kind: &str, module: &Path, component: &Path) -> Result<()> {
    let adapter = match kind {
        "command" => adapters::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        "reactor" => adapters::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        "proxy" => adapters::WASI_SNAPSHOT_PREVIEW1_PROXY_ADAPTER,
        other => bail!("unknown adapter kind {other:?} (expected command, reactor or proxy)"),
    };
    let bytes =
        std::fs::read(module).with_context(|| format!("cannot read {}", module.display()))?;
    let encoded = wit_component::ComponentEncoder::default()
        .module(&bytes)
        .with_context(|| {
            format!(
                "{} is not a core wasm module this tool can wrap",
                module.display()
            )
        })?
        .adapter(adapters::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, adapter)
        .context("loading the preview1 adapter")?
        .validate(true)
        .encode()
        .with_context(|| format!("cannot make a component of {}", module.display()))?;
    // Written beside the target and renamed, so a failed run never leaves a truncated file.
    let temp = component.with_extension("wasm.tmp");
    std::fs::write(&temp, encoded).with_context(|| format!("cannot write {}", temp.display()))?;
    std::fs::rename(&temp, component)
        .with_context(|| format!("cannot write {}", component.display()))?;
    Ok(())
}
