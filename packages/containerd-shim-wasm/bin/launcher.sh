# Shell launcher of the runwasi shim binaries, sourced by each engine's bin with RUNWASI_ENGINE
# (the engine name) and RUNWASI_MAIN (its compiled entry) set.
#
# containerd runs the shim binary at least twice per container (`start`, and `delete` after the
# task is deleted), on its critical path. A Node start-up costs ~100 ms, so the two common cases
# are answered here without Node:
#   start  - the shared daemon of this namespace and engine is up: print its address;
#   delete - the daemon already cleaned the container up (no init.pid, rootfs not mounted): print
#            nothing, which containerd accepts as "nothing left to clean".
# Everything else (the first start, a crashed daemon, -v, -info, the daemon and container
# processes themselves) runs in Node. Keep this file POSIX sh and free of slow programs.

runwasi_action=
runwasi_id=
runwasi_namespace=${NAMESPACE:-}
runwasi_address=/run/containerd/containerd.sock
runwasi_bundle=
runwasi_expect=
for runwasi_arg in "$@"; do
  if [ -n "$runwasi_expect" ]; then
    eval "runwasi_$runwasi_expect=\$runwasi_arg"
    runwasi_expect=
    continue
  fi
  case "$runwasi_arg" in
    -id|--id) runwasi_expect=id ;;
    -namespace|--namespace) runwasi_expect=namespace ;;
    -address|--address) runwasi_expect=address ;;
    -bundle|--bundle) runwasi_expect=bundle ;;
    -publish-binary|--publish-binary|-socket|--socket|-debug-socket|--debug-socket) runwasi_expect=ignored ;;
    -id=*|--id=*) runwasi_id=${runwasi_arg#*=} ;;
    -namespace=*|--namespace=*) runwasi_namespace=${runwasi_arg#*=} ;;
    -address=*|--address=*) runwasi_address=${runwasi_arg#*=} ;;
    -bundle=*|--bundle=*) runwasi_bundle=${runwasi_arg#*=} ;;
    -*) ;;
    *) [ -z "$runwasi_action" ] && runwasi_action=$runwasi_arg ;;
  esac
done

if [ "$runwasi_action" = start ] && [ "${RUNWASI_GROUPING:-namespace}" = namespace ] \
  && [ -n "$runwasi_namespace" ] && [ -n "$runwasi_id" ] && [ -c /dev/stdin ]; then
  # stdin is /dev/null: no runtime options and no containerd 2.3 bootstrap parameters to read.
  # Nothing may reach stdout or stderr but the address: containerd reads both as the answer.
  runwasi_pid=
  runwasi_title=
  runwasi_noted=
  runwasi_socket=
  # The daemon's note by engine and namespace: its containerd address, socket and pid, found
  # without hashing (sha256sum is a process start on containerd's critical path).
  { { read -r runwasi_noted; read -r runwasi_socket; read -r runwasi_pid; } \
    < "/run/containerd/runwasi/daemons/$RUNWASI_ENGINE@$runwasi_namespace"; } 2>/dev/null
  if [ "$runwasi_noted" != "$runwasi_address" ]; then
    # None, or one of another containerd with a namespace of the same name: the socket's name.
    runwasi_hash=$(printf '%s' "$runwasi_address/$runwasi_namespace/runwasi-$RUNWASI_ENGINE" | sha256sum)
    runwasi_hash=${runwasi_hash%% *}
    runwasi_socket=/run/containerd/s/$runwasi_hash
    runwasi_pid=
    # The pid file names a live daemon of this engine and namespace (a recycled pid would not
    # carry its title). `read` fails at an end of file without newline yet still sets the variable.
    [ -S "$runwasi_socket" ] && { read -r runwasi_pid < "/run/containerd/runwasi/daemons/$runwasi_hash"; } 2>/dev/null
  fi
  [ -S "$runwasi_socket" ] || runwasi_pid=
  [ -n "$runwasi_pid" ] && { read -r runwasi_title < "/proc/$runwasi_pid/cmdline"; } 2>/dev/null
  if [ -n "$runwasi_title" ]; then
    case "$runwasi_title" in
      "containerd-shim-$RUNWASI_ENGINE-v1 -namespace $runwasi_namespace -address $runwasi_address"*)
        # A bundle that cannot take the address file (full, read-only) falls through to Node,
        # which fails `start` with a message instead of answering with the write error.
        if { printf 'unix://%s' "$runwasi_socket" > address; } 2>/dev/null; then
          printf 'unix://%s' "$runwasi_socket"
          exit 0
        fi
        ;;
    esac
  fi
fi

if [ "$runwasi_action" = delete ]; then
  runwasi_bundle=${runwasi_bundle:-$PWD}
  if [ ! -e "$runwasi_bundle/init.pid" ] && ! grep -qsF " $runwasi_bundle/rootfs " /proc/self/mountinfo; then
    exit 0
  fi
fi

exec "${RUNWASI_NODE:-node}" "$RUNWASI_MAIN" "$@"
