#!/usr/bin/python3
"""dma-async.py - start-up with passed-through devices: when the guest
runs its first instruction and when its drivers are bound.

    dma-async.py --l2 DIR [--sizes 512M,2G] [--backings anon,thp,hugetlbfs]
                 [--rounds N] NAME=QEMU[,PROPS]...

Runs inside the x86 test-bed L1 (tests/bench/run-dma-async.sh starts it),
as root.  For every size and backing, --rounds rounds (default 5); in
each round every build once, in an order rotated per round.  A run
boots the demo's Linux L2 (DIR from tests/demo/mkl2.sh, l2.mode=idle)
under nested KVM with q35, qboot and sdhci-pci, e1000e and nvme of the
L1 passed through (one container), PROPS added to each device, and
records, from the L1 kernel wherever it can (trace clock "mono", the
same clock as the start time taken here):

  - first: process start to the L2's first instruction: the first
    kvm:kvm_entry (a VMRUN of the L2's vCPU), kept in a trace instance
    of its own whose buffer does not overwrite, so it keeps the oldest
    events (only one QEMU runs at a time);
  - bound: process start to the L2's "L2-PROBED" (every driver bound);
  - map_s: time in VFIO_IOMMU_MAP_DMA over all QEMU's threads (kprobe
    and kretprobe on vfio_iommu_type1_ioctl), map_calls, map_bytes;
  - pinned: VmLck at L2-PROBED; prefault_s and, for x-dma-async, the
    time until fully mapped and the gate's waits, from x-query-vfio.

Prints every run, then per size, backing and build the median and the
min-max of first and bound, and the ratios of the medians to the last
build named (the base), and for bound the median of the rounds' own
ratios (paired: the runs of one round share the host's load).  Then dma-hotadd.py runs once with the same
builds: what each does when a pc-dimm is hot-added beyond the
locked-memory limit (ours refuses device_add; the base's behaviour is
recorded beside it).

Copyright (c) 2026 The vfio-direct authors
SPDX-License-Identifier: GPL-2.0-or-later
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
import firstentry  # noqa: E402
import hostfs  # noqa: E402
import qemutest  # noqa: E402

TRACE = "/sys/kernel/tracing"
MAP = 0x3B71
THP = "/sys/kernel/mm/transparent_hugepage/enabled"
HUGEPAGES = "/proc/sys/vm/nr_hugepages"
DEVICES = ("sdhci", "e1000e", "nvme")
TIMEOUT = 300


FIRST = None  # firstentry.FirstEntry, from trace_on() to trace_off()


def trace_on():
    if not os.path.exists(TRACE + "/kprobe_events"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", TRACE], check=True)
    trace_off()
    for probe in ("p:vfioasync/ioc vfio_iommu_type1_ioctl cmd=$arg2:x32 "
                  "f24=+u24($arg3):u64",
                  "r:vfioasync/ret vfio_iommu_type1_ioctl ret=$retval:s64"):
        hostfs.append(TRACE + "/kprobe_events", probe + "\n")
    hostfs.write(TRACE + "/trace_clock", "mono")
    hostfs.write(TRACE + "/options/record-tgid", "1")
    hostfs.write(TRACE + "/buffer_size_kb", "8192")
    hostfs.write(TRACE + "/events/vfioasync/enable", "1")
    global FIRST
    FIRST = firstentry.FirstEntry("dma-async-first", "kvm/kvm_entry")


def trace_off():
    for path, text in (("/events/vfioasync/enable", "0"),
                       ("/options/record-tgid", "0"),
                       ("/trace_clock", "local")):
        try:
            hostfs.write(TRACE + path, text)
        except OSError:
            pass
    for probe in ("ioc", "ret"):
        try:
            hostfs.append(TRACE + "/kprobe_events", "-:vfioasync/%s\n" % probe)
        except OSError:
            pass
    if FIRST is not None:
        FIRST.remove()


def trace_arm():
    """Clear the buffers; the instance records from the next kvm_entry."""
    hostfs.write(TRACE + "/trace", "")
    FIRST.arm()


LINE = re.compile(r"-(\d+)\s+\(\s*(\d+)\)\s+\[\d+\]\s+\S+\s+(\d+\.\d+): "
                  r"(ioc|ret|kvm_entry):(.*)$")


def trace_read(pid):
    first, maps, open_call = None, [], {}
    with open(TRACE + "/trace") as f:
        for line in f:
            m = LINE.search(line)
            if not m or int(m[2]) != pid:
                continue
            tid, ts, kind, rest = int(m[1]), float(m[3]), m[4], m[5]
            if kind == "kvm_entry":
                first = ts if first is None else min(first, ts)
                continue
            fields = dict(kv.split("=", 1) for kv in rest.split() if "=" in kv)
            if kind == "ioc":
                open_call[tid] = (int(fields["cmd"], 16), fields, ts)
            elif tid in open_call:
                cmd, fl, t0 = open_call.pop(tid)
                if cmd == MAP:
                    maps.append((int(fl["f24"], 0), int(fields["ret"]),
                                 ts - t0))
    return first, maps


def run(qemu, props, l2, devs, size, backing):
    args = ["-M", "q35", "-accel", "kvm", "-cpu", "host", "-smp", "1",
            "-m", size, "-nodefaults", "-display", "none", "-no-user-config",
            "-serial", "stdio",
            "-bios", "/usr/share/qemu/qboot.rom",
            "-kernel", os.path.join(l2, "vmlinuz"),
            "-initrd", os.path.join(l2, "initrd.cpio.gz"),
            "-append", "console=ttyS0 iomem=relaxed quiet panic=-1 "
            "l2.mode=idle"]
    if backing == "hugetlbfs":
        args += ["-object", "memory-backend-memfd,id=ram0,size=%s,hugetlb=on,"
                 "hugetlbsize=2097152" % size, "-machine", "memory-backend=ram0"]
    for i, n in enumerate(DEVICES):
        args += ["-device", "vfio-pci,host=%s,id=%s,bus=pcie.0,addr=%d.0%s"
                 % (devs[n], n, 3 + i, "," + props if props else "")]
    trace_arm()
    q = qemutest.Qemu(qemu, args, console=True, timeout=TIMEOUT,
                      prefix="dma-async.")
    t0 = q.t0
    r = {"bound": None}
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            line, t = q.line(deadline)
            if line is None:
                break
            if "L2-PROBED" in line:
                r["bound"] = t - t0
                r["pinned"] = qemutest.vmlck(q.pid)
                break
        rsp = q.qmp_rsp("x-query-vfio")
        dma = rsp["return"][0].get("dma") if "return" in rsp else None
        if dma:
            r["prefault_s"] = dma["prefault-ns"] / 1e9
            queue = dma.get("queue") or {}
            if queue.get("async"):
                r["mapped_s"] = queue.get("mapped-ns", 0) / 1e9
                r["gate_waits"] = queue["gate-waits"]
                r["gate_s"] = queue["gate-wait-ns"] / 1e9
                r["gate_event"] = queue.get("gate-event")
    finally:
        q.quit()
    first = FIRST.first()
    _, maps = trace_read(q.pid)
    r["first"] = first - t0 if first is not None else None
    r["map_calls"] = len(maps)
    r["map_failures"] = sum(1 for m in maps if m[1])
    r["map_bytes"] = sum(m[0] for m in maps if not m[1])
    r["map_s"] = sum(m[2] for m in maps)
    r["stderr"] = q.stderr().strip().splitlines()[-3:]
    q.cleanup()
    return r


def fmt(v, spec="%.2f"):
    return spec % v if v is not None else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--l2", required=True)
    ap.add_argument("--sizes", default="512M,2G")
    ap.add_argument("--backings", default="anon,thp,hugetlbfs")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("builds", nargs="+", help="NAME=QEMU[,PROPS]")
    a = ap.parse_args()
    devs = dict(d.split("=", 1)
                for d in os.environ.get("VFIO_DIRECT_DEVICES", "").split())
    missing = [n for n in DEVICES if n not in devs]
    if missing:
        sys.exit("dma-async.py: %s not bound to vfio-pci" % " ".join(missing))
    builds = [b.split("=", 1) for b in a.builds]
    thp_was = re.search(r"\[(\w+)\]", open(THP).read())[1]
    trace_on()
    results = {}
    try:
        for size in a.sizes.split(","):
            for backing in a.backings.split(","):
                # anon: no THP at all (QEMU madvises RAM for THP)
                hostfs.write(THP, "always" if backing == "thp" else "never")
                if backing == "hugetlbfs":
                    pages = hostfs.size_bytes(size) // (2 << 20) + 8
                    hostfs.write(HUGEPAGES, str(pages))
                for k in range(a.rounds):
                    for i in range(len(builds)):
                        name, spec = builds[(i + k) % len(builds)]
                        qemu, _, props = spec.partition(",")
                        r = run(qemu, props, a.l2, devs, size, backing)
                        results.setdefault((size, backing, name), []).append(r)
                        print("== %s %s %s round %d: first %s s, bound %s s;"
                              " MAP_DMA %d calls (%d failed) %.3f s %d MiB;"
                              " pinned %d MiB; prefault %s s; mapped %s s;"
                              " gate %s x %s s (%s)"
                              % (size, backing, name, k, fmt(r["first"]),
                                 fmt(r["bound"]), r["map_calls"],
                                 r["map_failures"], r["map_s"],
                                 r["map_bytes"] >> 20,
                                 r.get("pinned", 0) >> 20,
                                 fmt(r.get("prefault_s"), "%.3f"),
                                 fmt(r.get("mapped_s")),
                                 r.get("gate_waits", "-"),
                                 fmt(r.get("gate_s"), "%.3f"),
                                 r.get("gate_event", "-")), flush=True)
                        for line in r["stderr"]:
                            print("   | " + line)
                if backing == "hugetlbfs":
                    hostfs.write(HUGEPAGES, "0")
        base = builds[-1][0]
        print("\nmedian [min-max] over %d rounds" % a.rounds)
        for (size, backing, name), rs in results.items():
            def stat(key):
                v = [r[key] for r in rs if r.get(key) is not None]
                if not v:
                    return None, "-"
                return statistics.median(v), "%.2f [%.2f-%.2f]" % (
                    statistics.median(v), min(v), max(v))
            first, first_s = stat("first")
            bound, bound_s = stat("bound")
            map_s, map_str = stat("map_s")
            line = ("%s %s %-10s first %s, bound %s, MAP_DMA %s s"
                    % (size, backing, name, first_s, bound_s, map_str))
            b_rs = results.get((size, backing, base))
            if name != base and b_rs:
                bf = statistics.median([r["first"] for r in b_rs
                                        if r.get("first") is not None] or [0])
                bb = statistics.median([r["bound"] for r in b_rs
                                        if r.get("bound") is not None] or [0])
                # the median of each round's ratio: the runs of a round
                # are minutes apart, so they share the host's load
                paired = [r["bound"] / b["bound"] for r, b in zip(rs, b_rs)
                          if r.get("bound") and b.get("bound")]
                line += "; /%s: first %s, bound %s (paired %s)" % (
                    base, fmt(first / bf if first and bf else None),
                    fmt(bound / bb if bound and bb else None),
                    fmt(statistics.median(paired) if paired else None))
            print(line, flush=True)
        subprocess.run([sys.executable,
                        os.path.join(os.path.dirname(
                            os.path.abspath(__file__)), "dma-hotadd.py")]
                       + a.builds)
    finally:
        hostfs.write(THP, thp_was)
        trace_off()


if __name__ == "__main__":
    main()
