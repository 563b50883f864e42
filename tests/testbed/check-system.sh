#!/bin/bash
# check-system.sh - the test-bed tier of `make check` (make check-system).
#
#   check-system.sh --build BUILD-DIR [--cross CROSS-DIR]
#
# 1. check-probe.sh boots the x86, pseries-a and pseries-b L1s and asserts
#    on what the kernel's vfio-pci reports (vfio-probe JSON);
# 2. one x86 L1 runs every vfio qtest (tests/qtest/vfio-*-test.c, built in
#    BUILD-DIR) against BUILD-DIR's qemu-system-x86_64 and real vfio-pci,
#    then those in $ppc64_qtests again against qemu-system-ppc64 -M pseries;
#    a second x86 L1 without interrupt remapping runs vfio-msix-test's
#    relocation cases (MSI isolation unknown);
# 3. with --cross (make cross-ppc64le's build-ppc64le), the pseries-a and
#    pseries-b L1s (64 KiB pages, sPAPR TCE v2 IOMMU) run the ppc64le
#    build of those qtests and of $pseries_upstream against CROSS-DIR's
#    ppc64le qemu-system-ppc64, in a chroot on its sysroot (there the
#    qtests' 64 KiB-only cases run too: /vfio/subpage/sdhci/64k,
#    /vfio/msix/*/ranges-64k), and on pseries-a check-tce.py, which runs
#    the no-OS TCE hypercall guests against the real sPAPR TCE v2
#    container.
# Prints one ok / not ok line per test case, named test[arch], and ends with
# "N passed, M failed" after a line "# R test-bed retries": the L1 runs
# retried once because their kernel oopsed or panicked (lib.sh: l1_retry),
# so that a flaky L0 shows.  A qtest that skips, or runs no case, counts as
# failed: in the test bed every device it needs is bound.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

build='' cross=''
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$(cd "${2?--build needs a directory}" && pwd); shift ;;
    --cross) cross=$(cd "${2?--cross needs a directory}" && pwd); shift ;;
    -h|--help) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
    esac
    shift
done
[ -n "$build" ] || die "usage: check-system.sh --build BUILD-DIR [--cross CROSS-DIR]"
for arch in x86_64 ppc64; do
    [ -x "$build/qemu-system-$arch" ] ||
        die "$build/qemu-system-$arch is missing; run make first"
done
# The vfio qtests that also know the pseries machine (the fuzzer runs 2 x
# 2000 operations there by default, about 1-2 min per L1).
ppc64_qtests="vfio-subpage-test vfio-msix-test vfio-spapr-test vfio-fuzz-test"
# vfio-subpage-test's cases that need sdhci BAR0's host page mapped.
sdhci_maps='/(neighbour|padding|rom-bar|intx-padding|sdhci/(aligned|unaligned|page-align|move-toggle-reset))$'
# Upstream qtests run in the pseries L1s too, with the ppc64le build.
pseries_upstream="rtas-test device-plug-test"
# Ours that need the pseries L1 (its one IOMMU group, sPAPR TCE v2): the
# hot-plug test on pseries-a only, where sdhci BAR0 has its own page.
pseries_qtests="vfio-pci-test vfio-hotplug-test"
if [ -n "$cross" ] && { [ ! -x "$cross/qemu-system-ppc64" ] || [ ! -s "$cross/SYSROOT" ]; }; then
    die "$cross/qemu-system-ppc64 is missing; run make cross-ppc64le first"
fi

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

# record WHAT RC: the result lines of an L1 run (in $log.raw) whose status
# was RC; a skip counts as a failure.
record() {
    sed 's/^ok - \(.*\) # SKIP/not ok - \1 # skipped in the test bed/' "$log.raw" |
        grep -E '^(ok|not ok|# qtest|# \||# check-|run-(in-)?l1\.sh: )' | tee "$log" || true
    count
    if [ "$2" != 0 ]; then
        echo "not ok - the $1 L1 running the qtests ended with status $2"
        failed=$((failed + 1))
    fi
}
run_qtests=$TESTBED_DIR/run-qtests.sh

