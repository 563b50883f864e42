#!/usr/bin/env python3
"""check-tce.py - TCE hypercalls against the real sPAPR container (pseries L1).

Runs inside a pseries L1 of the test bed (check-system.sh, pseries-a, in
the chroot on the cross build's sysroot) and boots no-OS pseries guests
under TCG in the given ppc64le qemu-system-ppc64, with e1000e assigned
with vfio-pci (VFIO_DIRECT_DEVICES names its BDF).  (Its sub-page and
MSI-X checks on 64 KiB pages are C qtests now: vfio-subpage-test's
/vfio/subpage/sdhci/64k and vfio-msix-test's /vfio/msix/*/ranges-64k.)

With --tce-guest ELF (tce-guest.S built) it boots that no-OS guest
under TCG with -M pseries,x-vof=on and e1000e assigned, inside strace
(check-tce[LABEL]): the guest's H_PUT_TCE, H_PUT_TCE_INDIRECT (512 entries)
and H_STUFF_TCE calls on the PHB's default DMA window must succeed (its RAM
mailbox, read over QMP), QEMU's vfio_iommu_map_notify trace must map and
unmap exactly those IOVAs, and strace must show the VFIO_IOMMU_MAP_DMA and
UNMAP_DMA ioctls on the real sPAPR TCE v2 container returning 0.

With --tce-runs-guest ELF (tce-runs-guest.c built) it boots that guest the
same way (check-tce-runs[LABEL]): on a 64 KiB DDW it sets runs of TCEs,
clears some in the middle, sets one outside guest RAM (H_PARAMETER) and
one the host refuses (another device's BAR: H_HARDWARE, the rest of the
call cleared).  After every step the host's mappings, recorded by kprobes
on the L1 kernel's tce_iommu_ioctl (tce_ioctls.py), must be exactly the
TCE table the guest reads back (H_GET_TCE), with its permissions and one
MAP_DMA or UNMAP_DMA per run; x-query-vfio's counts must agree.

Prints one "ok - check-tce[LABEL] NAME" or "not ok - ..." line per check
(a failing one followed by "# | WHY"); exits 1 when a check failed.
"""

import argparse
import os
import struct
import sys
import tempfile
import time

import tce_ioctls

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
import qemutest  # noqa: E402  (tests/pylib/qemutest.py)

PSERIES = ("pseries,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,"
           "cap-ccf-assist=off")


class Failure(Exception):
    pass


LABEL = "check-tce"


def say(what):
    print("# %s: %s" % (LABEL, what))


def check(cond, why):
    if not cond:
        raise Failure(why)


def launch(binary, args, machine=PSERIES, wrapper=(), accel="tcg"):
    """One qemu-system-ppc64 running a guest under @accel (@machine
    options), wrapped by @wrapper."""
    try:
        return qemutest.Qemu(binary, ["-accel", accel, "-display", "none",
                                      "-nodefaults", "-M", machine,
                                      "-m", "256M"] + args,
                             wrapper=wrapper, prefix="check-tce.")
    except qemutest.QMPError as e:
        raise Failure(str(e))


# The mailbox of tce-guest.S: word offsets and the words it writes.
MAILBOX = 0x3000000
MAILBOX_WORDS = 9
TCE_GUEST_START = 0x5443454755455354     # "TCEGUEST"
TCE_GUEST_DONE = 0x5443452d444f4e45      # "TCE-DONE"
TCE_PAGES = 0x2000000
INDIRECT_IOBA = 0x100000
NPAGES = 512


def read_mailbox(qemu, nr=MAILBOX_WORDS):
    out = qemu.qmp("human-monitor-command",
                       **{"command-line": "xp /%dgx 0x%x" % (nr, MAILBOX)})
    words = [int(w, 16) for ln in out.splitlines() for w in ln.split(":")[1].split()]
    check(len(words) == nr, "xp printed %r" % out)
    return words


def ranges_union(pairs):
    """Sorted, merged [start, end) ranges of the (start, end) @pairs."""
    merged = []
    for start, end in sorted(pairs):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [tuple(r) for r in merged]


