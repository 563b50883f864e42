/*
 * vfio-direct: the type1 kernel backend's own mapping statistics
 * (private header of type1-stats.c, for query.c)
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_TYPE1_STATS_H
#define HW_VFIO_DIRECT_TYPE1_STATS_H

#include "qapi/qapi-types-vfio-direct.h"
#include "hw/vfio/pci.h"

/*
 * What the kernel's type1 backend reports about the mappings of @vdev's
 * container; NULL without the capability (stock kernel, not type1).
 */
VfioType1Stats *vfio_direct_type1_stats_query(VFIOPCIDevice *vdev);

#endif /* HW_VFIO_DIRECT_TYPE1_STATS_H */
