/*
 * vfio-direct: sPAPR TCE hypercalls as runs of host mappings (report)
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_TCE_H
#define HW_VFIO_DIRECT_TCE_H

#include "qapi/qapi-types-vfio-direct.h"

typedef struct VFIOPCIDevice VFIOPCIDevice;

/* The TCE counters of @vdev's container, NULL unless it is sPAPR */
VfioTceInfo *vfio_direct_tce_query(VFIOPCIDevice *vdev);

#endif /* HW_VFIO_DIRECT_TCE_H */
