#!/usr/bin/env python3
"""check-pseries.py - the pseries checks of our ppc64le build (pseries L1).

Runs inside a pseries L1 of the test bed (check-system.sh, in the chroot on
the cross build's sysroot) and starts the given ppc64le qemu-system-ppc64 in
qtest mode with -M pseries and the test bed's sdhci, e1000e, nvme and
qemu-xhci assigned with vfio-pci (VFIO_DIRECT_DEVICES names their BDFs).  It
places their BARs itself through RTAS config accesses, each on its own
64 KiB page, and asserts on x-query-vfio (check-64k[LABEL]):

  * QEMU runs with 64 KiB host pages;
  * the 16 KiB BARs that hold MSI-X structures (nvme BAR0 with its table at
    +0x2000, e1000e BAR3, qemu-xhci BAR0) are sub-page there: their ranges
    cover the BAR from offset 0 without gaps, every trapped range has a
    reason, a direct range covers whole 64 KiB pages, and the MSI-X table
    and PBA bytes trap as msix-table / msix-pba exactly when the machine
    emulates MSI-X (pseries sets vfio-no-msix-emulation: guests program it
    through RTAS, and the BAR is then direct, grown to its page);
  * each reason is true: a read in a device-fd, mmap or padding range is
    counted in trapped-reads, a read elsewhere is not; a register read
    returns the device's own value (read through sysfs), or all ones in the
    MSI-X table through the device fd (the kernel hides it there); a write
    to the table's first message data word stays in QEMU where it is
    emulated, is dropped through the device fd, and reaches the
    device through QEMU's mapping of the BAR (partial-page);
  * sdhci BAR0 (256 bytes) is direct and grown to its 64 KiB page on
    pseries-a, where the L1 kernel gave it a page of its own; on pseries-b,
    where its host page is shared with e1000e BAR3 and the kernel refuses
    the mmap, it is trapped as no-mmap with the one-line warning, its bytes
    served through the device fd.

With --tce-guest ELF (tce-guest.S built) it also boots that no-OS guest
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

Prints one "ok - check-64k[LABEL] NAME" (or check-tce) or "not ok - ..."
line per check (a failing one followed by "# | WHY"), and each BAR's
ranges as "# check-64k[LABEL]: DEVICE BARn (STATE): OFFSETS REASON, ...";
exits 1 when a check failed.  Needs iomem=relaxed in the L1 (sysfs reads
of bound devices).
"""

import argparse
import ctypes
import mmap
import os
import struct
import sys
import tempfile
import time

import tce_ioctls

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
import qemutest  # noqa: E402  (tests/pylib/qemutest.py)

# x-query-vfio's reasons for the pages of emulated MSI-X structures
MSIX_REASONS = ("msix-table", "msix-pba")

PSERIES = ("pseries,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,"
           "cap-ccf-assist=off")
# The PHB: its BUID, and where the CPU sees bus addresses of its 32-bit
# memory window (bus 0x80000000 at CPU 0x200080000000).
BUID = 0x800000020000000
MEM_CPU_OFFSET = 1 << 45
RTAS_ARGS = 0x1000
RTAS_RETS = 0x2000
PCI_COMMAND = 0x04
PCI_COMMAND_MEMORY = 0x2
MMAP_FLAG = 0x4
# Reasons whose reads go through vfio-direct's counters (qapi/vfio-direct.json).
COUNTED = ("device-fd", "mmap", "padding")

# Devices: test-bed name -> (slot, {BAR: (bus address, 64-bit)}).  Each BAR
# gets its own 64 KiB page; e1000e's 128 KiB BARs are placed so that the
# guest's memory decoding enables nothing at bus address 0.
LAYOUT = {
    "sdhci": (4, {0: (0xc0000000, False)}),
    "nvme": (5, {0: (0xc0010000, True)}),
    "xhci": (6, {0: (0xc0020000, True)}),
    "e1000e": (7, {3: (0xc0030000, False), 0: (0xc0040000, False),
                   1: (0xc0060000, False)}),
}
# The 16 KiB BARs holding MSI-X structures: (device, BAR).
MSIX_BARS = (("nvme", 0), ("e1000e", 3), ("xhci", 0))


class Failure(Exception):
    pass


LABEL = "check-64k"


def say(what):
    print("# %s: %s" % (LABEL, what))


def check(cond, why):
    if not cond:
        raise Failure(why)


