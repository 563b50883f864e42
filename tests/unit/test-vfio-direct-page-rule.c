/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Unit tests of hw/vfio/direct/page-rule-plan.c: which part of a device
 * mapping an accelerator can map into the guest.
 *
 * Copyright (c) 2026 The vfio-direct authors
 */

#include "qemu/osdep.h"
#include "hw/vfio/direct/page-rule-plan.h"

#define KIB 0x400ULL
#define PAGE_4K (4 * KIB)
#define PAGE_64K (64 * KIB)

typedef struct PageRuleCase {
    const char *name;
    uint64_t gpa;
    uint64_t hva;
    uint64_t size;
    uint64_t page_size;
    VFIODirectPageSplit expected;
} PageRuleCase;

static const PageRuleCase cases[] = {
    /* A BAR mapping of whole pages at an aligned address */
    { "aligned", 0xfe000000, 0x7f0000000000, 4 * PAGE_4K, PAGE_4K,
      { 0, 4 * PAGE_4K, 0 } },
    /* Exactly one page */
    { "one-page", 0xfe001000, 0x7f0000001000, PAGE_4K, PAGE_4K,
      { 0, PAGE_4K, 0 } },
    /* A 256 byte BAR inside its page: nothing whole */
    { "sub-page", 0xfe001000, 0x7f0000001000, 0x100, PAGE_4K,
      { 0x100, 0, 0 } },
    /* A sub-page BAR at an unaligned address */
    { "sub-page-unaligned", 0xfe001800, 0x7f0000001800, 0x100, PAGE_4K,
      { 0x100, 0, 0 } },
    /* Unaligned start and end, same alignment on both sides */
    { "head-and-tail", 0xfe000800, 0x7f0000000800, 3 * PAGE_4K, PAGE_4K,
      { 0x800, 2 * PAGE_4K, 0x800 } },
    /* Aligned start, ragged end */
    { "tail-only", 0xfe000000, 0x7f0000000000, PAGE_4K + 0x10, PAGE_4K,
      { 0, PAGE_4K, 0x10 } },
    /* Guest and host alignment differ: no page can be mapped */
    { "shifted", 0xfe000000, 0x7f0000000800, 4 * PAGE_4K, PAGE_4K,
      { 4 * PAGE_4K, 0, 0 } },
    /* A section spanning exactly the unaligned part of two pages */
    { "straddle", 0xfe000800, 0x7f0000000800, PAGE_4K, PAGE_4K,
      { PAGE_4K, 0, 0 } },
    /* 64 KiB pages: a 4 KiB aligned BAR page is not enough */
    { "64k-sub-page", 0x200000001000, 0x7fff00001000, PAGE_4K, PAGE_64K,
      { PAGE_4K, 0, 0 } },
    /* 64 KiB pages: a 16 KiB BAR padded to the whole page */
    { "64k-one-page", 0x200000010000, 0x7fff00010000, PAGE_64K, PAGE_64K,
      { 0, PAGE_64K, 0 } },
    /* 64 KiB pages: 4 KiB aligned on both sides but not 64 KiB */
    { "64k-4k-shift", 0x200000010000, 0x7fff00011000, 2 * PAGE_64K,
      PAGE_64K, { 2 * PAGE_64K, 0, 0 } },
    /* A section ending at the top of the address space */
    { "top", 0xfffffffffffff000ULL, 0x7f0000000000, PAGE_4K, PAGE_4K,
      { 0, PAGE_4K, 0 } },
    { "top-ragged", 0xffffffffffffe800ULL, 0x7f0000000800, 0x1800, PAGE_4K,
      { 0x800, PAGE_4K, 0 } },
    /* Empty section */
    { "empty", 0xfe000000, 0x7f0000000000, 0, PAGE_4K, { 0, 0, 0 } },
};

static void check_page_split(const void *opaque)
{
    const PageRuleCase *c = opaque;
    VFIODirectPageSplit s;

    s = vfio_direct_page_split(c->gpa, c->hva, c->size, c->page_size);

    g_assert_cmphex(s.head, ==, c->expected.head);
    g_assert_cmphex(s.direct, ==, c->expected.direct);
    g_assert_cmphex(s.tail, ==, c->expected.tail);
    g_assert_cmphex(s.head + s.direct + s.tail, ==, c->size);
}

/*
 * Whatever the input, the direct part starts and ends on page
 * boundaries and the three parts add up to the section.
 */
static void check_page_split_invariants(void)
{
    static const uint64_t page_sizes[] = { PAGE_4K, PAGE_64K };
    uint64_t gpa, size;
    int i;

    for (i = 0; i < ARRAY_SIZE(page_sizes); i++) {
        uint64_t page = page_sizes[i];

        for (gpa = 0; gpa < 3 * page; gpa += page / 8) {
            for (size = 0; size < 4 * page; size += page / 16) {
                VFIODirectPageSplit s;

                s = vfio_direct_page_split(gpa, gpa + 8 * page, size, page);
                g_assert_cmphex(s.head + s.direct + s.tail, ==, size);
                g_assert_cmphex(s.direct % page, ==, 0);
                if (s.direct) {
                    g_assert_cmphex((gpa + s.head) % page, ==, 0);
                    g_assert_cmphex(s.head, <, page);
                    g_assert_cmphex(s.tail, <, page);
                } else {
                    g_assert_cmphex(s.head, ==, size);
                }
            }
        }
    }
}

int main(int argc, char **argv)
{
    int i;

    g_test_init(&argc, &argv, NULL);

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/vfio-direct/page-rule/%s", cases[i].name);

        g_test_add_data_func(path, &cases[i], check_page_split);
    }
    g_test_add_func("/vfio-direct/page-rule/invariants",
                    check_page_split_invariants);

    return g_test_run();
}
