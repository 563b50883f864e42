#!/bin/sh
# Unit tests of the test-bed fault detection and retry in
# tests/testbed/lib.sh (l1_fault, l1_fault_lines, l1_verdict, l1_retry,
# l0_fault), on
# console snippets written in the L1 kernel's format (TAP output).
set -u

. "$(dirname "$0")/../testbed/lib.sh"
. "$(dirname "$0")/tap.sh"

t=$(mktemp -d "${TMPDIR:-/tmp}/test-testbed-fault.XXXXXX")
trap 'rm -rf "$t"' EXIT

# verdict LOG: l1_fault's answer for LOG, or "none".
verdict()
{
    l1_fault "$1" || echo none
}

# A clean x86 run, as init.sh and the kernel print it with quiet.
cat >"$t/clean" <<'EOF'
[    0.000000] Linux version 6.12.117+deb13-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.12.117-1 (2026-11-20)
[    1.861042] DMAR: IOMMU enabled
vfio-direct: init at 11.53s, kernel 6.12.117+deb13-amd64
vfio-direct: bound sdhci 0000:00:03.0 group 1
vfio-direct: running: /out/cmd.sh
VFIO-DIRECT-BEGIN
ok 1 - /x86_64/vfio-subpage/aligned
VFIO-DIRECT-END rc=0
vfio-direct: done at 41.20s
[   41.902114] reboot: Power down
EOF
check "a clean run is no fault" "$(verdict "$t/clean")" none

# A test that failed on its own: our QEMU crashed in user space (the
# kernel's "traps:" and "segfault" lines), the test printed the kernel's
# words and even a recorded kernel line (replayed by init.sh between the
# markers), rc=1.  A failure, never a test-bed fault.
cat >"$t/failed" <<'EOF'
vfio-direct: running: /out/cmd.sh
[   30.114208] traps: qemu-system-x86[412] trap invalid opcode ip:55d0c1a2b3c4 sp:7ffd2a1b0c80 error:0 in qemu-system-x86_64[55d0c0e00000+9a4000]
[   30.118002] traps: qemu-system-x86[415] trap int3 ip:7f3a1c2d3e4f sp:7ffd2a1b0c80 error:0 in libglib-2.0.so.0.8400.4[7f3a1c200000+a1000]
[   31.020114] qemu-system-x86[420]: segfault at 0 ip 000055d0c1a2b3c4 sp 00007ffd2a1b0c80 error 4 in qemu-system-x86_64[55d0c0e00000+9a4000]
[   31.021000] traps: vfio-probe[421] general protection fault ip:401a2b sp:7ffc11223340 error:0 in vfio-probe[401000+8000]
VFIO-DIRECT-BEGIN
not ok 3 - /x86_64/vfio-subpage/moved: Oops: BAR0 at 0xfebf1000, expected 0xfebf0000
Kernel panic - not syncing: this is the test's own text, not the kernel's
# expected: '[   88.412071] Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI'
VFIO-DIRECT-END rc=1
VFIO-DIRECT-STDERR-BEGIN
[    5.000000] Kernel panic - not syncing: quoted by the test on stderr
VFIO-DIRECT-STDERR-END
vfio-direct: done at 40.00s
EOF
check "a failed test is no fault" "$(verdict "$t/failed")" none
mkdir -p "$t/out"
echo 1 >"$t/out/rc"
check "a failed test keeps its status" \
    "$(l1_verdict x86 "$t/failed" "$t/out" 1 2>/dev/null)" 1
check "a failed test leaves no testbed-fault file" \
    "$([ -e "$t/out/testbed-fault" ] && echo yes || echo no)" no

# A slow L0 makes warnings, not faults: the run goes on.
cat >"$t/slow" <<'EOF'
[   52.008113] watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [qemu-system-x86:412]
[   63.110020] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
[   70.000001] WARNING: CPU: 0 PID: 412 at drivers/vfio/pci/vfio_pci_core.c:1791 vfio_pci_mmap+0x1a0/0x2c0 [vfio_pci_core]
[   70.000200] BUG: sleeping function called from invalid context at mm/memory.c:6512
VFIO-DIRECT-END rc=0
EOF
check "soft lockup, RCU stall and WARNING are no fault" "$(verdict "$t/slow")" none

