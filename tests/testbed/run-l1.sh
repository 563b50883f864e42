#!/bin/bash
# run-l1.sh - boot one test-bed L1 guest under TCG with the host's stock QEMU.
#
#   run-l1.sh [options] x86|pseries-a|pseries-b
#
# The L1 runs the Debian trixie 6.12 kernel with its own vfio-pci, an emulated
# IOMMU and emulated PCI devices that supply the cases vfio-direct cares about
# (sub-page BARs, MSI-X in its own BAR or sharing one).  init.sh binds the
# devices to vfio-pci, runs a command (default: vfio-probe) and powers off.
#
#   x86        q35 + intel-iommu, 4 KiB pages, type1 IOMMU
#   pseries-a  POWER9 pseries, 64 KiB pages, sPAPR TCE; every BAR on its own
#              64 KiB page
#   pseries-b  same devices, e1000e before sdhci-pci: a small BAR shares a page
#
# Devices get explicit addresses so BDFs are stable; `--devices` prints them
# as NAME=BDF.  9p shares: work = this repository (read-only), out = the
# results directory (writable), and on x86 usr = /usr and etc = /etc
# (read-only) for the chroot.  They sit apart from the vfio devices: on
# pseries on a second PHB, as a PHB is one IOMMU group.
#
# Options:
#   --append ARGS     extra kernel command-line arguments
#   --share TAG=DIR[:rw]  extra 9p share (read-only unless :rw), at /mnt/TAG
#                     and at DIR (in the chroot, or in the initramfs root)
#   --run PATH        script init runs (path as seen in the L1)
#   --chroot          run it in the chroot built on the host's /usr
#   --out DIR         results directory shared as "out" (default: a temp dir)
#   --shell           interactive shell on the console after the command
#                     (instead of the probe when there is no --run)
#   --timeout SEC     hard limit (default 300 for x86, 600 for pseries)
#   --bios FILE       firmware instead of SeaBIOS (x86), e.g. qboot.rom, which
#                     assigns no BAR: the L1 kernel places them all
#   --kernel-tree DIR boot the kernel of DIR (boot/vmlinuz-KVER and
#                     usr/lib/modules/KVER, as scripts/kernel.sh prints)
#                     instead of Debian's stock one (x86)
#   --add-device 'NAME SLOT OPTIONS'  one more device on the devices' bus
#                     (bound to vfio-pci like the others), e.g. 'edu_a 0a.0 edu'
#   --nested-kvm      pseries: cap-nested-hv=on, so that kvm-hv loads in the
#                     L1 and an L2 can run under -accel kvm (the x86 L1 has
#                     kvm-amd always)
#   --quiet           keep the console in the log; print it only on failure
#   --devices         print NAME=BDF for the machine and exit
#
# VFIO_DIRECT_L1_MEM sets the L1's RAM (default 2G): a 2 GiB guest with an
# assigned device pins all of its RAM inside the L1.
# VFIO_DIRECT_L1_NVME_DISK=SIZE backs the nvme device with a sparse raw
# file of SIZE (e.g. 64M) in the run's temp folder, so that what a guest
# writes reads back (tests/testbed/l2-dma.py); default: null-co, which
# drops writes.
# VFIO_DIRECT_L1_ACCEL sets the L0's -accel (default: tcg; see
# flake-rate.sh for what the choice costs and saves).
#
# Exit status: the command's (from out/rc), 124 on timeout, 125 when the
# guest ended without a result, 123 on a test-bed fault: the L0 QEMU died
# of a signal (l0_fault), or the L1 kernel oopsed or panicked (its console
# shows the kernel's "Oops:" or "Kernel panic - not syncing" line),
# whatever the command gave.  That is the L0's
# or the stock L1 kernel's fault, not a test failure: its first console
# lines are printed, the results directory's file testbed-fault names it,
# and run-in-l1.sh and check-probe.sh retry such a run once (lib.sh:
# l1_verdict, l1_retry).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
    sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

append='' run='' chroot='' outdir='' shell='' timeout_s='' quiet='' list_devices=''
nested_hv='' bios='' add_devices=''
extra_shares=()
while [ $# -gt 0 ]; do
    case $1 in
    --append) append="$append ${2?}"; shift ;;
    --share) extra_shares+=("${2?}"); shift ;;
    --run) run=${2?}; shift ;;
    --chroot) chroot=1 ;;
    --out) outdir=${2?}; shift ;;
    --shell) shell=1 ;;
    --timeout) timeout_s=${2?}; shift ;;
    --quiet) quiet=1 ;;
    --nested-kvm) nested_hv=,cap-nested-hv=on ;;
    --add-device) add_devices="$add_devices
