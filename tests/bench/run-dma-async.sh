#!/bin/bash
# run-dma-async.sh - start-up with passed-through devices: ours with
# x-dma-async=on, ours synchronous and the base, in one L1 run.
#
#   tests/bench/run-dma-async.sh [--build DIR] [--base DIR] [--sizes LIST]
#                                [--backings LIST] [--rounds N]
#                                [--timeout SEC]
#
# Builds the demo's Linux L2 (tests/demo/mkl2.sh, into DIR/demo/l2), boots
# one x86 test-bed L1 with VFIO_DIRECT_L1_MEM (default 6G) and runs
# dma-async.py there: per size and backing, N rounds of the three builds
# in rotated order, each booting the L2 under nested KVM with sdhci-pci,
# e1000e and nvme passed through, to its first instruction and to its
# drivers bound.  The output is also kept in DIR/bench/dma-async.txt.
#
#   --build DIR      our build (default: build)
#   --base DIR       the base build, from `make base-build`
#                    (default: build-base)
#   --sizes LIST     guest RAM sizes (default 512M,2G)
#   --backings LIST  anon, thp, hugetlbfs (default anon,thp,hugetlbfs)
#   --rounds N       runs per build and configuration (default 5)
#   --timeout SEC    limit for the whole L1 run (default 5400)
#
# Copyright (c) 2026 The vfio-direct authors
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail

PROG=$(basename "$0")
die() {
    echo "$PROG: $*" >&2
    exit 1
}

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=build base=build-base sizes=512M,2G backings=anon,thp,hugetlbfs
rounds=5 timeout_s=5400
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=${2?}; shift ;;
    --base) base=${2?}; shift ;;
    --sizes) sizes=${2?}; shift ;;
    --backings) backings=${2?}; shift ;;
    --rounds) rounds=${2?}; shift ;;
    --timeout) timeout_s=${2?}; shift ;;
    -h|--help) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done

abspath() {
    case $1 in
    /*) (cd "$1" 2>/dev/null && pwd) ;;
    *) (cd "$repo/$1" 2>/dev/null && pwd) ;;
    esac
}
ours_dir=$(abspath "$build") || die "no build folder $build (run make)"
base_dir=$(abspath "$base") ||
    die "no base build folder $base (run make base-build)"
for d in "$ours_dir" "$base_dir"; do
    case $d/ in
    "$repo"/*) ;;
    *) die "$d is outside $repo: the L1 cannot see it" ;;
    esac
    [ -x "$d/qemu-system-x86_64" ] ||
        die "no $d/qemu-system-x86_64 (run make / make base-build)"
done
mkdir -p "$ours_dir/bench"
"$repo/tests/demo/mkl2.sh" "$ours_dir/demo/l2"

ours=$ours_dir/qemu-system-x86_64
rc=0
VFIO_DIRECT_L1_MEM=${VFIO_DIRECT_L1_MEM:-6G} \
"$repo/tests/testbed/run-in-l1.sh" --timeout "$timeout_s" x86 -- \
    /usr/bin/python3 "$repo/tests/bench/dma-async.py" --l2 "$ours_dir/demo/l2" \
    --sizes "$sizes" --backings "$backings" --rounds "$rounds" \
    async="$ours,x-dma-async=on" sync="$ours,x-dma-async=off" \
    base="$base_dir/qemu-system-x86_64" |
    tee "$ours_dir/bench/dma-async.txt" || rc=$?
exit "$rc"
