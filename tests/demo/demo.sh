#!/bin/bash
# demo.sh - make demo: the same Linux guest on passed-through devices,
# on the base and on vfio-direct, side by side.
#
#   tests/demo/demo.sh [--build DIR] [--base DIR] [--firmware qboot|seabios]
#                      [--timeout SEC]
#
# Builds the L2 guest (mkl2.sh) into DIR/demo/l2, boots one x86 test-bed
# L1 (tests/testbed/run-in-l1.sh: TCG, intel-iommu, sdhci, i6300esb,
# pvpanic, e1000e and nvme bound to the L1's vfio-pci) and runs
# demo-l1.py there: one Linux L2 per build under nested KVM with the five
# devices passed through, its drivers probing them and touching their
# registers.  Then report.py prints the side-by-side report and writes
# DIR/demo/demo.txt, demo.json and demo.png.  The L1's console is kept in
# DIR/demo/l1-console.log; progress lines show while it runs.
#
#   --build DIR    our build (default: build)
#   --base DIR     the base build, from `make base-build` (default: build-base)
#   --firmware F   the L2's firmware: qboot (default: Linux places the
#                  BARs and packs the small ones) or seabios (a page each)
#   --timeout SEC  limit for the L1 run (default 900); the whole demo ends
#                  by itself, its L1 and L2 processes with it
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
die() { echo "demo: $*" >&2; exit 1; }

build=build base=build-base firmware=qboot timeout_s=900
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=${2?}; shift ;;
    --base) base=${2?}; shift ;;
    --firmware) firmware=${2?}; shift ;;
    --timeout) timeout_s=${2?}; shift ;;
    -h|--help) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
case $firmware in qboot|seabios) ;; *) die "--firmware wants qboot or seabios" ;; esac
for d in build base; do
    dir=${!d}
    case $dir in /*) ;; *) dir=$repo/$dir ;; esac
    [ -x "$dir/qemu-system-x86_64" ] ||
        die "no $dir/qemu-system-x86_64 (run make and make base-build)"
    dir=$(cd "$dir" && pwd)
    case $dir/ in "$repo"/*) ;; *) die "$dir is outside $repo: the L1 cannot see it" ;; esac
    printf -v "$d" %s "$dir"
done

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

out=$build/demo
mkdir -p "$out"
t0=$(date +%s)
echo "demo: building the L2 guest (Debian kernel, busybox initramfs with the drivers)"
"$repo/tests/demo/mkl2.sh" "$out/l2"
echo "demo: booting the x86 L1 under TCG (about 30 s), then one L2 per build" \
    "(about 1 min each; up to ${timeout_s} s in all)"
rm -f "$out/demo-raw.json"
set +e
# --verbose puts the L1's console on stdout: keep it in a log and show the
# progress lines demo-l1.py writes there.
"$repo/tests/testbed/run-in-l1.sh" --verbose --timeout "$timeout_s" --out "$out/l1" x86 -- \
    /usr/bin/python3 "$repo/tests/demo/demo-l1.py" --l2 "$out/l2" --out /out/demo-raw.json \
    --firmware "$firmware" "base=$base/qemu-system-x86_64" "ours=$build/qemu-system-x86_64" \
    2>&1 | tee "$out/l1-console.log" | progress
rc=${PIPESTATUS[0]}
set -e
[ -s "$out/l1/demo-raw.json" ] ||
    die "the L1 run gave no result (status $rc); see $out/l1-console.log"
cp "$out/l1/demo-raw.json" "$out/demo-raw.json"
echo
/usr/bin/python3 "$repo/tests/demo/report.py" "$out/demo-raw.json" "$out" || rc=$?
echo
echo "demo: wrote $out/demo.txt, $out/demo.json and $out/demo.png" \
    "($(($(date +%s) - t0)) s)"
exit "$rc"
