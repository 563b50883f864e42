#!/bin/bash
# check-probe.sh - boot the test-bed L1s, run vfio-probe, assert on its output.
#
#   check-probe.sh [--keep DIR] [x86] [pseries-a] [pseries-b]   (default: all three)
#
# Boots each L1 in turn (never two at once: the CPU is shared), lets init run
# vfio-probe on the bound devices, then check-probe.py asserts on the JSON.
# Output is TAP-like ("ok - ..." / "not ok - ..."), ending with the line
# "N passed, M failed"; the exit status is non-zero on any failure.
# --keep DIR keeps each machine's console log and probe JSON in DIR/MACHINE.
# An L1 that ends in a test-bed fault (its kernel oopsed or panicked: see
# run-l1.sh) is booted once more, with a line on stderr that says so
# (lib.sh: l1_retry); the probe's results are the last boot's.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

keep=
if [ "${1-}" = --keep ]; then
    keep=${2?--keep needs a directory}
    shift 2
fi
machines=${*:-x86 pseries-a pseries-b}

if [ -n "$keep" ]; then
    results=$keep
    mkdir -p "$results"
else
    results=$(mktemp -d "${TMPDIR:-/tmp}/vfio-direct-check.XXXXXX")
    trap 'rm -rf "$results"' EXIT
fi

# One boot of machine $m into the fresh directory $1 (l1_retry makes it).
# shellcheck disable=SC2317  # called by l1_retry
probe() {
    run_child "$TESTBED_DIR/run-l1.sh" --quiet --out "$1" "$m" >&2
}

t0=$(now)
for m in $machines; do
    ts=$(now)
    l1_retry "$m" "${results:?}/$m" probe || true
    fault=
    [ ! -s "$results/$m/testbed-fault" ] ||
        fault=", test-bed fault: $(cat "$results/$m/testbed-fault")"
    echo "# $m: wall $(echo "$(now) - $ts" | bc)s, guest $(cat "$results/$m/timings" 2>/dev/null || echo none)$fault"
done
echo "# total wall $(echo "$(now) - $t0" | bc)s"
python3 "$TESTBED_DIR/check-probe.py" "$results"
