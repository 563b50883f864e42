#!/bin/bash
# cross-ppc64le.sh - configure the ppc64le cross build of our QEMU (make cross-ppc64le).
#
#   cross-ppc64le.sh [--build-dir DIR] [--src DIR]    configure DIR when stale
#   cross-ppc64le.sh --sysroot [--with PKGS]           print the sysroot only
#
# The pseries test bed runs our qemu-system-ppc64 and the qtests on a 64 KiB
# page ppc64le L1, so they are built for ppc64le from the source tree that
# ./configure unpacked and patched (build/src: the same base, hooks and
# overlay as the host build), with Debian's cross compiler
# (gcc-powerpc64le-linux-gnu, ccache in front) and a sysroot of Debian
# bookworm ppc64el packages: the -dev libraries QEMU links with, and what
# the L1's chroot needs to run the result (libraries, dash, coreutils, sed,
# grep, strace).  The sysroot is resolved with a private apt tree
# (tests/testbed/apt-private.sh: dpkg's architectures are never changed,
# nothing is installed), unpacked with dpkg-deb -x and merged into /usr, and
# cached as $VFIO_DIRECT_CACHE/sysroot/ppc64el-KEY, KEY being the hash of the
# resolved package versions.  DIR/sysroot links to it; pkg-config and the
# linker see it through that link, so a new sysroot does not change compile
# lines (ccache keeps hitting).  The L1 gets it over 9p (DIR/SYSROOT names it).
#
# DIR (default build-ppc64le) gets DIR/qemu, configured by QEMU's configure
# with --cross-prefix (which writes the meson cross file config-meson.cross)
# and DIR/qemu-system-ppc64, DIR/tce-guest.elf from
# tests/guest/tce-guest.S, and DIR/tce-runs-guest.elf and
# DIR/tce-bench-guest.elf from tests/guest (its Makefile).
# DIR/configured-HASH records what it was configured from; an unchanged
# hash skips the step.
set -euo pipefail
. "$(dirname "$0")/../tests/testbed/lib.sh"
. "$(dirname "$0")/../tests/testbed/apt-private.sh"

srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=$srcdir/build-ppc64le
qemu_src=$srcdir/build/src
print_sysroot= with=
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) builddir=${2?--build-dir needs a directory}; shift ;;
    --src) qemu_src=${2?--src needs a directory}; shift ;;
    --sysroot) print_sysroot=1 ;;
    --with) with=${2?--with needs package names}; shift ;;
    -h|--help) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" | sed '$d'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

TRIPLET=powerpc64le-linux-gnu
CROSS_CC=$TRIPLET-gcc
# What QEMU links with, and what the L1's chroot runs it with.
SYSROOT_PACKAGES="libc6 libglib2.0-dev zlib1g-dev libfdt-dev
                  dash coreutils sed grep strace"
[ -z "$with" ] || [ -n "$print_sysroot" ] || die "--with goes with --sysroot"
SYSROOT_PACKAGES="$SYSROOT_PACKAGES $with"
# Provided by the cross toolchain (libc6-dev-ppc64el-cross, same glibc):
# their linker scripts name absolute paths that only exist on a ppc64el host.
SYSROOT_SKIP="libc6-dev linux-libc-dev libc-dev-bin"

# resolve: "package version" lines of SYSROOT_PACKAGES and their Depends,
# as apt resolves them for an empty ppc64el system (first alternatives).
resolve() {
    # shellcheck disable=SC2086
    apt_priv apt-get -s -q --no-install-recommends install $SYSROOT_PACKAGES \
        2>"$APT_PRIV/resolve.log" |
        sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1 \2/p' | LC_ALL=C sort
}

