/*
 * vfio-direct: sPAPR TCE hypercalls as runs of host mappings
 *
 * What: while a TCE hypercall (H_PUT_TCE, H_PUT_TCE_INDIRECT,
 * H_STUFF_TCE) updates a table, vfio's IOMMU notifier hands us each
 * update of a table that a sPAPR TCE container mirrors; we collect runs
 * (tce-plan.c) and map or unmap each run with one host call, at the end
 * of the hypercall or as soon as the next TCE breaks the run.  A
 * MAP_DMA that fails is retried TCE by TCE to find the first one the
 * host refuses; the hypercall then clears the TCEs from there to its
 * end, so that the guest's table and the host's mappings agree, and
 * fails with H_HARDWARE.
 * Why: upstream makes one MAP_DMA per TCE, 512 for one
 * H_PUT_TCE_INDIRECT.  The sPAPR TCE IOMMU, unlike type1, unmaps any
 * range of whole entries, so a run never needs to be bisected later.
 * Type1 containers (a pseries guest on a non-POWER host) therefore keep
 * upstream's mapping per TCE, and so does a container that tracks dirty
 * pages (its unmaps must carry the IOMMU entry).
 *
 * A TCE set within a batch is mapped with the permissions the guest gave
 * it: a TCE the device may only read is mapped read-only, as KVM's
 * in-kernel TCE handlers map it.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/rcu.h"
#include "qapi/error.h"
#include "qom/object.h"
#include "qapi/qapi-visit-vfio-direct.h"
#include "qapi/clone-visitor.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "hw/vfio/vfio-common.h"
#include "hw/vfio/pci.h"
#include "hw/vfio/vfio-container-base.h"
#include "hw/vfio/vfio-direct-tce.h"
#include "dma.h"
#include "tce-plan.h"
#include "tce.h"
#include "trace.h"

/* The run one container's notifier is collecting */
typedef struct VFIOTcePending {
    VFIOGuestIOMMU *giommu;
    VFIOTceRun run;
} VFIOTcePending;

/* The open batch: at most one, under the BQL, within one hypercall */
static struct {
    IOMMUMemoryRegion *iommu_mr;    /* NULL: no batch is open */
    GArray *pending;                /* VFIOTcePending */
    bool failed;
    hwaddr failed_iova;             /* of iommu_mr */
    uint64_t entries;
} batch;

static VfioTceInfo *vfio_direct_tce_stats(VFIOContainerBase *bcontainer)
{
    VFIODirectDma *d = vfio_direct_dma_get(bcontainer);

    if (!d->tce) {
        d->tce = g_new0(VfioTceInfo, 1);
    }
    return d->tce;
}

/* Containers whose mappings we may merge into runs */
static bool vfio_direct_tce_runs(VFIOContainerBase *bcontainer)
{
    return object_dynamic_cast(OBJECT(bcontainer), TYPE_VFIO_IOMMU_SPAPR) &&
           !bcontainer->dirty_pages_started;
}

static bool vfio_direct_tce_target_ok(hwaddr addr, hwaddr size)
{
    IOMMUTLBEntry entry = {
        .target_as = &address_space_memory,
        .translated_addr = addr,
        .addr_mask = size - 1,
        .perm = IOMMU_RW,
    };
    Error *err = NULL;
    bool ok;

    RCU_READ_LOCK_GUARD();
    ok = memory_get_xlat_addr(&entry, NULL, NULL, NULL, NULL, &err);
    if (!ok) {
        trace_vfio_direct_tce_refused(addr, size, error_get_pretty(err));
        error_free(err);
    }
    return ok;
}

/* A TCE's permission bits (LoPAPR: bit 0 read, bit 1 write) */
#define VFIO_DIRECT_TCE_PERM 3ULL

bool vfio_direct_tce_put_ok(bool need_vfio, uint64_t tce, hwaddr page_size)
{
    if (!need_vfio || !(tce & VFIO_DIRECT_TCE_PERM)) {
        return true;
    }
    return vfio_direct_tce_target_ok(tce & ~(page_size - 1), page_size);
}

