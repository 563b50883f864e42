/*
 * vfio-direct: is a range of guest RAM populated already?
 *
 * Checked in bounded chunks (see prefault-plan.h): the buffer is
 * VFIO_DIRECT_PREFAULT_CHUNK_PAGES bytes whatever the guest's size.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "prefault-plan.h"

bool vfio_direct_prefault_resident(VFIODirectMincore probe, void *start,
                                   size_t len, size_t pagesize)
{
    unsigned char vec[VFIO_DIRECT_PREFAULT_CHUNK_PAGES];
    size_t done = 0;

    while (done < len) {
        size_t pages = MIN((len - done) / pagesize,
                           VFIO_DIRECT_PREFAULT_CHUNK_PAGES);
        size_t i;

        if (!pages || probe((char *)start + done, pages * pagesize, vec)) {
            return false;
        }
        for (i = 0; i < pages; i++) {
            if (!(vec[i] & 1)) {
                return false;
            }
        }
        done += pages * pagesize;
    }
    return true;
}
