/*
 * Unit tests of vfio-direct's sub-page BAR page arithmetic
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "hw/vfio/direct/subpage-plan.h"

#define UNMAPPED UINT64_MAX

typedef struct PlanCase {
    uint64_t addr;
    uint64_t size;
    bool mmap_granted;
    bool page_shared;
    VFIODirectSubpageState expected;
} PlanCase;

static void check_plan(uint64_t page_size, const PlanCase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const PlanCase *c = &cases[i];
        VFIODirectSubpageState got;

        got = vfio_direct_subpage_plan(c->addr, c->size, page_size,
                                       c->mmap_granted, c->page_shared);
        if (got != c->expected) {
            g_test_message("page 0x%" PRIx64 " case %zu: addr 0x%" PRIx64
                           " size 0x%" PRIx64 ": got %d, expected %d",
                           page_size, i, c->addr, c->size, got, c->expected);
        }
        g_assert_cmpint(got, ==, c->expected);
    }
}

static void test_plan_4k(void)
{
    static const PlanCase cases[] = {
        /* sdhci-pci: 256 bytes */
        { 0xfebf0000, 0x100, true, false, VFIO_DIRECT_SUBPAGE_DIRECT },
        { 0xfebf0100, 0x100, true, false, VFIO_DIRECT_SUBPAGE_UNALIGNED },
        { 0xfebf0000, 0x100, true, true, VFIO_DIRECT_SUBPAGE_SHARED },
        { 0xfebf0000, 0x100, false, false, VFIO_DIRECT_SUBPAGE_NO_MMAP },
        { UNMAPPED, 0x100, true, false, VFIO_DIRECT_SUBPAGE_UNMAPPED },
        /* i6300esb, pvpanic-pci: 16 bytes */
        { 0x1000, 0x10, true, false, VFIO_DIRECT_SUBPAGE_DIRECT },
        { 0x1010, 0x10, true, false, VFIO_DIRECT_SUBPAGE_UNALIGNED },
        /* 64-bit BAR above 4G, largest sub-page size */
        { 0x800000000ULL, 0x800, true, false, VFIO_DIRECT_SUBPAGE_DIRECT },
        /* a whole page or more is not ours */
        { 0xfebf0000, 0x1000, true, false, VFIO_DIRECT_SUBPAGE_NONE },
        { 0xfebf0000, 0x20000, true, false, VFIO_DIRECT_SUBPAGE_NONE },
        { UNMAPPED, 0, true, false, VFIO_DIRECT_SUBPAGE_NONE },
    };

    check_plan(4 * KiB, cases, ARRAY_SIZE(cases));
}

static void test_plan_64k(void)
{
    static const PlanCase cases[] = {
        { 0x200000000ULL, 0x100, true, false, VFIO_DIRECT_SUBPAGE_DIRECT },
        /* 4 KiB-aligned is not enough on a 64 KiB host */
        { 0x200001000ULL, 0x100, true, false, VFIO_DIRECT_SUBPAGE_UNALIGNED },
        { 0x20000f000ULL, 0x10, true, false, VFIO_DIRECT_SUBPAGE_UNALIGNED },
        { 0x200010000ULL, 0x10, true, true, VFIO_DIRECT_SUBPAGE_SHARED },
        { 0x200010000ULL, 0x10, false, false, VFIO_DIRECT_SUBPAGE_NO_MMAP },
        /* 4 KiB and 16 KiB BARs are sub-page here */
        { 0x200020000ULL, 0x1000, true, false, VFIO_DIRECT_SUBPAGE_DIRECT },
        { 0x200024000ULL, 0x4000, true, false, VFIO_DIRECT_SUBPAGE_UNALIGNED },
        { 0x200020000ULL, 0x10000, true, false, VFIO_DIRECT_SUBPAGE_NONE },
    };

    check_plan(64 * KiB, cases, ARRAY_SIZE(cases));
}

static void test_guest_size(void)
{
    /* page-align off: the guest sees the real size */
    g_assert_cmpuint(vfio_direct_subpage_guest_size(0x100, 4 * KiB, false),
                     ==, 0x100);
    /* page-align on: one host page, whatever the page size */
    g_assert_cmpuint(vfio_direct_subpage_guest_size(0x100, 4 * KiB, true),
                     ==, 4 * KiB);
    g_assert_cmpuint(vfio_direct_subpage_guest_size(0x10, 64 * KiB, true),
                     ==, 64 * KiB);
    g_assert_cmpuint(vfio_direct_subpage_guest_size(0x4000, 64 * KiB, true),
                     ==, 64 * KiB);
    /* BARs of a page or more are left alone */
    g_assert_cmpuint(vfio_direct_subpage_guest_size(0x1000, 4 * KiB, true),
                     ==, 0x1000);
    g_assert_cmpuint(vfio_direct_subpage_guest_size(0x20000, 64 * KiB, true),
                     ==, 0x20000);
    g_assert_cmpuint(vfio_direct_subpage_guest_size(0, 64 * KiB, true),
                     ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vfio-direct/subpage/plan-4k", test_plan_4k);
    g_test_add_func("/vfio-direct/subpage/plan-64k", test_plan_64k);
    g_test_add_func("/vfio-direct/subpage/guest-size", test_guest_size);
    return g_test_run();
}
