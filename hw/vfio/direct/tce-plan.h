/*
 * vfio-direct: runs of sPAPR TCEs that one MAP_DMA or UNMAP_DMA covers
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_TCE_PLAN_H
#define HW_VFIO_DIRECT_TCE_PLAN_H

/* One TCE a hypercall set or cleared, as the host IOMMU sees it */
typedef struct VFIOTceEntry {
    uint64_t iova;              /* in the container's IOVA space */
    uint64_t size;              /* the TCE page size */
    bool map;                   /* set (else cleared) */
    bool read_only;             /* set for device reads only */
    uint64_t vaddr;             /* set: the host address of guest RAM */
    uint64_t ram_addr;          /* set: QEMU's ram_addr_t of the same */
} VFIOTceEntry;

/*
 * TCEs that one host call covers: contiguous in IOVA, all set or all
 * cleared, the same page size, and when set contiguous in host virtual
 * address and in QEMU's RAM (so within one RAM block), with the same
 * permissions.  @entries == 0: the run is empty.
 */
typedef struct VFIOTceRun {
    VFIOTceEntry first;         /* the first entry, size its page size */
    uint64_t size;              /* bytes of IOVA the run covers */
    uint32_t entries;
} VFIOTceRun;

/* Can @e be added to @run: empty, or @e continues it? */
bool vfio_direct_tce_run_takes(const VFIOTceRun *run, const VFIOTceEntry *e);

/* Add @e to @run, which must take it */
void vfio_direct_tce_run_add(VFIOTceRun *run, const VFIOTceEntry *e);

/* The @i-th entry of @run (i < run->entries) */
VFIOTceEntry vfio_direct_tce_run_entry(const VFIOTceRun *run, uint32_t i);

#endif /* HW_VFIO_DIRECT_TCE_PLAN_H */
