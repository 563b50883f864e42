"""tap.py - the "ok - NAME" / "not ok - NAME" lines of the Python checks.

check-probe.py and check-kernel.py judge what a test-bed L1 wrote and
print one line per check; check-system.sh and check-kernel.sh count
them.
"""


class Checker:
    """Prints one TAP-style line per check and counts them."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, cond, detail=None):
        """"ok - @name" if @cond, else "not ok - @name (@detail)";
        returns @cond."""
        if cond:
            self.passed += 1
            print(f"ok - {name}")
        else:
            self.failed += 1
            print(f"not ok - {name}" + (f" ({detail})" if detail else ""))
        return cond
