#!/bin/bash
# kernel.sh - build the vfio-direct Linux series (linux/*.patch) for the test bed.
#
#   scripts/kernel.sh modules [ARCH]  K2/K3 (vfio-pci), on amd64 also K4/K5
#                               (vfio_iommu_type1), as modules for Debian's
#                               stock 6.12 image: prints a kernel tree for
#                               run-l1.sh
#   scripts/kernel.sh image     K1..K3 in a bzImage with everything built in
#                               (tinyconfig + linux/testbed.config): prints its tree
#   scripts/kernel.sh stock [ARCH]  Debian's stock image those modules load into
#   scripts/kernel.sh source    the patched source tree (for inspection)
#   scripts/kernel.sh cached    exit 0 when the image for this series is cached
#
# ARCH is amd64 (the default) or ppc64el-64k (the pseries L1s: Debian's
# powerpc64le-64k flavour, 64 KiB pages; the modules are cross-compiled
# with powerpc64le-linux-gnu-gcc-12).
#
# A kernel tree is what tests/testbed/run-l1.sh --kernel-tree takes:
# boot/vmlinuz-KVER (vmlinux-KVER on ppc64el) and usr/lib/modules/KVER/
# (modules.order, modules.builtin and the modules, .ko.xz), the layout of
# an unpacked linux-image .deb.
#
# The base is Debian trixie's linux-source-6.12, the newest 6.12.x the apt
# index lists.  The modules are built against Debian's linux-headers and
# linux-kbuild of the *same upstream version* from bookworm (source
# linux-6.12, +deb12), which Debian builds with gcc-12, the host's
# compiler (ppc64el: cross-built with powerpc64le-linux-gnu-gcc-12, the
# host's cross compiler), so that they load into that exact image
# (vermagic and symbol CRCs from its Module.symvers); trixie's headers
# want gcc-14 and a newer libc than this host has.  The ppc64el packages
# come from bookworm-security through a private apt tree in the cache
# (tests/testbed/apt-private.sh); the host tools (modpost, fixdep) are the
# amd64 linux-kbuild's.  Nothing is installed: packages are downloaded
# and unpacked into $VFIO_DIRECT_CACHE/linux (default
# ~/.cache/vfio-direct/linux) and reused without the network.
#
# Outputs are cached by content: the modules by the series, the arch and
# the base and headers versions, the image by the series,
# linux/testbed.config and the base version.  A patch that does not apply
# fails with the patch's name and git-apply's hunk.  Compiles go through
# ccache.
set -euo pipefail

PROG=$(basename "$0")
TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${VFIO_DIRECT_CACHE:-${HOME:-/root}/.cache/vfio-direct}/linux
SERIES_DIR=${VFIO_DIRECT_KERNEL_SERIES:-$TOP/linux}
FRAGMENT=$SERIES_DIR/testbed.config
JOBS=${VFIO_DIRECT_KERNEL_JOBS:-$(nproc)}
DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# shellcheck disable=SC2034  # apt-private.sh's apt_priv_init reads it
DEBIAN_MIRROR=${VFIO_DIRECT_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${VFIO_DIRECT_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# apt_priv_init, apt_priv_update, apt_priv: a private apt tree for ppc64el.
# shellcheck source=../tests/testbed/apt-private.sh
. "$TOP/tests/testbed/apt-private.sh"

die() { echo "$PROG: $*" >&2; exit 1; }
note() { echo "$PROG: $*" >&2; }

usage() {
    sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" | sed '$d' >&2
    exit 2
}

# set_arch ARCH: Debian's flavour and architecture of the stock image, its
# kernel file, the compiler and make's arguments for the modules.
set_arch() {
    ARCH=$1
    case $ARCH in
    amd64)
        FLAVOUR=amd64 DEBARCH=amd64 KIMAGE=vmlinuz
        CC_BIN=x86_64-linux-gnu-gcc-12 CROSS_PREFIX=
        KMAKE_ARCH=()
        ;;
    ppc64el-64k)
        FLAVOUR=powerpc64le-64k DEBARCH=ppc64el KIMAGE=vmlinux
        CC_BIN=powerpc64le-linux-gnu-gcc-12 CROSS_PREFIX=powerpc64le-linux-gnu-
        KMAKE_ARCH=(ARCH=powerpc CROSS_COMPILE=powerpc64le-linux-gnu-)
        ;;
    *)
        die "unknown arch '$ARCH' (want amd64 or ppc64el-64k)"
        ;;
    esac
}

