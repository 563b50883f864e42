#!/bin/bash
# check-kernel.sh - prove the kernel series (linux/) in the test-bed L1s.
#
#   tests/kernel/check-kernel.sh [--image|--no-image] [--out DIR]
#
# Boots x86 and pseries L1s (tests/testbed/run-l1.sh) and judges what
# tests/kernel/vfio-kcheck reports inside them (check-kernel.py):
#
#   modules route (scripts/kernel.sh modules: K2 and K3 as vfio-pci modules
#   for Debian's stock 6.12.N+deb12 image; a few minutes cold):
#     ours-remap       our modules, interrupt remapping on
#     ours-noremap     our modules, intremap=off + allow_unsafe_interrupts
#     stock-noremap    the same image's own modules, same settings
#     testbed-stock    the test bed's default kernel (trixie), unchanged
#   (each with two edu devices for K4's peer-BAR test), then our QEMU's
#   vfio-type1-stats-test on our modules (K5 in x-query-vfio, info vfio)
#   pseries route (scripts/kernel.sh modules ppc64el-64k: K2 and K3 as
#   vfio-pci modules for Debian's 6.12.N+deb12 powerpc64le-64k image,
#   64 KiB pages, sPAPR TCE; K4 and K5 are type1's and do not apply):
#     pseries-a        our modules, every small BAR on its own 64 KiB page
#     pseries-b        our modules, sdhci-pci shares e1000e BAR3's page
#     pseries-a-stock  the same image's own modules
#   then (with make cross-ppc64le's build-ppc64le) the ppc64le
#   vfio-subpage-test's span cases in pseries-a on our modules, which
#   must find the span stated by the kernel (VFIO_DIRECT_KERNEL_SPAN=1),
#   and vfio-msix-test (with K2 the MSI-X BARs stay direct there)
#   image route (scripts/kernel.sh image: K1 needs the PCI core, built in):
#     k1-keepsize      our image, pci=resource_alignment=keepsize: for sdhci
#                      and i6300esb: the kernel reassigns those two
#     k1-named-qboot   the same on qboot (the kernel places every BAR)
#     k1-all           qboot and keepsize:* (every device)
#     k1-none          our image, qboot, no option
#   (x86 has no PCI_PROBE_ONLY, so K1's probe-only path is not run here.)
#     stock-resize     the stock image, qboot, the old resizing form
#     iommufd          our image (CONFIG_IOMMUFD, CONFIG_VFIO_DEVICE_CDEV):
#                      tests/kernel/l1-iommufd.sh runs our QEMU (the
#                      build's, make) on type1 and on iommufd side by side
#                      (iommufd-dma.py), and vfio-subpage-test and
#                      vfio-msix-test with -object iommufd and the
#                      devices' cdevs (run-qtests.sh --iommufd)
#
# The image runs happen with --image (build the image when it is not
# cached: 15-60 min on 2 cores) or, by default, when scripts/kernel.sh
# cached says the image for this series and fragment is in the cache;
# --no-image skips them.  Prints check lines and "N passed, M failed".
# Test knob: VFIO_DIRECT_TEST_IOMMUFD_BROKEN=no-link gives iommufd-dma.py's
# "iommufd" QEMU the object without linking the device to it (it then
# uses type1): the iommufd checks must fail.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
# note, die, l1_retry (a run that ends in a test-bed fault is retried once)
. "$TOP/tests/testbed/lib.sh"
CACHE=$VFIO_DIRECT_CACHE

image=auto out=
while [ $# -gt 0 ]; do
    case $1 in
    --image) image=yes ;;
    --no-image) image=no ;;
    --out) out=${2?}; shift ;;
    *) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" | sed '$d' >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$out" ]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/vfio-direct-kernel.XXXXXX")
    trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

# The static checkers (with the tests' host library), built in the cache
# keyed by their sources (worktrees share the cache, and each must run
# its own; vfio-kcheck for ppc64el too: type1 is x86's only).
host_lib=$TOP/tests/qtest/vfio-host
key=$(cat "$TOP"/tests/kernel/vfio-kcheck.c "$TOP"/tests/kernel/vfio-type1-stats.c \
          "$TOP"/tests/kernel/vfio-peer-bar.c "$TOP"/tests/kernel/type1-stats.h \
          "$host_lib.c" "$host_lib.h" | sha256sum | cut -c1-16)
