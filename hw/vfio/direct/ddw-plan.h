/*
 * vfio-direct: which DDW page sizes a pseries guest may be offered
 *
 * Pure logic, unit-tested in tests/unit/test-vfio-direct-ddw.c.
 * Page sizes are masks of powers of two (bit n: 2^n bytes), as in the
 * PHB's "pgsz" and the sPAPR TCE info's ddw.pgsizes.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_DDW_PLAN_H
#define HW_VFIO_DIRECT_DDW_PLAN_H

/*
 * The host IOMMU page size that backs guest IOMMU pages of @page bytes
 * in a container with host page sizes @host_pgsizes, when guest RAM is
 * backed by host pages of at least @ram_page bytes: the largest host
 * size not above either (the kernel refuses a host TCE larger than the
 * page behind the preregistered memory).  0 when there is none.
 */
uint64_t vfio_direct_ddw_backing(uint64_t page, uint64_t host_pgsizes,
                                 uint64_t ram_page);

/*
 * Guest IOMMU page sizes that every one of the @n containers can back
 * (@host_pgsizes[i] each), out of @phb_pgsizes.  With no container
 * (@n == 0) the PHB's own sizes, unchanged.
 */
uint64_t vfio_direct_ddw_offer(uint64_t phb_pgsizes,
                               const uint64_t *host_pgsizes,
                               unsigned n, uint64_t ram_page);

/*
 * Which of @n containers (@host_pgsizes[i] each) cannot back guest IOMMU
 * pages of @page bytes: sets @refuses[i] for those, clears it for the
 * others, and returns how many refuse.  A create of that page size is
 * refused iff the count is not 0, and only the containers counted here
 * refused it.  Any number of containers.
 */
unsigned vfio_direct_ddw_refusers(uint64_t page, const uint64_t *host_pgsizes,
                                  unsigned n, uint64_t ram_page,
                                  bool *refuses);

#endif /* HW_VFIO_DIRECT_DDW_PLAN_H */
