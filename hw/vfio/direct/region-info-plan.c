/*
 * vfio-direct: checks of the region info the kernel returns
 *
 * Upstream's walk of a region's capability chain follows the kernel's
 * "next" offsets without a bound, so a chain that loops hangs QEMU and
 * one that points outside the buffer reads past it.  A kernel or mdev
 * driver that gets this wrong should cost the user a message, not QEMU.
 * This is the pure check, done before anything walks the chain.
 *
 * The same goes for the rest of a BAR's region info: its size becomes a
 * PCI BAR (which must be a power of two), its flags and mmap areas
 * become host mappings the guest reaches directly.  An answer that no
 * BAR can give, or that the device's own config space contradicts, is
 * refused; an mmap that is not plainly granted is not made.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"
#include "qemu/units.h"
#include "hw/pci/pci_regs.h"
#include "region-info-plan.h"

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

bool vfio_direct_region_info_sanitize(struct vfio_region_info *info,
                                      char *why, size_t why_len)
{
    if (vfio_direct_region_info_valid(info, why, why_len)) {
        return true;
    }
    info->flags &= ~(VFIO_REGION_INFO_FLAG_CAPS | VFIO_REGION_INFO_FLAG_MMAP);
    return false;
}

uint64_t vfio_direct_region_bar_sized(uint32_t low, uint32_t high,
                                      bool ioport, bool mem64)
{
    uint64_t mask;

    if (ioport) {
        mask = low & PCI_BASE_ADDRESS_IO_MASK;
        if (!mask) {
            return 0;
        }
        /* Upper bits that read 0 are not decoded (16-bit I/O decode) */
        if (!(mask & 0xffff0000)) {
            mask |= 0xffff0000;
        }
        mask |= ~(uint64_t)UINT32_MAX;
    } else {
        mask = low & PCI_BASE_ADDRESS_MEM_MASK;
        mask |= mem64 ? (uint64_t)high << 32 : ~(uint64_t)UINT32_MAX;
        if (!(mask << 32 >> 32) && !(mem64 && high)) {
            return 0;
        }
    }
    return mask & -mask;
}

/* The mmap areas, in order, each inside the region and on host pages. */
static bool vfio_direct_bar_mmaps_valid(const VFIODirectBarAnswer *a,
                                        uint64_t page_size, char *why,
                                        size_t why_len)
{
    uint64_t end = 0;
    unsigned i;

    for (i = 0; i < a->nr_mmaps; i++) {
        uint64_t start = a->mmaps[i].offset, size = a->mmaps[i].size;

        if (!size || start > a->size || size > a->size - start) {
            snprintf(why, why_len, "mmap area %u (0x%" PRIx64 " bytes at "
                     "0x%" PRIx64 ") is empty or outside the region of "
                     "0x%" PRIx64 " bytes", i, size, start, a->size);
            return false;
        }
        if (start % page_size ||
            ((start + size) % page_size && start + size != a->size)) {
            snprintf(why, why_len, "mmap area %u (0x%" PRIx64 " bytes at "
                     "0x%" PRIx64 ") is not on host pages of 0x%" PRIx64
                     " bytes", i, size, start, page_size);
            return false;
        }
        if (start < end) {
            snprintf(why, why_len, "mmap area %u at 0x%" PRIx64 " overlaps "
                     "or precedes the area before it", i, start);
            return false;
        }
        end = start + size;
    }
    return true;
}

VFIODirectBarVerdict vfio_direct_region_bar_check(const VFIODirectBarAnswer *a,
                                                  uint64_t page_size,
                                                  char *why, size_t why_len)
{
    const uint32_t access = VFIO_REGION_INFO_FLAG_READ |
                            VFIO_REGION_INFO_FLAG_WRITE;
    uint64_t min = a->ioport ? 4 : 16;
    uint64_t max = a->ioport ? 64 * KiB : a->mem64 ? 1ULL << 63 : 2 * GiB;
    const char *kind = a->ioport ? "an I/O" : a->mem64 ? "a 64-bit" :
                       "a 32-bit";
    char chain[160];

    why[0] = '\0';
    if (!a->size) {
        if (a->flags) {
            snprintf(why, why_len, "the kernel reports a region of 0 bytes "
                     "with flags 0x%x; taken as no BAR", a->flags);
        }
        return VFIO_DIRECT_BAR_ABSENT;
    }
    if (!is_power_of_2(a->size) || a->size < min || a->size > max) {
        snprintf(why, why_len, "the kernel reports a region of 0x%" PRIx64
                 " bytes, which %s BAR cannot have (a power of two from "
                 "0x%" PRIx64 " to 0x%" PRIx64 ")", a->size, kind, min, max);
        return VFIO_DIRECT_BAR_REFUSED;
    }
    /* pread() and mmap() take an off_t: the region must end within it */
    if (a->offset > (1ULL << 63) - a->size) {
        snprintf(why, why_len, "the kernel reports a region of 0x%" PRIx64
                 " bytes at fd offset 0x%" PRIx64 ", past the largest file "
                 "offset", a->size, a->offset);
        return VFIO_DIRECT_BAR_REFUSED;
    }
    if (a->sized && a->sized != a->size) {
        snprintf(why, why_len, "the kernel reports a region of 0x%" PRIx64
                 " bytes, but config space sizes the BAR at 0x%" PRIx64,
                 a->size, a->sized);
        return VFIO_DIRECT_BAR_REFUSED;
    }
    if (!(a->flags & VFIO_REGION_INFO_FLAG_MMAP)) {
        return VFIO_DIRECT_BAR_OK;
    }
    if (a->ioport) {
        snprintf(why, why_len, "the kernel allows mmap of an I/O BAR");
        return VFIO_DIRECT_BAR_NO_MMAP;
    }
    if ((a->flags & access) != access) {
        snprintf(why, why_len, "the kernel allows mmap but not both read "
                 "and write (flags 0x%x)", a->flags);
        return VFIO_DIRECT_BAR_NO_MMAP;
    }
    if (a->info && !vfio_direct_region_info_valid(a->info, chain,
                                                  sizeof(chain))) {
        snprintf(why, why_len, "the kernel's capability chain is broken: %s",
                 chain);
        return VFIO_DIRECT_BAR_NO_MMAP;
    }
    if (!vfio_direct_bar_mmaps_valid(a, page_size, why, why_len)) {
        return VFIO_DIRECT_BAR_NO_MMAP;
    }
    return VFIO_DIRECT_BAR_OK;
}