# The oops seen in make bench: invalid opcode on a patched NOP in
# __schedule during a 9p write; the guest then ended without a result.
cat >"$t/oops-9p" <<'EOF'
vfio-direct: running: /out/cmd.sh
[   88.412071] Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
[   88.412750] CPU: 1 UID: 0 PID: 431 Comm: python3 Not tainted 6.12.117+deb13-amd64 #1  Debian 6.12.117-1
[   88.413214] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[   88.413802] RIP: 0010:__schedule+0x3e1/0xb80
[   88.414120] Code: 0f 1f 44 00 00 48 8b 45 00 <0f> 0b 66 90 48 89 ef e8 5a 2c 00 00
[   88.414500] RSP: 0018:ffffb1c2c07bbb30 EFLAGS: 00010046
[   88.414600] RAX: 0000000000000000 RBX: ffff9a4c3bd35a00 RCX: 0000000000000000
[   88.414650] RDX: 0000000000000001 RSI: ffffffffa1c3e2d8 RDI: ffff9a4c3bd35a00
[   88.414700] RBP: ffff9a4c01e3c600 R08: 0000000000000000 R09: 0000000000000000
[   88.414711] Call Trace:
[   88.414802]  <TASK>
[   88.414900]  schedule+0x27/0xf0
[   88.415000]  p9_client_rpc+0x1a5/0x3b0 [9pnet]
[   88.415100]  netfs_unbuffered_write_iter+0x10c/0x1d0 [netfs]
[   88.415300] ---[ end trace 0000000000000000 ]---
EOF
check "an invalid opcode oops is a kernel oops" "$(verdict "$t/oops-9p")" "kernel oops"
check "its first line is the Oops line" \
    "$(l1_fault_lines "$t/oops-9p" | head -n 1)" \
    "[   88.412071] Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI"
check "8 lines by default" \
    "$(l1_fault_lines "$t/oops-9p" | wc -l):$(l1_fault_lines "$t/oops-9p" | tail -n 1)" \
    "8:[   88.414650] RDX: 0000000000000001 RSI: ffffffffa1c3e2d8 RDI: ffff9a4c3bd35a00"
check "they name the task and the faulting function" \
    "$(l1_fault_lines "$t/oops-9p" | grep -cE 'Comm: python3|RIP: 0010:__schedule')" 2
check "N lines when asked" "$(l1_fault_lines "$t/oops-9p" 3 | wc -l)" 3
check "no lines without a fault" "$(l1_fault_lines "$t/clean" | wc -l)" 0

# l1_verdict on it: the fault wins over the status, is named in a file and
# said on stderr with the first lines.
rm -rf "$t/out"
mkdir -p "$t/out"
got=$(PROG=run-l1.sh l1_verdict x86 "$t/oops-9p" "$t/out" 125 2>"$t/err")
check "an oops makes the run a test-bed fault" "$got" "$L1_FAULT_RC"
check "the fault is named in testbed-fault" "$(cat "$t/out/testbed-fault" 2>/dev/null)" "kernel oops"
check "stderr names it as a test-bed fault" \
    "$(head -n 1 "$t/err")" \
    "run-l1.sh: test-bed fault in the x86 L1: kernel oops (the L1 kernel crashed; not a test failure; guest status 125):"
check "stderr shows the Oops line" \
    "$(sed -n 2p "$t/err")" \
    "run-l1.sh: | [   88.412071] Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI"
got=$(l1_verdict x86 "$t/oops-9p" "$t/out" 0 2>/dev/null)
check "an oops is a fault even when the command passed" "$got" "$L1_FAULT_RC"
l1_verdict x86 "$t/clean" "$t/out" 0 >/dev/null 2>&1
check "a clean run removes a stale testbed-fault" \
    "$([ -e "$t/out/testbed-fault" ] && echo yes || echo no)" no

# An oops after the replayed output counts again.
{ cat "$t/failed"; echo '[   41.000000] Oops: general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] PREEMPT SMP NOPTI'; } >"$t/late"
check "an oops after the replayed output is a kernel oops" "$(verdict "$t/late")" "kernel oops"

# An int3 oops while the L1 boots, on a serial console (CRLF), interleaved
# with init's output and with binary noise before it.
printf '\033c\001\377SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n' >"$t/int3"
printf '%s\r\n' \
    '[    2.231874] pci 0000:00:07.0: [1b36:0005] type 00 class 0x00ff00 conventional PCI endpoint' \
    'vfio-direct: insmod vfio.[    9.310112] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI' \
    '[    9.310500] CPU: 0 UID: 0 PID: 1 Comm: init Not tainted 6.12.117+deb13-amd64 #1  Debian 6.12.117-1' \
    '[    9.311000] RIP: 0010:text_poke_bp_batch+0x8c/0x2b0' \
    '[    9.390000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b' >>"$t/int3"
check "an int3 oops at boot is a kernel oops" "$(verdict "$t/int3")" "kernel oops"
check "its lines come without CR, the interleaved line whole" \
    "$(l1_fault_lines "$t/int3" 2 | od -c | grep -c '\\r'):$(l1_fault_lines "$t/int3" 1)" \
    "0:vfio-direct: insmod vfio.[    9.310112] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI"

# A NULL dereference: the BUG line comes before the Oops line.
cat >"$t/null" <<'EOF'
[   40.100000] BUG: kernel NULL pointer dereference, address: 0000000000000008
[   40.100100] #PF: supervisor read access in kernel mode
[   40.100200] #PF: error_code(0x0000) - not-present page
[   40.100300] PGD 0 P4D 0
[   40.100400] Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI
EOF
check "a NULL dereference is a kernel oops" "$(verdict "$t/null")" "kernel oops"
check "its lines start at the BUG line" \
    "$(l1_fault_lines "$t/null" | head -n 1)" \
    "[   40.100000] BUG: kernel NULL pointer dereference, address: 0000000000000008"

