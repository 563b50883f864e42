#!/usr/bin/python3
"""l2-dma.py - DMA right after the gate: a Linux L2 moves data through a
passed-through nvme as soon as its driver probed, while guest RAM may
still be being mapped (x-dma-async=on).

    l2-dma.py --l2 DIR --qemu BIN [--mem 2G] [--blocks N] [--cases LIST]

Runs inside the x86 test-bed L1 as root (tests/testbed/check-l2-dma.sh
starts it, with the L1's nvme backed by a file so that writes read back).
Each case boots the demo's L2 (DIR from tests/demo/mkl2.sh) under nested
KVM: q35, qboot, --mem of RAM, the L1's nvme passed through with
x-dma-async=on, l2.mode=dma: right after probe the L2 writes --blocks
blocks of 64 KiB from buffers spread over its RAM with O_DIRECT, reads
them back into other buffers and compares (tests/guest/l2-dma.c).

  natural  the device as a user passes it (BARs mapped): whatever comes
           first, the end of mapping or the driver's Bus Master Enable;
           reported as "gate waited" or "mapped first".
  held     the gate must be what holds the driver back: the worker
           thread ("vfio-dma") held back, at SCHED_IDLE on a CPU of its
           own with a busy loop beside it, until QEMU traces
           vfio_direct_dma_gate_wait (the L2's vCPU waits at the gate);
           then released.  Without the gate the driver's DMA reaches
           RAM that is not mapped yet.

Passes ("ok - l2-dma/CASE") when the L2 reports "L2-DMA OK" (no I/O
error, every block equal), the L1 kernel logged no DMAR fault meanwhile
(dmesg), and for held the gate waited at least once, for "bus-master".
Prints per case the L2's lines, the gate's waits and time, the time
until fully mapped and when the driver probed.  Exit status 1 when a
case failed.

Copyright (c) 2026 The vfio-direct authors
SPDX-License-Identifier: GPL-2.0-or-later
"""

import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
import qemutest  # noqa: E402

TIMEOUT = 300
FAULT = re.compile(r"DMAR: \[DMA |DMAR: DRHD: handling fault|fault addr")


def dmar_faults():
    out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if FAULT.search(ln)]


def worker_tid(pid):
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().strip() == "vfio-dma":
                    return int(tid)
        except OSError:
            pass
    return None


def hold(pid):
    """Hold QEMU's mapping worker back; what release() needs."""
    tid = worker_tid(pid)
    if tid is None:
        return None
    for t in os.listdir("/proc/%d/task" % pid):
        os.sched_setaffinity(int(t), {0})
    os.sched_setaffinity(tid, {1})
    os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    os.sched_setaffinity(hog.pid, {1})
    return tid, hog


def release(held):
    tid, hog = held
    hog.kill()
    hog.wait()
    try:
        os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
    except OSError:
        pass


def run(a, case, host):
    props = "x-dma-async=on"
    args = ["-M", "q35", "-accel", "kvm", "-cpu", "host", "-smp", "1",
            "-m", a.mem, "-nodefaults", "-display", "none",
            "-no-user-config", "-serial", "stdio",
            "-name", "l2-dma,debug-threads=on",
            "-trace", "vfio_direct_dma_gate_wait",
            "-trace", "vfio_direct_dma_gate_open",
            "-bios", "/usr/share/qemu/qboot.rom",
            "-kernel", os.path.join(a.l2, "vmlinuz"),
            "-initrd", os.path.join(a.l2, "initrd.cpio.gz"),
            "-append", "console=ttyS0 quiet panic=-1 l2.mode=dma "
            "l2.blocks=%d" % a.blocks,
            "-device", "vfio-pci,host=%s,id=nvme,bus=pcie.0,addr=4.0,%s"
            % (host, props)]
    faults0 = len(dmar_faults())
    q = qemutest.Qemu(a.qemu, args, console=True, timeout=TIMEOUT,
                      prefix="l2-dma.")
    r = {"lines": [], "held": None}
    held = hold(q.pid) if case == "held" else None
    if case == "held" and held is None:
        r["lines"].append("no vfio-dma thread: nothing was queued")
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            line, t = q.line(min(deadline, time.monotonic() + 0.5))
            if held and ("vfio_direct_dma_gate_wait" in q.stderr() or
                         (line and line.startswith(("L2-PROBED", "L2-DEV")))
                         or t - q.t0 > 180):
                release(held)
                r["held"] = t - q.t0
                held = None
            if line is None:
                if q.proc.poll() is not None or t >= deadline:
                    break
                continue
            if line.startswith(("L2-PROBED", "L2-NVME", "L2-DMA",
                                "L2-KLOG", "L2-DEV")):
                r["lines"].append(line)
            if line.startswith("L2-PROBED"):
                r["probed"] = t - q.t0
            if line.startswith("L2-DONE"):
                break
        try:
            rsp = q.qmp_rsp("x-query-vfio")
        except (qemutest.QMPError, OSError, ValueError) as e:
            rsp = {}
            r["lines"].append("x-query-vfio: %s" % e)
        if rsp.get("return"):
            r["queue"] = rsp["return"][0]["dma"].get("queue") or {}
    finally:
        if held:
            release(held)
        q.quit()
    r["faults"] = dmar_faults()[faults0:]
    r["stderr"] = [ln for ln in q.stderr().splitlines()
                   if "gate_wait" not in ln and "gate_open" not in ln][-3:]
    q.cleanup()
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--l2", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--mem", default="2G")
    ap.add_argument("--blocks", type=int, default=128)
    ap.add_argument("--cases", default="natural,held")
    a = ap.parse_args()
    host = qemutest.devices().get("nvme")
    if not host:
        sys.exit("l2-dma.py: nvme not bound to vfio-pci")
    failed = 0
    for case in a.cases.split(","):
        r = run(a, case, host)
        for ln in r["lines"]:
            print("# | " + ln)
        for ln in r["stderr"]:
            print("# stderr: " + ln)
        q = r.get("queue", {})
        waits = q.get("gate-waits", 0)
        mapped = q.get("mapped-ns")
        print("# %s: %s; the gate waited %d x %.2f s (%s %s); fully mapped "
              "after %s s; L2-PROBED at %s s; worker released at %s s; "
              "DMAR faults in the L1: %d"
              % (case, "gate waited" if waits else "mapped first", waits,
                 q.get("gate-wait-ns", 0) / 1e9, q.get("gate-device", "-"),
                 q.get("gate-event", "-"),
                 "%.2f" % (mapped / 1e9) if mapped else "-",
                 "%.2f" % r["probed"] if "probed" in r else "-",
                 "%.2f" % r["held"] if r["held"] else "-", len(r["faults"])))
        for ln in r["faults"][:5]:
            print("# L1: " + ln)
        why = []
        if not any(ln.startswith("L2-DMA OK") for ln in r["lines"]):
            why.append("no L2-DMA OK")
        if r["faults"]:
            why.append("%d DMAR faults" % len(r["faults"]))
        if case == "held" and (not waits or
                               q.get("gate-event") != "bus-master"):
            why.append("the gate did not wait for bus-master")
        if why:
            failed += 1
            print("not ok - l2-dma/%s: %s" % (case, ", ".join(why)))
        else:
            print("ok - l2-dma/%s" % case)
        sys.stdout.flush()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