# apt_arch TOOL ARG...: apt-get or apt-cache for packages of $DEBARCH: the
# host's own apt for amd64, else a private tree of bookworm-security for
# $DEBARCH in the cache (dpkg's architectures are never changed).
apt_arch() {
    local tool=$1
    shift
    if [ "$DEBARCH" = amd64 ]; then
        "$tool" "$@"
    else
        apt_priv "$tool" "$@"
    fi
}

apt_arch_setup() {
    [ "$DEBARCH" != amd64 ] || return 0
    apt_priv_init "$CACHE/apt-$DEBARCH-security" bookworm-security "$DEBARCH"
    echo "deb [arch=$DEBARCH signed-by=$DEBIAN_KEYRING]" \
        "$SECURITY_MIRROR bookworm-security main" >"$APT_PRIV/sources.list"
    apt_priv_update || true
}

# madison PKG SUITE-REGEX [arch]: versions of PKG in matching suites, newest
# first (with "arch": from $DEBARCH's lists, else the host's).
madison() {
    if [ "${3-}" = arch ]; then
        apt_arch apt-cache madison "$1"
    else
        apt-cache madison "$1"
    fi 2>/dev/null |
        awk -F' [|] ' -v re="$2" '$3 ~ re && $3 ~ / Packages$/ { gsub(/ /, "", $2); print $2 }' |
        sort -u | sort -Vr
}

# fetch_deb PKG VERSION [arch]: the .deb in the cache, downloaded when
# missing (with "arch": a package of $DEBARCH, else the host's or arch all).
fetch_deb() {
    local pkg=$1 ver=$2 f apt=apt-get
    [ "${3-}" != arch ] || apt="apt_arch apt-get"
    mkdir -p "$CACHE/debs"
    f=$(ls "$CACHE/debs/${pkg}_$(echo "$ver" | sed 's/:/%3a/')_"*.deb 2>/dev/null | head -n 1 || true)
    if [ -z "$f" ]; then
        note "fetching $pkg $ver"
        (cd "$CACHE/debs" && $apt -q download "$pkg=$ver") >"$CACHE/debs/download.log" 2>&1 ||
            die "download of $pkg $ver failed: $(grep -E '^(E|Err):' "$CACHE/debs/download.log" | tail -n 1)"
        f=$(ls "$CACHE/debs/${pkg}_$(echo "$ver" | sed 's/:/%3a/')_"*.deb | head -n 1)
    fi
    echo "$f"
}

# resolve: set SRC_VER (trixie linux-source-6.12), UPSTREAM (6.12.N),
# HDR_VER and ABI (6.12.N+deb12) of the matching bookworm build for
# $FLAVOUR.  Falls back to what the cache holds when the index has nothing
# usable.
resolve() {
    local v
    SRC_VER=
    for v in $(madison linux-source-6.12 'trixie'); do
        case $v in 6.12.*-*) SRC_VER=$v; break ;; esac
    done
    if [ -z "$SRC_VER" ]; then
        SRC_VER=$(ls "$CACHE"/debs/linux-source-6.12_6.12.*_all.deb 2>/dev/null |
                  sed 's/.*linux-source-6.12_\(.*\)_all.deb/\1/' | grep -v '~' | sort -Vr | head -n 1 || true)
        [ -n "$SRC_VER" ] ||
            die "no trixie linux-source-6.12 in the apt index (is trixie in the sources, and apt-get update run?)"
        note "apt index has no trixie linux-source-6.12; using cached $SRC_VER"
    fi
    UPSTREAM=${SRC_VER%%-*}
    ABI=$UPSTREAM+deb12
    apt_arch_setup
    HDR_VER=$(madison "linux-headers-$ABI-$FLAVOUR" 'bookworm' arch | head -n 1)
    if [ -z "$HDR_VER" ]; then
        HDR_VER=$(ls "$CACHE/debs/linux-headers-$ABI-${FLAVOUR}_"*"_$DEBARCH.deb" 2>/dev/null |
                  sed "s/.*_\\(.*\\)_$DEBARCH.deb/\\1/" | sort -Vr | head -n 1 || true)
        [ -n "$HDR_VER" ] ||
            die "no bookworm linux-headers-$ABI-$FLAVOUR matches the trixie source $SRC_VER (bookworm-security in the sources?)"
    fi
}

# unpack_debs DIR DEB...: unpack once into DIR (marked complete).
unpack_debs() {
    local dir=$1 tmp d
    shift
    [ -e "$dir/.complete" ] && return 0
    tmp=$dir.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp"
    for d in "$@"; do
        dpkg-deb -x "$d" "$tmp"
    done
    touch "$tmp/.complete"
    rm -rf "$dir"
    mv "$tmp" "$dir"
}

