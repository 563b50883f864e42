/*
 * vfio-direct: checks of the region info the kernel returns
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_REGION_INFO_H
#define HW_VFIO_DIRECT_REGION_INFO_H

#include <linux/vfio.h>

/*
 * Is the capability chain of @info (info->argsz bytes, as
 * VFIO_DEVICE_GET_REGION_INFO filled them) safe to walk?  Every header
 * lies inside the buffer, naturally aligned, each after the one before
 * (so the walk ends), and the capabilities we know are whole, sparse-mmap
 * areas inside the region.  Unknown IDs are allowed (and ignored).  On
 * false, @why says what is wrong, for the user.
 */
bool vfio_direct_region_info_valid(const struct vfio_region_info *info,
                                   char *why, size_t why_len);

/*
 * The span an mmap of a sub-page BAR covers, as the kernel states it in
 * the capability VFIO_REGION_INFO_CAP_MMAP_SPAN (vfio-direct kernel
 * series, "vfio/pci: Report the mmap span of a sub-page BAR";
 * docs/vfio-direct-kernel.rst), in an @info whose
 * chain vfio_direct_region_info_valid() accepted.  True, with @offset
 * the BAR's offset in the span and @size the span's size, when the
 * region is MMAP and the capability is there, exclusive, a whole number
 * of @page_size pages, and holds the region.  False otherwise: stock
 * kernels never report it, and the caller falls back to inferring the
 * span from the MMAP flag (a page-aligned BAR's page).
 */
bool vfio_direct_region_info_span(const struct vfio_region_info *info,
                                  uint64_t page_size, uint64_t *offset,
                                  uint64_t *size);

#endif /* HW_VFIO_DIRECT_REGION_INFO_H */
