#!/bin/bash
# flake-rate.sh - how often the test bed's x86 L1 itself fails, per L0 setting.
#
#   flake-rate.sh [-n N] [--out DIR] [--stress CYCLES] CONFIG...
#
# A CONFIG is "NAME ACCEL [APPEND...]": the L0's -accel for the L1
# (VFIO_DIRECT_L1_ACCEL) and extra L1 kernel command-line words.  Boots the
# L1 N times per CONFIG (default 30), the CONFIGs in turn, so that every one
# sees the same load on the shared machine; each boot binds the devices,
# mounts the shares, runs nothing and powers off, one boot at a time under
# nice.  With --stress, each boot runs kvm-toggle.py CYCLES instead (in the
# chroot): KVM VMs created and destroyed while tasks switch, which patches
# __schedule at run time as every L2 the tests start does.  Each boot is a line in DIR/boots (config, boot, status, fault, wall
# seconds, guest seconds to devices bound, the fault's first line); DIR keeps
# every console log with a fault (with --stress, the last column of a clean
# boot is kvm-toggle.py's line).  At the end, and with --summary DIR alone,
# one line per CONFIG: boots, faults (kernel oops or panic, L0 crash),
# timeouts, other failures, median wall and time to devices bound.
#
# Example (what docs/devel/vfio-direct.rst reports):
#   flake-rate.sh "mttcg tcg" "single tcg,thread=single"
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
    sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

n=30 outdir='' machine=x86 summary_only='' stress=''
while [ $# -gt 0 ]; do
    case $1 in
    -n) n=${2?}; shift ;;
    --out) outdir=${2?}; shift ;;
    --stress) stress=${2?}; shift ;;
    --summary) outdir=${2?}; summary_only=1; shift ;;
    -h|--help) usage ;;
    -*) die "unknown option $1" ;;
    *) break ;;
    esac
    shift
done

summary() {
    awk -F'\t' '
    function median(list,    a, k, i, j, t) {
        k = split(list, a, " ")
        for (i = 2; i <= k; i++) {
            for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
                t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
            }
        }
        if (k == 0) return "-"
        return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
    }
    !($1 in seen) { seen[$1] = 1; order[++nc] = $1 }
    { boots[$1]++ }
    $4 != "-" { faults[$1]++ }
    $4 == "-" && $3 == 124 { timeouts[$1]++ }
    $4 == "-" && $3 != 0 && $3 != 124 { other[$1]++ }
    $4 == "-" && $3 == 0 { wall[$1] = wall[$1] " " $5; bound[$1] = bound[$1] " " $6 }
    END {
        printf "%-12s %6s %7s %9s %6s %12s %14s\n", "config", "boots", "faults",
               "timeouts", "other", "median wall", "median bound"
        for (i = 1; i <= nc; i++) {
            c = order[i]
            printf "%-12s %6d %7d %9d %6d %11ss %13ss\n", c, boots[c], faults[c],
                   timeouts[c], other[c], median(wall[c]), median(bound[c])
        }
    }' "$outdir/boots"
}

if [ -n "$summary_only" ]; then
    [ -s "$outdir/boots" ] || die "no $outdir/boots"
    summary
    exit 0
fi
[ $# -ge 1 ] || usage
[ -n "$outdir" ] || outdir=$(mktemp -d "${TMPDIR:-/tmp}/vfio-direct-flake.XXXXXX")
mkdir -p "$outdir"
note "results in $outdir"

for i in $(seq 1 "$n"); do
    for c in "$@"; do
        read -r name accel append <<<"$c"
        run=$outdir/run
        rm -rf "$run"
        mkdir -p "$run"
        rc=0 cmd=(--run /dev/null)
        if [ -n "$stress" ]; then
            echo "exec python3 $TESTBED_DIR/kvm-toggle.py $stress" >"$run/cmd.sh"
            cmd=(--chroot --run /out/cmd.sh)
        fi
        VFIO_DIRECT_L1_ACCEL=$accel nice -n 10 "$TESTBED_DIR/run-l1.sh" --quiet \
            "${cmd[@]}" --out "$run" ${append:+--append " $append"} "$machine" \
            >"$run/run-l1.log" 2>&1 || rc=$?
        fault=-
        [ ! -s "$run/testbed-fault" ] || fault=$(tr ' ' _ <"$run/testbed-fault")
        wall=$(sed -n 's/.*rc=[0-9]*, wall \([0-9.]*\)s.*/\1/p' "$run/run-l1.log" | tail -n 1)
        bound=$(sed -n 's/.* bound=\([0-9.]*\) .*/\1/p' "$run/timings" 2>/dev/null || true)
        first=-
        if [ "$fault" != - ]; then
            first=$(l1_fault_lines "$run/console.log" 1 | tr -d '\t\r') || true
            [ -n "$first" ] || first=$(cat "$run/testbed-fault")
            cp "$run/console.log" "$outdir/console-$name-$i.log"
        elif [ "$rc" != 0 ]; then
            cp "$run/console.log" "$outdir/console-$name-$i.log" 2>/dev/null || true
            first=$(tail -n 1 "$run/run-l1.log")
        elif [ -s "$run/stdout" ]; then
            first=$(tail -n 1 "$run/stdout")
        fi
        printf '%s\t%d\t%d\t%s\t%s\t%s\t%s\n' "$name" "$i" "$rc" "$fault" \
            "${wall:--}" "${bound:--}" "$first" | tee -a "$outdir/boots"
    done
done
rm -rf "$outdir/run"
summary
