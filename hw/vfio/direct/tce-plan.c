/*
 * vfio-direct: runs of sPAPR TCEs that one MAP_DMA or UNMAP_DMA covers
 *
 * What: decides whether the next TCE a hypercall updates continues the
 * run being collected (tce.c maps or unmaps each run with one call).
 * Why: the sPAPR TCE IOMMU maps and unmaps any range of whole entries,
 * whatever calls set them up, so a run never has to be split later; a
 * run must only never cover a TCE the guest did not set that way.  Pure,
 * so that the unit test (tests/unit/test-vfio-direct-tce.c) links it
 * alone.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "tce-plan.h"

bool vfio_direct_tce_run_takes(const VFIOTceRun *run, const VFIOTceEntry *e)
{
    const VFIOTceEntry *f = &run->first;

    if (!run->entries) {
        return true;
    }
    if (e->size != f->size || e->map != f->map ||
        e->iova != f->iova + run->size || e->iova < f->iova) {
        return false;
    }
    if (!e->map) {
        return true;
    }
    return e->read_only == f->read_only &&
           e->vaddr == f->vaddr + run->size && e->vaddr > f->vaddr &&
           e->ram_addr == f->ram_addr + run->size && e->ram_addr > f->ram_addr;
}

void vfio_direct_tce_run_add(VFIOTceRun *run, const VFIOTceEntry *e)
{
    assert(vfio_direct_tce_run_takes(run, e));
    if (!run->entries) {
        run->first = *e;
    }
    run->size += e->size;
    run->entries++;
}

VFIOTceEntry vfio_direct_tce_run_entry(const VFIOTceRun *run, uint32_t i)
{
    VFIOTceEntry e = run->first;
    uint64_t offset = (uint64_t)i * run->first.size;

    assert(i < run->entries);
    e.iova += offset;
    if (e.map) {
        e.vaddr += offset;
        e.ram_addr += offset;
    }
    return e;
}
