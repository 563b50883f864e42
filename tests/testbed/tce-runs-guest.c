/*
 * tce-runs-guest.c - a no-OS pseries guest that drives the TCE hypercalls
 * on a 64 KiB dynamic DMA window, for check-pseries.py --tce-runs-guest
 * (and, built with -DBENCH, for tests/bench/run-tce.sh).
 *
 * Loaded with -kernel under -M pseries,x-vof=on with a vfio-pci device at
 * slot 2 (e1000e): VOF enters the first byte of the image, big endian, in
 * real mode.  It creates a DDW with 64 KiB TCEs through RTAS (the
 * KVMPPC_H_RTAS hypercall, as a guest's RTAS blob makes it), then:
 *
 *   step 1  H_PUT_TCE_INDIRECT of 512 TCEs onto contiguous RAM
 *   step 2  H_STUFF_TCE clearing 50 of them in the middle
 *   step 3  H_PUT_TCE_INDIRECT of 512 entries: 200 set, 50 cleared, 50
 *           read-only, then one outside guest RAM (H_PARAMETER expected:
 *           the 300 before it are set, none after it)
 *   step 4  H_STUFF_TCE of one TCE over 16 entries (all the same page)
 *   step 5  H_PUT_TCE_INDIRECT of 8 entries whose fifth points at the
 *           device's own BAR (guest-visible, but not guest RAM the host
 *           registered): the host refuses the mapping, H_HARDWARE
 *           expected, the first four set and the rest cleared
 *   step 6  H_PUT_TCE of one TCE, then H_PUT_TCE clearing it
 *   step 7  H_STUFF_TCE clearing all 2048 entries used
 *
 * After each step it records the hypercalls' return codes and reads back
 * the window's first 2048 TCEs with H_GET_TCE (the guest-visible table),
 * and then sets a marker TCE in the default window, IOBA MARKER_IOBA +
 * step * 4 KiB: the host's MAP_DMA of that IOVA tells the checker where
 * each step ends in the host's ioctl stream.
 *
 * The bench build maps and unmaps 1 GiB of RAM through the default window
 * (4 KiB TCEs, 512 H_PUT_TCE_INDIRECT calls of 512) and through the DDW
 * (64 KiB TCEs, 32 calls), each unmapped by one H_STUFF_TCE, and records
 * the timebase ticks each took.
 *
 * Mailbox (64-bit big-endian words at MAILBOX):
 *   [0] MAGIC once the guest runs        [1] ibm,query-pe-dma-window status
 *   [2] windows available                [3] page size mask (query)
 *   [4] ibm,create-pe-dma-window status  [5] its LIOBN
 *   [6] the window's bus address
 *   [8 + 2 * step], [9 + 2 * step]: the step's hypercall return codes
 *   bench: [8], [9] the return codes of mapping (ORed) and unmapping
 *   through the default window, [24], [25] the timebase ticks each took;
 *   [12], [13], [28], [29] the same through the DDW
 *   [63] DONE when all steps ran
 *   SNAPSHOTS + step * SNAP_ENTRIES * 8: the TCEs after each step
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

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

#ifndef BENCH
/* H_PUT_TCE_INDIRECT of @n TCEs from entry @entry of the DDW */
static long put_list(u64 entry, const u64 *tces, u32 n)
{
    volatile u64 *list = (volatile u64 *)TCE_LIST;
    u32 i;

    for (i = 0; i < n; i++) {
        list[i] = tces[i];
    }
    return hcall(H_PUT_TCE_INDIRECT, liobn, window + entry * PAGE_64K,
                 TCE_LIST, n, 0);
}

static void config_write(u32 reg, u32 size, u32 val)
{
    u32 args[5] = { CONFIG_ADDR | reg, BUID >> 32, BUID & 0xffffffff, size,
                    val };
    u32 rets[1];

    rtas(RTAS_WRITE_CONFIG, 5, args, 1, rets);
}

