#!/bin/bash
# check-system.sh - the test-bed tier of `make check` (make check-system).
#
#   check-system.sh --build BUILD-DIR
#
# 1. check-probe.sh boots the x86, pseries-a and pseries-b L1s and asserts
#    on what the kernel's vfio-pci reports (vfio-probe JSON);
# 2. one x86 L1 runs every vfio qtest (tests/qtest/vfio-*-test.c, built in
#    BUILD-DIR) against BUILD-DIR's qemu-system-x86_64 and real vfio-pci,
#    then those in $ppc64_qtests again against qemu-system-ppc64 -M pseries.
# Prints one ok / not ok line per test case, named test[arch], and ends with
# "N passed, M failed" after a line "# R test-bed retries": the L1 runs
# retried once because their kernel oopsed or panicked (lib.sh: l1_retry),
# so that a flaky L0 shows.  A qtest that skips, or runs no case, counts as
# failed: in the test bed every device it needs is bound.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

build=
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$(cd "${2?--build needs a directory}" && pwd); shift ;;
    -h|--help) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
    esac
    shift
done
[ -n "$build" ] || die "usage: check-system.sh --build BUILD-DIR"
for arch in x86_64 ppc64; do
    [ -x "$build/qemu-system-$arch" ] ||
        die "$build/qemu-system-$arch is missing; run make first"
done
# The vfio qtests that also know the pseries machine.
ppc64_qtests="vfio-subpage-test"

log=$(mktemp "${TMPDIR:-/tmp}/vfio-direct-system.XXXXXX")
trap 'rm -f "$log" "$log.raw" "$log.retries"' EXIT
export VFIO_DIRECT_RETRY_LOG=$log.retries
: >"$VFIO_DIRECT_RETRY_LOG"

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
runs=$(for t in $qtests; do echo "x86_64:$t"; done
       for t in $ppc64_qtests; do echo "ppc64:$t"; done)
echo "# qtests in the x86 L1: $(echo $runs)"
run_child "$TESTBED_DIR/run-in-l1.sh" --append iomem=relaxed --timeout 900 \
    x86 -- /bin/sh -c '
        build=$0
        for run in "$@"; do
            arch=${run%%:*} t=${run#*:}
            echo "# qtest $t[$arch]"
            QTEST_QEMU_BINARY=$build/qemu-system-$arch \
                "$build/qemu/tests/qtest/$t" --tap >/tmp/tap 2>&1
            rc=$?
            sed -nE "s#^(not ok|ok) [0-9]+ #\1 - $t[$arch] #p" /tmp/tap
            grep -qE "^(not )?ok " /tmp/tap ||
                echo "not ok - $t[$arch] ran no test case"
            [ $rc = 0 ] || echo "not ok - $t[$arch] exited with status $rc"
        done' "$build" $runs >"$log.raw" 2>&1 && rc=0 || rc=$?
sed 's/^ok - \(.*\) # SKIP/not ok - \1 # skipped in the test bed/' "$log.raw" |
    grep -E '^(ok|not ok|# qtest|run-(in-)?l1\.sh: )' | tee "$log" || true
count
if [ "$rc" != 0 ]; then
    echo "not ok - the x86 L1 running the qtests ended with status $rc"
    failed=$((failed + 1))
fi

echo "# $(wc -l <"$VFIO_DIRECT_RETRY_LOG") test-bed retries"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
