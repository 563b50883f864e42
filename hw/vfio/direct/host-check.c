/*
 * vfio-direct: check the host device before VFIO opens it
 *
 * A host= naming a device that is still bound to its native driver, or to
 * none, otherwise surfaces as an IOMMU group error that does not say what
 * to do.  (A missing device is already reported by vfio_device_get_name.)
 * Check the device's driver first and say how to fix it.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/vfio/pci.h"
#include "trace.h"

bool vfio_direct_check_host(VFIOPCIDevice *vdev, Error **errp)
{
    VFIODevice *vbasedev = &vdev->vbasedev;
    g_autofree char *link = NULL;
    g_autofree char *target = NULL;
    g_autofree char *driver = NULL;

    /* A passed file descriptor has no sysfs node to check. */
    if (vbasedev->fd >= 0 || !vbasedev->sysfsdev) {
        return true;
    }

    link = g_build_filename(vbasedev->sysfsdev, "driver", NULL);
    target = g_file_read_link(link, NULL);
    if (!target) {
        error_setg(errp, "host device is not bound to any driver; bind it "
                   "to vfio-pci (e.g. 'driverctl set-override %s vfio-pci')",
                   vbasedev->name);
        return false;
    }

    /* vfio-pci and its variant drivers (mlx5_vfio_pci, ...), vfio_mdev */
    driver = g_path_get_basename(target);
    trace_vfio_direct_check_host(vbasedev->name, driver);
    if (!strstr(driver, "vfio")) {
        error_setg(errp, "host device is bound to %s, not to vfio-pci; bind "
                   "it to vfio-pci (e.g. 'driverctl set-override %s "
                   "vfio-pci')", driver, vbasedev->name);
        return false;
    }
    return true;
}
