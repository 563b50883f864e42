#!/bin/bash
# install.sh - install a build of vfio-direct into a relocatable tree.
#
#   install.sh --build DIR --prefix PREFIX [--sysroot ROOT] [--tar FILE]
#
# make install runs it on the host build (build/), make bundle-ppc64le on
# the ppc64le cross build (build-ppc64le/, --sysroot and --tar).  PREFIX
# gets:
#
#   bin/qemu-system-TARGET         links to lib/vfio-direct/qemu-system-TARGET
#   lib/vfio-direct/qemu-system-TARGET
#   lib/vfio-direct/qemu-bundle/   the firmware the binaries load
#   lib/vfio-direct/lib/           with --sysroot: shared libraries
#   share/doc/vfio-direct/         README, the guides, VERSION
#
# The firmware sits where QEMU itself looks beside its executable
# (qemu-bundle/, util/cutils.c get_relocated_path(): the same layout as a
# build tree), so the tree works wherever it is copied and always loads
# the firmware of its own base (QEMU 10.0's SLOF, VOF, qboot, ...), never
# an older one from the host's /usr/share/qemu.  Only firmware from
# Debian packages is installed: qemu-system-data of the base's version
# (configure fetched it), seabios and ipxe-qemu.
#
# --sysroot ROOT (the cross build's sysroot): copy every shared library
# the binary needs from ROOT, except glibc's, into lib/vfio-direct/lib and
# point the binary's RUNPATH there (patchelf), so that it runs on any
# ppc64el system with glibc 2.36 (Debian 12) or newer and nothing else
# installed.  --tar FILE packs PREFIX's last component into FILE
# (.tar.gz).
set -euo pipefail

srcdir=$(cd "$(dirname "$0")/.." && pwd)
build='' prefix='' sysroot='' tarball=''

die() { echo "install: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
    --build) build=${2?--build needs a directory}; shift ;;
    --prefix) prefix=${2?--prefix needs a directory}; shift ;;
    --sysroot) sysroot=${2?--sysroot needs a directory}; shift ;;
    --tar) tarball=${2?--tar needs a file}; shift ;;
    -h|--help) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" | sed '$d'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
if [ -z "$build" ] || [ -z "$prefix" ]; then
    die "usage: install.sh --build DIR --prefix PREFIX"
fi
case $prefix in
/*) ;;
*) prefix=$PWD/$prefix ;;
esac

obj=$build/qemu
systems=
for t in x86_64 ppc64; do
    [ -x "$obj/qemu-system-$t" ] && systems="$systems $t"
done
[ -n "$systems" ] || die "no qemu-system-* in $obj; build it first (make)"
[ -d "$obj/qemu-bundle/usr/share/qemu" ] ||
    die "no firmware in $obj/qemu-bundle; run ./configure (make) first"

lib=$prefix/lib/vfio-direct
rm -rf "$lib"
mkdir -p "$prefix/bin" "$lib/qemu-bundle"
for t in $systems; do
    install -m 755 "$obj/qemu-system-$t" "$lib/qemu-system-$t"
    ln -sfn "../lib/vfio-direct/qemu-system-$t" "$prefix/bin/qemu-system-$t"
done

# The firmware folders of the build tree, links followed: QEMU's own
# blobs, and for the host build seabios and ipxe, linked to the host's.
(cd "$obj/qemu-bundle" && find . -mindepth 1 -maxdepth 4 \
     \( -path ./usr/share/qemu -o -path ./usr/share/seabios \
        -o -path ./usr/lib/ipxe/qemu \) -print) |
while read -r dir; do
    mkdir -p "$lib/qemu-bundle/$dir"
    cp -RL "$obj/qemu-bundle/$dir/." "$lib/qemu-bundle/$dir/"
done
rm -f "$lib/qemu-bundle/usr/share/qemu/.vfio-direct-firmware"
# A PCI NIC loads its option ROM from ipxe-qemu (romfile=efi-*.rom): the
# cross build's tree has no ipxe folder, so its ROMs join QEMU's blobs.
if [ ! -d "$lib/qemu-bundle/usr/lib/ipxe/qemu" ] && [ -d /usr/lib/ipxe/qemu ]; then
    cp -L /usr/lib/ipxe/qemu/*.rom "$lib/qemu-bundle/usr/share/qemu/"
fi

if [ -n "$sysroot" ]; then
    command -v patchelf >/dev/null || die "no patchelf (run scripts/install-deps.sh)"
    sysroot=$(cd "$sysroot" && pwd -P)
    # glibc's own libraries stay the system's: they are the ABI we rely on.
    glibc=$(find "$sysroot" -path '*/.vfio-direct-packages' -prune -o \
                 \( -name 'ld64.so*' -o -name 'libc.so*' -o -name 'libm.so*' \
                    -o -name 'libpthread.so*' -o -name 'libdl.so*' \
                    -o -name 'librt.so*' -o -name 'libresolv.so*' \
                    -o -name 'libutil.so*' \) -printf '%f\n' | sort -u)
    mkdir -p "$lib/lib"
    # needed FILE: the DT_NEEDED entries of FILE
    needed() {
        readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
    }
    queue=$(for t in $systems; do needed "$lib/qemu-system-$t"; done)
    while [ -n "$queue" ]; do
        next=
        for so in $queue; do
            grep -qxF "$so" <<<"$glibc" && continue
            [ -e "$lib/lib/$so" ] && continue
            path=$(find "$sysroot/usr/lib" -name "$so" -print -quit)
            [ -n "$path" ] || die "$so, needed by the binary, is not in $sysroot"
            cp -L "$path" "$lib/lib/$so"
            next="$next $(needed "$lib/lib/$so")"
        done
        queue=$next
    done
    # shellcheck disable=SC2016 # $ORIGIN is the loader's, not ours
    for t in $systems; do
        patchelf --set-rpath '$ORIGIN/lib' "$lib/qemu-system-$t"
    done
    # shellcheck disable=SC2016
    for so in "$lib"/lib/*; do
        [ -e "$so" ] && patchelf --set-rpath '$ORIGIN' "$so"
    done
fi

doc=$prefix/share/doc/vfio-direct
rm -rf "$doc"
mkdir -p "$doc/images"
cp "$srcdir/README.md" "$srcdir"/docs/*.rst "$doc/"
cp "$srcdir"/docs/images/* "$doc/images/" 2>/dev/null || true
[ ! -d "$build/docs/html" ] || cp -R "$build/docs/html" "$doc/html"
# The base as configure recorded it (the cross build shares build/'s).
base=$build
[ -e "$base/BASE-ORIGIN" ] || base=$srcdir/build
{
    printf 'vfio-direct %s\n' \
        "$(git -C "$srcdir" describe --always --dirty 2>/dev/null || echo '(not from git)')"
    printf 'base: QEMU %s (%s)\n' "$(cat "$base/BASE-VERSION" 2>/dev/null || echo '?')" \
        "$(cat "$base/BASE-ORIGIN" 2>/dev/null || echo '?')"
    printf 'binaries:%s\n' "$(for t in $systems; do printf ' qemu-system-%s' "$t"; done)"
} >"$doc/VERSION"

echo "install: $prefix:$(for t in $systems; do printf ' bin/qemu-system-%s' "$t"; done), firmware in lib/vfio-direct/qemu-bundle${sysroot:+, $(find "$lib/lib" -type f | wc -l) libraries in lib/vfio-direct/lib}"

if [ -n "$tarball" ]; then
    tar -C "$(dirname "$prefix")" -czf "$tarball" "$(basename "$prefix")"
    echo "install: $tarball ($(du -h "$tarball" | cut -f1))"
fi
