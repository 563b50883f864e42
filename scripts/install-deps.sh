#!/bin/sh
# Install what vfio-direct needs to build, test and benchmark on Debian 12.
#
# Idempotent; run as root.  Newer suites are added at low pin priority so
# that no installed package is ever upgraded: packages come from them only
# when named here with -t (meson, pycotap) or are fetched as files (the
# QEMU source via deb-src, the test-bed kernels via apt-get download).
set -eu

die() { echo "install-deps: $*" >&2; exit 1; }

# Build dependencies of the QEMU base (see docs/devel/vfio-direct.rst).
build="build-essential ninja-build pkg-config ccache flex bison
       libglib2.0-dev libpixman-1-dev libslirp-dev libfdt-dev zlib1g-dev
       python3-venv xz-utils dpkg-dev git"
# Firmware that lets q35 and pseries machines, and the qtests, start
# (QEMU's own blobs come from qemu-system-data, unpacked by configure).
firmware="seabios ipxe-qemu"
# Test bed: stock QEMU for the L1 guests, initramfs tools.
testbed="qemu-system-x86 qemu-system-ppc busybox-static cpio bc"
# The ppc64le cross build (make cross-ppc64le) and the static ppc64 probes:
# Debian's cross toolchain; the ppc64el libraries are fetched as files into
# a sysroot (scripts/cross-ppc64le.sh, signed by the archive keyring).
cross="gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross
       debian-archive-keyring"
# make bundle-ppc64le: the bundled binary finds its libraries by RUNPATH.
bundle="patchelf"
# make docs: QEMU's qapi-doc Sphinx extension renders the QMP reference.
docs="python3-sphinx python3-sphinx-rtd-theme"
# make check-libvirt and make demo: bookworm's libvirt 9.0 (its daemon and
# QEMU driver run in the x86 L1 from the shared /usr; the pin keeps
# bookworm-backports' 11.x away) and the demo's chart.
libvirt="libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients"
demo="python3-matplotlib"
# The kernel series' test-bed image (make kernel): objtool needs libelf.
kernel="libelf-dev"

missing_packages()
{
    for p in $build $firmware $testbed $cross $bundle $docs $libvirt $demo $kernel python3-pycotap; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
            grep -q '^install ok installed' || echo "$p"
    done
    meson_ver=$(dpkg-query -W -f='${Version}' meson 2>/dev/null || true)
    if [ -z "$meson_ver" ] || dpkg --compare-versions "$meson_ver" lt 1.5; then
        echo meson
    fi
}

# --check: succeed when nothing is missing (no root needed): packages,
# and the apt sources that configure and the test bed fetch from.
if [ "${1:-}" = --check ]; then
    [ -z "$(missing_packages)" ] &&
        [ -e /etc/apt/sources.list.d/vfio-direct.sources ]
    exit
fi

[ "$(id -u)" = 0 ] || die "must run as root (try: sudo $0)"
[ -r /etc/debian_version ] || die "only Debian is supported"

list=/etc/apt/sources.list.d/vfio-direct.sources  # also in --check
pin=/etc/apt/preferences.d/vfio-direct
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

want_list="Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: $keyring

Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: $keyring
"

# bookworm stays the default; trixie is never chosen on its own (priority 1
# is below installed packages' 100, so nothing installed is upgraded from it).
want_pin="Package: *
Pin: release n=trixie
Pin-Priority: 1

Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100
"

changed=
if [ "$(cat "$list" 2>/dev/null)" != "$(printf '%s' "$want_list")" ]; then
    printf '%s' "$want_list" >"$list"
    changed=1
fi
if [ "$(cat "$pin" 2>/dev/null)" != "$(printf '%s' "$want_pin")" ]; then
    printf '%s' "$want_pin" >"$pin"
    changed=1
fi

stamp=/var/lib/apt/lists/vfio-direct.updated
if [ -n "$changed" ] || [ ! -e "$stamp" ] ||
   [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
    apt-get -q update >/dev/null 2>&1 ||
        apt-get -q update 2>&1 | tail -n 3 >&2 ||
        die "cannot reach the Debian archive (apt-get update failed); check network or proxy settings"
    touch "$stamp"
fi

# Installed packages that "apt-get install $*" would upgrade, as
# "package new-version suite" lines.  An upgrade a -dev package forces
# (libglib2.0-dev wants the runtime of its own version) comes from
# bookworm's point releases; one from trixie or backports means the pin
# did not hold, and nothing is installed then.
planned_upgrades()
{
    apt-get -s -q --no-install-recommends "$@" 2>/dev/null |
        sed -n 's/^Inst \([^ ]*\) \[[^]]*\] (\([^ ]*\) .*/\1 \2/p' |
        while read -r pkg ver; do
            suite=$(apt-cache madison "$pkg" |
                awk -F' [|] ' -v v="$ver" '$2 == v { split($3, a, " "); print a[2]; exit }')
            echo "$pkg $ver ${suite%%/*}"
        done
}

# Refuse an install that would upgrade from another suite; name the
# point-release upgrades it brings.
check_upgrades()
{
    upgrades=$(planned_upgrades "$@")
    foreign=$(echo "$upgrades" |
        awk 'NF == 3 && $3 !~ /^bookworm(-updates|-security)?$/ { printf " %s (%s)", $1, $3 }')
    [ -z "$foreign" ] ||
        die "installing would upgrade installed packages from another suite:$foreign; check /etc/apt/preferences.d for a pin above $pin's"
    [ -z "$upgrades" ] ||
        echo "install-deps: bookworm point-release upgrades needed:" $(echo "$upgrades" | cut -d' ' -f1)
}

missing=
for p in $build $firmware $testbed $cross $bundle $docs $libvirt $demo $kernel; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
        grep -q '^install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    check_upgrades install $missing
    echo "install-deps: installing$missing"
    DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \
        install $missing >/dev/null ||
        die "apt-get install failed for:$missing"
fi

# meson >= 1.5 and pycotap only exist in bookworm-backports.
meson_ver=$(dpkg-query -W -f='${Version}' meson 2>/dev/null || true)
if [ -z "$meson_ver" ] || dpkg --compare-versions "$meson_ver" lt 1.5; then
    echo "install-deps: installing meson from bookworm-backports"
    check_upgrades -t bookworm-backports install meson python3-pycotap
    DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \
        -t bookworm-backports install meson python3-pycotap >/dev/null ||
        die "cannot install meson >= 1.5 from bookworm-backports"
fi
dpkg-query -W -f='${Status}\n' python3-pycotap 2>/dev/null | grep -q 'ok installed' ||
    DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \
        -t bookworm-backports install python3-pycotap >/dev/null ||
    die "cannot install python3-pycotap from bookworm-backports"

echo "install-deps: ok"
