#!/usr/bin/python3
"""dma-hotadd.py - a memory device hot-added when its RAM cannot be
pinned: what each build does.

    dma-hotadd.py [--rounds N] NAME=QEMU[,PROPS]...

Runs inside the x86 test-bed L1 as root (dma-async.py runs it at its
end with its own builds, so `make bench` records ours and the base side
by side); PROPS are added to the vfio-pci device.  The case of the
qtest /vfio/dma/guard/hotplug-memlock, run against each build alike:
i440fx with 64 MiB of RAM and sdhci-pci passed through (qtest
accelerator: no firmware), under a locked-memory limit of 96 MiB
without CAP_IPC_LOCK, so the RAM is pinned and 32 MiB are left; then
object-add of a 64 MiB memory-backend-ram and device_add of a pc-dimm
on it.  Recorded per build, from QEMU's answers and the L1 kernel:

  - device_add: "refused" (and the error's one line) or "accepted";
  - after: QEMU still answering (its run state), or the signal or exit
    status it ended with and its last stderr line;
  - dimms: memory devices the guest would see (query-memory-devices);
  - VmLck before and after (what type1 holds pinned for the process);
  - QEMU's lines on stderr that name vfio or DMA (the first two).

Prints one line per build and round, "== hot-add NAME round K: ...".

Copyright (c) 2026 The vfio-direct authors
SPDX-License-Identifier: GPL-2.0-or-later
"""

import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
import qemutest  # noqa: E402

MIB = 1 << 20
LIMIT = 96 * MIB


def run(qemu, props, host):
    wrapper = ["prlimit", "--memlock=%d:%d" % (LIMIT, LIMIT), "setpriv",
               "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock"]
    q = qemutest.Qemu(qemu, ["-M", "pc", "-m", "64M,slots=2,maxmem=1G",
                             "-nodefaults", "-display", "none",
                             "-device", "vfio-pci,host=%s,id=dev0%s"
                             % (host, "," + props if props else "")],
                      qtest=True, wrapper=wrapper, prefix="dma-hotadd.")
    r = {"before": qemutest.vmlck(q.pid)}
    try:
        q.qmp("object-add", **{"qom-type": "memory-backend-ram", "id": "m0",
                                "size": 64 * MIB})
        try:
            rsp = q.qmp_rsp("device_add", driver="pc-dimm", id="dimm0",
                            memdev="m0")
        except (qemutest.QMPError, OSError, ValueError) as e:
            rsp = {"lost": str(e)}
        if "error" in rsp:
            r["device_add"] = "refused: " + rsp["error"]["desc"]
        elif "return" in rsp:
            r["device_add"] = "accepted"
        else:
            r["device_add"] = "no answer"
        time.sleep(1)
        if q.proc.poll() is None:
            r["after"] = "running (%s)" % q.qmp("query-status")["status"]
            r["dimms"] = len(q.qmp("query-memory-devices"))
            r["after_vmlck"] = qemutest.vmlck(q.pid)
    except (qemutest.QMPError, OSError, ValueError):
        pass
    finally:
        q.quit()
    rc = q.proc.returncode
    if "after" not in r:
        r["after"] = ("ended by %s" % signal.Signals(-rc).name if rc < 0
                      else "exited with status %d" % rc)
    # QEMU's own message, not a register dump after it
    err = [ln for ln in q.stderr().splitlines()
           if ("vfio" in ln or "error" in ln or "DMA" in ln) and
           "Cannot reset device" not in ln]
    r["stderr"] = err[:2]
    q.cleanup()
    return r


def mib(v):
    return "%d MiB" % (v // MIB) if v is not None else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("builds", nargs="+", help="NAME=QEMU[,PROPS]")
    a = ap.parse_args()
    host = qemutest.devices().get("sdhci")
    if not host:
        sys.exit("dma-hotadd.py: sdhci not bound to vfio-pci")
    print("\nhot-add of a 64 MiB pc-dimm, RLIMIT_MEMLOCK %d MiB without "
          "CAP_IPC_LOCK, 64 MiB pinned" % (LIMIT // MIB))
    for k in range(a.rounds):
        for name, spec in (b.split("=", 1) for b in a.builds):
            qemu, _, props = spec.partition(",")
            r = run(qemu, props, host)
            print("== hot-add %s round %d: device_add %s; then %s; DIMMs "
                  "seen %s; VmLck %s before, %s after"
                  % (name, k, r["device_add"], r["after"],
                     r.get("dimms", "-"), mib(r["before"]),
                     mib(r.get("after_vmlck"))), flush=True)
            for ln in r["stderr"]:
                print("   | " + ln, flush=True)


if __name__ == "__main__":
    main()
