/*
 * vfio-direct: TCE batches in builds without vfio-pci
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/vfio/vfio-direct-tce.h"

/* No table is mirrored to a host IOMMU: nothing to check or collect. */
bool vfio_direct_tce_target_ok(hwaddr addr, hwaddr size)
{
    return true;
}

void vfio_direct_tce_batch_begin(IOMMUMemoryRegion *iommu_mr)
{
}

bool vfio_direct_tce_batch_end(IOMMUMemoryRegion *iommu_mr,
                               hwaddr *failed_iova)
{
    return true;
}
