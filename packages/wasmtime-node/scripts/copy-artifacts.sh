#!/usr/bin/env bash
# Copies the addons and container processes built in native/ into their platform packages (npm/<triple>/) before those
# are packed and published: the main package ships only the loader and typings.
set -euo pipefail
pkg_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
copied=0
for addon in "$pkg_dir"/native/wasmtime-node.*.node; do
  [[ -e "$addon" ]] || continue
  triple="$(basename "$addon" .node)"
  triple="${triple#wasmtime-node.}"
  target="$pkg_dir/npm/$triple"
  [[ -d "$target" ]] || { echo "copy-artifacts: no platform package npm/$triple for $(basename "$addon")" >&2; exit 1; }
  cp "$addon" "$target/"
  executor="$pkg_dir/native/runwasi-wasmtime-executor.$triple"
  [[ -x "$executor" ]] || { echo "copy-artifacts: no container process $(basename "$executor") beside the addon; run build:native" >&2; exit 1; }
  cp "$executor" "$target/"
  copied=$((copied + 1))
done
[[ $copied -gt 0 ]] || { echo "copy-artifacts: no addon in native/; run build:native first" >&2; exit 1; }
echo "copy-artifacts: copied $copied addon(s) into npm/"
