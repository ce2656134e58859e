#!/bin/sh
# runwasi node installer: puts the wasm shims on a Kubernetes node and registers them as runtime
# handlers in containerd's config. POSIX sh; run as root on the node, or from a privileged pod
# with the node's root mounted (--host-root /host).
#
#   install.sh [--config PATH] [--host-root DIR] [--runtimes "v8 wasmtime ..."]
#              [--bundle DIR | --npm] [--dry-run] [--restart]
#
# The config change is idempotent: a runtime whose table is already in the file is left alone,
# so a second run leaves the file byte-for-byte identical. Config version 2 (containerd 1.x) gets
#   [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<name>]
# and version 3 (containerd 2.x) gets
#   [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.<name>]
# each with runtime_type = "io.containerd.<name>.v1". The version comes from the file's
# top-level `version = N` line.
set -eu

prog=${0##*/}
host_root=/
config=
runtimes=v8
bundle=
use_npm=0
dry_run=0
restart=0

usage() {
  cat <<USAGE
usage: $prog [options]
  --config PATH     containerd config to edit (default: <host-root>/etc/containerd/config.toml)
  --host-root DIR   the node's root filesystem as seen here (default: /; in a pod: /host)
  --runtimes LIST   runtime handlers to register, space or comma separated (default: v8)
                    each <name> means shim containerd-shim-<name>-v1, runtime io.containerd.<name>.v1
  --bundle DIR      copy this shim tree (an npm prefix holding bin/containerd-shim-*-v1, and
                    optionally bin/node) to <host-root>/opt/runwasi and link the shims into
                    <host-root>/usr/local/bin
  --npm             instead, npm install -g --prefix <host-root>/usr/local @runwasi/shim-<name>
  --dry-run         print the change to the config (and the files it would install); change nothing
  --restart         restart containerd afterwards if the config changed (systemctl, via nsenter
                    into PID 1 when --host-root is not /)
  -h, --help        this text
Without --bundle or --npm only the config is changed.
USAGE
}

die() {
  echo "$prog: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case $1 in
    --config) [ $# -ge 2 ] || die "--config needs a path"; config=$2; shift 2 ;;
    --config=*) config=${1#*=}; shift ;;
    --host-root) [ $# -ge 2 ] || die "--host-root needs a directory"; host_root=$2; shift 2 ;;
    --host-root=*) host_root=${1#*=}; shift ;;
    --runtimes) [ $# -ge 2 ] || die "--runtimes needs a list"; runtimes=$2; shift 2 ;;
    --runtimes=*) runtimes=${1#*=}; shift ;;
    --bundle) [ $# -ge 2 ] || die "--bundle needs a directory"; bundle=$2; shift 2 ;;
    --bundle=*) bundle=${1#*=}; shift ;;
    --npm) use_npm=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    --restart) restart=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

host_root=${host_root%/}
[ -n "$config" ] || config=$host_root/etc/containerd/config.toml
runtimes=$(printf '%s' "$runtimes" | tr ',' ' ')
for name in $runtimes; do
  case $name in
    *[!a-z0-9]* | '') die "runtime name must be lower-case letters and digits: '$name'" ;;
  esac
done
[ -n "$runtimes" ] || die "no runtimes given"
[ -z "$bundle" ] || [ "$use_npm" -eq 0 ] || die "--bundle and --npm exclude each other"

# --- shim binaries ------------------------------------------------------------------------

install_bundle() {
  [ -d "$bundle/bin" ] || die "bundle $bundle has no bin/ directory"
  dest=$host_root/opt/runwasi
  if [ "$dry_run" -eq 1 ]; then
    echo "would copy $bundle to $dest"
  else
    # Copy next to it, then swap: running shims keep their (old) files, and a busy executable
    # is never overwritten in place.
    mkdir -p "$host_root/opt" "$host_root/usr/local/bin"
    rm -rf "$dest.new"
    cp -R "$bundle" "$dest.new"
    if [ -e "$dest" ]; then
      rm -rf "$dest.old"
      mv "$dest" "$dest.old"
    fi
    mv "$dest.new" "$dest"
    rm -rf "$dest.old"
    echo "copied $bundle to $dest"
  fi
  for name in $runtimes; do
    shim=containerd-shim-$name-v1
    if [ ! -e "$bundle/bin/$shim" ]; then
      echo "$prog: warning: $shim is not in the bundle; only its config is added" >&2
      continue
    fi
    wrapper=$host_root/usr/local/bin/$shim
    if [ "$dry_run" -eq 1 ]; then
      echo "would write $wrapper (runs /opt/runwasi/bin/$shim)"
      continue
    fi
    {
      echo '#!/bin/sh'
      echo "# Installed by the runwasi node installer."
      if [ -x "$bundle/bin/node" ]; then
        echo 'RUNWASI_NODE=${RUNWASI_NODE:-/opt/runwasi/bin/node}'
        echo 'export RUNWASI_NODE'
      fi
      echo "exec /opt/runwasi/bin/$shim \"\$@\""
    } >"$wrapper.tmp"
    chmod 0755 "$wrapper.tmp"
    mv -f "$wrapper.tmp" "$wrapper"
    echo "installed $wrapper"
  done
}

