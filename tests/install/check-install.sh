#!/bin/bash
# check-install.sh - make install's tree works where it is put (TAP).
#
#   check-install.sh --build DIR
#
# Installs DIR (scripts/install.sh) into a temporary PREFIX, moves the
# tree elsewhere, and checks there: both binaries run through bin/, name
# vfio-direct and the base in --version, look for firmware only inside the
# tree (-L help), and start q35 (SeaBIOS) and pseries (SLOF) machines from
# it; the guides are in share/doc.  Needs the host build, no test bed.
set -euo pipefail

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
. "$srcdir/tests/unit/tap.sh"
build=$srcdir/build
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=${2?}; shift ;;
    *) echo "check-install: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

t=$(mktemp -d "${TMPDIR:-/tmp}/check-install.XXXXXX")
trap 'rm -rf "$t"' EXIT
"$srcdir/scripts/install.sh" --build "$build" --prefix "$t/a/vfio-direct" >/dev/null
mv "$t/a/vfio-direct" "$t/moved"
p=$t/moved

# start BINARY MACHINE: start MACHINE paused and quit through the monitor
start() {
    echo quit | timeout 60 "$p/bin/$1" -M "$2" -S -display none -nodefaults \
        -monitor stdio >"$t/out" 2>&1
}
set +e
for q in qemu-system-x86_64 qemu-system-ppc64; do
    v=$("$p/bin/$q" --version | head -n 1)
    echo "# $v"
    grep -q "^QEMU emulator version 10\.0\.[0-9]* (vfio-direct [^,]*, " <<<"$v"
    check_status "$q --version names vfio-direct and the base"
    dirs=$("$p/bin/$q" -L help)
    grep -qx "$p/lib/vfio-direct/qemu-bundle/usr/share/qemu" <<<"$dirs" &&
        ! grep -v "^$p/" <<<"$dirs"
    check_status "$q looks for firmware only inside the moved tree"
done
start qemu-system-x86_64 q35
check_status "q35 starts from the tree (SeaBIOS found)" || cat "$t/out"
start qemu-system-ppc64 pseries
check_status "pseries starts from the tree (SLOF found)" || cat "$t/out"
[ -e "$p/share/doc/vfio-direct/vfio-direct.rst" ] &&
    [ -e "$p/share/doc/vfio-direct/README.md" ] &&
    grep -q "^vfio-direct " "$p/share/doc/vfio-direct/VERSION"
check_status "the guides and VERSION are in share/doc/vfio-direct"
tap_done
