#!/usr/bin/env python3
"""docs-xml.py - print a libvirt XML example of the user guide, verbatim.

    docs-xml.py GUIDE NAME

The user guide (docs/vfio-direct.rst) marks each example that the libvirt
test runs with an rST comment ".. vfio-direct-example: NAME" just before
its code block (read by tests/pylib/guide.py); this prints the block's
text, dedented.  Exits 1 with one line when there is no such example.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
import guide  # noqa: E402  (tests/pylib/guide.py)


def main():
    if len(sys.argv) != 3:
        print("usage: docs-xml.py GUIDE NAME", file=sys.stderr)
        return 2
    text = guide.example(sys.argv[1], sys.argv[2])
    if text is None:
        print("docs-xml.py: no example '%s' in %s" % (sys.argv[2], sys.argv[1]),
              file=sys.stderr)
        return 1
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
