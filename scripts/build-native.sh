#!/usr/bin/env bash
# Builds the napi-rs crate in <dir> (relative to the calling package) into <dir>/<name>.linux-x64-gnu.node.
# Cargo's target dir lives outside the clone so repeated clean-clone builds (CI) reuse compiled crates.
set -euo pipefail
dir=${1:?usage: build-native.sh <crate dir>}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/runwasi-ts/cargo-target}
command -v cargo >/dev/null || { echo "build-native: cargo not found; install Rust (rustup) first" >&2; exit 1; }
name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$dir/Cargo.toml" | head -n1)
cargo build --release --locked --manifest-path "$dir/Cargo.toml" --quiet
triple=$(node -p '`${process.platform}-${process.arch}-gnu`')
cp "$CARGO_TARGET_DIR/release/lib${name//-/_}.so" "$dir/$name.$triple.node.tmp"
mv "$dir/$name.$triple.node.tmp" "$dir/$name.$triple.node"
