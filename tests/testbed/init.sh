#!/bin/sh
# init.sh - /init of the vfio-direct test-bed initramfs (runs inside an L1 guest).
#
# Mounts proc/sys/dev, loads the vfio and 9p modules, binds the requested
# devices to vfio-pci, mounts the 9p shares, optionally builds a chroot whose
# /usr (and /etc, /work/main, ...) are the host's (x86) or a sysroot's
# (pseries: the ppc64le cross build's), runs one command and powers off.
# Everything is driven by the kernel command line, so run-l1.sh needs no
# second channel into the guest:
#
#   vfio_direct.bind=NAME=BDF,...       devices to bind to vfio-pci; exported to
#                                       the command as VFIO_DIRECT_DEVICES="NAME=BDF ..."
#   vfio_direct.shares=TAG:PATH:ro|rw,...  9p shares: mounted at /mnt/TAG and at
#                                       PATH (in the chroot; else in the initramfs
#                                       root, where PATH does not exist already)
#   vfio_direct.run=PATH                shell script to run (default: vfio-probe on
#                                       every bound device)
#   vfio_direct.chroot=1                run it inside the chroot (needs a share at /usr,
#                                       or a sysroot)
#   vfio_direct.sysroot=PATH            the chroot's /usr (and /etc) come from PATH, a
#                                       share's host path or below one: on pseries
#                                       the ppc64el sysroot of the cross build
#   vfio_direct.shell=1                 interactive shell on the console at the end
#                                       (without run=, instead of the probe)
#   vfio_direct.kvm_hold=1              hold one KVM VM for the L1's life
#                                       (vfio-probe -k), so that the L2s of
#                                       the tests never patch __schedule
#                                       (see tests/testbed/flake-rate.sh)
#
# The command's stdout, stderr and exit status go to the share tagged "out"
# (files stdout, stderr, rc, timings) when there is one, and to the console
# between the markers VFIO-DIRECT-BEGIN and VFIO-DIRECT-END rc=N.

export PATH=/sbin:/bin

/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

say() {
    echo "vfio-direct: $*"
}

uptime_s() {
    cut -d' ' -f1 /proc/uptime
}

# arg NAME: value of the last vfio_direct.NAME= on the kernel command line
arg() {
    v=
    for w in $(cat /proc/cmdline); do
        case $w in
        "vfio_direct.$1="*) v=${w#*=} ;;
        esac
    done
    echo "$v"
}

t_init=$(uptime_s)
say "init at ${t_init}s, kernel $(uname -r)"

while read -r m; do
    insmod "/lib/modules/$m" || say "insmod $m failed"
done </lib/modules/load-order

if [ "$(arg kvm_hold)" = 1 ]; then
    if [ -e /dev/kvm ]; then
        vfio-probe -k &
    else
        say "kvm_hold: no /dev/kvm"
    fi
fi