def launch(binary, args, qtest=True, machine=PSERIES, wrapper=(), accel="tcg"):
    """One qemu-system-ppc64: in qtest mode, or running a guest under
    @accel (qtest=False, @machine options), wrapped by @wrapper."""
    base = ["-display", "none", "-nodefaults", "-M", machine, "-m", "256M"]
    try:
        return qemutest.Qemu(binary, ([] if qtest else ["-accel", accel]) +
                             base + args, qtest=qtest, wrapper=wrapper,
                             prefix="check-pseries.")
    except qemutest.QMPError as e:
        raise Failure(str(e))


# MMIO of little-endian PCI registers: the target is big endian.
def mmio_readl(qemu, bus_addr):
    val = qemu.readl(bus_addr + MEM_CPU_OFFSET)
    return struct.unpack("<I", struct.pack(">I", val))[0]


def mmio_writel(qemu, bus_addr, val):
    val = struct.unpack(">I", struct.pack("<I", val))[0]
    qemu.writel(bus_addr + MEM_CPU_OFFSET, val)


# PCI config space through RTAS, as the guest's firmware would; the
# argument and return buffers sit in guest RAM (big endian words).
def rtas(qemu, name, args, nret):
    for i, a in enumerate(args):
        qemu.writel(RTAS_ARGS + 4 * i, a)
    qemu.qtest("rtas %s %d 0x%x %d 0x%x" %
               (name, len(args), RTAS_ARGS, nret, RTAS_RETS))
    rets = [qemu.readl(RTAS_RETS + 4 * i) for i in range(nret)]
    check(rets[0] == 0, "rtas %s %s: status %d" % (name, args, rets[0]))
    return rets


def config_write(qemu, slot, reg, size, val):
    rtas(qemu, "ibm,write-pci-config",
         [(slot << 11) | reg, BUID >> 32, BUID & 0xffffffff, size, val], 1)


def config_read(qemu, slot, reg, size):
    return rtas(qemu, "ibm,read-pci-config",
                [(slot << 11) | reg, BUID >> 32, BUID & 0xffffffff, size],
                2)[1]


LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.mmap.restype = ctypes.c_void_p
LIBC.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                      ctypes.c_int, ctypes.c_int, ctypes.c_long)
LIBC.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)


def sysfs_readl(bdf, bar, offset):
    """The device's own register, through the sysfs resource (iomem=relaxed),
    with one 32-bit load.  The mmap module refuses a page larger than a
    sub-page BAR's file, the kernel maps it: libc's mmap."""
    page = mmap.PAGESIZE
    base = offset - offset % page
    fd = os.open("/sys/bus/pci/devices/%s/resource%d" % (bdf, bar), os.O_RDONLY)
    try:
        addr = LIBC.mmap(None, page, mmap.PROT_READ, mmap.MAP_SHARED, fd, base)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise Failure("mmap of %s resource%d: %s" %
                          (bdf, bar, os.strerror(ctypes.get_errno())))
        try:
            return ctypes.c_uint32.from_address(addr + offset - base).value
        finally:
            LIBC.munmap(addr, page)
    finally:
        os.close(fd)


def find_bar(info, dev_id, nr):
    dev, bar = qemutest.vfio_bar(info, dev_id, nr)
    if bar is None:
        raise Failure("x-query-vfio has no BAR %d of %s" % (nr, dev_id))
    return dev, bar


def describe(bar):
    return ", ".join("0x%x-0x%x %s" % (r["offset"], r["offset"] + r["size"] - 1,
                                       r.get("reason", r["kind"]))
                     for r in bar["ranges"])


def range_at(bar, offset):
    for r in bar["ranges"]:
        if r["offset"] <= offset < r["offset"] + r["size"]:
            return r.get("reason", r["kind"])
    return None


def trapped_reads(qemu, dev_id, nr):
    return find_bar(qemu.qmp("x-query-vfio"), dev_id, nr)[1]["trapped-reads"]


def check_ranges(bar):
    """The ranges start at 0, leave no gap and cover the BAR."""
    at = 0
    for r in bar["ranges"]:
        check(r["offset"] == at, "ranges leave a gap at 0x%x: %s" % (at, describe(bar)))
        check(r["kind"] == "direct" or r.get("reason"),
              "trapped range at 0x%x has no reason" % r["offset"])
        at += r["size"]
    check(at >= bar["size"], "ranges end at 0x%x, before the BAR's end 0x%x" %
          (at, bar["size"]))


