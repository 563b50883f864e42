"""tce_ioctls.py - the sPAPR TCE container's MAP_DMA / UNMAP_DMA calls, as
the pseries L1's kernel saw them.

An independent oracle for check-tce.py --tce-runs-guest and
tests/bench/run-tce.sh: a kprobe on the L1 kernel's tce_iommu_ioctl
(drivers/vfio/vfio_iommu_spapr_tce.c) records each VFIO ioctl's command
and the IOVA, size, flags and host address it was given, read from the
caller's argument in user memory, and a kretprobe its return value.  QEMU
makes them under the BQL, one at a time, so calls and returns pair up in
order per thread.
"""

import ctypes
import os
import re

TRACEFS = "/sys/kernel/tracing"
GROUP = "vfiotce"
# _IO(';', 113) and _IO(';', 114); powerpc's _IO sets a direction bit
# (0x20000000) above them, so commands compare on their low 16 bits.
VFIO_IOMMU_MAP_DMA = 0x3b71
VFIO_IOMMU_UNMAP_DMA = 0x3b72
DMA_MAP_FLAG_WRITE = 2
# struct vfio_iommu_type1_dma_map: argsz, flags, vaddr @8, iova @16, size @24
# struct vfio_iommu_type1_dma_unmap: argsz, flags, iova @8, size @16
PROBES = ("p:%s/ioc tce_iommu_ioctl cmd=$arg2:x32 flags=+u4($arg3):x32 "
          "a8=+u8($arg3):x64 a16=+u16($arg3):x64 a24=+u24($arg3):x64" % GROUP,
          "r:%s/ret tce_iommu_ioctl ret=$retval:s64" % GROUP)


def _write(name, text, append=False):
    # One write(2), no seek: tracefs refuses Python's append mode.
    flags = os.O_WRONLY | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(os.path.join(TRACEFS, name), flags)
    try:
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)


class Call:
    """One MAP_DMA or UNMAP_DMA: op "map" or "unmap", iova, size, vaddr
    (maps), writable (maps), ret (0 or -errno)."""

    def __init__(self, cmd, fields, ret):
        self.op = "map" if cmd & 0xffff == VFIO_IOMMU_MAP_DMA else "unmap"
        self.ret = ret
        if self.op == "map":
            self.vaddr, self.iova, self.size = fields["a8"], fields["a16"], fields["a24"]
            self.writable = bool(fields["flags"] & DMA_MAP_FLAG_WRITE)
        else:
            self.iova, self.size = fields["a8"], fields["a16"]
            self.vaddr, self.writable = None, None

    def __repr__(self):
        return "%s(0x%x+0x%x)=%d" % (self.op, self.iova, self.size, self.ret)


class Recorder:
    """kprobes on tce_iommu_ioctl between start() and stop(), in a ring
    buffer of @buffer_kb KiB per CPU (None: the kernel's default); stop()
    fails when the kernel dropped any event."""

    def __init__(self, buffer_kb=None):
        self.buffer_kb = buffer_kb

    def start(self):
        if not os.path.exists(os.path.join(TRACEFS, "kprobe_events")):
            # The pseries chroot has no mount(8): the system call
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.mount(b"nodev", TRACEFS.encode(), b"tracefs", 0, None):
                raise OSError(ctypes.get_errno(), "mount tracefs on " + TRACEFS)
        self._remove()
        if self.buffer_kb:
            _write("buffer_size_kb", str(self.buffer_kb))
        for probe in PROBES:
            _write("kprobe_events", probe, append=True)
        _write("trace", "")
        _write("events/%s/enable" % GROUP, "1")

    def _remove(self):
        try:
            _write("events/%s/enable" % GROUP, "0")
        except OSError:
            pass
        for name in ("ioc", "ret"):
            try:
                _write("kprobe_events", "-:%s/%s" % (GROUP, name), append=True)
            except OSError:
                pass

    def stop(self):
        """The MAP_DMA and UNMAP_DMA calls recorded, in order."""
        with open(os.path.join(TRACEFS, "trace")) as f:
            self.text = f.read()
        self._remove()
        lost = 0
        for cpu in os.listdir(os.path.join(TRACEFS, "per_cpu")):
            with open(os.path.join(TRACEFS, "per_cpu", cpu, "stats")) as f:
                for line in f:
                    key, _, val = line.partition(":")
                    if key in ("overrun", "dropped events"):
                        lost += int(val)
        if lost:
            raise OSError("the kernel dropped %d trace events: a larger "
                          "buffer_size_kb is needed" % lost)
        return parse(self.text)


# "  COMM-PID  [CPU] FLAGS  TIME: EVENT: (probe) key=val ..."
LINE = re.compile(r"^\s*.*-(\d+)\s+\[\d+\].*?: (ioc|ret): \(.*?\)(.*)$")


def parse(text):
    """The MAP_DMA and UNMAP_DMA calls in a trace of the probes."""
    pending = {}
    calls = []
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        pid, event = m.group(1), m.group(2)
        fields = dict((k, int(v, 0)) for k, v in
                      (w.split("=", 1) for w in m.group(3).split() if "=" in w))
        if event == "ioc":
            pending[pid] = fields
        elif pid in pending:
            call = pending.pop(pid)
            if call["cmd"] & 0xffff in (VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA):
                calls.append(Call(call["cmd"], call, fields["ret"]))
    return calls


def replay(calls, page, until=None):
    """The host's mappings of @page-sized IOVA pages after @calls[:until]:
    {iova page start: (vaddr, writable)}."""
    state = {}
    for call in calls[:until]:
        if call.ret:
            continue
        for off in range(0, call.size, page):
            if call.op == "map":
                state[call.iova + off] = (call.vaddr + off, call.writable)
            else:
                state.pop(call.iova + off, None)
    return state
