# shellcheck shell=sh
# TAP helpers for the shell unit tests (sourced, not run).
#
#   check NAME GOT EXPECTED   one "ok"/"not ok" line, counting failures
#   check_status NAME         the same for the exit status of the command
#                             just before it (returned again)
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

check_status()
{
    rc=$?
    n=$((n + 1))
    if [ "$rc" = 0 ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1 (status $rc)"
        failed=$((failed + 1))
    fi
    return "$rc"
}

tap_done()
{
    echo "1..$n"
    [ "$failed" = 0 ]
}
