/*
 * vfio-direct: direct access paths for assigned PCI devices
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_VFIO_DIRECT_H
#define HW_VFIO_VFIO_DIRECT_H

#include "qapi/qapi-types-common.h"
#include "exec/memory.h"
#include "hw/pci/pci.h"

typedef struct VFIOPCIDevice VFIOPCIDevice;

/* Why a sub-page BAR is not mapped directly (see hw/vfio/direct/subpage.c) */
typedef enum VFIODirectSubpageState {
    VFIO_DIRECT_SUBPAGE_NONE,       /* not a sub-page memory BAR */
    VFIO_DIRECT_SUBPAGE_UNMAPPED,   /* guest has not placed or enabled it */
    VFIO_DIRECT_SUBPAGE_DIRECT,     /* whole host page mapped */
    VFIO_DIRECT_SUBPAGE_UNALIGNED,  /* guest address not host-page-aligned */
    VFIO_DIRECT_SUBPAGE_NO_MMAP,    /* kernel did not grant the page mmap */
    VFIO_DIRECT_SUBPAGE_SHARED,     /* another region shares the page */
    VFIO_DIRECT_SUBPAGE_QUIRK,      /* a device quirk traps some registers */
    VFIO_DIRECT_SUBPAGE__MAX,
} VFIODirectSubpageState;

typedef struct VFIODirectBar {
    VFIODirectSubpageState subpage;
    MemoryRegion *pad;          /* fills a page-aligned BAR past its end */
    unsigned warned;            /* bitmap of VFIODirectSubpageState */
} VFIODirectBar;

/* Per-device state of vfio-direct, embedded in VFIOPCIDevice. */
typedef struct VFIODirect {
    OnOffAuto bar_page_align;
    VFIODirectBar bars[PCI_ROM_SLOT];
} VFIODirect;

/* Our vfio-pci properties, spliced into vfio_pci_dev_properties[]. */
#define VFIO_DIRECT_PROPERTIES(_state, _field)                          \
    DEFINE_PROP_ON_OFF_AUTO("x-bar-page-align", _state,                 \
                            _field.bar_page_align, ON_OFF_AUTO_AUTO)

/* host-check.c */
bool vfio_direct_check_host(VFIOPCIDevice *vdev, Error **errp);

/* properties.c */
void vfio_direct_class_init(ObjectClass *klass);

/* subpage.c */
void vfio_direct_subpage_bar_register(VFIOPCIDevice *vdev, int nr);
void vfio_direct_subpage_update(VFIOPCIDevice *vdev);
void vfio_direct_subpage_bar_exit(VFIOPCIDevice *vdev, int nr);
void vfio_direct_subpage_bar_finalize(VFIOPCIDevice *vdev, int nr);
const char *vfio_direct_subpage_state_str(VFIODirectSubpageState state);

#endif /* HW_VFIO_VFIO_DIRECT_H */
