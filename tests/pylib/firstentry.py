"""firstentry.py - when a guest ran its first instruction, by the L1 kernel.

The runners that start a guest under (nested) KVM inside a test-bed L1
(tests/bench/dma-async.py, tests/demo) take the guest's first
instruction from the L1 kernel: the first entry into the guest, the
hypervisor's tracepoint (x86 kvm:kvm_entry, a VMRUN; pseries KVM-HV
kvm_hv:kvm_guest_enter).  It is kept in a trace instance of its own whose
buffer does not overwrite, so it holds the oldest events, on clock "mono"
(time.monotonic()'s), so it compares with a start time taken in Python.
Only one guest may run while it is armed.

    first = firstentry.FirstEntry("demo-first")   # makes the instance
    first.arm()                                   # before starting QEMU
    ...
    t = first.first()                             # monotonic s, or None
    first.remove()

Copyright (c) 2026 The vfio-direct authors
SPDX-License-Identifier: GPL-2.0-or-later
"""

import ctypes
import os
import platform
import re

import hostfs

TRACE = "/sys/kernel/tracing"
EVENTS = {"x86_64": "kvm/kvm_entry", "ppc64le": "kvm_hv/kvm_guest_enter",
          "ppc64": "kvm_hv/kvm_guest_enter"}


def mount():
    """tracefs at TRACE, mounted if it is not (the L1's /init does not;
    a chroot has no mount(8), hence the system call)."""
    if os.path.exists(os.path.join(TRACE, "instances")):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"nodev", TRACE.encode(), b"tracefs", 0, None) != 0:
        raise OSError(ctypes.get_errno(), "mount tracefs on " + TRACE)


class FirstEntry:
    """The instance @name recording @event (default: this machine's
    guest-entry tracepoint)."""

    def __init__(self, name, event=None):
        mount()
        self.event = event or EVENTS[platform.machine()]
        self.dir = os.path.join(TRACE, "instances", name)
        self.enable = os.path.join(self.dir, "events", self.event, "enable")
        self.name_re = re.compile(r"\s(\d+\.\d+): %s:" %
                                  re.escape(self.event.split("/")[1]))
        if not os.path.isdir(self.dir):
            os.mkdir(self.dir)
        hostfs.write(self.dir + "/trace_clock", "mono")
        hostfs.write(self.dir + "/buffer_size_kb", "16")
        hostfs.write(self.dir + "/options/overwrite", "0")

    def arm(self):
        """Clear the instance: it records from the next guest entry."""
        hostfs.write(self.enable, "0")
        hostfs.write(self.dir + "/trace", "")
        hostfs.write(self.enable, "1")

    def first(self):
        """Monotonic time of the oldest entry since arm(), or None."""
        hostfs.write(self.enable, "0")
        first = None
        with open(self.dir + "/trace") as f:
            for line in f:
                m = self.name_re.search(line)
                if m:
                    ts = float(m[1])
                    first = ts if first is None else min(first, ts)
        return first

    def remove(self):
        if os.path.isdir(self.dir):
            try:
                hostfs.write(self.enable, "0")
                os.rmdir(self.dir)
            except OSError:
                pass
