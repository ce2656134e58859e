#!/usr/bin/env bash
# Builds the napi-rs crate in <dir> (relative to the calling package) into <dir>/<name>.linux-x64-gnu.node,
# and each further crate dir's binary beside it as <dir>/<bin>.linux-x64-gnu. All crates build in
# one cargo invocation, so dependencies they share (wasmtime) are compiled once, with one set of features.
# Cargo's target dir lives outside the clone so repeated clean-clone builds (CI) reuse compiled crates.
set -euo pipefail
dir=${1:?usage: build-native.sh <crate dir> [<binary crate dir>...]}
shift
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/runwasi-ts/cargo-target}
command -v cargo >/dev/null || { echo "build-native: cargo not found; install Rust (rustup) first" >&2; exit 1; }
crate_name() { sed -n 's/^name = "\(.*\)"/\1/p' "$1/Cargo.toml" | head -n1; }
name=$(crate_name "$dir")
packages=(-p "$name")
for bin_dir in "$@"; do packages+=(-p "$(crate_name "$bin_dir")"); done
cargo build --release --locked --manifest-path "$dir/Cargo.toml" "${packages[@]}" --quiet
triple=$(node -p '`${process.platform}-${process.arch}-gnu`')
cp "$CARGO_TARGET_DIR/release/lib${name//-/_}.so" "$dir/$name.$triple.node.tmp"
mv "$dir/$name.$triple.node.tmp" "$dir/$name.$triple.node"
for bin_dir in "$@"; do
  bin=$(crate_name "$bin_dir")
  cp "$CARGO_TARGET_DIR/release/$bin" "$dir/$bin.$triple.tmp"
  mv "$dir/$bin.$triple.tmp" "$dir/$bin.$triple"
done
