#!/usr/bin/env python3
"""demo-l1.py - the demo's runs, inside the x86 test-bed L1 (demo.sh).

    demo-l1.py --l2 DIR --out FILE [--firmware qboot|seabios] [--runs N]
               [--recommended NAME] NAME=QEMU ...

--runs times (default 3), for each NAME=QEMU in turn (the base's binary,
then ours: they alternate) boots the same Linux L2 under nested KVM with the L1's vfio-pci devices sdhci, i6300esb, pvpanic,
e1000e and nvme passed through, the kernel and initramfs of DIR
(tests/demo/mkl2.sh: its /init is l2-init.sh, whose drivers probe the
devices and touch their registers).  The build --recommended names
(ours) runs with the settings the user guide recommends for this host
(docs/vfio-direct.rst, its example "recommended-x86"; x-msix-relocation
only where the L1 isolates MSIs).  With qboot (default) the firmware
assigns no BAR and the L2's Linux places them, packing small BARs the way
firmware does on 64 KiB hosts.  Records, independently of the fork's own
introspection wherever it can:

  - MMIO exits per device and BAR: the L1 kernel's kvm:kvm_mmio
    tracepoint (writes and unsatisfied reads: the accesses KVM hands to
    QEMU), by the BAR addresses the L2 programmed (query-pci); the
    total also from KVM's own mmio_exits counter (query-stats);
  - per BAR direct or trapped, from the flat view ("info mtree -f"): a
    host page is direct when one ram-device section covers it whole;
    trapped pages are named by the sections in them (msix-table, ...);
    on builds that have it, x-query-vfio's ranges and reasons too, and
    "info vfio" verbatim;
  - VFIO_IOMMU_MAP_DMA/UNMAP_DMA of QEMU's main thread (strace -T): calls
    and time in the ioctl; pinned bytes at ready from QEMU's VmLck (what
    type1 accounted);
  - time to the first instruction: QEMU start to the L1 kernel's first
    kvm:kvm_entry into the L2 (tests/pylib/firstentry.py);
  - time to ready: QEMU start to the L2's "L2-PROBED" (every driver bound).

Writes everything as JSON to FILE; progress lines ("demo: ...") go to
/dev/console, so the host sees them while the L1 runs.
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
import firstentry  # noqa: E402  (tests/pylib/firstentry.py)
import guide  # noqa: E402
import qemutest  # noqa: E402  (tests/pylib/qemutest.py)

DEVICES = ("sdhci", "i6300esb", "pvpanic", "e1000e", "nvme")
PAGE = 4096
TRACEFS = "/sys/kernel/tracing"
L2_TIMEOUT = 300
GUIDE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                     "docs", "vfio-direct.rst")
UNSAFE_INTERRUPTS = "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"


def progress(msg):
    line = "demo: %s\n" % msg
    try:
        with open("/dev/console", "w") as c:
            c.write(line)
    except OSError:
        pass
    sys.stderr.write(line)


def tracefs(path, value=None):
    p = os.path.join(TRACEFS, path)
    if value is None:
        with open(p) as f:
            return f.read()
    with open(p, "w") as f:
        f.write(value)
    return None


def trace_setup():
    if not os.path.exists(os.path.join(TRACEFS, "trace")):
        subprocess.run(["mount", "-t", "tracefs", "tracefs", TRACEFS],
                       check=False)
    tracefs("tracing_on", "0")
    tracefs("buffer_size_kb", "16384")
    tracefs("events/kvm/kvm_mmio/enable", "1")
    tracefs("trace", "")
    tracefs("tracing_on", "1")


MMIO_RE = re.compile(r"kvm_mmio: mmio (\S+) len (\d+) gpa 0x([0-9a-f]+)")


def trace_collect():
    """(kind, gpa) of every kvm_mmio event since trace_setup."""
    tracefs("tracing_on", "0")
    out = []
    for ln in tracefs("trace").splitlines():
        m = MMIO_RE.search(ln)
        if m:
            out.append((m.group(1), int(m.group(3), 16)))
    lost = tracefs("per_cpu/cpu0/stats") + tracefs("per_cpu/cpu1/stats")
    overrun = sum(int(x) for x in re.findall(r"overrun: (\d+)", lost))
    tracefs("events/kvm/kvm_mmio/enable", "0")
    return out, overrun


def guide_settings(platform, isolated):
    """The properties the user guide recommends on -device vfio-pci on
    @platform (its example "recommended-PLATFORM", host= and id= left
    out), less x-msix-relocation unless the host isolates MSIs
    (@isolated), as the guide's text says; and a line saying so."""
    name = "recommended-" + platform
    text = guide.example(GUIDE, name)
    if text is None:
        raise SystemExit("demo: docs/vfio-direct.rst has no %s example" % name)
    words = shlex.split(text.replace("\\\n", " "))
    opts = [w.split(",")[1:] for i, w in enumerate(words)
            if i and words[i - 1] == "-device" and w.startswith("vfio-pci,")]
    if not opts:
        raise SystemExit("demo: the guide's %s example has no -device vfio-pci" % name)
    props = [o for o in opts[0] if o.split("=")[0] not in ("host", "id")]
    why = "the user guide's %s example" % name
    if not isolated and any(o.startswith("x-msix-relocation=") for o in props):
        props = [o for o in props if not o.startswith("x-msix-relocation=")]
        why += ", less x-msix-relocation: MSI is not isolated here"
    return props, why