${2?}"; shift ;;
    --bios) bios=${2?}; [ -r "$bios" ] || die "--bios $bios: no such file"; shift ;;
    --kernel-tree)
        [ -d "${2?}/boot" ] || die "--kernel-tree $2: no boot/ in it"
        VFIO_DIRECT_KERNEL_TREE=$(cd "$2" && pwd)
        export VFIO_DIRECT_KERNEL_TREE
        shift ;;
    --devices) list_devices=1 ;;
    -h|--help) usage ;;
    -*) die "unknown option $1" ;;
    *) break ;;
    esac
    shift
done
[ $# = 1 ] || usage
machine=$1

# Device sets: "name addr qemu-device-options", in slot order.
case $machine in
x86)
    arch=amd64
    qemu="qemu-system-x86_64"
    devices="sdhci 03.0 sdhci-pci
i6300esb 04.0 i6300esb
e1000e 05.0 e1000e,romfile=
pvpanic 06.0 pvpanic-pci
testdev 07.0 pci-testdev,membar=0x800
nvme 08.0 nvme,drive=nvme0,serial=vfio-direct
xhci 09.0 qemu-xhci"
    ;;
pseries-a|pseries-b)
    arch=ppc64el-64k
    qemu="qemu-system-ppc64"
    small="sdhci 01.0 sdhci-pci
i6300esb 02.0 i6300esb
pvpanic 03.0 pvpanic-pci
testdev 04.0 pci-testdev,membar=0x800"
    big="nvme 06.0 nvme,drive=nvme0,serial=vfio-direct
xhci 07.0 qemu-xhci
eepro100 08.0 i82559er,romfile="
    if [ "$machine" = pseries-a ]; then
        devices="$small
e1000e 05.0 e1000e,romfile=
$big"
    else
        devices="e1000e 01.0 e1000e,romfile=
sdhci 02.0 sdhci-pci
i6300esb 03.0 i6300esb
pvpanic 04.0 pvpanic-pci
testdev 05.0 pci-testdev,membar=0x800
$big"
    fi
    ;;
*)
    usage
    ;;
esac

devices="$devices$add_devices"
bind=$(echo "$devices" | awk '{ printf "%s%s=0000:00:%s", n++ ? "," : "", $1, $2 }')
if [ -n "$list_devices" ]; then
    echo "$bind" | tr , '\n'
    exit 0
fi

command -v "$qemu" >/dev/null || die "$qemu not found (run scripts/install-deps.sh)"
if [ -z "$timeout_s" ]; then
    if [ "$arch" = amd64 ]; then timeout_s=300; else timeout_s=600; fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vfio-direct-l1.XXXXXX")
qpid='' tpid=''
cleanup() {
    [ -z "$tpid" ] || kill "$tpid" 2>/dev/null || true
    if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
        kill "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -n "$outdir" ] || outdir=$tmp/out
mkdir -p "$outdir"
rm -f "$outdir"/{stdout,stderr,rc,timings,testbed-fault}
outdir=$(cd "$outdir" && pwd)
echo "$bind" | tr , '\n' >"$outdir/devices"

t0=$(now)
kernel=$("$TESTBED_DIR/mkinitramfs.sh" "$arch" "$tmp/initrd.cpio.gz")

# Shares: TAG PATH MODE.  /usr and /etc only make sense for a chroot of the
# host's own architecture.
shares=()
[ "$arch" = amd64 ] && shares+=("usr /usr ro" "etc /etc ro")
repo=$(cd "$TESTBED_DIR/../.." && pwd)
shares+=("work $repo ro" "out /out rw")
for s in ${extra_shares[@]+"${extra_shares[@]}"}; do
    tag=${s%%=*} dir=${s#*=} mode=ro
    case $dir in *:rw) dir=${dir%:rw}; mode=rw ;; esac
    [ -d "$dir" ] || die "--share $s: no directory $dir"
    dir=$(cd "$dir" && pwd)
    shares+=("$tag $dir $mode")
done

nvme_drive=file=null-co://
if [ -n "${VFIO_DIRECT_L1_NVME_DISK:-}" ]; then
    truncate -s "$VFIO_DIRECT_L1_NVME_DISK" "$tmp/nvme.img"
    nvme_drive=file=$tmp/nvme.img,cache=unsafe
fi
# shellcheck disable=SC2054  # commas separate QEMU suboptions
qargs=(-accel "${VFIO_DIRECT_L1_ACCEL:-tcg}" -smp 2 -m "${VFIO_DIRECT_L1_MEM:-2G}" -vga none -net none -no-reboot
       -kernel "$kernel" -initrd "$tmp/initrd.cpio.gz"
       -drive "$nvme_drive,if=none,id=nvme0,format=raw")
case $arch in
amd64)
    # shellcheck disable=SC2054
    qargs+=(-M q35,kernel-irqchip=split -cpu max
            -device intel-iommu,intremap=on,caching-mode=on)
    [ -z "$bios" ] || qargs+=(-bios "$bios")
    # The L1's own faults under the L0's multi-threaded TCG
    # (flake-rate.sh): no_timer_check skips the IO-APIC timer check that
    # panics a loaded L0's guest at boot; vfio_direct.kvm_hold=1 keeps
    # one KVM VM, so the L2s of the tests never patch __schedule.
    cmdline="console=ttyS0 intel_iommu=on iommu=pt hugepages=32"
    cmdline="$cmdline no_timer_check vfio_direct.kvm_hold=1"
    dev_bus=pcie.0 share_bus=pcie.0 share_slot=16
    ;;
