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
# guest is done, and its exit status is ours (124: timeout, 125: no result,
# 123: test-bed fault).
#
# A test-bed fault (the L1 kernel oopsed or panicked: see run-l1.sh) is not
# CMD's: the L1 run is then retried once, in a fresh results directory, with
# a line "run-in-l1.sh: test-bed fault in MACHINE L1 (KIND), retry 1 of 1" on
# stderr; 123 only when the retry faults too.  CMD's own failure is never
# retried.  VFIO_DIRECT_L1_RETRIES=N changes the number of retries (0: none);
# with VFIO_DIRECT_RETRY_LOG=FILE each retry also adds its line to FILE.
# Test knob, off by default: VFIO_DIRECT_TEST_L1_PANIC=1 makes the first L1
# panic on purpose (sysrq c) before CMD, to exercise the retry.
#
# Options: -e NAME[=VALUE]  pass an environment variable (repeatable);
#          --out DIR        keep the results directory (the last attempt's);
#          --verbose        show the guest console and run-l1.sh's messages
#                           (hidden unless the guest gives no result or
#                           faults);
#          --timeout, --append, --share, --nested-kvm: as for run-l1.sh.
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
    --nested-kvm) l1args+=("$1") ;;
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
[ -z "$outdir" ] || mkdir -p "$outdir"

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
} >"$tmp/cmd.sh"

# One L1 run in the fresh results directory $1 (l1_retry makes it).
# run-l1.sh's own messages go to a log, shown with --verbose or when the
# guest gave no result or faulted, so that stderr carries CMD's alone.
# shellcheck disable=SC2317  # called by l1_retry
attempt() {
    local dir=$1 log=$tmp/run-l1.log rc=0
    if [ "${VFIO_DIRECT_TEST_L1_PANIC:-}" = 1 ] && [ "$L1_TRY" = 0 ]; then
        echo "echo c >/proc/sysrq-trigger  # VFIO_DIRECT_TEST_L1_PANIC" >"$dir/cmd.sh"
    fi
    cat "$tmp/cmd.sh" >>"$dir/cmd.sh" || return 1
    [ -n "$quiet" ] || log=/dev/stderr
    [ -z "$quiet" ] || : >"$log"
    run_child "$TESTBED_DIR/run-l1.sh" ${quiet:+"$quiet"} ${l1args[@]+"${l1args[@]}"} \
        --out "$dir" --run /out/cmd.sh "$machine" 2>>"$log" || rc=$?
    if [ "$rc" -ge "$L1_FAULT_RC" ] && [ "$rc" -le 125 ] && [ -n "$quiet" ]; then
        cat "$log" >&2
    fi
    return "$rc"
}

rc=0
l1_retry "$machine" "$tmp/out" attempt || rc=$?
[ -z "$outdir" ] || cp -a "$tmp/out/." "$outdir/"
[ ! -e "$tmp/out/stdout" ] || cat "$tmp/out/stdout"
[ ! -e "$tmp/out/stderr" ] || cat "$tmp/out/stderr" >&2
exit "$rc"
