#!/bin/sh
# l1-probe.sh - run inside a test-bed L1 (run-l1.sh --run): the kernel facts
# the series' tests check, for check-kernel.py to judge on the host.
#
# Prints sections "=== NAME": the kernel release, the command line,
# vfio_iommu_type1's allow_unsafe_interrupts, the kernel's lines about
# interrupt remapping and BAR alignment, and tests/kernel/vfio-kcheck's
# JSON for every bound device (copied to /out by check-kernel.sh); then
# tests/kernel/vfio-type1-stats on e1000e, with vfio_iommu_type1's
# disable_hugepages off and on (only where type1 is the IOMMU backend, not
# on pseries); with two edu devices (check-kernel.sh adds
# them), tests/kernel/vfio-peer-bar on them and nvme.
# With vfio_direct.unsafe=1 on the kernel command line it first sets
# allow_unsafe_interrupts (busybox insmod does not read module options
# from the command line), so that a container can be set up without
# interrupt remapping.
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
echo "=== machine"
uname -m
echo "=== cmdline"
cat /proc/cmdline
echo "=== allow_unsafe_interrupts"
cat "$p" 2>/dev/null || echo none
echo "=== dmesg"
dmesg | grep -E 'DMAR-IR|Enabled IRQ remapping|requesting alignment|Ignoring requested alignments|keepsize|resource_alignment|not assigned|can.t assign|failed to assign' || true
echo "=== kcheck"
bdfs=
for d in $VFIO_DIRECT_DEVICES; do
    bdfs="$bdfs ${d#*=}"
done
# shellcheck disable=SC2086
/out/vfio-kcheck $bdfs
e1000e='' edu_a='' edu_b='' nvme=''
for d in $VFIO_DIRECT_DEVICES; do
    case $d in
    e1000e=*) e1000e=${d#*=} ;;
    edu_a=*) edu_a=${d#*=} ;;
    edu_b=*) edu_b=${d#*=} ;;
    nvme=*) nvme=${d#*=} ;;
    esac
done
# sPAPR (pseries): no type1, so K4 and K5 have nothing to run on.
[ -d /sys/module/vfio_iommu_type1 ] || exit 0
hp=/sys/module/vfio_iommu_type1/parameters/disable_hugepages
echo "=== thp"
cat /sys/kernel/mm/transparent_hugepage/enabled
echo "=== type1-stats"
/out/vfio-type1-stats "$e1000e"
echo "=== type1-stats-nohuge"
echo 1 >"$hp" && /out/vfio-type1-stats "$e1000e"
echo 0 >"$hp"
if [ -n "$edu_a" ] && [ -n "$edu_b" ]; then
    echo "=== peer-bar"
    # shellcheck disable=SC2086  # nvme is optional
    /out/vfio-peer-bar "$edu_a" "$edu_b" $nvme
    echo "=== dmar"
    dmesg | grep -E 'DMAR: \[DMA|DMAR: DRHD' || true
fi
