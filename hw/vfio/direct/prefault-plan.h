/*
 * vfio-direct: is a range of guest RAM populated already? (no QEMU state)
 *
 * prefault.c skips ranges whose every page is resident.  mincore()
 * wants one byte per page; for a 1 TiB guest that would be 256 MiB
 * allocated under the BQL, so the range is checked in chunks of a
 * fixed size, stopping at the first page that is not resident.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_PREFAULT_PLAN_H
#define HW_VFIO_DIRECT_PREFAULT_PLAN_H

/* Pages mincore() reports per call: the buffer's size in bytes */
#define VFIO_DIRECT_PREFAULT_CHUNK_PAGES 4096

/* mincore(2) or a test's model of it */
typedef int (*VFIODirectMincore)(void *addr, size_t len, unsigned char *vec);

/*
 * Is every page of [@start, @start + @len) resident?  @start is aligned
 * to @pagesize, @len a multiple of it.  False too when @probe fails.
 * @probe is called with at most VFIO_DIRECT_PREFAULT_CHUNK_PAGES pages.
 */
bool vfio_direct_prefault_resident(VFIODirectMincore probe, void *start,
                                   size_t len, size_t pagesize);

#endif /* HW_VFIO_DIRECT_PREFAULT_PLAN_H */
