#!/usr/bin/env python3
"""pseries-subpage.py - real MMIO exits of a sub-page BAR on 64 KiB pages.

Runs inside a pseries L1 of the test bed (run-pseries.sh, in the chroot on
the cross build's sysroot, the L1 booted with nested KVM-HV).  For each
--qemu NAME=BINARY (a ppc64le qemu-system-ppc64: ours, the base) it boots a
Linux L2 under -accel kvm with the L1's sdhci, i6300esb and pvpanic passed
through (vfio-pci), SLOF placing their BARs, and pseries-l2-init.c as its
whole initramfs.  That program loads sdhci register 0x40 in timed loops;
around each loop this script counts the real KVM_EXIT_MMIO exits of the
L2 (QEMU's kvm_run_exit trace events with reason 6: KVM-HV leaves its
mmio_exits statistic at 0) and, on our build, sdhci BAR0's trapped-reads
(x-query-vfio).

With the base, SLOF packs the three small BARs into one 64 KiB page, so KVM
cannot map sdhci and every load exits; ours reports each BAR as a host page
(x-bar-page-align=auto) so each gets its own and sdhci is direct.

Prints, per build, the BAR layout the L2 saw and one line per loop
"NAME loop I: L loads, E mmio exits, T trapped reads, R loads/s", then
"NAME: median R loads/s, E mmio exits per loop" and the ratio lines.
Exits 1 when an L2 gave no result.

--target nvme-db (make bench's doorbell run) passes nvme through instead,
its BAR0 where SLOF put it, and each loop stores to and loads from its
first doorbell (BAR0 + 0x1000, on the 64 KiB page of the MSI-X table at
0x2000).  Neither build emulates the table on pseries, so the page is
direct on both when SLOF gives the BAR a page of its own (it does with
nvme alone: 0 exits each, measured 2026-12-07); the base traps it only
when another BAR shares the page.  The lines count accesses (a store and
a load each iteration).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
import qemutest  # noqa: E402  (tests/pylib/qemutest.py)

PSERIES = ("pseries,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,"
           "cap-ccf-assist=off")
# The devices passed through for each --target, the first one benched
TARGETS = {"sdhci": ("sdhci", "i6300esb", "pvpanic"), "nvme-db": ("nvme",)}
PAGE = 0x10000


class L2:
    """One L2 QEMU under KVM: its console lines and its QMP monitor."""

    def __init__(self, binary, kernel, initrd, append, devices, names,
                 timeout):
        self.trace = os.path.join(tempfile.mkdtemp(prefix="pseries-subpage."),
                                  "trace")
        args = ["-accel", "kvm", "-M", PSERIES, "-m", "512M",
                "-smp", "1", "-nodefaults", "-display", "none",
                "-serial", "stdio",
                "-kernel", kernel, "-initrd", initrd, "-append", append,
                "-trace", "kvm_run_exit", "-D", self.trace]
        for n in names:
            args += ["-device", "vfio-pci,host=%s,id=%s" % (devices[n], n)]
        self.target = names[0]
        self.deadline = time.monotonic() + timeout
        self.vm = qemutest.Qemu(binary, args, console=True,
                                prefix="pseries-subpage.")

    def line(self):
        """The next console line, or None at the end or the deadline."""
        while True:
            ln, _ = self.vm.line(self.deadline)
            if ln is None:
                return None
            ln = ln.strip()
            if ln:
                return ln

    def mmio_exits(self):
        """KVM_EXIT_MMIO exits so far: QEMU's kvm_run_exit trace events
        with reason 6 (KVM-HV's own mmio_exits statistic stays 0)."""
        with open(self.trace) as f:
            return sum(1 for ln in f if "kvm_run_exit" in ln and
                       ln.rstrip().endswith("reason 6"))

    def target_bar0(self):
        """x-query-vfio's BAR0 of the benched device (ours only), or None."""
        rsp = self.vm.qmp_rsp("x-query-vfio")
        return qemutest.vfio_bar(rsp.get("return"), self.target, 0)[1]

    def trapped_reads(self):
        bar = self.target_bar0()
        return None if bar is None else bar["trapped-reads"]

    def stop(self):
        self.vm.wait(30)


def run_build(name, binary, opts, devices):
    append = ("console=hvc0 iomem=relaxed quiet panic=-1 bench.loads=%d "
              "bench.rounds=%d bench.pack=%d bench.target=%s" %
              (opts.loads, opts.rounds, 0 if opts.slof_layout else 1,
               opts.target))
    # a doorbell iteration is a store and a load
    per_loop = opts.loads * (2 if opts.target == "nvme-db" else 1)
    unit = "accesses" if opts.target == "nvme-db" else "loads"
    names = TARGETS[opts.target]
    t0 = time.time()
    l2 = L2(binary, opts.kernel, opts.initrd, append, devices, names,
            opts.timeout)
    bars, loops, before, log = {}, [], None, []
    try:
        while True:
            ln = l2.line()
            if ln is None:
                break
            log.append(ln)
            words = ln.split()
            if words[0] == "BENCH-BAR":
                bars[words[1]] = (int(words[3], 16), int(words[4], 16))
            elif words[0] == "BENCH-READY":
                print("# %s: L2 ready after %.1fs" % (name, time.time() - t0))
                bar = l2.target_bar0()
                if bar:
                    print("# %s: x-query-vfio %s BAR0: %s, %s" %
                          (name, names[0], bar["subpage"], ", ".join(
                              "0x%x+0x%x %s" % (r["offset"], r["size"],
                                                r.get("reason", r["kind"]))
                              for r in bar["ranges"])))
            elif words[0] == "BENCH-BEGIN":
                before = (l2.mmio_exits(), l2.trapped_reads())
            elif words[0] == "BENCH-END" and before:
                exits = l2.mmio_exits() - before[0]
                tr = l2.trapped_reads()
                tr = None if tr is None else tr - before[1]
                ns = int(words[2])
                loops.append((exits, tr, per_loop * 1e9 / ns))
                print("%s loop %s: %d %s, %d mmio exits, %s trapped reads, "
                      "%.0f %s/s" % (name, words[1], per_loop, unit, exits,
                                     "-" if tr is None else tr, loops[-1][2],
                                     unit))
            elif words[0] in ("BENCH-DONE", "BENCH-ERROR"):
                if words[0] == "BENCH-ERROR":
                    print("# %s: %s" % (name, ln))
                break
    finally:
        l2.stop()
    for n, (start, size) in sorted(bars.items(), key=lambda b: b[1]):
        print("# %s: %s BAR0 at 0x%x (0x%x bytes, 64 KiB page 0x%x)" %
              (name, n, start, size, start & ~(PAGE - 1)))
    if len(loops) != opts.rounds:
        print("# %s: no result; last console lines:" % name)
        for ln in log[-15:] + l2.vm.stderr().splitlines()[-5:]:
            print("#   %s" % ln)
        return None
    pages = {start & ~(PAGE - 1) for start, _ in bars.values()}
    packed = len(pages) < len(bars)
    rate = statistics.median(r for _, _, r in loops)
    exits = statistics.median(e for e, _, _ in loops)
    print("%s: median %.0f %s/s, %d mmio exits per %d %s, BARs %s (%.0fs)" %
          (name, rate, unit, exits, per_loop, unit,
           "packed" if packed else "on their own pages", time.time() - t0))
    return rate, exits, per_loop, unit


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", action="append", required=True,
                    help="NAME=qemu-system-ppc64 (repeat; the first is ours)")
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--loads", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=600, help="per L2")
    ap.add_argument("--slof-layout", action="store_true",
                    help="keep SLOF's BAR layout (a page each) instead of packing")
    ap.add_argument("--target", choices=sorted(TARGETS), default="sdhci",
                    help="sdhci's register 0x40 (packed BARs), or nvme's "
                         "doorbell on its MSI-X table's page")
    opts = ap.parse_args()
    devices = qemutest.devices()
    missing = [n for n in TARGETS[opts.target] if n not in devices]
    if missing:
        print("pseries-subpage: %s not bound to vfio-pci" % " ".join(missing))
        return 1
    if not os.path.exists("/dev/kvm"):
        print("pseries-subpage: no /dev/kvm in the L1 (nested KVM-HV off?)")
        return 1
    results = []
    for spec in opts.qemu:
        name, binary = spec.split("=", 1)
        results.append((name, run_build(name, binary, opts, devices)))
    if any(r is None for _, r in results):
        return 1
    (ours, (our_rate, our_exits, per_loop, unit)) = results[0]
    for name, (rate, exits, _, _) in results[1:]:
        print("ratio %s/%s: %.1fx %s/s, mmio exits %d vs %d per %d %s" %
              (ours, name, our_rate / rate, unit, our_exits, exits, per_loop,
               unit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