def check_tce(binary, devices, elf):
    """tce-guest.S's TCE hypercalls map and unmap through the host's real
    sPAPR TCE v2 container: QEMU's vfio_iommu_map_notify trace names the
    IOVAs, strace shows the VFIO_IOMMU_MAP_DMA / UNMAP_DMA ioctls succeed."""
    tmp = tempfile.mkdtemp(prefix="check-tce.")
    trace = os.path.join(tmp, "trace")
    strace = os.path.join(tmp, "strace")
    qemu = launch(binary, ["-kernel", elf, "-device",
                          "vfio-pci,host=%s,id=nic" % devices["e1000e"],
                          "-D", trace, "-trace", "vfio_iommu_map_notify",
                          "-trace", "vfio_spapr_create_window",
                          "-trace", "vfio_prereg_register"],
                  machine=PSERIES + ",x-vof=on",
                  wrapper=("strace", "-f", "-qq", "-e", "trace=ioctl",
                           "-o", strace))
    try:
        deadline = time.time() + 300
        words = read_mailbox(qemu)
        while words[8] != TCE_GUEST_DONE and time.time() < deadline:
            time.sleep(1)
            words = read_mailbox(qemu)
    finally:
        qemu.quit()
    say("tce-guest mailbox: %s" % " ".join("%x" % w for w in words))
    check(words[0] == TCE_GUEST_START, "the guest did not run (mailbox %x)" % words[0])
    check(words[8] == TCE_GUEST_DONE, "the guest did not finish in 300 s")
    for name, i in (("H_PUT_TCE", 1), ("H_PUT_TCE_INDIRECT", 2),
                    ("H_GET_TCE", 3), ("H_STUFF_TCE", 5),
                    ("H_PUT_TCE (unmap)", 7)):
        check(words[i] == 0, "%s returned %d" % (name, words[i]))
    last = TCE_PAGES + NPAGES * 0x1000 | 3
    check(words[4] == last, "the last indirect TCE reads 0x%x, not 0x%x" %
          (words[4], last))
    check(words[6] == 0, "H_STUFF_TCE left TCE 0x%x" % words[6])

    maps, unmaps = [], []
    with open(trace) as f:
        text = f.read()
    for ln in text.splitlines():
        if "vfio_iommu_map_notify" in ln:
            op, start, end = ln.split("iommu ")[1].replace(" @ ", " ").replace(" - ", " ").split()
            (maps if op == "MAP" else unmaps).append((int(start, 16), int(end, 16) + 1))
    want = [(0, 0x1000), (INDIRECT_IOBA, INDIRECT_IOBA + NPAGES * 0x1000)]
    check("vfio_spapr_create_window" in text or "vfio_prereg_register" in text,
          "no sPAPR container set-up in the trace")
    check(ranges_union(maps) == want, "mapped IOVAs %s, want %s" %
          (ranges_union(maps), want))
    check(ranges_union(unmaps) == want, "unmapped IOVAs %s, want %s" %
          (ranges_union(unmaps), want))
    with open(strace) as f:
        calls = f.read()
    ioctls = {}
    for op in ("VFIO_IOMMU_MAP_DMA", "VFIO_IOMMU_UNMAP_DMA"):
        lines = [ln for ln in calls.splitlines() if op + "," in ln]
        failed = [ln for ln in lines if not ln.rstrip().endswith("= 0")]
        check(not failed, "%s failed: %s" % (op, failed[:2]))
        ioctls[op] = len(lines)
    say("tce-guest: %d maps, %d unmaps traced; %d MAP_DMA, %d UNMAP_DMA ioctls" %
        (len(maps), len(unmaps), ioctls["VFIO_IOMMU_MAP_DMA"],
         ioctls["VFIO_IOMMU_UNMAP_DMA"]))
    check(ioctls["VFIO_IOMMU_MAP_DMA"] >= len(ranges_union(maps)) and
          ioctls["VFIO_IOMMU_UNMAP_DMA"] >= 1,
          "strace shows %s for %d traced maps" % (ioctls, len(maps)))


