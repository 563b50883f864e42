/*
 * vfio-direct: checks of the region info the kernel returns
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_REGION_INFO_PLAN_H
#define HW_VFIO_DIRECT_REGION_INFO_PLAN_H

#include <linux/vfio.h>
#include "msix-plan.h"

/*
 * Is the capability chain of @info (info->argsz bytes, as
 * VFIO_DEVICE_GET_REGION_INFO filled them) safe to walk?  Every header
 * lies inside the buffer, naturally aligned, each after the one before
 * (so the walk ends), and the capabilities we know are whole, sparse-mmap
 * areas inside the region.  Unknown IDs are allowed (and ignored).  On
 * false, @why says what is wrong, for the user.
 */
bool vfio_direct_region_info_valid(const struct vfio_region_info *info,
                                   char *why, size_t why_len);

/*
 * Make @info safe for upstream's vfio_region_setup(), which walks the
 * capability chain without bounds (for the sparse-mmap areas) before
 * any check of ours: when vfio_direct_region_info_valid() rejects the
 * chain, clear VFIO_REGION_INFO_FLAG_CAPS, so that no walk starts, and
 * VFIO_REGION_INFO_FLAG_MMAP, since the mmap areas may have come from
 * the chain; the region then traps.  False in that case, with @why.
 */
bool vfio_direct_region_info_sanitize(struct vfio_region_info *info,
                                      char *why, size_t why_len);

/*
 * The span an mmap of a sub-page BAR covers, as the kernel states it in
 * the capability VFIO_REGION_INFO_CAP_MMAP_SPAN (vfio-direct kernel
 * series, "vfio/pci: Report the mmap span of a sub-page BAR";
 * docs/vfio-direct-kernel.rst), in an @info whose
 * chain vfio_direct_region_info_valid() accepted.  True, with @offset
 * the BAR's offset in the span and @size the span's size, when the
 * region is MMAP and the capability is there, exclusive, a whole number
 * of @page_size pages, and holds the region.  False otherwise: stock
 * kernels never report it, and the caller falls back to inferring the
 * span from the MMAP flag (a page-aligned BAR's page).
 */
bool vfio_direct_region_info_span(const struct vfio_region_info *info,
                                  uint64_t page_size, uint64_t *offset,
                                  uint64_t *size);

/*
 * A BAR's region as the kernel describes it (VFIO_DEVICE_GET_REGION_INFO
 * and the mmap areas upstream took from it) and as the device's config
 * space, read through the same device fd, sizes it.
 */
typedef struct VFIODirectBarAnswer {
    uint64_t size;              /* region info: size */
    uint64_t offset;            /* region info: offset in the device fd */
    uint32_t flags;             /* region info: VFIO_REGION_INFO_FLAG_* */
    const struct vfio_region_info *info;    /* its capability chain */
    const VFIODirectArea *mmaps;    /* what upstream would mmap */
    unsigned nr_mmaps;
    bool ioport;                /* config space: an I/O BAR */
    bool mem64;                 /* config space: a 64-bit memory BAR */
    uint64_t sized;             /* by a sizing write; 0: unknown */
} VFIODirectBarAnswer;

typedef enum VFIODirectBarVerdict {
    VFIO_DIRECT_BAR_OK,         /* use it as the kernel says */
    VFIO_DIRECT_BAR_ABSENT,     /* size 0: no BAR (odd flags ignored) */
    VFIO_DIRECT_BAR_NO_MMAP,    /* use it, map none of it: trap it all */
    VFIO_DIRECT_BAR_REFUSED,    /* the answers disagree: no device */
} VFIODirectBarVerdict;

/*
 * What to make of @a on a host with @page_size pages.  A size that is 0
 * (with flags set: odd, *@why says so; else *@why is empty), not a power
 * of two, below or above what such a BAR can be, past the end of the fd's
 * offsets, or not what config space sizes is never used.  An mmap the
 * kernel grants on an I/O BAR, without both READ and WRITE, with areas
 * outside the region, unaligned or overlapping, or from a capability
 * chain vfio_direct_region_info_valid() rejects is never made.  *@why
 * says what is wrong for every verdict but OK.
 */
VFIODirectBarVerdict vfio_direct_region_bar_check(const VFIODirectBarAnswer *a,
                                                  uint64_t page_size,
                                                  char *why, size_t why_len);

/*
 * The size a BAR decodes, from what its registers read after writing all
 * ones: @low (and @high, the next register, for a 64-bit memory BAR).
 * 0 when the registers read as an unimplemented BAR.
 */
uint64_t vfio_direct_region_bar_sized(uint32_t low, uint32_t high,
                                      bool ioport, bool mem64);

#endif /* HW_VFIO_DIRECT_REGION_INFO_PLAN_H */
