#!/usr/bin/env python3
"""tce-bench.py - mapping 1 GiB through TCE hypercalls: VFIO ioctls and time,
per build, in one pseries L1 (run by tests/bench/run-tce.sh).

For each --qemu NAME=BINARY it boots tests/guest/tce-bench-guest.c
(-kernel, -M pseries,x-vof=on, e1000e assigned with vfio-pci) under
--accel (tcg: QEMU handles every TCE hypercall; kvm: the pseries L1's
nested KVM-HV, which may handle them in the kernel).  The guest maps
[0, 1 GiB) of its RAM with H_PUT_TCE_INDIRECT (512 TCEs per call) through
the default window (4 KiB TCEs) and through a 64 KiB DDW, and unmaps each
with one H_STUFF_TCE; it times each with the timebase.  The L1 kernel's
tce_iommu_ioctl kprobes (tests/testbed/tce_ioctls.py) count the MAP_DMA
and UNMAP_DMA calls each phase made, whoever made them.

Prints one block per build and the ratio lines.
"""

import argparse
import importlib.util
import os
import sys
import time

TESTBED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testbed")
sys.path.insert(0, TESTBED)
import tce_ioctls  # noqa: E402

spec = importlib.util.spec_from_file_location(
    "check_tce", os.path.join(TESTBED, "check-tce.py"))
cp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cp)

TIMEBASE_HZ = 512000000         # QEMU's pseries timebase
DDW_BASE = 1 << 59
GIB = 1 << 30
# (phase, mailbox return words, mailbox ticks word, IOVA range)
PHASES = (("default window, 4 KiB TCEs", (8, 9), 24, (0, GIB)),
          ("64 KiB DDW", (12, 13), 28, (DDW_BASE, DDW_BASE + GIB)))


def run(binary, accel, device, guests):
    # Two events per ioctl, about 100 bytes each: 256 MiB per CPU holds
    # the base's 2 x 2 x 262144 calls with room to spare
    recorder = tce_ioctls.Recorder(buffer_kb=256 * 1024)
    recorder.start()
    args = ["-kernel", os.path.join(guests, "tce-bench-guest.elf"),
            "-m", "1280M", "-device",
            "vfio-pci,host=%s,id=nic,addr=02.0" % device]
    machine = cp.PSERIES + ",x-vof=on"
    t0 = time.time()
    qemu = cp.launch(binary, args, machine=machine, accel=accel)
    try:
        deadline = time.time() + 1800
        words = cp.read_mailbox(qemu, 64)
        while words[63] != cp.RUNS_DONE and time.time() < deadline:
            time.sleep(2)
            words = cp.read_mailbox(qemu, 64)
        wall = time.time() - t0
        try:
            tce = qemu.qmp("x-query-vfio")[0]["dma"].get("tce")
        except cp.qemutest.QMPError:
            tce = None      # the base has no x-query-vfio
    finally:
        qemu.quit()
        calls = recorder.stop()
    cp.check(words[63] == cp.RUNS_DONE, "the bench guest did not finish")
    result = {"wall": wall, "tce": tce, "phases": []}
    for name, (map_ret, unmap_ret), ticks, (lo, hi) in PHASES:
        mine = [c for c in calls if lo <= c.iova < hi]
        result["phases"].append({
            "name": name,
            "rets": (cp.signed(words[map_ret]), cp.signed(words[unmap_ret])),
            "map_s": words[ticks] / TIMEBASE_HZ,
            "unmap_s": words[ticks + 1] / TIMEBASE_HZ,
            "maps": sum(c.op == "map" for c in mine),
            "unmaps": sum(c.op == "unmap" for c in mine),
            "failed": sum(c.ret != 0 for c in mine),
        })
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", action="append", required=True,
                    help="NAME=qemu-system-ppc64 (repeat: ours, base)")
    ap.add_argument("--guests", required=True,
                    help="the folder holding tce-bench-guest.elf")
    ap.add_argument("--accel", default="tcg", choices=("tcg", "kvm"))
    opts = ap.parse_args()
    cp.LABEL = "tce-bench"
    devices = cp.qemutest.devices()
    if "e1000e" not in devices:
        print("tce-bench: e1000e is not bound to vfio-pci in this L1")
        return 1
    results = {}
    for spec_ in opts.qemu:
        name, binary = spec_.split("=", 1)
        results[name] = res = run(binary, opts.accel, devices["e1000e"],
                                   opts.guests)
        print("== %s (%s, -accel %s): %.1f s wall" % (name, binary, opts.accel,
                                                      res["wall"]))
        for p in res["phases"]:
            print("  %-28s map 1 GiB: %6d MAP_DMA %8.3f s | unmap: %6d "
                  "UNMAP_DMA %8.3f s | hcall rets %s, %d ioctls failed" %
                  (p["name"], p["maps"], p["map_s"], p["unmaps"], p["unmap_s"],
                   p["rets"], p["failed"]))
        if res["tce"]:
            print("  x-query-vfio dma.tce: %s" % res["tce"])
    names = list(results)
    if len(names) == 2:
        a, b = (results[n]["phases"] for n in names)
        for pa, pb in zip(a, b):
            print("ratio %s/%s %-28s MAP_DMA %s/%s, map time %.3fx, unmap "
                  "time %.3fx" % (names[1], names[0], pa["name"], pb["maps"],
                                  pa["maps"], pb["map_s"] / max(pa["map_s"], 1e-9),
                                  pb["unmap_s"] / max(pa["unmap_s"], 1e-9)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
