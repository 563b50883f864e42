/*
 * vfio-direct: sPAPR TCE hypercalls as runs of host mappings
 *
 * The TCE hypercalls (hw/ppc/spapr_iommu.c) bracket their updates of one
 * TCE table with a batch.  Within it, vfio's IOMMU notifier
 * (vfio_iommu_map_notify) hands each update to vfio_direct_tce_defer(),
 * which collects runs of TCEs and maps or unmaps each run with one host
 * call (hw/vfio/direct/tce.c).
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_VFIO_DIRECT_TCE_H
#define HW_VFIO_VFIO_DIRECT_TCE_H

#include "exec/memory.h"

typedef struct VFIOGuestIOMMU VFIOGuestIOMMU;

/*
 * May a TCE of @size bytes point at guest address @addr, for a table
 * that vfio maps to a host IOMMU?  Only guest RAM can be mapped there;
 * the hypercall fails with H_PARAMETER otherwise, as KVM's in-kernel
 * TCE handlers do.
 */
bool vfio_direct_tce_target_ok(hwaddr addr, hwaddr size);

/* Updates of @iommu_mr's TCEs begin; no batch may be open. */
void vfio_direct_tce_batch_begin(IOMMUMemoryRegion *iommu_mr);

/*
 * The batch on @iommu_mr ends: every run still collected is mapped or
 * unmapped.  False when a host call failed: TCEs from *@failed_iova (an
 * IOVA of @iommu_mr, like IOMMUTLBEntry.iova) to the end of the batch
 * may not be mapped as the guest set them.  The caller then clears
 * them (in a batch of its own) so that the table and the host agree,
 * and fails the hypercall with H_HARDWARE.
 */
bool vfio_direct_tce_batch_end(IOMMUMemoryRegion *iommu_mr,
                               hwaddr *failed_iova);

/*
 * vfio_iommu_map_notify(): does vfio-direct take this update of
 * @giommu's table (so upstream must not map or unmap it)?
 */
bool vfio_direct_tce_defer(VFIOGuestIOMMU *giommu, IOMMUTLBEntry *iotlb);

#endif /* HW_VFIO_VFIO_DIRECT_TCE_H */
