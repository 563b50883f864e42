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
 * put_tce_emu(): may the guest set @tce, a TCE of a page of @page_size
 * bytes, in a table that vfio maps to a host IOMMU (@need_vfio)?  A TCE
 * that grants access (read or write) must point at guest RAM, the only
 * memory vfio can map; the hypercall fails with H_PARAMETER otherwise,
 * as KVM's in-kernel TCE handlers do.  Always true when @need_vfio is
 * false or the TCE clears the entry.
 */
bool vfio_direct_tce_put_ok(bool need_vfio, uint64_t tce, hwaddr page_size);

/* Updates of @iommu_mr's TCEs begin; no batch may be open. */
void vfio_direct_tce_batch_begin(IOMMUMemoryRegion *iommu_mr);

/* Clear the TCE at bus address @ioba of the table @opaque */
typedef void VFIODirectTceClear(void *opaque, hwaddr ioba);

/*
 * The batch on @iommu_mr ends; its updates covered the TCEs below bus
 * address @end, each of @page_size bytes, of a table whose IOVA 0 is bus
 * address @bus_offset.  Every run still collected is mapped or unmapped.
 * When a host call failed, the TCEs from the first one the host refused
 * up to @end are cleared through @clear (@opaque: the table), in a batch
 * of their own, so that the guest's table and the host's mappings agree,
 * and the answer is false: the hypercall then fails with H_HARDWARE.
 */
bool vfio_direct_tce_batch_finish(IOMMUMemoryRegion *iommu_mr,
                                  hwaddr bus_offset, hwaddr end,
                                  hwaddr page_size, VFIODirectTceClear *clear,
                                  void *opaque);

/*
 * vfio_iommu_map_notify(): does vfio-direct take this update of
 * @giommu's table (so upstream must not map or unmap it)?
 */
bool vfio_direct_tce_defer(VFIOGuestIOMMU *giommu, IOMMUTLBEntry *iotlb);

#endif /* HW_VFIO_VFIO_DIRECT_TCE_H */
