/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Unit tests of hw/vfio/direct/dma-plan.c, the DMA planner, on
 * synthetic section lists.  Every plan is applied to a model of the
 * type1 IOMMU that refuses what the kernel refuses (a map over an
 * existing mapping, an unmap that bisects one, more mappings than
 * DMA_AVAIL), and the model is then checked against what was wanted.
 *
 * Copyright (c) 2026 The vfio-direct authors
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "hw/vfio/direct/dma-plan.h"
#include "hw/vfio/direct/prefault-plan.h"
#include "hw/vfio/direct/dma-queue-plan.h"
#include <sys/mman.h>

typedef VFIODirectDmaRange DmaRange;

#define RAM_HVA     0x7f0000000000ULL
#define ROM_HVA     0x7e0000000000ULL
#define BIOS_HVA    0x7d0000000000ULL
#define BLK_RAM     1
#define BLK_ROM     2
#define BLK_BIOS    3

/* The kernel's side: type1 v2 mappings, sorted by iova */
typedef struct Type1 {
    GArray *maps;               /* of DmaRange */
    uint32_t limit;             /* dma_entry_limit */
    uint64_t mapped_bytes;      /* every byte ever mapped (pinned) */
    unsigned map_calls, unmap_calls;
} Type1;

static void type1_init(Type1 *t, uint32_t limit)
{
    memset(t, 0, sizeof(*t));
    t->maps = g_array_new(false, false, sizeof(DmaRange));
    t->limit = limit;
}

static void type1_free(Type1 *t)
{
    g_array_free(t->maps, true);
}

/* VFIO_IOMMU_MAP_DMA: no overlap, within the limit */
static void type1_map(Type1 *t, const DmaRange *r)
{
    guint i;

    g_assert_cmpuint(r->size, >, 0);
    g_assert_cmpuint(t->maps->len, <, t->limit);
    for (i = 0; i < t->maps->len; i++) {
        DmaRange *m = &g_array_index(t->maps, DmaRange, i);

        g_assert(m->iova + m->size <= r->iova || r->iova + r->size <= m->iova);
        if (m->iova > r->iova) {
            break;
        }
    }
    g_array_insert_val(t->maps, i, *r);
    t->mapped_bytes += r->size;
    t->map_calls++;
}

/* VFIO_IOMMU_UNMAP_DMA of exactly one mapping: v2 refuses to bisect */
static void type1_unmap(Type1 *t, uint64_t iova, uint64_t size)
{
    guint i;

    for (i = 0; i < t->maps->len; i++) {
        DmaRange *m = &g_array_index(t->maps, DmaRange, i);

        /* no mapping may straddle either end of the unmap */
        g_assert(!(m->iova < iova && m->iova + m->size > iova));
        g_assert(!(m->iova < iova + size && m->iova + m->size > iova + size));
    }
    for (i = 0; i < t->maps->len; i++) {
        DmaRange *m = &g_array_index(t->maps, DmaRange, i);

        if (m->iova == iova && m->size == size) {
            g_array_remove_index(t->maps, i);
            t->unmap_calls++;
            return;
        }
    }
    g_assert_not_reached();
}

/* Plan from the model's mappings to @want and apply it; returns fits */
static bool step(Type1 *t, const DmaRange *want, size_t n,
                 VFIODirectDmaPlan *out)
{
    g_autoptr(GArray) before = g_array_copy(t->maps);
    VFIODirectDmaPlanConfig cfg = {
        .low_start = VFIO_DIRECT_DMA_LOW_START,
        .low_end = VFIO_DIRECT_DMA_LOW_END,
        .dma_avail = t->limit - t->maps->len,
    };
    VFIODirectDmaPlan plan;
    guint i;

    if (!vfio_direct_dma_plan(&cfg, (DmaRange *)before->data, before->len,
                              want, n, &plan)) {
        if (out) {
            *out = plan;
        } else {
            vfio_direct_dma_plan_free(&plan);
        }
        return false;
    }
    for (i = 0; i < plan.unmap->len; i++) {
        const DmaRange *m = &g_array_index(before, DmaRange,
                                               g_array_index(plan.unmap,
                                                             guint, i));
        type1_unmap(t, m->iova, m->size);
    }
    for (i = 0; i < plan.map->len; i++) {
        type1_map(t, &g_array_index(plan.map, DmaRange, i));
    }
    g_assert_cmpuint(plan.in_use, ==, t->maps->len);

    /* The model now maps exactly @want, byte for byte */
    {
        uint64_t want_bytes = 0, have_bytes = 0;

        for (i = 0; i < n; i++) {
            const DmaRange *w = &want[i];
            guint k;
            uint64_t cover = 0;

            want_bytes += w->size;
            for (k = 0; k < t->maps->len; k++) {
                const DmaRange *m = &g_array_index(t->maps, DmaRange,
                                                       k);
                uint64_t lo = MAX(m->iova, w->iova);
                uint64_t hi = MIN(m->iova + m->size, w->iova + w->size);

                if (lo < hi) {
                    g_assert_cmphex(m->hva + (lo - m->iova), ==,
                                    w->hva + (lo - w->iova));
                    g_assert_cmpuint(m->block, ==, w->block);
                    g_assert_cmpint(m->readonly, ==, w->readonly);
                    cover += hi - lo;
                }
            }
            g_assert_cmphex(cover, ==, w->size);
        }
        for (i = 0; i < t->maps->len; i++) {
            have_bytes += g_array_index(t->maps, DmaRange, i).size;
        }
        g_assert_cmphex(have_bytes, ==, want_bytes);
    }
    if (out) {
        *out = plan;
    } else {
        vfio_direct_dma_plan_free(&plan);
    }
    return true;
}

