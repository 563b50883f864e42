#!/bin/bash
# run-tce.sh - VFIO ioctls and time to map 1 GiB through TCE hypercalls: ours against the base, in one pseries L1.
#
#   tests/bench/run-tce.sh [--build DIR] [--base DIR] [--kvm] [--timeout SEC]
#
# Boots one pseries-a test-bed L1 (64 KiB pages, real sPAPR TCE v2
# container) in the chroot on DIR's ppc64el sysroot and runs tce-bench.py
# there: tests/guest/tce-bench-guest.c maps 1 GiB through
# the default window (4 KiB TCEs) and through a 64 KiB DDW, on each build
# in turn; a kprobe on the L1 kernel's tce_iommu_ioctl counts MAP_DMA and
# UNMAP_DMA.  The output is also kept in DIR/bench/tce-bench.txt.
#
#   --build DIR    our ppc64le build (default: build-ppc64le, make cross-ppc64le)
#   --base DIR     the base's (default: build-base-ppc64le, make cross-ppc64le-base)
#   --kvm          run the guests under the L1's nested KVM-HV instead of
#                  TCG (shows whether KVM's in-kernel TCE handlers take over)
#   --timeout SEC  limit for the whole L1 run (default 3600)
#
# Both build folders must be inside this repository (the L1 sees it at its
# host path).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/testbed/lib.sh"
testbed=$repo/tests/testbed

usage() {
    sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" | sed '$d' >&2
    exit 2
}

build=build-ppc64le base=build-base-ppc64le timeout_s=3600 accel=tcg
l1=()
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=${2?}; shift ;;
    --base) base=${2?}; shift ;;
    --kvm) accel=kvm l1=(--nested-kvm) ;;
    --timeout) timeout_s=${2?}; shift ;;
    -h|--help) usage ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
case $timeout_s in ''|*[!0-9]*) die "--timeout wants a number" ;; esac

build=$(build_dir "$repo" "$build" qemu-system-ppc64 "make cross-ppc64le") || exit
base=$(build_dir "$repo" "$base" qemu-system-ppc64 "make cross-ppc64le-base") || exit
[ -e "$build/tce-bench-guest.elf" ] ||
    die "no $build/tce-bench-guest.elf (make cross-ppc64le)"
sysroot=$(cat "$build/SYSROOT")
mkdir -p "$build/bench"

note "one pseries-a L1 ($accel guests): ours ($build), base ($base)"
# The guest's 1280 MiB are pinned (preregistered) in the L1.
export VFIO_DIRECT_L1_MEM=${VFIO_DIRECT_L1_MEM:-4G}
rc=0
run_child "$testbed/run-in-l1.sh" ${l1[@]+"${l1[@]}"} --timeout "$timeout_s" \
    --share "sysroot=$sysroot" \
    --append "iomem=relaxed vfio_direct.chroot=1 vfio_direct.sysroot=$sysroot" \
    pseries-a -- python3 "$repo/tests/bench/tce-bench.py" --accel "$accel" \
    --qemu "ours=$build/qemu-system-ppc64" --qemu "base=$base/qemu-system-ppc64" \
    --guests "$build" | tee "$build/bench/tce-bench-$accel.txt" || rc=$?
exit "$rc"
