"""guide.py - the examples the user guide marks for the tests.

The guide (docs/vfio-direct.rst) marks each example a test runs with an
rST comment ".. vfio-direct-example: NAME" just before its code block.
NAME is a kind for tests/docs/check-examples.py (run, usage, testbed) or
a name for tests/libvirt (domain, hostdev, ...).  A kind may be followed
by a name for another reader (".. vfio-direct-example: usage
recommended-x86": check-examples.py runs it, tests/demo reads the
settings in it).  This is the one reader of those marks; import it with

    sys.path.insert(0, os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "..", "pylib"))
    import guide
"""

import re
import textwrap

MARK = re.compile(r"\.\. vfio-direct-example: (\S+)(?: (\S+))?$")


def examples(path):
    """(name, line number of its mark, code block text dedented) of each
    marked example of the guide @path, in order; the name is the mark's
    first word (its kind)."""
    return [(kind, line, text) for kind, _, line, text in marked(path)]


def marked(path):
    """(kind, second name or None, line number of its mark, code block
    text dedented) of each marked example of the guide @path."""
    lines = open(path).read().split("\n")
    out = []
    for i, line in enumerate(lines):
        m = MARK.match(line.strip())
        if not m:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith(".. code-block::"):
            j += 1
        j += 1
        block = []
        while j < len(lines) and (not lines[j].strip() or lines[j][0] == " "):
            block.append(lines[j])
            j += 1
        out.append((m.group(1), m.group(2), i + 1,
                    textwrap.dedent("\n".join(block)).strip("\n")))
    return out


def example(path, name):
    """The text of the first example @name (its kind or its second name)
    of the guide @path, or None."""
    for kind, second, _, text in marked(path):
        if name in (kind, second):
            return text
    return None
