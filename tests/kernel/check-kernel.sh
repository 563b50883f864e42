#!/bin/bash
# check-kernel.sh - prove the kernel series (linux/) in the x86 test-bed L1.
#
#   tests/kernel/check-kernel.sh [--image|--no-image] [--out DIR]
#
# Boots x86 L1s (tests/testbed/run-l1.sh) and judges what
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
#   image route (scripts/kernel.sh image: K1 needs the PCI core, built in):
#     k1-keepsize      our image, pci=resource_alignment=keepsize: for sdhci
#                      and i6300esb: the kernel reassigns those two
#     k1-named-qboot   the same on qboot (the kernel places every BAR)
#     k1-all           qboot and keepsize:* (every device)
#     k1-none          our image, qboot, no option
#   (x86 has no PCI_PROBE_ONLY, so K1's probe-only path is not run here.)
#     stock-resize     the stock image, qboot, the old resizing form
#
# The image runs happen with --image (build the image when it is not
# cached: 15-60 min on 2 cores) or, by default, when scripts/kernel.sh
# cached says the image for this series and fragment is in the cache;
# --no-image skips them.  Prints check lines and "N passed, M failed".
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

# The static checkers, built in the cache when their source changed.
probes=$CACHE/probe/amd64
mkdir -p "$probes"
for p in vfio-kcheck vfio-type1-stats vfio-peer-bar; do
    if [ ! -x "$probes/$p" ] || [ "$TOP/tests/kernel/$p.c" -nt "$probes/$p" ] ||
       [ "$TOP/tests/kernel/type1-stats.h" -nt "$probes/$p" ]; then
        gcc -static -O2 -Wall -Wextra -Werror -o "$probes/$p.tmp" "$TOP/tests/kernel/$p.c" ||
            die "building $p failed"
        mv "$probes/$p.tmp" "$probes/$p"
    fi
done

t0=$SECONDS
modules=$("$TOP/scripts/kernel.sh" modules)
stock=$("$TOP/scripts/kernel.sh" stock)
note "modules route ready in $((SECONDS - t0)) s: $modules"
kimage=
case $image in
yes) kimage=$("$TOP/scripts/kernel.sh" image) ;;
auto) if "$TOP/scripts/kernel.sh" cached; then kimage=$("$TOP/scripts/kernel.sh" image); fi ;;
esac

qboot=/usr/share/qemu/qboot.rom
align_two='pci=resource_alignment=keepsize:pci:1b36:0007;keepsize:pci:8086:25ab'
rc=0
# shellcheck disable=SC2317  # called by l1_retry
# boot OPTIONS... DIR: one L1 boot into DIR (l1_retry makes DIR afresh;
# the log keeps every attempt, so that a test-bed fault can be read).
boot() {
    local dir=${*: -1}
    cp "$probes/vfio-kcheck" "$probes/vfio-type1-stats" "$probes/vfio-peer-bar" "$dir/"
    "$TOP/tests/testbed/run-l1.sh" --quiet --out "$dir" \
        --run "$TOP/tests/kernel/l1-probe.sh" "${@:1:$#-1}" x86 2>>"$dir/../$(basename "$dir").log"
}
# run NAME [run-l1.sh options]: the L1 run NAME into $out/NAME.
run() {
    local name=$1 r=0
    shift
    l1_retry x86 "$out/$name" boot "$@" || r=$?
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
if [ -n "$kimage" ]; then
    [ -r "$qboot" ] || die "no $qboot (qemu-system-data)"
    run k1-keepsize --kernel-tree "$kimage" --append "$align_two"
    run k1-named-qboot --kernel-tree "$kimage" --bios "$qboot" --append "$align_two"
    run k1-all --kernel-tree "$kimage" --bios "$qboot" --append "pci=resource_alignment=keepsize:*"
    run k1-none --kernel-tree "$kimage" --bios "$qboot"
    run stock-resize --kernel-tree "$stock" --bios "$qboot" \
        --append "pci=resource_alignment=pci:1b36:0007;pci:8086:25ab"
else
    note "no kernel image for this series in the cache: K1 runs skipped (make kernel, or --image)"
fi
note "L1 runs done in $((SECONDS - t0)) s"
python3 "$TOP/tests/kernel/check-kernel.py" "$out" || rc=1
exit "$rc"
