#!/usr/bin/env bash
# Regenerates a package's protobuf TypeScript (src/gen/) from its proto/ folder with ts-proto.
#
# Usage: scripts/codegen-proto.sh <packageDir>
# The output is committed and never edited by hand; scripts/check-codegen.sh verifies it is current.
# The options are pinned here, not in each package, so every package's generated code has one shape.
set -euo pipefail

if [ "$#" -ne 1 ]; then
  echo "usage: $0 <packageDir>" >&2
  exit 2
fi
package_dir="$(cd "$1" && pwd)"
proto_dir="$package_dir/proto"
out_dir="$package_dir/src/gen"
plugin="$package_dir/node_modules/.bin/protoc-gen-ts_proto"

if ! command -v protoc >/dev/null 2>&1; then
  echo "codegen-proto: protoc not found: install protobuf-compiler (e.g. apt-get install protobuf-compiler)" >&2
  exit 1
fi
if [ ! -x "$plugin" ]; then
  echo "codegen-proto: $plugin is missing: run pnpm install" >&2
  exit 1
fi
if [ ! -d "$proto_dir" ]; then
  echo "codegen-proto: no proto/ folder in $package_dir" >&2
  exit 1
fi

# Well-known types (any, empty, timestamp) ship with protoc; Debian puts them in /usr/include,
# a release zip puts them in include/ beside bin/.
wkt_include=""
for candidate in /usr/include /usr/local/include "$(dirname "$(command -v protoc)")/../include"; do
  if [ -f "$candidate/google/protobuf/any.proto" ]; then
    wkt_include="$candidate"
    break
  fi
done
if [ -z "$wkt_include" ]; then
  echo "codegen-proto: google/protobuf/any.proto not found next to protoc: install protobuf-compiler" >&2
  exit 1
fi

# - forceLong=number with long configured: int64 timestamps (Go's zero time is -62135596800) need
#   64-bit varints; numbers are exact up to 2^53, which covers every int64 the shim exchanges.
# - annotateFilesWithVersion=false: the protoc version differs between machines and would make
#   check-codegen fail for no reason.
# - useExactTypes=false: the Exact<> helper in create/fromPartial adds nothing to plain object
#   literals and slows the type checker.
options=(
  esModuleInterop=true
  forceLong=number
  useDate=false
  outputServices=false
  env=node
  importSuffix=.js
  outputJsonMethods=false
  oneof=unions
  useOptionals=none
  annotateFilesWithVersion=false
  useExactTypes=false
)
joined_options="$(IFS=,; echo "${options[*]}")"

# Sorted so the generator sees the same input order on every machine.
mapfile -t proto_files < <(cd "$proto_dir" && find . -name '*.proto' -type f | sed 's|^\./||' | LC_ALL=C sort)
if [ "${#proto_files[@]}" -eq 0 ]; then
  echo "codegen-proto: no .proto files under $proto_dir" >&2
  exit 1
fi

rm -rf "$out_dir"
mkdir -p "$out_dir"
protoc \
  --plugin="protoc-gen-ts_proto=$plugin" \
  --proto_path="$proto_dir" \
  --proto_path="$wkt_include" \
  --ts_proto_out="$out_dir" \
  --ts_proto_opt="$joined_options" \
  "${proto_files[@]}"

echo "codegen-proto: generated $(find "$out_dir" -name '*.ts' | wc -l) files in ${out_dir#"$PWD"/}"