static DmaRange ram(uint64_t iova, uint64_t size)
{
    return (DmaRange) { iova, size, RAM_HVA + iova, BLK_RAM, false };
}

static bool is_mapped(Type1 *t, uint64_t iova, uint64_t size)
{
    guint i;

    for (i = 0; i < t->maps->len; i++) {
        DmaRange *m = &g_array_index(t->maps, DmaRange, i);

        if (m->iova == iova && m->size == size) {
            return true;
        }
    }
    return false;
}

/*
 * q35 as QEMU builds it: all of RAM as one section at realize, then the
 * reset-time PAM/SMRAM set-up (VGA hole, the ROMs at 0xc0000-0xfffff),
 * then the BIOS shadowing its ROMs into RAM and write-protecting them.
 * RAM above 1 MiB is pinned once; the total stays within RAM + 1 MiB.
 */
static void test_q35_boot(void)
{
    const uint64_t ramsz = 512 * MiB;
    DmaRange realize[] = { ram(0, ramsz) };
    DmaRange reset[] = {
        ram(0, 0xa0000),
        { 0xc0000, 0x20000, ROM_HVA, BLK_ROM, true },
        { 0xe0000, 0x20000, BIOS_HVA + 0x20000, BLK_BIOS, true },
        ram(MiB, ramsz - MiB),
    };
    DmaRange shadow_rw[] = {
        ram(0, 0xa0000), ram(0xc0000, 0x40000), ram(MiB, ramsz - MiB),
    };
    DmaRange shadow_ro[] = {
        ram(0, 0xa0000),
        { 0xc0000, 0x10000, RAM_HVA + 0xc0000, BLK_RAM, true },
        ram(0xd0000, 0x20000),
        { 0xf0000, 0x10000, RAM_HVA + 0xf0000, BLK_RAM, true },
        ram(MiB, ramsz - MiB),
    };
    Type1 t;
    VFIODirectDmaPlan plan;

    type1_init(&t, 65535);
    g_assert(step(&t, realize, ARRAY_SIZE(realize), &plan));
    /* below the window, the window, above it */
    g_assert_cmpuint(plan.map->len, ==, 3);
    vfio_direct_dma_plan_free(&plan);
    g_assert(is_mapped(&t, MiB, ramsz - MiB));

    g_assert(step(&t, reset, ARRAY_SIZE(reset), &plan));
    /* only the window's mapping goes */
    g_assert_cmpuint(plan.unmap->len, ==, 1);
    vfio_direct_dma_plan_free(&plan);
    g_assert(step(&t, shadow_rw, ARRAY_SIZE(shadow_rw), NULL));
    g_assert(step(&t, shadow_ro, ARRAY_SIZE(shadow_ro), NULL));
    g_assert(step(&t, reset, ARRAY_SIZE(reset), NULL));

    /* RAM above 1 MiB was never unmapped */
    g_assert(is_mapped(&t, MiB, ramsz - MiB));
    g_assert(is_mapped(&t, 0, 0xa0000));
    /* realize + reset: RAM once, the window again */
    g_assert_cmpuint(t.mapped_bytes, <=, ramsz + 4 * MiB);
    type1_free(&t);

    /* The goal, on the realize + reset pair alone */
    type1_init(&t, 65535);
    g_assert(step(&t, realize, ARRAY_SIZE(realize), NULL));
    g_assert(step(&t, reset, ARRAY_SIZE(reset), NULL));
    g_assert_cmpuint(t.mapped_bytes, <=, ramsz + MiB);
    g_assert_cmpuint(t.map_calls, <=, 8);
    type1_free(&t);
}

