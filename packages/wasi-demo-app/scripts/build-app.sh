#!/usr/bin/env bash
# Builds the demo modules and components into dist-wasm/ with clang + wasi-libc:
#   wasi-demo-app.wasm            app/main.c, a WASI preview1 command module
#   wasi-demo-app.component.wasm  the same command as a WASI preview2 component (wasi:cli/command)
#   wasi-http-demo.wasm           app/http_hello.c, a wasi:http/proxy component
# Debian packages: clang lld wasi-libc libclang-rt-14-dev-wasm32; Rust (cargo) for the
# componentize tool in componentize/, which also makes the C bindings of the wasi:http world.
# Overrides: CLANG, WASI_SYSROOT (e.g. /opt/wasi-sdk/share/wasi-sysroot), WASI_HTTP_WIT (a WIT
# directory holding the wasi:http/proxy world; default: the one of the wasmtime engine's crate).
# Reproducible (no debug info, fixed flags, fixed mode) and atomic (built in a scratch directory).
set -euo pipefail

pkg_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_dir="$pkg_dir/dist-wasm"
out="$out_dir/wasi-demo-app.wasm"
repo_root="$(cd "$pkg_dir/../.." && pwd)"

die() {
  echo "build-app: $*" >&2
  exit 1
}

CLANG="${CLANG:-clang}"
command -v "$CLANG" >/dev/null 2>&1 ||
  die "clang not found; install it with: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Sets `sysroot` (shared with the other wasm build scripts).
. "$pkg_dir/../../scripts/wasi-sysroot.sh"

# --strip-debug drops DWARF (large, embeds build paths) but keeps function names for traps.
"$CLANG" --target=wasm32-wasi "--sysroot=$sysroot" -O2 -Wall -Wextra -Wl,--strip-debug \
  "$pkg_dir/app/main.c" -o "$scratch/wasi-demo-app.wasm" || die "clang failed on app/main.c"
# 0755: the classic image ships the module as its executable entrypoint.
chmod 0755 "$scratch/wasi-demo-app.wasm"

command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust (rustup) to build the components"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/runwasi-ts/cargo-target}"
CARGO_PROFILE_RELEASE_LTO=off cargo build --release --locked --quiet \
  --manifest-path "$pkg_dir/componentize/Cargo.toml" || die "building componentize failed"
componentize="$CARGO_TARGET_DIR/release/runwasi-componentize"

"$componentize" new command "$scratch/wasi-demo-app.wasm" "$scratch/wasi-demo-app.component.wasm" ||
  die "cannot make the preview2 component of the demo app"

# The wasi:http WIT is the one the wasmtime engine links (the wasmtime-wasi-http crate's), so the
# component imports exactly the interface versions the engine serves.
wit_dir="${WASI_HTTP_WIT:-}"
[[ -n "$wit_dir" ]] || wit_dir="$(cd "$repo_root" && cargo metadata --format-version 1 --locked 2>/dev/null |
  node -e '
    let text = "";
    process.stdin.on("data", (c) => (text += c)).on("end", () => {
      const pkg = JSON.parse(text).packages.find((p) => p.name === "wasmtime-wasi-http");
      if (pkg) process.stdout.write(require("node:path").join(require("node:path").dirname(pkg.manifest_path), "wit"));
    });')"
[[ -d "$wit_dir" ]] || die "cannot find the wasi:http WIT of the wasmtime-wasi-http crate (cargo metadata in $repo_root)"
"$componentize" bindgen-c "$wit_dir" "wasi:http/proxy" "$scratch/bindings" || die "cannot generate the wasi:http bindings"
"$CLANG" --target=wasm32-wasi "--sysroot=$sysroot" -O2 -Wall -Wextra -mexec-model=reactor -Wl,--strip-debug \
  -I "$scratch/bindings" "$pkg_dir/app/http_hello.c" "$scratch/bindings/proxy.c" \
  "$scratch/bindings/proxy_component_type.o" -o "$scratch/wasi-http-demo.core.wasm" ||
  die "clang failed on app/http_hello.c"
"$componentize" new proxy "$scratch/wasi-http-demo.core.wasm" "$scratch/wasi-http-demo.wasm" ||
  die "cannot make the wasi:http component"
chmod 0755 "$scratch/wasi-demo-app.component.wasm" "$scratch/wasi-http-demo.wasm"

mkdir -p "$out_dir"
for built in wasi-demo-app.wasm wasi-demo-app.component.wasm wasi-http-demo.wasm; do
  mv -f "$scratch/$built" "$out_dir/$built"
done
echo "build-app: built dist-wasm/{wasi-demo-app.wasm,wasi-demo-app.component.wasm,wasi-http-demo.wasm} (sysroot $sysroot)"
