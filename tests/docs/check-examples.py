#!/usr/bin/env python3
"""check-examples.py - run the user guide's examples against the binary.

    check-examples.py [--build DIR] [--testbed] [--print] GUIDE...

The guide (docs/vfio-direct.rst) marks each example a test runs with an
rST comment ".. vfio-direct-example: KIND" just before its console code
block ("$ " starts a command, "\\" continues it, the lines up to the next
command are its output).  Expected lines match the output line for line;
"..." inside a line matches any text, and a line that is only "..."
matches any number of lines.  KIND:

  run      run on the build host with DIR's qemu-system-* first on PATH;
           stdout and stderr together must match
  usage    a complete command line for a real host: run with -accel tcg
           (and -cpu max for -cpu host) and -S on the build host, where
           its host device does not exist: it must fail on that alone
           ("no such host device"), after every option and property was
           accepted
  testbed  with --testbed only (inside the x86 test-bed L1, where the
           host= device exists): the command is started with a QMP
           socket instead of "-monitor stdio"; once the firmware has
           placed BAR0, each "(qemu) CMD" line runs as an HMP command
           and its output must match

With --testbed, --schema FILE also runs the QAPI schema's annotated
qmp-example blocks whose text names a command line ("started with
``...``"): the request is sent once the BARs are placed, and the
response must equal the example's, value for value, but for the
counters and times of each "dma" (DMA_COUNTERS), which change from run
to run.

Other kinds (the libvirt XML: tests/libvirt/docs-xml.py) are left to
their tests.  --print shows what the binary printed.  TAP output; exits
1 when an example does not match, 2 when a guide has no runnable example.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
import guide  # noqa: E402  (tests/pylib/guide.py)
import qemutest  # noqa: E402  (tests/pylib/qemutest.py)

HOST_ERROR = "no such host device"

# What x-query-vfio's "dma" reports that depends on how far the firmware
# got: compared by presence only.
DMA_COUNTERS = ("map-calls", "map-bytes", "largest-mapping", "map-ns",
                "unmap-calls", "unmap-bytes", "unmap-ns", "mappings",
                "dma-avail", "prefault-threads", "prefault-bytes",
                "prefault-ns")


def stable(value):
    """@value with the DMA counters of every "dma" object blanked."""
    if isinstance(value, list):
        return [stable(v) for v in value]
    if isinstance(value, dict):
        return {k: ("..." if k in DMA_COUNTERS and "dma-limit" in value
                    else stable(v)) for k, v in value.items()}
    return value


def examples(path):
    """(kind, line number, block text) of each marked console block."""
    return [e for e in guide.examples(path)
            if e[0] in ("run", "usage", "testbed")]


def commands(block, prompt="$ "):
    """[(command, [expected lines])] of a console block."""
    out = []
    cont = False
    for line in block.split("\n"):
        if cont:
            out[-1][0] += " " + line.strip().rstrip("\\").strip()
            cont = line.endswith("\\")
        elif line.startswith(prompt):
            out.append([line[len(prompt):].rstrip("\\").strip(), []])
            cont = line.endswith("\\")
        elif out:
            out[-1][1].append(line)
    return out


def line_matches(pattern, line):
    parts = [re.escape(p) for p in pattern.split("...")]
    return re.fullmatch(".*".join(parts), line) is not None


def matches(expected, got):
    """Do the lines @got match the expected lines (with "...")?"""
    if not expected:
        return not got
    if expected[0].strip() == "...":
        return any(matches(expected[1:], got[i:])
                   for i in range(len(got) + 1))
    return (bool(got) and line_matches(expected[0], got[0]) and
            matches(expected[1:], got[1:]))


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, ok, name, expected=None, got=None):
        self.n += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", self.n, name))
        if not ok:
            self.failed += 1
            if expected is not None:
                print("# expected:")
                for line in expected:
                    print("#   " + line)
            if got is not None:
                print("# got:")
                for line in got:
                    print("#   " + line)


def run_host(cmd, build, timeout=60):
    try:
        p = subprocess.run(["bash", "-c", cmd], env=build_env(build),
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        return None
    return p.stdout.rstrip("\n").split("\n") if p.stdout else []


def usage_command(cmd):
    """@cmd as the build host can run it: TCG, paused."""
    args = shlex.split(cmd)
    for i, a in enumerate(args):
        if i and args[i - 1] == "-accel" and a == "kvm":
            args[i] = "tcg"
        if i and args[i - 1] == "-cpu" and a == "host":
            args[i] = "max"
    return " ".join(shlex.quote(a) for a in args + ["-S"])


def schema_examples(path):
    """(command line, request, response) of each annotated qmp-example."""
    text = "\n".join(re.sub(r"^# ?", "", ln) for ln in open(path)
                     if ln.startswith("#"))
    out = []
    for block in text.split(".. qmp-example::")[1:]:
        block = re.split(r"^#$", block, flags=re.M)[0]   # "##" ends it
        m = re.search(r"started with\s+``(.*?)``", block, re.S)
        req = re.search(r"^\s*-> (.*?)(?=^\s*<- )", block, re.S | re.M)
        rsp = re.search(r"^\s*<- (.*)", block, re.S | re.M)
        if not (m and req and rsp):
            continue
        out.append((" ".join(m.group(1).split()), json.loads(req.group(1)),
                    json.loads(rsp.group(1))))
    return out


def build_env(build):
    """The environment with @build's qemu-system-* first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.path.abspath(build) + ":" + env["PATH"]
    return env


