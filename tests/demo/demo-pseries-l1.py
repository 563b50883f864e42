#!/usr/bin/env python3
"""demo-pseries-l1.py - the demo's pseries runs, inside the pseries-a L1.

    demo-pseries-l1.py --l2 DIR --out FILE [--runs N] [--recommended NAME]
                       NAME=QEMU ...

The pseries half of make demo (demo.sh --platform pseries), run in the
pseries-a test-bed L1 (64 KiB pages, sPAPR TCE v2 IOMMU, nested KVM-HV),
in the chroot on the ppc64el sysroot.  --runs times (default 3), for
each NAME=QEMU in turn (the base's ppc64le binary, then ours: they
alternate; --recommended, ours, with the user guide's settings for
pseries: its example "recommended-pseries") boots the same Linux L2
under -accel kvm with
the L1's vfio-pci sdhci, e1000e, nvme and xhci passed through, SLOF
placing their BARs, the kernel and initramfs of DIR (tests/demo/mkl2.sh
--arch ppc64el-64k; its /init is l2-init.sh, whose drivers probe the
devices, e1000e reports link and statistics, nvme reads blocks and each
BAR's first register is loaded in a loop).  Records, with the L1 kernel
as the oracle wherever it can:

  - MMIO exits per device and BAR: a kprobe on the L1 kernel's
    kvmppc_hv_emulate_mmio (every access KVM-HV hands to QEMU, with its
    guest physical address; KVM-HV keeps no mmio_exits statistic), by
    the BAR addresses the L2 programmed (query-pci);
  - the L2's TCE hypercalls that KVM's in-kernel handlers took (kprobes
    on kvmppc_h_put_tce, _indirect and kvmppc_h_stuff_tce), and the
    MAP_DMA/UNMAP_DMA ioctls of QEMU's main thread (strace), i.e. what
    QEMU had to do itself;
  - per BAR direct or trapped from the flat view (a 64 KiB host page is
    direct when one ram-device section covers it), x-query-vfio's ranges
    and reasons and "info vfio" verbatim on builds that have them;
  - preregistered RAM (VmLck), time to the first instruction (QEMU start
    to the L1 kernel's first kvm_hv:kvm_guest_enter into the L2) and to
    ready (QEMU start to the L2's "L2-PROBED": every driver bound).

Writes JSON for report.py to FILE; progress lines ("demo: ...") go to
/dev/console, so the host sees them while the L1 runs.  The helpers it
shares with the x86 half come from demo-l1.py.
"""

import argparse
import importlib.util
import os
import re
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("demo_l1",
                                              os.path.join(here, "demo-l1.py"))
demo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo)
demo.PAGE = 0x10000

DEVICES = ("sdhci", "e1000e", "nvme", "xhci")
PSERIES = ("pseries,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,"
           "cap-ccf-assist=off")
GROUP = "vfiodemo"
# kprobe name -> L1 kernel function; "mmio" records the guest address
PROBES = {"mmio": "kvmppc_hv_emulate_mmio gpa=$arg2:x64",
          "put_tce": "kvmppc_h_put_tce",
          "put_tce_indirect": "kvmppc_h_put_tce_indirect",
          "stuff_tce": "kvmppc_h_stuff_tce"}
L2_TIMEOUT = 420


def probes_setup():
    """The kprobes, recording into the trace buffer; names not probed
    (a function the kernel lacks) are reported as such."""
    if not os.path.exists(os.path.join(demo.TRACEFS, "kprobe_events")):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mount(b"nodev", demo.TRACEFS.encode(), b"tracefs", 0, None)
    demo.tracefs("tracing_on", "0")
    probes_remove()
    missing = []
    for name, spec_ in PROBES.items():
        fd = os.open(os.path.join(demo.TRACEFS, "kprobe_events"),
                     os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, ("p:%s/%s %s\n" % (GROUP, name, spec_)).encode())
        except OSError:
            missing.append(name)
        finally:
            os.close(fd)
    demo.tracefs("buffer_size_kb", "16384")
    demo.tracefs("trace", "")
    demo.tracefs("events/%s/enable" % GROUP, "1")
    demo.tracefs("tracing_on", "1")
    return missing


