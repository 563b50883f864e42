#!/usr/bin/python3
"""dma-start.py - what a q35 start with an assigned device costs in MAP_DMA.

    dma-start.py [--sizes 512M,2G] [--backings anon,hugetlbfs]
                 [--rounds N] NAME=QEMU-BINARY[,PROPS]...

Runs inside the x86 test-bed L1 (tests/bench/run-dma.sh starts it), as
root.  For every size, backing and build it starts the build's QEMU with
one assigned device (sdhci-pci, from VFIO_DIRECT_DEVICES), -S and a QMP
socket, and counts what happened until QMP answers (the machine is
realized and reset: "ready"), from the L1 kernel's side: a kprobe and a
kretprobe on vfio_iommu_type1_ioctl record every VFIO_IOMMU_MAP_DMA and
UNMAP_DMA of that process, with its size (read from the caller's
argument) and its duration.  /proc/PID/status VmLck is the memory the
kernel holds locked for it at ready.  PROPS are added to the device.
Each build runs --rounds times (default 2), the builds in rotated order;
the fastest run to ready counts.  Prints one block per run and, per size
and backing, the ratios of every build to the first one named (ours
first, then base).

Backings: anon (-m), thp (anon with THP "always" in the L1) and hugetlbfs
(memory-backend-memfd with 2 MiB huge pages from the L1's pool).
"""

import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
import hostfs  # noqa: E402
import qemutest  # noqa: E402  (tests/pylib/qemutest.py)

TRACE = "/sys/kernel/tracing"
MAP, UNMAP = 0x3B71, 0x3B72     # VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA
THP = "/sys/kernel/mm/transparent_hugepage/enabled"
HUGEPAGES = "/proc/sys/vm/nr_hugepages"


