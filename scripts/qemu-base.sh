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

# Versions of the "qemu" source package that the apt index lists, or
# VFIO_DIRECT_QEMU_VERSIONS (one per line) when set, for tests.
qemu_base_listed_versions()
{
    if [ -n "${VFIO_DIRECT_QEMU_VERSIONS:-}" ]; then
        printf '%s\n' "$VFIO_DIRECT_QEMU_VERSIONS"
        return
    fi
    apt-cache showsrc qemu 2>/dev/null | sed -n 's/^Version: //p'
}

# The reason of the first failed download in apt's output $1, e.g.
# "404  Not Found" or "Could not connect to ...", else its last error.
qemu_base_apt_error()
{
    reason=$(printf '%s\n' "$1" |
             sed -n 's/^E: Failed to fetch [^ ]*  *//p' | head -n 1)
    [ -n "$reason" ] ||
        reason=$(printf '%s\n' "$1" | sed -n 's/^E: //p' | tail -n 1)
    echo "$reason"
}

# Path of the orig tarball of Debian version $1 inside cache dir $2.
qemu_base_tarball()
{
    up=${1#*:}
    echo "$2/qemu_${up%-*}.orig.tar.xz"
}

# Run "apt-get -q $2..." in $1/partial, which then holds what it fetched.
# On failure print apt's reason and remove the folder.
qemu_base_apt_fetch()
{
    partial=$1/partial
    shift
    rm -rf "$partial"
    mkdir -p "$partial"
    if ! out=$(cd "$partial" && apt-get -q "$@" 2>&1); then
        qemu_base_apt_error "$out"
        rm -rf "$partial"
        return 1
    fi
}

# Download Debian version $1 of the qemu source into cache dir $2 unless it
# is there already.  Prints apt's reason on failure.
qemu_base_fetch()
{
    tarball=$(qemu_base_tarball "$1" "$2")
    [ -s "$tarball" ] && return 0
    qemu_base_apt_fetch "$2" source --download-only "qemu=$1" || return 1
    mv "$2/partial/"* "$2/" && rmdir "$2/partial"
    [ -s "$tarball" ]
}

# Unpack Debian's qemu-system-data package of version $1 (the firmware that
# the +ds source tarball strips) into cache dir $2; print the unpacked
# folder.  Prints apt's reason on failure.
qemu_base_fetch_firmware()
{
    dir="$2/qemu-system-data_${1#*:}"
    if [ ! -d "$dir/usr/share/qemu" ]; then
        qemu_base_apt_fetch "$2" download "qemu-system-data=$1" || return 1
        dpkg-deb -x "$2"/partial/qemu-system-data_*.deb "$dir.tmp" &&
            mv "$dir.tmp" "$dir"
        rm -rf "$2/partial" "$dir.tmp"
        if [ ! -d "$dir/usr/share/qemu" ]; then
            echo "cannot unpack qemu-system-data $1"
            return 1
        fi
    fi
    echo "$dir"
}

# Fetch the newest listed base version that the archive still has into
# cache dir $1, falling back version by version (the index may list one
# whose files are gone).  Prints "VERSION TARBALL"; on failure prints the
# versions tried and the last reason.
qemu_base_resolve()
{
    candidates=$(qemu_base_listed_versions | qemu_base_order_candidates)
    if [ -z "$candidates" ]; then
        echo "no qemu $VFIO_DIRECT_BASE_SERIES.x source in the apt index; run 'sudo scripts/install-deps.sh' (adds trixie deb-src) or pass --qemu-source"
        return 1
    fi
    tried=
    reason=
    for ver in $candidates; do
        if [ -n "$tried" ]; then
            echo "configure: qemu$tried cannot be fetched ($reason); trying $ver" >&2
        fi
        if reason=$(qemu_base_fetch "$ver" "$1/qemu-src"); then
            echo "$ver $(qemu_base_tarball "$ver" "$1/qemu-src")"
            return 0
        fi
        tried="$tried $ver"
    done
    echo "cannot fetch the qemu source from the Debian archive (tried$tried: ${reason:-unknown error}); check the network or pass --qemu-source=DIR|TARBALL"
    return 1
}
