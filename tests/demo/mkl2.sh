#!/bin/bash
# mkl2.sh - the demo's and the libvirt test's L2 guest: kernel and initramfs.
#
#   tests/demo/mkl2.sh [--arch amd64|ppc64el-64k] OUTDIR
#
# The L2 runs the test bed's own Debian kernel (fetch-kernel.sh ARCH,
# default amd64) with an initramfs built by mkinitramfs.sh: busybox, the
# drivers of the devices passed through (e1000e, nvme, sdhci-pci; on
# amd64 i6300esb and pvpanic-pci, on ppc64el-64k xhci-pci and rpadlpar_io
# for PCI hot plug), l2-touch (tests/guest), l2-dma on amd64 (tests/guest:
# the data check of l2.mode=dma), l2-drc on ppc64el-64k
# (tests/guest: the guest's side of the sPAPR hot-plug connector) and
# l2-init.sh as /init.  Writes OUTDIR/vmlinuz (amd64) or OUTDIR/vmlinux
# (ppc64el-64k) and OUTDIR/initrd.cpio.gz (OUTDIR inside the repository,
# so the L1 sees them) and rebuilds only when an input changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
testbed=$here/../testbed
guest=$here/../guest
arch=amd64
if [ "${1:-}" = --arch ]; then
    arch=${2?--arch needs amd64 or ppc64el-64k}
    shift 2
fi
[ $# = 1 ] || { echo "usage: mkl2.sh [--arch amd64|ppc64el-64k] OUTDIR" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)

case $arch in
amd64)
    image=vmlinuz cc=gcc bins=(l2-touch l2-dma)
    modules="e1000e nvme sdhci-pci i6300esb pvpanic-pci"
    ;;
ppc64el-64k)
    image=vmlinux cc=powerpc64le-linux-gnu-gcc bins=(l2-touch l2-drc)
    modules="e1000e nvme sdhci-pci xhci-pci rpadlpar_io"
    ;;
*) echo "mkl2.sh: --arch $arch: want amd64 or ppc64el-64k" >&2; exit 2 ;;
esac
kdir=$("$testbed/fetch-kernel.sh" "$arch")
kimage=$(ls "$kdir"/boot/vmlinu[xz]-*)
key=$(cat "$here/l2-init.sh" "$guest/l2-touch.c" "$guest/l2-drc.c" "$guest/l2-dma.c" \
          "$testbed/mkinitramfs.sh" | sha256sum | cut -c1-16)-$arch-$(basename "$kimage")
if [ "$(cat "$out/l2.key" 2>/dev/null)" = "$key" ] &&
   [ -s "$out/initrd.cpio.gz" ] && [ -s "$out/$image" ]; then
    exit 0
fi
# the programs of this architecture, in a folder of their own
make -s -C "$guest" O="$out/$arch" CC="$cc" "${bins[@]}"
binargs=()
for b in "${bins[@]}"; do
    binargs+=(--bin "$out/$arch/$b")
done
"$testbed/mkinitramfs.sh" --modules "$modules" --init "$here/l2-init.sh" \
    "${binargs[@]}" "$arch" "$out/initrd.cpio.gz" >/dev/null
cp "$kimage" "$out/$image"
echo "$key" >"$out/l2.key"
