#!/usr/bin/python3
"""iommufd-dma.py - inside the image L1: one QEMU per IOMMU backend, judged
by the kernel.

    iommufd-dma.py QEMU-BINARY [BROKEN]

For each backend, our QEMU (q35, 256 MiB, sdhci-pci assigned, qtest
accelerator: realized and reset, no guest code runs) starts under strace
(ioctls only, numbers raw), and this prints one JSON line per backend:

  type1    the device's group in a type1 container, as by default
  iommufd  "-object iommufd,id=iommufd0 -global vfio-pci.iommufd=iommufd0",
           the arguments tests/testbed/run-qtests.sh --iommufd adds: the
           device opens its cdev and maps through /dev/iommu

with what the kernel shows: the VFIO and IOMMU nodes QEMU holds open
(/proc/PID/fd), its ioctls by number with their results (strace, ours
only: QEMU's worker threads included), VmLck and VmPin (/proc/PID/status,
kB), and then, from QEMU, x-query-vfio's "dma" member of the device.
check-kernel.py judges them.  BROKEN=no-link (for proving the judge)
leaves out the -global, so the "iommufd" QEMU silently uses type1.

Copyright (c) 2026 The vfio-direct authors
SPDX-License-Identifier: GPL-2.0-or-later
"""

import json
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
import qemutest  # noqa: E402  (tests/pylib/qemutest.py)

IOMMUFD_ARGS = ["-object", "iommufd,id=iommufd0",
                "-global", "vfio-pci.iommufd=iommufd0"]
IOCTL = re.compile(r"^\d+ +ioctl\(0x[0-9a-f]+, (0x[0-9a-f]+), .*\) = (-?\d+)")


def status(pid):
    """VmLck and VmPin of process @pid, in kB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmLck", "VmPin"):
                out[key] = int(line.split()[1])
    return out


def nodes(pid):
    """The /dev/vfio and /dev/iommu nodes process @pid holds open."""
    out = []
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            target = os.readlink(os.path.join(d, fd))
        except OSError:
            continue
        if target.startswith("/dev/vfio/") or target == "/dev/iommu":
            out.append(target)
    return sorted(out)


def qemu_pid(tracer):
    """The process strace (@tracer) started: its only child."""
    for p in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % p) as f:
                # "PID (COMM) STATE PPID ...": COMM may hold spaces
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == tracer:
            return int(p)
    raise RuntimeError("strace started no QEMU")


def ioctls(log):
    """{number: [succeeded, failed]} of the ioctls in strace's @log."""
    out = {}
    with open(log) as f:
        for line in f:
            m = IOCTL.match(line)
            if m:
                n = out.setdefault(m.group(1), [0, 0])
                n[0 if int(m.group(2)) >= 0 else 1] += 1
    return out


def run(binary, bdf, backend, broken):
    log = "/tmp/iommufd-dma.%s.strace" % backend
    args = ["-M", "q35", "-m", "256M", "-nodefaults", "-display", "none",
            "-device", "vfio-pci,host=%s,id=dev0" % bdf]
    if backend == "iommufd":
        args = (IOMMUFD_ARGS[:2] if broken == "no-link" else
                IOMMUFD_ARGS) + args
    strace = shutil.which("strace")
    wrapper = [strace, "-f", "-qq", "-e", "trace=ioctl", "-e", "raw=ioctl",
               "-o", log] if strace else []
    t0 = time.monotonic()
    vm = qemutest.Qemu(binary, args, qtest=True, wrapper=wrapper)
    ready = time.monotonic() - t0
    try:
        pid = qemu_pid(vm.pid) if strace else vm.pid
        out = {"backend": backend, "ready_s": round(ready, 2),
               "nodes": nodes(pid), "status": status(pid)}
        for dev in vm.qmp("x-query-vfio"):
            if dev.get("id") == "dev0":
                out["dma"] = dev.get("dma")
        out["dma_line"] = next((ln.strip() for ln in
                                vm.hmp("info vfio").splitlines()
                                if ln.strip().startswith("DMA:")), None)
    finally:
        vm.quit()
    out["ioctls"] = ioctls(log) if strace else None
    out["stderr"] = vm.stderr().strip()
    vm.cleanup()
    return out


def main():
    binary = sys.argv[1]
    broken = sys.argv[2] if len(sys.argv) > 2 else ""
    bdf = qemutest.devices().get("sdhci")
    if not bdf:
        print(json.dumps({"error": "sdhci is not bound to vfio-pci"}))
        return 1
    for backend in ("type1", "iommufd"):
        try:
            print(json.dumps(run(binary, bdf, backend, broken)), flush=True)
        except (qemutest.QMPError, OSError, RuntimeError) as e:
            print(json.dumps({"backend": backend, "error": str(e)}),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
