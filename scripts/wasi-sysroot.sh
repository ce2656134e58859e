# Sourced by the scripts that compile C to wasm32-wasi. Sets `sysroot` to a sysroot with which
# $CLANG can really link a WASI command (clang alone is not enough: it also needs wasm-ld (lld),
# wasi-libc and the wasm32 compiler-rt builtins), probing in the directory $scratch; calls `die`
# with the Debian packages to install when none works. WASI_SYSROOT picks the sysroot.
probe_wasi_sysroot() {
  printf 'int main(void){return 0;}\n' >"$scratch/probe.c"
  rm -f "$scratch/probe.wasm"
  "$CLANG" --target=wasm32-wasi --sysroot="$1" -O2 "$scratch/probe.c" -o "$scratch/probe.wasm" 2>"$scratch/probe.log" &&
    [[ "$(head -c 4 "$scratch/probe.wasm" 2>/dev/null | od -An -tx1 | tr -d ' \n')" == "0061736d" ]]
}
if [[ -n "${WASI_SYSROOT:-}" ]]; then
  wasi_sysroot_candidates=("$WASI_SYSROOT")
else
  wasi_sysroot_candidates=(/usr /opt/wasi-sdk/share/wasi-sysroot /usr/share/wasi-sysroot)
fi
sysroot=""
for candidate in "${wasi_sysroot_candidates[@]}"; do
  if [[ -d "$candidate" ]] && probe_wasi_sysroot "$candidate"; then
    sysroot="$candidate"
    break
  fi
done
if [[ -z "$sysroot" ]]; then
  cat "$scratch/probe.log" >&2 || true
  die "clang cannot build for wasm32-wasi (tried: ${wasi_sysroot_candidates[*]}); install: apt-get install lld wasi-libc libclang-rt-14-dev-wasm32 (or set WASI_SYSROOT)"
fi