*)
    # shellcheck disable=SC2054
    qargs+=(-M "pseries,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off$nested_hv"
            -cpu POWER9 -device spapr-pci-host-bridge,index=1,id=phb1)
    cmdline="console=hvc0"
    dev_bus=pci.0 share_bus=phb1.0 share_slot=1
    ;;
esac
while read -r _ addr dev; do
    qargs+=(-device "$dev,bus=$dev_bus,addr=$addr")
done <<<"$devices"

share_arg=
i=0
for s in "${shares[@]}"; do
    read -r tag dir mode <<<"$s"
    case "$tag$dir" in *[,:\ ]*) die "share $tag=$dir: no ',', ':' or spaces allowed" ;; esac
    hostdir=$dir
    [ "$tag" = out ] && hostdir=$outdir
    ro=
    [ "$mode" = ro ] && ro=,readonly=on
    qargs+=(-fsdev "local,id=fs$i,path=$hostdir,security_model=none$ro"
            -device "virtio-9p-pci,fsdev=fs$i,mount_tag=$tag,bus=$share_bus,addr=$(printf %x $((share_slot + i))).0")
    share_arg="$share_arg${share_arg:+,}$tag:$dir:$mode"
    i=$((i + 1))
done

# printk.time=1: l1_fault trusts only lines with the kernel's timestamp.
cmdline="$cmdline panic=-1 quiet printk.time=1 vfio_direct.bind=$bind vfio_direct.shares=$share_arg"
[ -z "$run" ] || cmdline="$cmdline vfio_direct.run=$run"
[ -z "$chroot" ] || cmdline="$cmdline vfio_direct.chroot=1"
[ -z "$shell" ] || cmdline="$cmdline vfio_direct.shell=1"
cmdline="$cmdline$append"
qargs+=(-append "$cmdline")

log=$tmp/console.log
: >"$log"
note "booting $machine ($(basename "$kernel")), timeout ${timeout_s}s"
tq=$(now)
if [ -n "$shell" ]; then
    # Interactive: the console is the terminal (Ctrl-A X quits QEMU).
    set +e
    timeout --foreground -k 10 "$timeout_s" "$qemu" "${qargs[@]}" -nographic
    qrc=$?
    set -e
else
    timeout -k 10 "$timeout_s" "$qemu" "${qargs[@]}" \
        -display none -monitor none -serial stdio </dev/null >"$log" 2>&1 &
    qpid=$!
    if [ -z "$quiet" ]; then
        tail -n +1 -f --pid="$qpid" "$log" &
        tpid=$!
    fi
    set +e
    wait "$qpid"
    qrc=$?
    set -e
    qpid=
    [ -z "$tpid" ] || wait "$tpid" 2>/dev/null || true
    tpid=
fi
t1=$(now)

if [ -s "$outdir/rc" ]; then
    rc=$(cat "$outdir/rc")
elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    rc=124
    note "timeout after ${timeout_s}s"
elif [ -n "$shell" ] && [ -z "$run" ]; then
    rc=$qrc
else
    rc=125
    note "guest ended without a result (qemu exit $qrc)"
fi
if [ "$rc" -ge 124 ] && [ "$rc" -le 125 ] && [ -n "$quiet" ] &&
    ! l1_fault "$log" >/dev/null; then
    tail -n 60 "$log" >&2
fi
rc=$(l1_verdict "$machine" "$log" "$outdir" "$rc")
if [ "$rc" = 125 ] && _l0_kind=$(l0_fault "$qrc"); then
    note "test-bed fault in the $machine L1: $_l0_kind (not a test failure)"
    echo "$_l0_kind" >"$outdir/testbed-fault"
    rc=$L1_FAULT_RC
fi
cp "$log" "$outdir/console.log" 2>/dev/null || true
note "$machine: rc=$rc, wall $(echo "$t1 - $t0" | bc)s (qemu $(echo "$t1 - $tq" | bc)s), guest $(cat "$outdir/timings" 2>/dev/null || echo 'timings: none')"
exit "$rc"
