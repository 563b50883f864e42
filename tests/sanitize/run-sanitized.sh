#!/bin/sh
# run-sanitized.sh - inside an x86 test-bed L1: qtests against the ASan +
# UBSan build of qemu-system-x86_64, every sanitizer report a failure.
#
#   run-sanitized.sh QEMU-BINARY QTEST-DIR TEST...
#
# TEST is as for tests/testbed/run-qtests.sh (TEST,ARG,... passes ARGs).
# QEMU runs with ASan halting on the first error, leak detection at exit
# (lsan.supp beside this script lists upstream QEMU's own exit-time leaks,
# nothing of hw/vfio/direct), and UBSan halting too (the build also has
# -fno-sanitize-recover=undefined).  Reports go to files, one per process
# (ASan's log_path; QEMU's stderr, where UBSan writes, through the wrapper
# qemu-system-x86_64 beside this script), so that a report is seen even
# when a test ignored QEMU's exit status: each file holding a
# sanitizer error prints "not ok - TEST sanitizer report FILE" and its
# first lines (ASan's warnings about QEMU's coroutines are not errors).
# VFIO_FUZZ_SEEDS and VFIO_FUZZ_OPS pass through to vfio-fuzz-test.
# Always exits 0; the lines are the result (as run-qtests.sh).
set -u

[ $# -ge 3 ] || { sed -n '3,/^set -u/s/^# \{0,1\}//p' "$0" | sed '$d' >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
qemu=$1 dir=$2
shift 2

# The binary must be the sanitized one, and runnable here (its libasan
# and libubsan come from the host's /usr, shared into the L1).
if ! nm -D "$qemu" 2>/dev/null | grep -q ' U __asan_init' &&
   ! ldd "$qemu" 2>/dev/null | grep -q libasan; then
    echo "not ok - $qemu is not an ASan build (make sanitize)"
    exit 0
fi
if ! out=$("$qemu" --version 2>&1); then
    echo "not ok - $qemu does not run in the L1: $(echo "$out" | head -n 1)"
    exit 0
fi
echo "# $(echo "$out" | head -n 1), $(ldd "$qemu" | grep -oE 'lib(a|ub)san[^ ]*' | tr '\n' ' ')"

reports=${TMPDIR:-/tmp}/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=0:log_path=$reports/asan"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"

VFIO_SANITIZE_QEMU=$qemu VFIO_SANITIZE_REPORTS=$reports
export VFIO_SANITIZE_QEMU VFIO_SANITIZE_REPORTS
errors='ERROR: (Address|Leak)Sanitizer|runtime error:'
for t in "$@"; do
    "$here/../testbed/run-qtests.sh" x86_64-sanitized "$here/qemu-system-x86_64" "$dir" "$t"
    for f in "$reports"/*; do
        case $f in *.seen) continue ;; esac
        [ -f "$f" ] || continue
        if grep -qE "$errors" "$f"; then
            echo "not ok - ${t%%,*}[x86_64-sanitized] sanitizer report $(basename "$f")"
            grep -E "$errors|^SUMMARY|^    #[0-9]|^(Direct|Indirect) leak" "$f" |
                head -n 40 | sed 's/^/# | /'
        fi
        mv "$f" "$f.seen"
    done
done
