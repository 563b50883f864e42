/*
 * vfio-direct: decisions for sub-page BARs
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_SUBPAGE_PLAN_H
#define HW_VFIO_DIRECT_SUBPAGE_PLAN_H

#include "qapi/qapi-types-common.h"
#include "qapi/qapi-types-vfio-direct.h"

/*
 * Does the guest size a sub-page BAR as one host page?  @setting is
 * x-bar-page-align, @mmap_granted says the kernel allows mmap of the
 * BAR's host page, @migratable that the device can migrate.  "auto"
 * never makes the guest-visible size depend on the host for a device
 * that can migrate: the source and destination may differ in what
 * their kernels grant.
 */
bool vfio_direct_subpage_page_align(OnOffAuto setting, bool mmap_granted,
                                    bool migratable);

/* What the guest sees as the size of a memory BAR of @bar_size bytes. */
uint64_t vfio_direct_subpage_guest_size(uint64_t bar_size, uint64_t page_size,
                                        bool page_align);

/*
 * Decide how a sub-page BAR of @bar_size bytes that the guest placed at
 * @bar_addr (or UINT64_MAX when unmapped) can be accessed.  @mmap_granted
 * says the kernel allows mmap of the whole host page, @page_shared that
 * another region overlaps the host page starting at @bar_addr, @quirk
 * that a device quirk intercepts some of its registers.
 */
VfioSubpageState vfio_direct_subpage_plan(uint64_t bar_addr,
                                          uint64_t bar_size,
                                          uint64_t page_size,
                                          bool mmap_granted,
                                          bool page_shared, bool quirk);

/*
 * The memory regions of a sub-page BAR in one state: the BAR's container
 * (what the PCI core maps), its priority in the bus address space, the
 * device region inside it, and the size of the BAR's mmap attached to
 * that region (0: detached, accesses trap).
 */
typedef struct VFIODirectSubpageLayout {
    uint64_t container_size;
    int container_priority;
    uint64_t region_size;
    uint64_t mmap_size;
} VFIODirectSubpageLayout;

/*
 * The layout for @state of a BAR of @bar_size bytes, for host pages of
 * @page_size bytes, sized as a page for the guest when @page_align.
 */
VFIODirectSubpageLayout vfio_direct_subpage_layout(VfioSubpageState state,
                                                   uint64_t bar_size,
                                                   uint64_t page_size,
                                                   bool page_align);

#endif /* HW_VFIO_DIRECT_SUBPAGE_PLAN_H */
