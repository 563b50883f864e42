/*
 * tce-runs-guest.c - a no-OS pseries guest that drives the TCE hypercalls
 * on a 64 KiB dynamic DMA window, for tests/testbed/check-tce.py
 * --tce-runs-guest.
 *
 * Loaded with -kernel under -M pseries,x-vof=on with a vfio-pci device at
 * slot 2 (e1000e): see pseries-guest.h.  It creates a DDW with 64 KiB
 * TCEs through RTAS (the KVMPPC_H_RTAS hypercall, as a guest's RTAS blob
 * makes it), then:
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
 * Mailbox (64-bit big-endian words at MAILBOX):
 *   [0] MAGIC once the guest runs        [1] ibm,query-pe-dma-window status
 *   [2] windows available                [3] page size mask (query)
 *   [4] ibm,create-pe-dma-window status  [5] its LIOBN
 *   [6] the window's bus address
 *   [8 + 2 * step], [9 + 2 * step]: the step's hypercall return codes
 *   [63] DONE when all steps ran
 *   SNAPSHOTS + step * SNAP_ENTRIES * 8: the TCEs after each step
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "pseries-guest.h"

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
