/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Unit tests of hw/vfio/direct/region-info.c: region info capability
 * chains from a kernel that gets them wrong are rejected, never walked.
 *
 * Copyright (c) 2026 The vfio-direct authors
 */

#include "qemu/osdep.h"
#include "hw/vfio/direct/region-info.h"

#define REGION_SIZE 0x4000
#define FIRST_CAP   0x40    /* past struct vfio_region_info */

/* A region info and room for its capabilities, as the kernel fills it */
typedef union RegionInfoBuf {
    struct vfio_region_info info;
    uint64_t align;
    char bytes[512];
} RegionInfoBuf;

static struct vfio_region_info *info_new(RegionInfoBuf *b, uint32_t argsz)
{
    memset(b, 0, sizeof(*b));
    b->info.argsz = argsz;
    b->info.flags = VFIO_REGION_INFO_FLAG_CAPS | VFIO_REGION_INFO_FLAG_MMAP;
    b->info.size = REGION_SIZE;
    b->info.cap_offset = FIRST_CAP;
    return &b->info;
}

static struct vfio_info_cap_header *cap_at(RegionInfoBuf *b, uint32_t off,
                                           uint16_t id, uint32_t next)
{
    struct vfio_info_cap_header *hdr = (void *)(b->bytes + off);

    hdr->id = id;
    hdr->version = 1;
    hdr->next = next;
    return hdr;
}

/* A sparse-mmap capability at @off with @n areas of 0x1000 from 0 on. */
static uint32_t sparse_at(RegionInfoBuf *b, uint32_t off, uint32_t n,
                          uint32_t next)
{
    struct vfio_region_info_cap_sparse_mmap *sparse =
        container_of(cap_at(b, off, VFIO_REGION_INFO_CAP_SPARSE_MMAP, next),
                     struct vfio_region_info_cap_sparse_mmap, header);

    sparse->nr_areas = n;
    for (uint32_t i = 0; i < n; i++) {
        sparse->areas[i].offset = i * 0x1000;
        sparse->areas[i].size = 0x1000;
    }
    return off + sizeof(*sparse) + n * sizeof(sparse->areas[0]);
}

static void assert_rejected(const struct vfio_region_info *info,
                            const char *pattern)
{
    char why[256] = "";

    g_assert_false(vfio_direct_region_info_valid(info, why, sizeof(why)));
    if (!g_pattern_match_simple(pattern, why)) {
        g_assert_cmpstr(why, ==, pattern);
    }
}

/* What a kernel really returns: sparse-mmap, type, MSI-X mappable */
static void test_good_chain(void)
{
    RegionInfoBuf b;
    struct vfio_region_info *info = info_new(&b, sizeof(b));
    char why[256];
    uint32_t type_off = ROUND_UP(sparse_at(&b, FIRST_CAP, 2, 0), 8);
    uint32_t msix_off = type_off + sizeof(struct vfio_region_info_cap_type);

    sparse_at(&b, FIRST_CAP, 2, type_off);
    cap_at(&b, type_off, VFIO_REGION_INFO_CAP_TYPE, msix_off);
    cap_at(&b, msix_off, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 0);
    g_assert_true(vfio_direct_region_info_valid(info, why, sizeof(why)));

    /* No capabilities at all, whatever cap_offset holds */
    info->flags &= ~VFIO_REGION_INFO_FLAG_CAPS;
    info->cap_offset = 0xdead;
    g_assert_true(vfio_direct_region_info_valid(info, why, sizeof(why)));
}

/* An ID we do not know is skipped over, not rejected */
static void test_unknown_id(void)
{
    RegionInfoBuf b;
    struct vfio_region_info *info = info_new(&b, sizeof(b));
    char why[256];

    cap_at(&b, FIRST_CAP, 0x7777, FIRST_CAP + 0x10);
    cap_at(&b, FIRST_CAP + 0x10, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 0);
    g_assert_true(vfio_direct_region_info_valid(info, why, sizeof(why)));
}

