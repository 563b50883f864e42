/*
 * vfio-direct: sPAPR DDW page sizes and memory preregistration (hooks)
 *
 * hw/ppc/spapr_rtas_ddw.c asks which DDW page sizes a PHB may offer
 * (hw/vfio/direct/ddw.c); hw/vfio/spapr.c's prereg listener
 * has its VFIO_IOMMU_SPAPR_(UN)REGISTER_MEMORY calls prefaulted and
 * counted (hw/vfio/direct/prereg.c).
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_VFIO_DIRECT_SPAPR_H
#define HW_VFIO_VFIO_DIRECT_SPAPR_H

#include "exec/memory.h"

typedef struct VFIOContainerBase VFIOContainerBase;

/*
 * The DDW page sizes (a mask of powers of two) a PHB whose own are
 * @phb_pgsizes may offer for DMA address space @as: those that every
 * vfio container attached to @as can back (see ddw-plan.h);
 * @phb_pgsizes itself when none is attached.
 */
uint64_t vfio_direct_ddw_page_sizes(uint64_t phb_pgsizes, AddressSpace *as);

/*
 * May a DDW of 2^@page_shift byte pages be created on @as?  As above;
 * a refusal that only the host causes is traced and counted.
 */
bool vfio_direct_ddw_page_ok(uint64_t phb_pgsizes, AddressSpace *as,
                             uint32_t page_shift);

/*
 * Before VFIO_IOMMU_SPAPR_REGISTER_MEMORY of @size bytes of @section at
 * host address @vaddr: populate them with threads (x-dma-prefault-threads)
 */
void vfio_direct_prereg_prefault(VFIOContainerBase *bcontainer,
                                 MemoryRegionSection *section,
                                 uint64_t vaddr, uint64_t size);

/*
 * One VFIO_IOMMU_SPAPR_REGISTER_MEMORY (@reg) or UNREGISTER_MEMORY call
 * of @bcontainer, of @size bytes at host address @vaddr, that returned
 * @ret (0 or -errno) and began at vfio_direct_prereg_clock() @start.
 */
int64_t vfio_direct_prereg_clock(void);
void vfio_direct_prereg_account(VFIOContainerBase *bcontainer, bool reg,
                                uint64_t vaddr, uint64_t size, int ret,
                                int64_t start);

#endif /* HW_VFIO_VFIO_DIRECT_SPAPR_H */
