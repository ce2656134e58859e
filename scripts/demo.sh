#!/usr/bin/env bash
# `npm run demo`: installs what is missing, builds, then runs the demo app through a private
# containerd with the V8 shim and prints its output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-linux.sh
NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false pnpm nx run-many -t build --output-style=static >/dev/null
node scripts/demo.js "$@"
