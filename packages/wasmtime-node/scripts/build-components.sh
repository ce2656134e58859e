#!/usr/bin/env bash
# Builds the test components in modules/ into dist-wasm/<name>.wasm: each C file is compiled
# freestanding (no libc: it calls WASI 0.2 through the canonical ABI itself) and wrapped as a
# component of the world named in its first line (`// world: <name>`) of modules/wasi.wit.
# Packages: clang lld (Debian). Overrides: CLANG.
set -euo pipefail

pkg_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src_dir="$pkg_dir/modules"
out_dir="$pkg_dir/dist-wasm"
die() {
  echo "build-components: $*" >&2
  exit 1
}
CLANG="${CLANG:-clang}"
command -v "$CLANG" >/dev/null 2>&1 || die "clang not found; install it with: apt-get install clang lld"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/out"
built=0
for src in "$src_dir"/*.c; do
  name="$(basename "$src" .c)"
  world="$(sed -n '1s|^// world: *||p' "$src")"
  [[ -n "$world" ]] || die "$src does not start with '// world: <name>'"
  "$CLANG" --target=wasm32 -nostdlib -O2 -Wall -Wextra -Werror -Wl,--no-entry -Wl,--strip-debug \
    "$src" -o "$scratch/$name.core.wasm" || die "clang failed on $src"
  "${NODE:-node}" "$pkg_dir/scripts/componentize.mjs" "$src_dir/wasi.wit" "$world" \
    "$scratch/$name.core.wasm" "$scratch/out/$name.wasm" || die "componentize failed on $src"
  built=$((built + 1))
done
[[ $built -gt 0 ]] || die "no components found in $src_dir"
rm -rf "$out_dir"
mkdir -p "$out_dir"
chmod 0644 "$scratch/out/"*.wasm
cp "$scratch/out/"*.wasm "$out_dir/"
echo "build-components: built $built components into ${out_dir#"$pkg_dir/"}/"
