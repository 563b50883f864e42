#!/bin/bash
# check-bundle.sh - run the ppc64le bundle on a clean ppc64el root in the
# pseries test bed (make check-bundle).
#
#   check-bundle.sh --bundle TARBALL --sysroot ROOT
#
# The clean root holds glibc alone: Debian 12's libc6 and libgcc-s1 for
# ppc64el, unpacked from the same packages as the cross build's sysroot
# (ROOT/.vfio-direct-packages names their versions; the debs are in the
# download cache).  Anything else the bundle needs it must bring, so a
# stock Debian 12 ppc64el (which has more) runs it too.  One pseries-a L1
# (64 KiB pages) unpacks both there and runs, chrooted into the root,
#
#   /opt/vfio-direct/bin/qemu-system-ppc64 --version
#   /opt/vfio-direct/bin/qemu-system-ppc64 -M pseries -device vfio-pci,help
#   /opt/vfio-direct/bin/qemu-system-ppc64 -L help
#
# and checks that the version names vfio-direct, that vfio-pci lists our
# properties, and that every firmware folder is inside the bundle.  TAP.
set -euo pipefail
testbed=$(cd "$(dirname "$0")/../testbed" && pwd)
. "$(dirname "$0")/../unit/tap.sh"
VFIO_DIRECT_CACHE=${VFIO_DIRECT_CACHE:-${HOME:-/root}/.cache/vfio-direct}
die() { echo "check-bundle: $*" >&2; exit 1; }

bundle='' sysroot=''
while [ $# -gt 0 ]; do
    case $1 in
    --bundle) bundle=${2?}; shift ;;
    --sysroot) sysroot=${2?}; shift ;;
    -h|--help) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" | sed '$d'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
[ -f "$bundle" ] || die "no bundle $bundle (make bundle-ppc64le)"
[ -f "$sysroot/.vfio-direct-packages" ] || die "$sysroot is not a cross sysroot (make cross-ppc64le)"
bundle=$(cd "$(dirname "$bundle")" && pwd)/$(basename "$bundle")

work=$(mktemp -d "$(dirname "$bundle")/check-bundle.XXXXXX")
trap 'rm -rf "$work"' EXIT
debs=$VFIO_DIRECT_CACHE/debs/ppc64el
mkdir "$work/root"
for pkg in libc6 libgcc-s1; do
    ver=$(sed -n "s/^$pkg //p" "$sysroot/.vfio-direct-packages")
    [ -n "$ver" ] || die "$pkg is not in $sysroot/.vfio-direct-packages"
    deb=$(compgen -G "$debs/${pkg}_${ver//:/%3a}_*.deb" | head -n 1) ||
        die "no $pkg $ver in $debs (make cross-ppc64le fetches it)"
    dpkg-deb -x "$deb" "$work/root"
done
mkdir -p "$work/root/proc" "$work/root/tmp" "$work/root/opt"
tar -C "$work" -czf "$work/root.tar.gz" root
rm -rf "$work/root"

cat >"$work/in-l1.sh" <<'EOS'
# Runs in the pseries L1's busybox: $1 the clean root's tarball, $2 the bundle.
set -u
cd /tmp && tar -xzf "$1" && tar -C /tmp/root/opt -xzf "$2" || exit 1
mount -t proc proc /tmp/root/proc
mkdir -p /tmp/root/dev && mount -o bind /dev /tmp/root/dev
q=/opt/vfio-direct/bin/qemu-system-ppc64
echo "== version"; chroot /tmp/root $q --version 2>&1; echo "rc=$?"
echo "== vfio-pci"; chroot /tmp/root $q -M pseries -device vfio-pci,help 2>&1; echo "rc=$?"
echo "== datadirs"; chroot /tmp/root $q -L help 2>&1; echo "rc=$?"
EOS

start=$SECONDS
out=$("$testbed/run-in-l1.sh" pseries-a -- /bin/sh "$work/in-l1.sh" \
          "$work/root.tar.gz" "$bundle" 2>&1) || {
    echo "$out"
    echo "not ok 1 - the pseries L1 run failed"
    exit 1
}
section() { awk -v s="== $1" '$0 == s {p = 1; next} /^== / {p = 0} p' <<<"$out"; }
set +e  # each check_status looks at the status of the command before it
version=$(section version)
vfio=$(section vfio-pci)
dirs=$(section datadirs | grep -vx 'rc=0' || true)
printf '%s\n' "$version" | sed 's/^/# /'
grep -qx "rc=0" <<<"$version"
check_status "--version runs on a glibc-only root"
grep -q "^QEMU emulator version 10\.0\.[0-9]* (vfio-direct .*, Debian " <<<"$version"
check_status "--version names vfio-direct and the base"
grep -qx "rc=0" <<<"$vfio"
check_status "-M pseries -device vfio-pci,help runs"
grep -q "x-msix-emulation=" <<<"$vfio" && grep -q "x-bar-page-align=" <<<"$vfio"
check_status "vfio-pci lists x-msix-emulation and x-bar-page-align"
grep -qx /opt/vfio-direct/lib/vfio-direct/qemu-bundle/usr/share/qemu <<<"$dirs" &&
    ! grep -v "^/opt/vfio-direct/" <<<"$dirs"
check_status "every firmware folder is in the bundle"
echo "# pseries-a L1 run: $((SECONDS - start)) s, bundle $(du -h "$bundle" | cut -f1)"
tap_done || {
    while read -r line; do echo "# $line"; done <<<"$out"
    exit 1
}
