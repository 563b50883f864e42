/*
 * vfio-direct: per-container state of the sPAPR parts (private header)
 *
 * prereg.c owns it: created on first use as a property of the container
 * object, freed with the object on every path that drops the container;
 * ddw.c counts its DDW refusals there; both report to query.c through
 * the functions below.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_SPAPR_STATE_H
#define HW_VFIO_DIRECT_SPAPR_STATE_H

#include "qapi/qapi-types-vfio-direct.h"
#include "hw/vfio/vfio-direct-spapr.h"

typedef struct VFIOPCIDevice VFIOPCIDevice;

typedef struct VFIODirectSpapr {
    VfioPreregInfo prereg;      /* counters; in-use fields kept live */
    uint64_t ddw_refused;       /* DDW creations only the host refused */
} VFIODirectSpapr;

/* prereg.c: @bcontainer's state, created when @create */
VFIODirectSpapr *vfio_direct_spapr_state(VFIOContainerBase *bcontainer,
                                         bool create);

/* The reports of @vdev's container, NULL unless it is a sPAPR one */
VfioPreregInfo *vfio_direct_prereg_query(VFIOPCIDevice *vdev);
VfioDdwInfo *vfio_direct_ddw_query(VFIOPCIDevice *vdev);

#endif /* HW_VFIO_DIRECT_SPAPR_STATE_H */
