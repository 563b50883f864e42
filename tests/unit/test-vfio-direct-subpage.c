/*
 * Unit tests of vfio-direct's sub-page BAR decisions
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "hw/vfio/direct/subpage-plan.h"

#define UNMAPPED UINT64_MAX

/* Expected states, short enough for one case per line */
#define DIRECT VFIO_SUBPAGE_STATE_DIRECT
#define UNALIGNED VFIO_SUBPAGE_STATE_UNALIGNED
#define SHARED VFIO_SUBPAGE_STATE_PAGE_SHARED
#define NO_MMAP VFIO_SUBPAGE_STATE_NO_MMAP
#define UNMAPPED_BAR VFIO_SUBPAGE_STATE_UNMAPPED
#define NOT_SUBPAGE VFIO_SUBPAGE_STATE_NOT_SUBPAGE
#define QUIRK VFIO_SUBPAGE_STATE_QUIRK

typedef struct PlanCase {
    uint64_t addr;
    uint64_t size;
    bool mmap_granted;
    bool page_shared;
    bool quirk;
    VfioSubpageState expected;
} PlanCase;

static void check_plan(uint64_t page_size, const PlanCase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const PlanCase *c = &cases[i];
        VfioSubpageState got;

        got = vfio_direct_subpage_plan(c->addr, c->size, page_size,
                                       c->mmap_granted, c->page_shared,
                                       c->quirk);
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
        { 0xfebf0000, 0x100, true, false, false, DIRECT },
        { 0xfebf0100, 0x100, true, false, false, UNALIGNED },
        { 0xfebf0000, 0x100, true, true, false, SHARED },
        { 0xfebf0000, 0x100, false, false, false, NO_MMAP },
        { UNMAPPED, 0x100, true, false, false, UNMAPPED_BAR },
        /* a quirk traps some registers: never direct, other reasons first */
        { 0xfebf0000, 0x100, true, false, true, QUIRK },
        { 0xfebf0100, 0x100, true, false, true, UNALIGNED },
        { 0xfebf0000, 0x100, false, false, true, NO_MMAP },
        /* i6300esb, pvpanic-pci: 16 bytes */
        { 0x1000, 0x10, true, false, false, DIRECT },
        { 0x1010, 0x10, true, false, false, UNALIGNED },
        /* 64-bit BAR above 4G, largest sub-page size */
        { 0x800000000ULL, 0x800, true, false, false, DIRECT },
        /* a whole page or more is not ours */
        { 0xfebf0000, 0x1000, true, false, false, NOT_SUBPAGE },
        { 0xfebf0000, 0x20000, true, false, false, NOT_SUBPAGE },
        { UNMAPPED, 0, true, false, false, NOT_SUBPAGE },
    };

    check_plan(4 * KiB, cases, ARRAY_SIZE(cases));
}

static void test_plan_64k(void)
{
    static const PlanCase cases[] = {
        { 0x200000000ULL, 0x100, true, false, false, DIRECT },
        /* 4 KiB-aligned is not enough on a 64 KiB host */
        { 0x200001000ULL, 0x100, true, false, false, UNALIGNED },
        { 0x20000f000ULL, 0x10, true, false, false, UNALIGNED },
        { 0x200010000ULL, 0x10, true, true, false, SHARED },
        { 0x200010000ULL, 0x10, false, false, false, NO_MMAP },
        /* 4 KiB and 16 KiB BARs are sub-page here */
        { 0x200020000ULL, 0x1000, true, false, false, DIRECT },
        { 0x200024000ULL, 0x4000, true, false, false, UNALIGNED },
        { 0x200020000ULL, 0x10000, true, false, false, NOT_SUBPAGE },
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

/* auto never makes the guest ABI of a migratable device host-dependent */
static void test_page_align(void)
{
    static const struct {
        OnOffAuto setting;
        bool granted, migratable, expected;
    } cases[] = {
        { ON_OFF_AUTO_ON, false, false, true },
        { ON_OFF_AUTO_ON, true, true, true },
        { ON_OFF_AUTO_OFF, true, false, false },
        { ON_OFF_AUTO_AUTO, true, false, true },
        { ON_OFF_AUTO_AUTO, false, false, false },
        { ON_OFF_AUTO_AUTO, true, true, false },
        { ON_OFF_AUTO_AUTO, false, true, false },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        g_assert_cmpint(vfio_direct_subpage_page_align(cases[i].setting,
                                                       cases[i].granted,
                                                       cases[i].migratable),
                        ==, cases[i].expected);
    }
}

/* Trapped: what the guest sized, mmap detached; direct: the whole page. */
static void test_layout(void)
{
    VFIODirectSubpageLayout l;

    l = vfio_direct_subpage_layout(VFIO_SUBPAGE_STATE_DIRECT, 0x100, 4 * KiB,
                                   false);
    g_assert_cmpuint(l.container_size, ==, 4 * KiB);
    g_assert_cmpint(l.container_priority, ==, 0);
    g_assert_cmpuint(l.region_size, ==, 4 * KiB);
    g_assert_cmpuint(l.mmap_size, ==, 4 * KiB);

    l = vfio_direct_subpage_layout(VFIO_SUBPAGE_STATE_DIRECT, 0x10, 64 * KiB,
                                   true);
    g_assert_cmpuint(l.container_size, ==, 64 * KiB);
    g_assert_cmpint(l.container_priority, ==, 1);
    g_assert_cmpuint(l.mmap_size, ==, 64 * KiB);

    for (VfioSubpageState s = 0; s < VFIO_SUBPAGE_STATE__MAX; s++) {
        if (s == VFIO_SUBPAGE_STATE_DIRECT) {
            continue;
        }
        l = vfio_direct_subpage_layout(s, 0x100, 4 * KiB, false);
        g_assert_cmpuint(l.container_size, ==, 0x100);
        g_assert_cmpint(l.container_priority, ==, 1);
        g_assert_cmpuint(l.region_size, ==, 0x100);
        g_assert_cmpuint(l.mmap_size, ==, 0);

        l = vfio_direct_subpage_layout(s, 0x100, 64 * KiB, true);
        g_assert_cmpuint(l.container_size, ==, 64 * KiB);
        g_assert_cmpint(l.container_priority, ==, 1);
        g_assert_cmpuint(l.region_size, ==, 64 * KiB);
        g_assert_cmpuint(l.mmap_size, ==, 0);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vfio-direct/subpage/plan-4k", test_plan_4k);
    g_test_add_func("/vfio-direct/subpage/plan-64k", test_plan_64k);
    g_test_add_func("/vfio-direct/subpage/guest-size", test_guest_size);
    g_test_add_func("/vfio-direct/subpage/page-align", test_page_align);
    g_test_add_func("/vfio-direct/subpage/layout", test_layout);
    return g_test_run();
}
