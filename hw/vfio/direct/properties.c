/*
 * vfio-direct: vfio-pci properties
 *
 * The properties themselves are declared by VFIO_DIRECT_PROPERTIES() in
 * vfio_pci_dev_properties[]; this file describes them for -device help
 * (and upstream's x-msix-relocation, whose meaning we change: it runs
 * after upstream's descriptions) and lets each capability add to the
 * vfio-pci class.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qom/object.h"
#include "hw/vfio/vfio-direct.h"

void vfio_direct_class_init(ObjectClass *klass)
{
    object_class_property_set_description(klass, /* vfio-direct 1 */
                                          "x-bar-page-align",
                                          "Present sub-page memory BARs to the "
                                          "guest as one host page so that they "
                                          "can be mapped directly (auto: when "
                                          "the kernel grants the page mmap "
                                          "and the device cannot migrate)");
    object_class_property_set_description(klass, /* vfio-direct 1 */
                                          "x-msix-relocation",
                                          "Move the MSI-X table and PBA to "
                                          "another BAR, so that registers "
                                          "sharing their host pages become "
                                          "direct (auto: an unused BAR slot, "
                                          "else the smallest BAR that can "
                                          "double); only where the table is "
                                          "emulated: barN is refused, auto "
                                          "does nothing, with pseries' "
                                          "default x-msix-emulation");
    vfio_direct_subpage_class_init(klass);
    vfio_direct_msix_class_init(klass);
    vfio_direct_dma_class_init(klass);
}
