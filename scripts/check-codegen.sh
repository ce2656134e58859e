#!/usr/bin/env bash
# Fails when committed generated protobuf code (packages/*/src/gen) is not what the protos produce.
#
# Regenerates every package that has a proto/ folder, then asks git whether anything under
# packages/*/src/gen changed or appeared. Run it in CI after `pnpm install`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

shopt -s nullglob
generated_any=false
for proto_dir in packages/*/proto; do
  bash scripts/codegen-proto.sh "$(dirname "$proto_dir")"
  generated_any=true
done
if [ "$generated_any" = false ]; then
  echo "check-codegen: no package has a proto/ folder; nothing to check"
  exit 0
fi

status=0
if ! git diff --exit-code --stat -- ':(glob)packages/*/src/gen/**'; then
  status=1
fi
untracked="$(git ls-files --others --exclude-standard -- ':(glob)packages/*/src/gen/**')"
if [ -n "$untracked" ]; then
  echo "check-codegen: generated files not committed:" >&2
  echo "$untracked" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "check-codegen: generated code is stale: run 'pnpm codegen' and commit packages/*/src/gen" >&2
fi
exit "$status"
