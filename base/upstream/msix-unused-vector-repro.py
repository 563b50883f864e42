#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Reproducer for 0001-vfio-pci-Mark-MSI-X-vectors-the-guest-never-used-as-.patch

    msix-unused-vector-repro.py [--qemu BINARY] BDF

BDF is a host PCI device bound to vfio-pci whose MSI-X table has two or
more entries (in the vfio-direct test bed: e1000e, nvme or qemu-xhci).
The script starts BINARY (default qemu-system-x86_64) as a q35 machine
under the qtest accelerator, so without KVM, with the device assigned,
and over the qtest protocol does what a guest may do in any order the
PCI specification allows: place the BAR holding the MSI-X table, enable
memory decode, clear the mask bit of vector 1 while vector 0 stays
masked, then set MSI-X enable.

Exit status 0: QEMU still answers after the enable and the host shows
vector 1, not vector 0, in /proc/interrupts (fixed).  1: QEMU died at
the enable (unpatched QEMU 10.0: SIGSEGV in kvm_vm_ioctl()).  2: the
set-up failed.
"""
import argparse
import subprocess
import sys

SLOT = 4                    # the device sits at 00:04.0 in the guest
BAR_ADDR = 0xe0000000       # where the table's BAR is placed
PCI_COMMAND = 0x04
PCI_CAPABILITY_LIST = 0x34
PCI_CAP_ID_MSIX = 0x11


class Qtest:
    def __init__(self, qemu, bdf):
        self.proc = subprocess.Popen(
            [qemu, "-M", "q35", "-accel", "qtest", "-qtest", "stdio",
             "-display", "none", "-nodefaults", "-S",
             "-device", "vfio-pci,host=%s,addr=%02x.0" % (bdf, SLOT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def cmd(self, line):
        """Send one qtest command; its reply, or None when QEMU is gone."""
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return None
        while True:
            reply = self.proc.stdout.readline()
            if not reply:
                return None
            if reply.startswith("OK") or reply.startswith("FAIL"):
                return reply.split()

    def value(self, line):
        reply = self.cmd(line)
        if not reply or reply[0] != "OK":
            print("set-up failed at %r: %s" % (line, reply), file=sys.stderr)
            sys.exit(2)
        return int(reply[1], 16)

    def cfg_addr(self, reg):
        self.cmd("outl 0xcf8 0x%x" % (0x80000000 | SLOT << 11 | (reg & ~3)))

    def cfg_readl(self, reg):
        self.cfg_addr(reg)
        return self.value("inl 0xcfc")

    def cfg_writel(self, reg, val):
        self.cfg_addr(reg)
        return self.cmd("outl 0xcfc 0x%x" % val)

    def quit(self):
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait()


def host_has_vector(bdf, nr):
    with open("/proc/interrupts") as f:
        return ("vfio-msix[%d](%s)" % (nr, bdf)) in f.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("bdf")
    opts = ap.parse_args()

    q = Qtest(opts.qemu, opts.bdf)
    if not q.cmd("readl 0x0"):
        print("QEMU did not start", file=sys.stderr)
        return 2

    cap = q.cfg_readl(PCI_CAPABILITY_LIST) & 0xfc
    while cap and q.cfg_readl(cap) & 0xff != PCI_CAP_ID_MSIX:
        cap = (q.cfg_readl(cap) >> 8) & 0xfc
    if not cap:
        print("%s has no MSI-X capability" % opts.bdf, file=sys.stderr)
        return 2
    entries = ((q.cfg_readl(cap) >> 16) & 0x7ff) + 1
    table = q.cfg_readl(cap + 4)
    bir, offset = table & 7, table & ~7
    if entries < 2:
        print("%s has one MSI-X vector; two are needed" % opts.bdf,
              file=sys.stderr)
        return 2

    bar = 0x10 + 4 * bir
    q.cfg_writel(bar, BAR_ADDR)
    if q.cfg_readl(bar) & 0x6 == 0x4:           # 64-bit memory BAR
        q.cfg_writel(bar + 4, 0)
    q.cfg_writel(PCI_COMMAND, q.cfg_readl(PCI_COMMAND) | 0x2)

    entry1 = BAR_ADDR + offset + 16
    q.cmd("writel 0x%x 0xfee00000" % entry1)     # address low
    q.cmd("writel 0x%x 0x0" % (entry1 + 4))     # address high
    q.cmd("writel 0x%x 0x0" % (entry1 + 8))     # data
    q.cmd("writel 0x%x 0x0" % (entry1 + 12))    # vector control: unmasked

    ctrl = q.cfg_readl(cap)
    print("%s: %d MSI-X entries, table in BAR %d at 0x%x; vector 1 "
          "unmasked, vector 0 masked; setting MSI-X enable"
          % (opts.bdf, entries, bir, offset))
    q.cfg_writel(cap, ctrl | 1 << 31)
    alive = q.cmd("readl 0x%x" % (entry1 + 12)) is not None
    vectors = [nr for nr in (0, 1) if host_has_vector(opts.bdf, nr)]
    status = q.quit()
    if not alive:
        print("QEMU died at MSI-X enable (exit status %d): not fixed" % status)
        return 1
    print("QEMU alive after MSI-X enable; host vectors wired: %s" % vectors)
    return 0 if vectors == [1] else 1


if __name__ == "__main__":
    sys.exit(main())
