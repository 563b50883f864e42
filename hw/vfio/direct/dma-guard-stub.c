/*
 * vfio-direct: memory devices in builds without vfio-pci
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/vfio/vfio-direct-dma.h"

/* No VFIO container can exist: nothing to check */
bool vfio_direct_dma_memory_pre_plug(DeviceState *dev, MemoryRegion *mr,
                                     Error **errp)
{
    return true;
}