def kprobes_on():
    """Probe the type1 ioctl: cmd, the 8-byte fields at +8/+16/+24."""
    if not os.path.exists(TRACE + "/kprobe_events"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", TRACE], check=True)
    kprobes_off()
    for probe in ("p:vfiodma/ioc vfio_iommu_type1_ioctl cmd=$arg2:x32 "
                  "f8=+u8($arg3):u64 f16=+u16($arg3):u64 "
                  "f24=+u24($arg3):u64",
                  "r:vfiodma/ret vfio_iommu_type1_ioctl ret=$retval:s64"):
        try:
            hostfs.append(TRACE + "/kprobe_events", probe + "\n")
        except OSError as e:
            with open(TRACE + "/error_log") as log:
                sys.exit("dma-start.py: kprobe %r: %s\n%s"
                         % (probe, e, log.read()))
    hostfs.write(TRACE + "/buffer_size_kb", "8192")
    hostfs.write(TRACE + "/events/vfiodma/enable", "1")


def kprobes_off():
    try:
        hostfs.write(TRACE + "/events/vfiodma/enable", "0")
    except OSError:
        pass
    for probe in ("ioc", "ret"):
        try:
            hostfs.append(TRACE + "/kprobe_events", "-:vfiodma/%s\n" % probe)
        except OSError:
            pass


LINE = re.compile(r"-(\d+)\s+\[\d+\].*?\s(\d+\.\d+): (ioc|ret): (.*)$")


def ioctls():
    """
    The MAP/UNMAP calls in the trace: (cmd, size, ret, secs).  The trace
    is cleared right before each QEMU starts, and that QEMU is the only
    process using a VFIO container meanwhile.
    """
    calls, open_call = [], {}
    with open(TRACE + "/trace") as f:
        for line in f:
            m = LINE.search(line)
            if not m:
                continue
            tid, ts, kind, rest = int(m[1]), float(m[2]), m[3], m[4]
            fields = dict(kv.split("=", 1) for kv in rest.split()
                          if "=" in kv)
            if kind == "ioc":
                open_call[tid] = (int(fields["cmd"], 16), fields, ts)
            elif tid in open_call:
                cmd, fl, t0 = open_call.pop(tid)
                if cmd not in (MAP, UNMAP):
                    continue
                # map: argsz flags vaddr iova size; unmap: argsz flags iova size
                size = int(fl["f24"] if cmd == MAP else fl["f16"], 0)
                calls.append((cmd, size, int(fields["ret"]), ts - t0))
    return calls


def run(qemu, host, size, backing, extra):
    mem = ["-m", size]
    if backing == "hugetlbfs":
        mem += ["-object", "memory-backend-memfd,id=ram0,size=%s,hugetlb=on,"
                "hugetlbsize=2097152" % size, "-machine", "memory-backend=ram0"]
    args = ["-M", "q35", "-accel", "tcg", "-S", "-display", "none",
            "-nodefaults",
            "-device", "vfio-pci,host=%s,id=dev0%s" % (host, extra)] + mem
    hostfs.write(TRACE + "/trace", "")
    t0 = time.time()
    vm = qemutest.Qemu(qemu, args, timeout=600, prefix="dma-start.")
    try:
        ready = time.time() - t0
        locked = qemutest.vmlck(vm.pid)
        rsp = vm.qmp_rsp("x-query-vfio")
        ours = rsp["return"][0].get("dma") if "return" in rsp else None
    finally:
        vm.quit(timeout=60)
    calls = ioctls()
    maps = [c for c in calls if c[0] == MAP and c[2] == 0]
    return {
        "ready_s": ready,
        "map_calls": sum(1 for c in calls if c[0] == MAP),
        "unmap_calls": sum(1 for c in calls if c[0] == UNMAP),
        "map_bytes": sum(c[1] for c in maps),
        "largest": max((c[1] for c in maps), default=0),
        "map_s": sum(c[3] for c in calls if c[0] == MAP),
        "unmap_s": sum(c[3] for c in calls if c[0] == UNMAP),
        "vmlck": locked,
        "ours": ours,
        "stderr": vm.stderr().strip().splitlines()[-3:],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="512M,2G")
    ap.add_argument("--backings", default="anon,hugetlbfs")
    ap.add_argument("--rounds", type=int, default=2,
                    help="runs per build; the fastest to ready counts")
    ap.add_argument("builds", nargs="+", help="NAME=QEMU[,PROPS]")
    a = ap.parse_args()
    host = qemutest.devices().get("sdhci")
    if not host:
        sys.exit("dma-start.py: no sdhci-pci bound to vfio-pci")
    kprobes_on()
    thp_was = open(THP).read()
    thp_was = re.search(r"\[(\w+)\]", thp_was)[1]
    results = {}
    try:
        for size in a.sizes.split(","):
            for backing in a.backings.split(","):
                hostfs.write(THP, "always" if backing == "thp" else thp_was)
                if backing == "hugetlbfs":
                    pages = hostfs.size_bytes(size) // (2 << 20) + 8
                    hostfs.write(HUGEPAGES, str(pages))
                # rounds in rotated order, so that no build always goes
                # first after the pool or the page cache changed
                order = [(i + k) % len(a.builds)
                         for k in range(a.rounds)
                         for i in range(len(a.builds))]
                for i in order:
                    name, spec = a.builds[i].split("=", 1)
                    qemu, _, props = spec.partition(",")
                    extra = "," + props if props else ""
                    r = run(qemu, host, size, backing, extra)
                    key = (size, backing, name)
                    if key not in results or \
                       r["ready_s"] < results[key]["ready_s"]:
                        results[key] = r
                    ram = hostfs.size_bytes(size)
                    print("== %s %s %s: ready %.2f s; MAP_DMA %d calls "
                          "%.3f s, %d bytes (RAM + %d KiB), largest 0x%x; "
                          "UNMAP_DMA %d calls %.3f s; VmLck %d MiB"
                          % (name, size, backing, r["ready_s"],
                             r["map_calls"], r["map_s"], r["map_bytes"],
                             (r["map_bytes"] - ram) // 1024, r["largest"],
                             r["unmap_calls"], r["unmap_s"],
                             r["vmlck"] >> 20), flush=True)
                    if r["ours"]:
                        o = r["ours"]
                        print("   x-query-vfio: map %d calls %d bytes %.3f s,"
                              " unmap %d, prefault %.3f s (%d threads), "
                              "%d mappings" % (o["map-calls"], o["map-bytes"],
                                               o["map-ns"] / 1e9,
                                               o["unmap-calls"],
                                               o["prefault-ns"] / 1e9,
                                               o["prefault-threads"],
                                               o["mappings"]), flush=True)
                    for line in r["stderr"]:
                        print("   | " + line)
                if backing == "hugetlbfs":
                    hostfs.write(HUGEPAGES, "0")
        first = a.builds[0].split("=", 1)[0]
        for (size, backing, name), r in results.items():
            if name == first:
                continue
            o = results[(size, backing, first)]
            print("ratio %s/%s %s %s: MAP_DMA time %.2fx, ready %.2fx, "
                  "MAP_DMA calls %d vs %d, bytes mapped %.3fx"
                  % (first, name, size, backing,
                     o["map_s"] / max(r["map_s"], 1e-9),
                     o["ready_s"] / max(r["ready_s"], 1e-9),
                     o["map_calls"], r["map_calls"],
                     o["map_bytes"] / max(r["map_bytes"], 1)))
    finally:
        hostfs.write(THP, thp_was)
        kprobes_off()


if __name__ == "__main__":
    main()
