/*
 * vfio-direct: x-query-vfio, assembled from each capability's part
 *
 * For every vfio-pci device: the kernel's regions (region-info.c), what
 * the guest reaches in each BAR (bar-ranges.c), the MSI-X table
 * (msix.c) and the DMA counters of its container (dma.c, tce.c,
 * prereg.c, ddw.c).  This file only assembles them; hmp.c prints them.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/qapi-commands-vfio-direct.h"
#include "qom/object.h"
#include "hw/vfio/pci.h"
#include "hw/vfio/vfio-direct.h"
#include "bar-ranges.h"
#include "dma.h"
#include "region-info.h"
#include "spapr-state.h"
#include "tce.h"
#include "type1-stats.h"

static VfioPciDeviceInfo *vfio_direct_query_device(VFIOPCIDevice *vdev)
{
    VFIODevice *vbasedev = &vdev->vbasedev;
    VfioPciDeviceInfo *info = g_new0(VfioPciDeviceInfo, 1);
    DeviceState *dev = DEVICE(vdev);

    info->id = g_strdup(dev->id);
    info->qom_path = object_get_canonical_path(OBJECT(vdev));
    info->host = g_strdup(vbasedev->name);
    info->host_page_size = qemu_real_host_page_size();

    info->regions = vfio_direct_region_info_query(vdev);
    info->bars = vfio_direct_bar_ranges_query(vdev);
    info->msix = vfio_direct_msix_query(vdev);
    info->dma = vfio_direct_dma_query(vdev);
    if (info->dma) {
        info->dma->tce = vfio_direct_tce_query(vdev);
        info->dma->prereg = vfio_direct_prereg_query(vdev);
        info->dma->ddw = vfio_direct_ddw_query(vdev);
        info->dma->kernel = vfio_direct_type1_stats_query(vdev);
    }
    return info;
}

VfioPciDeviceInfoList *qmp_x_query_vfio(Error **errp)
{
    VfioPciDeviceInfoList *list = NULL;
    VFIODevice *vbasedev;

    /* Newest first: prepending puts the list in creation order */
    QLIST_FOREACH(vbasedev, &vfio_device_list, global_next) {
        /* A device being unplugged is on the list until finalized */
        if (vbasedev->type != VFIO_DEVICE_TYPE_PCI ||
            !qatomic_read(&vbasedev->dev->realized)) {
            continue;
        }
        QAPI_LIST_PREPEND(list, vfio_direct_query_device(
                              container_of(vbasedev, VFIOPCIDevice,
                                           vbasedev)));
    }
    return list;
}
