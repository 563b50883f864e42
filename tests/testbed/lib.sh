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

# build_dir REPO DIR BINARY HINT: DIR (relative to REPO when relative) as
# an absolute path, when it holds BINARY and lies inside REPO (an L1 sees
# only the repository); else an error naming HINT, how to build it.
build_dir() {
    local dir=$2
    case $dir in /*) ;; *) dir=$1/$dir ;; esac
    [ -x "$dir/$3" ] || die "no $dir/$3 ($4)"
    dir=$(cd "$dir" && pwd)
    case $dir/ in "$1"/*) ;; *) die "$dir is outside $1: the L1 cannot see it" ;; esac
    echo "$dir"
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

# Test-bed faults: the L1 kernel itself oopsed or panicked.  It is stock
# Debian and runs under the L0's TCG, so such a crash is the test bed's (a
# cross-modifying-code race of multi-threaded TCG was seen), and whatever
# the guest reported with it cannot be trusted.  run-l1.sh exits with
# L1_FAULT_RC then and names the fault in OUT/testbed-fault; l1_retry runs
# such an L1 once more.  123, as 124 (timeout), 125 (no result), 126 and 127
# (the L1's sh could not run CMD) and 128+N (a signal) mean other things.
L1_FAULT_RC=123

# The kernel's own markers, only after a printk timestamp (run-l1.sh boots
# with printk.time=1), anywhere in the line as the console interleaves user
# output, and not in the command's output that init.sh replays on the
# console (between VFIO-DIRECT-BEGIN and VFIO-DIRECT-END, and the stderr
# block), which may quote kernel lines.
#   Oops:                       die() on x86 ("Oops: invalid opcode: 0000 [#1]",
#                               "Oops: int3: ...", "Oops: general protection
#                               fault, ...") and powerpc ("Oops: Kernel access
#                               of bad area, sig: 11 [#1]")
#   Kernel panic - not syncing  panic()
#   kernel BUG at, BUG: ... NULL pointer dereference, BUG: unable to handle
#                               the lines a BUG() or a kernel page fault prints
#                               before its Oops line
# Not faults: a user process's crash ("traps: qemu[12] trap invalid opcode",
# "segfault at"), which is a test failure, and the warnings a slow L0 causes
# without ending the run (WARNING:, "BUG: soft lockup", RCU stalls).
L1_FAULT_RE='\[ *[0-9]+\.[0-9]+\] (Oops: |Kernel panic - not syncing|kernel BUG at |BUG: ([Kk]ernel NULL pointer dereference|[Uu]nable to handle))'

# l1_console LOG: the L1 console LOG without CRs and without the replayed
# command output.
l1_console() {
    awk '{ sub(/\r$/, "") }
        $0 == "VFIO-DIRECT-BEGIN" || $0 == "VFIO-DIRECT-STDERR-BEGIN" { out = 1; next }
        /^VFIO-DIRECT-END rc=/ || $0 == "VFIO-DIRECT-STDERR-END" { out = 0; next }
        !out' "$1"
}

# l1_fault LOG: print the kind of test-bed fault in the L1 console LOG
# ("kernel panic" or "kernel oops", after the first marker) and succeed, or
# fail when there is none.
l1_fault() {
    _l1_line=$(l1_console "$1" | grep -m 1 -aE "$L1_FAULT_RE") || return 1
    case $_l1_line in
    *"Kernel panic - not syncing"*) echo "kernel panic" ;;
    *) echo "kernel oops" ;;
    esac
}

# l0_fault QEMU-STATUS: the L0 QEMU (the host's, running the L1 under TCG)
# killed by a signal other than the timeout's KILL is a test-bed fault:
# nothing an L1 guest does may crash it.  Prints the fault, or returns 1.
l0_fault() {
    [ "$1" -gt 128 ] && [ "$1" != 137 ] || return 1
    echo "the L0 QEMU died of signal $(($1 - 128))"
}

# l1_fault_lines LOG [N]: the first N (default 8) console lines of the fault,
# from its first marker line on.
l1_fault_lines() {
    _l1_at=$(l1_console "$1" | grep -n -m 1 -aE "$L1_FAULT_RE" | cut -d: -f1)
    [ -n "$_l1_at" ] || return 0
    l1_console "$1" | tail -n "+$_l1_at" | head -n "${2:-8}"
}

# l1_verdict MACHINE LOG OUT RC: the status of an L1 run of MACHINE whose
# guest gave RC (the command's, 124 or 125), judged on its console LOG:
# L1_FAULT_RC on an oops or a panic, whatever RC was, which is then said on
# stderr with the fault's first lines and named in OUT/testbed-fault; RC
# otherwise (and OUT/testbed-fault is removed).
l1_verdict() {
    if _l1_kind=$(l1_fault "$2"); then
        note "test-bed fault in the $1 L1: $_l1_kind (the L1 kernel crashed; not a test failure; guest status $4):"
        l1_fault_lines "$2" | sed "s/^/$PROG: | /" >&2
        echo "$_l1_kind" >"$3/testbed-fault"
        echo "$L1_FAULT_RC"
    else
        rm -f "$3/testbed-fault"
        echo "$4"
    fi
}

# l1_retry MACHINE DIR CMD...: run CMD... DIR, which boots MACHINE with
# run-l1.sh --out DIR, in a fresh empty DIR.  When it ends in a test-bed fault
# (L1_FAULT_RC and DIR/testbed-fault) run it again in a fresh DIR, up to
# VFIO_DIRECT_L1_RETRIES times (default 1); any other status is final, so a
# test that failed is never retried.  L1_TRY is the attempt (0 first).  Each
# retry is a line on stderr and, when VFIO_DIRECT_RETRY_LOG names a file,
# a line there for a summary to count.  Returns CMD's last status.
l1_retry() {
    _l1_machine=$1 _l1_dir=$2
    shift 2
    _l1_max=${VFIO_DIRECT_L1_RETRIES:-1}
    L1_TRY=0
    while :; do
        rm -rf "${_l1_dir:?}"
        mkdir -p "$_l1_dir"
        _l1_rc=0
        "$@" "$_l1_dir" || _l1_rc=$?
        if [ "$_l1_rc" != "$L1_FAULT_RC" ] || [ ! -s "$_l1_dir/testbed-fault" ]; then
            return "$_l1_rc"
        fi
        _l1_kind=$(cat "$_l1_dir/testbed-fault")
        if [ "$L1_TRY" -ge "$_l1_max" ]; then
            note "test-bed fault in $_l1_machine L1 ($_l1_kind) after $L1_TRY of $_l1_max retries: giving up"
            return "$_l1_rc"
        fi
        L1_TRY=$((L1_TRY + 1))
        _l1_msg="test-bed fault in $_l1_machine L1 ($_l1_kind), retry $L1_TRY of $_l1_max"
        note "$_l1_msg"
        if [ -n "${VFIO_DIRECT_RETRY_LOG:-}" ]; then
            echo "$PROG: $_l1_msg" >>"$VFIO_DIRECT_RETRY_LOG"
        fi
    done
}