# A panic (what VFIO_DIRECT_TEST_L1_PANIC's sysrq c gives).
cat >"$t/panic" <<'EOF'
vfio-direct: running: /out/cmd.sh
[   35.001000] sysrq: Trigger a crash
[   35.001100] Kernel panic - not syncing: sysrq triggered crash
[   35.001200] CPU: 1 UID: 0 PID: 398 Comm: sh Not tainted 6.12.117+deb13-amd64 #1  Debian 6.12.117-1
[   35.002000] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---
EOF
check "a panic is a kernel panic" "$(verdict "$t/panic")" "kernel panic"

# pseries: powerpc's die() and page-fault lines.
cat >"$t/pseries" <<'EOF'
[   21.400000] BUG: Kernel NULL pointer dereference on read at 0x00000010
[   21.400100] Faulting instruction address: 0xc000000000a1b2c4
[   21.400200] Oops: Kernel access of bad area, sig: 11 [#1]
[   21.400300] LE PAGE_SIZE=64K MMU=Radix  SMP NR_CPUS=2048 NUMA pSeries
EOF
check "a pseries oops is a kernel oops" "$(verdict "$t/pseries")" "kernel oops"
cat >"$t/pseries-bug" <<'EOF'
[   22.000000] kernel BUG at mm/slub.c:548!
[   22.000100] Oops: Exception in kernel mode, sig: 5 [#1]
EOF
check "a BUG() is a kernel oops" "$(verdict "$t/pseries-bug")" "kernel oops"

# l1_retry with a stub for the L1 run (stub ARG DIR): STUB_PLAN lists the
# statuses of the attempts in turn (f: a test-bed fault, as run-l1.sh
# leaves it).
stub()
{
    calls=$((calls + 1))
    [ "$1:$2" = "arg:$t/run" ] || badargs=yes
    dir=$2
    # shellcheck disable=SC2086
    set -- $STUB_PLAN
    shift $((calls - 1))
    st=${1:-0}
    # What a first attempt left behind must be gone.
    [ ! -e "$dir/partial" ] || leaked=yes
    echo partial >"$dir/partial"
    if [ "$st" = f ]; then
        echo "kernel oops" >"$dir/testbed-fault"
        return "$L1_FAULT_RC"
    fi
    echo "$st" >"$dir/rc"
    return "$st"
}

# retry PLAN: run l1_retry on the stub; "calls:status:retry lines".
retry()
{
    STUB_PLAN=$1 calls=0 leaked=no badargs=no
    : >"$t/retries"
    st=0
    VFIO_DIRECT_RETRY_LOG=$t/retries PROG=run-in-l1.sh \
        l1_retry x86 "$t/run" stub arg 2>"$t/err" || st=$?
    echo "$calls:$st:$(wc -l <"$t/retries" | tr -d ' ')"
}

check "a passing run is not retried" "$(retry 0)" "1:0:0"
check "a failed test is not retried" "$(retry 1)" "1:1:0"
check "a timeout is not retried" "$(retry 124)" "1:124:0"
check "no result without an oops is not retried" "$(retry 125)" "1:125:0"
check "the command's own $L1_FAULT_RC is not retried" "$(retry "$L1_FAULT_RC")" "1:$L1_FAULT_RC:0"
check "a test-bed fault is retried once" "$(retry 'f 0')" "2:0:1"
check "the retry says so on stderr" "$(cat "$t/err")" \
    "run-in-l1.sh: test-bed fault in x86 L1 (kernel oops), retry 1 of 1"
retry 'f 0' >/dev/null
check "the retry starts in a clean results dir" "$leaked" no
check "each attempt gets its arguments and the dir" "$badargs" no
check "a test that fails on the retry keeps its status" "$(retry 'f 1')" "2:1:1"
check "a second fault ends the retries" "$(retry 'f f 0')" "2:$L1_FAULT_RC:1"
check "and says it gives up" "$(tail -n 1 "$t/err")" \
    "run-in-l1.sh: test-bed fault in x86 L1 (kernel oops) after 1 of 1 retries: giving up"
check "VFIO_DIRECT_L1_RETRIES=0 turns retries off" \
    "$(VFIO_DIRECT_L1_RETRIES=0 retry 'f 0')" "1:$L1_FAULT_RC:0"

# The L0 QEMU's own exit: a signal is a fault, the timeout's kill is not.
l0() {
    l0_fault "$1" || echo none
}
check "an L0 QEMU SIGSEGV is a fault" "$(l0 139)" \
    "the L0 QEMU died of signal 11"
check "an L0 QEMU SIGABRT is a fault" "$(l0 134)" \
    "the L0 QEMU died of signal 6"
check "the timeout's SIGKILL is no fault" "$(l0 137)" none
check "an L0 QEMU error exit is no fault" "$(l0 1)" none

tap_done
