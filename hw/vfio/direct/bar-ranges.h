/*
 * vfio-direct: what the guest reaches directly in each BAR, and why not
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_BAR_RANGES_H
#define HW_VFIO_DIRECT_BAR_RANGES_H

#include "qapi/qapi-types-vfio-direct.h"

typedef struct VFIOPCIDevice VFIOPCIDevice;

/* Every BAR of @vdev that the guest can see, with its ranges */
VfioBarInfoList *vfio_direct_bar_ranges_query(VFIOPCIDevice *vdev);

#endif /* HW_VFIO_DIRECT_BAR_RANGES_H */