# pristine: the unpacked base source tree.
pristine() {
    local deb dir=$CACHE/base-$SRC_VER
    if [ ! -e "$dir/.complete" ]; then
        deb=$(fetch_deb linux-source-6.12 "$SRC_VER")
        note "unpacking linux-source-6.12 $SRC_VER"
        rm -rf "$dir.tmp"
        mkdir -p "$dir.tmp"
        dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/src/linux-source-6.12.tar.xz |
            tar -xJ -C "$dir.tmp" --strip-components=1
        touch "$dir.tmp/.complete"
        rm -rf "$dir"
        mv "$dir.tmp" "$dir"
    fi
    PRISTINE=$dir
}

series() {
    ls "$SERIES_DIR"/[0-9][0-9][0-9][0-9]-*.patch 2>/dev/null || true
}

# hash WORD... FILE...: 16 hex digits over the words and the files' contents.
hash() {
    local a
    for a in "$@"; do
        if [ -f "$a" ]; then cat "$a"; else echo "$a"; fi
    done | sha256sum | cut -c1-16
}

# patched: $CACHE/src, a hard-linked copy of the base with the series
# applied (hard links keep unchanged files' mtimes, so the out-of-tree
# objects stay valid).  Rebuilt when the series or base changes.
patched() {
    local h p src=$CACHE/src
    pristine
    # shellcheck disable=SC2046
    h=$(hash "$SRC_VER" $(series))
    SRC=$src
    [ "$(cat "$src/.vfio-direct-series" 2>/dev/null)" = "$h" ] && return 0
    rm -rf "$src" "$src.tmp"
    mkdir "$src.tmp"
    cp -al "$PRISTINE/." "$src.tmp/"
    rm -f "$src.tmp/.complete"
    for p in $(series); do
        # git apply writes each patched file anew, so the base's hard
        # links stay untouched.
        if ! (cd "$src.tmp" && git apply --whitespace=nowarn "$p") 2>"$CACHE/apply.log"; then
            note "linux/$(basename "$p") does not apply to linux-source-6.12 $SRC_VER:"
            sed "s/^/$PROG: | /" "$CACHE/apply.log" >&2
            rm -rf "$src.tmp"
            exit 1
        fi
    done
    echo "$h" >"$src.tmp/.vfio-direct-series"
    mv "$src.tmp" "$src"
    note "applied $(series | wc -l) patches to linux-source-6.12 $SRC_VER"
}

# headers: the bookworm linux-headers and image of $ABI-$FLAVOUR, with the
# host's (amd64) linux-kbuild: its modpost and fixdep serve every target.
headers() {
    local hdir=$CACHE/headers-$ABI-$FLAVOUR idir=$CACHE/stock-$ABI-$FLAVOUR common want have
    unpack_debs "$hdir" \
        "$(fetch_deb "linux-headers-$ABI-$FLAVOUR" "$HDR_VER" arch)" \
        "$(fetch_deb "linux-headers-$ABI-common" "$HDR_VER")" \
        "$(fetch_deb "linux-kbuild-$ABI" "$HDR_VER")"
    HEADERS=$hdir/usr/src/linux-headers-$ABI-$FLAVOUR
    # The package's Makefile includes the common tree by its installed path.
    common=$hdir/usr/src/linux-headers-$ABI-common
    grep -q "^include $common/Makefile" "$HEADERS/Makefile" ||
        sed -i "s|^include .*/linux-headers-$ABI-common/Makefile|include $common/Makefile|" "$HEADERS/Makefile"
    unpack_debs "$idir" "$(fetch_deb "linux-image-$ABI-$FLAVOUR" "$HDR_VER" arch)"
    # bookworm's package keeps the modules in /lib: the test bed's layout
    # (as trixie's) is /usr/lib.
    if [ -d "$idir/lib/modules" ] && [ ! -e "$idir/usr/lib/modules" ]; then
        mkdir -p "$idir/usr/lib"
        mv "$idir/lib/modules" "$idir/usr/lib/modules"
    fi
    STOCK=$idir
    KVER=$ABI-$FLAVOUR
    # Modules must come from the compiler version that built the image
    # (its compiler-dependent options and code generation).
    want=$(sed -n 's/^CONFIG_GCC_VERSION=//p' "$HEADERS/.config")
    have=$("$CC_BIN" -dumpfullversion 2>/dev/null | awk -F. '{ printf "%d%02d%02d", $1, $2, $3 }') ||
        true
    [ -n "$have" ] || die "no $CC_BIN (scripts/install-deps.sh installs it)"
    [ "$want" = "$have" ] ||
        die "$KVER was built by gcc $want, $CC_BIN is $have: the modules would not match it"
}

