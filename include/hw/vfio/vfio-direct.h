/*
 * vfio-direct: direct access paths for assigned PCI devices
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_VFIO_DIRECT_H
#define HW_VFIO_VFIO_DIRECT_H

#include "qapi/qapi-types-common.h"
#include "qapi/qapi-types-vfio-direct.h"
#include "exec/memory.h"
#include "hw/pci/pci.h"

typedef struct VFIOPCIDevice VFIOPCIDevice;

/* A sub-page memory BAR (see hw/vfio/direct/subpage.c) */
typedef struct VFIODirectBar {
    MemoryRegion *trap;         /* serves the BAR while it is not direct */
    bool page_align;            /* the guest sizes it as one host page */
    VfioSubpageState state;     /* as last applied */
    unsigned warned;            /* bitmap of VfioSubpageState */
} VFIODirectBar;

/* The MSI-X table of a device (see hw/vfio/direct/msix.c) */
typedef struct VFIODirectMsix {
    OnOffAuto emulation;        /* x-msix-emulation */
    bool hide_mappable;         /* x-msix-hide-mappable */
    bool emulated;              /* as decided at realize */
    bool mappable;              /* the kernel lets its BAR be mapped whole */
    bool relocated;             /* x-msix-relocation moved it */
    bool relocation_auto;       /* ... to a BAR that "auto" chose */
    uint8_t native_bar;         /* where the device has it */
    uint32_t native_offset;
    VfioMsiIsolation isolation; /* of the device's MSIs, if emulated */
} VFIODirectMsix;

/* A region's info as the kernel gave it (see hw/vfio/direct/region-info.c) */
typedef struct VFIODirectRegion {
    struct vfio_region_info *info;  /* NULL: the kernel has no such region */
    bool fetched;               /* asked the kernel already */
    bool caps_ok;               /* its capability chain is safe to walk */
} VFIODirectRegion;

/* Per-device state of vfio-direct, embedded in VFIOPCIDevice. */
typedef struct VFIODirect {
    VFIODirectRegion *regions;  /* one per region index, or NULL */
    unsigned nr_regions;
    OnOffAuto bar_page_align;
    VFIODirectBar bars[PCI_ROM_SLOT];
    VFIODirectMsix msix;
    bool dma_plan;                      /* x-dma-plan (dma.c) */
    uint32_t dma_prefault_threads;      /* x-dma-prefault-threads */
    bool dma_async;                     /* x-dma-async (dma-queue.c) */
} VFIODirect;

/* Our vfio-pci properties, spliced into vfio_pci_dev_properties[]. */
#define VFIO_DIRECT_PROPERTIES(_state, _field)                          \
    DEFINE_PROP_ON_OFF_AUTO("x-bar-page-align", _state,                 \
                            _field.bar_page_align, ON_OFF_AUTO_AUTO),   \
    DEFINE_PROP_ON_OFF_AUTO("x-msix-emulation", _state,                 \
                            _field.msix.emulation, ON_OFF_AUTO_AUTO),   \
    DEFINE_PROP_BOOL("x-msix-hide-mappable", _state,                    \
                     _field.msix.hide_mappable, false),                 \
    DEFINE_PROP_BOOL("x-dma-plan", _state, _field.dma_plan, true),      \
    DEFINE_PROP_UINT32("x-dma-prefault-threads", _state,                \
                       _field.dma_prefault_threads, 0),                  \
    DEFINE_PROP_BOOL("x-dma-async", _state, _field.dma_async, false)

/* dma.c */
void vfio_direct_dma_class_init(ObjectClass *klass);

/* host-check.c */
bool vfio_direct_check_host(VFIOPCIDevice *vdev, Error **errp);

/* msix.c */
void vfio_direct_msix_class_init(ObjectClass *klass);
bool vfio_direct_msix_realize(VFIOPCIDevice *vdev, Error **errp);
bool vfio_direct_msix_emulated(VFIOPCIDevice *vdev);
bool vfio_direct_msix_prepare_relocation(VFIOPCIDevice *vdev);
int vfio_direct_msix_relocation_auto(VFIOPCIDevice *vdev, Error **errp);
void vfio_direct_msix_fixup_region(VFIOPCIDevice *vdev);
void vfio_direct_msix_setup(VFIOPCIDevice *vdev);
VfioBarRangeReason vfio_direct_msix_trap_reason(VFIOPCIDevice *vdev, int nr,
                                                uint64_t offset,
                                                uint64_t size,
                                                VfioBarRangeReason reason);
VfioMsixInfo *vfio_direct_msix_query(VFIOPCIDevice *vdev);

/* properties.c */
void vfio_direct_class_init(ObjectClass *klass);

/* property-check.c */
bool vfio_direct_property_check(VFIOPCIDevice *vdev, Error **errp);

/* region-info.c */
typedef struct VFIODevice VFIODevice;
struct vfio_region_info;
/*
 * From upstream's vfio_region_setup(), for any vfio device, before it
 * walks @info's capability chain: a broken chain costs the region its
 * capabilities and its mmap, with one warning, never a hang.
 */
void vfio_direct_region_setup(VFIODevice *vbasedev, int index,
                              struct vfio_region_info *info);
bool vfio_direct_region_info_realize(VFIOPCIDevice *vdev, Error **errp);
void vfio_direct_region_info_finalize(VFIOPCIDevice *vdev);

/* subpage.c */
void vfio_direct_subpage_class_init(ObjectClass *klass);
void vfio_direct_subpage_bar_register(VFIOPCIDevice *vdev, int nr);
void vfio_direct_write_config(VFIOPCIDevice *vdev, uint32_t addr,
                              uint32_t val, int len);
void vfio_direct_subpage_load_failed(VFIOPCIDevice *vdev);
void vfio_direct_subpage_bar_exit(VFIOPCIDevice *vdev, int nr);
void vfio_direct_subpage_bar_finalize(VFIOPCIDevice *vdev, int nr);
VfioSubpageState vfio_direct_subpage_state(VFIOPCIDevice *vdev, int nr);
bool vfio_direct_subpage_trap_range(VFIOPCIDevice *vdev, int nr,
                                    MemoryRegion *mr, uint64_t offset,
                                    uint64_t size, VfioBarRangeReason *reason,
                                    uint64_t *len);

#endif /* HW_VFIO_VFIO_DIRECT_H */
