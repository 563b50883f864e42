/*
 * type1-stats.h - read type1's statistics capability (linux/0005, 0006)
 * for the kernel series' test programs (vfio-type1-stats, vfio-peer-bar).
 *
 * Copyright (c) 2026 vfio-direct
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_KERNEL_TYPE1_STATS_H
#define TESTS_KERNEL_TYPE1_STATS_H

#include <linux/vfio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* The series' uAPI, for building against a header that predates it. */
#ifndef VFIO_IOMMU_TYPE1_INFO_CAP_STATS
#define VFIO_IOMMU_TYPE1_INFO_CAP_STATS 4
#define VFIO_IOMMU_TYPE1_STATS_RUN_BUCKETS 32
struct vfio_iommu_type1_info_cap_stats {
    struct vfio_info_cap_header header;
    uint32_t nr_run_buckets;
    uint32_t reserved;
    uint64_t dma_entries;
    uint64_t pinned_pages;
    uint64_t pfnmap_pages;
    uint64_t iommu_map_calls;
    uint64_t run_hist[VFIO_IOMMU_TYPE1_STATS_RUN_BUCKETS];
    uint64_t revoked_mappings;      /* version 2 */
};
#endif

/*
 * The capability of @container into @out (revoked_mappings 0 before
 * version 2): its version, 0 when the kernel has none, -1 when
 * VFIO_IOMMU_GET_INFO fails.
 */
static inline int type1_stats(int container,
                              struct vfio_iommu_type1_info_cap_stats *out)
{
    uint32_t argsz = sizeof(struct vfio_iommu_type1_info), at;
    struct vfio_iommu_type1_info *info = NULL;
    int version = 0;

    for (;;) {
        info = realloc(info, argsz);
        memset(info, 0, argsz);
        info->argsz = argsz;
        if (ioctl(container, VFIO_IOMMU_GET_INFO, info)) {
            free(info);
            return -1;
        }
        if (info->argsz <= argsz) {
            break;
        }
        argsz = info->argsz;
    }
    memset(out, 0, sizeof(*out));
    at = (info->flags & VFIO_IOMMU_INFO_CAPS) ? info->cap_offset : 0;
    for (int guard = 0; at && at + sizeof(struct vfio_info_cap_header) <= argsz &&
                        guard < 16; guard++) {
        struct vfio_info_cap_header *h = (void *)((char *)info + at);
        size_t len = h->version >= 2 ? sizeof(*out) :
            offsetof(struct vfio_iommu_type1_info_cap_stats, revoked_mappings);

        if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_STATS && h->version >= 1 &&
            at + len <= argsz) {
            memcpy(out, h, len);
            version = h->version;
            break;
        }
        at = h->next;
    }
    free(info);
    return version;
}

#endif /* TESTS_KERNEL_TYPE1_STATS_H */