class L2:
    def __init__(self, qemu, args, devices, tmp, props=()):
        self.props = list(props)
        self.strace_path = os.path.join(tmp, "strace")
        cmd = self.command(args, devices)
        # QEMU's main thread only (no -f): the memory listener's DMA
        # mappings, without stopping on the vCPU's every KVM_RUN (with
        # -f the base's L2 did not boot within 300 s on a loaded host)
        strace = ["strace", "-qq", "-T", "-e", "trace=ioctl", "-e",
                  "signal=none", "-o", self.strace_path]
        self.t0 = time.monotonic()
        self.vm = qemutest.Qemu(qemu, cmd, wrapper=strace, console=True,
                                timeout=120, prefix="demo-")
        self.proc = self.vm.proc
        self.console = self.vm.console

    def command(self, args, devices):
        """The L2's QEMU arguments (demo-pseries-l1.py has its own)."""
        append = ("console=ttyS0 iomem=relaxed quiet panic=-1 l2.mode=demo "
                  "l2.loads=%d" % args.loads)
        cmd = ["-M", "q35", "-accel", "kvm", "-cpu", "host",
               "-m", "512M", "-smp", "1", "-nodefaults", "-display", "none",
               "-no-user-config", "-serial", "stdio",
               "-kernel", os.path.join(args.l2, "vmlinuz"),
               "-initrd", os.path.join(args.l2, "initrd.cpio.gz"),
               "-append", append]
        if args.firmware == "qboot":
            cmd += ["-bios", "/usr/share/qemu/qboot.rom"]
        for i, n in enumerate(DEVICES):
            cmd += ["-device", ",".join(
                ["vfio-pci,host=%s,id=%s,bus=pcie.0,addr=%d.0"
                 % (devices[n], n, 3 + i)] + self.props)]
        return cmd

    def cmd(self, name, **args):
        r = self.vm.qmp_rsp(name, **args)
        return r.get("return"), r.get("error")

    def hmp(self, line):
        r, _ = self.cmd("human-monitor-command", **{"command-line": line})
        return r or ""

    def line(self, deadline):
        ln, _ = self.vm.line(deadline)
        return None if ln is None else ln.strip()

    def stop(self):
        self.vm.quit(30)
        # strace's tracee may outlive strace's own exit for a moment
        time.sleep(0.5)


def kvm_stat(l2, name):
    return l2.vm.vcpu_stats().get(name, 0)


