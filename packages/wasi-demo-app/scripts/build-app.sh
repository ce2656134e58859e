#!/usr/bin/env bash
# Builds app/main.c into dist-wasm/wasi-demo-app.wasm with clang + wasi-libc.
# Debian packages: clang lld wasi-libc libclang-rt-14-dev-wasm32.
# Overrides: CLANG, WASI_SYSROOT (e.g. /opt/wasi-sdk/share/wasi-sysroot).
# Reproducible (no debug info, fixed flags, fixed mode) and atomic (built in a scratch directory).
set -euo pipefail

pkg_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_dir="$pkg_dir/dist-wasm"
out="$out_dir/wasi-demo-app.wasm"

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

mkdir -p "$out_dir"
mv -f "$scratch/wasi-demo-app.wasm" "$out"
echo "build-app: built ${out#"$pkg_dir/"} (sysroot $sysroot)"
