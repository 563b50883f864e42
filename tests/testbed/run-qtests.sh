#!/bin/sh
# run-qtests.sh - run qtests inside a test-bed L1 and print one TAP line per case.
#
#   run-qtests.sh [--iommufd] LABEL QEMU-BINARY QTEST-DIR TEST...
#
# Runs each QTEST-DIR/TEST with QTEST_QEMU_BINARY=QEMU-BINARY (an L1 runs it
# in its chroot: check-system.sh passes it to run-in-l1.sh); TEST,ARG,...
# passes ARGs too (e.g. vfio-subpage-test,-p,/ppc64/vfio/subpage/pvpanic),
# and TEST,-x,REGEX runs every case TEST lists (-l) but those matching the
# extended REGEX.
# It prints "# qtest TEST[LABEL]", then its cases as "ok - TEST[LABEL] /path" or
# "not ok - ...", "not ok - TEST[LABEL] ran no test case" when it printed
# none and "not ok - TEST[LABEL] exited with status N" when it failed,
# followed by the last lines of its other output as "# | LINE".
# Skips stay "ok ... # SKIP": the caller decides what they count as.
# With --iommufd every QEMU the tests start also gets "-object
# iommufd,id=iommufd0 -global vfio-pci.iommufd=iommufd0": each vfio-pci
# device then opens its VFIO cdev (/dev/vfio/devices/vfioN, found from
# host=) and maps through /dev/iommu instead of its group and a type1
# container; the tests see VFIO_DIRECT_BACKEND=iommufd.  A wrapper named
# like QEMU-BINARY (libqtest reads the target from the name) adds them
# and execs the binary, so qtest_pid() stays QEMU's.
# Always exits 0; the lines are the result.
set -u

wrap=
if [ "${1-}" = --iommufd ]; then
    wrap=$(mktemp -d "${TMPDIR:-/tmp}/run-qtests-iommufd.XXXXXX") || exit 1
    shift
fi
[ $# -ge 4 ] || { sed -n '3,/^set -u/s/^# \{0,1\}//p' "$0" | sed '$d' >&2; exit 2; }
label=$1 qemu=$2 dir=$3
shift 3
if [ -n "$wrap" ]; then
    printf '#!/bin/sh\nexec "%s" -object iommufd,id=iommufd0 -global vfio-pci.iommufd=iommufd0 "$@"\n' \
        "$qemu" >"$wrap/$(basename "$qemu")"
    chmod +x "$wrap/$(basename "$qemu")"
    qemu=$wrap/$(basename "$qemu")
    export VFIO_DIRECT_BACKEND=iommufd
fi
tap=${TMPDIR:-/tmp}/run-qtests.$$
for run in "$@"; do
    t=${run%%,*}
    args=
    [ "$t" = "$run" ] || args=$(echo "${run#*,}" | tr , ' ')
    case $args in
    "-x "*)
        args=$(QTEST_QEMU_BINARY=$qemu "$dir/$t" -l | grep '^/' |
               grep -vE "${args#-x }" | sed 's/^/-p /' | tr '\n' ' ')
        [ -n "$args" ] || { echo "not ok - ${t}[$label] no case left to run"; continue; }
        ;;
    esac
    echo "# qtest ${t}[$label]${args:+ $args}"
    # shellcheck disable=SC2086  # ARGs hold no spaces
    QTEST_QEMU_BINARY=$qemu "$dir/$t" --tap $args >"$tap" 2>&1
    rc=$?
    sed -nE "s#^(not ok|ok) [0-9]+ #\1 - ${t}[$label] #p" "$tap"
    grep -qE "^(not )?ok " "$tap" ||
        echo "not ok - ${t}[$label] ran no test case"
    if [ $rc != 0 ]; then
        echo "not ok - ${t}[$label] exited with status $rc"
        grep -vE "^(not )?ok " "$tap" | tail -n 15 | sed 's/^/# | /'
    fi
done
rm -f "$tap"
[ -z "$wrap" ] || rm -rf "$wrap"
