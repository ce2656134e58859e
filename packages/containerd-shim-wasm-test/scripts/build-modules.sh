#!/usr/bin/env bash
# Builds every shared test module in modules/ into dist-wasm/<name>.wasm.
#   *.wat -> wat2wasm (package: wabt)
#   *.c   -> clang --target=wasm32-wasi against wasi-libc (packages: clang lld wasi-libc libclang-rt-14-dev-wasm32)
#   *.wat.mjs -> node prints the WAT (for modules too big to keep as source, e.g. `large`), then wat2wasm
# Overrides: CLANG, WAT2WASM, WASI_SYSROOT (e.g. /opt/wasi-sdk/share/wasi-sysroot).
# Output is reproducible: no debug info, no timestamps, fixed flags; the build goes to a scratch
# directory first so a failed run never leaves a half-populated dist-wasm behind.
set -euo pipefail

pkg_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src_dir="$pkg_dir/modules"
out_dir="$pkg_dir/dist-wasm"

die() {
  echo "build-modules: $*" >&2
  exit 1
}

CLANG="${CLANG:-clang}"
WAT2WASM="${WAT2WASM:-wat2wasm}"

command -v "$WAT2WASM" >/dev/null 2>&1 ||
  die "wat2wasm not found; install it with: apt-get install wabt"
command -v "$CLANG" >/dev/null 2>&1 ||
  die "clang not found; install it with: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Sets `sysroot` (shared with the other wasm build scripts).
. "$pkg_dir/../../scripts/wasi-sysroot.sh"

# --strip-debug drops DWARF (large, and it embeds build paths) but keeps the name section so
# traps still show function names.
cflags=(--target=wasm32-wasi "--sysroot=$sysroot" -O2 -Wall -Wextra -Wl,--strip-debug)

mkdir -p "$scratch/out"
shopt -s nullglob
built=0
for src in "$src_dir"/*.wat; do
  name="$(basename "$src" .wat)"
  "$WAT2WASM" "$src" -o "$scratch/out/$name.wasm" || die "wat2wasm failed on $src"
  built=$((built + 1))
done
for src in "$src_dir"/*.wat.mjs; do
  name="$(basename "$src" .wat.mjs)"
  "${NODE:-node}" "$src" >"$scratch/$name.wat" || die "node failed on $src"
  "$WAT2WASM" "$scratch/$name.wat" -o "$scratch/out/$name.wasm" || die "wat2wasm failed on $scratch/$name.wat"
  built=$((built + 1))
done
for src in "$src_dir"/*.c; do
  name="$(basename "$src" .c)"
  "$CLANG" "${cflags[@]}" "$src" -o "$scratch/out/$name.wasm" || die "clang failed on $src"
  built=$((built + 1))
done
[[ $built -gt 0 ]] || die "no modules found in $src_dir"

rm -rf "$out_dir"
mkdir -p "$out_dir"
# Same mode for every file whichever tool produced it (clang marks its output executable).
chmod 0644 "$scratch/out/"*.wasm
cp "$scratch/out/"*.wasm "$out_dir/"
echo "build-modules: built $built modules into ${out_dir#"$pkg_dir/"}/ (sysroot $sysroot)"
