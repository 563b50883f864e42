#!/bin/bash
# check-l2-dma.sh - DMA right after the gate, in a real Linux L2.
#
#   check-l2-dma.sh [--build DIR] [--qemu BIN] [--mem SIZE] [--cases LIST]
#
# Builds the demo's L2 (tests/demo/mkl2.sh, into DIR/demo/l2) and boots
# one x86 test-bed L1 (VFIO_DIRECT_L1_MEM, default 4G) whose nvme is
# backed by a file (VFIO_DIRECT_L1_NVME_DISK=64M), where l2-dma.py boots
# the L2 under nested KVM with the nvme passed through, x-dma-async=on,
# SIZE of RAM (default 2G), and checks the data the L2 moves through it
# right after probe (see l2-dma.py for the cases natural and held).
# Prints one ok / not ok line per case; exit status 0 when all passed.
# About 6 minutes on the 2-core host; not part of make check (see
# docs/devel/vfio-direct.rst).
#
#   --build DIR    our build (default: build)
#   --qemu BIN     the QEMU to test (default: DIR/qemu-system-x86_64),
#                  inside this repository so that the L1 sees it
#   --mem SIZE     the L2's RAM (default 2G)
#   --cases LIST   natural,held (default both)
#
# Copyright (c) 2026 The vfio-direct authors
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail
. "$(dirname "$0")/lib.sh"

repo=$(cd "$TESTBED_DIR/../.." && pwd)
build=build qemu='' mem=2G cases=natural,held
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=${2?}; shift ;;
    --qemu) qemu=${2?}; shift ;;
    --mem) mem=${2?}; shift ;;
    --cases) cases=${2?}; shift ;;
    -h|--help) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
    esac
    shift
done
case $build in /*) ;; *) build=$repo/$build ;; esac
[ -n "$qemu" ] || qemu=$build/qemu-system-x86_64
case $qemu in /*) ;; *) qemu=$PWD/$qemu ;; esac
[ -x "$qemu" ] || die "no $qemu (run make)"
case $qemu in "$repo"/*) ;; *) die "$qemu is outside $repo: the L1 cannot see it" ;; esac

"$repo/tests/demo/mkl2.sh" "$build/demo/l2"
VFIO_DIRECT_L1_MEM=${VFIO_DIRECT_L1_MEM:-4G} VFIO_DIRECT_L1_NVME_DISK=64M \
    "$TESTBED_DIR/run-in-l1.sh" --timeout 1200 x86 -- \
    /usr/bin/python3 "$TESTBED_DIR/l2-dma.py" --l2 "$build/demo/l2" \
    --qemu "$qemu" --mem "$mem" --cases "$cases"
