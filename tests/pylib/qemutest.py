"""qemutest.py - start a QEMU, talk QMP and qtest to it, read the host side.

The one launcher of the Python runners in tests/ (testbed, bench, demo),
on the host or inside a test-bed L1.  Import it with

    sys.path.insert(0, os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "..", "pylib"))
    import qemutest

    vm = qemutest.Qemu(BINARY, ["-M", "q35", ...], qtest=False)
    vm.qmp("x-query-vfio")          # its "return"; QMPError on an error
    vm.qmp_rsp("x-query-vfio")      # the whole response, errors included
    vm.hmp("info mtree -f")
    vm.qtest("readl 0x1000")        # qtest=True: the words after "OK"
    vm.line(deadline)               # console=True: the next stdout line
    vm.quit()

QEMU connects to sockets this module listens on (a QMP monitor, and the
qtest protocol with qtest=True), so Qemu() returns once QEMU has reached
its main loop and greeted: the machine is realized and reset ("ready").

Host side, for oracles independent of QEMU: devices() (the test bed's
VFIO_DIRECT_DEVICES) and vmlck() (/proc/PID/status VmLck).
"""

import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import time


class QMPError(Exception):
    """A QMP command failed, or QEMU went away."""


class QMP:
    """A QMP client on a text stream @f (a socket's makefile("rw"))."""

    def __init__(self, f):
        self.f = f
        self.greeting = self._read()
        self.command("qmp_capabilities")

    def _read(self):
        line = self.f.readline()
        if not line:
            raise QMPError("QMP: QEMU closed the monitor")
        return json.loads(line)

    def execute(self, name, **args):
        """Run @name: {"return": ...} or {"error": ...}, events skipped."""
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            rsp = self._read()
            if "return" in rsp or "error" in rsp:
                return rsp

    def command(self, name, **args):
        """Run @name: its "return", or raise QMPError."""
        rsp = self.execute(name, **args)
        if "error" in rsp:
            raise QMPError("%s: %s" % (name, rsp["error"]["desc"]))
        return rsp["return"]


class Qemu:
    """One QEMU: @binary with @args, plus a QMP monitor (and, with
    @qtest, the qtest protocol and -accel qtest), started under
    @wrapper (e.g. strace), in environment @env (None: ours).  Its
    stderr goes to a file (stderr()); with @console its stdout is
    readable line by line (line()), else it is discarded.  @timeout
    bounds the wait for QEMU to connect."""

    def __init__(self, binary, args, qtest=False, wrapper=(), console=False,
                 timeout=60, prefix="qemutest.", env=None):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        qmp_path = os.path.join(self.tmp, "qmp")
        qtest_path = os.path.join(self.tmp, "qtest")
        self.stderr_path = os.path.join(self.tmp, "stderr")
        cmd = list(wrapper) + [binary]
        paths = [qmp_path]
        if qtest:
            cmd += ["-qtest", "unix:" + qtest_path, "-accel", "qtest"]
            paths.append(qtest_path)
        cmd += ["-chardev", "socket,path=%s,id=qmp" % qmp_path,
                "-mon", "chardev=qmp,mode=control"] + list(args)
        listeners = []
        for path in paths:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)
            s.listen(1)
            s.settimeout(0.5)
            listeners.append(s)
        self.t0 = time.monotonic()
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, env=env,
                stdout=subprocess.PIPE if console else subprocess.DEVNULL,
                stderr=err)
        self.pid = self.proc.pid
        self._buf = b""
        self.console = []
        try:
            conns = [self._accept(s, self.t0 + timeout) for s in listeners]
        except QMPError as e:
            self.kill()
            raise QMPError("%s: %s" % (e, self.stderr().strip()))
        finally:
            for s in listeners:
                s.close()
        self._qtest = conns[1] if qtest else None
        try:
            self.monitor = QMP(conns[0])
        except (OSError, ValueError, QMPError) as e:
            self.wait(5)
            raise QMPError("QMP: %s: %s" % (e, self.stderr().strip()))

    def _accept(self, listener, deadline):
        """QEMU's connection to @listener, as a text stream; QMPError when
        QEMU ends or @deadline passes first."""
        while True:
            try:
                return listener.accept()[0].makefile("rw")
            except socket.timeout:
                pass
            if self.proc.poll() is not None:
                raise QMPError("QEMU exited (status %d) before it connected"
                               % self.proc.returncode)
            if time.monotonic() > deadline:
                raise QMPError("QEMU did not connect in %d s" %
                               (deadline - self.t0))

    def qmp(self, name, **args):
        """Run QMP command @name: its "return", or raise QMPError."""
        return self.monitor.command(name, **args)

    def qmp_rsp(self, name, **args):
        """Run QMP command @name: its response, {"error": ...} included."""
        return self.monitor.execute(name, **args)

    def hmp(self, line):
        return self.qmp("human-monitor-command", **{"command-line": line})

    def qtest(self, line):
        """Send one qtest command: the words after its "OK"."""
        self._qtest.write(line + "\n")
        self._qtest.flush()
        while True:
            rsp = self._qtest.readline().split()
            if not rsp:
                raise QMPError("qtest '%s': QEMU went away: %s" %
                               (line, self.stderr().strip()))
            if rsp[0] == "OK":
                return rsp[1:]
            if rsp[0] == "FAIL":
                raise QMPError("qtest '%s' failed: %s" % (line, rsp))

    def readl(self, addr):
        return int(self.qtest("readl 0x%x" % addr)[0], 16)

    def writel(self, addr, val):
        self.qtest("writel 0x%x 0x%x" % (addr, val))

    def line(self, deadline):
        """The next stdout line (console=True) and the monotonic time it
        arrived, or (None, time) at its end or at @deadline."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None, time.monotonic()
            data = os.read(fd, 4096)
            if not data:
                return None, time.monotonic()
            self._buf += data
        t = time.monotonic()
        ln, self._buf = self._buf.split(b"\n", 1)
        ln = ln.decode(errors="replace")
        self.console.append(ln)
        return ln, t

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def vcpu_stats(self, provider="kvm"):
        """query-stats of every vCPU, integer statistics summed by name."""
        out = {}
        for entry in self.qmp("query-stats", target="vcpu",
                              providers=[{"provider": provider}]):
            for s in entry["stats"]:
                if isinstance(s["value"], int):
                    out[s["name"]] = out.get(s["name"], 0) + s["value"]
        return out

    def wait(self, timeout):
        """Wait @timeout seconds for QEMU to end, then kill it."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def quit(self, timeout=30):
        """"quit" if QEMU still runs, wait for it (@timeout, then kill)."""
        if self.proc.poll() is None:
            try:
                self.monitor.execute("quit")
            except (QMPError, OSError, ValueError):
                pass
        self.wait(timeout)

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def devices():
    """The test bed's devices bound to vfio-pci: {name: BDF}."""
    return dict(p.split("=", 1) for p in
                os.environ.get("VFIO_DIRECT_DEVICES", "").split() if "=" in p)


def vmlck(pid):
    """Bytes the kernel holds locked for process @pid (VmLck; type1
    accounts what it pins for DMA there), or None without a process."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith("VmLck:"):
                    return int(ln.split()[1]) * 1024
    except (OSError, TypeError):
        pass
    return None


def vfio_bar(info, dev_id, nr):
    """(device, BAR @nr) of device @dev_id in x-query-vfio's @info, or
    (None, None)."""
    for dev in info or []:
        if dev.get("id") == dev_id:
            for bar in dev["bars"]:
                if bar["index"] == nr:
                    return dev, bar
    return None, None