def check_reasons_true(qemu, dev_id, nr, bar, bdf, hidden=None):
    """A read in each range is counted exactly when its reason says so, and
    returns the device's own value where the device serves it; in @hidden
    (offset, size), the MSI-X table, the kernel's vfio-pci reads all ones
    through the device fd."""
    for r in bar["ranges"]:
        off = r["offset"]
        if off >= bar["size"]:
            continue
        reason = r.get("reason", r["kind"])
        before = trapped_reads(qemu, dev_id, nr)
        mmio_readl(qemu, bar["address"] + off)
        counted = trapped_reads(qemu, dev_id, nr) - before
        check(counted == (1 if reason in COUNTED else 0),
              "a read at +0x%x (%s) changed trapped-reads by %d" %
              (off, reason, counted))
        if reason in MSIX_REASONS + ("padding",):
            continue
        got = mmio_readl(qemu, bar["address"] + off)
        if reason == "device-fd" and hidden and hidden[0] <= off < sum(hidden):
            want = 0xffffffff
        else:
            want = sysfs_readl(bdf, nr, off)
        check(got == want, "+0x%x (%s) reads 0x%x, want 0x%x" %
              (off, reason, got, want))


def check_msix_bar(qemu, devices, name, nr):
    dev, bar = find_bar(qemu.qmp("x-query-vfio"), name, nr)
    msix = dev.get("msix")
    check(msix is not None, "%s reports no MSI-X" % name)
    check(bar["size"] == 0x4000, "BAR %d is 0x%x bytes, not 16 KiB" % (nr, bar["size"]))
    check(bar["size"] < dev["host-page-size"], "BAR %d is not sub-page" % nr)
    check("address" in bar, "BAR %d is not mapped" % nr)
    say("%s BAR%d (%s): %s" % (name, nr, bar["subpage"], describe(bar)))
    check_ranges(bar)
    check_page_rule(bar, dev["host-page-size"])
    msix_bytes = {}
    if msix["table-bar"] == nr:
        msix_bytes["table"] = (msix["table-offset"], msix["entries"] * 16)
    if msix["pba-bar"] == nr:
        msix_bytes["pba"] = (msix["pba-offset"], (msix["entries"] + 63) // 64 * 8)
    check(msix_bytes, "MSI-X is not in BAR %d" % nr)
    # pseries sets vfio-no-msix-emulation (guests program MSI-X through
    # RTAS): QEMU must not claim to emulate the structures there.
    emulated = not qemu.qmp("qom-get", path="/machine",
                                property="vfio-no-msix-emulation")
    for what, (off, size) in msix_bytes.items():
        for b in (off, off + size - 1):
            reason = range_at(bar, b)
            check((reason in MSIX_REASONS) == emulated,
                  "MSI-X %s byte +0x%x is %s, but the machine %s MSI-X" %
                  (what, b, reason, "emulates" if emulated else "does not emulate"))
    # Bytes outside the MSI-X structures are not said to be emulated.
    for r in bar["ranges"]:
        if r.get("reason") not in MSIX_REASONS:
            continue
        check(any(r["offset"] < off + size and off < r["offset"] + r["size"]
                  for off, size in msix_bytes.values()),
              "0x%x+0x%x is %s but holds no MSI-X structure" %
              (r["offset"], r["size"], r["reason"]))
    bdf = devices[name]
    check_reasons_true(qemu, name, nr, bar, bdf, msix_bytes.get("table"))
    # A guest's write to the table's first message data word stays in QEMU
    # where the table is emulated, is dropped by the kernel through
    # the device fd (it hides the table), and reaches the device through
    # QEMU's mapping of it.
    if "table" in msix_bytes:
        data = msix_bytes["table"][0] + 8
        reason = range_at(bar, data)
        host_before = sysfs_readl(bdf, nr, data)
        val = host_before ^ 0x5a5a0001
        mmio_writel(qemu, bar["address"] + data, val)
        got = mmio_readl(qemu, bar["address"] + data)
        host = sysfs_readl(bdf, nr, data)
        if reason in MSIX_REASONS:
            check(got == val, "the emulated MSI-X table lost the guest's write")
            check(host == host_before,
                  "a write to the emulated MSI-X table reached the device")
        elif reason == "device-fd":
            check(got == 0xffffffff and host == host_before,
                  "the table through the device fd reads 0x%x, the device "
                  "holds 0x%x (was 0x%x)" % (got, host, host_before))
        else:
            check(got == val and host == val,
                  "a write to the table (%s) did not reach the device: it "
                  "reads 0x%x, the device holds 0x%x" % (reason, got, host))


def check_page_rule(bar, page):
    """A direct range covers whole host pages at a page-aligned address."""
    for r in bar["ranges"]:
        if r["kind"] != "direct":
            continue
        start = bar["cpu-address"] + r["offset"]
        check(start % page == 0 and r["size"] % page == 0,
              "direct range 0x%x+0x%x is not whole %d KiB pages" %
              (r["offset"], r["size"], page >> 10))


def check_sdhci(qemu, devices, label):
    dev, bar = find_bar(qemu.qmp("x-query-vfio"), "sdhci", 0)
    region = [r for r in dev["regions"] if r["index"] == 0][0]
    say("sdhci BAR0 (%s, region flags 0x%x): %s" %
        (bar["subpage"], region["flags"], describe(bar)))
    check(dev["host-page-size"] == 0x10000,
          "host page is 0x%x, not 64 KiB" % dev["host-page-size"])
    check_ranges(bar)
    check_page_rule(bar, dev["host-page-size"])
    if label == "pseries-b":
        check(not region["flags"] & MMAP_FLAG,
              "the kernel allows mmap of sdhci BAR0: its page is not shared")
        check(bar["subpage"] == "no-mmap", "sdhci BAR0 is %s" % bar["subpage"])
        check(range_at(bar, 0) == "device-fd", "sdhci +0 is %s" % range_at(bar, 0))
        warning = ("vfio %s: BAR 0 (256 bytes) is trapped: the kernel does not "
                   "allow mmap of its host page" % devices["sdhci"])
        lines = [ln for ln in qemu.stderr().splitlines() if warning in ln]
        check(len(lines) == 1, "want one no-mmap warning, stderr: %r" % qemu.stderr())
    else:
        check(region["flags"] & MMAP_FLAG, "no mmap of sdhci BAR0")
        check(bar["subpage"] == "direct", "sdhci BAR0 is %s" % bar["subpage"])
        check(range_at(bar, 0) == "direct", "sdhci +0 is %s" % range_at(bar, 0))
        check(bar["ranges"][-1]["offset"] + bar["ranges"][-1]["size"] == 0x10000,
              "direct sdhci BAR0 does not grow to its 64 KiB page")
    check_reasons_true(qemu, "sdhci", 0, bar, devices["sdhci"])


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
                  qtest=False, machine=PSERIES + ",x-vof=on",
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
                  qtest=False, machine=PSERIES + ",x-vof=on")
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
    ap.add_argument("--tce-guest", help="tce-guest.S built: run it too")
    ap.add_argument("--tce-runs-guest",
                    help="tce-runs-guest.c built: run it too")
    opts = ap.parse_args()
    global LABEL
    name = LABEL = "check-64k[%s]" % opts.label
    results = []

    def report(what, fn, *args):
        try:
            fn(*args)
            results.append(True)
            print("ok - %s %s" % (name, what))
        except (Failure, qemutest.QMPError) as e:
            results.append(False)
            print("not ok - %s %s\n# | %s" % (name, what, e))
        sys.stdout.flush()

    devices = qemutest.devices()
    missing = [n for n in LAYOUT if n not in devices]
    if missing:
        print("not ok - %s devices bound # %s not bound to vfio-pci" %
              (name, " ".join(missing)))
        return 1
    args = []
    for n, (slot, _) in LAYOUT.items():
        args += ["-device", "vfio-pci,host=%s,id=%s,addr=%02x.0" %
                 (devices[n], n, slot)]
    t0 = time.time()
    try:
        qemu = launch(opts.qemu, args)
    except Failure as e:
        print("not ok - %s start\n# | %s" % (name, e))
        return 1
    try:
        def place():
            for n, (slot, bars) in LAYOUT.items():
                for nr, (addr, is64) in bars.items():
                    config_write(qemu, slot, 0x10 + 4 * nr, 4, addr)
                    if is64:
                        config_write(qemu, slot, 0x14 + 4 * nr, 4, 0)
                cmd = config_read(qemu, slot, PCI_COMMAND, 2)
                config_write(qemu, slot, PCI_COMMAND, 2, cmd | PCI_COMMAND_MEMORY)
        report("place BARs through RTAS", place)
        report("sdhci BAR0 (256 B)", check_sdhci, qemu, devices, opts.label)
        for n, nr in MSIX_BARS:
            report("%s BAR%d (16 KiB, MSI-X) sub-page ranges" % (n, nr),
                   check_msix_bar, qemu, devices, n, nr)
    finally:
        qemu.quit()
    say("%.1fs" % (time.time() - t0))
    if opts.tce_guest:
        t0 = time.time()
        LABEL = name = "check-tce[%s]" % opts.label
        report("H_PUT_TCE, H_PUT_TCE_INDIRECT, H_STUFF_TCE on the default window",
               check_tce, opts.qemu, devices, opts.tce_guest)
        say("%.1fs" % (time.time() - t0))
    if opts.tce_runs_guest:
        t0 = time.time()
        LABEL = name = "check-tce-runs[%s]" % opts.label
        report("TCE runs on a 64 KiB DDW match the guest's table",
               check_tce_runs, opts.qemu, devices, opts.tce_runs_guest)
        say("%.1fs" % (time.time() - t0))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
