#!/bin/bash
# demo.sh - make demo: the same Linux guest on passed-through devices,
# on the base and on vfio-direct, side by side, on x86 and on pseries.
#
#   tests/demo/demo.sh [--platform x86|pseries|all] [--build DIR] [--base DIR]
#                      [--cross DIR] [--cross-base DIR]
#                      [--firmware qboot|seabios] [--runs N] [--timeout SEC]
#
# x86: builds the L2 guest (mkl2.sh) into DIR/demo/l2, boots one x86
# test-bed L1 (tests/testbed/run-in-l1.sh: TCG, intel-iommu, sdhci,
# i6300esb, pvpanic, e1000e and nvme bound to the L1's vfio-pci) and runs
# demo-l1.py there: N runs of one Linux L2 per build, base and ours
# alternating, under nested KVM with the five devices passed through, its
# drivers probing them and touching their registers; ours with the
# settings the user guide recommends for the host (docs/vfio-direct.rst,
# "Recommended settings").  Then report.py prints the side-by-side report and writes
# DIR/demo/demo.txt, demo.json and demo.png.  The L1's console is kept in
# DIR/demo/l1-console.log; progress lines show while it runs.
#
# pseries: the same on 64 KiB pages: the ppc64el-64k L2 (mkl2.sh --arch
# ppc64el-64k) in one pseries-a L1 under nested KVM-HV, sdhci, e1000e,
# nvme and qemu-xhci passed through, SLOF placing the BARs, on the base's
# and our ppc64le binaries (demo-pseries-l1.py, in the chroot on the cross
# build's sysroot); report in DIR/demo/pseries/ (demo.txt, demo.json,
# demo.png), console in DIR/demo/pseries/l1-console.log.
#
#   --platform P    x86, pseries or all (default: all, x86 first)
#   --build DIR     our build (default: build)
#   --base DIR      the base build, from `make base-build` (default: build-base)
#   --cross DIR     our ppc64le build (default: build-ppc64le)
#   --cross-base DIR  the base's (default: build-base-ppc64le)
#   --firmware F    the x86 L2's firmware: qboot (default: Linux places the
#                   BARs and packs the small ones) or seabios (a page each)
#   --runs N        runs of each build (default 3, or $DEMO_RUNS): times are
#                   the median and min-max
#   --timeout SEC   limit for each L1 run (default 240 + 330 per run x86,
#                   400 + 700 per run pseries); the whole demo ends by
#                   itself, its L1 and L2 processes with it
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
die() { echo "demo: $*" >&2; exit 1; }

platform=all build=build base=build-base cross=build-ppc64le
cross_base=build-base-ppc64le firmware=qboot timeout_s= runs=${DEMO_RUNS:-3}
while [ $# -gt 0 ]; do
    case $1 in
    --platform) platform=${2?}; shift ;;
    --build) build=${2?}; shift ;;
    --base) base=${2?}; shift ;;
    --cross) cross=${2?}; shift ;;
    --cross-base) cross_base=${2?}; shift ;;
    --firmware) firmware=${2?}; shift ;;
    --runs) runs=${2?}; shift ;;
    --timeout) timeout_s=${2?}; shift ;;
    -h|--help) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
