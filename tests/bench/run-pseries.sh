#!/bin/bash
# run-pseries.sh - real MMIO exits on 64 KiB pages: ours against the base, in one pseries L1.
#
#   tests/bench/run-pseries.sh [--build DIR] [--base DIR] [--loads N]
#                              [--rounds R] [--timeout SEC] [--slof-layout]
#                              [--doorbell]
#
# Builds the L2's initramfs (tests/guest/pseries-l2-init.c, as /init) into
# DIR/bench, boots one pseries-a test-bed L1 with nested KVM-HV
# (run-in-l1.sh --nested-kvm) in the chroot on DIR's ppc64el sysroot, and
# runs pseries-subpage.py there: one Linux L2 per build under -accel kvm
# with sdhci, i6300esb and pvpanic passed through, SLOF placing their BARs,
# counting KVM's mmio_exits around loops of loads from sdhci's BAR.  Prints
# a block per build and the ratio lines; the output is also kept in
# DIR/bench/pseries-subpage.txt.
#
#   --build DIR    our ppc64le build (default: build-ppc64le, make cross-ppc64le)
#   --base DIR     the base's (default: build-base-ppc64le, make cross-ppc64le-base)
#   --loads N      loads per loop (default 2000: a trapped load costs ms here)
#   --rounds R     loops per build; the median counts (default 3)
#   --timeout SEC  limit for the whole L1 run (default 1500)
#   --slof-layout  keep the BARs where SLOF put them (a 64 KiB page each)
#                  instead of packing them (a control)
#   --doorbell     nvme instead: stores to and loads from its first doorbell
#                  (BAR0 + 0x1000, on the 64 KiB page of its MSI-X table),
#                  BAR0 where SLOF put it; output in DIR/bench/pseries-doorbell.txt
#
# Both build folders must be inside this repository (the L1 sees it at its
# host path); the L2 kernel is the L1's own, shared from the cache.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/testbed/lib.sh"
testbed=$repo/tests/testbed

usage() {
    sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" | sed '$d' >&2
    exit 2
}

build=build-ppc64le base=build-base-ppc64le loads=2000 rounds=3 timeout_s=1500
extra=() result=pseries-subpage.txt
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=${2?}; shift ;;
    --base) base=${2?}; shift ;;
    --loads) loads=${2?}; shift ;;
    --rounds) rounds=${2?}; shift ;;
    --timeout) timeout_s=${2?}; shift ;;
    --slof-layout) extra+=("$1") ;;
    --doorbell) extra+=(--target nvme-db) result=pseries-doorbell.txt ;;
    -h|--help) usage ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
case $loads$rounds$timeout_s in ''|*[!0-9]*) die "--loads, --rounds and --timeout want numbers" ;; esac

build=$(build_dir "$repo" "$build" qemu-system-ppc64 "make cross-ppc64le") || exit
base=$(build_dir "$repo" "$base" qemu-system-ppc64 "make cross-ppc64le-base") || exit
sysroot=$(cat "$build/SYSROOT")

# The L2: the L1's kernel, and an initramfs that is our one program.
out=$build/bench
mkdir -p "$out/l2/dev"
note "building the L2 initramfs"
make -s -C "$repo/tests/guest" O="$out" pseries-l2-init ||
    die "building tests/guest/pseries-l2-init.c failed"
cp "$out/pseries-l2-init" "$out/l2/init"
(cd "$out/l2" && find . -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$out/l2.cpio.gz"
kdir=$("$testbed/fetch-kernel.sh" ppc64el-64k)
kernel=$(ls "$kdir"/boot/vmlinux-*)

note "one pseries-a L1 with nested KVM-HV: ours ($build), base ($base)"
rc=0
run_child "$testbed/run-in-l1.sh" --nested-kvm --timeout "$timeout_s" \
    --share "sysroot=$sysroot" --share "kernel=$kdir" \
    --append "iomem=relaxed vfio_direct.chroot=1 vfio_direct.sysroot=$sysroot" \
    pseries-a -- python3 "$repo/tests/bench/pseries-subpage.py" \
    --qemu "ours=$build/qemu-system-ppc64" --qemu "base=$base/qemu-system-ppc64" \
    --kernel "$kernel" --initrd "$out/l2.cpio.gz" \
    --loads "$loads" --rounds "$rounds" ${extra[@]+"${extra[@]}"} | tee "$out/$result" || rc=$?
exit "$rc"