install_npm() {
  command -v npm >/dev/null 2>&1 || die "--npm needs npm on PATH"
  for name in $runtimes; do
    if [ "$dry_run" -eq 1 ]; then
      echo "would run: npm install -g --prefix $host_root/usr/local @runwasi/shim-$name"
    else
      npm install -g --prefix "$host_root/usr/local" "@runwasi/shim-$name"
    fi
  done
}

if [ -n "$bundle" ]; then install_bundle; fi
if [ "$use_npm" -eq 1 ]; then install_npm; fi

# --- containerd config --------------------------------------------------------------------

# The top-level `version = N` (before the first table header), or empty.
config_version() {
  awk '
    /^[ \t]*\[/ { exit }
    /^[ \t]*version[ \t]*=/ { v = $0; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]*(#.*)?$/, "", v); print v; exit }
  ' "$1"
}

# Table headers of the file with quotes unified and blanks removed, one a line.
normalized_headers() {
  sed -n 's/^[[:space:]]*\(\[[^]#]*\]\).*/\1/p' "$1" | sed -e "s/'/\"/g" -e 's/[[:space:]]//g'
}

if [ -f "$config" ] && [ -s "$config" ]; then
  version=$(config_version "$config")
  [ -n "$version" ] || die "$config has no top-level 'version = 2' or 'version = 3' line (config version 1 is not supported; run 'containerd config migrate' or add the runtimes by hand)"
  existing=1
else
  version=2
  existing=0
fi

case $version in
  2)
    section='plugins."io.containerd.grpc.v1.cri".containerd.runtimes'
    quote='"'
    ;;
  3)
    section="plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes"
    quote="'"
    ;;
  *) die "$config: unsupported config version '$version' (2 and 3 are supported)" ;;
esac

headers=
[ "$existing" -eq 0 ] || headers=$(normalized_headers "$config")

added=
for name in $runtimes; do
  header="[$section.$name]"
  normalized=$(printf '%s\n' "$header" | sed -e "s/'/\"/g" -e 's/[[:space:]]//g')
  if printf '%s\n' "$headers" | grep -qxF "$normalized"; then
    echo "runtime $name: already in $config"
    continue
  fi
  added="$added
# runwasi: the $name wasm shim (containerd-shim-$name-v1), added by the node installer
$header
  runtime_type = ${quote}io.containerd.$name.v1${quote}
"
done

if [ -z "$added" ]; then
  echo "$config: nothing to change"
  exit 0
fi

dir=$(dirname "$config")
tmp=$(mktemp "${TMPDIR:-/tmp}/runwasi-config.XXXXXX")
trap 'rm -f "$tmp"' EXIT
if [ "$existing" -eq 1 ]; then
  cat "$config" >"$tmp"
  # make sure the appended text starts on a line of its own
  [ -z "$(tail -c 1 "$config")" ] || echo >>"$tmp"
else
  echo "version = 2" >"$tmp"
fi
printf '%s' "$added" >>"$tmp"

if [ "$dry_run" -eq 1 ]; then
  echo "would change $config (config version $version):"
  if [ "$existing" -eq 0 ]; then
    echo "(new file)"
    sed 's/^/+/' "$tmp"
  elif command -v diff >/dev/null 2>&1; then
    diff -u -L "$config" -L "$config" "$config" "$tmp" || true
  else
    echo "(appended at the end)"
    printf '%s' "$added" | sed 's/^/+/'
  fi
  exit 0
fi

mkdir -p "$dir"
# Replace the file atomically, keeping its mode and owner.
new=$dir/.$(basename "$config").runwasi.$$
if [ "$existing" -eq 1 ]; then
  cp -p "$config" "$new"
  cat "$tmp" >"$new"
else
  cat "$tmp" >"$new"
  chmod 0644 "$new"
fi
mv -f "$new" "$config"
echo "updated $config (config version $version): added $(printf '%s' "$added" | grep -c '^\[') runtime(s)"

if [ "$restart" -eq 1 ]; then
  if [ "$host_root" = "" ] || [ "$host_root" = "/" ]; then
    systemctl restart containerd
  else
    nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl restart containerd
  fi
  echo "restarted containerd"
else
  echo "restart containerd to load the new runtimes (e.g. systemctl restart containerd)"
fi
