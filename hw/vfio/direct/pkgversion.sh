#!/bin/sh
# vfio-direct: the package string of our binaries (--version, query-version)
#
#   pkgversion.sh SOURCE-TREE [PKGVERSION]
#
# scripts/qemu-version.sh (hook) runs this at every build and uses what it
# prints as QEMU's package string:
#
#   vfio-direct DESCRIBE, BASE[, PKGVERSION]
#
# DESCRIBE is "git describe --always --dirty" of the clone this file lives
# in (the build tree links it there), so a bug report names the commit;
# BASE is what ./configure unpacked (BASE-ORIGIN beside SOURCE-TREE):
# "Debian 1:10.0.13+ds-0+deb13u1" for Debian's source package, the name of
# a --qemu-source tree or tarball otherwise.  PKGVERSION, from QEMU's own
# --with-pkgversion, is kept at the end.
set -eu

src=${1:?usage: pkgversion.sh SOURCE-TREE [PKGVERSION]}
extra=${2:-}

here=$(dirname "$(readlink -f "$0")")
describe=$(git -C "$here" describe --always --dirty 2>/dev/null) ||
    describe="(not from git)"

base=
if [ -r "$src/../BASE-ORIGIN" ]; then
    origin=$(cat "$src/../BASE-ORIGIN")
    case $origin in
    "Debian trixie qemu "*) base="Debian ${origin#Debian trixie qemu }" ;;
    ?*) base="base $(basename "$origin")" ;;
    esac
fi

printf 'vfio-direct %s%s%s\n' "$describe" "${base:+, $base}" "${extra:+, $extra}"