static void test_loops(void)
{
    RegionInfoBuf b;
    struct vfio_region_info *info = info_new(&b, sizeof(b));

    /* A capability that is its own next */
    cap_at(&b, FIRST_CAP, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, FIRST_CAP);
    assert_rejected(info, "capability at 0x40: points back*(a loop)");

    /* Two that point at each other */
    cap_at(&b, FIRST_CAP, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 0x80);
    cap_at(&b, 0x80, 0x7777, FIRST_CAP);
    assert_rejected(info, "capability at 0x40: points back*(a loop)");

    /* The first one inside the info itself */
    info->cap_offset = 8;
    assert_rejected(info, "capability at 0x8: points back*");
}

static void test_out_of_bounds(void)
{
    RegionInfoBuf b;
    struct vfio_region_info *info = info_new(&b, 0x100);

    /* Past argsz, and a header that does not fit before it */
    info->cap_offset = 0x1000;
    assert_rejected(info, "capability at 0x1000: its header is past the end "
                    "of the info (0x100 bytes)");
    info->cap_offset = 0xfc;
    assert_rejected(info, "capability at 0xfc: its header is past the end*");
    cap_at(&b, FIRST_CAP, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 0xffffff00);
    info->cap_offset = FIRST_CAP;
    assert_rejected(info, "capability at 0xffffff00: its header is past*");

    /* Misaligned: its fields would be read unaligned */
    info->cap_offset = FIRST_CAP + 2;
    assert_rejected(info, "capability at 0x42: not aligned");
}

static void test_truncated(void)
{
    RegionInfoBuf b;
    struct vfio_region_info *info;

    /* The type capability needs 16 bytes, 8 are left */
    info = info_new(&b, FIRST_CAP + 8);
    cap_at(&b, FIRST_CAP, VFIO_REGION_INFO_CAP_TYPE, 0);
    assert_rejected(info, "capability 2 at 0x40: truncated, 0x10 bytes "
                    "needed, 0x8 left");

    /* Sparse-mmap with more areas than the buffer holds */
    info = info_new(&b, FIRST_CAP + 0x30);
    sparse_at(&b, FIRST_CAP, 3, 0);
    assert_rejected(info, "sparse-mmap capability at 0x40 lists 3 areas, "
                    "more than the info holds");
}

static void test_sparse_outside(void)
{
    RegionInfoBuf b;
    struct vfio_region_info *info = info_new(&b, sizeof(b));
    struct vfio_region_info_cap_sparse_mmap *sparse =
        (void *)(b.bytes + FIRST_CAP);
    char why[256];

    sparse_at(&b, FIRST_CAP, 2, 0);
    sparse->areas[1].offset = REGION_SIZE - 0x800;
    assert_rejected(info, "sparse-mmap area 1 (0x1000 bytes at 0x3800) is "
                    "outside the region of 0x4000 bytes");

    /* offset + size wraps around */
    sparse->areas[1].offset = 0x1000;
    sparse->areas[1].size = UINT64_MAX;
    assert_rejected(info, "sparse-mmap area 1 * is outside the region*");

    /* Ending exactly at the end is fine */
    sparse->areas[1].size = REGION_SIZE - 0x1000;
    g_assert_true(vfio_direct_region_info_valid(info, why, sizeof(why)));
}

/* A span capability at @off: the BAR at @offset in @size bytes */
static struct vfio_region_info_cap_mmap_span *
span_at(RegionInfoBuf *b, uint32_t off, uint64_t offset, uint64_t size,
        uint32_t next)
{
    struct vfio_region_info_cap_mmap_span *span =
        container_of(cap_at(b, off, VFIO_REGION_INFO_CAP_MMAP_SPAN, next),
                     struct vfio_region_info_cap_mmap_span, header);

    span->flags = VFIO_REGION_SPAN_EXCLUSIVE;
    span->offset = offset;
    span->size = size;
    return span;
}

