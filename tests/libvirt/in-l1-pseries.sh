#!/bin/bash
# in-l1-pseries.sh - the libvirt test, inside the pseries test-bed L1 (run.sh).
#
#   in-l1-pseries.sh QEMU L2DIR GUIDE [CAPSDIR]
#
# Runs in the chroot on the ppc64el sysroot that holds Debian's libvirt
# (run.sh), under nested KVM-HV.  libvirtd gets the private configuration
# of lib-l1.sh on a writable copy of the sysroot's /etc; QEMU (our
# ppc64le build) is linked as /opt/vfio-direct/bin/qemu-system-ppc64, the
# pseries L2 of L2DIR (tests/demo/mkl2.sh --arch ppc64el-64k) goes to
# /var/lib/libvirt/images, and the user guide GUIDE's pseries-domain and
# pseries-hostdev examples are taken verbatim (docs-xml.py; sdhci's
# hostdev is the domain's own element).  One TAP line each:
#   - the domain starts under KVM (not TCG) and its Linux binds nvme and
#     sdhci-pci;
#   - info vfio: nvme's 16 KiB BAR0 is its 64 KiB page to the guest and
#     direct throughout, its MSI-X table not emulated; sdhci's 256-byte
#     BAR0 direct too;
#   - detach-device --live of nvme, then of sdhci (the guest's l2-drc
#     releases each): gone from info vfio; with both
#     gone QEMU has no VFIO mapping and no group file, its locked memory
#     (VmLck: preregistered RAM and pinned TCE pages are charged there)
#     has lost all the preregistered RAM (2-4 MiB stay: KVM-HV charges
#     its in-kernel TCE tables there too), and neither device leaves a
#     flat-view section.  The flat view
#     ("info mtree -f") is read only once no device is left: QEMU 10.0's
#     "info mtree -f" keeps a reference to every flat view that several
#     address spaces share (system memory's: "memory" and the vCPU's),
#     so a device mapped there when it is asked is never finalized (no
#     DEVICE_DELETED, its files, the container and the preregistered RAM
#     kept until QEMU exits; see vfio-qtest-util.h);
#   - attach-device --live of nvme: the guest's nvme driver binds it,
#     BAR0 direct again, VmLck back to what the start had preregistered
#     (once, not twice), x-query-vfio's prereg count agreeing;
#   - virsh destroy leaves no QEMU behind.
# Ends with "N passed, M failed"; exit status 1 when a check failed.
set -uo pipefail
[ $# -ge 3 ] || { echo "usage: in-l1-pseries.sh QEMU L2DIR GUIDE [CAPSDIR]" >&2; exit 2; }
qemu=$1 l2dir=$2 guide=$3 capsdir=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
dom=vfio-direct-pseries
nvme=0000:00:06.0 sdhci=0000:00:01.0
. "$here/lib-l1.sh"
command -v awk >/dev/null || awk() { mawk "$@"; }
console=/var/log/libvirt/qemu/$dom.console
# con: the L2's console without the carriage returns of hvc0
con() { tr -d '\r' <"$console" 2>/dev/null; }

# bar0_direct BDF GUEST_SIZE: info vfio shows BDF's BAR0 presented as
# GUEST_SIZE, sub-page direct, every range of it direct
bar0_direct() {
    hmp 'info vfio' | awk -v h="$1" -v gs="$2" '
        /^vfio-pci / { dev = ($2 == h ":") }
        dev && /^    BAR0 / { bar0 = 1; direct = ($0 ~ (" guest-size " gs " ") && / subpage direct/); next }
        dev && bar0 && /^      0x/ { if ($2 != "direct") direct = 0 }
        dev && /^    BAR[1-5] |^  MSI-X/ { bar0 = 0 }
        END { exit !direct }'
}
msix_not_emulated() {
    hmp 'info vfio' | awk -v h="$1" '
        /^vfio-pci / { dev = ($2 == h ":") }
        dev && /^  MSI-X:/ { ok = / table not emulated/ }
        END { exit !ok }'
}
gone() { ! hmp 'info vfio' | grep -q "^vfio-pci $1:"; }
no_vfio() { hmp 'info vfio' | grep -q '^No vfio-pci devices'; }
flat_sections() { hmp 'info mtree -f' | grep -c "$1"; }
# prereg_bytes: x-query-vfio's preregistered bytes of the first device
prereg_bytes() {
    qmp '{"execute":"x-query-vfio"}' | python3 -c '
import json, sys
devs = json.load(sys.stdin)["return"]
print(devs[0]["dma"]["prereg"]["registered-bytes"] if devs else 0)'
}

# The sysroot's /etc is read-only: a writable copy for passwd and friends.
mkdir -p /run/etc && cp -a /etc/. /run/etc/ && mount --bind /run/etc /etc
ok $? "a writable /etc"
libvirt_start qemu-system-ppc64 "$qemu" "$capsdir"
cp "$l2dir/vmlinux" /var/lib/libvirt/images/$dom.vmlinux
cp "$l2dir/initrd.cpio.gz" /var/lib/libvirt/images/$dom.initrd
python3 "$here/docs-xml.py" "$guide" pseries-domain >/tmp/domain.xml &&
    python3 "$here/docs-xml.py" "$guide" pseries-hostdev >/tmp/nvme.xml &&
    python3 - /tmp/domain.xml "$sdhci" >/tmp/sdhci.xml <<'EOF'
import sys
import xml.etree.ElementTree as ET
bus, slot = sys.argv[2].split(":")[1:3]
slot = slot.split(".")[0]
for h in ET.parse(sys.argv[1]).getroot().iter("hostdev"):
    a = h.find("source/address")
    if int(a.get("bus"), 16) == int(bus, 16) and int(a.get("slot"), 16) == int(slot, 16):
        print(ET.tostring(h, encoding="unicode").strip())
        sys.exit(0)
sys.exit(1)
EOF
ok $? "the user guide's pseries domain and hostdev examples"
[ "$fail" = 0 ] || finish

t=$(date +%s)
out=$($virsh define /tmp/domain.xml 2>&1 && $virsh start "$dom" 2>&1)
ok $? "virsh define and start ($(($(date +%s) - t)) s, capabilities probe included)" \
    "$out
$(tail -n 20 /var/log/libvirt/qemu/$dom.log 2>/dev/null)"
[ "$fail" = 0 ] || finish
t=$(date +%s)
wait_for 300 sh -c "grep -q L2-READY '$console'"
ok $? "the L2 Linux boots ($(($(date +%s) - t)) s)" "$(con | tail -n 20)"
tr '\0' ' ' <"/proc/$(qpid)/cmdline" | grep -q 'accel=kvm\|-accel kvm'
ok $? "QEMU runs the pseries guest under KVM" "$(tr '\0' ' ' <"/proc/$(qpid)/cmdline")"
con | grep -q "^L2-DEV nvme .* nvme$" && con | grep -q "^L2-DEV sdhci .* sdhci-pci$"
ok $? "the guest's nvme and sdhci-pci drivers bind" "$(con | grep L2-)"

bar0_direct "$nvme" 0x10000 && msix_not_emulated "$nvme"
ok $? "info vfio: nvme BAR0 (16 KiB, MSI-X table inside) is a 64 KiB page to the guest, direct, table not emulated" \
    "$(hmp 'info vfio')"
bar0_direct "$sdhci" 0x10000
ok $? "info vfio: sdhci BAR0 (256 bytes) is a 64 KiB page to the guest, direct" "$(hmp 'info vfio')"
maps0=$(vfio_maps) fds0=$(vfio_fds) lck0=$(vmlck_kib) prereg0=$(prereg_bytes)
[ "$maps0" -gt 0 ] && [ "$fds0" -gt 0 ] && [ "$lck0" -gt 0 ] && [ "$prereg0" -gt 0 ]
ok $? "QEMU maps the devices ($maps0 VFIO mappings, $fds0 group fds), VmLck $lck0 KiB, $prereg0 bytes preregistered"

t=$(date +%s)
out=$($virsh detach-device "$dom" /tmp/nvme.xml --live 2>&1)
wait_for 60 gone "$nvme"
ok $? "detach-device --live nvme: the guest releases it ($(con | grep '^L2-DRC remove' | tail -n 1)), gone from info vfio ($(($(date +%s) - t)) s)" \
    "$out
$(con | grep L2-DRC)
$(hmp 'info vfio')"
# not "info mtree -f" yet: sdhci is still mapped (see above)
fewer_maps() { [ "$(vfio_maps)" -lt "$maps0" ]; }
wait_for 30 fewer_maps
m=$(vfio_maps)
[ "$m" -lt "$maps0" ]
ok $? "nvme leaves its mapping ($maps0 -> $m VFIO mappings)"

out=$($virsh detach-device "$dom" /tmp/sdhci.xml --live 2>&1)
wait_for 60 no_vfio
ok $? "detach-device --live sdhci: the guest releases it ($(con | grep '^L2-DRC remove' | tail -n 1)), no vfio-pci device left" \
    "$out
$(con | grep L2-DRC)
$(hmp 'info vfio')"
# QEMU finalizes an unplugged device (closing its files, releasing its
# container) a moment after it leaves info vfio
# unlocked: VmLck lost at least the preregistered RAM
unlocked() { [ $((lck0 - $(vmlck_kib))) -ge $((prereg0 / 1024)) ]; }
released() { [ "$(vfio_maps)" = 0 ] && [ "$(vfio_fds)" = 0 ] && unlocked; }
wait_for 30 released
m=$(vfio_maps) f=$(vfio_fds) lck=$(vmlck_kib)
flat=$(($(flat_sections "$sdhci") + $(flat_sections "$nvme")))
[ "$m" = 0 ] && [ "$f" = 0 ] && unlocked && [ "$flat" = 0 ]
ok $? "nothing left behind: $m VFIO mappings, $f group fds, VmLck $lck KiB (was $lck0, $((prereg0 / 1024)) KiB preregistered), $flat flat-view sections" \
    "$(grep 'vfio-device\|/dev/vfio' "/proc/$(qpid)/maps"; ls -l "/proc/$(qpid)/fd" | grep 'vfio'
       grep VmLck "/proc/$(qpid)/status")"

t=$(date +%s)
out=$($virsh attach-device "$dom" /tmp/nvme.xml --live 2>&1)
drc_added() { con | grep -q '^L2-DRC add'; }
wait_for 90 drc_added
con | grep -q '^L2-DRC add .* ok .* nvme$'
ok $? "attach-device --live nvme: the guest's nvme driver binds it ($(con | grep '^L2-DRC add' | tail -n 1), $(($(date +%s) - t)) s)" \
    "$out
$(con | grep L2-DRC)
$(con | tail -n 5)"
wait_for 30 bar0_direct "$nvme" 0x10000 && msix_not_emulated "$nvme"
ok $? "info vfio: nvme BAR0 a 64 KiB page and direct again, table not emulated" "$(hmp 'info vfio')"
lck=$(vmlck_kib) prereg=$(prereg_bytes)
[ "$lck" = "$lck0" ] && [ "$prereg" = "$prereg0" ]
ok $? "the same RAM preregistered once again: VmLck $lck KiB (start $lck0), $prereg bytes (start $prereg0)"

destroy_check
finish
