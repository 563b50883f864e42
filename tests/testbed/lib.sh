# shellcheck shell=sh disable=SC2034
# Shared helpers for the test-bed scripts (sourced, not run).
#
# Everything the test bed downloads or builds lives in one cache outside the
# git tree, so that a second run works without the network and nothing built
# is ever committed.

TESTBED_DIR=$(cd "$(dirname "$0")" && pwd)
VFIO_DIRECT_CACHE=${VFIO_DIRECT_CACHE:-${HOME:-/root}/.cache/vfio-direct}
DEBIAN_MIRROR=${VFIO_DIRECT_MIRROR:-http://deb.debian.org/debian}
DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

PROG=$(basename "$0")

die() {
    echo "$PROG: $*" >&2
    exit 1
}

note() {
    echo "$PROG: $*" >&2
}

# Seconds since the epoch with milliseconds, for timings.
now() {
    date +%s.%3N
}

# Map a test-bed arch (amd64, ppc64el-64k) to the Debian architecture.
deb_arch() {
    case $1 in
    amd64) echo amd64 ;;
    ppc64el*) echo ppc64el ;;
    *) die "unknown arch '$1' (want amd64 or ppc64el-64k)" ;;
    esac
}

# run_child CMD...: run CMD in the background and wait for it, so that an
# INT or TERM sent to us reaches it too (as TERM: background commands ignore
# INT); a foreground child would outlive us and keep its L1 running.
child=
run_child() {
    trap 'stop_child 130' INT
    trap 'stop_child 143' TERM
    "$@" &
    child=$!
    wait "$child" && child_rc=0 || child_rc=$?
    child=
    return "$child_rc"
}

stop_child() {
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    exit "$1"
}
