#!/usr/bin/env python3
"""docs-xml.py - print a libvirt XML example of the user guide, verbatim.

    docs-xml.py GUIDE NAME

The user guide (docs/vfio-direct.rst) marks each example that the libvirt
test runs with an rST comment ".. vfio-direct-example: NAME" just before
its code block; this prints the block's text, dedented.  Exits 1 with one
line when there is no such example.
"""

import sys
import textwrap


def example(path, name):
    lines = open(path).read().split("\n")
    marker = ".. vfio-direct-example: " + name
    try:
        i = [ln.strip() for ln in lines].index(marker) + 1
    except ValueError:
        return None
    while i < len(lines) and not lines[i].startswith(".. code-block::"):
        i += 1
    i += 1
    block = []
    while i < len(lines) and (not lines[i].strip() or lines[i][0] == " "):
        block.append(lines[i])
        i += 1
    return textwrap.dedent("\n".join(block)).strip("\n") + "\n"


def main():
    if len(sys.argv) != 3:
        print("usage: docs-xml.py GUIDE NAME", file=sys.stderr)
        return 2
    text = example(sys.argv[1], sys.argv[2])
    if text is None:
        print("docs-xml.py: no example '%s' in %s" % (sys.argv[2], sys.argv[1]),
              file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