FLAT_RE = re.compile(r"^\s*([0-9a-f]+)-([0-9a-f]+) \(prio (-?\d+), ([^)]+)\): (.*)$")


def flat_view(text):
    """Sections of the system memory flat view: (start, end, type, name)."""
    secs, inside = [], False
    for ln in text.splitlines():
        if ln.startswith("FlatView #"):
            if inside:
                break
            continue
        if ln.strip().startswith('AS "memory"'):
            inside = True
            continue
        if not inside:
            continue
        m = FLAT_RE.match(ln)
        if m:
            name = re.sub(r" KVM$", "", m.group(5).strip())
            secs.append((int(m.group(1), 16), int(m.group(2), 16),
                         m.group(4), name))
    return secs


def classify_bar(secs, addr, size):
    """Per host page of [addr, addr + size): direct or trapped (and by
    which sections), from the flat view alone."""
    pages = []
    first = addr & ~(PAGE - 1)
    for page in range(first, addr + size, PAGE):
        end = page + PAGE - 1
        inpage = [s for s in secs if s[0] <= end and s[1] >= page]
        direct = (len(inpage) == 1 and inpage[0][0] <= page and
                  inpage[0][1] >= end and inpage[0][2].startswith("ramd"))
        names = sorted({re.sub(r" @[0-9a-f]+$", "", s[3]) for s in inpage})
        pages.append({"page": page, "direct": direct, "sections": names})
    return pages


def trapped_why(pages):
    why = set()
    for p in pages:
        if p["direct"]:
            continue
        for n in p["sections"]:
            if "msix-table" in n:
                why.add("MSI-X table")
            elif "msix-pba" in n:
                why.add("MSI-X PBA")
        if not any("msix" in n for n in p["sections"]):
            if len(p["sections"]) > 1:
                why.add("page shared with %d other region(s)" %
                        (len(p["sections"]) - 1))
            else:
                why.add("not a whole-page device mapping")
    return sorted(why)


IOCTL_RE = re.compile(r"^(?:\d+ +)?ioctl\((\d+), ([A-Za-z0-9_ ]+?)(?:, .*)?\) += (-?\d+).*<([0-9.]+)>")


def dma_calls(path):
    """MAP/UNMAP_DMA of QEMU's main thread from strace -T: calls and
    seconds in the ioctl.  strace cannot tell VFIO_IOMMU_MAP_DMA from
    VFIO_DEVICE_PCI_HOT_RESET (one number), nor decode the argument, so
    only the container's file descriptor (the one VFIO_SET_IOMMU went to)
    counts, and bytes come from elsewhere (VmLck, x-query-vfio)."""
    out = {"map": 0, "map_s": 0.0, "unmap": 0, "unmap_s": 0.0, "failed": 0}
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return None
    containers = set()
    for ln in lines:
        m = IOCTL_RE.search(ln)
        if not m:
            continue
        fd, names = m.group(1), m.group(2).split(" or ")
        if "VFIO_SET_IOMMU" in names:
            containers.add(fd)
        if fd not in containers:
            continue
        for kind, name in (("map", "VFIO_IOMMU_MAP_DMA"),
                           ("unmap", "VFIO_IOMMU_UNMAP_DMA")):
            if name in names:
                out[kind] += 1
                out[kind + "_s"] += float(m.group(4))
                if int(m.group(3)) < 0:
                    out["failed"] += 1
    out["map_s"] = round(out["map_s"], 4)
    out["unmap_s"] = round(out["unmap_s"], 4)
    return out


def qemu_pid(strace_pid):
    """QEMU's pid: the child of strace."""
    try:
        kids = open("/proc/%d/task/%d/children" % (strace_pid, strace_pid)).read().split()
        return int(kids[0]) if kids else None
    except OSError:
        return None