# iomem=relaxed lets the qtests read the devices' registers through sysfs
# as an oracle while vfio-pci owns them.
qtests=$(cd "$build/qemu/tests/qtest" && ls vfio-*-test)
echo "# qtests in the x86 L1: ${qtests//$'\n'/ } and for ppc64: $ppc64_qtests"
run_child "$TESTBED_DIR/run-in-l1.sh" --append iomem=relaxed --timeout 1500 \
    x86 -- /bin/sh -c '
        "$0" x86_64 "$1/qemu-system-x86_64" "$1/qemu/tests/qtest" $2
        "$0" ppc64 "$1/qemu-system-ppc64" "$1/qemu/tests/qtest" $3' \
    "$run_qtests" "$build" "$qtests" "$ppc64_qtests" >"$log.raw" 2>&1 &&
    rc=0 || rc=$?
record x86 "$rc"

# MSI-X relocation without isolated MSI: an x86 L1 without interrupt
# remapping, where vfio takes the devices only with
# allow_unsafe_interrupts=1 and the stock kernel still reports
# MSIX_MAPPABLE: a relocated table's old pages must keep trapping.
msix_noremap=vfio-msix-test
for p in e1000e/relocation-auto nvme/relocation-auto xhci/relocation-auto \
         e1000e/hidden nvme/relocation-bar4; do
    msix_noremap="$msix_noremap,-p,/x86_64/vfio/msix/$p"
done
echo "# qtests in the x86 L1 with intremap=off, allow_unsafe_interrupts=1: $msix_noremap"
run_child "$TESTBED_DIR/run-in-l1.sh" --append "iomem=relaxed intremap=off" \
    --timeout 900 x86 -- /bin/sh -c '
        echo 1 >/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts &&
        "$0" x86_64-noremap "$1/qemu-system-x86_64" "$1/qemu/tests/qtest" $2' \
    "$run_qtests" "$build" "$msix_noremap" >"$log.raw" 2>&1 && rc=0 || rc=$?
record x86-noremap "$rc"

# The pseries tier: the ppc64le build in a chroot on its sysroot (shared
# at its own path), on 64 KiB pages with the sPAPR TCE v2 IOMMU.
sysroot=
[ -z "$cross" ] || sysroot=$(cat "$cross/SYSROOT")
for machine in ${cross:+pseries-a pseries-b}; do
    # The TCE hypercall guests need one L1 only.  On pseries-b, where the
    # kernel refuses the mmap of sdhci BAR0 (it shares e1000e BAR3's page),
    # vfio-subpage-test's cases that need that mmap ($sdhci_maps) do not
    # apply; all its others run, kernel-no-mmap and sdhci/64k among them.
    tce='' qtests="$ppc64_qtests $pseries_qtests"
    if [ "$machine" = pseries-a ]; then
        tce="--tce-guest $cross/tce-guest.elf --tce-runs-guest $cross/tce-runs-guest.elf"
    else
        qtests=${qtests/vfio-subpage-test/vfio-subpage-test,-x,$sdhci_maps}
        # The same container and kernel as pseries-a: nothing new, ~40 s
        qtests=${qtests/ vfio-spapr-test/}
        qtests=${qtests/ vfio-hotplug-test/}
    fi
    echo "# qtests in the $machine L1 (ppc64le build): $qtests $pseries_upstream${tce:+ check-tce}"
    run_child "$TESTBED_DIR/run-in-l1.sh" --share "sysroot=$sysroot" \
        --append "iomem=relaxed vfio_direct.chroot=1 vfio_direct.sysroot=$sysroot" \
        --timeout 1200 "$machine" -- /bin/sh -c '
            "$0" "$1" "$2/qemu-system-ppc64" "$2/qemu/tests/qtest" $3
            [ -z "$5" ] && exit 0
            echo "# qtest check-tce[$1]"
            python3 "$4" --qemu "$2/qemu-system-ppc64" --label "$1" $5' \
        "$run_qtests" "$machine" "$cross" "$qtests $pseries_upstream" \
        "$TESTBED_DIR/check-tce.py" "$tce" >"$log.raw" 2>&1 && rc=0 || rc=$?
    record "$machine" "$rc"
done

echo "# $(wc -l <"$VFIO_DIRECT_RETRY_LOG") test-bed retries"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
