#!/bin/sh
# fetch-kernel.sh - fetch and unpack the test-bed L1 kernel (or ppc64el busybox).
#
#   fetch-kernel.sh amd64            newest trixie linux-image-6.12.*+deb13-amd64
#   fetch-kernel.sh ppc64el-64k      newest trixie linux-image-6.12.*+deb13-powerpc64le-64k
#   fetch-kernel.sh busybox ppc64el  busybox-static:ppc64el (for the pseries initramfs)
#
# Prints the directory holding the unpacked package (boot/ and
# usr/lib/modules/, or usr/bin/busybox).  Packages are resolved from the apt index at run time because
# Debian drops superseded kernels from the archive; if a download fails the
# next newest is tried.  Unpacked trees are cached under
# $VFIO_DIRECT_CACHE/kernels (default ~/.cache/vfio-direct) and reused without
# the network.  Nothing is installed on the host.  ppc64el packages come from
# a private apt configuration in the cache, so dpkg's architecture list is
# never changed.
set -eu
. "$(dirname "$0")/lib.sh"

usage() {
    echo "usage: $PROG amd64|ppc64el-64k | $PROG busybox ppc64el" >&2
    exit 2
}

. "$TESTBED_DIR/apt-private.sh"
updated=

# apt_cmd DEBARCH apt-get|apt-cache ARGS...
apt_cmd() {
    arch=$1 tool=$2
    shift 2
    if [ "$arch" = amd64 ]; then
        "$tool" "$@"
    else
        apt_priv "$tool" "$@"
    fi
}

# The private ppc64el apt tree: trixie lists, refreshed twice a day.
apt_priv_setup() {
    apt_priv_init "$VFIO_DIRECT_CACHE/apt-ppc64el" trixie ppc64el
    apt_priv_update "$@" || true
    [ -z "$APT_PRIV_UPDATED" ] || updated=1
}

# candidates DEBARCH REGEX: "package version" lines, newest first.
candidates() {
    arch=$1 re=$2
    names=$(apt_cmd "$arch" apt-cache pkgnames 2>/dev/null | grep -E "$re" || true)
    [ -n "$names" ] || return 0
    # shellcheck disable=SC2086
    apt_cmd "$arch" apt-cache madison $names 2>/dev/null |
        awk -F' [|] ' '$3 ~ / Packages$/ { gsub(/ /, "", $1); gsub(/ /, "", $2); print $1, $2 }' |
        sort -u | sort -k2,2Vr
}

# unpack DEBARCH PKG VERSION DIR: download PKG=VERSION and unpack it into DIR.
unpack() {
    arch=$1 pkg=$2 ver=$3 dir=$4
    tmp=$(mktemp -d "$(dirname "$dir")/.tmp.XXXXXX")
    if ! (cd "$tmp" && apt_cmd "$arch" apt-get -q download "$pkg=$ver") \
            >"$tmp/download.log" 2>&1; then
        note "download of $pkg $ver failed: $(grep -E '^(E|Err):' "$tmp/download.log" | tail -n 1)"
        rm -rf "$tmp"
        return 1
    fi
    mkdir "$tmp/root"
    dpkg-deb -x "$tmp"/*.deb "$tmp/root" || { rm -rf "$tmp"; return 1; }
    touch "$tmp/root/.vfio-direct-complete"
    rm -rf "$dir"
    mv "$tmp/root" "$dir"
    rm -rf "$tmp"
}

# try_candidates DEBARCH REGEX: print the tree of the newest candidate that
# is cached or downloads; fail when none does.
try_candidates() {
    arch=$1 re=$2
    list=$(candidates "$arch" "$re")
    [ -n "$list" ] || return 1
    echo "$list" | {
        while read -r pkg ver; do
            dir=$store/${pkg}_$(echo "$ver" | tr : %)_$arch
            if [ -e "$dir/.vfio-direct-complete" ] ||
               { note "fetching $pkg $ver ($arch)"; unpack "$arch" "$pkg" "$ver" "$dir"; }; then
                echo "$dir"
                exit 0
            fi
        done
        exit 1
    }
}

# Refresh the apt lists once: stale lists name packages the archive dropped.
refresh_lists() {
    [ -z "$updated" ] || return 1
    updated=1
    note "refreshing the $1 apt lists"
    if [ "$1" = amd64 ]; then
        [ "$(id -u)" = 0 ] && apt-get -q update >/dev/null 2>&1
    else
        apt_priv_setup force
    fi
}

# fetch DEBARCH REGEX GLOB: print the cached tree of the newest fetchable
# package whose name matches REGEX; GLOB matches the same trees in the cache.
fetch() {
    arch=$1 re=$2 glob=$3
    store=$VFIO_DIRECT_CACHE/kernels
    mkdir -p "$store"
    [ "$arch" = amd64 ] || apt_priv_setup
    try_candidates "$arch" "$re" && return 0
    refresh_lists "$arch" && try_candidates "$arch" "$re" && return 0
    # Nothing resolvable could be fetched: fall back to the newest cached tree.
    # shellcheck disable=SC2086
    dir=$(ls -d "$store"/$glob"_$arch"/.vfio-direct-complete 2>/dev/null | sort -Vr | head -n 1)
    [ -n "$dir" ] ||
        die "cannot fetch a package matching '$re' for $arch (Debian archive unreachable, or scripts/install-deps.sh not run?)"
    dir=$(dirname "$dir")
    note "archive unreachable or package gone; using cached $(basename "$dir")"
    echo "$dir"
}

case ${1-} in
amd64)
    [ $# = 1 ] || usage
    out=$(fetch amd64 '^linux-image-6\.12\.[0-9]+\+deb13-amd64$' \
                'linux-image-6.12.*+deb13-amd64_*')
    ;;
ppc64el-64k)
    [ $# = 1 ] || usage
    out=$(fetch ppc64el '^linux-image-6\.12\.[0-9]+\+deb13-powerpc64le-64k$' \
                'linux-image-6.12.*+deb13-powerpc64le-64k_*')
    ;;
busybox)
    [ "${2-}" = ppc64el ] && [ $# = 2 ] || usage
    out=$(fetch ppc64el '^busybox-static$' 'busybox-static_*')
    ;;
*)
    usage
    ;;
esac
echo "$out"