# tce-runs-guest.c: its mailbox, snapshots and steps.
RUNS_MAGIC = 0x54434552554e5300         # "TCERUNS"
RUNS_DONE = 0x5443452d444f4e45          # "TCE-DONE"
RUNS_SNAPSHOTS = MAILBOX + 0x1000
RUNS_ENTRIES = 2048
RUNS_STEPS = 8
RUNS_MARKER_IOBA = 0x3ff00000
H_SUCCESS, H_HARDWARE, H_PARAMETER = 0, -1, -4
PAGE_64K = 0x10000
TCE_RW = 3
TCE_READ = 1
# What each step's hypercalls return (mailbox[8 + 2 * step], [9 + ...]),
# and the host calls it makes on the DDW: (MAP_DMA, UNMAP_DMA), the
# failed ones included.
RUNS_RETURNS = {1: (H_SUCCESS,), 2: (H_SUCCESS,), 3: (H_PARAMETER,),
                4: (H_SUCCESS,), 5: (H_HARDWARE,), 6: (H_SUCCESS, H_SUCCESS),
                7: (H_SUCCESS,)}
RUNS_CALLS = {1: (1, 0), 2: (0, 1), 3: (2, 1), 4: (16, 0), 5: (3, 1),
              6: (1, 1), 7: (0, 1)}


def signed(word):
    return word - (1 << 64) if word >> 63 else word


def runs_expected_table(step, table):
    """The guest-visible TCEs the guest program's steps must leave, from
    PAPR's rules alone (tce-runs-guest.c), compared with @table."""
    want = {}
    if step >= 1:
        want.update((i, (0x10000000 + i * PAGE_64K) | TCE_RW) for i in range(512))
    if step >= 2:
        want.update((i, 0) for i in range(100, 150))
    if step >= 3:
        for i in range(300):
            tce = (0x14000000 + i * PAGE_64K) | (TCE_READ if i >= 250 else TCE_RW)
            want[512 + i] = 0 if 200 <= i < 250 else tce
    if step >= 4:
        want.update((1024 + i, 0x18000000 | TCE_RW) for i in range(16))
    if step >= 5:
        want.update((1100 + i, (0x18000000 + (i + 1) * PAGE_64K) | TCE_RW)
                    for i in range(4))
    if step >= 7:
        want = {}
    for i, tce in enumerate(table):
        check(tce == want.get(i, 0), "after step %d the guest reads TCE %d as "
              "0x%x, not 0x%x" % (step, i, tce, want.get(i, 0)))