# make_sysroot LIST DIR: download LIST's debs (kept in the cache) and
# unpack them into DIR, merged into /usr.
make_sysroot() {
    local list=$1 dir=$2 debs=$VFIO_DIRECT_CACHE/debs/ppc64el pkg ver deb want=()
    mkdir -p "$debs"
    # apt-get download names a deb PKG_VERSION_ARCH.deb, ':' as %3a.
    while read -r pkg ver; do
        compgen -G "$debs/${pkg}_${ver//:/%3a}_*.deb" >/dev/null ||
            want+=("$pkg=$ver")
    done <<<"$list"
    if [ ${#want[@]} -gt 0 ]; then
        note "downloading ${#want[@]} ppc64el packages into $debs"
        (cd "$debs" && apt_priv apt-get -q download "${want[@]}") \
            >"$APT_PRIV/download.log" 2>&1 ||
            die "downloading the ppc64el sysroot packages failed: $(grep -E '^(E|Err):' "$APT_PRIV/download.log" | tail -n 1)"
    fi
    local tmp
    tmp=$(mktemp -d "$(dirname "$dir")/.tmp.XXXXXX")
    note "unpacking $(wc -l <<<"$list") packages into $dir"
    while read -r pkg ver; do
        case " ${SYSROOT_SKIP//$'\n'/ } " in *" $pkg "*) continue ;; esac
        for deb in "$debs/${pkg}_${ver//:/%3a}"_*.deb; do
            dpkg-deb -x "$deb" "$tmp" || { rm -rf "$tmp"; die "cannot unpack $deb"; }
        done
    done <<<"$list"
    # Merge /bin, /sbin, /lib* into /usr (the L1's chroot links them back),
    # then make absolute symlinks relative so that they resolve on this
    # host too (the linker follows them).
    local d link target
    for d in bin sbin lib lib64; do
        if [ ! -d "$tmp/$d" ] || [ -L "$tmp/$d" ]; then
            continue
        fi
        mkdir -p "$tmp/usr/$d"
        cp -a "$tmp/$d/." "$tmp/usr/$d/"
        rm -rf "${tmp:?}/$d"
        ln -s "usr/$d" "$tmp/$d"
    done
    find "$tmp" -type l -lname '/*' -print | while read -r link; do
        target=$(readlink "$link")
        ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$tmp$target")" "$link"
    done
    echo "$list" >"$tmp/.vfio-direct-packages"
    rm -rf "$dir"
    mv "$tmp" "$dir"
}

# sysroot: print the cached sysroot for the current package versions.
sysroot() {
    local list key dir
    apt_priv_init "$VFIO_DIRECT_CACHE/apt-ppc64el-bookworm" bookworm ppc64el
    apt_priv_update || true
    list=$(resolve)
    if [ -z "$list" ] && [ -z "$APT_PRIV_UPDATED" ]; then
        apt_priv_update force || true
        list=$(resolve)
    fi
    [ -n "$list" ] ||
        die "cannot resolve the ppc64el sysroot packages from Debian bookworm: $(grep -m 1 '^E: ' "$APT_PRIV/resolve.log" || echo 'no package lists (is the archive reachable?)')"
    key=$(echo "$list" | sha256sum | cut -c1-16)
    dir=$VFIO_DIRECT_CACHE/sysroot/ppc64el-$key
    if [ ! -e "$dir/.vfio-direct-packages" ]; then
        mkdir -p "$(dirname "$dir")"
        make_sysroot "$list" "$dir"
    fi
    echo "$dir"
}

command -v "$CROSS_CC" >/dev/null ||
    die "no $CROSS_CC (run scripts/install-deps.sh)"
root=$(sysroot)
if [ -n "$print_sysroot" ]; then
    echo "$root"
    exit 0
fi

if [ ! -f "$qemu_src/.git/HEAD" ] || [ ! -f "$qemu_src/VERSION" ]; then
    die "$qemu_src is not a configured source tree; run ./configure (or make) first"
fi
mkdir -p "$builddir"
builddir=$(cd "$builddir" && pwd)
qemu_src=$(cd "$qemu_src" && pwd)
ln -sfn "$root" "$builddir/sysroot"
echo "$root" >"$builddir/SYSROOT"

# The no-OS pseries guests of check-tce.py and tests/bench/run-tce.sh
# (tests/guest).
make -s -C "$srcdir/tests/guest" O="$builddir" PPC="$TRIPLET" \
    tce-guest.elf tce-runs-guest.elf tce-bench-guest.elf ||
    die "building the pseries guests of tests/guest failed"

# libfdt has no .pc file: QEMU looks for it with the compiler alone.
sysinc=$builddir/sysroot/usr/include syslib=$builddir/sysroot/usr/lib/$TRIPLET
cc=$CROSS_CC
command -v ccache >/dev/null && cc="ccache $CROSS_CC"
# The vfio qtests are defined for the x86_64 target only: list it so that
# meson defines them; only the ppc64 system emulator is built.
# shellcheck disable=SC2054  # commas separate the targets
qemu_args=(--python=/usr/bin/python3 --cross-prefix="$TRIPLET-" --cc="$cc"
           --host-cc=cc --extra-cflags="-I$sysinc"
           --extra-ldflags="-L$syslib -Wl,-rpath-link,$syslib"
           --target-list=ppc64-softmmu,x86_64-softmmu
           --without-default-features --enable-kvm --enable-fdt=system
           --disable-docs --disable-install-blobs --disable-debug-info
           --firmwarepath=/usr/share/qemu)

# Reconfigure when the options, the sysroot or the source tree's content
# (base + hooks: a tree hash, the same after every ./configure) change.
hash=$( { printf '%s\n' "${qemu_args[@]}" "$root"
          git -C "$qemu_src" rev-parse 'HEAD^{tree}'; } | sha256sum | cut -c1-16)
stamp=$builddir/configured-$hash
obj=$builddir/qemu

# The binary looks for firmware beside itself, under qemu-bundle: the host
# build's copy of qemu-system-data (SLOF, VOF), beside the source tree, and
# the host's SeaBIOS VGA ROMs (pseries' default VGA), as the L1 sees
# neither the host's /usr nor the cache.
install_firmware() {
    local fw dest=$obj/qemu-bundle/usr/share/qemu
    fw=$(dirname "$qemu_src")/qemu/qemu-bundle/usr/share/qemu
    [ -e "$fw/slof.bin" ] || die "no slof.bin in $fw; run ./configure (or make) first"
    [ ! -e "$dest/.vfio-direct-firmware" ] || [ "$fw/slof.bin" -nt "$dest/.vfio-direct-firmware" ] ||
        return 0
    mkdir -p "$obj/qemu-bundle/usr/share"
    rm -rf "$dest"
    cp -a "$fw" "$dest"
    cp -L /usr/share/seabios/vgabios*.bin "$dest/" ||
        die "no /usr/share/seabios/vgabios*.bin (run scripts/install-deps.sh)"
    touch "$dest/.vfio-direct-firmware"
}
if [ -e "$stamp" ] && [ -e "$obj/build.ninja" ]; then
    install_firmware
    exit 0
fi
rm -f "$builddir"/configured-*

# pkg-config for the sysroot, through the stable link.
cat >"$builddir/pkg-config" <<EOF
#!/bin/sh
# Written by scripts/cross-ppc64le.sh: pkg-config on the ppc64el sysroot.
export PKG_CONFIG_SYSROOT_DIR=$builddir/sysroot
export PKG_CONFIG_LIBDIR=$syslib/pkgconfig:$builddir/sysroot/usr/share/pkgconfig
unset PKG_CONFIG_PATH
exec pkg-config "\$@"
EOF
chmod +x "$builddir/pkg-config"

note "configuring the ppc64le cross build in $obj"
rm -rf "$obj"
mkdir -p "$obj"
if ! (cd "$obj" && PKG_CONFIG="$builddir/pkg-config" "$qemu_src/configure" \
        "${qemu_args[@]}") >"$builddir/configure.log" 2>&1; then
    tail -n 5 "$builddir/configure.log" >&2
    die "QEMU's configure for ppc64le failed; see $builddir/configure.log"
fi
grep -q 'CONFIG_VFIO_PCI=y' "$obj/ppc64-softmmu-config-devices.mak" ||
    die "the ppc64le build was configured without CONFIG_VFIO_PCI"

install_firmware
ln -sf qemu/qemu-system-ppc64 "$builddir/qemu-system-ppc64"
touch "$stamp"
note "configured QEMU $(cat "$qemu_src/VERSION") for ppc64le in $obj (sysroot $root)"
