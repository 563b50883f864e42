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

/* The distinct containers attached to @as, at most @max */
static unsigned vfio_direct_ddw_containers(AddressSpace *as,
                                           VFIOContainerBase **out,
                                           unsigned max)
{
    VFIODevice *vbasedev;
    unsigned n = 0, i;

    QLIST_FOREACH(vbasedev, &vfio_device_list, global_next) {
        VFIOContainerBase *bc = vbasedev->bcontainer;

        if (!bc || !bc->space || bc->space->as != as) {
            continue;
        }
        for (i = 0; i < n && out[i] != bc; i++) {
            /* already listed */
        }
        if (i == n && n < max) {
            out[n++] = bc;
        }
    }
    return n;
}

#define VFIO_DIRECT_DDW_MAX_CONTAINERS 16

static uint64_t vfio_direct_ddw_sizes(uint64_t phb_pgsizes, AddressSpace *as,
                                      VFIOContainerBase **bc, unsigned *nr)
{
    uint64_t host[VFIO_DIRECT_DDW_MAX_CONTAINERS], offered;
    long ram_page;
    unsigned n, i;

    n = vfio_direct_ddw_containers(as, bc, VFIO_DIRECT_DDW_MAX_CONTAINERS);
    *nr = n;
    if (!n) {
        return phb_pgsizes;
    }
    ram_page = qemu_minrampagesize();
    for (i = 0; i < n; i++) {
        host[i] = bc[i]->pgsizes;
        trace_vfio_direct_ddw_container(i, host[i], ram_page);
    }
    offered = vfio_direct_ddw_offer(phb_pgsizes, host, n, ram_page);
    trace_vfio_direct_ddw_page_sizes(phb_pgsizes, n, ram_page, offered);
    return offered;
}

uint64_t vfio_direct_ddw_page_sizes(uint64_t phb_pgsizes, AddressSpace *as)
{
    VFIOContainerBase *bc[VFIO_DIRECT_DDW_MAX_CONTAINERS];
    unsigned n;

    return vfio_direct_ddw_sizes(phb_pgsizes, as, bc, &n);
}

bool vfio_direct_ddw_page_ok(uint64_t phb_pgsizes, AddressSpace *as,
                             uint32_t page_shift)
{
    VFIOContainerBase *bc[VFIO_DIRECT_DDW_MAX_CONTAINERS];
    uint64_t page, offered;
    unsigned n, i;

    if (page_shift >= 64) {
        return false;
    }
    page = 1ULL << page_shift;
    if (!(phb_pgsizes & page)) {
        return false;           /* upstream's refusal: nothing of ours */
    }
    offered = vfio_direct_ddw_sizes(phb_pgsizes, as, bc, &n);
    if (offered & page) {
        return true;
    }
    trace_vfio_direct_ddw_refused(page, offered);
    for (i = 0; i < n; i++) {
        /* Only sPAPR containers report it (and free it on release) */
        if (object_dynamic_cast(OBJECT(bc[i]), TYPE_VFIO_IOMMU_SPAPR)) {
            vfio_direct_spapr_state(bc[i], true)->ddw_refused++;
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
