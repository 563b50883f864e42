#!/bin/sh
# l1-probe.sh - run inside a test-bed L1 (init.sh --run): the kernel facts
# the series' tests check, for the host side (check-kernel.py) to judge.
#
# Prints, on stdout:
#   the kernel release and command line, the IOMMU groups' interrupt
#   remapping state, /proc/iomem, and vfio-probe's JSON for every bound
#   device.
# With vfio_direct.unsafe=1 on the kernel command line it first sets
# vfio_iommu_type1's allow_unsafe_interrupts (busybox insmod does not read
# module options from the command line), so that a container can be set
# up without interrupt remapping.
arg() {
    v=
    for w in $(cat /proc/cmdline); do
        case $w in "vfio_direct.$1="*) v=${w#*=} ;; esac
    done
    echo "$v"
}
p=/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
if [ "$(arg unsafe)" = 1 ]; then
    echo 1 >"$p" || { echo "cannot set $p" >&2; exit 1; }
fi
echo "=== release"
uname -r
echo "=== cmdline"
cat /proc/cmdline
echo "=== allow_unsafe_interrupts"
cat "$p" 2>/dev/null || echo none
echo "=== dmesg"
dmesg | grep -E 'DMAR-IR|resource_alignment|requesting alignment|Ignoring requested alignments|keepsize|x2apic|vfio' || true
echo "=== iomem"
cat /proc/iomem
echo "=== probe"
exec vfio-probe