case $platform in x86|pseries|all) ;; *) die "--platform wants x86, pseries or all" ;; esac
case $firmware in qboot|seabios) ;; *) die "--firmware wants qboot or seabios" ;; esac
case $runs in [1-9]|[1-9][0-9]) ;; *) die "--runs (or DEMO_RUNS) wants a number of runs from 1 to 99, not '$runs'" ;; esac
# build_dir VAR BINARY HINT: VAR's directory, absolute, checked
build_dir() {
    local dir=${!1}
    case $dir in /*) ;; *) dir=$repo/$dir ;; esac
    [ -x "$dir/$2" ] || die "no $dir/$2 (run $3)"
    dir=$(cd "$dir" && pwd)
    case $dir/ in "$repo"/*) ;; *) die "$dir is outside $repo: the L1 cannot see it" ;; esac
    printf -v "$1" %s "$dir"
}
if [ "$platform" != pseries ]; then
    build_dir build qemu-system-x86_64 "make"
    build_dir base qemu-system-x86_64 "make base-build"
fi
if [ "$platform" != x86 ]; then
    build_dir cross qemu-system-ppc64 "make cross-ppc64le"
    build_dir cross_base qemu-system-ppc64 "make cross-ppc64le-base"
    case $build in /*) ;; *) build=$repo/$build ;; esac
fi

# progress: the "demo:" lines of the L1 console as they come, once each
# (a shell loop: mawk would buffer its input).
progress() {
    local ln
    declare -A seen=()
    while IFS= read -r ln; do
        ln=${ln%$'\r'}
        case $ln in
        "demo: "*) ;;
        "vfio-direct: bound at"*) ln="demo: L1 booted, ${ln#vfio-direct: }" ;;
        *) continue ;;
        esac
        [ -n "${seen[$ln]-}" ] || echo "$ln"
        seen[$ln]=1
    done
}

# run_half NAME OUT RUN-IN-L1-ARGS... -- CMD...: one L1 run whose CMD writes
# /out/demo-raw.json, with progress lines, then report.py into OUT.
# --verbose puts the L1's console on stdout: it is kept in
# OUT/l1-console.log, and the progress lines the L1 side writes there show.
run_half() {
    local name=$1 out=$2 rc
    shift 2
    rm -f "$out/demo-raw.json"
    set +e
    "$repo/tests/testbed/run-in-l1.sh" --verbose --out "$out/l1" "$@" \
        2>&1 | tee "$out/l1-console.log" | progress
    rc=${PIPESTATUS[0]}
    set -e
    [ -s "$out/l1/demo-raw.json" ] ||
        { echo "demo: the $name L1 run gave no result (status $rc); see $out/l1-console.log" >&2; return 1; }
    cp "$out/l1/demo-raw.json" "$out/demo-raw.json"
    echo
    /usr/bin/python3 "$repo/tests/demo/report.py" "$out/demo-raw.json" "$out" || rc=$?
    echo
    echo "demo: wrote $out/demo.txt, $out/demo.json and $out/demo.png"
    return "$rc"
}

x86_half() {
    local out=$build/demo
    mkdir -p "$out"
    echo "demo: building the L2 guest (Debian kernel, busybox initramfs with the drivers)"
    "$repo/tests/demo/mkl2.sh" "$out/l2"
    local limit=${timeout_s:-$((240 + 330 * runs))}
    echo "demo: booting the x86 L1 under TCG (about 30 s), then $runs L2 runs per build," \
        "alternating (about 1 min each; up to $limit s in all)"
    run_half x86 "$out" --timeout "$limit" x86 -- \
        /usr/bin/python3 "$repo/tests/demo/demo-l1.py" --l2 "$out/l2" --out /out/demo-raw.json \
        --firmware "$firmware" --runs "$runs" --recommended ours \
        "base=$base/qemu-system-x86_64" "ours=$build/qemu-system-x86_64"
}

pseries_half() {
    local out=$build/demo/pseries sysroot
    mkdir -p "$out"
    echo "demo: building the pseries L2 guest (Debian ppc64el 64 KiB-page kernel, busybox initramfs with the drivers)"
    "$repo/tests/demo/mkl2.sh" --arch ppc64el-64k "$cross/demo-l2"
    sysroot=$(cat "$cross/SYSROOT")
    local limit=${timeout_s:-$((400 + 700 * runs))}
    echo "demo: booting the pseries L1 under TCG with nested KVM-HV (about 40 s), then $runs" \
        "L2 runs per build, alternating (1-4 min each; up to $limit s in all)"
    run_half pseries "$out" --nested-kvm --timeout "$limit" --share "sysroot=$sysroot" \
        --append "iomem=relaxed vfio_direct.chroot=1 vfio_direct.sysroot=$sysroot" pseries-a -- \
        python3 "$repo/tests/demo/demo-pseries-l1.py" --l2 "$cross/demo-l2" --out /out/demo-raw.json \
        --runs "$runs" --recommended ours \
        "base=$cross_base/qemu-system-ppc64" "ours=$cross/qemu-system-ppc64"
}

t0=$(date +%s) rc=0
for p in x86 pseries; do
    [ "$platform" = all ] || [ "$platform" = "$p" ] || continue
    t=$(date +%s)
    "${p}_half" || rc=1
    echo "demo: the $p half took $(($(date +%s) - t)) s"
done
echo "demo: done in $(($(date +%s) - t0)) s"
exit "$rc"