/* A 256-byte BAR alone on its 4 KiB page, as the series reports it */
static void test_span(void)
{
    RegionInfoBuf b;
    struct vfio_region_info *info = info_new(&b, sizeof(b));
    struct vfio_region_info_cap_mmap_span *span;
    uint64_t offset = 1, size = 1;
    char why[256];

    info->size = 0x100;
    span = span_at(&b, FIRST_CAP, 0, 0x1000, 0);
    g_assert_true(vfio_direct_region_info_valid(info, why, sizeof(why)));
    g_assert_true(vfio_direct_region_info_span(info, 0x1000, &offset, &size));
    g_assert_cmphex(offset, ==, 0);
    g_assert_cmphex(size, ==, 0x1000);

    /* After another capability in the chain, and at an offset */
    cap_at(&b, FIRST_CAP, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, FIRST_CAP + 8);
    span = span_at(&b, FIRST_CAP + 8, 0x200, 0x1000, 0);
    g_assert_true(vfio_direct_region_info_valid(info, why, sizeof(why)));
    g_assert_true(vfio_direct_region_info_span(info, 0x1000, &offset, &size));
    g_assert_cmphex(offset, ==, 0x200);

    /* Not a whole number of pages of this host: unusable, fall back */
    g_assert_false(vfio_direct_region_info_span(info, 0x10000, &offset,
                                                &size));
    /* Not exclusive: fall back */
    span->flags = 0;
    g_assert_false(vfio_direct_region_info_span(info, 0x1000, &offset,
                                                &size));
    span->flags = VFIO_REGION_SPAN_EXCLUSIVE;
    /* Without MMAP the span means nothing */
    info->flags &= ~VFIO_REGION_INFO_FLAG_MMAP;
    g_assert_false(vfio_direct_region_info_span(info, 0x1000, &offset,
                                                &size));
}

/* A stock kernel: no span capability, the caller infers from MMAP */
static void test_span_absent(void)
{
    RegionInfoBuf b;
    struct vfio_region_info *info = info_new(&b, sizeof(b));
    uint64_t offset = 7, size = 7;

    info->size = 0x100;
    cap_at(&b, FIRST_CAP, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 0);
    g_assert_false(vfio_direct_region_info_span(info, 0x1000, &offset,
                                                &size));
    info->flags &= ~VFIO_REGION_INFO_FLAG_CAPS;
    g_assert_false(vfio_direct_region_info_span(info, 0x1000, &offset,
                                                &size));
    g_assert_cmphex(offset, ==, 7);
    g_assert_cmphex(size, ==, 7);
}

/* A span that does not hold the region is a broken chain */
static void test_span_bad(void)
{
    RegionInfoBuf b;
    struct vfio_region_info *info;

    info = info_new(&b, sizeof(b));
    info->size = 0x100;
    span_at(&b, FIRST_CAP, 0xf80, 0x1000, 0);
    assert_rejected(info, "mmap-span capability at 0x40: the region (0x100 "
                    "bytes) at 0xf80 does not fit the span of 0x1000 bytes");
    span_at(&b, FIRST_CAP, UINT64_MAX, 0x1000, 0);
    assert_rejected(info, "mmap-span capability at 0x40: * does not fit*");

    /* Truncated: 32 bytes needed */
    info = info_new(&b, FIRST_CAP + 16);
    info->size = 0x100;
    span_at(&b, FIRST_CAP, 0, 0x1000, 0);
    assert_rejected(info, "capability 6 at 0x40: truncated, 0x20 bytes "
                    "needed, 0x10 left");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vfio-direct/region-info/good-chain", test_good_chain);
    g_test_add_func("/vfio-direct/region-info/unknown-id", test_unknown_id);
    g_test_add_func("/vfio-direct/region-info/loops", test_loops);
    g_test_add_func("/vfio-direct/region-info/out-of-bounds",
                    test_out_of_bounds);
    g_test_add_func("/vfio-direct/region-info/truncated", test_truncated);
    g_test_add_func("/vfio-direct/region-info/sparse-outside",
                    test_sparse_outside);
    g_test_add_func("/vfio-direct/region-info/span", test_span);
    g_test_add_func("/vfio-direct/region-info/span-absent", test_span_absent);
    g_test_add_func("/vfio-direct/region-info/span-bad", test_span_bad);
    return g_test_run();
}
