"""Writing the L1 kernel's control files (tracefs, sysfs, procfs) and
reading the benchmarks' size arguments, for the runners in tests/bench.

Copyright (c) 2026 The vfio-direct authors
SPDX-License-Identifier: GPL-2.0-or-later
"""

import os


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def append(path, text):
    """Append without seeking (tracefs refuses the seek of mode "a")."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def size_bytes(s):
    """"512M" or "2G" in bytes."""
    units = {"M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * units[s[-1]]
