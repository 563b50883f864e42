#!/bin/sh
# l1-iommufd.sh - run inside the image's x86 L1 (run-in-l1.sh): what iommufd
# and the VFIO device cdevs give, and our QEMU on them, for check-kernel.py.
#
#   l1-iommufd.sh BUILD-DIR BROKEN [QTEST...]
#
# Prints sections "=== NAME": the kernel release; the nodes (/dev/iommu,
# /dev/vfio/devices/ and each bound device's sysfs vfio-dev/);
# iommufd's and type1's allow_unsafe_interrupts; tests/kernel/iommufd-dma.py's
# JSON lines (one QEMU per backend, with BROKEN passed on: "-" for none);
# then each QTEST (run-qtests.sh's TEST[,ARG...]) through run-qtests.sh
# --iommufd as "TAP" lines labelled x86_64-iommufd.
set -u
[ $# -ge 2 ] || { sed -n '3,/^set -u/s/^# \{0,1\}//p' "$0" | sed '$d' >&2; exit 2; }
build=$1 broken=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
echo "=== release"
uname -r
echo "=== nodes"
for n in /dev/iommu /dev/vfio/vfio /dev/vfio/devices/*; do
    [ -e "$n" ] && echo "$n" || echo "no $n"
done
for d in $VFIO_DIRECT_DEVICES; do
    cdev=
    for c in "/sys/bus/pci/devices/${d#*=}/vfio-dev/"*; do
        [ -e "$c" ] && cdev="$cdev ${c##*/}"
    done
    echo "${d%%=*}:$cdev"
done
echo "=== allow_unsafe_interrupts"
for m in iommufd vfio_iommu_type1; do
    echo "$m $(cat /sys/module/$m/parameters/allow_unsafe_interrupts 2>/dev/null || echo none)"
done
echo "=== iommufd-dma"
[ "$broken" = - ] && broken=
t0=$(date +%s)
python3 "$here/iommufd-dma.py" "$build/qemu/qemu-system-x86_64" ${broken:+"$broken"}
echo "# iommufd-dma.py took $(($(date +%s) - t0)) s"
echo "=== qtests"
t0=$(date +%s)
[ $# = 0 ] || "$here/../testbed/run-qtests.sh" --iommufd x86_64-iommufd \
    "$build/qemu/qemu-system-x86_64" "$build/qemu/tests/qtest" "$@"
echo "# qtests took $(($(date +%s) - t0)) s"