probes=$CACHE/probe/amd64/kernel-$key
pprobes=$CACHE/probe/ppc64el/kernel-$key
mkdir -p "$probes" "$pprobes"
for p in vfio-kcheck vfio-type1-stats vfio-peer-bar ppc64el:vfio-kcheck; do
    dir=$probes cc=gcc
    case $p in ppc64el:*) p=${p#*:} dir=$pprobes cc=powerpc64le-linux-gnu-gcc ;; esac
    if [ ! -x "$dir/$p" ]; then
        "$cc" -static -O2 -Wall -Wextra -Werror -I"$TOP/tests/qtest" \
            -o "$dir/$p.tmp.$$" "$TOP/tests/kernel/$p.c" "$host_lib.c" ||
            die "building $p with $cc failed"
        mv "$dir/$p.tmp.$$" "$dir/$p"
    fi
done

t0=$SECONDS
modules=$("$TOP/scripts/kernel.sh" modules)
stock=$("$TOP/scripts/kernel.sh" stock)
pmodules=$("$TOP/scripts/kernel.sh" modules ppc64el-64k)
pstock=$("$TOP/scripts/kernel.sh" stock ppc64el-64k)
note "modules route ready in $((SECONDS - t0)) s: $modules, $pmodules"
kimage=
case $image in
yes) kimage=$("$TOP/scripts/kernel.sh" image) ;;
auto) if "$TOP/scripts/kernel.sh" cached; then kimage=$("$TOP/scripts/kernel.sh" image); fi ;;
esac

qboot=/usr/share/qemu/qboot.rom
align_two='pci=resource_alignment=keepsize:pci:1b36:0007;keepsize:pci:8086:25ab'
rc=0
# shellcheck disable=SC2317  # called by l1_retry
# boot OPTIONS... DIR: one L1 boot of $MACHINE (default x86) into DIR
# (l1_retry makes DIR afresh; the log keeps every attempt, so that a
# test-bed fault can be read).
boot() {
    local dir=${*: -1} machine=${MACHINE:-x86}
    if [ "$machine" = x86 ]; then
        cp "$probes/vfio-kcheck" "$probes/vfio-type1-stats" "$probes/vfio-peer-bar" "$dir/"
    else
        cp "$pprobes/vfio-kcheck" "$dir/"
    fi
    "$TOP/tests/testbed/run-l1.sh" --quiet --out "$dir" \
        --run "$TOP/tests/kernel/l1-probe.sh" "${@:1:$#-1}" "$machine" \
        2>>"$dir/../$(basename "$dir").log"
}
# [MACHINE=pseries-a|pseries-b] run NAME [run-l1.sh options]: the L1 run
# NAME into $out/NAME.
run() {
    local name=$1 r=0
    shift
    l1_retry "${MACHINE:-x86}" "$out/$name" boot "$@" || r=$?
    note "$name: rc=$r, $(tail -n 1 "$out/$name.log" | sed 's/^run-l1.sh: //')"
    [ "$r" = 0 ] || { cat "$out/$name.log" >&2; rc=1; }
}
# Two edu devices: a DMA engine and a peer BAR for vfio-peer-bar (K4).
edu=(--add-device "edu_a 0a.0 edu" --add-device "edu_b 0b.0 edu")
run ours-remap --kernel-tree "$modules" "${edu[@]}"
run ours-noremap --kernel-tree "$modules" --append "intremap=off vfio_direct.unsafe=1" "${edu[@]}"
run stock-noremap --kernel-tree "$stock" --append "intremap=off vfio_direct.unsafe=1" "${edu[@]}"
run testbed-stock "${edu[@]}"
# Our QEMU relays the type1 statistics (K5): vfio-type1-stats-test in an L1
# on our modules (check-system runs it on the stock kernel, where the
# member is absent).  It needs the QEMU build (make).
qtest=$TOP/build/qemu/tests/qtest/vfio-type1-stats-test
if [ -x "$qtest" ]; then
    r=0
    VFIO_DIRECT_KERNEL_TREE=$modules "$TOP/tests/testbed/run-in-l1.sh" \
        -e VFIO_DIRECT_TYPE1_STATS=1 -e QTEST_QEMU_BINARY="$TOP/build/qemu/qemu-system-x86_64" \
        x86 -- "$qtest" >"$out/qtest-type1-stats.log" 2>&1 || r=$?
    grep -E '^(ok|not ok) ' "$out/qtest-type1-stats.log" | sed 's/^/qtest on our modules: /' || true
    note "vfio-type1-stats-test on our modules: rc=$r"
    [ "$r" = 0 ] || { cat "$out/qtest-type1-stats.log" >&2; rc=1; }
else
    note "no $qtest (make): the QEMU side of K5 is not run here"