/* Sections contiguous in iova and host address, one block: one mapping */
static void test_merge(void)
{
    DmaRange split[] = { ram(MiB, 63 * MiB), ram(64 * MiB, 64 * MiB) };
    DmaRange two_blocks[] = {
        ram(MiB, 63 * MiB),
        { 64 * MiB, 64 * MiB, RAM_HVA + 64 * MiB, BLK_ROM, false },
    };
    DmaRange hva_gap[] = {
        ram(MiB, 63 * MiB),
        { 64 * MiB, 64 * MiB, RAM_HVA + 65 * MiB, BLK_RAM, false },
    };
    Type1 t;
    VFIODirectDmaPlan plan;

    type1_init(&t, 65535);
    g_assert(step(&t, split, 2, &plan));
    g_assert_cmpuint(plan.map->len, ==, 1);
    g_assert_cmphex(g_array_index(plan.map, DmaRange, 0).size, ==,
                    127 * MiB);
    vfio_direct_dma_plan_free(&plan);
    type1_free(&t);

    type1_init(&t, 65535);
    g_assert(step(&t, two_blocks, 2, &plan));
    g_assert_cmpuint(plan.map->len, ==, 2);
    vfio_direct_dma_plan_free(&plan);
    type1_free(&t);

    type1_init(&t, 65535);
    g_assert(step(&t, hva_gap, 2, &plan));
    g_assert_cmpuint(plan.map->len, ==, 2);
    vfio_direct_dma_plan_free(&plan);
    type1_free(&t);
}

/* A hole (a BAR over RAM, or nothing) and its filling */
static void test_holes(void)
{
    DmaRange holed[] = { ram(MiB, 127 * MiB), ram(256 * MiB, 256 * MiB) };
    DmaRange filled[] = { ram(MiB, 511 * MiB) };
    Type1 t;
    VFIODirectDmaPlan plan;

    type1_init(&t, 65535);
    g_assert(step(&t, holed, 2, &plan));
    g_assert_cmpuint(plan.map->len, ==, 2);
    vfio_direct_dma_plan_free(&plan);
    /* filling the hole maps only the hole */
    g_assert(step(&t, filled, 1, &plan));
    g_assert_cmpuint(plan.unmap->len, ==, 0);
    g_assert_cmpuint(plan.map->len, ==, 1);
    g_assert_cmphex(plan.map_bytes, ==, 128 * MiB);
    vfio_direct_dma_plan_free(&plan);
    type1_free(&t);
}

/* Removing the middle of a mapping: unmapped whole, the rest mapped again */
static void test_remove_middle(void)
{
    DmaRange whole[] = { ram(MiB, 511 * MiB) };
    DmaRange holed[] = { ram(MiB, 255 * MiB), ram(257 * MiB, 255 * MiB) };
    Type1 t;
    VFIODirectDmaPlan plan;

    type1_init(&t, 65535);
    g_assert(step(&t, whole, 1, NULL));
    g_assert(step(&t, holed, 2, &plan));
    g_assert_cmpuint(plan.unmap->len, ==, 1);
    g_assert_cmpuint(plan.map->len, ==, 2);
    vfio_direct_dma_plan_free(&plan);
    type1_free(&t);
}

/* Overlap: the same iova now backed by another block, partly */
static void test_overlap(void)
{
    DmaRange before[] = { ram(MiB, 127 * MiB), ram(128 * MiB, 128 * MiB) };
    DmaRange after[] = {
        ram(MiB, 127 * MiB),
        { 128 * MiB, 64 * MiB, ROM_HVA, BLK_ROM, false },
        ram(192 * MiB, 64 * MiB),
    };
    Type1 t;

    type1_init(&t, 65535);
    g_assert(step(&t, before, 2, NULL));
    g_assert(step(&t, after, 3, NULL));
    type1_free(&t);
}

/* Edges that fall inside the window or off its grid */
static void test_window_edges(void)
{
    DmaRange odd[] = { ram(0x9f000, 0x62000) };   /* 0x9f000-0x101000 */
    DmaRange pieces[] = { ram(0xc0000, 0x4000), ram(0xc4000, 0x4000) };
    Type1 t;
    VFIODirectDmaPlan plan;

    type1_init(&t, 65535);
    g_assert(step(&t, odd, 1, &plan));
    /* cut at 0xa0000 and 1 MiB */
    g_assert_cmpuint(plan.map->len, ==, 3);
    vfio_direct_dma_plan_free(&plan);
    type1_free(&t);

    /* inside the window, sections are not joined */
    type1_init(&t, 65535);
    g_assert(step(&t, pieces, 2, &plan));
    g_assert_cmpuint(plan.map->len, ==, 2);
    vfio_direct_dma_plan_free(&plan);
    type1_free(&t);
}

