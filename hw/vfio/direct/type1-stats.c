/*
 * vfio-direct: the type1 kernel backend's own mapping statistics
 *
 * What: with the vfio-direct kernel series (linux/0005, 0006), type1
 * reports in VFIO_IOMMU_GET_INFO what it made of a container's mappings:
 * its entries, the pages it pinned and the device pages it mapped
 * without pinning, its iommu_map() calls by the length of the contiguous
 * run each mapped, and the peer BAR mappings it revoked.  This file
 * reads that capability as QMP data for x-query-vfio; hmp.c prints it
 * in "info vfio" next to our own MAP_DMA counters.
 * Why: our counters say how many MAP_DMA calls guest RAM took; only the
 * kernel knows whether that RAM then reached the IOMMU in 2 MiB runs or
 * page by page (THP off, hugetlbfs missing, disable_hugepages=1), and
 * whether it revoked a peer BAR's mapping.  On kernels without the
 * series nothing is shown.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/ioctl.h>
#include <linux/vfio.h>
#include "hw/vfio/vfio-common.h"
#include "hw/vfio/vfio-container-base.h"
#include "hw/vfio/pci.h"
#include "dma-queue.h"
#include "type1-stats.h"
#include "trace.h"

/* The fields up to revoked_mappings, which version 2 added */
#define VFIO_DIRECT_TYPE1_STATS_V1 \
    offsetof(struct vfio_iommu_type1_info_cap_stats, revoked_mappings)

/* VFIO_IOMMU_GET_INFO with its capabilities, NULL when it fails */
static struct vfio_iommu_type1_info *vfio_direct_type1_info(int fd)
{
    g_autofree struct vfio_iommu_type1_info *info = NULL;
    uint32_t argsz = sizeof(*info);

    for (;;) {
        info = g_realloc(info, argsz);
        memset(info, 0, argsz);
        info->argsz = argsz;
        if (ioctl(fd, VFIO_IOMMU_GET_INFO, info)) {
            return NULL;
        }
        if (info->argsz <= argsz) {
            return g_steal_pointer(&info);
        }
        argsz = info->argsz;
    }
}

VfioType1Stats *vfio_direct_type1_stats_query(VFIOPCIDevice *vdev)
{
    VFIOContainerBase *bc = vdev->vbasedev.bcontainer;
    g_autofree struct vfio_iommu_type1_info *info = NULL;
    struct vfio_iommu_type1_info_cap_stats *cap;
    struct vfio_info_cap_header *hdr;
    VfioType1RunList **tail;
    VfioType1Stats *stats;
    size_t len;
    uint32_t i;

    if (!bc || !object_dynamic_cast(OBJECT(bc), TYPE_VFIO_IOMMU_LEGACY)) {
        return NULL;            /* iommufd, sPAPR: no such capability */
    }
    /*
     * type1 holds its lock through a whole MAP_DMA, GET_INFO included:
     * asked while x-dma-async's worker maps, the monitor (and the BQL)
     * would wait for it.  The statistics come back once it is idle.
     */
    if (vfio_direct_dma_queue_busy(bc)) {
        return NULL;
    }
    info = vfio_direct_type1_info(container_of(bc, VFIOContainer,
                                               bcontainer)->fd);
    if (!info || !(info->flags & VFIO_IOMMU_INFO_CAPS)) {
        return NULL;
    }
    hdr = vfio_get_cap(info, info->cap_offset,
                       VFIO_IOMMU_TYPE1_INFO_CAP_STATS);
    if (!hdr || hdr->version < 1) {
        return NULL;
    }
    cap = container_of(hdr, struct vfio_iommu_type1_info_cap_stats, header);
    len = hdr->version >= 2 ? sizeof(*cap) : VFIO_DIRECT_TYPE1_STATS_V1;
    if ((char *)cap + len > (char *)info + info->argsz) {
        trace_vfio_direct_type1_stats_short(vdev->vbasedev.name,
                                            hdr->version);
        return NULL;
    }

    stats = g_new0(VfioType1Stats, 1);
    stats->dma_entries = cap->dma_entries;
    stats->pinned_pages = cap->pinned_pages;
    stats->pfnmap_pages = cap->pfnmap_pages;
    stats->iommu_map_calls = cap->iommu_map_calls;
    tail = &stats->runs;
    for (i = 0; i < MIN(cap->nr_run_buckets,
                        VFIO_IOMMU_TYPE1_STATS_RUN_BUCKETS); i++) {
        if (cap->run_hist[i]) {
            VfioType1Run *run = g_new(VfioType1Run, 1);

            run->log2_pages = i;
            run->calls = cap->run_hist[i];
            QAPI_LIST_APPEND(tail, run);
        }
    }
    if (hdr->version >= 2) {
        stats->has_revoked = true;
        stats->revoked = cap->revoked_mappings;
    }
    return stats;
}
