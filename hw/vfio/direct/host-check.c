/*
 * vfio-direct: check the host device before VFIO opens it
 *
 * A host= naming a device that is bound to no driver, or to one that is
 * not a VFIO driver, otherwise surfaces as an IOMMU group error that does
 * not say what to do.  (A missing device is already reported by
 * vfio_device_get_name.)  What VFIO needs is a node to open: the device's
 * VFIO cdev (sysfs vfio-dev/), or its IOMMU group's /dev/vfio/N (or the
 * noiommu-N of a no-IOMMU group).  The driver's name does not tell:
 * vfio-pci variant drivers and the parents of mediated devices (mtty,
 * mdpy, mbochs, GVT-g, ...) bind drivers of their own names.
 * With iommufd= the node must be the cdev: a kernel without
 * CONFIG_VFIO_DEVICE_CDEV (Debian's 6.12) still shows sysfs vfio-dev/vfioN,
 * only without its "dev" file, and VFIO then fails to load that file.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/vfio/pci.h"
#include "trace.h"

/* Does the device at sysfs path @sysfsdev have a VFIO cdev (vfioN/dev)? */
static bool vfio_direct_host_has_cdev(const char *sysfsdev)
{
    g_autofree char *cdev_dir = g_build_filename(sysfsdev, "vfio-dev", NULL);
    g_autoptr(GDir) dir = g_dir_open(cdev_dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *dev = g_build_filename(cdev_dir, name, "dev", NULL);

        if (g_str_has_prefix(name, "vfio") && access(dev, F_OK) == 0) {
            return true;
        }
    }
    return false;
}

/* Does VFIO offer a node for the device at sysfs path @sysfsdev? */
static bool vfio_direct_host_has_vfio_node(const char *sysfsdev)
{
    g_autofree char *cdev_dir = g_build_filename(sysfsdev, "vfio-dev", NULL);
    g_autofree char *group_link = g_build_filename(sysfsdev, "iommu_group",
                                                   NULL);
    g_autofree char *group_path = g_file_read_link(group_link, NULL);
    g_autofree char *group = NULL;
    g_autofree char *node = NULL;
    g_autofree char *noiommu_node = NULL;
    g_autoptr(GDir) dir = g_dir_open(cdev_dir, 0, NULL);

    if (dir && g_dir_read_name(dir)) {
        return true;
    }
    if (!group_path) {
        return false;
    }
    group = g_path_get_basename(group_path);
    node = g_strdup_printf("/dev/vfio/%s", group);
    noiommu_node = g_strdup_printf("/dev/vfio/noiommu-%s", group);
    return access(node, F_OK) == 0 || access(noiommu_node, F_OK) == 0;
}

bool vfio_direct_check_host(VFIOPCIDevice *vdev, Error **errp)
{
    VFIODevice *vbasedev = &vdev->vbasedev;
    g_autofree char *link = NULL;
    g_autofree char *target = NULL;
    g_autofree char *driver = NULL;
    g_autoptr(GError) gerr = NULL;

    /* A passed file descriptor has no sysfs node to check. */
    if (vbasedev->fd >= 0 || !vbasedev->sysfsdev) {
        return true;
    }

    link = g_build_filename(vbasedev->sysfsdev, "driver", NULL);
    target = g_file_read_link(link, &gerr);
    if (!target) {
        if (g_error_matches(gerr, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            error_setg(errp, "host device is not bound to any driver; bind "
                       "it to vfio-pci (e.g. 'driverctl set-override %s "
                       "vfio-pci')", vbasedev->name);
        } else {
            error_setg(errp, "cannot tell the host device's driver: %s",
                       gerr->message);
        }
        return false;
    }

    driver = g_path_get_basename(target);
    trace_vfio_direct_check_host(vbasedev->name, driver);
    if (!vfio_direct_host_has_vfio_node(vbasedev->sysfsdev)) {
        error_setg(errp, "host device is bound to %s, not to vfio-pci; bind "
                   "it to vfio-pci (e.g. 'driverctl set-override %s "
                   "vfio-pci')", driver, vbasedev->name);
        return false;
    }
    if (vbasedev->iommufd && !vfio_direct_host_has_cdev(vbasedev->sysfsdev)) {
        error_setg(errp, "iommufd= needs the device's VFIO cdev "
                   "(/dev/vfio/devices/vfioN) and the host kernel has none "
                   "(CONFIG_VFIO_DEVICE_CDEV is off); drop iommufd= to use "
                   "its IOMMU group, or boot a kernel with CONFIG_IOMMUFD "
                   "and CONFIG_VFIO_DEVICE_CDEV");
        return false;
    }
    return true;
}
