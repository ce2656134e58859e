#!/usr/bin/env bash
# Installs what building and testing needs on a Debian/Ubuntu machine, as root, skipping what is
# already there: Debian packages, pnpm, the workspace's npm packages. Idempotent; prints only what
# it changes.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=$(node -p 'require("./package.json").packageManager.split("@")[1]')

# command-or-file -> Debian package
declare -A NEEDED=(
  [containerd]=containerd
  [runc]=runc
  [gcc]=gcc
  [clang]=clang
  [wasm-ld]=lld
  [wat2wasm]=wabt
  [protoc]=protobuf-compiler
  [skopeo]=skopeo
  [umoci]=umoci
  [unshare]=util-linux
  [mkfifo]=coreutils
  [/bin/busybox]=busybox-static
  [wrk]=wrk
  [/usr/include/wasm32-wasi/stdio.h]=wasi-libc
  [/usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a]=libclang-rt-14-dev-wasm32
)
missing=()
for what in "${!NEEDED[@]}"; do
  if [[ $what == /* ]]; then [[ -e $what ]] && continue; else command -v "$what" >/dev/null && continue; fi
  missing+=("${NEEDED[$what]}")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The test suites run their own containerd; a packaged one started by the install is left alone.
if ! command -v pnpm >/dev/null || [[ $(pnpm --version) != "$PNPM_VERSION" ]]; then
  echo "setup: installing pnpm $PNPM_VERSION"
  npm install -g --silent "pnpm@$PNPM_VERSION" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo (Rust >= 1.95) is needed to build the native addons; install Rust with rustup" >&2
  exit 1
fi

pnpm install --frozen-lockfile --reporter=silent

# libwasmedge for the wasmedge shim's tests: Debian 13 packages it (libwasmedge0); on Debian 12
# the trixie packages are unpacked into a private directory (no change to the system's apt state)
# and the shim's container processes run under that tree's loader.
if ! [ -e /usr/lib/x86_64-linux-gnu/libwasmedge.so.0 ]; then bash scripts/fetch-wasmedge.sh >/dev/null; fi
