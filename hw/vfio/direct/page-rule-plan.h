/*
 * vfio-direct: which part of a device mapping an accelerator can map
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_PAGE_RULE_PLAN_H
#define HW_VFIO_DIRECT_PAGE_RULE_PLAN_H

/*
 * A section of guest physical memory backed by a host mapping, split
 * by the page rule of accelerators like KVM: a guest page is mapped
 * only when it is a whole host page whose host address has the same
 * alignment as its guest address.  @head and @tail are the parts left
 * to trap; @direct is the part in whole pages, between them.
 */
typedef struct VFIODirectPageSplit {
    uint64_t head;
    uint64_t direct;
    uint64_t tail;
} VFIODirectPageSplit;

/*
 * Split the section of @size bytes at guest address @gpa, backed at
 * host virtual address @hva, for host pages of @page_size bytes.
 * When no whole page fits, all of the section is in @head.
 */
VFIODirectPageSplit vfio_direct_page_split(uint64_t gpa, uint64_t hva,
                                           uint64_t size,
                                           uint64_t page_size);

#endif /* HW_VFIO_DIRECT_PAGE_RULE_PLAN_H */