fi
# pseries, 64 KiB pages: K2 keeps the MSI-X table mappable (the platform
# isolates MSIs per PE), K3 states each sub-page BAR's exclusive page.
MACHINE=pseries-a run pseries-a --kernel-tree "$pmodules"
MACHINE=pseries-b run pseries-b --kernel-tree "$pmodules"
MACHINE=pseries-a run pseries-a-stock --kernel-tree "$pstock"
# Our ppc64le QEMU inside pseries-a uses the span and maps the MSI-X BARs
# (make cross-ppc64le).
cross=$TOP/build-ppc64le
if [ -x "$cross/qemu-system-ppc64" ] && [ -s "$cross/SYSROOT" ] &&
   [ -x "$cross/qemu/tests/qtest/vfio-subpage-test" ]; then
    sysroot=$(cat "$cross/SYSROOT")
    spans=vfio-subpage-test
    for d in sdhci i6300esb pvpanic; do
        spans="$spans,-p,/ppc64/vfio/subpage/$d/span"
    done
    r=0
    VFIO_DIRECT_KERNEL_TREE=$pmodules "$TOP/tests/testbed/run-in-l1.sh" \
        -e VFIO_DIRECT_KERNEL_SPAN=1 --share "sysroot=$sysroot" \
        --append "iomem=relaxed vfio_direct.chroot=1 vfio_direct.sysroot=$sysroot" \
        --timeout 1200 pseries-a -- /bin/sh -c '"$0" "$1" "$2/qemu-system-ppc64" "$2/qemu/tests/qtest" $3' \
        "$TOP/tests/testbed/run-qtests.sh" pseries-a "$cross" "$spans vfio-msix-test" \
        >"$out/qtest-pseries-span.log" 2>&1 || r=$?
    grep -E '^(ok|not ok) ' "$out/qtest-pseries-span.log" | sed 's/^/qtest on our ppc64el modules: /' || true
    note "vfio-subpage-test span cases and vfio-msix-test in pseries-a on our modules: rc=$r"
    if [ "$r" != 0 ] || ! grep -q '^ok ' "$out/qtest-pseries-span.log" ||
       grep -q '^not ok ' "$out/qtest-pseries-span.log"; then
        cat "$out/qtest-pseries-span.log" >&2
        rc=1
    fi
else
    note "no $cross/qemu-system-ppc64 and its qtests (make cross-ppc64le): the QEMU side of K3 on pseries is not run here"
fi
if [ -n "$kimage" ]; then
    [ -r "$qboot" ] || die "no $qboot (qemu-system-data)"
    run k1-keepsize --kernel-tree "$kimage" --append "$align_two"
    run k1-named-qboot --kernel-tree "$kimage" --bios "$qboot" --append "$align_two"
    run k1-all --kernel-tree "$kimage" --bios "$qboot" --append "pci=resource_alignment=keepsize:*"
    run k1-none --kernel-tree "$kimage" --bios "$qboot"
    run stock-resize --kernel-tree "$stock" --bios "$qboot" \
        --append "pci=resource_alignment=pci:1b36:0007;pci:8086:25ab"
    # iommufd exists in the image only (Debian's 6.12 has CONFIG_IOMMUFD off).
    # The DMA qtest's oracle is a kprobe on type1's ioctl: iommufd-dma.py
    # is its counterpart here.
    iommufd_qtests=(vfio-subpage-test vfio-msix-test)
    if [ -x "$TOP/build/qemu/qemu-system-x86_64" ] &&
       [ -x "$TOP/build/qemu/tests/qtest/vfio-subpage-test" ] &&
       [ -x "$TOP/build/qemu/tests/qtest/vfio-msix-test" ]; then
        t1=$SECONDS r=0
        VFIO_DIRECT_KERNEL_TREE=$kimage "$TOP/tests/testbed/run-in-l1.sh" \
            --append iomem=relaxed --timeout 1500 x86 -- \
            "$TOP/tests/kernel/l1-iommufd.sh" "$TOP/build" \
            "${VFIO_DIRECT_TEST_IOMMUFD_BROKEN:--}" "${iommufd_qtests[@]}" \
            >"$out/iommufd.log" 2>&1 || r=$?
        echo "$r" >"$out/iommufd.rc"
        note "iommufd in our image: rc=$r, $((SECONDS - t1)) s"
        [ "$r" = 0 ] || { cat "$out/iommufd.log" >&2; rc=1; }
    else
        note "no $TOP/build/qemu and its vfio qtests (make; ninja -C build/qemu tests/qtest/vfio-subpage-test tests/qtest/vfio-msix-test): iommufd is not run here"
    fi
else
    note "no kernel image for this series in the cache: K1 runs skipped (make kernel, or --image)"
fi
note "L1 runs done in $((SECONDS - t0)) s"
python3 "$TOP/tests/kernel/check-kernel.py" "$out" || rc=1
exit "$rc"