/* The guest-visible table after @step, and the marker in the host's view */
static void end_step(u32 step)
{
    volatile u64 *snap = (volatile u64 *)(SNAPSHOTS +
                                          (u64)step * SNAP_ENTRIES * 8);
    u64 tce;
    u32 i;

    for (i = 0; i < SNAP_ENTRIES; i++) {
        if (hcall(H_GET_TCE, liobn, window + (u64)i * PAGE_64K, 0, 0, &tce)) {
            tce = ~0UL;
        }
        snap[i] = tce;
    }
    hcall(H_PUT_TCE, DEFAULT_LIOBN, MARKER_IOBA + step * PAGE_4K,
          MARKER_PAGE | TCE_RW, 0, 0);
}

static u64 tces[512];

void main(void)
{
    u32 i;

    mailbox[0] = MAGIC;
    /* The device's BAR0 on the bus, decoding: a guest-visible BAR page */
    config_write(0x10, 4, BAR0_BUS);
    config_write(0x04, 2, 0x6);
    create_ddw(31);
    end_step(0);

    for (i = 0; i < 512; i++) {
        tces[i] = (RAM_A + i * PAGE_64K) | TCE_RW;
    }
    mailbox[8 + 2] = put_list(0, tces, 512);
    end_step(1);

    mailbox[8 + 4] = hcall(H_STUFF_TCE, liobn, window + 100 * PAGE_64K, 0,
                           50, 0);
    end_step(2);

    for (i = 0; i < 512; i++) {
        if (i < 200) {
            tces[i] = (RAM_B + i * PAGE_64K) | TCE_RW;
        } else if (i < 250) {
            tces[i] = 0;
        } else if (i < 300) {
            tces[i] = (RAM_B + i * PAGE_64K) | TCE_READ;
        } else if (i == 300) {
            tces[i] = OUTSIDE_RAM | TCE_RW;
        } else {
            tces[i] = (RAM_B + i * PAGE_64K) | TCE_RW;
        }
    }
    mailbox[8 + 6] = put_list(512, tces, 512);
    end_step(3);

    mailbox[8 + 8] = hcall(H_STUFF_TCE, liobn, window + 1024 * PAGE_64K,
                           RAM_C | TCE_RW, 16, 0);
    end_step(4);

    for (i = 0; i < 8; i++) {
        tces[i] = (RAM_C + (i + 1) * PAGE_64K) | TCE_RW;
    }
    tces[4] = BAR0_CPU | TCE_RW;
    mailbox[8 + 10] = put_list(1100, tces, 8);
    end_step(5);

    mailbox[8 + 12] = hcall(H_PUT_TCE, liobn, window + 2000 * PAGE_64K,
                            (RAM_C + 0x100000) | TCE_RW, 0, 0);
    mailbox[8 + 13] = hcall(H_PUT_TCE, liobn, window + 2000 * PAGE_64K, 0,
                            0, 0);
    end_step(6);

    mailbox[8 + 14] = hcall(H_STUFF_TCE, liobn, window, 0, SNAP_ENTRIES, 0);
    end_step(7);

    mailbox[63] = DONE;
}
#else
static u64 timebase(void)
{
    u64 tb;

    __asm__ volatile("mftb %0" : "=r"(tb));
    return tb;
}


/* Map [0, 1 GiB) through @liobn_ at @base in @page pages, then unmap */
static void map_unmap_gib(u64 liobn_, u64 base, u64 page, u32 slot)
{
    volatile u64 *list = (volatile u64 *)TCE_LIST;
    u64 n = 0x40000000UL / page, done, t0;
    u32 i;

    t0 = timebase();
    for (done = 0; done < n; done += 512) {
        for (i = 0; i < 512; i++) {
            list[i] = ((done + i) * page) | TCE_RW;
        }
        mailbox[8 + slot] |= hcall(H_PUT_TCE_INDIRECT, liobn_,
                                   base + done * page, TCE_LIST, 512, 0);
    }
    mailbox[24 + slot] = timebase() - t0;
    t0 = timebase();
    mailbox[9 + slot] = hcall(H_STUFF_TCE, liobn_, base, 0, n, 0);
    mailbox[25 + slot] = timebase() - t0;
}

void main(void)
{
    mailbox[0] = MAGIC;
    map_unmap_gib(DEFAULT_LIOBN, 0, PAGE_4K, 0);
    create_ddw(31);
    map_unmap_gib(liobn, window, PAGE_64K, 4);
    mailbox[63] = DONE;
}
#endif
