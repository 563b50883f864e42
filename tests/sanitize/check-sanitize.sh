#!/bin/bash
# check-sanitize.sh - make check-sanitize: the vfio qtests and a short BAR
# fuzz run against the ASan + UBSan build (make sanitize), in the x86 L1.
#
#   check-sanitize.sh --build BUILD-DIR --sanitize SANITIZE-DIR
#
# One x86 test-bed L1 (real kernel vfio-pci, as check-system.sh) runs
# BUILD-DIR's vfio qtests (the qtests themselves need no sanitizer: QEMU
# is what is under test) against SANITIZE-DIR/qemu-system-x86_64, through
# run-sanitized.sh: ASan with leak detection at QEMU's exit and UBSan,
# both halting on the first finding, every report a failure.  The fuzzer
# runs $fuzz_seeds seeds of $fuzz_ops operations (VFIO_FUZZ_SEEDS and
# VFIO_FUZZ_OPS override them); vfio-dma-test runs its 512 MiB anonymous
# case and the refusal, rollback and virtio-mem cases, not the THP and
# hugetlbfs variants of pin-once (same code path, minutes more).
# Prints one ok / not ok line per case and ends with "N passed, M failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
testbed=$here/../testbed

die() { echo "check-sanitize.sh: $*" >&2; exit 1; }

build='' san=''
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$(cd "${2?--build needs a directory}" && pwd); shift ;;
    --sanitize) san=$(cd "${2?--sanitize needs a directory}" && pwd); shift ;;
    -h|--help) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" | sed '$d'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
if [ -z "$build" ] || [ -z "$san" ]; then
    die "usage: check-sanitize.sh --build BUILD-DIR --sanitize SANITIZE-DIR"
fi
[ -x "$san/qemu-system-x86_64" ] ||
    die "$san/qemu-system-x86_64 is missing; run make sanitize first"
case $(cat "$san/SANITIZERS" 2>/dev/null) in full|vfio) ;; *)
    die "$san was not configured with --enable-sanitizers; run make sanitize" ;;
esac

fuzz_seeds=${VFIO_FUZZ_SEEDS:-1-2}
fuzz_ops=${VFIO_FUZZ_OPS:-3000}
dma_cases='-p,/x86_64/vfio/dma/pin-once/ours/anon-512m,-p,/x86_64/vfio/dma/dma-avail,-p,/x86_64/vfio/dma/rollback,-p,/x86_64/vfio/dma/virtio-mem'
qtests="vfio-pci-test vfio-subpage-test vfio-msix-test vfio-hotplug-test
        vfio-dma-test,$dma_cases vfio-fuzz-test"
for t in $qtests; do
    [ -x "$build/qemu/tests/qtest/${t%%,*}" ] ||
        die "$build/qemu/tests/qtest/${t%%,*} is missing; build it first"
done

log=$(mktemp "${TMPDIR:-/tmp}/vfio-direct-sanitize.XXXXXX")
trap 'rm -f "$log"' EXIT
echo "# sanitized qtests in the x86 L1 (fuzzer: seeds $fuzz_seeds, $fuzz_ops operations each)"
start=$(date +%s)
rc=0
# shellcheck disable=SC2086  # one word per test
"$testbed/run-in-l1.sh" --append iomem=relaxed --timeout 1500 \
    -e VFIO_FUZZ_SEEDS="$fuzz_seeds" -e VFIO_FUZZ_OPS="$fuzz_ops" \
    x86 -- "$here/run-sanitized.sh" "$san/qemu-system-x86_64" \
    "$build/qemu/tests/qtest" $qtests >"$log" 2>&1 || rc=$?
# A skip counts as a failure: in the test bed every device is bound.
sed -i 's/^ok - \(.*\) # SKIP/not ok - \1 # skipped in the test bed/' "$log"
grep -E '^(ok|not ok|# )' "$log" || true
passed=$(grep -c '^ok ' "$log" || true)
failed=$(grep -c '^not ok ' "$log" || true)
if [ "$rc" != 0 ]; then
    tail -n 20 "$log" | sed 's/^/# | /'
    echo "not ok - the x86 L1 running the sanitized qtests ended with status $rc"
    failed=$((failed + 1))
fi
if [ "$passed" = 0 ]; then
    echo "not ok - no sanitized qtest case passed"
    failed=$((failed + 1))
fi
echo "# check-sanitize took $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