# build_moddir OBJ FILE... (Kbuild on stdin): build the modules of an
# out-of-tree directory OBJ from FILEs of the patched tree against the
# headers.  cp -p keeps mtimes, so unchanged files are not rebuilt; every
# header under include/ the series touches goes ahead of the package's
# (NOSTDINC_FLAGS comes before LINUXINCLUDE).
build_moddir() {
    local obj=$1 f rel log
    shift
    log=$obj.log
    mkdir -p "$obj"
    cat >"$obj/Kbuild"
    for f in "$@"; do
        cmp -s "$f" "$obj/$(basename "$f")" || cp -p "$f" "$obj/"
    done
    rm -rf "$obj/include"
    mkdir -p "$obj/include"
    for rel in $(series | xargs -r grep -h '^+++ b/include/' | sed 's|^+++ b/include/||' | sort -u); do
        mkdir -p "$obj/include/$(dirname "$rel")"
        cp -p "$SRC/include/$rel" "$obj/include/$rel"
    done
    note "building $(sed -n 's/^obj-[^ ]* *+\{0,1\}= *//p' "$obj/Kbuild" | tr '\n' ' ')against linux-headers-$KVER"
    # BTF for modules needs pahole; the test bed does not use it.
    make -C "$HEADERS" M="$obj" -j"$JOBS" ${KMAKE_ARCH[@]+"${KMAKE_ARCH[@]}"} CC="ccache $CC_BIN" \
        CONFIG_DEBUG_INFO_BTF_MODULES= modules >"$log" 2>&1 ||
        { tail -n 30 "$log" >&2; die "module build failed (log: $log)"; }
    if grep -E ': warning: ' "$log" >&2; then
        die "the module build has warnings (log: $log)"
    fi
}

# modules: build vfio-pci-core.ko and vfio-pci.ko (and on amd64
# vfio_iommu_type1.ko) from the patched tree against the headers; print a
# kernel tree: the stock image and modules with those replaced.
cmd_modules() {
    local h out obj f rel sfx="" mods
    resolve
    headers
    # vfio-pci (K2, K3) from drivers/vfio/pci without the variant drivers;
    # on amd64 vfio_iommu_type1 (K4, K5) from drivers/vfio.  sPAPR's
    # containers are vfio_iommu_spapr_tce's, which K4 and K5 do not touch.
    mods="obj-modules/vfio-pci-core:pci/vfio-pci-core obj-modules/vfio-pci:pci/vfio-pci"
    if [ "$ARCH" = amd64 ]; then
        # shellcheck disable=SC2046
        h=$(hash modules type1 "$SRC_VER" "$HDR_VER" $(series))
        mods="$mods obj-type1/vfio_iommu_type1:vfio_iommu_type1"
    else
        # shellcheck disable=SC2046
        h=$(hash modules "$ARCH" "$SRC_VER" "$HDR_VER" $(series))
        sfx=-$ARCH
    fi
    out=$CACHE/modules-$h
    if [ ! -e "$out/.complete" ]; then
        patched
        {
            sed '/\/$/d' "$SRC/drivers/vfio/pci/Makefile"
            echo "NOSTDINC_FLAGS += -I\$(src)/include"
        } | build_moddir "$CACHE/obj-modules$sfx" "$SRC"/drivers/vfio/pci/*.[ch]
        if [ "$ARCH" = amd64 ]; then
            {
                echo "obj-m += vfio_iommu_type1.o"
                echo "NOSTDINC_FLAGS += -I\$(src)/include"
            } | build_moddir "$CACHE/obj-type1" "$SRC"/drivers/vfio/vfio_iommu_type1.c "$SRC"/drivers/vfio/vfio.h
        fi
        rm -rf "$out.tmp"
        mkdir -p "$out.tmp/boot" "$out.tmp/usr/lib/modules"
        ln "$STOCK/boot/$KIMAGE-$KVER" "$out.tmp/boot/"
        cp -al "$STOCK/usr/lib/modules/$KVER" "$out.tmp/usr/lib/modules/"
        for f in $mods; do
            obj=$CACHE/${f%%/*}$sfx/${f#*/}
            obj=${obj%%:*}
            rel=usr/lib/modules/$KVER/kernel/drivers/vfio/${f#*:}.ko.xz
            [ -e "$out.tmp/$rel" ] || die "the stock image has no $rel"
            rm -f "$out.tmp/$rel"
            "${CROSS_PREFIX}strip" --strip-debug -o "$obj.stripped.ko" "$obj.ko"
            xz -c --check=crc32 "$obj.stripped.ko" >"$out.tmp/$rel"
        done
        echo "linux-source-6.12 $SRC_VER + $(series | wc -l) patches, modules for $KVER ($HDR_VER)" \
            >"$out.tmp/vfio-direct-kernel"
        touch "$out.tmp/.complete"
        rm -rf "$out"
        mv "$out.tmp" "$out"
    fi
    echo "$out"
}

