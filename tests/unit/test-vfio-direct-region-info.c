/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Unit tests of hw/vfio/direct/region-info-plan.c: region info capability
 * chains from a kernel that gets them wrong are rejected, never walked.
 *
 * Copyright (c) 2026 The vfio-direct authors
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "hw/vfio/direct/region-info-plan.h"

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

/*
 * How upstream's vfio_get_region_info_cap() walks a chain (no bound but
 * the flag; bounded here by @limit steps): the steps taken until a
 * header with id 0xffff or the end, @limit when it never ends.
 */
static unsigned upstream_walk(const struct vfio_region_info *info,
                              unsigned limit)
{
    const char *ptr = (const char *)info;
    const struct vfio_info_cap_header *hdr;
    unsigned steps = 0;

    if (!(info->flags & VFIO_REGION_INFO_FLAG_CAPS)) {
        return 0;
    }
    for (hdr = (const void *)(ptr + info->cap_offset);
         (const char *)hdr != ptr && steps < limit;
         hdr = (const void *)(ptr + hdr->next)) {
        steps++;
    }
    return steps;
}

/*
 * vfio_region_setup()'s hook: a looping chain loses the CAPS and MMAP
 * flags before upstream's walk, which then never starts; a good chain is
 * left as it is.
 */
static void test_sanitize(void)
{
    RegionInfoBuf b;
    struct vfio_region_info *info = info_new(&b, sizeof(b));
    char why[256] = "";

    cap_at(&b, FIRST_CAP, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 0x80);
    cap_at(&b, 0x80, VFIO_REGION_INFO_CAP_SPARSE_MMAP, FIRST_CAP);
    g_assert_cmpuint(upstream_walk(info, 1000), ==, 1000);
    g_assert_false(vfio_direct_region_info_sanitize(info, why, sizeof(why)));
    g_assert_true(g_pattern_match_simple("capability at 0x40: points back*",
                                         why));
    g_assert_cmphex(info->flags & (VFIO_REGION_INFO_FLAG_CAPS |
                                   VFIO_REGION_INFO_FLAG_MMAP), ==, 0);
    g_assert_cmpuint(upstream_walk(info, 1000), ==, 0);
    /* What is left: a region that reads and writes, never mapped */
    g_assert_cmphex(info->size, ==, REGION_SIZE);

    info = info_new(&b, sizeof(b));
    sparse_at(&b, FIRST_CAP, 2, 0);
    g_assert_true(vfio_direct_region_info_sanitize(info, why, sizeof(why)));
    g_assert_cmphex(info->flags, ==, VFIO_REGION_INFO_FLAG_CAPS |
                                     VFIO_REGION_INFO_FLAG_MMAP);
    g_assert_cmpuint(upstream_walk(info, 1000), ==, 1);
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

/* ---- a BAR's region info against what any BAR and config space allow ---- */

#define PAGE 0x1000

/* What the x86 test bed's kernel answers for nvme BAR0 (16 KiB, 64-bit) */
static VFIODirectBarAnswer bar_answer(VFIODirectArea *area)
{
    area->offset = 0;
    area->size = 0x4000;
    return (VFIODirectBarAnswer) {
        .size = 0x4000,
        .offset = 0,
        .flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                 VFIO_REGION_INFO_FLAG_MMAP,
        .mmaps = area,
        .nr_mmaps = 1,
        .mem64 = true,
        .sized = 0x4000,
    };
}

static void assert_bar(const VFIODirectBarAnswer *a,
                       VFIODirectBarVerdict want, const char *pattern)
{
    char why[256] = "x";
    VFIODirectBarVerdict got = vfio_direct_region_bar_check(a, PAGE, why,
                                                            sizeof(why));

    if (got != want || !g_pattern_match_simple(pattern, why)) {
        g_test_message("verdict %d (want %d): \"%s\"", got, want, why);
        g_assert_cmpint(got, ==, want);
        g_assert_cmpstr(why, ==, pattern);
    }
}

static void test_bar_good(void)
{
    VFIODirectArea area;
    VFIODirectBarAnswer a = bar_answer(&area);

    assert_bar(&a, VFIO_DIRECT_BAR_OK, "");
    /* A sub-page BAR: one area of its size, mapped as its page */
    a.size = a.sized = area.size = 0x100;
    a.mem64 = false;
    assert_bar(&a, VFIO_DIRECT_BAR_OK, "");
    /* An I/O BAR without MMAP; config space unknown (0) */
    a = bar_answer(&area);
    a.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    a.nr_mmaps = 0;
    a.ioport = true;
    a.mem64 = false;
    a.size = 0x20;
    a.sized = 0;
    assert_bar(&a, VFIO_DIRECT_BAR_OK, "");
    /* A huge 64-bit BAR that config space agrees with */
    a = bar_answer(&area);
    a.size = a.sized = area.size = 1ULL << 40;
    assert_bar(&a, VFIO_DIRECT_BAR_OK, "");
}

static void test_bar_zero_size(void)
{
    VFIODirectArea area;
    VFIODirectBarAnswer a = bar_answer(&area);

    a.size = 0;
    assert_bar(&a, VFIO_DIRECT_BAR_ABSENT, "the kernel reports a region of "
               "0 bytes with flags 0x7; taken as no BAR");
    /* What a kernel reports for an unimplemented BAR: nothing to say */
    a.flags = 0;
    assert_bar(&a, VFIO_DIRECT_BAR_ABSENT, "");
}

static void test_bar_bad_size(void)
{
    VFIODirectArea area;
    VFIODirectBarAnswer a = bar_answer(&area);

    a.size = area.size = a.sized = 0x3000;
    assert_bar(&a, VFIO_DIRECT_BAR_REFUSED, "the kernel reports a region of "
               "0x3000 bytes, which a 64-bit BAR cannot have (a power of "
               "two from 0x10 to 0x8000000000000000)");
    /* Too small for a memory BAR, too large for a 32-bit one or I/O */
    a.size = area.size = a.sized = 8;
    assert_bar(&a, VFIO_DIRECT_BAR_REFUSED, "*0x8 bytes, which a 64-bit*");
    a.mem64 = false;
    a.size = area.size = a.sized = 4 * GiB;
    assert_bar(&a, VFIO_DIRECT_BAR_REFUSED, "*which a 32-bit BAR cannot "
               "have (a power of two from 0x10 to 0x80000000)");
    a.ioport = true;
    a.size = a.sized = 128 * KiB;
    assert_bar(&a, VFIO_DIRECT_BAR_REFUSED, "*which an I/O BAR cannot*");
    /* Beyond what any BAR can be */
    a = bar_answer(&area);
    a.sized = 0;
    a.size = UINT64_MAX;
    assert_bar(&a, VFIO_DIRECT_BAR_REFUSED, "*0xffffffffffffffff bytes*");
}

static void test_bar_offset_overflow(void)
{
    VFIODirectArea area;
    VFIODirectBarAnswer a = bar_answer(&area);

    a.offset = UINT64_MAX - 0x1000;
    assert_bar(&a, VFIO_DIRECT_BAR_REFUSED, "the kernel reports a region of "
               "0x4000 bytes at fd offset 0xffffffffffffefff, past the "
               "largest file offset");
    a.offset = (1ULL << 63) - 0x1000;
    assert_bar(&a, VFIO_DIRECT_BAR_REFUSED, "*past the largest file offset");
    /* Ends exactly at the largest off_t, and vfio-pci's BAR 5 at 5 << 40 */
    a.offset = (1ULL << 63) - 0x4000;
    assert_bar(&a, VFIO_DIRECT_BAR_OK, "");
    a.offset = 5ULL << 40;
    assert_bar(&a, VFIO_DIRECT_BAR_OK, "");
}

static void test_bar_config_disagrees(void)
{
    VFIODirectArea area;
    VFIODirectBarAnswer a = bar_answer(&area);

    /* Larger than the BAR the device decodes */
    a.sized = 0x1000;
    assert_bar(&a, VFIO_DIRECT_BAR_REFUSED, "the kernel reports a region of "
               "0x4000 bytes, but config space sizes the BAR at 0x1000");
    a.sized = 0x10000;
    assert_bar(&a, VFIO_DIRECT_BAR_REFUSED, "*sizes the BAR at 0x10000");
}

static void test_bar_mmap_odd(void)
{
    VFIODirectArea areas[2];
    VFIODirectBarAnswer a = bar_answer(areas);
    RegionInfoBuf b;

    /* MMAP without READ or WRITE: would be a PROT_NONE or read-only map */
    a.flags = VFIO_REGION_INFO_FLAG_MMAP;
    assert_bar(&a, VFIO_DIRECT_BAR_NO_MMAP, "the kernel allows mmap but not "
               "both read and write (flags 0x4)");
    a.flags |= VFIO_REGION_INFO_FLAG_READ;
    assert_bar(&a, VFIO_DIRECT_BAR_NO_MMAP, "*(flags 0x5)");
    /* On an I/O BAR */
    a = bar_answer(areas);
    a.ioport = true;
    a.mem64 = false;
    a.size = a.sized = areas[0].size = 0x20;
    assert_bar(&a, VFIO_DIRECT_BAR_NO_MMAP, "the kernel allows mmap of an "
               "I/O BAR");
    /* Areas outside, empty, off host pages, overlapping */
    a = bar_answer(areas);
    areas[0].offset = 0x3000;
    assert_bar(&a, VFIO_DIRECT_BAR_NO_MMAP, "mmap area 0 (0x4000 bytes at "
               "0x3000) is empty or outside the region of 0x4000 bytes");
    areas[0].size = 0;
    assert_bar(&a, VFIO_DIRECT_BAR_NO_MMAP, "*empty or outside*");
    areas[0].offset = 0x800;
    areas[0].size = 0x1000;
    assert_bar(&a, VFIO_DIRECT_BAR_NO_MMAP, "mmap area 0 (0x1000 bytes at "
               "0x800) is not on host pages of 0x1000 bytes");
    areas[0].offset = 0;
    areas[0].size = 0x1800;
    assert_bar(&a, VFIO_DIRECT_BAR_NO_MMAP, "*not on host pages*");
    a.nr_mmaps = 2;
    areas[0].size = 0x2000;
    areas[1].offset = 0x1000;
    areas[1].size = 0x3000;
    assert_bar(&a, VFIO_DIRECT_BAR_NO_MMAP, "mmap area 1 at 0x1000 overlaps "
               "or precedes the area before it");
    /* Two areas around a carved-out table page are fine */
    areas[1].offset = 0x3000;
    areas[1].size = 0x1000;
    assert_bar(&a, VFIO_DIRECT_BAR_OK, "");
    /* A chain that loops: none of its areas are used */
    info_new(&b, sizeof(b));
    cap_at(&b, FIRST_CAP, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, FIRST_CAP);
    a.info = &b.info;
    assert_bar(&a, VFIO_DIRECT_BAR_NO_MMAP, "the kernel's capability chain "
               "is broken: capability at 0x40: points back*(a loop)");
    /* Without MMAP nothing is mapped, so the chain and areas do not count */
    a.flags &= ~VFIO_REGION_INFO_FLAG_MMAP;
    assert_bar(&a, VFIO_DIRECT_BAR_OK, "");
}

static void test_bar_sized(void)
{
    /* 16 KiB 64-bit, 256 B 32-bit, 32 B I/O with 16-bit decode */
    g_assert_cmphex(vfio_direct_region_bar_sized(0xffffc004, 0xffffffff,
                                                 false, true), ==, 0x4000);
    g_assert_cmphex(vfio_direct_region_bar_sized(0xffffff00, 0, false,
                                                 false), ==, 0x100);
    g_assert_cmphex(vfio_direct_region_bar_sized(0x0000ffe1, 0, true,
                                                 false), ==, 0x20);
    g_assert_cmphex(vfio_direct_region_bar_sized(0xffffffe1, 0, true,
                                                 false), ==, 0x20);
    /* 8 GiB 64-bit: the low register has no address bits */
    g_assert_cmphex(vfio_direct_region_bar_sized(0x0000000c, 0xfffffffe,
                                                 false, true), ==,
                    8 * GiB);
    /* Unimplemented */
    g_assert_cmphex(vfio_direct_region_bar_sized(0, 0, false, false), ==, 0);
    g_assert_cmphex(vfio_direct_region_bar_sized(0, 0, false, true), ==, 0);
    g_assert_cmphex(vfio_direct_region_bar_sized(0x1, 0, true, false), ==,
                    0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vfio-direct/region-info/good-chain", test_good_chain);
    g_test_add_func("/vfio-direct/region-info/unknown-id", test_unknown_id);
    g_test_add_func("/vfio-direct/region-info/loops", test_loops);
    g_test_add_func("/vfio-direct/region-info/sanitize", test_sanitize);
    g_test_add_func("/vfio-direct/region-info/out-of-bounds",
                    test_out_of_bounds);
    g_test_add_func("/vfio-direct/region-info/truncated", test_truncated);
    g_test_add_func("/vfio-direct/region-info/sparse-outside",
                    test_sparse_outside);
    g_test_add_func("/vfio-direct/region-info/span", test_span);
    g_test_add_func("/vfio-direct/region-info/span-absent", test_span_absent);
    g_test_add_func("/vfio-direct/region-info/span-bad", test_span_bad);
    g_test_add_func("/vfio-direct/region-info/bar-good", test_bar_good);
    g_test_add_func("/vfio-direct/region-info/bar-zero-size",
                    test_bar_zero_size);
    g_test_add_func("/vfio-direct/region-info/bar-bad-size",
                    test_bar_bad_size);
    g_test_add_func("/vfio-direct/region-info/bar-offset-overflow",
                    test_bar_offset_overflow);
    g_test_add_func("/vfio-direct/region-info/bar-config-disagrees",
                    test_bar_config_disagrees);
    g_test_add_func("/vfio-direct/region-info/bar-mmap-odd",
                    test_bar_mmap_odd);
    g_test_add_func("/vfio-direct/region-info/bar-sized", test_bar_sized);
    return g_test_run();
}
