/*
 * vfio-direct: the kernel's region info, fetched once, checked, kept
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_REGION_INFO_H
#define HW_VFIO_DIRECT_REGION_INFO_H

#include <linux/vfio.h>
#include "qapi/qapi-types-vfio-direct.h"

typedef struct VFIOPCIDevice VFIOPCIDevice;

/*
 * Region @index's info, whose capability chain is safe to walk, as the
 * kernel gave it when first asked; NULL when the kernel has no such
 * region or its chain is broken.  Owned by @vdev.
 */
const struct vfio_region_info *vfio_direct_region_info(VFIOPCIDevice *vdev,
                                                       int index);

/* Capability @id of region @index (as above), or NULL */
struct vfio_info_cap_header *vfio_direct_region_cap(VFIOPCIDevice *vdev,
                                                    int index, uint16_t id);

/* The regions of the report, with the capabilities we know */
VfioRegionInfoList *vfio_direct_region_info_query(VFIOPCIDevice *vdev);

#endif /* HW_VFIO_DIRECT_REGION_INFO_H */
