/*
 * vfio-direct: property conflicts that need no host device
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_PROPERTY_CHECK_PLAN_H
#define HW_VFIO_DIRECT_PROPERTY_CHECK_PLAN_H

#include "qapi/qapi-types-common.h"

/* What vfio-pci was given, and the machine it is given on */
typedef struct VFIODirectPropertySet {
    const char *machine;        /* as users name it: "q35", "pseries" */
    bool firmware_msi;          /* the machine programs MSI via firmware */
    OnOffAuto msix_emulation;   /* x-msix-emulation */
    OffAutoPCIBAR msix_relocation; /* x-msix-relocation */
    OnOffAuto bar_page_align;   /* x-bar-page-align */
    bool no_mmap;               /* x-no-mmap */
    const char *sysfsdev;       /* sysfsdev= as the user gave it, or NULL */
    const char *subsystem;      /* the sysfs subsystem of that node, or NULL */
} VFIODirectPropertySet;

/*
 * Check @p for conflicts that do not depend on the host device.  Returns
 * false and sets *@error (one line, saying what to change) when the
 * device must be refused; may set *@warning (one line) either way.  The
 * caller frees both.
 */
bool vfio_direct_property_conflicts(const VFIODirectPropertySet *p,
                                    char **error, char **warning);

#endif /* HW_VFIO_DIRECT_PROPERTY_CHECK_PLAN_H */