def check_tce_runs(binary, devices, elf):
    """tce-runs-guest.c's hypercalls on a 64 KiB DDW: after every step the
    host's mappings (kprobes on the L1 kernel's tce_iommu_ioctl) are
    exactly the guest-visible TCE table (H_GET_TCE), with the guest's
    permissions, each run one host call."""
    tmp = tempfile.mkdtemp(prefix="check-tce-runs.")
    trace = os.path.join(tmp, "trace")
    snapshots = os.path.join(tmp, "snapshots")
    recorder = tce_ioctls.Recorder()
    recorder.start()
    qemu = launch(binary, ["-kernel", elf, "-m", "512M", "-device",
                          "vfio-pci,host=%s,id=nic,addr=02.0" % devices["e1000e"],
                          "-D", trace, "-trace", "vfio_direct_tce_*"],
                  machine=PSERIES + ",x-vof=on")
    try:
        deadline = time.time() + 600
        words = read_mailbox(qemu, 64)
        while words[63] != RUNS_DONE and time.time() < deadline:
            time.sleep(2)
            words = read_mailbox(qemu, 64)
        info = qemu.qmp("x-query-vfio")[0]
        qemu.qmp("pmemsave", val=RUNS_SNAPSHOTS,
                     size=RUNS_STEPS * RUNS_ENTRIES * 8, filename=snapshots)
    finally:
        qemu.quit()
        calls = recorder.stop()
    check(words[0] == RUNS_MAGIC, "the guest did not run (mailbox %x)" % words[0])
    check(words[63] == RUNS_DONE, "the guest did not finish in 600 s")
    check(words[1] == 0 and words[4] == 0, "DDW query/create: status %d/%d" %
          (signed(words[1]), signed(words[4])))
    window = words[6]
    say("DDW LIOBN 0x%x at 0x%x, page mask 0x%x" % (words[5], window, words[3]))
    for step, rets in RUNS_RETURNS.items():
        got = tuple(signed(words[8 + 2 * step + i]) for i in range(len(rets)))
        check(got == rets, "step %d returned %s, not %s" % (step, got, rets))
    with open(snapshots, "rb") as f:
        raw = f.read()
    check(calls, "the kprobes recorded no MAP_DMA/UNMAP_DMA: %r" %
          recorder.text[-600:])
    markers = [i for i, c in enumerate(calls) if c.op == "map" and
               RUNS_MARKER_IOBA <= c.iova < RUNS_MARKER_IOBA + RUNS_STEPS * 0x1000]
    check(len(markers) == RUNS_STEPS, "%d step markers in the host's calls" %
          len(markers))
    ram_offset = None
    previous = 0
    for step in range(RUNS_STEPS):
        table = struct.unpack(">%dQ" % RUNS_ENTRIES,
                              raw[step * RUNS_ENTRIES * 8:(step + 1) * RUNS_ENTRIES * 8])
        runs_expected_table(step, table)
        host = tce_ioctls.replay(calls, PAGE_64K, markers[step])
        for i, tce in enumerate(table):
            mapped = host.get(window + i * PAGE_64K)
            check(bool(tce & TCE_RW) == bool(mapped), "after step %d TCE %d is "
                  "0x%x but the host %s it" % (step, i, tce,
                                               "maps" if mapped else "does not map"))
            if not mapped:
                continue
            check(mapped[1] == bool(tce & 2), "after step %d TCE %d (0x%x) is "
                  "mapped %s" % (step, i, tce, "writable" if mapped[1] else
                                 "read-only"))
            offset = mapped[0] - (tce & ~0xfff)
            ram_offset = offset if ram_offset is None else ram_offset
            check(offset == ram_offset, "after step %d TCE %d maps host address "
                  "0x%x, not guest RAM 0x%x" % (step, i, mapped[0], tce & ~0xfff))
        ddw = [c for c in calls[previous:markers[step]] if c.iova >= window]
        if step in RUNS_CALLS:
            got = (sum(c.op == "map" for c in ddw), sum(c.op == "unmap" for c in ddw))
            say("step %d: host calls %s" % (step, ddw[:6]))
            check(got == RUNS_CALLS[step], "step %d: %d MAP_DMA, %d UNMAP_DMA, "
                  "not %d, %d" % ((step,) + got + RUNS_CALLS[step]))
        previous = markers[step]
    tce = info["dma"].get("tce")
    check(tce is not None, "x-query-vfio shows no TCE counters")
    maps = sum(c.op == "map" for c in calls)
    say("x-query-vfio dma: map-calls %d, unmap-calls %d, tce %s; kprobe: %d "
        "MAP_DMA, %d UNMAP_DMA" % (info["dma"]["map-calls"],
                                   info["dma"]["unmap-calls"], tce, maps,
                                   len(calls) - maps))
    check(info["dma"]["map-calls"] == maps and
          info["dma"]["unmap-calls"] == len(calls) - maps,
          "x-query-vfio's calls disagree with the kernel's")
    check(tce["rollbacks"] == 1 and tce["largest-run"] == RUNS_ENTRIES,
          "TCE counters %s" % tce)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", required=True, help="ppc64le qemu-system-ppc64")
    ap.add_argument("--label", required=True, help="pseries-a or pseries-b")
    ap.add_argument("--tce-guest", help="tce-guest.S built: run it")
    ap.add_argument("--tce-runs-guest", help="tce-runs-guest.c built: run it")
    opts = ap.parse_args()
    results = []

    def report(name, what, fn, *args):
        global LABEL
        LABEL = name
        t0 = time.time()
        try:
            fn(*args)
            results.append(True)
            print("ok - %s %s" % (name, what))
        except (Failure, qemutest.QMPError) as e:
            results.append(False)
            print("not ok - %s %s\n# | %s" % (name, what, e))
        say("%.1fs" % (time.time() - t0))
        sys.stdout.flush()

    devices = qemutest.devices()
    if "e1000e" not in devices:
        print("not ok - check-tce[%s] devices bound # e1000e not bound to "
              "vfio-pci" % opts.label)
        return 1
    if opts.tce_guest:
        report("check-tce[%s]" % opts.label,
               "H_PUT_TCE, H_PUT_TCE_INDIRECT, H_STUFF_TCE on the default window",
               check_tce, opts.qemu, devices, opts.tce_guest)
    if opts.tce_runs_guest:
        report("check-tce-runs[%s]" % opts.label,
               "TCE runs on a 64 KiB DDW match the guest's table",
               check_tce_runs, opts.qemu, devices, opts.tce_runs_guest)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