void vfio_direct_tce_batch_begin(IOMMUMemoryRegion *iommu_mr)
{
    assert(!batch.iommu_mr);
    if (!batch.pending) {
        batch.pending = g_array_new(false, false, sizeof(VFIOTcePending));
    }
    batch.iommu_mr = iommu_mr;
    batch.failed = false;
    batch.failed_iova = 0;
    batch.entries = 0;
    /* Host addresses collected stay valid until the batch ends */
    rcu_read_lock();
}

/* Record that the host refused the TCE at @iova (container IOVA) */
static void vfio_direct_tce_fail(VFIOGuestIOMMU *giommu, hwaddr iova)
{
    hwaddr failed = iova - giommu->iommu_offset;

    if (!batch.failed || failed < batch.failed_iova) {
        batch.failed_iova = failed;
    }
    batch.failed = true;
}

/* Map a run that failed as a whole TCE by TCE, up to the first refusal */
static void vfio_direct_tce_map_each(VFIOGuestIOMMU *giommu,
                                     const VFIOTceRun *run)
{
    uint32_t i;

    for (i = 0; i < run->entries; i++) {
        VFIOTceEntry e = vfio_direct_tce_run_entry(run, i);
        int ret = vfio_container_dma_map(giommu->bcontainer, e.iova, e.size,
                                         (void *)(uintptr_t)e.vaddr,
                                         e.read_only);
        if (ret) {
            error_report("vfio-direct: the host IOMMU refused the TCE at "
                         "IOVA 0x%" PRIx64 " (%s); the hypercall fails and "
                         "clears the TCEs from there", e.iova, strerror(-ret));
            vfio_direct_tce_fail(giommu, e.iova);
            return;
        }
    }
}

/* One host call for the run @p collected */
static void vfio_direct_tce_flush(VFIOTcePending *p)
{
    VFIOContainerBase *bcontainer = p->giommu->bcontainer;
    VfioTceInfo *stats = vfio_direct_tce_stats(bcontainer);
    VFIOTceRun *run = &p->run;
    int ret;

    if (!run->entries) {
        return;
    }
    trace_vfio_direct_tce_run(run->first.map ? "map" : "unmap",
                              run->first.iova, run->size, run->entries,
                              run->first.read_only);
    stats->largest_run = MAX(stats->largest_run, run->entries);
    if (run->first.map) {
        stats->map_runs++;
        ret = vfio_container_dma_map(bcontainer, run->first.iova, run->size,
                                     (void *)(uintptr_t)run->first.vaddr,
                                     run->first.read_only);
        if (ret) {
            trace_vfio_direct_tce_run_failed(run->first.iova, run->size, ret);
            vfio_direct_tce_map_each(p->giommu, run);
        }
    } else {
        stats->unmap_runs++;
        ret = vfio_container_dma_unmap(bcontainer, run->first.iova, run->size,
                                       NULL);
        if (ret) {
            error_report("vfio-direct: UNMAP_DMA of IOVA 0x%" PRIx64
                         " size 0x%" PRIx64 " failed (%s)", run->first.iova,
                         run->size, strerror(-ret));
            vfio_direct_tce_fail(p->giommu, run->first.iova);
        }
    }
    *run = (VFIOTceRun) { 0 };
}

static VFIOTcePending *vfio_direct_tce_pending(VFIOGuestIOMMU *giommu)
{
    VFIOTcePending fresh = { .giommu = giommu };
    guint i;

    for (i = 0; i < batch.pending->len; i++) {
        VFIOTcePending *p = &g_array_index(batch.pending, VFIOTcePending, i);

        if (p->giommu == giommu) {
            return p;
        }
    }
    g_array_append_val(batch.pending, fresh);
    return &g_array_index(batch.pending, VFIOTcePending, i);
}

