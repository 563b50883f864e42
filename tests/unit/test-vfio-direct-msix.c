/*
 * Unit tests of vfio-direct's MSI-X decisions: the emulation policy, the
 * host pages of the table and PBA, carving them out of mmap areas, and
 * where x-msix-relocation=auto moves them.  Layouts are those of the
 * devices the test bed passes through (e1000e, nvme, qemu-xhci), on 4 KiB
 * and 64 KiB host pages.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include <linux/vfio.h>
#include "hw/vfio/direct/msix-plan.h"

static void test_policy(void)
{
    static const struct {
        OnOffAuto setting;
        bool firmware_msi;
        VFIODirectMsixPolicy expected;
    } cases[] = {
        { ON_OFF_AUTO_AUTO, false, VFIO_DIRECT_MSIX_EMULATE },
        { ON_OFF_AUTO_AUTO, true, VFIO_DIRECT_MSIX_PASS },
        { ON_OFF_AUTO_ON, false, VFIO_DIRECT_MSIX_EMULATE },
        { ON_OFF_AUTO_ON, true, VFIO_DIRECT_MSIX_EMULATE },
        { ON_OFF_AUTO_OFF, false, VFIO_DIRECT_MSIX_REFUSED },
        { ON_OFF_AUTO_OFF, true, VFIO_DIRECT_MSIX_PASS },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        g_assert_cmpint(vfio_direct_msix_policy(cases[i].setting,
                                                cases[i].firmware_msi),
                        ==, cases[i].expected);
    }
}

static void test_sizes(void)
{
    g_assert_cmpuint(vfio_direct_msix_table_size(5), ==, 80);
    g_assert_cmpuint(vfio_direct_msix_pba_size(5), ==, 8);
    g_assert_cmpuint(vfio_direct_msix_table_size(65), ==, 1040);
    g_assert_cmpuint(vfio_direct_msix_pba_size(65), ==, 16);
    g_assert_cmpuint(vfio_direct_msix_pba_size(64), ==, 8);
    g_assert_cmpuint(vfio_direct_msix_table_size(2048), ==, 32 * KiB);
    g_assert_cmpuint(vfio_direct_msix_pba_size(2048), ==, 256);
}

typedef struct SpanCase {
    uint64_t offset, size, bar_size, page_size;
    uint64_t start, end;
} SpanCase;

static void test_page_span(void)
{
    static const SpanCase cases[] = {
        /* e1000e BAR3: table at 0 (5 vectors), PBA at 0x2000 */
        { 0, 80, 16 * KiB, 4 * KiB, 0, 0x1000 },
        { 0x2000, 8, 16 * KiB, 4 * KiB, 0x2000, 0x3000 },
        /* nvme BAR0: table at 0x2000 (65 vectors), next to the doorbells */
        { 0x2000, 1040, 16 * KiB, 4 * KiB, 0x2000, 0x3000 },
        /* qemu-xhci BAR0: table at 0x3000 (16 vectors), PBA at 0x3800 */
        { 0x3000, 256, 16 * KiB, 4 * KiB, 0x3000, 0x4000 },
        { 0x3800, 8, 16 * KiB, 4 * KiB, 0x3000, 0x4000 },
        /* 64 KiB pages: a 16 KiB BAR is one page, grown */
        { 0x2000, 1040, 16 * KiB, 64 * KiB, 0, 64 * KiB },
        { 0, 80, 16 * KiB, 64 * KiB, 0, 64 * KiB },
        /* a table across a page boundary takes both pages */
        { 0xf80, 256, 64 * KiB, 4 * KiB, 0, 0x2000 },
        /* a big BAR on 64 KiB pages: only the table's page */
        { 0x12000, 2048 * 16, 1 * MiB, 64 * KiB, 0x10000, 0x20000 },
        /* nothing, or past the BAR */
        { 0x1000, 0, 16 * KiB, 4 * KiB, 0, 0 },
        { 0x8000, 16, 16 * KiB, 4 * KiB, 0, 0 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const SpanCase *c = &cases[i];
        uint64_t start, end;

        vfio_direct_msix_page_span(c->offset, c->size, c->bar_size,
                                   c->page_size, &start, &end);
        g_assert_cmphex(start, ==, c->start);
        g_assert_cmphex(end, ==, c->end);
    }
}

typedef struct CarveCase {
    unsigned n;
    VFIODirectArea in[2];
    uint64_t hole_offset, hole_size, page_size;
    unsigned expected_n;
    VFIODirectArea expected[3];
} CarveCase;