# Bind: driver_override, unbind from any driver, then ask for a probe.
devices=
for pair in $(arg bind | tr , ' '); do
    name=${pair%%=*}
    bdf=${pair#*=}
    dev=/sys/bus/pci/devices/$bdf
    if [ ! -d "$dev" ]; then
        say "bind $name: no device $bdf"
        continue
    fi
    echo vfio-pci >"$dev/driver_override"
    [ -e "$dev/driver" ] && echo "$bdf" >"$dev/driver/unbind"
    echo "$bdf" >/sys/bus/pci/drivers_probe
    drv=$(basename "$(readlink "$dev/driver")" 2>/dev/null)
    if [ "$drv" = vfio-pci ]; then
        say "bound $name $bdf group $(basename "$(readlink "$dev/iommu_group")")"
        devices="$devices${devices:+ }$name=$bdf"
    else
        say "bind $name $bdf failed (driver: ${drv:-none})"
    fi
done
export VFIO_DIRECT_DEVICES="$devices"
t_bound=$(uptime_s)
say "bound at ${t_bound}s: $devices"

mounted() {
    grep -q " $1 " /proc/mounts
}

# 9p shares: /mnt/TAG; read-only ones are cached, "out" is written through.
shares=$(arg shares | tr , ' ')
for s in $shares; do
    tag=${s%%:*}
    mode=${s##*:}
    opts=trans=virtio,version=9p2000.L,msize=262144
    [ "$mode" = ro ] && opts=$opts,ro,cache=loose
    mkdir -p "/mnt/$tag"
    mount -t 9p -o "$opts" "$tag" "/mnt/$tag" || say "mount of 9p share $tag failed"
done

out=/tmp/out
mounted /mnt/out && out=/mnt/out
mkdir -p "$out"

# bind_shares ROOT: each share at its host path under ROOT; paths that
# already exist there are left alone (the initramfs's own /etc, say).
bind_shares() {
    for s in $shares; do
        tag=${s%%:*}
        path=${s#*:}
        path=${path%:*}
        mounted "/mnt/$tag" || continue
        [ -e "$1$path" ] && continue
        mkdir -p "$1$path"
        mount --bind "/mnt/$tag" "$1$path" || return 1
    done
}

# The chroot: tmpfs root, the shares at their host paths, merged-usr links,
# the kernel filesystems, writable /tmp and /run, and the probe.
setup_chroot() {
    r=/newroot
    mount -t tmpfs -o mode=0755 root "$r" || return 1
    # /tmp and /run first: a share may live below them (a clone in /tmp).
    mkdir -p "$r/tmp" "$r/run"
    mount -t tmpfs -o mode=1777 tmp "$r/tmp"
    mount -t tmpfs -o mode=0755 run "$r/run"
    bind_shares "$r" || return 1
    sysroot=$(arg sysroot)
    if [ -n "$sysroot" ]; then
        [ -d "$r$sysroot/usr/bin" ] ||
            { echo "chroot: no sysroot at $sysroot (share it with --share)" >&2; return 1; }
        for d in usr etc; do
            [ -e "$r/$d" ] && continue
            mkdir -p "$r/$d"
            mount --bind "$r$sysroot/$d" "$r/$d" || return 1
        done
    fi
    [ -d "$r/usr/bin" ] || { echo "chroot: no share at /usr" >&2; return 1; }
    for d in bin sbin lib lib32 lib64 libx32; do
        [ -d "$r/usr/$d" ] && [ ! -e "$r/$d" ] && ln -s "usr/$d" "$r/$d"
    done
    mkdir -p "$r/dev" "$r/proc" "$r/sys"
    mount --bind /dev "$r/dev"
    mkdir -p "$r/dev/pts" "$r/dev/shm"
    mount -t devpts devpts "$r/dev/pts"
    mount -t tmpfs -o mode=1777 shm "$r/dev/shm"
    mount -t proc proc "$r/proc"
    mount -t sysfs sysfs "$r/sys"
    mkdir -p "$r/run/vfio-direct"
    cp /bin/vfio-probe "$r/run/vfio-direct/"
}

run=$(arg run)
shell=$(arg shell)
chroot_ok=
run_cmd() {
    if [ "$(arg chroot)" = 1 ] && [ -n "$run" ]; then
        [ -n "$chroot_ok" ] || { echo "chroot setup failed" >&2; return 1; }
        chroot /newroot /usr/bin/env HOME=/tmp TMPDIR=/tmp \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            VFIO_DIRECT_PROBE=/run/vfio-direct/vfio-probe /bin/sh "$run"
    elif [ -n "$run" ]; then
        sh "$run"
    else
        vfio-probe
    fi
}

if [ "$(arg chroot)" = 1 ]; then
    setup_chroot && chroot_ok=1
else
    bind_shares "" || say "mounting the shares at their paths failed"
fi

# A human asking for a shell without a command gets it at once.
if [ -n "$run" ] || [ "$shell" != 1 ]; then
    t_start=$(uptime_s)
    say "running: ${run:-vfio-probe}"
    run_cmd >"$out/stdout" 2>"$out/stderr"
    rc=$?
    t_done=$(uptime_s)
    echo "init=$t_init bound=$t_bound start=$t_start done=$t_done" >"$out/timings"
    echo "$rc" >"$out/rc"
    echo "VFIO-DIRECT-BEGIN"
    cat "$out/stdout"
    echo "VFIO-DIRECT-END rc=$rc"
    if [ -s "$out/stderr" ]; then
        echo "VFIO-DIRECT-STDERR-BEGIN"
        cat "$out/stderr"
        echo "VFIO-DIRECT-STDERR-END"
    fi
    say "done at ${t_done}s"
fi

if [ "$shell" = 1 ]; then
    [ -n "$chroot_ok" ] && say "the host-/usr root is at /newroot: chroot /newroot /bin/bash"
    say "shell (exit to power off)"
    setsid cttyhack sh -l
fi
sync
mounted /mnt/out && umount /mnt/out
poweroff -f
