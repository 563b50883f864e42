/*
 * vfio-direct: sPAPR memory preregistration, counted
 *
 * What: every VFIO_IOMMU_SPAPR_REGISTER_MEMORY and UNREGISTER_MEMORY of
 * upstream's prereg listener (hw/vfio/spapr.c) is counted and timed per
 * container: calls, bytes, the largest registration, failures, and the
 * registrations (and bytes) in use, for x-query-vfio and "info vfio".
 * Why: a sPAPR TCE v2 container pins and accounts (locked_vm) guest RAM
 * at registration, not at MAP_DMA; these counters show what was pinned
 * and in how many pieces.  Upstream registers one flat-view section at a
 * time; on pseries every RAM block is one section (measured: one call
 * per block, see docs/devel/vfio-direct.rst), so there is nothing to
 * coalesce and the listener stays upstream's.
 * Before registering, the range is prefaulted in parallel (prefault.c,
 * x-dma-prefault-threads of the device that created the container), as
 * before a large MAP_DMA on type1: registration pins page by page.
 * Registering asynchronously is not done: see docs/devel/vfio-direct.rst.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/timer.h"
#include "hw/vfio/vfio-common.h"
#include "hw/vfio/vfio-container-base.h"
#include "hw/vfio/pci.h"
#include "hw/vfio/vfio-direct-spapr.h"
#include "dma.h"
#include "spapr-state.h"
#include "trace.h"

/*
 * The state lives in a property of the container object, whose release
 * frees it when the object is finalized: on every path that drops a
 * container, a failed set-up included, and never under a stale key.
 */
#define VFIO_DIRECT_SPAPR_PROP "x-vfio-direct-spapr"

static void vfio_direct_spapr_state_free(Object *obj, const char *name,
                                         void *opaque)
{
    g_free(opaque);
}

VFIODirectSpapr *vfio_direct_spapr_state(VFIOContainerBase *bcontainer,
                                         bool create)
{
    ObjectProperty *prop = object_property_find(OBJECT(bcontainer),
                                                VFIO_DIRECT_SPAPR_PROP);
    VFIODirectSpapr *s;

    if (prop || !create) {
        return prop ? prop->opaque : NULL;
    }
    s = g_new0(VFIODirectSpapr, 1);
    object_property_add(OBJECT(bcontainer), VFIO_DIRECT_SPAPR_PROP,
                        "VFIODirectSpapr", NULL, NULL,
                        vfio_direct_spapr_state_free, s);
    return s;
}

void vfio_direct_prereg_prefault(VFIOContainerBase *bcontainer,
                                 MemoryRegionSection *section,
                                 uint64_t vaddr, uint64_t size)
{
    VFIODirectDmaRange r = {
        .iova = section->offset_within_address_space,
        .size = size,
        .hva = vaddr,
        .readonly = section->readonly,
    };

    if (memory_region_is_ram(section->mr) &&
        !memory_region_is_ram_device(section->mr)) {
        vfio_direct_prefault(vfio_direct_dma_get(bcontainer), section->mr,
                             &r);
    }
}

int64_t vfio_direct_prereg_clock(void)
{
    return get_clock();
}

void vfio_direct_prereg_account(VFIOContainerBase *bcontainer, bool reg,
                                uint64_t vaddr, uint64_t size, int ret,
                                int64_t start)
{
    VfioPreregInfo *p = &vfio_direct_spapr_state(bcontainer, true)->prereg;
    int64_t ns = get_clock() - start;
    int saved_errno = errno;    /* the caller reads it after us */

    trace_vfio_direct_prereg(reg ? "register" : "unregister", vaddr, size,
                             ret, ns);
    if (reg) {
        p->register_calls++;
        p->register_ns += ns;
        if (ret) {
            p->register_failures++;
            goto out;
        }
        p->register_bytes += size;
        p->largest = MAX(p->largest, size);
        p->registrations++;
        p->registered_bytes += size;
    } else {
        p->unregister_calls++;
        p->unregister_ns += ns;
        if (ret) {
            p->unregister_failures++;
            goto out;
        }
        p->unregister_bytes += size;
        /* The kernel refuses to unregister what was not registered */
        p->registrations -= MIN(p->registrations, 1);
        p->registered_bytes -= MIN(p->registered_bytes, size);
    }
out:
    errno = saved_errno;
}

VfioPreregInfo *vfio_direct_prereg_query(VFIOPCIDevice *vdev)
{
    VFIOContainerBase *bc = vdev->vbasedev.bcontainer;
    VFIOContainer *container;

    if (!bc || !object_dynamic_cast(OBJECT(bc), TYPE_VFIO_IOMMU_SPAPR)) {
        return NULL;
    }
    container = container_of(bc, VFIOContainer, bcontainer);
    if (container->iommu_type != VFIO_SPAPR_TCE_v2_IOMMU) {
        return NULL;            /* v1 containers do not preregister */
    }
    return g_memdup2(&vfio_direct_spapr_state(bc, true)->prereg,
                     sizeof(VfioPreregInfo));
}
