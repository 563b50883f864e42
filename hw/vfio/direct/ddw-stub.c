/*
 * vfio-direct: DDW page sizes in builds without vfio-pci
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/vfio/vfio-direct-spapr.h"

/* No vfio container can be attached: the PHB's sizes, as upstream. */
uint64_t vfio_direct_ddw_page_sizes(uint64_t phb_pgsizes, AddressSpace *as)
{
    return phb_pgsizes;
}

bool vfio_direct_ddw_page_ok(uint64_t phb_pgsizes, AddressSpace *as,
                             uint32_t page_shift)
{
    return page_shift < 64 && (phb_pgsizes & (1ULL << page_shift));
}
