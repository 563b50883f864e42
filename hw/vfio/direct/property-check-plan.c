/*
 * vfio-direct: property conflicts that need no host device
 *
 * Some vfio-pci settings contradict the machine or each other whatever
 * device is assigned: x-msix-emulation=off where the guest writes MSI-X
 * addresses into the table (q35, pc), x-msix-relocation=barN when the
 * table is not emulated (nothing to move), a sysfsdev= that is not a PCI
 * or mediated device.  Deciding them here, before the device is opened,
 * gives a user without the device (or with a typo) the real reason
 * rather than a host error.  Messages name the machine the way users
 * type it after -M.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "msix-plan.h"
#include "property-check-plan.h"

static char *vfio_direct_property_sysfsdev_error(const char *path,
                                                 const char *subsystem)
{
    if (!subsystem) {
        return g_strdup_printf("sysfsdev=%s is not a device node in sysfs; "
                               "give a PCI device's "
                               "(/sys/bus/pci/devices/DDDD:BB:DD.F) or a "
                               "mediated device's "
                               "(/sys/bus/mdev/devices/UUID)", path);
    }
    if (strcmp(subsystem, "pci") && strcmp(subsystem, "mdev")) {
        return g_strdup_printf("sysfsdev=%s is a %s device, not a PCI "
                               "device; give a PCI device's "
                               "(/sys/bus/pci/devices/DDDD:BB:DD.F) or a "
                               "mediated device's "
                               "(/sys/bus/mdev/devices/UUID)", path,
                               subsystem);
    }
    return NULL;
}

bool vfio_direct_property_conflicts(const VFIODirectPropertySet *p,
                                    char **error, char **warning)
{
    *error = NULL;
    *warning = NULL;

    if (p->sysfsdev) {
        *error = vfio_direct_property_sysfsdev_error(p->sysfsdev,
                                                     p->subsystem);
        if (*error) {
            return false;
        }
    }

    switch (vfio_direct_msix_policy(p->msix_emulation, p->firmware_msi)) {
    case VFIO_DIRECT_MSIX_REFUSED:
        *error = g_strdup_printf("x-msix-emulation=off is not possible on "
                                 "%s: its guests write MSI-X addresses into "
                                 "the table, which must be emulated; drop "
                                 "it (off works on pseries only)",
                                 p->machine);
        return false;
    case VFIO_DIRECT_MSIX_PASS:
        if (p->msix_relocation != OFF_AUTO_PCIBAR_OFF &&
            p->msix_relocation != OFF_AUTO_PCIBAR_AUTO) {
            *error = g_strdup_printf("x-msix-relocation=%s needs the MSI-X "
                                     "table emulated, and on %s it is not "
                                     "(x-msix-emulation=%s); drop it or set "
                                     "x-msix-emulation=on",
                                     OffAutoPCIBAR_str(p->msix_relocation),
                                     p->machine,
                                     OnOffAuto_str(p->msix_emulation));
            return false;
        }
        break;
    default:
        break;
    }

    if (p->bar_page_align == ON_OFF_AUTO_ON && p->no_mmap) {
        *warning = g_strdup("x-bar-page-align=on with x-no-mmap=on: sub-page "
                            "BARs are sized as whole pages but every access "
                            "still traps; drop one of them");
    }
    return true;
}
