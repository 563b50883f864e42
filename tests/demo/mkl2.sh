#!/bin/bash
# mkl2.sh - the demo's and the libvirt test's L2 guest: kernel and initramfs.
#
#   tests/demo/mkl2.sh OUTDIR
#
# The L2 runs the x86 test bed's own Debian kernel (fetch-kernel.sh amd64)
# with an initramfs built by mkinitramfs.sh: busybox, the drivers of the
# devices passed through (e1000e, nvme, sdhci-pci, i6300esb, pvpanic-pci),
# l2-touch (tests/guest) and l2-init.sh as /init.  Writes OUTDIR/vmlinuz and
# OUTDIR/initrd.cpio.gz (OUTDIR inside the repository, so the L1 sees
# them) and rebuilds only when an input changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
testbed=$here/../testbed
[ $# = 1 ] || { echo "usage: mkl2.sh OUTDIR" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)

kdir=$("$testbed/fetch-kernel.sh" amd64)
kimage=$(ls "$kdir"/boot/vmlinuz-*)
key=$(cat "$here/l2-init.sh" "$here/../guest/l2-touch.c" "$testbed/mkinitramfs.sh" |
      sha256sum | cut -c1-16)-$(basename "$kimage")
if [ "$(cat "$out/l2.key" 2>/dev/null)" = "$key" ] &&
   [ -s "$out/initrd.cpio.gz" ] && [ -s "$out/vmlinuz" ]; then
    exit 0
fi
make -s -C "$here/../guest" O="$out" l2-touch
"$testbed/mkinitramfs.sh" --modules "e1000e nvme sdhci-pci i6300esb pvpanic-pci" \
    --init "$here/l2-init.sh" --bin "$out/l2-touch" amd64 "$out/initrd.cpio.gz" >/dev/null
cp "$kimage" "$out/vmlinuz"
echo "$key" >"$out/l2.key"
