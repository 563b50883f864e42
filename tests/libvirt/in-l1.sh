#!/bin/bash
# in-l1.sh - the libvirt test, inside the x86 test-bed L1 (run by run.sh).
#
#   in-l1.sh QEMU L2DIR GUIDE [CAPSDIR]
#
# Runs Debian's libvirtd (the host's, from the shared /usr) with a private
# configuration (a tmpfs over /etc/libvirt: root, no cgroups, no
# namespaces, no security driver, no virtlogd; a libvirt-qemu user on
# copies of passwd and group), links QEMU (our build) as
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
virsh="virsh -q -c qemu:///system"
pass=0 fail=0 n=0
t0=$(date +%s)

ok() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then
        pass=$((pass + 1)); echo "ok $n - $2"
    else
        fail=$((fail + 1)); echo "not ok $n - $2"
        [ -z "${3:-}" ] || printf '%s\n' "$3" | head -n 30 | sed 's/^/# /'
    fi
}
finish() {
    $virsh destroy "$dom" >/dev/null 2>&1
    $virsh undefine "$dom" >/dev/null 2>&1
    if [ -n "${lvpid:-}" ]; then
        kill "$lvpid" 2>/dev/null
        wait_for 15 sh -c "! kill -0 $lvpid" || kill -9 "$lvpid" 2>/dev/null
    fi
    echo "# libvirt test: $(($(date +%s) - t0)) s in the L1"
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ] && exit 0
    exit 1
}
# wait_for SECONDS CMD...: poll CMD every second until it succeeds.
wait_for() {
    local end=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 1
    done
}
hmp() { $virsh qemu-monitor-command --hmp "$dom" "$1" | tr -d '\r'; }
qpid() { cat "/run/libvirt/qemu/$dom.pid" 2>/dev/null; }
# vfio_maps: QEMU's mappings of a VFIO device file
vfio_maps() { grep -c 'vfio-device\|/dev/vfio' "/proc/$(qpid)/maps"; }
vfio_fds() { ls -l "/proc/$(qpid)/fd" | grep -c '/dev/vfio/[0-9]'; }
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

# A private libvirt configuration, on a tmpfs over the host's /etc/libvirt.
mount -t tmpfs -o mode=0755 libvirt-etc /etc/libvirt || { ok 1 "tmpfs over /etc/libvirt"; finish; }
cat >/etc/libvirt/libvirtd.conf <<'CONF'
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
cat >/etc/libvirt/qemu.conf <<'CONF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
CONF
# libvirtd resolves its built-in QEMU user (libvirt-qemu) before reading
# qemu.conf: give it one, on copies of the host's passwd and group.
for f in passwd group; do
    cp "/etc/$f" "/run/$f"
    grep -q '^libvirt-qemu:' "/run/$f" || case $f in
        passwd) echo 'libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin' ;;
        group) echo 'libvirt-qemu:x:64055:' ;;
    esac >>"/run/$f"
    mount --bind "/run/$f" "/etc/$f"
done
mkdir -p /var/lib/libvirt/images /var/cache/libvirt /var/log/libvirt/qemu \
    /run/libvirt /opt/vfio-direct/bin
[ -e /var/run ] || ln -s /run /var/run
# CAPSDIR (a writable share) keeps libvirt's probe of QEMU's capabilities
# from one run to the next; libvirt probes again when the binary changed.
if [ -n "$capsdir" ] && [ -d "$capsdir" ]; then
    mkdir -p /var/cache/libvirt/qemu
    mount --bind "$capsdir" /var/cache/libvirt/qemu
fi
ln -sf "$qemu" /opt/vfio-direct/bin/qemu-system-x86_64
cp "$l2dir/vmlinuz" /var/lib/libvirt/images/$dom.vmlinuz
cp "$l2dir/initrd.cpio.gz" /var/lib/libvirt/images/$dom.initrd
python3 "$here/docs-xml.py" "$guide" domain >/tmp/domain.xml &&
    python3 "$here/docs-xml.py" "$guide" hostdev >/tmp/hostdev.xml
ok $? "the user guide's domain and hostdev examples"

# PATH without /usr/bin: libvirtd then probes no emulator but ours (each
# probe of a QEMU binary takes 20-30 s in the TCG L1).
PATH=/usr/sbin:/sbin /usr/sbin/libvirtd -f /etc/libvirt/libvirtd.conf >/var/log/libvirt/stdout 2>&1 &
lvpid=$!
t=$(date +%s)
wait_for 90 $virsh list --all
ok $? "libvirtd $(libvirtd --version | awk '{print $NF}') answers ($(($(date +%s) - t)) s)" "$(tail -n 20 /var/log/libvirt/libvirtd.log /var/log/libvirt/stdout 2>&1)"
[ "$fail" = 0 ] || finish

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

p=$(qpid)
$virsh destroy "$dom" >/dev/null 2>&1
wait_for 30 sh -c "! kill -0 $p"
ok $? "virsh destroy: QEMU $p is gone"
finish