static void test_carve(void)
{
    static const CarveCase cases[] = {
        /* nvme BAR0, 4 KiB: the table's page splits the mapping */
        { 1, { { 0, 0x4000 } }, 0x2000, 1040, 4 * KiB,
          2, { { 0, 0x2000 }, { 0x3000, 0x1000 } } },
        /* e1000e BAR3, 4 KiB: the table at the start */
        { 1, { { 0, 0x4000 } }, 0, 80, 4 * KiB,
          1, { { 0x1000, 0x3000 } } },
        /* qemu-xhci BAR0, 4 KiB: the table in the last page */
        { 1, { { 0, 0x4000 } }, 0x3000, 256, 4 * KiB,
          1, { { 0, 0x3000 } } },
        /* 64 KiB pages: a 16 KiB BAR's table takes its only page */
        { 1, { { 0, 0x4000 } }, 0x2000, 1040, 64 * KiB, 0, { } },
        /* the kernel already left the table out (sparse mmap) */
        { 2, { { 0, 0x2000 }, { 0x3000, 0x1000 } }, 0x2000, 1040, 4 * KiB,
          2, { { 0, 0x2000 }, { 0x3000, 0x1000 } } },
        /* a hole in the second of two areas */
        { 2, { { 0, 0x1000 }, { 0x2000, 0x6000 } }, 0x5000, 16, 4 * KiB,
          3, { { 0, 0x1000 }, { 0x2000, 0x3000 }, { 0x6000, 0x2000 } } },
        /* no table: nothing changes */
        { 1, { { 0, 0x4000 } }, 0x2000, 0, 4 * KiB,
          1, { { 0, 0x4000 } } },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const CarveCase *c = &cases[i];
        VFIODirectArea out[3];
        unsigned n;

        n = vfio_direct_msix_carve(c->in, c->n, c->hole_offset, c->hole_size,
                                   c->page_size, out);
        g_assert_cmpuint(n, ==, c->expected_n);
        for (unsigned j = 0; j < n; j++) {
            g_assert_cmphex(out[j].offset, ==, c->expected[j].offset);
            g_assert_cmphex(out[j].size, ==, c->expected[j].size);
            g_assert_cmphex(out[j].offset % c->page_size, ==, 0);
        }
    }
}

#define MEM32(size) { (size), false, false }
#define MEM64(size) { (size), false, true }
#define IO(size) { (size), true, false }
#define UNUSED { 0, false, false }

typedef struct RelocationCase {
    const char *what;
    VFIODirectMsixSlot slots[6];
    int expected;
    bool new_bar;
} RelocationCase;

static void test_relocation_target(void)
{
    static const RelocationCase cases[] = {
        { "nvme: BAR0 64-bit, a new 64-bit BAR in 2-3",
          { MEM64(16 * KiB), UNUSED, UNUSED, UNUSED, UNUSED, UNUSED },
          2, true },
        { "e1000e: BARs 0-3 used, a new 64-bit BAR in 4-5",
          { MEM32(128 * KiB), MEM32(128 * KiB), IO(32), MEM32(16 * KiB),
            UNUSED, UNUSED }, 4, true },
        { "only slot 5 free: a new 32-bit BAR",
          { MEM32(4 * KiB), MEM32(4 * KiB), MEM32(4 * KiB), MEM32(4 * KiB),
            MEM32(4 * KiB), UNUSED }, 5, true },
        { "slot 3 free but slot 4 is not: 32-bit in 3",
          { MEM64(1 * MiB), UNUSED, MEM32(4 * KiB), UNUSED, MEM32(8 * KiB),
            MEM32(8 * KiB) }, 3, true },
        { "the upper half of a 64-bit BAR is not free: the first of the "
          "smallest doubles",
          { MEM32(4 * KiB), MEM32(4 * KiB), MEM32(4 * KiB), MEM32(4 * KiB),
            MEM64(4 * KiB), UNUSED }, 0, false },
        { "all used: the smallest memory BAR doubles",
          { MEM32(64 * KiB), IO(32), MEM32(16 * KiB), MEM64(1 * MiB), UNUSED,
            MEM32(8 * KiB) }, 5, false },
        { "a 32-bit BAR over 1 GiB cannot double, a 64-bit one can",
          { MEM32(2 * GiB), MEM64(4 * GiB), UNUSED, IO(256), IO(256),
            IO(256) }, 1, false },
        { "nothing can take it",
          { IO(32), IO(32), IO(32), IO(32), IO(32), MEM32(2 * GiB) },
          -1, false },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const RelocationCase *c = &cases[i];
        bool new_bar;
        int got = vfio_direct_msix_relocation_target(c->slots, &new_bar);

        if (got != c->expected || (got >= 0 && new_bar != c->new_bar)) {
            g_test_message("%s: got slot %d (new %d)", c->what, got, new_bar);
            g_test_fail();
        }
    }
}

