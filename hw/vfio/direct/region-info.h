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

#endif /* HW_VFIO_DIRECT_REGION_INFO_H */
