/*
 * vfio-direct: checks of the region info the kernel returns
 *
 * Upstream's walk of a region's capability chain follows the kernel's
 * "next" offsets without a bound, so a chain that loops hangs QEMU and
 * one that points outside the buffer reads past it.  A kernel or mdev
 * driver that gets this wrong should cost the user a message, not QEMU.
 * This is the pure check, done before anything walks the chain.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "region-info.h"

/* Bytes that capability @id needs in all, or 0 when it is unknown. */
static size_t vfio_direct_cap_size(const struct vfio_info_cap_header *hdr)
{
    switch (hdr->id) {
    case VFIO_REGION_INFO_CAP_SPARSE_MMAP:
        return sizeof(struct vfio_region_info_cap_sparse_mmap);
    case VFIO_REGION_INFO_CAP_TYPE:
        return sizeof(struct vfio_region_info_cap_type);
    case VFIO_REGION_INFO_CAP_MSIX_MAPPABLE:
        return sizeof(struct vfio_info_cap_header);
    case VFIO_REGION_INFO_CAP_NVLINK2_SSATGT:
        return sizeof(struct vfio_region_info_cap_nvlink2_ssatgt);
    case VFIO_REGION_INFO_CAP_NVLINK2_LNKSPD:
        return sizeof(struct vfio_region_info_cap_nvlink2_lnkspd);
    case VFIO_REGION_INFO_CAP_MMAP_SPAN:
        return sizeof(struct vfio_region_info_cap_mmap_span);
    default:
        return 0;
    }
}

/* The areas of the sparse-mmap capability at @off (its fixed part fits). */
static bool vfio_direct_sparse_valid(const struct vfio_region_info *info,
                                     uint32_t off, uint32_t end, char *why,
                                     size_t why_len)
{
    const struct vfio_region_info_cap_sparse_mmap *sparse =
        (const void *)((const char *)info + off);
    uint32_t i;

    if (sparse->nr_areas > (end - off - sizeof(*sparse)) /
                           sizeof(sparse->areas[0])) {
        snprintf(why, why_len, "sparse-mmap capability at 0x%x lists %u "
                 "areas, more than the info holds", off, sparse->nr_areas);
        return false;
    }
    for (i = 0; i < sparse->nr_areas; i++) {
        uint64_t start = sparse->areas[i].offset;
        uint64_t size = sparse->areas[i].size;

        if (start > info->size || size > info->size - start) {
            snprintf(why, why_len, "sparse-mmap area %u (0x%" PRIx64
                     " bytes at 0x%" PRIx64 ") is outside the region of "
                     "0x%" PRIx64 " bytes", i, size, start,
                     (uint64_t)info->size);
            return false;
        }
    }
    return true;
}

/* The span capability at @off (whole) holds the region. */
static bool vfio_direct_span_valid(const struct vfio_region_info *info,
                                   uint32_t off, char *why, size_t why_len)
{
    const struct vfio_region_info_cap_mmap_span *span =
        (const void *)((const char *)info + off);

    if (span->offset >= span->size ||
        info->size > span->size - span->offset) {
        snprintf(why, why_len, "mmap-span capability at 0x%x: the region "
                 "(0x%" PRIx64 " bytes) at 0x%" PRIx64 " does not fit the "
                 "span of 0x%" PRIx64 " bytes", off, (uint64_t)info->size,
                 (uint64_t)span->offset, (uint64_t)span->size);
        return false;
    }
    return true;
}

bool vfio_direct_region_info_span(const struct vfio_region_info *info,
                                  uint64_t page_size, uint64_t *offset,
                                  uint64_t *size)
{
    const struct vfio_info_cap_header *hdr;
    uint32_t off;

    if (!(info->flags & VFIO_REGION_INFO_FLAG_CAPS) ||
        !(info->flags & VFIO_REGION_INFO_FLAG_MMAP)) {
        return false;
    }
    for (off = info->cap_offset; off; off = hdr->next) {
        const struct vfio_region_info_cap_mmap_span *span;

        hdr = (const void *)((const char *)info + off);
        if (hdr->id != VFIO_REGION_INFO_CAP_MMAP_SPAN || hdr->version < 1) {
            continue;
        }
        span = container_of(hdr, const struct vfio_region_info_cap_mmap_span,
                            header);
        if (!(span->flags & VFIO_REGION_SPAN_EXCLUSIVE) || !page_size ||
            span->size % page_size ||
            span->offset >= span->size ||
            info->size > span->size - span->offset) {
            return false;
        }
        *offset = span->offset;
        *size = span->size;
        return true;
    }
    return false;
}

bool vfio_direct_region_info_valid(const struct vfio_region_info *info,
                                   char *why, size_t why_len)
{
    const size_t hdr_size = sizeof(struct vfio_info_cap_header);
    uint32_t end = info->argsz, off, min = sizeof(*info);
    const struct vfio_info_cap_header *hdr;

    if (!(info->flags & VFIO_REGION_INFO_FLAG_CAPS)) {
        return true;
    }
    /*
     * The kernel appends capabilities, so each header follows the one
     * before: a chain that goes back (a loop) or out is rejected, and
     * the walk takes at most argsz / header-size steps.
     */
    for (off = info->cap_offset; off; off = hdr->next) {
        size_t need;

        if (off < min || off % sizeof(uint32_t)) {
            snprintf(why, why_len, "capability at 0x%x: %s", off,
                     off < min ? "points back into the info or an earlier "
                     "capability (a loop)" : "not aligned");
            return false;
        }
        if (off > end || end - off < hdr_size) {
            snprintf(why, why_len, "capability at 0x%x: its header is past "
                     "the end of the info (0x%x bytes)", off, end);
            return false;
        }
        hdr = (const void *)((const char *)info + off);
        need = vfio_direct_cap_size(hdr);
        if (end - off < need) {
            snprintf(why, why_len, "capability %u at 0x%x: truncated, 0x%zx "
                     "bytes needed, 0x%x left", hdr->id, off, need,
                     end - off);
            return false;
        }
        if (hdr->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP &&
            !vfio_direct_sparse_valid(info, off, end, why, why_len)) {
            return false;
        }
        if (hdr->id == VFIO_REGION_INFO_CAP_MMAP_SPAN &&
            !vfio_direct_span_valid(info, off, why, why_len)) {
            return false;
        }
        min = off + MAX(need, hdr_size);
    }
    return true;
}
