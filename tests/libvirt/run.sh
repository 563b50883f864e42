#!/bin/bash
# run.sh - make check-libvirt: libvirt drives our QEMU with <hostdev>s.
#
#   tests/libvirt/run.sh [--platform x86|pseries|all] [--build DIR]
#                        [--cross DIR] [--timeout SEC] [--guide FILE]
#
# x86: builds the L2 guest (tests/demo/mkl2.sh) into DIR/libvirt, boots one
# x86 test-bed L1 (tests/testbed/run-in-l1.sh) and runs in-l1.sh there:
# Debian's libvirtd from the host's /usr defines and starts the user
# guide's domain (docs/vfio-direct.rst, verbatim) with our
# DIR/qemu-system-x86_64 as <emulator> and the L1's vfio-pci sdhci as a
# managed='no' hostdev, checks info vfio, then detaches and re-attaches
# the hostdev live.
#
# pseries: the same with the guide's pseries examples in one pseries-a L1
# under nested KVM-HV (in-l1-pseries.sh): Debian 12's ppc64el libvirt, in
# a sysroot of its own (scripts/cross-ppc64le.sh --sysroot --with: the
# cross build's packages plus libvirt's, pinned to bookworm like the x86
# packages), our ppc64le build CROSS/qemu-system-ppc64, nvme and sdhci
# passed through, the L2 of mkl2.sh --arch ppc64el-64k in CROSS/libvirt.
#
# Prints TAP lines and "N passed, M failed" per platform, then the wall
# time of each.
#
#   --platform P   x86, pseries or all (default: all, x86 first)
#   --build DIR    our build (default: build), inside this repository
#   --cross DIR    our ppc64le build (default: build-ppc64le, make cross-ppc64le)
#   --timeout SEC  limit for each L1 run (default 600 x86, 1200 pseries)
#   --guide FILE   take the XML examples from FILE instead of
#                  docs/vfio-direct.rst (inside this repository; to check
#                  that the test fails on a broken example)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/testbed/lib.sh"

platform=all build=build cross=build-ppc64le timeout_s= guide=$repo/docs/vfio-direct.rst
while [ $# -gt 0 ]; do
    case $1 in
    --platform) platform=${2?}; shift ;;
    --build) build=${2?}; shift ;;
    --cross) cross=${2?}; shift ;;
    --timeout) timeout_s=${2?}; shift ;;
    --guide) guide=$(cd "$(dirname "${2?}")" && pwd)/$(basename "$2"); shift ;;
    -h|--help) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" | sed '$d' >&2; exit 2 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
case $platform in
x86|pseries|all) ;;
*) die "--platform $platform: want x86, pseries or all" ;;
esac
# libvirt's capability cache of our binaries, kept outside the clone
caps=$VFIO_DIRECT_CACHE/libvirt-caps

x86() {
    local b
    b=$(build_dir "$repo" "$build" qemu-system-x86_64 "run make") || return
    command -v libvirtd >/dev/null && command -v virsh >/dev/null ||
        die "libvirt is not installed (run scripts/install-deps.sh)"
    "$repo/tests/demo/mkl2.sh" "$b/libvirt"
    mkdir -p "$caps"
    run_child "$repo/tests/testbed/run-in-l1.sh" --timeout "${timeout_s:-600}" \
        --share "libvirtcaps=$caps:rw" x86 -- \
        /bin/bash "$repo/tests/libvirt/in-l1.sh" "$b/qemu-system-x86_64" \
        "$b/libvirt" "$guide" "$caps"
}

# Debian's ppc64el libvirt, and what in-l1-pseries.sh runs besides
LIBVIRT_PPC="libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
             bash mawk mount"

pseries() {
    local c sysroot
    c=$(build_dir "$repo" "$cross" qemu-system-ppc64 "make cross-ppc64le") || return
    sysroot=$("$repo/scripts/cross-ppc64le.sh" --sysroot --with "$LIBVIRT_PPC") ||
        die "no ppc64el sysroot with libvirt"
    "$repo/tests/demo/mkl2.sh" --arch ppc64el-64k "$c/libvirt"
    mkdir -p "$caps/ppc64le"
    run_child "$repo/tests/testbed/run-in-l1.sh" --nested-kvm \
        --timeout "${timeout_s:-1200}" --share "sysroot=$sysroot" \
        --share "libvirtcaps=$caps/ppc64le:rw" \
        --append "vfio_direct.chroot=1 vfio_direct.sysroot=$sysroot" pseries-a -- \
        /bin/bash "$repo/tests/libvirt/in-l1-pseries.sh" "$c/qemu-system-ppc64" \
        "$c/libvirt" "$guide" "$caps/ppc64le"
}

rc=0 times=
for p in x86 pseries; do
    [ "$platform" = all ] || [ "$platform" = "$p" ] || continue
    echo "# check-libvirt: $p"
    t=$(date +%s) prc=0
    "$p" || prc=$?
    [ "$prc" = 0 ] || rc=1
    times="$times $p $(($(date +%s) - t)) s (rc=$prc),"
done
echo "# check-libvirt:${times%,} wall, L1 boots included" >&2
exit "$rc"