/* MSIX_MAPPABLE counts only where the region is mapped */
static void test_mappable_answer(void)
{
    const uint32_t rw = VFIO_REGION_INFO_FLAG_READ |
                        VFIO_REGION_INFO_FLAG_WRITE;
    const char *why;

    g_assert_true(vfio_direct_msix_mappable_answer(
                      true, rw | VFIO_REGION_INFO_FLAG_MMAP, 1, &why));
    g_assert_null(why);
    /* No capability: a stock answer, nothing to say */
    g_assert_false(vfio_direct_msix_mappable_answer(
                       false, rw | VFIO_REGION_INFO_FLAG_MMAP, 1, &why));
    g_assert_null(why);
    /* The capability on a region without MMAP: odd, ignored, said */
    g_assert_false(vfio_direct_msix_mappable_answer(true, rw, 0, &why));
    g_assert_nonnull(strstr(why, "MSIX_MAPPABLE on a region it does not "
                            "allow to mmap"));
    /* MMAP, but every mmap was dropped as odd (or x-no-mmap): trapped */
    g_assert_false(vfio_direct_msix_mappable_answer(
                       true, rw | VFIO_REGION_INFO_FLAG_MMAP, 0, &why));
    g_assert_null(why);
}

/*
 * MSI isolation: vfio's allow_unsafe_interrupts off proves it, whatever
 * the kernel says; MSIX_MAPPABLE proves it only from a kernel of the
 * series (MMAP_SPAN), since stock kernels report it without isolation
 * (intremap=off with allow_unsafe_interrupts=1).
 */
static void test_isolation(void)
{
    static const struct {
        bool mappable, span;
        int unsafe;
        VfioMsiIsolation expected;
    } cases[] = {
        { true, false, 0, VFIO_MSI_ISOLATION_VFIO },
        { false, false, 0, VFIO_MSI_ISOLATION_VFIO },
        { true, true, 0, VFIO_MSI_ISOLATION_VFIO },
        { true, true, 1, VFIO_MSI_ISOLATION_KERNEL },
        { true, true, -1, VFIO_MSI_ISOLATION_KERNEL },
        /* the stock kernel under allow_unsafe_interrupts=1 */
        { true, false, 1, VFIO_MSI_ISOLATION_UNKNOWN },
        { true, false, -1, VFIO_MSI_ISOLATION_UNKNOWN },
        /* the series without isolated MSI: no MSIX_MAPPABLE */
        { false, true, 1, VFIO_MSI_ISOLATION_UNKNOWN },
        { false, false, 1, VFIO_MSI_ISOLATION_UNKNOWN },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        g_assert_cmpint(vfio_direct_msix_isolation(cases[i].mappable,
                                                   cases[i].span,
                                                   cases[i].unsafe), ==,
                        cases[i].expected);
    }
}

/* A relocated table's old pages: direct only with isolation known */
static void test_old_table_direct(void)
{
    static const VfioMsiIsolation known[] = {
        VFIO_MSI_ISOLATION_KERNEL, VFIO_MSI_ISOLATION_VFIO,
    };

    for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
        g_assert_true(vfio_direct_msix_old_table_direct(known[i], true,
                                                        false));
        g_assert_true(vfio_direct_msix_old_table_direct(known[i], false,
                                                        true));
        g_assert_false(vfio_direct_msix_old_table_direct(known[i], false,
                                                         false));
    }
    for (int m = 0; m < 4; m++) {
        g_assert_false(vfio_direct_msix_old_table_direct(
                           VFIO_MSI_ISOLATION_UNKNOWN, m & 1, m & 2));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vfio-direct/msix/policy", test_policy);
    g_test_add_func("/vfio-direct/msix/isolation", test_isolation);
    g_test_add_func("/vfio-direct/msix/old-table-direct",
                    test_old_table_direct);
    g_test_add_func("/vfio-direct/msix/sizes", test_sizes);
    g_test_add_func("/vfio-direct/msix/page-span", test_page_span);
    g_test_add_func("/vfio-direct/msix/carve", test_carve);
    g_test_add_func("/vfio-direct/msix/relocation-target",
                    test_relocation_target);
    g_test_add_func("/vfio-direct/msix/mappable-answer",
                    test_mappable_answer);
    return g_test_run();
}
