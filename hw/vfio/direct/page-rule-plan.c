/*
 * vfio-direct: which part of a device mapping an accelerator can map
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "page-rule-plan.h"

VFIODirectPageSplit vfio_direct_page_split(uint64_t gpa, uint64_t hva,
                                           uint64_t size,
                                           uint64_t page_size)
{
    VFIODirectPageSplit split = { .head = size };
    uint64_t head, rest;

    assert(page_size);

    /* A page table entry maps a host page onto a guest page: no shift */
    if (gpa % page_size != hva % page_size) {
        return split;
    }

    /* Written so that nothing overflows at the top of the address space */
    head = (page_size - gpa % page_size) % page_size;
    if (head >= size || size - head < page_size) {
        return split;
    }
    rest = size - head;

    split.head = head;
    split.tail = rest % page_size;
    split.direct = rest - split.tail;
    return split;
}
