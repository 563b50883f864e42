#!/usr/bin/env python3
"""subpage-bar.py - BAR access benchmarks, run inside the test-bed L1.

Boots an L2 guest under KVM (nested inside the TCG L1) once per build, with
some of the L1's vfio-pci devices assigned and our firmware (subpage-bar.bin)
as its BIOS.  The firmware packs BARs like a real BIOS, then does N 32-bit
loads of one register.  Two scenarios (--scenario):

  subpage  sdhci (256-byte BAR), i6300esb and pvpanic (16-byte BARs): with
           real sizes the three share one 4 KiB page, while vfio-direct's
           x-bar-page-align=auto makes each a page of its own; loads of
           sdhci register 0x40.
  msix     nvme, whose MSI-X table sits in BAR0 at +0x2000: loads of
           BAR0+0x2800, in the table's host page but not in the table, the
           place of registers that share the table's page.  The table's
           page traps while the table is emulated there; our build runs
           with x-msix-relocation=auto, which moves it out.

Measured around each loop (KVM counters snapshotted over QMP before and after):
  - MMIO exits: KVM's own per-vCPU counter (query-stats, kvm "mmio_exits"),
    i.e. real guest exits to QEMU; with --trace also the kvm_run_exit trace
    lines with KVM_EXIT_MMIO for the whole L2 run;
  - trapped-reads of the target's BAR (x-query-vfio; our build only);
  - loop time from the guest TSC (calibrated against the L1 clock over one
    second) and the wall time from sending "go" to reading the result.

Per build: one loop of --loads N loads (exits and trapped reads are given
for it, the same N for every build), then --rounds timed loops each long
enough to last --min-time seconds on that build; their median rate counts.

Usage: subpage-bar.py --bios FILE [--scenario S] [--loads N] [--rounds R]
                      [--trace] [--control] LABEL=QEMU[,DEVICE-OPTS] ...
The first LABEL is the numerator of the printed ratios, the second the
denominator.  DEVICE-OPTS (e.g. x-bar-page-align=off) go to every assigned
vfio-pci device; --control adds the first build with the scenario's
control options (subpage: x-bar-page-align=off; msix: without the first
build's options), which must give the base's layout and rate.
"""

import argparse
import os
import re
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
import qemutest  # noqa: E402  (tests/pylib/qemutest.py)

KVM_EXIT_MMIO = 6
NAMES = {"1b36:0007": "sdhci", "8086:25ab": "i6300esb", "1b36:0011": "pvpanic",
         "1b36:0010": "nvme"}

# Per scenario: the devices (name: L2 slot), the target (device, BAR,
# register, as the firmware's "VVVVDDDD:B:OFFSET"), the control options.
SCENARIOS = {
    "subpage": {
        "slots": {"sdhci": 3, "i6300esb": 4, "pvpanic": 5},
        "target": ("sdhci", 0, 0x40, "1b360007:0:40"),
        "control": "x-bar-page-align=off",
        "title": "32-bit loads of sdhci BAR0+0x40 from an L2 KVM guest "
                 "(nested in the TCG L1) whose firmware packs BARs from "
                 "0xc0000000",
    },
    "msix": {
        "slots": {"nvme": 3},
        "target": ("nvme", 0, 0x2800, "1b360010:0:2800"),
        "control": "",
        "title": "32-bit loads of nvme BAR0+0x2800 (the MSI-X table's 4 KiB "
                 "page, outside the table) from an L2 KVM guest (nested in "
                 "the TCG L1)",
    },
}


def die(msg):
    print("subpage-bar: " + msg, file=sys.stderr)
    sys.exit(1)


class L2:
    """One L2 QEMU with our firmware; lines from its debug console."""

    def __init__(self, qemu, bios, scenario, devices, dev_opts, loads, trace,
                 tmp):
        ser_path = os.path.join(tmp, "serial.sock")
        self.trace_path = os.path.join(tmp, "trace.log")
        args = ["-M", "pc", "-accel", "kvm", "-m", "16M", "-smp", "1",
                "-nodefaults", "-display", "none", "-vga", "none",
                "-no-user-config", "-bios", bios,
                "-global", "kvm-apic.vapic=false",
                "-chardev", "stdio,id=dbg",
                "-device", "isa-debugcon,chardev=dbg,iobase=0x402",
                "-chardev", "socket,id=ser,path=%s,server=on,wait=off" % ser_path,
                "-serial", "chardev:ser",
                "-fw_cfg", "name=opt/vfio-direct/loads,string=%d" % loads,
                "-fw_cfg", "name=opt/vfio-direct/target,string=%s"
                % scenario["target"][3]]
        for name, slot in scenario["slots"].items():
            opts = "vfio-pci,host=%s,id=%s,addr=%d" % (devices[name], name,
                                                        slot)
            if dev_opts:
                opts += "," + dev_opts
            args += ["-device", opts]
        if trace:
            args += ["-trace", "enable=kvm_run_exit,file=%s" % self.trace_path]
        try:
            self.vm = qemutest.Qemu(qemu, args, console=True,
                                    prefix="subpage-bar-")
        except qemutest.QMPError as e:
            die(str(e))
        self.ser = socket.socket(socket.AF_UNIX)
        self.ser.connect(ser_path)

    def line(self, timeout=600):
        """Next debug-console line and the monotonic time it arrived."""
        ln, t = self.vm.line(time.monotonic() + timeout)
        if ln is None:
            self.fail("timeout waiting for the firmware"
                      if self.vm.proc.poll() is None else
                      "L2 QEMU ended (exit %s)" % self.vm.proc.poll())
        return ln, t

    def expect(self, prefix, timeout=600):
        while True:
            ln, t = self.line(timeout)
            if ln.startswith("error"):
                self.fail("firmware: " + ln)
            if ln.startswith(prefix):
                return ln, t

    def send(self, c):
        self.ser.sendall(c.encode())
        return time.monotonic()

    def fail(self, msg):
        self.stop()
        die("%s\n%s" % (msg, self.vm.stderr()[-3000:]))

    def stop(self):
        self.vm.quit(20)


