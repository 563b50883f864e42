#!/bin/sh
# l2-init.sh - /init of the demo's and the libvirt test's L2 guest.
#
# A Linux L2 under KVM in the x86 test-bed L1 with the L1's vfio-pci
# devices passed through.  Its own drivers bind to them and touch their
# registers; the host side (tests/demo/demo-l1.py, tests/libvirt/in-l1.sh)
# reads the marks below on the serial console:
#
#   L2-INIT T            /init runs, T seconds after the kernel started
#   L2-DEV NAME BDF DRV  a passed-through device and the driver it bound to
#   L2-PROBED T          every device found has its driver (or 10 s passed)
#   L2-WORK ...          what the drivers report (link, nvme state, ...)
#   TOUCH ...            l2-touch: a register read in a loop
#   L2-DONE T            the work is over; the host now reads its counters
#
# l2.mode=idle (the libvirt test) stops after L2-PROBED ("L2-READY") and
# stays up for hot-unplug and replug (on pseries l2-drc, from mkl2.sh,
# does the guest's part of it); l2.loads=N (default 1000) sets the
# loads per register loop.
# l2.mode=dma (tests/testbed/l2-dma.py) moves data through the nvme
# namespace right after probe: l2-dma writes l2.blocks=N (default 128)
# blocks of 64 KiB from buffers spread over RAM with O_DIRECT, reads them
# back into others and compares ("L2-DMA OK|FAIL ..."); the kernel's
# lines about nvme, I/O errors and timeouts follow as "L2-KLOG ...",
# then L2-DONE.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

arg() {
    v=$2
    for w in $(cat /proc/cmdline); do
        case $w in "l2.$1="*) v=${w#*=} ;; esac
    done
    echo "$v"
}
up() { cut -d' ' -f1 /proc/uptime; }

echo "L2-INIT $(up)"
mode=$(arg mode demo)
loads=$(arg loads 1000)
while read -r m; do
    insmod "/lib/modules/$m" 2>/dev/null
done </lib/modules/load-order

# name vendor:device driver
want="sdhci 1b36:0007 sdhci-pci
e1000e 8086:10d3 e1000e
nvme 1b36:0010 nvme
i6300esb 8086:25ab i6300esb
pvpanic 1b36:0011 pvpanic-pci"
# xhci where the initramfs has its driver (the pseries L2)
grep -q xhci-pci /lib/modules/load-order &&
    want="$want
xhci 1b36:000d xhci_hcd"

devs() {
    for d in /sys/bus/pci/devices/*; do
        id=$(sed 's/^0x//' "$d/vendor"):$(sed 's/^0x//' "$d/device")
        echo "$want" | while read -r n i drv; do
            [ "$i" = "$id" ] && echo "$n ${d##*/} $drv"
        done
    done
}

i=0
while [ $i -lt 100 ]; do
    missing=0
    for x in $(devs | tr ' ' :); do
        bdf=$(echo "$x" | cut -d: -f2-4)
        [ -e "/sys/bus/pci/devices/$bdf/driver" ] || missing=1
    done
    [ $missing = 0 ] && [ $mode != demo ] && break
    # the demo also waits for the nvme controller to be live
    if [ $missing = 0 ] && { ! devs | grep -q '^nvme ' ||
        grep -q live /sys/class/nvme/nvme0/state 2>/dev/null; }; then
        break
    fi
    sleep 0.1
    i=$((i + 1))
done
devs | while read -r n bdf drv; do
    bound=$(basename "$(readlink "/sys/bus/pci/devices/$bdf/driver")" 2>/dev/null)
    echo "L2-DEV $n $bdf ${bound:-none}"
done
echo "L2-PROBED $(up)"

if [ "$mode" = dma ]; then
    # the namespace appears once the controller's reset work is done
    # (the controller goes away when that fails)
    i=0
    while [ ! -b /dev/nvme0n1 ] && [ -e /sys/class/nvme/nvme0 ] &&
        [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    echo "L2-NVME $(up) $(cat /sys/class/nvme/nvme0/state 2>/dev/null || echo none)"
    if [ -b /dev/nvme0n1 ]; then
        l2-dma /dev/nvme0n1 "$(arg blocks 128)"
    else
        echo "L2-DMA FAIL no /dev/nvme0n1"
    fi
    dmesg | grep -iE 'nvme|I/O error|timeout|DMAR|fault' | sed 's/^/L2-KLOG /'
    echo "L2-DONE $(up)"
    while :; do sleep 5; done
fi

if [ "$mode" = idle ]; then
    # pseries: l2-drc answers PCI hot-plug requests (L2-DRC lines)
    [ -x /bin/l2-drc ] && l2-drc &
    echo "L2-READY"
    while :; do sleep 5; done
fi
sleep 1

bdf_of() { devs | awk -v n="$1" '$1 == n { print $2 }'; }

# e1000e: link up (the driver polls the link and PHY registers), then
# the statistics registers (read by every statistics query).
eth=$(ls "/sys/bus/pci/devices/$(bdf_of e1000e)/net" 2>/dev/null | head -n 1)
if [ -n "$eth" ]; then
    ip link set "$eth" up
    i=0
    while [ "$(cat "/sys/class/net/$eth/carrier" 2>/dev/null)" != 1 ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    for k in 1 2 3 4 5; do
        cat "/sys/class/net/$eth/statistics/rx_packets" >/dev/null
    done
    echo "L2-WORK e1000e $eth carrier $(cat "/sys/class/net/$eth/carrier" 2>/dev/null) speed $(cat "/sys/class/net/$eth/speed" 2>/dev/null)"
fi
# nvme: the controller's state, and reads through its queues (DMA).
if [ -e /sys/class/nvme/nvme0 ]; then
    n=$(dd if=/dev/nvme0n1 of=/dev/null bs=64k count=32 2>&1 | grep -c 'records out')
    echo "L2-WORK nvme state $(cat /sys/class/nvme/nvme0/state) model $(cat /sys/class/nvme/nvme0/model | tr -d ' ') read-ok $n"
fi
# sdhci: the driver read the capabilities at probe; read them again in
# a loop, and the small BARs' first register the same way.
for spec in "sdhci 0 0x40" "i6300esb 0 0x0" "pvpanic 0 0x0" "e1000e 0 0x8" "nvme 0 0x1c" \
            "xhci 0 0x0"; do
    set -- $spec
    bdf=$(bdf_of "$1")
    [ -n "$bdf" ] && echo "L2-TOUCH $1 $(l2-touch "$bdf" "$2" "$3" "$loads")"
done
mmc=$(ls /sys/class/mmc_host 2>/dev/null | head -n 1)
[ -n "$mmc" ] && echo "L2-WORK sdhci $mmc"
# xhci: the driver read its capabilities and registered its root hubs
x=$(bdf_of xhci)
[ -n "$x" ] && [ -d "/sys/bus/pci/devices/$x/usb1" ] &&
    echo "L2-WORK xhci root hubs $(ls -d "/sys/bus/pci/devices/$x"/usb* | sed 's,.*/,,' | tr '\n' ' ')"
echo "L2-DONE $(up)"
while :; do sleep 5; done
