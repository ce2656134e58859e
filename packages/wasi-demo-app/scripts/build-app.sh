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

# clang alone is not enough: linking a WASI command also needs wasm-ld (lld), wasi-libc and the
# wasm32 compiler-rt builtins, so probe with a real link.
probe_sysroot() {
  printf 'int main(void){return 0;}\n' >"$scratch/probe.c"
  rm -f "$scratch/probe.wasm"
  "$CLANG" --target=wasm32-wasi --sysroot="$1" -O2 "$scratch/probe.c" -o "$scratch/probe.wasm" 2>"$scratch/probe.log" &&
    [[ "$(head -c 4 "$scratch/probe.wasm" 2>/dev/null | od -An -tx1 | tr -d ' \n')" == "0061736d" ]]
}
if [[ -n "${WASI_SYSROOT:-}" ]]; then
  candidates=("$WASI_SYSROOT")
else
  candidates=(/usr /opt/wasi-sdk/share/wasi-sysroot /usr/share/wasi-sysroot)
fi
sysroot=""
for candidate in "${candidates[@]}"; do
  if [[ -d "$candidate" ]] && probe_sysroot "$candidate"; then
    sysroot="$candidate"
    break
  fi
done
if [[ -z "$sysroot" ]]; then
  cat "$scratch/probe.log" >&2 || true
  die "clang cannot build for wasm32-wasi (tried: ${candidates[*]}); install: apt-get install lld wasi-libc libclang-rt-14-dev-wasm32 (or set WASI_SYSROOT)"
fi

# --strip-debug drops DWARF (large, embeds build paths) but keeps function names for traps.
"$CLANG" --target=wasm32-wasi "--sysroot=$sysroot" -O2 -Wall -Wextra -Wl,--strip-debug \
  "$pkg_dir/app/main.c" -o "$scratch/wasi-demo-app.wasm" || die "clang failed on app/main.c"
# 0755: the classic image ships the module as its executable entrypoint.
chmod 0755 "$scratch/wasi-demo-app.wasm"

mkdir -p "$out_dir"
mv -f "$scratch/wasi-demo-app.wasm" "$out"
echo "build-app: built ${out#"$pkg_dir/"} (sysroot $sysroot)"
