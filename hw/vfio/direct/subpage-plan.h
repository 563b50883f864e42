/*
 * vfio-direct: page arithmetic for sub-page BARs
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_SUBPAGE_PLAN_H
#define HW_VFIO_DIRECT_SUBPAGE_PLAN_H

#include "hw/vfio/vfio-direct.h"

/* What the guest sees as the size of a memory BAR of @bar_size bytes. */
uint64_t vfio_direct_subpage_guest_size(uint64_t bar_size, uint64_t page_size,
                                        bool page_align);

/*
 * Decide how a sub-page BAR of @bar_size bytes that the guest placed at
 * @bar_addr (or UINT64_MAX when unmapped) can be accessed.  @mmap_granted
 * says the kernel allows mmap of the whole host page, @page_shared that
 * another region overlaps the host page starting at @bar_addr.
 */
VFIODirectSubpageState vfio_direct_subpage_plan(uint64_t bar_addr,
                                                uint64_t bar_size,
                                                uint64_t page_size,
                                                bool mmap_granted,
                                                bool page_shared);

#endif /* HW_VFIO_DIRECT_SUBPAGE_PLAN_H */
