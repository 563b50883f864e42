# Shell functions that resolve, fetch and unpack the QEMU base of vfio-direct.
#
# Sourced by configure and by tests/unit/test-qemu-base.sh.  Pure helpers
# (version selection) are kept apart from the ones that touch the network or
# the file system so that the unit test can exercise them without either.

# The only base series we build on.
VFIO_DIRECT_BASE_SERIES=10.0

# Upstream version (10.0.13) of a Debian version (1:10.0.13+ds-0+deb13u1).
qemu_base_upstream_version()
{
    v=${1#*:}
    v=${v%%-*}
    echo "${v%%+*}"
}

# Succeeds when an upstream version string belongs to the base series.
qemu_base_is_supported()
{
    case "$1" in
    "$VFIO_DIRECT_BASE_SERIES".[0-9]*) ;;
    *) return 1 ;;
    esac
    case "${1#"$VFIO_DIRECT_BASE_SERIES".}" in
    *[!0-9]*) return 1 ;;
    esac
}

# Filter Debian versions (one per line on stdin) down to the base series and
# print them newest first, duplicates removed.
qemu_base_order_candidates()
{
    sorted=
    for ver in $(sort -u); do
        qemu_base_is_supported "$(qemu_base_upstream_version "$ver")" || continue
        new=
        for old in $sorted; do
            if [ -n "$ver" ] && dpkg --compare-versions "$ver" gt "$old"; then
                new="$new $ver"
                ver=
            fi
            new="$new $old"
        done
        sorted="$new $ver"
    done
    for ver in $sorted; do
        echo "$ver"
    done
}

# Versions of the "qemu" source package that the apt index lists.
qemu_base_listed_versions()
{
    apt-cache showsrc qemu 2>/dev/null | sed -n 's/^Version: //p'
}

# Path of the orig tarball of Debian version $1 inside cache dir $2.
qemu_base_tarball()
{
    up=${1#*:}
    echo "$2/qemu_${up%-*}.orig.tar.xz"
}

# Download Debian version $1 of the qemu source into cache dir $2 unless it
# is there already.  Prints apt's last error line on failure.
qemu_base_fetch()
{
    tarball=$(qemu_base_tarball "$1" "$2")
    [ -s "$tarball" ] && return 0
    mkdir -p "$2/partial"
    if ! out=$(cd "$2/partial" &&
               apt-get -q source --download-only "qemu=$1" 2>&1); then
        printf '%s\n' "$out" | grep -E '^(E|Err):' | tail -n 1
        rm -rf "$2/partial"
        return 1
    fi
    mv "$2/partial/"* "$2/" && rmdir "$2/partial"
    [ -s "$tarball" ]
}