def target_trapped_reads(vm, target):
    _, bar = qemutest.vfio_bar(vm.qmp("x-query-vfio"), target[0], target[1])
    return (None, None) if bar is None else (bar["trapped-reads"],
                                             bar["subpage"])


def run_one(label, qemu, dev_opts, args, devices):
    scenario = SCENARIOS[args.scenario]
    target = scenario["target"]
    tmp = tempfile.mkdtemp(prefix="subpage-bar-")
    t_start = time.monotonic()
    vm = L2(qemu, args.bios, scenario, devices, dev_opts, args.loads,
            args.trace, tmp)
    r = {"label": label, "qemu": qemu, "opts": dev_opts, "layout": [],
         "target": target}
    while True:
        ln, _ = vm.line(120)
        if ln.startswith("error"):
            vm.fail("firmware: " + ln)
        m = re.match(r"bar (\S+) (\S+) bar(\d) size 0x(\w+) addr 0x(\w+)", ln)
        if m:
            r["layout"].append((NAMES.get(m.group(2), m.group(2)),
                                int(m.group(5), 16), int(m.group(4), 16)))
        m = re.match(r"target 0x(\w+) reg 0x(\w+)", ln)
        if m:
            r["reg"] = int(m.group(2), 16)
        if ln == "ready":
            break
    if r.get("reg") in (None, 0xffffffff):
        vm.fail("%s BAR%d+0x%x reads 0x%x" % (target[0], target[1], target[2],
                                             r.get("reg", 0)))

    # Calibrate the guest TSC against the L1 clock (output latency cancels).
    tsc = []
    for _ in range(2):
        vm.send("t")
        ln, t = vm.expect("tsc ")
        tsc.append((int(ln.split()[1], 16), t))
        time.sleep(1)
    r["tsc_hz"] = (tsc[1][0] - tsc[0][0]) / (tsc[1][1] - tsc[0][1])

    has_query = "x-query-vfio" in [c["name"] for c in vm.vm.qmp("query-commands")]
    # Round 0: the requested N loads, the same for every build.  Then the
    # timed rounds, each at least --min-time long on this build (a direct
    # BAR does N loads in milliseconds, too short to time reliably).
    r["rounds"] = []
    loads = args.loads
    for i in range(args.rounds + 1):
        if i == 1:
            rate0 = r["rounds"][0]["rate"]
            loads = min(max(args.loads, int(rate0 * args.min_time)), 2**31)
            vm.send("l%d\n" % loads)
            vm.expect("loads ")
        s0 = vm.vm.vcpu_stats()
        q0, _ = (target_trapped_reads(vm.vm, target) if has_query
                 else (None, None))
        t0 = vm.send("g")
        ln, t1 = vm.expect("end ")
        s1 = vm.vm.vcpu_stats()
        m = re.match(r"end loads (\d+) cycles 0x(\w+) reg 0x(\w+)", ln)
        one = {"loads": int(m.group(1)), "cycles": int(m.group(2), 16),
               "wall": t1 - t0}
        for k, stat in (("mmio", "mmio_exits"), ("exits", "exits"),
                        ("io", "io_exits")):
            one[k] = s1.get(stat, 0) - s0.get(stat, 0)
        if has_query:
            q1, r["subpage"] = target_trapped_reads(vm.vm, target)
            one["trapped"] = q1 - q0
        one["rate"] = one["loads"] / (one["cycles"] / r["tsc_hz"])
        one["rate_wall"] = one["loads"] / one["wall"]
        r["rounds"].append(one)
    vm.send("q")
    vm.expect("bye", 60)
    vm.stop()
    if args.trace:
        with open(vm.trace_path, errors="replace") as f:
            r["trace_mmio"] = sum(
                1 for ln in f
                if re.search(r"kvm_run_exit cpu_index \d+, reason %d$"
                             % KVM_EXIT_MMIO, ln.rstrip()))
    r["run_s"] = time.monotonic() - t_start
    return r


