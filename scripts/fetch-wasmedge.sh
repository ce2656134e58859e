#!/bin/sh
# fetch-wasmedge.sh [DIR]: unpacks WasmEdge 0.14.1 and the libraries it needs from Debian 13
# (trixie) into DIR (default ~/.cache/runwasi-ts/wasmedge-trixie), for @runwasi/shim-wasmedge's
# tests on Debian 12 (bookworm) machines.
#
# This is a TEST-ENVIRONMENT DETAIL, not how users install WasmEdge: bookworm has no WasmEdge
# package and trixie's needs glibc >= 2.38, so the .debs are downloaded with a PRIVATE apt
# configuration (own sources file, lists and cache under DIR's parent; the system's apt state is
# not read or changed beyond the keyring) and unpacked with `dpkg-deb -x`; WasmEdge then runs under
# trixie's own loader:
#   DIR/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path DIR/usr/lib/x86_64-linux-gnu \
#     DIR/usr/bin/wasmedge ...
# The tree also gets DIR/with-trixie-libs, a wrapper that runs any program (Node, for the shim's
# container processes, which load libwasmedge in-process) the same way:
#   DIR/with-trixie-libs /usr/bin/node ...
# The wasmedge shim's bin and its tests find the tree at DIR's default place, or through
# RUNWASI_WASMEDGE_DIR=DIR. On Debian 13 / Ubuntu 24.04+ users simply `apt-get install
# libwasmedge0` and need none of this.
#
# Idempotent: does nothing when DIR already runs `wasmedge --version`. Safe to run concurrently
# (a lock file serializes runs; the tree is unpacked next to DIR and renamed into place).
# Environment: WASMEDGE_DEBIAN_MIRROR overrides the mirror (default: the first Debian mirror of
# the system's apt sources, else http://deb.debian.org/debian).
set -eu

DIR=${1:-${HOME:-/root}/.cache/runwasi-ts/wasmedge-trixie}
ARCH_TRIPLET=x86_64-linux-gnu
PACKAGES="wasmedge libwasmedge0 libc6 libstdc++6 libgcc-s1 libllvm19 libedit2 libffi8 libxml2 libz3-4 libzstd1 zlib1g libfmt10 libspdlog1.15 liblzma5 libbsd0 libmd0 libtinfo6"

runs() {
  [ -x "$1/usr/bin/wasmedge" ] &&
    "$1/usr/lib/$ARCH_TRIPLET/ld-linux-x86-64.so.2" --library-path "$1/usr/lib/$ARCH_TRIPLET" \
      "$1/usr/bin/wasmedge" --version >/dev/null 2>&1
}
works() { [ -x "$1/with-trixie-libs" ] && runs "$1"; }

# Writes DIR/with-trixie-libs for the tree at $1 (renamed to DIR afterwards).
write_wrapper() {
  lib="$DIR/usr/lib/$ARCH_TRIPLET"
  cat >"$1/with-trixie-libs.$$" <<WRAPPER
#!/bin/sh
# Runs a program under the Debian 13 loader and libraries of this tree (see fetch-wasmedge.sh).
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "\$@"
WRAPPER
  chmod 755 "$1/with-trixie-libs.$$"
  mv "$1/with-trixie-libs.$$" "$1/with-trixie-libs"
}

# A tree from before the wrapper existed only needs the wrapper.
if ! works "$DIR" && runs "$DIR"; then write_wrapper "$DIR"; fi

if works "$DIR"; then
  echo "fetch-wasmedge: $DIR already has a working wasmedge" >&2
  exit 0
fi

for tool in apt-get dpkg-deb flock; do
  command -v "$tool" >/dev/null 2>&1 || { echo "fetch-wasmedge: $tool is required" >&2; exit 1; }
done

PARENT=$(dirname "$DIR")
mkdir -p "$PARENT"
STATE="$PARENT/.wasmedge-trixie-apt"
mkdir -p "$STATE"
exec 9>"$STATE/lock"
flock 9
# Another run may have finished while this one waited for the lock.
if works "$DIR"; then
  echo "fetch-wasmedge: $DIR already has a working wasmedge" >&2
  exit 0
fi

# The Debian mirror the system's apt uses (deb822 .sources or one-line .list), without -security.
mirror=${WASMEDGE_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' | grep -v -e security -e '^#' | grep -i debian | head -n 1 || true)
fi
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }' |
    grep -v security | grep -i debian | head -n 1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

rm -rf "$STATE/etc" "$STATE/lists" "$STATE/cache" "$STATE/debs"
mkdir -p "$STATE/etc/sources.list.d" "$STATE/etc/preferences.d" "$STATE/lists/partial" \
  "$STATE/cache/archives/partial" "$STATE/debs"
if [ -f "$keyring" ]; then
  echo "deb [signed-by=$keyring] $mirror trixie main" >"$STATE/etc/sources.list"
else
  echo "deb $mirror trixie main" >"$STATE/etc/sources.list"
fi

set -- -q \
  -o "Dir::Etc::sourcelist=$STATE/etc/sources.list" \
  -o "Dir::Etc::sourceparts=$STATE/etc/sources.list.d" \
  -o "Dir::Etc::preferencesparts=$STATE/etc/preferences.d" \
  -o "Dir::Etc::preferences=$STATE/etc/preferences" \
  -o "Dir::State::Lists=$STATE/lists" \
  -o "Dir::Cache=$STATE/cache" \
  -o "APT::Get::List-Cleanup=false" \
  -o "APT::Sandbox::User=root"

echo "fetch-wasmedge: trixie packages from $mirror into $DIR" >&2
apt-get "$@" --error-on=any update >&2
(cd "$STATE/debs" && apt-get "$@" download $PACKAGES >&2)

TMP="$DIR.tmp.$$"
rm -rf "$TMP"
mkdir -p "$TMP"
for deb in "$STATE/debs"/*.deb; do
  dpkg-deb -x "$deb" "$TMP"
done
write_wrapper "$TMP"
if ! runs "$TMP"; then
  echo "fetch-wasmedge: the unpacked wasmedge does not run:" >&2
  "$TMP/usr/lib/$ARCH_TRIPLET/ld-linux-x86-64.so.2" --library-path "$TMP/usr/lib/$ARCH_TRIPLET" \
    "$TMP/usr/bin/wasmedge" --version >&2 || true
  rm -rf "$TMP"
  exit 1
fi
rm -rf "$DIR"
mv "$TMP" "$DIR"
rm -rf "$STATE/lists" "$STATE/cache" "$STATE/debs"
"$DIR/usr/lib/$ARCH_TRIPLET/ld-linux-x86-64.so.2" --library-path "$DIR/usr/lib/$ARCH_TRIPLET" \
  "$DIR/usr/bin/wasmedge" --version >&2