def probes_remove():
    try:
        demo.tracefs("events/%s/enable" % GROUP, "0")
    except OSError:
        pass
    for name in PROBES:
        try:
            fd = os.open(os.path.join(demo.TRACEFS, "kprobe_events"),
                         os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, ("-:%s/%s\n" % (GROUP, name)).encode())
            finally:
                os.close(fd)
        except OSError:
            pass


# "COMM-PID [CPU] FLAGS TIME: NAME: (FUNC+0x8/0x... [kvm_hv]) gpa=0x..."
# (ppc64le kprobes sit at the local entry point, past the TOC set-up; a
# module's functions carry its name)
LINE_RE = re.compile(r": (\w+): \((\w+)\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[\w+\])?\)"
                     r"(?: gpa=0x([0-9a-f]+))?")


def probes_collect():
    """(mmio guest addresses, {probe: count}, events the buffer lost)"""
    demo.tracefs("tracing_on", "0")
    gpas, counts = [], {n: 0 for n in PROBES}
    for ln in demo.tracefs("trace").splitlines():
        m = LINE_RE.search(ln)
        if not m or m.group(1) not in PROBES:
            continue
        counts[m.group(1)] += 1
        if m.group(1) == "mmio" and m.group(3):
            gpas.append(int(m.group(3), 16))
    overrun = 0
    for cpu in os.listdir(os.path.join(demo.TRACEFS, "per_cpu")):
        st = demo.tracefs("per_cpu/%s/stats" % cpu)
        overrun += sum(int(x) for x in re.findall(r"overrun: (\d+)", st))
    probes_remove()
    return gpas, counts, overrun


class L2(demo.L2):
    """demo-l1.py's L2, started as a pseries guest under KVM-HV."""

    def command(self, args, devices):
        append = ("console=hvc0 iomem=relaxed quiet panic=-1 l2.mode=demo "
                  "l2.loads=%d" % args.loads)
        cmd = ["-M", PSERIES, "-accel", "kvm", "-m", "512M",
               "-smp", "1", "-nodefaults", "-display", "none",
               "-no-user-config", "-serial", "stdio",
               "-kernel", os.path.join(args.l2, "vmlinux"),
               "-initrd", os.path.join(args.l2, "initrd.cpio.gz"),
               "-append", append]
        for i, n in enumerate(DEVICES):
            cmd += ["-device", ",".join(
                ["vfio-pci,host=%s,id=%s,bus=pci.0,addr=%d.0"
                 % (devices[n], n, 1 + i)] + self.props)]
        return cmd


def phb_offset(secs, regs, devices):
    """CPU address less bus address of the PHB's memory window: query-pci
    gives bus addresses, the flat view and KVM guest physical (CPU) ones.
    Found where a BAR's own region ("BDF BAR n", upstream's name) starts
    in the flat view; None when no BAR is there."""
    seen = {}
    for n, reg in regs:
        name = "%s BAR %d" % (devices[n], reg["bar"])
        starts = [s[0] for s in secs if s[3].startswith(name)]
        if starts:
            o = min(starts) - reg["address"]
            seen[o] = seen.get(o, 0) + 1
    return max(seen, key=seen.get) if seen else None