def fmt_rate(x):
    return "%.0f" % x if x >= 100 else "%.2f" % x


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def report(r):
    first, timed = r["rounds"][0], r["rounds"][1:]
    r["loads"] = first["loads"]
    r["mmio"] = first["mmio"]
    r["rate"] = median([one["rate"] for one in timed])
    r["rate_wall"] = median([one["rate_wall"] for one in timed])
    opts = " (vfio-pci: %s)" % r["opts"] if r["opts"] else ""
    print("== %s: %s%s" % (r["label"], r["qemu"], opts))
    print("  layout         %s" % ", ".join(
        "%s 0x%x+0x%x" % (n, a, s) for n, a, s in r["layout"]))
    pages = {}
    for n, a, s in r["layout"]:
        pages.setdefault(a >> 12, []).append(n)
    shared = [p for p in pages.values() if len(p) > 1]
    print("  shared pages   %s" % ("; ".join(" ".join(p) for p in shared)
                                   if shared else "none"))
    print("  loads          %d" % first["loads"])
    print("  MMIO exits     %d   (KVM vcpu mmio_exits; all exits %d, I/O %d)"
          % (first["mmio"], first["exits"], first["io"]))
    if "trace_mmio" in r:
        print("  MMIO exits     %d   (kvm_run_exit KVM_EXIT_MMIO trace lines,"
              " whole L2 run: 1 setup load + all rounds)" % r["trace_mmio"])
    if "subpage" in r:
        print("  trapped-reads  %d   (x-query-vfio, %s BAR%d, subpage %s)"
              % (first["trapped"], r["target"][0], r["target"][1],
                 r["subpage"]))
    else:
        print("  trapped-reads  n/a (no x-query-vfio in this build)")
    print("  loads/s        %s   (median of %d timed rounds: %s; TSC %.3f GHz)"
          % (fmt_rate(r["rate"]), len(timed),
             " ".join(fmt_rate(one["rate"]) for one in timed),
             r["tsc_hz"] / 1e9))
    print("  timed rounds   %d loads each, %s s; MMIO exits %s; wall loads/s %s"
          % (timed[0]["loads"],
             " ".join("%.3f" % (one["cycles"] / r["tsc_hz"]) for one in timed),
             " ".join("%d" % one["mmio"] for one in timed),
             fmt_rate(r["rate_wall"])))
    print("  L2 run         %.1f s" % r["run_s"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bios", required=True)
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), default="subpage")
    ap.add_argument("--loads", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3,
                    help="timed loops per build (the median is reported)")
    ap.add_argument("--min-time", type=float, default=0.5,
                    help="seconds a timed loop lasts at least")
    ap.add_argument("--trace", action="store_true",
                    help="also count kvm_run_exit trace events")
    ap.add_argument("--control", action="store_true",
                    help="also run the first build with the scenario's "
                    "control options")
    ap.add_argument("builds", nargs="+", metavar="LABEL=QEMU[,OPTS]")
    args = ap.parse_args()

    scenario = SCENARIOS[args.scenario]
    devices = qemutest.devices()
    for name in scenario["slots"]:
        if name not in devices:
            die("device %s not bound to vfio-pci (VFIO_DIRECT_DEVICES=%r)"
                % (name, os.environ.get("VFIO_DIRECT_DEVICES", "")))
    if not os.path.exists("/dev/kvm"):
        die("no /dev/kvm in the L1 (kvm-amd not loaded?)")

    builds = []
    for b in args.builds:
        label, spec = b.split("=", 1)
        qemu, _, opts = spec.partition(",")
        builds.append((label, qemu, opts))
    if args.control:
        label, qemu, _ = builds[0]
        builds.append((label + "-off", qemu, scenario["control"]))

    if args.rounds < 1:
        die("--rounds must be at least 1")
    print("%s BAR benchmark: %s" % (args.scenario, scenario["title"]))
    results = []
    for label, qemu, opts in builds:
        r = run_one(label, qemu, opts, args, devices)
        report(r)
        results.append(r)
        sys.stdout.flush()

    a = results[0]
    for b in results[1:]:
        if b["label"] == a["label"] + "-off":
            continue
        print("%s BAR loads/s: %s/%s = %.2f   (wall: %.2f)"
              % (args.scenario, a["label"], b["label"], a["rate"] / b["rate"],
                 a["rate_wall"] / b["rate_wall"]))
        print("MMIO exits: %s %d, %s %d" % (a["label"], a["mmio"],
                                            b["label"], b["mmio"]))
    for c in results[1:]:
        if c["label"] != a["label"] + "-off":
            continue
        for b in results[1:]:
            if b is c or b["label"].endswith("-off"):
                continue
            print("control (%s) loads/s: %s/%s = %.2f;"
                  " MMIO exits %d" % (c["opts"] or "no options",
                                      c["label"], b["label"],
                                      c["rate"] / b["rate"], c["mmio"]))


if __name__ == "__main__":
    main()
