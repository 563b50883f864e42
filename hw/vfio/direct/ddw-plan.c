/*
 * vfio-direct: which DDW page sizes a pseries guest may be offered
 *
 * A guest IOMMU page of S bytes works on a sPAPR host when the window
 * vfio creates for it can exist: upstream's vfio_spapr_create_window()
 * backs it with the largest host IOMMU page size h <= MIN(S, R), R the
 * smallest host page behind guest RAM, and maps each guest TCE as S / h
 * host TCEs.  So S works iff some host size h <= MIN(S, R) exists; a
 * size larger than every host size works too, on smaller host pages.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"
#include "ddw-plan.h"

uint64_t vfio_direct_ddw_backing(uint64_t page, uint64_t host_pgsizes,
                                 uint64_t ram_page)
{
    uint64_t limit = MIN(page, ram_page), fit;

    if (!limit) {
        return 0;
    }
    /* Every host size <= limit; limit may not be a power of two */
    fit = host_pgsizes & (pow2floor(limit) | (pow2floor(limit) - 1));
    return fit ? pow2floor(fit) : 0;
}

uint64_t vfio_direct_ddw_offer(uint64_t phb_pgsizes,
                               const uint64_t *host_pgsizes,
                               unsigned n, uint64_t ram_page)
{
    uint64_t offered = 0;
    unsigned bit, i;

    if (!n) {
        return phb_pgsizes;
    }
    for (bit = 0; bit < 64; bit++) {
        uint64_t page = 1ULL << bit;
        bool ok = phb_pgsizes & page;

        for (i = 0; ok && i < n; i++) {
            ok = vfio_direct_ddw_backing(page, host_pgsizes[i], ram_page);
        }
        if (ok) {
            offered |= page;
        }
    }
    return offered;
}

unsigned vfio_direct_ddw_refusers(uint64_t page, const uint64_t *host_pgsizes,
                                  unsigned n, uint64_t ram_page,
                                  bool *refuses)
{
    unsigned i, count = 0;

    for (i = 0; i < n; i++) {
        refuses[i] = !vfio_direct_ddw_backing(page, host_pgsizes[i],
                                              ram_page);
        count += refuses[i];
    }
    return count;
}
