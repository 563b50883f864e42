/*
 * tce-guest.S - a no-OS pseries guest that puts TCEs on the PHB's default
 * DMA window with the sPAPR hypercalls, for tests/testbed/check-tce.py
 * --tce-guest.
 *
 * Loaded with -kernel under -M pseries,x-vof=on: VOF jumps to the first
 * byte of the image, big endian, in real mode.  Guest physical addresses
 * used (RAM of at least 64 MiB):
 *
 *   0x1000000  the TCE list of H_PUT_TCE_INDIRECT (512 entries, one page)
 *   0x2000000  the 4 KiB pages the TCEs point at (513 of them)
 *   0x3000000  the mailbox, 64-bit big-endian words:
 *                +0   "TCEGUEST" once the guest runs
 *                +8   H_PUT_TCE of IOBA 0 -> 0x2000000: return code
 *                +16  H_PUT_TCE_INDIRECT of IOBA 1 MiB, 512 pages -> 0x2001000..
 *                +24  H_GET_TCE of IOBA 1 MiB + 511 pages: return code
 *                +32  ... and the TCE it returned
 *                +40  H_STUFF_TCE of IOBA 1 MiB, 512 pages, TCE 0 (unmap)
 *                +48  H_GET_TCE of IOBA 1 MiB + 511 pages after it: TCE
 *                +56  H_PUT_TCE of IOBA 0, TCE 0 (unmap): return code
 *                +64  "TCE-DONE" when all calls were made
 *
 * Then it spins; the test reads the mailbox over QMP and the mappings from
 * QEMU's trace and strace of its VFIO ioctls.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define H_GET_TCE           0x1c
#define H_PUT_TCE           0x20
#define H_STUFF_TCE         0x138
#define H_PUT_TCE_INDIRECT  0x13c

#define LIOBN               0x80000000  /* PHB 0, window 0 (the default) */
#define TCE_LIST            0x1000000
#define PAGES               0x2000000
#define MAILBOX             0x3000000
#define INDIRECT_IOBA       0x100000
#define NPAGES              512
#define TCE_RW              3           /* TCE_PCI_READ | TCE_PCI_WRITE */

/* Load a 32-bit unsigned constant, clearing the upper half. */
#define LOADU32(r, v)       lis r, (v)@h; ori r, r, (v)@l; clrldi r, r, 32

    .text
    .globl _start
_start:
    /* 64-bit mode: VOF may enter in 32-bit mode */
    mfmsr   10
    li      11, 1
    rldicr  11, 11, 63, 0
    or      10, 10, 11
    mtmsrd  10
    isync

    LOADU32(31, MAILBOX)
    /* "TCEGUEST" */
    lis     9, 0x5443
    ori     9, 9, 0x4547
    sldi    9, 9, 32
    oris    9, 9, 0x5545
    ori     9, 9, 0x5354
    std     9, 0(31)

    /* H_PUT_TCE: IOBA 0 -> the first page */
    li      3, H_PUT_TCE
    LOADU32(4, LIOBN)
    li      5, 0
    LOADU32(6, PAGES | TCE_RW)
    sc      1
    std     3, 8(31)

    /* The TCE list: entry i -> PAGES + (i + 1) * 4 KiB */
    LOADU32(20, TCE_LIST)
    LOADU32(21, PAGES + 0x1000 + TCE_RW)
    li      22, NPAGES
    mtctr   22
    mr      23, 20
1:  std     21, 0(23)
    addi    21, 21, 0x1000
    addi    23, 23, 8
    bdnz    1b
    sync

    li      3, H_PUT_TCE_INDIRECT
    LOADU32(4, LIOBN)
    LOADU32(5, INDIRECT_IOBA)
    mr      6, 20
    li      7, NPAGES
    sc      1
    std     3, 16(31)

    /* Read back the last one */
    li      3, H_GET_TCE
    LOADU32(4, LIOBN)
    LOADU32(5, INDIRECT_IOBA + (NPAGES - 1) * 0x1000)
    sc      1
    std     3, 24(31)
    std     4, 32(31)

    /* H_STUFF_TCE with TCE 0: unmap all 512 */
    li      3, H_STUFF_TCE
    LOADU32(4, LIOBN)
    LOADU32(5, INDIRECT_IOBA)
    li      6, 0
    li      7, NPAGES
    sc      1
    std     3, 40(31)

    li      3, H_GET_TCE
    LOADU32(4, LIOBN)
    LOADU32(5, INDIRECT_IOBA + (NPAGES - 1) * 0x1000)
    sc      1
    std     4, 48(31)

    /* H_PUT_TCE with TCE 0: unmap IOBA 0 */
    li      3, H_PUT_TCE
    LOADU32(4, LIOBN)
    li      5, 0
    li      6, 0
    sc      1
    std     3, 56(31)

    /* "TCE-DONE" */
    lis     9, 0x5443
    ori     9, 9, 0x452d
    sldi    9, 9, 32
    oris    9, 9, 0x444f
    ori     9, 9, 0x4e45
    std     9, 64(31)
    sync

2:  b       2b
