/*
 * vfio-direct: TCE batches in builds without vfio-pci
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/vfio/vfio-direct-tce.h"

/* No table is mirrored to a host IOMMU: nothing to check or collect. */
bool vfio_direct_tce_put_ok(bool need_vfio, uint64_t tce, hwaddr page_size)
{
    return true;
}

void vfio_direct_tce_batch_begin(IOMMUMemoryRegion *iommu_mr)
{
}

bool vfio_direct_tce_batch_finish(IOMMUMemoryRegion *iommu_mr,
                                  hwaddr bus_offset, hwaddr end,
                                  hwaddr page_size, VFIODirectTceClear *clear,
                                  void *opaque)
{
    return true;
}
