/*
 * pseries-guest.h - what the no-OS pseries guests in C share: their entry,
 * hypercalls, RTAS calls and the 64 KiB DDW (tce-runs-guest.c,
 * tce-bench-guest.c).
 *
 * Each is loaded with -kernel under -M pseries,x-vof=on with a vfio-pci
 * device at slot 2 (e1000e): VOF enters the first byte of the image
 * (pseries-guest.ld), big endian, in real mode.  Included once, by the
 * guest's only source file.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_GUEST_PSERIES_GUEST_H
#define TESTS_GUEST_PSERIES_GUEST_H

typedef unsigned long u64;
typedef unsigned int u32;

#define H_GET_TCE           0x1c
#define H_PUT_TCE           0x20
#define H_STUFF_TCE         0x138
#define H_PUT_TCE_INDIRECT  0x13c
#define KVMPPC_H_RTAS       0xf000

/* QEMU's RTAS tokens (include/hw/ppc/spapr.h: RTAS_TOKEN_BASE + n) */
#define RTAS_WRITE_CONFIG   0x2017      /* ibm,write-pci-config */
#define RTAS_QUERY_DDW      0x2026      /* ibm,query-pe-dma-window */
#define RTAS_CREATE_DDW     0x2027      /* ibm,create-pe-dma-window */

#define BUID                0x800000020000000UL  /* PHB 0 */
#define SLOT                2           /* the vfio-pci device's slot */
#define CONFIG_ADDR         (SLOT << 11)
#define BAR0_BUS            0x80000000UL
#define BAR0_CPU            0x200080000000UL     /* bus + (1 << 45) */

#define DEFAULT_LIOBN       0x80000000UL
#define TCE_READ            1UL
#define TCE_WRITE           2UL
#define TCE_RW              (TCE_READ | TCE_WRITE)
#define PAGE_64K            0x10000UL
#define PAGE_4K             0x1000UL

/* Guest physical memory the program uses (RAM of at least 1 GiB) */
#define RTAS_BUF            0x00f00000UL
#define TCE_LIST            0x01000000UL
#define MAILBOX             0x03000000UL
#define SNAPSHOTS           (MAILBOX + 0x1000)
#define SNAP_ENTRIES        2048
#define MARKER_PAGE         0x02f00000UL
#define MARKER_IOBA         0x3ff00000UL
#define RAM_A               0x10000000UL    /* step 1's 512 pages */
#define RAM_B               0x14000000UL    /* step 3's */
#define RAM_C               0x18000000UL    /* steps 4-6 */
#define OUTSIDE_RAM         0x40000000000UL /* 4 TiB: no RAM there */
#define STACK_TOP           0x00e00000UL

#define MAGIC               0x54434552554e5300UL    /* "TCERUNS" */
#define DONE                0x5443452d444f4e45UL    /* "TCE-DONE" */

#define mailbox ((volatile u64 *)MAILBOX)

/* 64-bit mode, a stack and the TOC, then main() */
__asm__(
    "    .section .text.entry, \"ax\"\n"
    "    .globl _start\n"
    "_start:\n"
    "    mfmsr   10\n"
    "    li      11, 1\n"
    "    rldicr  11, 11, 63, 0\n"
    "    or      10, 10, 11\n"
    "    mtmsrd  10\n"
    "    isync\n"
    "    bl      1f\n"
    "1:  mflr    12\n"
    "    addis   2, 12, (.TOC. - 1b)@ha\n"
    "    addi    2, 2, (.TOC. - 1b)@l\n"
    "    lis     1, 0x00e0\n"     /* STACK_TOP */
    "    bl      main\n"
    "2:  b       2b\n");

void main(void);

static long hcall(u64 op, u64 a1, u64 a2, u64 a3, u64 a4, u64 *r4out)
{
    register u64 r3 __asm__("r3") = op;
    register u64 r4 __asm__("r4") = a1;
    register u64 r5 __asm__("r5") = a2;
    register u64 r6 __asm__("r6") = a3;
    register u64 r7 __asm__("r7") = a4;

    __asm__ volatile("sc 1"
                     : "+r"(r3), "+r"(r4), "+r"(r5), "+r"(r6), "+r"(r7)
                     :
                     : "r0", "r8", "r9", "r10", "r11", "r12", "ctr", "xer",
                       "cr0", "cr1", "cr5", "cr6", "cr7", "memory");
    if (r4out) {
        *r4out = r4;
    }
    return r3;
}

/* An RTAS call through KVMPPC_H_RTAS: returns rets[0], the status */
static u32 rtas(u32 token, u32 nargs, const u32 *args, u32 nret, u32 *rets)
{
    volatile u32 *buf = (volatile u32 *)RTAS_BUF;
    u32 i;

    buf[0] = token;
    buf[1] = nargs;
    buf[2] = nret;
    for (i = 0; i < nargs; i++) {
        buf[3 + i] = args[i];
    }
    hcall(KVMPPC_H_RTAS, RTAS_BUF, 0, 0, 0, 0);
    for (i = 0; i < nret; i++) {
        rets[i] = buf[3 + nargs + i];
    }
    return rets[0];
}

static u32 liobn;
static u64 window;

/* Query and create the 64 KiB window of @window_shift bits */
static void create_ddw(u32 window_shift)
{
    u32 args[5] = { CONFIG_ADDR, BUID >> 32, BUID & 0xffffffff, 16,
                    window_shift };
    u32 rets[6];

    mailbox[1] = rtas(RTAS_QUERY_DDW, 3, args, 5, rets);
    mailbox[2] = rets[1];
    mailbox[3] = rets[3];
    mailbox[4] = rtas(RTAS_CREATE_DDW, 5, args, 4, rets);
    liobn = rets[1];
    window = ((u64)rets[2] << 32) | rets[3];
    mailbox[5] = liobn;
    mailbox[6] = window;
}

#endif /* TESTS_GUEST_PSERIES_GUEST_H */
