/*
 * subpage-bar-entry.S - reset vector of the sub-page BAR benchmark's firmware.
 *
 * The L2 guest of the benchmark boots our own 64 KiB -bios image instead of
 * SeaBIOS, so that the BAR layout is the one a packing BIOS would choose and
 * nothing else runs in the guest.  The CPU starts in real mode at 0xfffffff0
 * with CS based at 0xffff0000; this code loads a flat GDT, enters 32-bit
 * protected mode, sets up a stack in RAM and calls bench_main() (C).
 *
 * Everything lives in the last 256 bytes of the image (.entry, linked at
 * 0xffffff00), so 16-bit offsets from CS are (0xff00 + label - entry_start).
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define STACK_TOP 0x90000   /* below the legacy BIOS area, in guest RAM */

    .section .entry, "ax"
    .code16
entry_start:
gdt:
    .quad 0
    .quad 0x00cf9b000000ffff        /* 0x08: code, flat 4 GiB, 32-bit */
    .quad 0x00cf93000000ffff        /* 0x10: data, flat 4 GiB */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt

start16:
    cli
    cld
    lgdtl %cs:(0xff00 + gdt_desc - entry_start)
    movl %cr0, %eax
    orl $1, %eax                    /* PE */
    movl %eax, %cr0
    ljmpl $0x08, $start32

    .code32
start32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl $STACK_TOP, %esp
    call bench_main
1:  cli
    hlt
    jmp 1b

    .org 0xf0                       /* 0xfffffff0: the reset vector */
    .code16
    .globl reset_vector
reset_vector:
    jmp start16
    .org 0x100

    .section .note.GNU-stack, "", @progbits