def follow(l2, r, name, deadline):
    """Read the L2's console to L2-DONE or @deadline into run record @r:
    its marks (seconds since QEMU started), the pinned bytes at
    L2-PROBED, its L2-/TOUCH lines, and "ok"."""
    while True:
        ln = l2.line(deadline)
        if ln is None:
            break
        w = ln.split()
        if not w:
            continue
        if w[0] in ("L2-INIT", "L2-PROBED", "L2-DONE"):
            r["marks"][w[0]] = round(time.monotonic() - l2.t0, 2)
            if w[0] == "L2-PROBED":
                r["pinned_at_ready"] = qemutest.vmlck(qemu_pid(l2.proc.pid))
            progress("%s: %s after %.0f s" % (name, w[0], r["marks"][w[0]]))
        if w[0].startswith("L2-") or w[0] == "TOUCH":
            r["l2"].append(ln)
        if w[0] == "L2-DONE":
            break
    r["ok"] = "L2-DONE" in r["marks"]


def first_mark(r, first, l2):
    """Run record @r's FIRST mark: seconds from QEMU's start to the
    guest's first entry (monotonic time @first, from the L1 kernel)."""
    if first is not None:
        r["marks"]["FIRST"] = round(first - l2.t0, 3)


def msix_exits(bars, hits):
    """Each BAR's exits that hit a trapped MSI-X page (table or PBA), from
    the exit addresses @hits(bar), in the flat view's addresses like its
    pages: the rest are the device's own registers."""
    for b in bars:
        pages = [p["page"] for p in b["pages"] if not p["direct"] and
                 any("msix" in n for n in p["sections"])]
        b["msix_exits"] = sum(1 for gpa in hits(b) for p in pages
                              if p <= gpa < p + PAGE)


def run_one(name, qemu, args, devices, first, props=(), label=None):
    label = label or name
    progress("%s: starting the L2 (%s%s)" % (label, qemu,
                                              ", " + ",".join(props) if props else ""))
    tmp = tempfile.mkdtemp(prefix="demo-%s." % name)
    trace_setup()
    first.arm()
    l2 = L2(qemu, args, devices, tmp, props)
    deadline = time.monotonic() + L2_TIMEOUT
    r = {"name": name, "qemu": qemu, "props": list(props), "marks": {},
         "l2": []}
    try:
        follow(l2, r, label, deadline)
        r["mmio_exits_kvm"] = kvm_stat(l2, "mmio_exits")
        r["exits_kvm"] = kvm_stat(l2, "exits")
        q, err = l2.cmd("x-query-vfio")
        r["x_query_vfio"] = q if err is None else None
        r["info_vfio"] = l2.hmp("info vfio") if err is None else None
        r["query_pci"], _ = l2.cmd("query-pci")
        mtree = l2.hmp("info mtree -f")
    finally:
        l2.stop()
    events, overrun = trace_collect()
    first_mark(r, first.first(), l2)
    r["trace_overrun"] = overrun
    if not r["ok"]:
        r["console_tail"] = l2.console[-25:]
        progress("%s: the L2 gave no result; last lines: %s" %
                 (label, " | ".join(l2.console[-8:])))
        return r
    secs = flat_view(mtree)
    bars = []
    for bus in r["query_pci"] or []:
        for dev in bus["devices"]:
            n = dev.get("qdev_id")
            if n not in DEVICES:
                continue
            for reg in dev["regions"]:
                if reg["type"] != "memory" or not reg["address"] or \
                        reg["address"] >= 0xffffffffffff:
                    continue
                pages = classify_bar(secs, reg["address"], reg["size"])
                bars.append({"device": n, "bar": reg["bar"],
                             "address": reg["address"], "size": reg["size"],
                             "pages": pages,
                             "direct_pages": sum(p["direct"] for p in pages),
                             "msix_pages": sum(any("msix" in s for s in
                                                   p["sections"]) and
                                               not p["direct"] for p in pages),
                             "why": trapped_why(pages)})
    exits = [gpa for k, gpa in events if k in ("write", "unsatisfied-read")]

    def hits(b):
        return [gpa for gpa in exits
                if b["address"] <= gpa < b["address"] + b["size"]]
    for b in bars:
        b["mmio_exits"] = len(hits(b))
    msix_exits(bars, hits)
    r["bars"] = sorted(bars, key=lambda b: (DEVICES.index(b["device"]), b["bar"]))
    r["mmio_exits_traced"] = sum(1 for k, _ in events
                                 if k in ("write", "unsatisfied-read"))
    r["dma"] = dma_calls(l2.strace_path)
    try:
        st = open(l2.strace_path).read().splitlines()
        r["strace_lines"] = len(st)
        r["strace_vfio"] = [ln for ln in st if "VFIO" in ln or "0x3b" in ln][:40]
    except OSError:
        r["strace_lines"] = None
    progress("%s: done, %d MMIO exits (KVM), first instruction after %.2f s, "
             "ready after %.1f s" %
             (label, r["mmio_exits_kvm"], r["marks"].get("FIRST", -1),
              r["marks"].get("L2-PROBED", -1)))
    return r


