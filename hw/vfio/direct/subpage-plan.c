/*
 * vfio-direct: page arithmetic for sub-page BARs
 *
 * Pure functions shared by subpage.c and its unit test: no QEMU objects,
 * only sizes and addresses.  Page sizes are any power of two.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "subpage-plan.h"

uint64_t vfio_direct_subpage_guest_size(uint64_t bar_size, uint64_t page_size,
                                        bool page_align)
{
    assert(is_power_of_2(page_size));
    if (page_align && bar_size && bar_size < page_size) {
        return page_size;
    }
    return bar_size;
}

VFIODirectSubpageState vfio_direct_subpage_plan(uint64_t bar_addr,
                                                uint64_t bar_size,
                                                uint64_t page_size,
                                                bool mmap_granted,
                                                bool page_shared)
{
    assert(is_power_of_2(page_size));
    if (!bar_size || bar_size >= page_size) {
        return VFIO_DIRECT_SUBPAGE_NONE;
    }
    if (bar_addr == UINT64_MAX) {
        return VFIO_DIRECT_SUBPAGE_UNMAPPED;
    }
    if (!mmap_granted) {
        return VFIO_DIRECT_SUBPAGE_NO_MMAP;
    }
    if (!QEMU_IS_ALIGNED(bar_addr, page_size)) {
        return VFIO_DIRECT_SUBPAGE_UNALIGNED;
    }
    if (page_shared) {
        return VFIO_DIRECT_SUBPAGE_SHARED;
    }
    return VFIO_DIRECT_SUBPAGE_DIRECT;
}