/* Hotplug: a DIMM added and removed leaves the rest alone */
static void test_hotplug(void)
{
    DmaRange base[] = { ram(MiB, 2047 * MiB) };
    DmaRange plugged[] = {
        ram(MiB, 2047 * MiB),
        { 4 * GiB, GiB, 0x7c0000000000ULL, 9, false },
    };
    Type1 t;
    VFIODirectDmaPlan plan;

    type1_init(&t, 65535);
    g_assert(step(&t, base, 1, NULL));
    g_assert(step(&t, plugged, 2, &plan));
    g_assert_cmpuint(plan.unmap->len, ==, 0);
    g_assert_cmpuint(plan.map->len, ==, 1);
    vfio_direct_dma_plan_free(&plan);
    g_assert(step(&t, base, 1, &plan));
    g_assert_cmpuint(plan.unmap->len, ==, 1);
    g_assert_cmpuint(plan.map->len, ==, 0);
    vfio_direct_dma_plan_free(&plan);
    g_assert_cmpuint(t.map_calls, ==, 2);
    type1_free(&t);
}

/* More mappings than DMA_AVAIL: refused before any is made */
static void test_dma_avail(void)
{
    DmaRange many[8];
    Type1 t;
    VFIODirectDmaPlan plan;
    int i;

    for (i = 0; i < 8; i++) {
        many[i] = ram(2 * MiB + i * 4 * MiB, 2 * MiB);
    }
    type1_init(&t, 7);
    g_assert_false(step(&t, many, 8, &plan));
    g_assert_false(plan.fits);
    g_assert_cmpuint(plan.in_use, ==, 8);
    vfio_direct_dma_plan_free(&plan);
    g_assert_cmpuint(t.map_calls, ==, 0);
    /* 7 fit exactly */
    g_assert(step(&t, many, 7, NULL));
    /* then DMA_AVAIL is 0: one more is refused, none is no change */
    g_assert_false(step(&t, many, 8, NULL));
    g_assert(step(&t, many, 7, NULL));
    g_assert_cmpuint(t.map_calls, ==, 7);
    type1_free(&t);
}

/* Congruence of iova and host address, reported for large mappings */
static void test_congruence(void)
{
    DmaRange good[] = { ram(2 * GiB, 2 * GiB) };
    DmaRange off4k[] = {
        { 2 * GiB, 4 * MiB, RAM_HVA + 0x1000, BLK_RAM, false },
    };
    DmaRange off2m[] = {
        { 4 * GiB, 2 * GiB, RAM_HVA + 2 * MiB, BLK_RAM, false },
    };
    Type1 t;
    VFIODirectDmaPlan plan;

    type1_init(&t, 65535);
    g_assert(step(&t, good, 1, &plan));
    g_assert_cmpuint(plan.incongruent_2m + plan.incongruent_1g, ==, 0);
    vfio_direct_dma_plan_free(&plan);
    type1_free(&t);

    type1_init(&t, 65535);
    g_assert(step(&t, off4k, 1, &plan));
    g_assert_cmpuint(plan.incongruent_2m, ==, 1);
    vfio_direct_dma_plan_free(&plan);
    type1_free(&t);

    type1_init(&t, 65535);
    g_assert(step(&t, off2m, 1, &plan));
    g_assert_cmpuint(plan.incongruent_2m, ==, 0);
    g_assert_cmpuint(plan.incongruent_1g, ==, 1);
    vfio_direct_dma_plan_free(&plan);
    type1_free(&t);
}

/*
 * Random section lists over 64 pages of 4 KiB around the window and a
 * RAM tail: every plan is applied to the type1 model, which asserts no
 * unmap bisects a mapping and that the result is exactly what is wanted.
 */
static void test_random(void)
{
    GRand *rand = g_rand_new_with_seed(20261201);
    Type1 t;
    int round;

    type1_init(&t, 65535);
    for (round = 0; round < 2000; round++) {
        DmaRange want[80];
        size_t n = 0;
        uint64_t addr = 0x80000;

        while (addr < 0x180000 && n < ARRAY_SIZE(want)) {
            uint64_t len = 0x1000 * g_rand_int_range(rand, 1, 40);
            int kind = g_rand_int_range(rand, 0, 5);

            len = MIN(len, 0x180000 - addr);
            if (kind == 0) {
                /* a hole */
            } else if (kind == 1) {
                want[n++] = (DmaRange) { addr, len, ROM_HVA + addr,
                                             BLK_ROM, true };
            } else {
                want[n] = ram(addr, len);
                want[n++].readonly = kind == 2;
            }
            addr += len;
        }
        g_assert(step(&t, want, n, NULL));
    }
    type1_free(&t);
    g_rand_free(rand);
}

/*
 * Eviction by another kind of section: which of our mappings it hits,
 * for sections of 2^64 bytes (virtio-iommu) and sections ending at
 * 2^64 (intel-iommu), whose end does not fit in 64 bits.
 */
