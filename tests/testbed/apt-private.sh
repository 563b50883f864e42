# shellcheck shell=sh disable=SC2034
# apt-private.sh - a private apt tree for foreign-architecture packages (sourced).
#
# Packages for another architecture (ppc64el kernels, busybox, the cross
# build's sysroot) are resolved and downloaded with apt-get and apt-cache
# run on a tree of their own in the cache: their own sources.list, lists and
# an empty dpkg status.  dpkg's architecture list and the host's apt state
# are never touched, and nothing is installed.  Needs lib.sh (note,
# DEBIAN_MIRROR, DEBIAN_KEYRING).
#
#   apt_priv_init DIR SUITE ARCH   use DIR for SUITE's main on ARCH
#   apt_priv_update [force]        refresh the lists (twice a day, or now)
#   apt_priv TOOL ARG...           run apt-get or apt-cache on the tree

APT_PRIV="" APT_PRIV_SUITE="" APT_PRIV_ARCH="" APT_PRIV_UPDATED=""

apt_priv_init() {
    APT_PRIV=$1 APT_PRIV_SUITE=$2 APT_PRIV_ARCH=$3 APT_PRIV_UPDATED=
    mkdir -p "$APT_PRIV/empty" "$APT_PRIV/state" "$APT_PRIV/lists/partial" \
             "$APT_PRIV/cache/archives/partial"
    : >>"$APT_PRIV/status"
    echo "deb [arch=$APT_PRIV_ARCH signed-by=$DEBIAN_KEYRING] $DEBIAN_MIRROR $APT_PRIV_SUITE main" \
        >"$APT_PRIV/sources.list"
}

apt_priv() {
    _tool=$1
    shift
    "$_tool" -o "Dir::Etc::SourceList=$APT_PRIV/sources.list" \
        -o "Dir::Etc::SourceParts=$APT_PRIV/empty" \
        -o "Dir::Etc::Preferences=$APT_PRIV/empty/none" \
        -o "Dir::Etc::PreferencesParts=$APT_PRIV/empty" \
        -o "Dir::State=$APT_PRIV/state" \
        -o "Dir::State::Lists=$APT_PRIV/lists" \
        -o "Dir::State::status=$APT_PRIV/status" \
        -o "Dir::Cache=$APT_PRIV/cache" \
        -o "APT::Architecture=$APT_PRIV_ARCH" \
        -o "APT::Architectures=$APT_PRIV_ARCH" \
        -o "APT::Sandbox::User=root" "$@"
}

# Refresh the lists when older than 12 hours (or with "force").  A failed
# update keeps the old lists when there are some.
apt_priv_update() {
    _stamp=$APT_PRIV/updated
    if [ "${1-}" != force ] && [ -e "$_stamp" ] &&
       [ -z "$(find "$_stamp" -mmin +720)" ]; then
        return 0
    fi
    APT_PRIV_UPDATED=1
    note "updating private $APT_PRIV_SUITE $APT_PRIV_ARCH apt lists"
    # apt-get update exits 0 when a fetch fails: look at what it said.
    if apt_priv apt-get -q update >"$APT_PRIV/update.log" 2>&1 &&
       ! grep -q '^[WE]: ' "$APT_PRIV/update.log"; then
        touch "$_stamp"
    elif [ -e "$_stamp" ]; then
        note "apt-get update of $APT_PRIV_SUITE $APT_PRIV_ARCH failed, using the old lists"
    else
        note "apt-get update of $APT_PRIV_SUITE $APT_PRIV_ARCH failed: $(grep -m 1 '^[WE]: ' "$APT_PRIV/update.log")"
        return 1
    fi
}
