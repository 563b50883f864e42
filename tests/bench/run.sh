#!/bin/bash
# run.sh - run the benchmarks: our build against the base build, in one L1 run.
#
#   tests/bench/run.sh [--build DIR] [--base DIR] [--loads N] [--rounds R]
#                      [--trace] [--control] [--timeout SEC]
#
# Builds the guest firmware into DIR/bench (tests/guest/Makefile), boots one
# x86 test-bed L1 (tests/testbed/run-in-l1.sh) and runs subpage-bar.py there
# twice: an L2 KVM guest (nested in the TCG L1) per build, timing loads and
# counting real MMIO exits, first with sdhci, i6300esb and pvpanic assigned
# through the L1's vfio-pci (loads from the sub-page sdhci BAR), then with
# nvme (loads from its MSI-X table's page; ours with x-msix-relocation=auto).
# Prints a block per build and the ratio lines; the output is also kept in
# DIR/bench/subpage-bar.txt.
#
#   --build DIR    our build (default: build)
#   --base DIR     the base build, from `make base-build` (default: build-base)
#   --loads N      loads per timed loop (default 20000)
#   --rounds R     timed loops per build; the median rate is reported (default 3)
#   --trace        also count kvm_run_exit trace events (slows trapped loads)
#   --control      also run ours with x-bar-page-align=off, and without
#                  x-msix-relocation (the ratios should then collapse toward 1)
#   --timeout SEC  limit for the whole L1 run (default 900)
#
# Both build folders must be inside this repository: the L1 sees the
# repository at its host path and nothing else of the host but /usr and /etc.
set -euo pipefail

PROG=$(basename "$0")
die() {
    echo "$PROG: $*" >&2
    exit 1
}
usage() {
    sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=build base=build-base loads=20000 rounds=3 timeout_s=900 extra=()
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=${2?}; shift ;;
    --base) base=${2?}; shift ;;
    --loads) loads=${2?}; shift ;;
    --rounds) rounds=${2?}; shift ;;
    --timeout) timeout_s=${2?}; shift ;;
    --trace|--control) extra+=("$1") ;;
    -h|--help) usage ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
case $loads$rounds in ''|*[!0-9]*) die "--loads and --rounds want numbers" ;; esac

# abspath DIR: absolute path of DIR (relative to the repository when relative).
abspath() {
    case $1 in
    /*) (cd "$1" 2>/dev/null && pwd) ;;
    *) (cd "$repo/$1" 2>/dev/null && pwd) ;;
    esac
}
ours_dir=$(abspath "$build") || die "no build folder $build (run make)"
base_dir=$(abspath "$base") || die "no base build folder $base (run make base-build)"
for d in "$ours_dir" "$base_dir"; do
    case $d/ in "$repo"/*) ;; *) die "$d is outside $repo: the L1 cannot see it" ;; esac
    [ -x "$d/qemu-system-x86_64" ] || die "no $d/qemu-system-x86_64 (run make / make base-build)"
done

make -s -C "$repo/tests/guest" O="$ours_dir/bench" subpage-bar.bin >&2
bios=$ours_dir/bench/subpage-bar.bin

t0=$(date +%s.%N)
rc=0
# Both scenarios in one L1: sub-page BARs, then the MSI-X table's page
# (ours with x-msix-relocation=auto).
bench="/usr/bin/python3 $repo/tests/bench/subpage-bar.py --bios $bios"
bench+=" --loads $loads --rounds $rounds ${extra[*]+${extra[*]}}"
ours=$ours_dir/qemu-system-x86_64 base=$base_dir/qemu-system-x86_64
"$repo/tests/testbed/run-in-l1.sh" --timeout "$timeout_s" x86 -- \
    /bin/sh -c "$bench ours=$ours base=$base &&
                $bench --scenario msix ours=$ours,x-msix-relocation=auto base=$base" |
    tee "$ours_dir/bench/subpage-bar.txt" || rc=$?
printf '%s: bench wall time %.0f s (L1 boot included), rc=%d\n' "$PROG" \
    "$(echo "$(date +%s.%N) - $t0" | bc)" "$rc" >&2
exit "$rc"
