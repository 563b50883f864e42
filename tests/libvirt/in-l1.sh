#!/bin/bash
# in-l1.sh - the libvirt test, inside the x86 test-bed L1 (run by run.sh).
#
#   in-l1.sh QEMU L2DIR GUIDE [CAPSDIR]
#
# Runs Debian's libvirtd (the host's, from the shared /usr) with the
# private configuration of lib-l1.sh (a tmpfs over /etc/libvirt: root, no
# cgroups, no namespaces, no security driver, no virtlogd; a libvirt-qemu
# user on copies of passwd and group), links QEMU (our build) as
# /opt/vfio-direct/bin/qemu-system-x86_64 and the L2 kernel and initramfs
# of L2DIR (tests/demo/mkl2.sh) into /var/lib/libvirt/images, then takes
# the domain and hostdev XML of the user guide GUIDE verbatim
# (docs-xml.py) and checks, one TAP line each:
# With CAPSDIR, libvirt's capability cache lives there between runs.
#   - the domain starts under nested KVM and its Linux boots;
#   - the <qemu:override> property reaches QEMU's -device;
#   - virsh qemu-monitor-command --hmp 'info vfio': sdhci BAR0 direct;
#   - virsh detach-device --live: the device leaves info vfio, QEMU's
#     memory map (/proc/PID/maps), its VFIO file descriptors and the flat
#     view ("info mtree -f");
#   - virsh attach-device --live: back, BAR0 direct again, mapped again;
#   - virsh destroy leaves no QEMU behind.
# Ends with "N passed, M failed"; exit status 1 when a check failed.
set -uo pipefail
[ $# -ge 3 ] || { echo "usage: in-l1.sh QEMU L2DIR GUIDE [CAPSDIR]" >&2; exit 2; }
qemu=$1 l2dir=$2 guide=$3 capsdir=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
dom=vfio-direct-guest
sdhci=0000:00:03.0
. "$here/lib-l1.sh"

sdhci_direct() {
    hmp 'info vfio' | awk -v h="$sdhci" '
        /^vfio-pci / { dev = ($2 == h ":") }
        dev && /BAR0 / { bar0 = 1; direct = / guest-size 0x1000 .* subpage direct/; next }
        dev && bar0 && /^      0x/ { if ($2 != "direct") direct = 0 }
        dev && /^    BAR[1-5] / { bar0 = 0 }
        END { exit !direct }'
}
no_vfio() { hmp 'info vfio' | grep -q '^No vfio-pci devices'; }
has_vfio() { hmp 'info vfio' | grep -q "^vfio-pci $sdhci:"; }

libvirt_start qemu-system-x86_64 "$qemu" "$capsdir"
cp "$l2dir/vmlinuz" /var/lib/libvirt/images/$dom.vmlinuz
cp "$l2dir/initrd.cpio.gz" /var/lib/libvirt/images/$dom.initrd
python3 "$here/docs-xml.py" "$guide" domain >/tmp/domain.xml &&
    python3 "$here/docs-xml.py" "$guide" hostdev >/tmp/hostdev.xml
ok $? "the user guide's domain and hostdev examples"

t=$(date +%s)
out=$($virsh define /tmp/domain.xml 2>&1 && $virsh start "$dom" 2>&1)
ok $? "virsh define and start ($(($(date +%s) - t)) s, capabilities probe included)" \
    "$out
$(tail -n 20 /var/log/libvirt/qemu/$dom.log 2>/dev/null)"
[ "$fail" = 0 ] || finish
console=/var/log/libvirt/qemu/$dom.console
t=$(date +%s)
wait_for 180 grep -q L2-READY "$console"
ok $? "the L2 Linux boots ($(($(date +%s) - t)) s)" "$(tail -n 20 "$console" 2>&1)"

grep -q 'x-bar-page-align":"on' "/proc/$(qpid)/cmdline"
ok $? "<qemu:override> sets x-bar-page-align=on on the hostdev's -device" \
    "$(tr '\0' ' ' <"/proc/$(qpid)/cmdline")"

sdhci_direct
ok $? "info vfio: sdhci BAR0 (256 bytes) is a 4 KiB page to the guest, direct" "$(hmp 'info vfio')"
maps0=$(vfio_maps) fds0=$(vfio_fds)
[ "$maps0" -gt 0 ] && [ "$fds0" -gt 0 ]
ok $? "QEMU maps the device ($maps0 VFIO mappings, $fds0 group fds)"

t=$(date +%s)
out=$($virsh detach-device "$dom" /tmp/hostdev.xml --live 2>&1)
wait_for 60 no_vfio
ok $? "detach-device --live: gone from info vfio ($(($(date +%s) - t)) s)" \
    "$out
$(hmp 'info vfio')"
m=$(vfio_maps) f=$(vfio_fds) flat=$(hmp 'info mtree -f' | grep -c "$sdhci")
[ "$m" = 0 ] && [ "$f" = 0 ] && [ "$flat" = 0 ]
ok $? "no mapping left behind: $m VFIO mappings, $f group fds, $flat flat-view sections" \
    "$(grep 'vfio-device\|/dev/vfio' "/proc/$(qpid)/maps"; ls -l "/proc/$(qpid)/fd" | grep /dev/vfio)"

t=$(date +%s)
out=$($virsh attach-device "$dom" /tmp/hostdev.xml --live 2>&1)
wait_for 60 sdhci_direct
ok $? "attach-device --live: sdhci BAR0 direct again ($(($(date +%s) - t)) s)" \
    "$out
$(hmp 'info vfio')"
m=$(vfio_maps)
[ "$m" -gt 0 ]
ok $? "QEMU maps the device again ($m VFIO mappings)"

destroy_check
finish