static void test_overlap_edges(void)
{
    const DmaRange mapped[] = {
        ram(0, 0xa0000),
        ram(MiB, 2047 * MiB),
        ram(4 * GiB, 2 * GiB),
        { UINT64_MAX - 2 * MiB + 1, 2 * MiB, RAM_HVA, BLK_ROM, false },
    };
    const size_t n = ARRAY_SIZE(mapped);
    Int128 all = int128_2_64();
    size_t first, count;

    /* [0, 2^64): all of them */
    first = vfio_direct_dma_plan_overlap(mapped, n, 0, all, &count);
    g_assert_cmpuint(first, ==, 0);
    g_assert_cmpuint(count, ==, n);

    /* [0xfee00000, 2^64): the two above 4 GiB, the last ending at 2^64 */
    first = vfio_direct_dma_plan_overlap(mapped, n, 0xfee00000,
                                         int128_sub(all,
                                                    int128_make64(0xfee00000)),
                                         &count);
    g_assert_cmpuint(first, ==, 2);
    g_assert_cmpuint(count, ==, 2);

    /* the last page of the space only */
    first = vfio_direct_dma_plan_overlap(mapped, n, UINT64_MAX - 0xfff,
                                         int128_make64(0x1000), &count);
    g_assert_cmpuint(first, ==, 3);
    g_assert_cmpuint(count, ==, 1);

    /* touching but not overlapping: the byte before 1 MiB, 2 GiB on */
    first = vfio_direct_dma_plan_overlap(mapped, n, 0xa0000,
                                         int128_make64(MiB - 0xa0000),
                                         &count);
    g_assert_cmpuint(count, ==, 0);
    first = vfio_direct_dma_plan_overlap(mapped, n, 2 * GiB,
                                         int128_make64(2 * GiB), &count);
    g_assert_cmpuint(first, ==, 2);
    g_assert_cmpuint(count, ==, 0);

    /* straddling two mappings' edges */
    first = vfio_direct_dma_plan_overlap(mapped, n, 0x9f000,
                                         int128_make64(MiB), &count);
    g_assert_cmpuint(first, ==, 0);
    g_assert_cmpuint(count, ==, 2);

    /* empty section, empty list */
    vfio_direct_dma_plan_overlap(mapped, n, 0, int128_zero(), &count);
    g_assert_cmpuint(count, ==, 0);
    vfio_direct_dma_plan_overlap(mapped, 0, 0, all, &count);
    g_assert_cmpuint(count, ==, 0);
}

/*
 * What the legacy window may still need: 14 sections at most (VGA or
 * SMRAM, 12 PAM segments of 16 KiB, the 64 KiB BIOS segment), less the
 * mappings it holds; nothing when no RAM is wanted there.  The worst
 * case, every PAM segment with its own attributes, needs exactly that.
 */
static void test_window_reserve(void)
{
    VFIODirectDmaRange realize[] = { ram(0, 64 * MiB) };
    VFIODirectDmaRange high[] = { ram(MiB, 63 * MiB) };
    VFIODirectDmaRange worst[16];
    Type1 t;
    VFIODirectDmaPlan plan;
    size_t n = 0;

    type1_init(&t, 65535);
    g_assert(step(&t, realize, 1, &plan));
    g_assert_cmpuint(plan.window_reserve, ==, VFIO_DIRECT_DMA_WINDOW_MAX - 1);
    vfio_direct_dma_plan_free(&plan);

    /* alternating permissions: one mapping per section */
    worst[n++] = ram(0, 0xa0000);
    worst[n++] = ram(0xa0000, 0x20000);
    for (uint64_t a = 0xc0000; a < 0xf0000; a += 0x4000) {
        worst[n] = ram(a, 0x4000);
        worst[n++].readonly = (a / 0x4000) & 1;
    }
    worst[n++] = (VFIODirectDmaRange) { 0xf0000, 0x10000, RAM_HVA + 0xf0000,
                                  BLK_RAM, true };
    worst[n++] = ram(MiB, 63 * MiB);
    g_assert_cmpuint(n, ==, 16);
    g_assert(step(&t, worst, n, &plan));
    g_assert_cmpuint(plan.in_use, ==, VFIO_DIRECT_DMA_WINDOW_MAX + 2);
    g_assert_cmpuint(plan.window_reserve, ==, 0);
    vfio_direct_dma_plan_free(&plan);
    type1_free(&t);

    type1_init(&t, 65535);
    g_assert(step(&t, high, 1, &plan));
    g_assert_cmpuint(plan.window_reserve, ==, 0);
    vfio_direct_dma_plan_free(&plan);
    type1_free(&t);
}

static VFIODirectDmaOp op(uint64_t job, bool map, uint64_t iova,
                          uint64_t size)
{
    return (VFIODirectDmaOp) { ram(iova, size), job, map };
}

