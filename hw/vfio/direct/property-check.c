/*
 * vfio-direct: refuse property conflicts before the device is opened
 *
 * Gathers what property-check-plan.c decides on (the properties, the
 * machine as users name it, the sysfs subsystem of a sysfsdev=) and
 * applies its answer at the start of realize, before VFIO looks at the
 * host device.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "hw/boards.h"
#include "hw/vfio/pci.h"
#include "property-check-plan.h"

/* The sysfs subsystem of the device node at @path ("pci"), or NULL. */
static char *vfio_direct_property_subsystem(const char *path)
{
    g_autofree char *link = g_build_filename(path, "subsystem", NULL);
    g_autofree char *target = g_file_read_link(link, NULL);

    return target ? g_path_get_basename(target) : NULL;
}

bool vfio_direct_property_check(VFIOPCIDevice *vdev, Error **errp)
{
    Object *machine = qdev_get_machine();
    MachineClass *mc = MACHINE_GET_CLASS(machine);
    const char *sysfsdev = vdev->vbasedev.sysfsdev;
    g_autofree char *subsystem = NULL;
    g_autofree char *error = NULL;
    g_autofree char *warning = NULL;
    VFIODirectPropertySet p = {
        .machine = mc->alias ? mc->alias : mc->name,
        .firmware_msi = object_property_get_bool(machine,
                                                 "vfio-no-msix-emulation",
                                                 NULL),
        .msix_emulation = vdev->direct.msix.emulation,
        .msix_relocation = vdev->msix_relo,
        .bar_page_align = vdev->direct.bar_page_align,
        .no_mmap = vdev->vbasedev.no_mmap,
    };

    /*
     * Only a sysfsdev= the user gave: host= builds its path later, and
     * a missing node is upstream's "no such host device".
     */
    if (vdev->vbasedev.fd < 0 && sysfsdev && access(sysfsdev, F_OK) == 0) {
        subsystem = vfio_direct_property_subsystem(sysfsdev);
        p.sysfsdev = sysfsdev;
        p.subsystem = subsystem;
    }

    if (!vfio_direct_property_conflicts(&p, &error, &warning)) {
        error_setg(errp, "%s", error);
        return false;
    }
    if (warning) {
        warn_report("vfio-pci: %s", warning);
    }
    return true;
}
