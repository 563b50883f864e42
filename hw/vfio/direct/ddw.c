/*
 * vfio-direct: DDW page sizes a pseries guest can really use
 *
 * What: RTAS ibm,query-pe-dma-window offers, and ibm,create-pe-dma-window
 * accepts, only the page sizes of the PHB's "pgsz" that every vfio
 * container attached to the PHB's DMA address space can back
 * (ddw-plan.c: some host IOMMU page size no larger than the
 * guest's page nor than the host pages behind guest RAM).  With no vfio
 * container there, the PHB's sizes, as upstream.
 * Why: upstream offers the PHB's sizes alone; a guest that picks one the
 * host cannot back gets its window from RTAS, and vfio then fails to
 * create the host window in the memory listener: hw_error() at run time.
 * Refusing in RTAS gives the guest the parameter error it handles (Linux
 * falls back to the default window).
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "system/hostmem.h"
#include "hw/vfio/vfio-common.h"
#include "hw/vfio/vfio-container-base.h"
#include "hw/vfio/pci.h"
#include "hw/vfio/vfio-direct-spapr.h"
#include "ddw-plan.h"
#include "spapr-state.h"
#include "trace.h"

/* Every size from 4 KiB up: what a container can back at all */
#define VFIO_DIRECT_DDW_ALL_SIZES (~0ULL << 12)

/*
 * The distinct containers attached to @as (any number of them), and
 * their host IOMMU page sizes in *@host, in the same order.
 */
static GPtrArray *vfio_direct_ddw_containers(AddressSpace *as,
                                             uint64_t **host)
{
    GPtrArray *bcs = g_ptr_array_new();
    VFIODevice *vbasedev;

    QLIST_FOREACH(vbasedev, &vfio_device_list, global_next) {
        VFIOContainerBase *bc = vbasedev->bcontainer;

        if (bc && bc->space && bc->space->as == as &&
            !g_ptr_array_find(bcs, bc, NULL)) {
            g_ptr_array_add(bcs, bc);
        }
    }
    *host = g_new(uint64_t, bcs->len);
    for (guint i = 0; i < bcs->len; i++) {
        VFIOContainerBase *bc = g_ptr_array_index(bcs, i);

        (*host)[i] = bc->pgsizes;
        trace_vfio_direct_ddw_container(i, bc->pgsizes,
                                        qemu_minrampagesize());
    }
    return bcs;
}

uint64_t vfio_direct_ddw_page_sizes(uint64_t phb_pgsizes, AddressSpace *as)
{
    g_autofree uint64_t *host = NULL;
    g_autoptr(GPtrArray) bcs = vfio_direct_ddw_containers(as, &host);
    long ram_page = qemu_minrampagesize();
    uint64_t offered;

    offered = vfio_direct_ddw_offer(phb_pgsizes, host, bcs->len, ram_page);
    trace_vfio_direct_ddw_page_sizes(phb_pgsizes, bcs->len, ram_page,
                                     offered);
    return offered;
}

bool vfio_direct_ddw_page_ok(uint64_t phb_pgsizes, AddressSpace *as,
                             uint32_t page_shift)
{
    g_autofree uint64_t *host = NULL;
    g_autofree bool *refuses = NULL;
    g_autoptr(GPtrArray) bcs = NULL;
    uint64_t page;
    unsigned n;

    if (page_shift >= 64 || !(phb_pgsizes & (1ULL << page_shift))) {
        return false;           /* upstream's refusal: nothing of ours */
    }
    page = 1ULL << page_shift;
    bcs = vfio_direct_ddw_containers(as, &host);
    refuses = g_new(bool, bcs->len);
    n = vfio_direct_ddw_refusers(page, host, bcs->len, qemu_minrampagesize(),
                                 refuses);
    if (!n) {
        return true;
    }
    trace_vfio_direct_ddw_refused(page, n);
    for (guint i = 0; i < bcs->len; i++) {
        VFIOContainerBase *bc = g_ptr_array_index(bcs, i);

        /* Only sPAPR containers report it (and free it on release) */
        if (refuses[i] &&
            object_dynamic_cast(OBJECT(bc), TYPE_VFIO_IOMMU_SPAPR)) {
            vfio_direct_spapr_state(bc, true)->ddw_refused++;
        }
    }
    return false;
}

VfioDdwInfo *vfio_direct_ddw_query(VFIOPCIDevice *vdev)
{
    VFIOContainerBase *bc = vdev->vbasedev.bcontainer;
    VFIODirectSpapr *s;
    VfioDdwInfo *info;

    if (!bc || !object_dynamic_cast(OBJECT(bc), TYPE_VFIO_IOMMU_SPAPR)) {
        return NULL;
    }
    s = vfio_direct_spapr_state(bc, false);
    info = g_new0(VfioDdwInfo, 1);
    info->host_page_sizes = bc->pgsizes;
    info->ram_page_size = qemu_minrampagesize();
    info->page_sizes = vfio_direct_ddw_offer(VFIO_DIRECT_DDW_ALL_SIZES,
                                             &info->host_page_sizes, 1,
                                             info->ram_page_size);
    info->refused = s ? s->ddw_refused : 0;
    return info;
}
