#!/usr/bin/env bash
# `npm test`: installs what is missing, builds everything from source, then runs every suite:
# generated-code check, lint, typecheck, unit and conformance tests, end-to-end tests under a
# private containerd. Ends with one summary line of all jest runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-linux.sh

summary_dir=$(mktemp -d)
trap 'rm -rf "$summary_dir"' EXIT
export RUNWASI_TEST_SUMMARY_DIR=$summary_dir
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false

pnpm nx run-many -t build --output-style=stream
bash scripts/check-codegen.sh
pnpm nx run-many -t lint typecheck --output-style=stream
status=0
bash scripts/build-api-docs.sh || status=$?
pnpm nx run-many -t test --skip-nx-cache --exclude-task-dependencies --output-style=stream || status=$?
pnpm nx run-many -t test:e2e --skip-nx-cache --exclude-task-dependencies --parallel=1 --output-style=stream || status=$?
node scripts/test-summary.js "$summary_dir" || status=$?
exit $status