def run_all(res, args, devices, run_one_fn, event, platform):
    """--runs rounds of every build, alternating, into @res["runs"]
    (written to --out after each); the build --recommended names gets
    the guide's settings for @platform.  True when every build has a
    run with a result."""
    isolated, how = msi_isolation(platform)
    props, why = guide_settings(platform, isolated)
    res["runs_per_build"] = args.runs
    res["settings"] = {"build": args.recommended, "props": props, "why": why,
                       "msi_isolation": how}
    progress("%s runs with %s (%s)" % (args.recommended,
                                       ",".join(props) or "the defaults", why))
    first = firstentry.FirstEntry("demo-first", event)
    builds = [b.split("=", 1) for b in args.builds]
    try:
        for k in range(args.runs):
            for name, qemu in builds:
                r = run_one_fn(name, qemu, args, devices, first,
                               props if name == args.recommended else (),
                               "%s, run %d/%d" % (name, k + 1, args.runs))
                r["round"] = k
                res["runs"].append(r)
                with open(args.out, "w") as f:
                    json.dump(res, f, indent=1)
    finally:
        first.remove()
    return all(any(r["ok"] for r in res["runs"] if r["name"] == n)
               for n, _ in builds)


def msi_isolation(platform):
    """(isolated, how we know) for this L1's vfio devices.  type1 takes
    a group without isolated MSI only with allow_unsafe_interrupts=Y;
    POWER isolates MSIs per partitionable endpoint, which the kernel
    does not report (docs/vfio-direct-kernel.rst, K2)."""
    if platform == "pseries":
        return True, "per partitionable endpoint (POWER)"
    try:
        v = open(UNSAFE_INTERRUPTS).read().strip()
    except OSError:
        return False, "not known (no vfio_iommu_type1)"
    if v == "N":
        return True, "yes (vfio_iommu_type1 allow_unsafe_interrupts=N)"
    return False, "not known (vfio_iommu_type1 allow_unsafe_interrupts=%s)" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--l2", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--loads", type=int, default=1000)
    ap.add_argument("--firmware", choices=("qboot", "seabios"), default="qboot")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--recommended", default="ours",
                    help="the build that runs with the guide's settings")
    ap.add_argument("builds", nargs="+", help="NAME=QEMU")
    args = ap.parse_args()
    devices = qemutest.devices()
    missing = [n for n in DEVICES if n not in devices]
    if missing:
        print("demo-l1: %s not bound to vfio-pci in the L1" % " ".join(missing))
        return 1
    if not os.path.exists("/dev/kvm"):
        print("demo-l1: no /dev/kvm in the L1 (kvm-amd did not load)")
        return 1
    progress("L1 up, devices bound: %s" % " ".join(
        "%s=%s" % (n, devices[n]) for n in DEVICES))
    res = {"firmware": args.firmware, "loads": args.loads,
           "devices": {n: devices[n] for n in DEVICES}, "runs": []}
    return 0 if run_all(res, args, devices, run_one, "kvm/kvm_entry",
                        "x86") else 1


if __name__ == "__main__":
    sys.exit(main())
