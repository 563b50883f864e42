/*
 * vfio-direct: decisions for sub-page BARs
 *
 * Pure functions shared by subpage.c and its unit test: no QEMU objects,
 * only settings, sizes and addresses.  Page sizes are any power of two.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"
#include "subpage-plan.h"

/* The priority the PCI core maps BARs with (pci_update_mappings) */
#define VFIO_DIRECT_BAR_PRIORITY 1

bool vfio_direct_subpage_page_align(OnOffAuto setting, bool mmap_granted,
                                    bool migratable)
{
    switch (setting) {
    case ON_OFF_AUTO_ON:
        return true;
    case ON_OFF_AUTO_OFF:
        return false;
    default:
        return mmap_granted && !migratable;
    }
}

uint64_t vfio_direct_subpage_guest_size(uint64_t bar_size, uint64_t page_size,
                                        bool page_align)
{
    assert(is_power_of_2(page_size));
    if (page_align && bar_size && bar_size < page_size) {
        return page_size;
    }
    return bar_size;
}

VfioSubpageState vfio_direct_subpage_plan(uint64_t bar_addr,
                                          uint64_t bar_size,
                                          uint64_t page_size,
                                          bool mmap_granted,
                                          bool page_shared, bool quirk)
{
    assert(is_power_of_2(page_size));
    if (!bar_size || bar_size >= page_size) {
        return VFIO_SUBPAGE_STATE_NOT_SUBPAGE;
    }
    if (bar_addr == UINT64_MAX) {
        return VFIO_SUBPAGE_STATE_UNMAPPED;
    }
    if (!mmap_granted) {
        return VFIO_SUBPAGE_STATE_NO_MMAP;
    }
    if (!QEMU_IS_ALIGNED(bar_addr, page_size)) {
        return VFIO_SUBPAGE_STATE_UNALIGNED;
    }
    if (page_shared) {
        return VFIO_SUBPAGE_STATE_PAGE_SHARED;
    }
    if (quirk) {
        return VFIO_SUBPAGE_STATE_QUIRK;
    }
    return VFIO_SUBPAGE_STATE_DIRECT;
}

/*
 * Direct: the container grows to the page.  Without page alignment the
 * guest sized the BAR smaller, so the grown container goes below the
 * BARs of the bus: a BAR the guest places later in the same page is never
 * hidden by it (the page is then shared, and the next update shrinks it).
 * Trapped: the container is what the guest sized, the device region fills
 * it (the part past the BAR is padding) and the mmap is detached, so
 * every access exits and is served, bounds-checked, by vfio-direct.
 */
VFIODirectSubpageLayout vfio_direct_subpage_layout(VfioSubpageState state,
                                                   uint64_t bar_size,
                                                   uint64_t page_size,
                                                   bool page_align)
{
    uint64_t guest_size = vfio_direct_subpage_guest_size(bar_size, page_size,
                                                         page_align);
    VFIODirectSubpageLayout layout = {
        .container_size = guest_size,
        .container_priority = VFIO_DIRECT_BAR_PRIORITY,
        .region_size = guest_size,
    };

    if (state == VFIO_SUBPAGE_STATE_DIRECT) {
        layout.container_size = page_size;
        layout.container_priority = page_align ? VFIO_DIRECT_BAR_PRIORITY : 0;
        layout.region_size = page_size;
        layout.mmap_size = page_size;
    }
    return layout;
}
