#!/bin/bash
# run.sh - make check-libvirt: libvirt drives our QEMU with a <hostdev>.
#
#   tests/libvirt/run.sh [--build DIR] [--timeout SEC]
#
# Builds the L2 guest (tests/demo/mkl2.sh) into DIR/libvirt, boots one x86
# test-bed L1 (tests/testbed/run-in-l1.sh) and runs in-l1.sh there:
# Debian's libvirtd from the host's /usr defines and starts the user
# guide's domain (docs/vfio-direct.rst, verbatim) with our
# DIR/qemu-system-x86_64 as <emulator> and the L1's vfio-pci sdhci as a
# managed='no' hostdev, checks info vfio, then detaches and re-attaches
# the hostdev live.  Prints TAP lines and "N passed, M failed".
#
#   --build DIR    our build (default: build), inside this repository
#   --timeout SEC  limit for the L1 run (default 600)
#   --guide FILE   take the XML examples from FILE instead of
#                  docs/vfio-direct.rst (inside this repository; to check
#                  that the test fails on a broken example)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
PROG=run.sh
die() { echo "check-libvirt: $*" >&2; exit 1; }

build=build timeout_s=600 guide=$repo/docs/vfio-direct.rst
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=${2?}; shift ;;
    --timeout) timeout_s=${2?}; shift ;;
    --guide) guide=$(cd "$(dirname "${2?}")" && pwd)/$(basename "$2"); shift ;;
    -h|--help) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
case $build in /*) ;; *) build=$repo/$build ;; esac
[ -x "$build/qemu-system-x86_64" ] || die "no $build/qemu-system-x86_64 (run make)"
build=$(cd "$build" && pwd)
case $build/ in "$repo"/*) ;; *) die "$build is outside $repo: the L1 cannot see it" ;; esac
command -v libvirtd >/dev/null && command -v virsh >/dev/null ||
    die "libvirt is not installed (run scripts/install-deps.sh)"

"$repo/tests/demo/mkl2.sh" "$build/libvirt"
# libvirt's capability cache of our binary, kept outside the clone
caps=${VFIO_DIRECT_CACHE:-${HOME:-/root}/.cache/vfio-direct}/libvirt-caps
mkdir -p "$caps"
t0=$(date +%s)
rc=0
"$repo/tests/testbed/run-in-l1.sh" --timeout "$timeout_s" --share "libvirtcaps=$caps:rw" x86 -- \
    /bin/bash "$repo/tests/libvirt/in-l1.sh" "$build/qemu-system-x86_64" \
    "$build/libvirt" "$guide" "$caps" || rc=$?
echo "# check-libvirt: $(($(date +%s) - t0)) s wall (L1 boot included), rc=$rc" >&2
exit "$rc"
