#!/usr/bin/env bash
# Compiles every kernels/*.c three times: natively with gcc -O2 (the baseline every engine is
# compared with) into dist/kernels/native/NAME, to wasm32-wasi with clang -O2 + wasi-libc into
# dist/kernels/wasm/NAME.wasm, and natively with clang -O2 into dist/kernels/native-clang/NAME
# (which separates what clang's optimizer does from what the engines do). Same source, same -O2,
# no -march: every build targets the baseline ISA. A fourth build, dist/kernels/wasm-simd/NAME.wasm,
# adds -msimd128 (WebAssembly SIMD, which clang's vectorizer then uses), for `bench --simd`.
# Debian packages: gcc clang lld wasi-libc libclang-rt-14-dev-wasm32.
# Overrides: CC (default gcc), CLANG (default clang), WASI_SYSROOT.
set -euo pipefail

pkg_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_dir="$pkg_dir/dist/kernels"

die() {
  echo "build-kernels: $*" >&2
  exit 1
}

CC="${CC:-gcc}"
CLANG="${CLANG:-clang}"
command -v "$CC" >/dev/null 2>&1 || die "$CC not found; install it with: apt-get install gcc"
command -v "$CLANG" >/dev/null 2>&1 ||
  die "clang not found; install it with: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Sets `sysroot` (shared with the other wasm build scripts).
. "$pkg_dir/../../scripts/wasi-sysroot.sh"

build="$scratch/out"
mkdir -p "$build/native" "$build/native-clang" "$build/wasm" "$build/wasm-simd"
for src in "$pkg_dir"/kernels/*.c; do
  name="$(basename "$src" .c)"
  "$CC" -O2 -Wall -Wextra -Werror "$src" -o "$build/native/$name" -lm || die "$CC failed on kernels/$name.c"
  "$CLANG" -O2 -Wall -Wextra -Werror "$src" -o "$build/native-clang/$name" -lm ||
    die "$CLANG (native) failed on kernels/$name.c"
  "$CLANG" --target=wasm32-wasi "--sysroot=$sysroot" -O2 -Wall -Wextra -Werror -Wl,--strip-debug \
    "$src" -o "$build/wasm/$name.wasm" || die "clang failed on kernels/$name.c"
  "$CLANG" --target=wasm32-wasi "--sysroot=$sysroot" -O2 -msimd128 -Wall -Wextra -Werror -Wl,--strip-debug \
    "$src" -o "$build/wasm-simd/$name.wasm" || die "clang -msimd128 failed on kernels/$name.c"
done
# The timer the benchmark runs native kernels and CLI engines under (wall and CPU time of one child).
"$CC" -O2 -Wall -Wextra -Werror "$pkg_dir/runner/cputime.c" -o "$build/cputime" || die "$CC failed on runner/cputime.c"
{
  echo "native: $("$CC" --version | head -n 1) -O2"
  echo "wasm: $("$CLANG" --version | head -n 1) --target=wasm32-wasi -O2 (sysroot $sysroot)"
  echo "wasm-simd: the same with -msimd128"
  echo "native-clang: $("$CLANG" --version | head -n 1) -O2"
} >"$build/compilers.txt"

rm -rf "$out_dir"
mkdir -p "$(dirname "$out_dir")"
mv "$build" "$out_dir"
echo "build-kernels: built $(ls "$out_dir/native" | wc -l) kernels into dist/kernels (sysroot $sysroot)"
