#!/bin/bash
# mkinitramfs.sh - build the test-bed initramfs for an L1 guest.
#
#   mkinitramfs.sh [--modules LIST] [--init FILE] [--bin FILE] ARCH OUT
#                                  ARCH = amd64 | ppc64el-64k
#
# Writes OUT (cpio, gzip) holding: busybox-static (the host's for amd64, the
# Debian ppc64el one for ppc64el-64k), the kernel modules vfio-pci and 9p
# shares need, decompressed because busybox insmod cannot load .ko.xz, with
# their load order resolved from the modules' own depends=/softdep= records
# (what depmod writes to modules.dep; the kernel package ships no
# modules.dep and the host has no depmod), the static vfio-probe, and init.sh
# as /init.  Kernel and busybox come from fetch-kernel.sh; the probe is built
# in the cache (never in the git tree).  Prints the kernel image path on
# stdout so callers boot the kernel the modules belong to.
#
# For an L2 guest of the same kernel (tests/demo, tests/libvirt):
# --modules LIST loads LIST (space separated, with their dependencies)
# instead of the vfio and 9p modules, --init FILE is /init instead of
# init.sh, and --bin FILE (repeatable) adds FILE to /bin.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

root_modules='' init_file=$TESTBED_DIR/init.sh extra_bins=()
while [ $# -gt 2 ]; do
    case $1 in
    --modules) root_modules=${2?}; shift 2 ;;
    --init) init_file=${2?}; shift 2 ;;
    --bin) extra_bins+=("${2?}"); shift 2 ;;
    *) break ;;
    esac
done
[ $# = 2 ] || { echo "usage: $PROG [--modules LIST] [--init FILE] [--bin FILE] amd64|ppc64el-64k OUT" >&2; exit 2; }
[ -r "$init_file" ] || die "--init $init_file: no such file"
arch=$1 out=$2
debarch=$(deb_arch "$arch")

# Modules whose load (with their dependencies) gives vfio-pci and 9p shares;
# vfio's softdep adds the IOMMU backend (type1 on x86, spapr_tce on ppc64).
# On x86, kvm-amd too: TCG's -cpu max has SVM, so an L2 QEMU can use KVM
# and real exits can be counted; on pseries kvm-hv (nested KVM-HV).
ROOT_MODULES="vfio-pci 9pnet_virtio 9p"
[ "$debarch" = amd64 ] && ROOT_MODULES="$ROOT_MODULES kvm-amd"
# On pseries, kvm-hv: it loads when the L1 runs with cap-nested-hv=on
# (run-l1.sh --nested-kvm) and fails harmlessly otherwise.
[ "$debarch" = ppc64el ] && ROOT_MODULES="$ROOT_MODULES kvm-hv"
[ -z "$root_modules" ] || ROOT_MODULES=$root_modules

# VFIO_DIRECT_KERNEL_TREE (run-l1.sh --kernel-tree): an unpacked kernel tree
# of the same layout to boot instead, e.g. from scripts/kernel.sh.
kdir=${VFIO_DIRECT_KERNEL_TREE:-$("$TESTBED_DIR/fetch-kernel.sh" "$arch")}
kver=$(ls "$kdir/usr/lib/modules")
[ "$(echo "$kver" | wc -w)" = 1 ] || die "expected one kernel version in $kdir"
mdir=$kdir/usr/lib/modules/$kver
kimage=$(ls "$kdir"/boot/vmlinu[xz]-"$kver")

case $debarch in
amd64)
    busybox=/bin/busybox
    cc=gcc
    ;;
ppc64el)
    busybox=$("$TESTBED_DIR/fetch-kernel.sh" busybox ppc64el)/usr/bin/busybox
    cc=powerpc64le-linux-gnu-gcc
    ;;
esac
[ -x "$busybox" ] || die "no busybox at $busybox (install busybox-static)"
command -v "$cc" >/dev/null || die "no $cc (run scripts/install-deps.sh)"

# Build the probe (with the tests' host library) into the cache, keyed by
# its sources: clones and worktrees share the cache, and each must boot
# its own probe.
host_lib=$TESTBED_DIR/../qtest/vfio-host
probe_key=$(cat "$TESTBED_DIR/vfio-probe.c" "$host_lib.c" "$host_lib.h" |
            sha256sum | cut -c1-16)
probe=$VFIO_DIRECT_CACHE/probe/$debarch/vfio-probe-$probe_key
if [ ! -x "$probe" ]; then
    mkdir -p "$(dirname "$probe")"
    "$cc" -static -O2 -Wall -Wextra -I"$(dirname "$host_lib")" -o "$probe.tmp.$$" \
        "$TESTBED_DIR/vfio-probe.c" "$host_lib.c" ||
        die "building vfio-probe with $cc failed"
    mv "$probe.tmp.$$" "$probe"
fi

# name -> path (relative to $mdir, without .xz) from modules.order.
declare -A modpath=() seen=()
while read -r p; do
    n=${p##*/}
    n=${n%.ko}
    modpath[${n//-/_}]=$p
done <"$mdir/modules.order"

modinfo_field() {   # modinfo_field PATH FIELD: values of FIELD=, one per line
    xz -dc "$mdir/$1.xz" | tr '\0' '\n' | sed -n "s/^$2=//p"
}

order=()
resolve() {   # resolve NAME: append NAME after its dependencies
    local name=${1//-/_} p deps d soft pre post
    [ -z "${seen[$name]-}" ] || return 0
    seen[$name]=1
    p=${modpath[$name]-}
    if [ -z "$p" ]; then
        grep -q "/${name}.ko\$\|/${name//_/-}.ko\$" "$mdir/modules.builtin" ||
            die "module $name is neither in modules.order nor built in"
        return 0
    fi
    [ -e "$mdir/$p.xz" ] || die "missing $mdir/$p.xz"
    deps=$(modinfo_field "$p" depends | tr , ' ')
    soft=$(modinfo_field "$p" softdep)
    pre=$(echo "$soft" | sed -n 's/.*pre:\(.*\)/\1/p' | sed 's/post:.*//')
    post=$(echo "$soft" | sed -n 's/.*post:\(.*\)/\1/p')
    resolve_soft $pre
    for d in $deps; do
        resolve "$d"
    done
    order+=("$p")
    resolve_soft $post
}
resolve_soft() {   # resolve_soft NAME...: the soft dependencies this kernel has
    local d
    for d in "$@"; do
        [ -z "${modpath[${d//-/_}]-}" ] || resolve "$d"
    done
}
for m in $ROOT_MODULES; do
    resolve "$m"
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,mnt,newroot,lib/modules,etc}
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cp "$probe" "$stage/bin/vfio-probe"
install -m 0755 "$init_file" "$stage/init"
for b in ${extra_bins[@]+"${extra_bins[@]}"}; do
    install -m 0755 "$b" "$stage/bin/"
done
for p in "${order[@]}"; do
    xz -dc "$mdir/$p.xz" >"$stage/lib/modules/$(basename "$p")"
    basename "$p" >>"$stage/lib/modules/load-order"
done
echo "$kver" >"$stage/etc/kernel-release"

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
note "$arch $kver initramfs, modules: $(tr '\n' ' ' <"$stage/lib/modules/load-order")"
echo "$kimage"
