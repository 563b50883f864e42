/*
 * tce-bench-guest.c - a no-OS pseries guest that maps guest RAM through
 * the TCE hypercalls as fast as it can, for tests/bench/run-tce.sh
 * (tests/bench/tce-bench.py).
 *
 * Loaded like tce-runs-guest.c (pseries-guest.h), it maps and unmaps
 * 1 GiB of RAM through the default window (4 KiB TCEs, 512
 * H_PUT_TCE_INDIRECT calls of 512) and through a 64 KiB DDW (32 calls),
 * each unmapped by one H_STUFF_TCE, and records the timebase ticks each
 * took.
 *
 * Mailbox (64-bit big-endian words at MAILBOX):
 *   [0] MAGIC once the guest runs; [1]-[6] the DDW as tce-runs-guest.c
 *   [8], [9] the return codes of mapping (ORed) and unmapping through
 *   the default window, [24], [25] the timebase ticks each took;
 *   [12], [13], [28], [29] the same through the DDW
 *   [63] DONE when all ran
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "pseries-guest.h"

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