/* Which ranges must wait for queued ops, DMA_AVAIL and bytes ahead */
static void test_queue_counts(void)
{
    const VFIODirectDmaOp ops[] = {
        op(1, false, 0xa0000, 0x60000),
        op(1, true, 0xc0000, 0x4000),
        op(1, true, MiB, 511 * MiB),
        op(2, true, 4 * GiB, GiB),
    };

    /* overlaps: touching is not overlapping; 2^64 sections */
    g_assert(vfio_direct_dma_queue_overlaps(ops, 4, 0xbf000,
                                            int128_make64(0x1000)));
    g_assert_false(vfio_direct_dma_queue_overlaps(ops, 4, 512 * MiB,
                                                  int128_make64(GiB)));
    g_assert(vfio_direct_dma_queue_overlaps(ops, 4, 0, int128_2_64()));
    g_assert(vfio_direct_dma_queue_overlaps(ops, 4, 5 * GiB - 1,
                                            int128_sub(int128_2_64(),
                                                int128_make64(5 * GiB - 1))));
    g_assert_false(vfio_direct_dma_queue_overlaps(ops, 4, 5 * GiB,
                                                  int128_sub(int128_2_64(),
                                                      int128_make64(5 * GiB))));
    g_assert_false(vfio_direct_dma_queue_overlaps(ops, 0, 0, int128_2_64()));

    /* avail: 3 maps and 1 unmap ahead; unknown stays unknown */
    g_assert_cmpint(vfio_direct_dma_queue_avail_of(10, ops, 4, 0), ==, 7);
    /* the unmap in flight may not have freed its entry yet */
    g_assert_cmpint(vfio_direct_dma_queue_avail_of(10, ops, 4, 0), ==,
                    10 - 3 + 1 - 1);
    g_assert_cmpint(vfio_direct_dma_queue_avail_of(10, ops, 4, 1), ==, 7);
    g_assert_cmpint(vfio_direct_dma_queue_avail_of(1, ops, 4, 1), ==, 0);
    g_assert_cmpint(vfio_direct_dma_queue_avail_of(-1, ops, 4, 0), ==, -1);

    g_assert_cmphex(vfio_direct_dma_queue_map_bytes(ops, 4, 0), ==,
                    0x4000 + 511 * MiB + GiB);
    g_assert_cmphex(vfio_direct_dma_queue_map_bytes(ops, 4, 3), ==, GiB);
}

/*
 * A failed job: the planner's view, which counted every queued op as
 * done, is brought back to what the kernel holds, checked against the
 * type1 model that ran the ops up to the failure, the rollback of the
 * failed job, and nothing after it.
 */
static void test_queue_revert(void)
{
    /*
     * job 1 maps R; job 2 (failing at its 2nd map) unmaps R, maps two;
     * job 3 unmaps the low RAM and maps it again smaller
     */
    const VFIODirectDmaRange r = ram(MiB, 63 * MiB);
    const VFIODirectDmaOp ops[] = {
        op(1, true, 0, 0xa0000),
        op(1, true, MiB, 63 * MiB),
        op(2, false, MiB, 63 * MiB),
        op(2, true, MiB, 31 * MiB),
        op(2, true, 32 * MiB, 32 * MiB),
        op(3, false, 0, 0xa0000),
        op(3, true, 0, 0x9f000),
    };
    g_autoptr(GArray) undo = g_array_new(false, false,
                                         sizeof(VFIODirectDmaOp));
    GArray *view = g_array_new(false, false, sizeof(VFIODirectDmaRange));
    Type1 t;
    guint i;

    /* the view counts all of them done */
    g_array_append_val(view, ops[5 + 1].r);
    g_array_append_val(view, ops[3].r);
    g_array_append_val(view, ops[4].r);

    /* the kernel: job 1 done, job 2's unmap done, its 1st map rolled back */
    type1_init(&t, 65535);
    type1_map(&t, &ops[0].r);
    type1_map(&t, &ops[1].r);
    type1_unmap(&t, r.iova, r.size);

    vfio_direct_dma_queue_revert(ops + 2, 5, 2, undo);
    for (i = 0; i < undo->len; i++) {
        VFIODirectDmaOp *u = &g_array_index(undo, VFIODirectDmaOp, i);
        guint k;

        if (u->map) {
            for (k = 0; k < view->len &&
                 g_array_index(view, VFIODirectDmaRange, k).iova < u->r.iova;
                 k++) {
                /* sorted insert */
            }
            g_array_insert_val(view, k, u->r);
        } else {
            for (k = 0; k < view->len; k++) {
                VFIODirectDmaRange *v =
                    &g_array_index(view, VFIODirectDmaRange, k);

                if (v->iova == u->r.iova && v->size == u->r.size) {
                    break;
                }
            }
            g_assert_cmpuint(k, <, view->len);
            g_array_remove_index(view, k);
        }
    }
    g_assert_cmpuint(view->len, ==, t.maps->len);
    for (i = 0; i < view->len; i++) {
        VFIODirectDmaRange *v = &g_array_index(view, VFIODirectDmaRange, i);
        VFIODirectDmaRange *m = &g_array_index(t.maps, VFIODirectDmaRange, i);

        g_assert_cmphex(v->iova, ==, m->iova);
        g_assert_cmphex(v->size, ==, m->size);
    }
    g_array_free(view, true);
    type1_free(&t);
}

