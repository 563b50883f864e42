#!/bin/bash
# run-dma.sh - start-up cost of guest RAM mapping: ours against the base, in one L1 run.
#
#   tests/bench/run-dma.sh [--build DIR] [--base DIR] [--sizes LIST]
#                          [--backings LIST] [--timeout SEC]
#
# Boots one x86 test-bed L1 with VFIO_DIRECT_L1_MEM (default 6G, enough for
# a 2 GiB guest and its huge pages) and runs dma-start.py there: per size
# and backing, a q35 QEMU of each build with sdhci-pci assigned, -S, until
# QMP answers (ready).  MAP_DMA/UNMAP_DMA calls, bytes, largest mapping and
# time come from a kprobe on the L1 kernel's vfio_iommu_type1_ioctl; VmLck
# from /proc.  Builds: ours, the base, and ours with
# x-dma-prefault-threads=0 (nopf).  The output is also kept in
# DIR/bench/dma-start.txt.
#
#   --build DIR      our build (default: build)
#   --base DIR       the base build, from `make base-build` (default: build-base)
#   --sizes LIST     guest RAM sizes (default 512M,2G)
#   --backings LIST  anon, thp, hugetlbfs (default anon,hugetlbfs)
#   --timeout SEC    limit for the whole L1 run (default 1800)
set -euo pipefail

PROG=$(basename "$0")
die() {
    echo "$PROG: $*" >&2
    exit 1
}
usage() {
    sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=build base=build-base sizes=512M,2G backings=anon,hugetlbfs timeout_s=1800
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=${2?}; shift ;;
    --base) base=${2?}; shift ;;
    --sizes) sizes=${2?}; shift ;;
    --backings) backings=${2?}; shift ;;
    --timeout) timeout_s=${2?}; shift ;;
    -h|--help) usage ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done

abspath() {
    case $1 in
    /*) (cd "$1" 2>/dev/null && pwd) ;;
    *) (cd "$repo/$1" 2>/dev/null && pwd) ;;
    esac
}
ours_dir=$(abspath "$build") || die "no build folder $build (run make)"
base_dir=$(abspath "$base") || die "no base build folder $base (run make base-build)"
for d in "$ours_dir" "$base_dir"; do
    case $d/ in "$repo"/*) ;; *) die "$d is outside $repo: the L1 cannot see it" ;; esac
    [ -x "$d/qemu-system-x86_64" ] || die "no $d/qemu-system-x86_64 (run make / make base-build)"
done
mkdir -p "$ours_dir/bench"

t0=$(date +%s.%N)
rc=0
ours=$ours_dir/qemu-system-x86_64
VFIO_DIRECT_L1_MEM=${VFIO_DIRECT_L1_MEM:-6G} \
"$repo/tests/testbed/run-in-l1.sh" --timeout "$timeout_s" x86 -- \
    /usr/bin/python3 "$repo/tests/bench/dma-start.py" --sizes "$sizes" \
    --backings "$backings" ours="$ours" base="$base_dir/qemu-system-x86_64" \
    nopf="$ours,x-dma-prefault-threads=0" |
    tee "$ours_dir/bench/dma-start.txt" || rc=$?
printf '%s: bench wall time %.0f s (L1 boot included), rc=%d\n' "$PROG" \
    "$(echo "$(date +%s.%N) - $t0" | bc)" "$rc" >&2
exit "$rc"
