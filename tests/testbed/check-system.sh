#!/bin/bash
# check-system.sh - the test-bed tier of `make check` (make check-system).
#
#   check-system.sh --build BUILD-DIR
#
# 1. check-probe.sh boots the x86, pseries-a and pseries-b L1s and asserts
#    on what the kernel's vfio-pci reports (vfio-probe JSON);
# 2. one x86 L1 runs every vfio qtest (tests/qtest/vfio-*-test.c, built in
#    BUILD-DIR) against BUILD-DIR's qemu-system-x86_64 and real vfio-pci.
# Prints one ok / not ok line per test and ends with "N passed, M failed".
# A qtest that skips counts as failed: in the test bed every device it
# needs is bound.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

build=
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$(cd "${2?--build needs a directory}" && pwd); shift ;;
    -h|--help) sed -n '3,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
    esac
    shift
done
[ -n "$build" ] || die "usage: check-system.sh --build BUILD-DIR"
qemu=$build/qemu-system-x86_64
[ -x "$qemu" ] || die "$qemu is missing; run make first"

log=$(mktemp "${TMPDIR:-/tmp}/vfio-direct-system.XXXXXX")
trap 'rm -f "$log" "$log.raw"' EXIT

passed=0 failed=0
count() {
    local p f
    p=$(grep -c '^ok ' "$log" || true)
    f=$(grep -c '^not ok ' "$log" || true)
    passed=$((passed + p)) failed=$((failed + f))
}

echo "# probe: x86, pseries-a, pseries-b"
"$TESTBED_DIR/check-probe.sh" | grep -v '^[0-9]* passed, [0-9]* failed$' |
    tee "$log" || true
count

# iomem=relaxed lets the qtests read the devices' registers through sysfs
# as an oracle while vfio-pci owns them.
qtests=$(cd "$build/qemu/tests/qtest" && ls vfio-*-test)
echo "# qtests in the x86 L1: $(echo $qtests)"
run_child "$TESTBED_DIR/run-in-l1.sh" --append iomem=relaxed --timeout 900 \
    -e QTEST_QEMU_BINARY="$qemu" x86 -- /bin/sh -c '
        dir=$0
        for t in "$@"; do
            echo "# qtest $t"
            "$dir/$t" --tap >/tmp/tap 2>&1
            rc=$?
            sed -nE "s#^(not ok|ok) [0-9]+ #\1 - $t #p" /tmp/tap
            [ $rc = 0 ] || echo "not ok - $t exited with status $rc"
        done' "$build/qemu/tests/qtest" $qtests >"$log.raw" 2>&1 && rc=0 || rc=$?
sed 's/^ok - \(.*\) # SKIP/not ok - \1 # skipped in the test bed/' "$log.raw" |
    grep -E '^(ok|not ok|# qtest)' | tee "$log" || true
count
if [ "$rc" != 0 ]; then
    echo "not ok - the x86 L1 running the qtests ended with status $rc"
    failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
