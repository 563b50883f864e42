# shellcheck shell=bash
# lib-l1.sh - what in-l1.sh (x86) and in-l1-pseries.sh share (sourced).
#
# Set dom (the domain's name) before sourcing.  Gives TAP helpers (ok,
# finish, wait_for, destroy_check), monitor and process helpers (hmp,
# qmp, qpid, vfio_maps, vfio_fds, vmlck_kib) and libvirt_start, which runs
# Debian's libvirtd with a private configuration: a tmpfs over
# /etc/libvirt, root, no cgroups, no namespaces, no security driver, no
# virtlogd, a libvirt-qemu user on copies of passwd and group.
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
# The last check of a run: virsh destroy ends the domain's QEMU.
destroy_check() {
    p=$(qpid)
    $virsh destroy "$dom" >/dev/null 2>&1
    wait_for 30 sh -c "! kill -0 $p"
    ok $? "virsh destroy: QEMU $p is gone"
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
qmp() { $virsh qemu-monitor-command "$dom" "$1"; }
qpid() { cat "/run/libvirt/qemu/$dom.pid" 2>/dev/null; }
# vfio_maps: QEMU's mappings of a VFIO device file
vfio_maps() { grep -c 'vfio-device\|/dev/vfio' "/proc/$(qpid)/maps"; }
vfio_fds() { ls -l "/proc/$(qpid)/fd" | grep -c '/dev/vfio/[0-9]'; }
# vmlck_kib: the kernel's count of QEMU's locked memory (preregistered
# guest RAM and pinned DMA pages are charged to it)
vmlck_kib() { awk '/^VmLck:/ { print $2 }' "/proc/$(qpid)/status"; }

# libvirt_start EMULATOR QEMU [CAPSDIR]: libvirtd running, EMULATOR
# (/opt/vfio-direct/bin/NAME) linked to QEMU, one TAP line.  With
# CAPSDIR, libvirt's capability cache lives there between runs.
libvirt_start() {
    local emulator=$1 qemu=$2 capsdir=${3:-} f t
    mount -t tmpfs -o mode=0755 libvirt-etc /etc/libvirt ||
        { ok 1 "tmpfs over /etc/libvirt"; finish; }
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
    # libvirtd resolves its built-in QEMU user (libvirt-qemu) before
    # reading qemu.conf: give it one, on copies of passwd and group.
    for f in passwd group; do
        cp "/etc/$f" "/run/$f" 2>/dev/null ||
            case $f in
            passwd) echo 'root:x:0:0:root:/root:/bin/sh' ;;
            group) echo 'root:x:0:' ;;
            esac >"/run/$f"
        grep -q '^libvirt-qemu:' "/run/$f" || case $f in
            passwd) echo 'libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin' ;;
            group) echo 'libvirt-qemu:x:64055:' ;;
        esac >>"/run/$f"
        [ -e "/etc/$f" ] || : >"/etc/$f"
        mount --bind "/run/$f" "/etc/$f"
    done
    mkdir -p /var/lib/libvirt/images /var/cache/libvirt /var/log/libvirt/qemu \
        /run/libvirt /opt/vfio-direct/bin
    [ -e /var/run ] || ln -s /run /var/run
    # CAPSDIR (a writable share) keeps libvirt's probe of QEMU's
    # capabilities; libvirt probes again when the binary changed.
    if [ -n "$capsdir" ] && [ -d "$capsdir" ]; then
        mkdir -p /var/cache/libvirt/qemu
        mount --bind "$capsdir" /var/cache/libvirt/qemu
    fi
    ln -sf "$qemu" "/opt/vfio-direct/bin/$emulator"

    # PATH without /usr/bin: libvirtd then probes no emulator but ours
    # (each probe of a QEMU binary takes 20-30 s in a TCG L1).
    PATH=/usr/sbin:/sbin /usr/sbin/libvirtd -f /etc/libvirt/libvirtd.conf \
        >/var/log/libvirt/stdout 2>&1 &
    lvpid=$!
    t=$(date +%s)
    wait_for 90 $virsh list --all
    ok $? "libvirtd $(libvirtd --version | awk '{print $NF}') answers ($(($(date +%s) - t)) s)" \
        "$(tail -n 20 /var/log/libvirt/libvirtd.log /var/log/libvirt/stdout 2>&1)"
    [ "$fail" = 0 ] || finish
}