/*
 * A peer BAR's mapping queued behind the planner's jobs: an unmap of
 * it cancels the last queued map of exactly its range, not one a later
 * op touches or one the worker may have started; a failed job's revert
 * leaves peer ops out of the planner's view.
 */
static void test_queue_peer(void)
{
    const uint64_t bar = 0xfe000000;
    VFIODirectDmaOp ops[] = {
        op(1, true, 0, 2 * GiB),
        op(2, true, bar, 64 * KiB),
        op(3, false, bar, 64 * KiB),
        op(4, true, bar, 64 * KiB),
    };
    g_autoptr(GArray) undo = g_array_new(false, false,
                                         sizeof(VFIODirectDmaOp));

    ops[1].peer = ops[2].peer = ops[3].peer = true;
    /* the last map, not the first that the unmap after it undid */
    g_assert_cmpint(vfio_direct_dma_queue_peer_map(ops, 4, 1, bar,
                                                   64 * KiB), ==, 3);
    /* only the exact range; [from, n) only */
    g_assert_cmpint(vfio_direct_dma_queue_peer_map(ops, 4, 1, bar,
                                                   4 * KiB), ==, -1);
    g_assert_cmpint(vfio_direct_dma_queue_peer_map(ops, 2, 2, bar,
                                                   64 * KiB), ==, -1);
    /* an unmap queued after the map: it must run in order */
    g_assert_cmpint(vfio_direct_dma_queue_peer_map(ops, 3, 1, bar,
                                                   64 * KiB), ==, -1);
    /* planner ops are never cancelled */
    g_assert_cmpint(vfio_direct_dma_queue_peer_map(ops, 1, 0, 0,
                                                   2 * GiB), ==, -1);

    /* job 1 failed: one step (remove RAM), none for the peer ops */
    vfio_direct_dma_queue_revert(ops, 4, 1, undo);
    g_assert_cmpuint(undo->len, ==, 1);
    g_assert_false(g_array_index(undo, VFIODirectDmaOp, 0).map);
    g_assert_cmphex(g_array_index(undo, VFIODirectDmaOp, 0).r.size, ==,
                    2 * GiB);
}

/*
 * Random queues: jobs that each unmap some of what the jobs before them
 * left mapped, then map free slots (a slot just unmapped included, as
 * the PAM split does), one job failing at a random one of its maps.
 * The type1 model runs what the worker runs: the jobs before the failed
 * one, the failed job's unmaps and its maps up to the failure, those
 * rolled back, nothing after.  The planner's view ran every op; revert
 * (given the jobs before the failed one too, which it must skip) brings
 * it back to exactly the model's mappings.
 */
static void test_queue_revert_random(void)
{
    enum { SLOTS = 48 };
    GRand *rand = g_rand_new_with_seed(20261207);

    for (int round = 0; round < 300; round++) {
        g_autoptr(GArray) ops = g_array_new(false, false,
                                            sizeof(VFIODirectDmaOp));
        g_autoptr(GArray) undo = g_array_new(false, false,
                                             sizeof(VFIODirectDmaOp));
        bool view[SLOTS] = { false };
        unsigned jobs = g_rand_int_range(rand, 1, 6);
        uint64_t failed = g_rand_int_range(rand, 1, jobs + 1);
        unsigned n = 0;
        Type1 t;
        guint i;

        type1_init(&t, 65535);
        for (uint64_t job = 1; job <= jobs; job++) {
            int maps[SLOTS], nmaps = 0, fail_at;
            bool ran = job <= failed;

            for (int k = 0; k < SLOTS; k++) {
                if (view[k] && !g_rand_int_range(rand, 0, 3)) {
                    VFIODirectDmaOp o = op(job, false, GiB + k * 2 * MiB,
                                           2 * MiB);

                    g_array_append_val(ops, o);
                    view[k] = false;
                    if (ran) {
                        type1_unmap(&t, o.r.iova, o.r.size);
                    }
                }
            }
            for (int k = 0; k < SLOTS; k++) {
                if (!view[k] && !g_rand_int_range(rand, 0, 4)) {
                    maps[nmaps++] = k;
                }
            }
            if (!nmaps) {
                for (int k = 0; k < SLOTS && !nmaps; k++) {
                    if (!view[k]) {
                        maps[nmaps++] = k;
                    }
                }
            }
            fail_at = job == failed ? g_rand_int_range(rand, 0, nmaps) : -1;
            for (int m = 0; m < nmaps; m++) {
                VFIODirectDmaOp o = op(job, true, GiB + maps[m] * 2 * MiB,
                                       2 * MiB);

                g_array_append_val(ops, o);
                view[maps[m]] = true;
                if (job < failed || (job == failed && m < fail_at)) {
                    type1_map(&t, &o.r);
                }
            }
            if (job == failed) {
                /* the worker's rollback of what this job mapped */
                for (int m = fail_at; m-- > 0;) {
                    type1_unmap(&t, GiB + maps[m] * 2 * MiB, 2 * MiB);
                }
            }
        }

        vfio_direct_dma_queue_revert((VFIODirectDmaOp *)ops->data, ops->len,
                                     failed, undo);
        for (i = 0; i < undo->len; i++) {
            VFIODirectDmaOp *u = &g_array_index(undo, VFIODirectDmaOp, i);
            int k = (u->r.iova - GiB) / (2 * MiB);

            g_assert_cmpuint(u->job, >=, failed);
            g_assert(view[k] != u->map);
            view[k] = u->map;
        }
        for (int k = 0; k < SLOTS; k++) {
            n += view[k];
            g_assert(view[k] == is_mapped(&t, GiB + k * 2 * MiB, 2 * MiB));
        }
        g_assert_cmpuint(n, ==, t.maps->len);
        type1_free(&t);
    }
    g_rand_free(rand);
}