def run_one(name, qemu, args, devices, first, props=(), label=None):
    label = label or name
    demo.progress("%s: starting the pseries L2 (%s%s)" %
                  (label, qemu, ", " + ",".join(props) if props else ""))
    tmp = tempfile.mkdtemp(prefix="demo-%s." % name)
    missing = probes_setup()
    first.arm()
    l2 = L2(qemu, args, devices, tmp, props)
    deadline = time.monotonic() + L2_TIMEOUT
    r = {"name": name, "qemu": qemu, "props": list(props), "marks": {},
         "l2": [], "probes_missing": missing}
    try:
        demo.follow(l2, r, label, deadline)
        r["exits_kvm"] = demo.kvm_stat(l2, "exits")
        q, err = l2.cmd("x-query-vfio")
        r["x_query_vfio"] = q if err is None else None
        r["info_vfio"] = l2.hmp("info vfio") if err is None else None
        r["query_pci"], _ = l2.cmd("query-pci")
        mtree = l2.hmp("info mtree -f")
    finally:
        l2.stop()
    gpas, counts, overrun = probes_collect()
    demo.first_mark(r, first.first(), l2)
    r["trace_overrun"] = overrun
    r["tce_hcalls_kvm"] = {k: v for k, v in counts.items() if k != "mmio"}
    r["mmio_exits_kvm"] = counts["mmio"]
    if not r["ok"]:
        r["console_tail"] = l2.console[-25:]
        demo.progress("%s: the L2 gave no result; last lines: %s" %
                      (label, " | ".join(l2.console[-8:])))
        return r
    secs = demo.flat_view(mtree)
    regs = [(dev.get("qdev_id"), reg) for bus in r["query_pci"] or []
            for dev in bus["devices"] if dev.get("qdev_id") in DEVICES
            for reg in dev["regions"]
            if reg["type"] == "memory" and reg["address"] and
            reg["address"] < 0xffffffffffff]
    r["phb_offset"] = off = phb_offset(secs, regs, devices)
    bars = []
    for n, reg in regs if off is not None else []:
        cpu = reg["address"] + off
        pages = demo.classify_bar(secs, cpu, reg["size"])
        bars.append({"device": n, "bar": reg["bar"], "address": reg["address"],
                     "cpu": cpu, "size": reg["size"], "pages": pages,
                     "direct_pages": sum(p["direct"] for p in pages),
                     "msix_pages": sum(any("msix" in s for s in p["sections"]) and
                                       not p["direct"] for p in pages),
                     "why": demo.trapped_why(pages)})
    def hits(b):
        return [gpa for gpa in gpas if b["cpu"] <= gpa < b["cpu"] + b["size"]]
    for b in bars:
        b["mmio_exits"] = len(hits(b))
    demo.msix_exits(bars, hits)
    r["bars"] = sorted(bars, key=lambda b: (DEVICES.index(b["device"]), b["bar"]))
    r["mmio_exits_traced"] = len(gpas)
    r["mmio_gpa_sample"] = sorted({g & ~0xffff for g in gpas})[:16]
    r["dma"] = demo.dma_calls(l2.strace_path)
    demo.progress("%s: done, %d MMIO exits (KVM-HV), %s TCE hypercalls in KVM, "
                  "first instruction after %.2f s, ready after %.1f s" %
                  (label, r["mmio_exits_kvm"], sum(r["tce_hcalls_kvm"].values()),
                   r["marks"].get("FIRST", -1), r["marks"].get("L2-PROBED", -1)))
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--l2", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--loads", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--recommended", default="ours",
                    help="the build that runs with the guide's settings")
    ap.add_argument("builds", nargs="+", help="NAME=QEMU")
    args = ap.parse_args()
    devices = dict(p.split("=", 1) for p in
                   os.environ.get("VFIO_DIRECT_DEVICES", "").split())
    missing = [n for n in DEVICES if n not in devices]
    if missing:
        print("demo-pseries-l1: %s not bound to vfio-pci in the L1" % " ".join(missing))
        return 1
    if not os.path.exists("/dev/kvm"):
        print("demo-pseries-l1: no /dev/kvm in the L1 (nested KVM-HV off?)")
        return 1
    demo.progress("pseries L1 up, devices bound: %s" % " ".join(
        "%s=%s" % (n, devices[n]) for n in DEVICES))
    res = {"platform": "pseries", "firmware": "slof", "loads": args.loads,
           "page": demo.PAGE,
           "devices": {n: devices[n] for n in DEVICES}, "runs": []}
    return 0 if demo.run_all(res, args, devices, run_one,
                             "kvm_hv/kvm_guest_enter", "pseries") else 1


if __name__ == "__main__":
    sys.exit(main())