# image_hash: the cache key of the image.
image_hash() {
    # shellcheck disable=SC2046
    hash image "$SRC_VER" "$FRAGMENT" $(series)
}

cmd_image() {
    local h out obj kver
    resolve
    [ -f "$FRAGMENT" ] || die "no config fragment $FRAGMENT"
    h=$(image_hash)
    out=$CACHE/image-$h
    if [ ! -e "$out/.complete" ]; then
        patched
        obj=$CACHE/obj-image
        mkdir -p "$obj"
        export CCACHE_BASEDIR=$CACHE
        kmake() {
            make -C "$SRC" O="$obj" -j"$JOBS" CC="ccache gcc" KBUILD_BUILD_USER=vfio-direct \
                KBUILD_BUILD_HOST=testbed "$@"
        }
        note "configuring: tinyconfig + $(basename "$FRAGMENT")"
        kmake tinyconfig >"$CACHE/image.log" 2>&1
        (cd "$obj" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$obj" .config "$FRAGMENT") \
            >>"$CACHE/image.log" 2>&1
        kmake olddefconfig >>"$CACHE/image.log" 2>&1
        # Every option of the fragment must have its value in the result.
        grep '^CONFIG_' "$FRAGMENT" | while IFS= read -r line; do
            opt=${line%%=*} val=${line#*=}
            if [ "$val" = n ]; then
                ! grep -q "^$opt=" "$obj/.config" || die "config: $opt is set, the fragment says n"
            else
                grep -qx "$opt=$val" "$obj/.config" ||
                    die "config: the fragment's $line did not take ($(grep "^$opt=\|$opt is not set" "$obj/.config" || echo 'unknown option'))"
            fi
        done
        note "building bzImage (log: $CACHE/image.log)"
        local t0=$SECONDS
        kmake bzImage modules >>"$CACHE/image.log" 2>&1 ||
            { tail -n 30 "$CACHE/image.log" >&2; die "kernel build failed (log: $CACHE/image.log)"; }
        note "bzImage built in $((SECONDS - t0)) s"
        if grep -E ': warning: ' "$CACHE/image.log" >&2; then
            die "the image build has warnings (log: $CACHE/image.log)"
        fi
        kver=$(cat "$obj/include/config/kernel.release")
        rm -rf "$out.tmp"
        mkdir -p "$out.tmp/boot" "$out.tmp/usr/lib/modules/$kver"
        cp "$obj/arch/x86/boot/bzImage" "$out.tmp/boot/vmlinuz-$kver"
        cp "$obj/.config" "$out.tmp/boot/config-$kver"
        cp "$obj/modules.builtin" "$out.tmp/usr/lib/modules/$kver/"
        : >"$out.tmp/usr/lib/modules/$kver/modules.order"
        echo "linux-source-6.12 $SRC_VER + $(series | wc -l) patches, tinyconfig + testbed.config, $kver" \
            >"$out.tmp/vfio-direct-kernel"
        touch "$out.tmp/.complete"
        rm -rf "$out"
        mv "$out.tmp" "$out"
    fi
    echo "$out"
}

# cached: the image is in the cache (no network, no build).
cmd_cached() {
    local v
    v=$(cat "$CACHE/last-source-version" 2>/dev/null || true)
    [ -n "$v" ] || return 1
    SRC_VER=$v
    [ -e "$CACHE/image-$(image_hash)/.complete" ]
}

{ [ $# -ge 1 ] && [ $# -le 2 ]; } || usage
case $1 in modules|stock) ;; *) [ $# = 1 ] || usage ;; esac
set_arch "${2:-amd64}"
mkdir -p "$CACHE"
# One kernel.sh at a time per cache: they share the patched tree.
exec 9>"$CACHE/.lock"
flock 9
case $1 in
modules) cmd_modules ;;
image) cmd_image; echo "$SRC_VER" >"$CACHE/last-source-version" ;;
stock) resolve; headers; echo "$STOCK" ;;
source) resolve; patched; echo "$SRC" ;;
cached) cmd_cached ;;
-h|--help) usage ;;
*) usage ;;
esac