/* mincore() that checks the chunk bound and counts its calls */
static unsigned mincore_calls;
static size_t mincore_pagesize;

static int mincore_bounded(void *addr, size_t len, unsigned char *vec)
{
    g_assert_cmpuint(len, <=,
                     VFIO_DIRECT_PREFAULT_CHUNK_PAGES * mincore_pagesize);
    g_assert_cmpuint(len % mincore_pagesize, ==, 0);
    mincore_calls++;
    return mincore(addr, len, vec);
}

/*
 * Residency of a real anonymous mapping of 2.5 chunks, checked by the
 * kernel's mincore() in bounded chunks: untouched, populated, and with
 * one page dropped in the last (partial) chunk.
 */
static void test_prefault_resident(void)
{
    size_t ps = qemu_real_host_page_size();
    size_t chunk = VFIO_DIRECT_PREFAULT_CHUNK_PAGES * ps;
    size_t len = 2 * chunk + chunk / 2;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    g_assert(p != MAP_FAILED);
    mincore_pagesize = ps;
    mincore_calls = 0;
    g_assert_false(vfio_direct_prefault_resident(mincore_bounded, p, len, ps));
    /* the first page is not resident: no more calls than one */
    g_assert_cmpuint(mincore_calls, ==, 1);

    memset(p, 1, len);
    mincore_calls = 0;
    g_assert(vfio_direct_prefault_resident(mincore_bounded, p, len, ps));
    g_assert_cmpuint(mincore_calls, ==, 3);

    g_assert_cmpint(madvise(p + len - ps, ps, MADV_DONTNEED), ==, 0);
    g_assert_false(vfio_direct_prefault_resident(mincore_bounded, p, len,
                                                 ps));
    /* the part before the dropped page is still all resident */
    g_assert(vfio_direct_prefault_resident(mincore_bounded, p, len - ps,
                                           ps));
    munmap(p, len);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vfio-direct/dma/q35-boot", test_q35_boot);
    g_test_add_func("/vfio-direct/dma/merge", test_merge);
    g_test_add_func("/vfio-direct/dma/holes", test_holes);
    g_test_add_func("/vfio-direct/dma/remove-middle", test_remove_middle);
    g_test_add_func("/vfio-direct/dma/overlap", test_overlap);
    g_test_add_func("/vfio-direct/dma/window-edges", test_window_edges);
    g_test_add_func("/vfio-direct/dma/hotplug", test_hotplug);
    g_test_add_func("/vfio-direct/dma/dma-avail", test_dma_avail);
    g_test_add_func("/vfio-direct/dma/congruence", test_congruence);
    g_test_add_func("/vfio-direct/dma/random", test_random);
    g_test_add_func("/vfio-direct/dma/overlap-edges", test_overlap_edges);
    g_test_add_func("/vfio-direct/dma/window-reserve", test_window_reserve);
    g_test_add_func("/vfio-direct/dma/queue/counts", test_queue_counts);
    g_test_add_func("/vfio-direct/dma/queue/revert", test_queue_revert);
    g_test_add_func("/vfio-direct/dma/queue/peer", test_queue_peer);
    g_test_add_func("/vfio-direct/dma/queue/revert-random",
                    test_queue_revert_random);
    g_test_add_func("/vfio-direct/dma/prefault-resident",
                    test_prefault_resident);
    return g_test_run();
}
