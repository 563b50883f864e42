#!/bin/sh
# Unit tests of the base version logic in scripts/qemu-base.sh (TAP output).
set -u

. "$(dirname "$0")/../../scripts/qemu-base.sh"
. "$(dirname "$0")/tap.sh"

check "upstream version of a Debian version" \
    "$(qemu_base_upstream_version 1:10.0.13+ds-0+deb13u1)" 10.0.13
check "upstream version without epoch or +ds" \
    "$(qemu_base_upstream_version 10.0.2-1)" 10.0.2

for v in 10.0.0 10.0.13 10.0.137; do
    qemu_base_is_supported "$v" && r=yes || r=no
    check "$v is a supported base" "$r" yes
done
for v in 10.1.0 9.2.3 10.0 10.0.13~rc1 11.0.0 10.00.1 1.10.0.1; do
    qemu_base_is_supported "$v" && r=yes || r=no
    check "$v is not a supported base" "$r" no
done

# Newest first, other series and duplicates dropped, Debian ordering
# (deb13u2 > deb13u1, 10.0.13 > 10.0.9 > 10.0.2).
got=$(printf '%s\n' \
        1:10.0.2+ds-1 \
        1:11.1.3+ds-1~bpo13+1 \
        1:10.0.13+ds-0+deb13u1 \
        1:10.0.9+ds-0+deb13u1 \
        1:7.2+dfsg-7+deb12u7 \
        1:10.0.13+ds-0+deb13u2 \
        1:10.0.13+ds-0+deb13u1 \
        1:10.1.0+ds-1 |
      qemu_base_order_candidates | tr '\n' ' ')
check "candidates newest first" "$got" \
    "1:10.0.13+ds-0+deb13u2 1:10.0.13+ds-0+deb13u1 1:10.0.9+ds-0+deb13u1 1:10.0.2+ds-1 "

got=$(printf '1:9.2.1+ds-1\n' | qemu_base_order_candidates)
check "no candidate outside the series" "$got" ""

check "orig tarball path of a version" \
    "$(qemu_base_tarball 1:10.0.13+ds-0+deb13u1 /c)" /c/qemu_10.0.13+ds.orig.tar.xz

# Fallback past a listed version the archive does not have, to the real
# one.  Needs the apt index (scripts/install-deps.sh); the real tarball
# comes from the cache when configure already fetched it.
cache=${VFIO_DIRECT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-direct}
real=$(qemu_base_listed_versions | qemu_base_order_candidates | head -n 1)
if [ -n "$real" ]; then
    got=$(VFIO_DIRECT_QEMU_VERSIONS="1:10.0.999+ds-0+deb13u1
$real" qemu_base_resolve "$cache" 2>/tmp/qemu-base-test.$$)
    check "falls back from a missing version to $real" "${got%% *}" "$real"
    check "says which version it skipped" \
        "$(grep -c '10.0.999.*trying' /tmp/qemu-base-test.$$)" 1
    rm -f /tmp/qemu-base-test.$$
    got=$(VFIO_DIRECT_QEMU_VERSIONS="1:10.0.998+ds-1" qemu_base_resolve "$cache")
    check "fails with one line when nothing can be fetched" \
        "$(echo "$got" | wc -l):${got%%(*}" \
        "1:cannot fetch the qemu source from the Debian archive "
fi

tap_done