def run_testbed(cmd, checks, build, timeout=120, settle=60):
    """Start @cmd with a QMP socket and, once the firmware placed the BARs,
    run each (request, good) of @checks: an HMP command line or a QMP
    request, asked again every 2 s until good(answer) or @settle seconds
    have passed (the firmware's own use of the device, INTx in
    particular, moves BARs between direct and trapped until it is done).
    Returns the last answers by request, and an error text."""
    args = shlex.split(cmd)
    if "-monitor" in args:
        i = args.index("-monitor")
        del args[i:i + 2]
    env = build_env(build)
    deadline = time.time() + timeout
    try:
        vm = qemutest.Qemu(shutil.which(args[0], path=env["PATH"]) or args[0],
                           args[1:], env=env, timeout=timeout,
                           prefix="check-examples.")
    except qemutest.QMPError as e:
        return None, str(e)
    out = {}
    try:
        # Wait for the firmware to place every memory BAR of the device.
        while True:
            info = vm.qmp("x-query-vfio")
            bars = [b for d in info for b in d["bars"] if b["type"] != "io"]
            if bars and all("address" in b for b in bars):
                break
            if time.time() > deadline:
                return None, "the firmware placed no BAR in %d s" % timeout
            time.sleep(1)
        end = time.time() + settle
        for req, good in checks:
            while True:
                if isinstance(req, dict):
                    answer = vm.qmp_rsp(req["execute"],
                                        **req.get("arguments", {}))
                else:
                    r = vm.qmp_rsp("human-monitor-command",
                                   **{"command-line": req})
                    text = r.get("return", str(r)).replace("\r", "")
                    answer = text.rstrip("\n").split("\n")
                if good(answer) or time.time() > end:
                    break
                time.sleep(2)
            out[json.dumps(req)] = answer
    finally:
        vm.quit(timeout=1)
        vm.cleanup()
    return out, ""


def main():
    args = sys.argv[1:]
    build, testbed, show = "build", False, False
    guides, schemas = [], []
    while args:
        a = args.pop(0)
        if a == "--build":
            build = args.pop(0)
        elif a == "--testbed":
            testbed = True
        elif a == "--print":
            show = True
        elif a == "--schema":
            schemas.append(args.pop(0))
        else:
            guides.append(a)
    if not guides:
        print(__doc__, file=sys.stderr)
        return 2
    tap = Tap()
    for guide in guides:
        found = examples(guide)
        if not found:
            print("check-examples: no example in %s" % guide, file=sys.stderr)
            return 2
        for kind, lineno, block in found:
            where = "%s:%d" % (os.path.basename(guide), lineno)
            if kind == "testbed":
                if not testbed:
                    continue
                hmp = commands(block, "(qemu) ")
                for cmd, _ in commands(block):
                    out, err = run_testbed(
                        cmd, [(c, lambda got, e=e: matches(e, got))
                              for c, e in hmp], build)
                    if out is None:
                        tap.check(False, "%s: %s" % (where, cmd))
                        print("# " + err.replace("\n", "\n# "))
                        continue
                    for c, expected in hmp:
                        got = out[json.dumps(c)]
                        if show:
                            print("\n".join(got))
                        tap.check(matches(expected, got),
                                  "%s: (qemu) %s" % (where, c), expected, got)
                continue
            if testbed:
                continue
            for cmd, expected in commands(block):
                if kind == "usage":
                    got = run_host(usage_command(cmd), build)
                    ok = (got is not None and len(got) == 1 and
                          HOST_ERROR in got[0])
                    tap.check(ok, "%s: %s (accepted up to the host device)"
                              % (where, cmd), [HOST_ERROR], got)
                else:
                    got = run_host(cmd, build)
                    if show and got is not None:
                        print("\n".join(got))
                    tap.check(got is not None and matches(expected, got),
                              "%s: %s" % (where, cmd), expected, got)
    for schema in schemas if testbed else []:
        found = schema_examples(schema)
        if not found:
            print("check-examples: no annotated example with a command line "
                  "in %s" % schema, file=sys.stderr)
            return 2
        for cmd, req, rsp in found:
            name = "%s: %s" % (os.path.basename(schema), req["execute"])
            out, err = run_testbed(
                cmd, [(req, lambda got: stable(got) == stable(rsp))], build)
            if out is None:
                tap.check(False, name)
                print("# " + err.replace("\n", "\n# "))
                continue
            got = out[json.dumps(req)]
            if show:
                print(json.dumps(got, indent=2))
            tap.check(stable(got) == stable(rsp), name,
                      json.dumps(rsp, indent=1).split("\n"),
                      json.dumps(got, indent=1).split("\n"))
    print("1..%d" % tap.n)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
