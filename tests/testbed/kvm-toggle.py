#!/usr/bin/env python3
"""kvm-toggle.py - create and destroy KVM VMs in a loop while tasks switch.

Runs inside an x86 test-bed L1 (kvm-amd loaded).  Creating the first KVM
VM and destroying the last one flips the kernel's preempt_notifier_key, a
static key whose jump sites sit in __schedule: each flip is a run-time
text patch (int3 first, then the rest, then the first byte) while the
other vCPU keeps executing __schedule.  Two processes ping-pong a byte
through pipes meanwhile so that both vCPUs schedule all the time.  This
is the stress of flake-rate.sh --stress.

    kvm-toggle.py [CYCLES]      (default 200)
"""
import fcntl
import os
import sys
import time

KVM_CREATE_VM = 0xAE01


def pingpong(rfd, wfd):
    while True:
        if not os.read(rfd, 1):
            os._exit(0)
        os.write(wfd, b"x")


def main():
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    kids = []
    for rfd, wfd in ((a_r, b_w), (b_r, a_w)):
        pid = os.fork()
        if pid == 0:
            pingpong(rfd, wfd)
        kids.append(pid)
    os.write(a_w, b"x")
    t0 = time.monotonic()
    for _ in range(cycles):
        kvm = os.open("/dev/kvm", os.O_RDWR)
        vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
        os.close(vm)
        os.close(kvm)
    dt = time.monotonic() - t0
    for pid in kids:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    print("%d KVM VMs created and destroyed in %.1f s" % (cycles, dt))


if __name__ == "__main__":
    main()
