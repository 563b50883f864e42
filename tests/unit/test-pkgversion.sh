#!/bin/sh
# Unit tests of the package string of our binaries
# (hw/vfio/direct/pkgversion.sh): the fork, its commit, the base
# configure unpacked, QEMU's --with-pkgversion kept last (TAP output).
set -u

. "$(dirname "$0")/tap.sh"

script=$(dirname "$0")/../../hw/vfio/direct/pkgversion.sh
describe=$(git -C "$(dirname "$script")" describe --always --dirty)
t=$(mktemp -d "${TMPDIR:-/tmp}/test-pkgversion.XXXXXX")
trap 'rm -rf "$t"' EXIT
mkdir "$t/src"

echo "Debian trixie qemu 1:10.0.13+ds-0+deb13u1" >"$t/BASE-ORIGIN"
check "Debian base" "$(sh "$script" "$t/src")" \
    "vfio-direct $describe, Debian 1:10.0.13+ds-0+deb13u1"
check "--with-pkgversion kept" "$(sh "$script" "$t/src" local-build)" \
    "vfio-direct $describe, Debian 1:10.0.13+ds-0+deb13u1, local-build"

echo "/home/u/qemu-10.0.5.tar.xz" >"$t/BASE-ORIGIN"
check "--qemu-source tarball" "$(sh "$script" "$t/src")" \
    "vfio-direct $describe, base qemu-10.0.5.tar.xz"

rm "$t/BASE-ORIGIN"
check "no BASE-ORIGIN" "$(sh "$script" "$t/src")" "vfio-direct $describe"

# A copy outside any git repository (a tarball of the clone)
cp "$script" "$t/pkgversion.sh"
check "not from git" "$(GIT_CEILING_DIRECTORIES=$t sh "$t/pkgversion.sh" "$t/src")" \
    "vfio-direct (not from git)"

tap_done