bool vfio_direct_tce_defer(VFIOGuestIOMMU *giommu, IOMMUTLBEntry *iotlb)
{
    VFIOTceEntry e = {
        .iova = iotlb->iova + giommu->iommu_offset,
        .size = iotlb->addr_mask + 1,
        .map = (iotlb->perm & IOMMU_RW) != IOMMU_NONE,
    };
    VFIOTcePending *p;

    if (!batch.iommu_mr || giommu->iommu_mr != batch.iommu_mr ||
        iotlb->target_as != &address_space_memory ||
        !vfio_direct_tce_runs(giommu->bcontainer)) {
        return false;
    }
    vfio_direct_tce_stats(giommu->bcontainer)->entries++;
    batch.entries++;
    if (batch.failed) {
        /* The hypercall clears this TCE again when the batch ends */
        return true;
    }
    if (e.map) {
        Error *err = NULL;
        void *vaddr;
        ram_addr_t ram_addr;
        bool mr_read_only;

        if (!memory_get_xlat_addr(iotlb, &vaddr, &ram_addr, &mr_read_only,
                                  NULL, &err)) {
            error_report_err(err);
            vfio_direct_tce_fail(giommu, e.iova);
            return true;
        }
        e.vaddr = (uintptr_t)vaddr;
        e.ram_addr = ram_addr;
        e.read_only = mr_read_only || !(iotlb->perm & IOMMU_WO);
    }
    p = vfio_direct_tce_pending(giommu);
    if (!vfio_direct_tce_run_takes(&p->run, &e)) {
        vfio_direct_tce_flush(p);
        if (batch.failed) {
            return true;
        }
    }
    vfio_direct_tce_run_add(&p->run, &e);
    return true;
}

static bool vfio_direct_tce_batch_end(IOMMUMemoryRegion *iommu_mr,
                                      hwaddr *failed_iova)
{
    guint i;

    assert(batch.iommu_mr == iommu_mr);
    /*
     * After a failure too: runs below the failing TCE must be mapped,
     * and what lies above it the caller clears again.
     */
    for (i = 0; i < batch.pending->len; i++) {
        vfio_direct_tce_flush(&g_array_index(batch.pending,
                                             VFIOTcePending, i));
    }
    for (i = 0; batch.failed && i < batch.pending->len; i++) {
        VFIOTcePending *p = &g_array_index(batch.pending, VFIOTcePending, i);

        vfio_direct_tce_stats(p->giommu->bcontainer)->rollbacks++;
    }
    g_array_set_size(batch.pending, 0);
    rcu_read_unlock();
    batch.iommu_mr = NULL;
    trace_vfio_direct_tce_batch(batch.entries, batch.failed,
                                batch.failed_iova);
    *failed_iova = batch.failed_iova;
    return !batch.failed;
}

bool vfio_direct_tce_batch_finish(IOMMUMemoryRegion *iommu_mr,
                                  hwaddr bus_offset, hwaddr end,
                                  hwaddr page_size, VFIODirectTceClear *clear,
                                  void *opaque)
{
    hwaddr failed, ioba;

    if (vfio_direct_tce_batch_end(iommu_mr, &failed)) {
        return true;
    }
    vfio_direct_tce_batch_begin(iommu_mr);
    for (ioba = bus_offset + failed; ioba < end; ioba += page_size) {
        clear(opaque, ioba);
    }
    vfio_direct_tce_batch_end(iommu_mr, &failed);
    return false;
}

VfioTceInfo *vfio_direct_tce_query(VFIOPCIDevice *vdev)
{
    VFIOContainerBase *bcontainer = vdev->vbasedev.bcontainer;

    if (!bcontainer ||
        !object_dynamic_cast(OBJECT(bcontainer), TYPE_VFIO_IOMMU_SPAPR)) {
        return NULL;
    }
    return QAPI_CLONE(VfioTceInfo, vfio_direct_tce_stats(bcontainer));
}
