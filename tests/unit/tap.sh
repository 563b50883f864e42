# shellcheck shell=sh
# TAP helpers for the shell unit tests (sourced, not run).
#
#   check NAME GOT EXPECTED   one "ok"/"not ok" line, counting failures
#   tap_done                  the plan line; fails when a check failed

n=0
failed=0

check()
{
    n=$((n + 1))
    if [ "$2" = "$3" ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1: got '$2', expected '$3'"
        failed=$((failed + 1))
    fi
}

tap_done()
{
    echo "1..$n"
    [ "$failed" = 0 ]
}
