"""qmp.py - the QMP client that the test bed's Python checks share.

    greet(f)               read the greeting, leave capabilities negotiation
    execute(f, name, **a)  run a command; its response, events skipped

f is a text stream on a QMP monitor (a socket's makefile("rw")).
"""

import json


def execute(f, name, **args):
    """Run @name on QMP stream @f: {"return": ...} or {"error": ...}."""
    f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
    f.flush()
    while True:
        rsp = json.loads(f.readline())
        if "return" in rsp or "error" in rsp:
            return rsp


def greet(f):
    json.loads(f.readline())
    execute(f, "qmp_capabilities")
