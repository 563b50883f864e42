#!/bin/bash
# run-in-l1.sh - run one command inside a test-bed L1 guest, as if on the host.
#
#   run-in-l1.sh [options] MACHINE -- CMD [ARG...]
#
# Boots MACHINE (x86, pseries-a, pseries-b) with run-l1.sh, devices bound to
# vfio-pci, and runs CMD there: on x86 inside a chroot whose /usr and /etc are
# the host's (read-only 9p) with this repository at its host path, so host
# binaries such as a build's qemu-system-x86_64 and qtests run unchanged; on
# pseries in the busybox initramfs (the repository is at its host path too).
# CMD starts in the current directory when that is visible in the guest
# (else /tmp), with VFIO_DIRECT_DEVICES="NAME=BDF ..." naming the bound devices
# and VFIO_DIRECT_OUT a writable directory whose files come back to the host
# only with --out.  CMD's stdout and stderr are replayed on the host once the
# guest is done, and its exit status is ours (124: timeout, 125: no result).
#
# Options: -e NAME[=VALUE]  pass an environment variable (repeatable);
#          --out DIR        keep the results directory;
#          --verbose        show the guest console and run-l1.sh's messages
#                           (hidden unless the guest gives no result);
#          --timeout, --append, --share: as for run-l1.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
    sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

quiet=--quiet l1args=() envs=() outdir=
while [ $# -gt 0 ]; do
    case $1 in
    -e) envs+=("${2?}"); shift ;;
    --out) outdir=${2?}; shift ;;
    --timeout|--append|--share) l1args+=("$1" "${2?}"); shift ;;
    --verbose) quiet= ;;
    --) die "missing MACHINE before --" ;;
    -h|--help) usage ;;
    -*) die "unknown option $1" ;;
    *) break ;;
    esac
    shift
done
[ $# -ge 3 ] && [ "$2" = -- ] || usage
machine=$1
shift 2

# POSIX sh single-quoting.
quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vfio-direct-run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
[ -n "$outdir" ] || outdir=$tmp/out
mkdir -p "$outdir"

case $machine in
x86) l1args+=(--chroot) ;;
pseries-a|pseries-b) ;;
*) usage ;;
esac

{
    echo "cd $(quote "$PWD") 2>/dev/null || cd /tmp"
    echo "export VFIO_DIRECT_OUT=/out"
    for e in ${envs[@]+"${envs[@]}"}; do
        case $e in
        *=*) echo "export ${e%%=*}=$(quote "${e#*=}")" ;;
        *) [ -z "${!e+x}" ] || echo "export $e=$(quote "${!e}")" ;;
        esac
    done
    printf 'exec'
    for a in "$@"; do
        printf ' %s' "$(quote "$a")"
    done
    echo
} >"$outdir/cmd.sh"

# run-l1.sh's own messages go to a log, shown with --verbose or when the
# guest gave no result, so that stderr carries CMD's alone.
log=$tmp/run-l1.log
[ -n "$quiet" ] || log=/dev/stderr
rc=0
run_child "$TESTBED_DIR/run-l1.sh" $quiet ${l1args[@]+"${l1args[@]}"} \
    --out "$outdir" --run /out/cmd.sh "$machine" 2>>"$log" || rc=$?
if [ "$rc" -ge 124 ] && [ "$rc" -le 125 ] && [ -n "$quiet" ]; then
    cat "$log" >&2
fi
[ ! -e "$outdir/stdout" ] || cat "$outdir/stdout"
[ ! -e "$outdir/stderr" ] || cat "$outdir/stderr" >&2
exit "$rc"
