#!/usr/bin/env bash
# API reference of the public packages (typedoc.json lists them) into docs/api. Fails on any
# TypeDoc warning: a broken {@link}, an exported function whose signature uses a type the package
# does not export, a malformed tag. Extra arguments go to typedoc.
set -euo pipefail
cd "$(dirname "$0")/.."
# The packages see each other through their compiled declarations (dist/*.d.ts); tsc -b brings
# them up to date and does nothing when they are.
pnpm exec tsc -b
pnpm exec typedoc --treatWarningsAsErrors "$@"
