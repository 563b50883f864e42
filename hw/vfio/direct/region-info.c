/*
 * vfio-direct: the kernel's region info, fetched once, checked, kept
 *
 * What: every region's VFIO_DEVICE_GET_REGION_INFO answer, with its
 * capability chain, is fetched once per device and kept in our
 * per-device state, together with whether the chain is safe to walk
 * (region-info-plan.c).  Every BAR's answer is checked against what the
 * device's config space sizes before upstream maps the BAR or registers
 * it with the PCI core: an answer no BAR can give fails realize, an mmap
 * that is not plainly granted is dropped, so the BAR traps.  msix.c
 * (MSIX_MAPPABLE), subpage.c (the mmap span) and the report read the
 * capabilities from here, never from the kernel again.
 * Why: region info becomes PCI BARs and host mappings the guest reaches
 * directly; one owner checks it once, so no caller can skip the check
 * or see a different answer than the one that was checked.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <linux/vfio.h>
#include "qapi/error.h"
#include "qapi/util.h"
#include "qemu/error-report.h"
#include "hw/vfio/pci.h"
#include "region-info-plan.h"
#include "region-info.h"
#include "trace.h"

void vfio_direct_region_setup(VFIODevice *vbasedev, int index,
                              struct vfio_region_info *info)
{
    char why[160];

    if (!vfio_direct_region_info_sanitize(info, why, sizeof(why))) {
        trace_vfio_direct_region_bad_caps(vbasedev->name, index, why);
        warn_report("vfio %s: region %d: the kernel's capability chain is "
                    "broken: %s; the region is not mapped (trapped)",
                    vbasedev->name, index, why);
    }
}

/* Region @index of @vdev, fetched and checked on first use */
static VFIODirectRegion *vfio_direct_region(VFIOPCIDevice *vdev, int index)
{
    VFIODirect *direct = &vdev->direct;
    VFIODirectRegion *region;
    char why[160];

    if (index < 0 || index >= vdev->vbasedev.num_regions) {
        return NULL;
    }
    if (!direct->regions) {
        direct->nr_regions = vdev->vbasedev.num_regions;
        direct->regions = g_new0(VFIODirectRegion, direct->nr_regions);
    }
    region = &direct->regions[index];
    if (region->fetched) {
        return region;
    }
    region->fetched = true;
    if (vfio_get_region_info(&vdev->vbasedev, index, &region->info)) {
        /* e.g. the VGA region of a device that has none */
        return region;
    }
    region->caps_ok = vfio_direct_region_info_valid(region->info, why,
                                                    sizeof(why));
    if (!region->caps_ok) {
        trace_vfio_direct_region_bad_caps(vdev->vbasedev.name, index, why);
        /* A BAR's check says it, with what it does about it */
        if (index >= PCI_ROM_SLOT) {
            warn_report("vfio %s: region %d: the kernel's capability chain "
                        "is broken, its capabilities are ignored: %s",
                        vdev->vbasedev.name, index, why);
        }
    }
    return region;
}

const struct vfio_region_info *vfio_direct_region_info(VFIOPCIDevice *vdev,
                                                       int index)
{
    VFIODirectRegion *region = vfio_direct_region(vdev, index);

    return region && region->caps_ok ? region->info : NULL;
}

struct vfio_info_cap_header *vfio_direct_region_cap(VFIOPCIDevice *vdev,
                                                    int index, uint16_t id)
{
    const struct vfio_region_info *info = vfio_direct_region_info(vdev,
                                                                  index);

    /* The walk only reads; upstream's helper takes no const */
    return info ? vfio_get_region_info_cap((struct vfio_region_info *)info,
                                           id) : NULL;
}

/*
 * The size config space gives BAR @nr: write all ones through the device
 * fd, read back, restore, as upstream sizes the ROM.  0 when it cannot.
 */
static uint64_t vfio_direct_bar_config_size(VFIOPCIDevice *vdev, int nr)
{
    VFIOBAR *bar = &vdev->bars[nr];
    int fd = vdev->vbasedev.fd, regs = bar->mem64 && nr < PCI_ROM_SLOT - 1 ?
                                       2 : 1;
    off_t off = vdev->config_offset + PCI_BASE_ADDRESS_0 + 4 * nr;
    uint32_t orig[2] = {}, sized[2] = {}, ones[2] = { UINT32_MAX, UINT32_MAX };
    size_t len = regs * sizeof(uint32_t);
    bool ok;

    if (pread(fd, orig, len, off) != len) {
        return 0;
    }
    ok = pwrite(fd, ones, len, off) == len && pread(fd, sized, len, off) == len;
    if (pwrite(fd, orig, len, off) != len || !ok) {
        return 0;
    }
    return vfio_direct_region_bar_sized(le32_to_cpu(sized[0]),
                                        le32_to_cpu(sized[1]), bar->ioport,
                                        bar->mem64);
}

/* Check BAR @nr's answer; false (with @errp) refuses the device */
static bool vfio_direct_region_check_bar(VFIOPCIDevice *vdev, int nr,
                                         Error **errp)
{
    VFIORegion *region = &vdev->bars[nr].region;
    VFIODirectRegion *kept = vfio_direct_region(vdev, region->nr);
    const char *name = vdev->vbasedev.name;
    g_autofree VFIODirectArea *areas = g_new0(VFIODirectArea,
                                              region->nr_mmaps);
    VFIODirectBarAnswer a = {
        .size = region->size,
        .offset = region->fd_offset,
        .flags = region->flags,
        .mmaps = areas,
        .nr_mmaps = region->nr_mmaps,
        .ioport = vdev->bars[nr].ioport,
        .mem64 = vdev->bars[nr].mem64,
    };
    char why[256];
    unsigned i;

    for (i = 0; i < region->nr_mmaps; i++) {
        areas[i].offset = region->mmaps[i].offset;
        areas[i].size = region->mmaps[i].size;
    }
    if (region->size) {
        a.sized = vfio_direct_bar_config_size(vdev, nr);
        if ((region->flags & VFIO_REGION_INFO_FLAG_CAPS) && kept) {
            a.info = kept->info;
        }
    }
    switch (vfio_direct_region_bar_check(&a, qemu_real_host_page_size(), why,
                                         sizeof(why))) {
    case VFIO_DIRECT_BAR_REFUSED:
        error_setg(errp, "BAR %d: %s; refusing the device", nr, why);
        return false;
    case VFIO_DIRECT_BAR_NO_MMAP:
        warn_report("vfio %s: BAR %d: %s; the BAR is trapped (served "
                    "through the device fd)", name, nr, why);
        g_free(region->mmaps);
        region->mmaps = NULL;
        region->nr_mmaps = 0;
        break;
    case VFIO_DIRECT_BAR_ABSENT:
        if (why[0]) {
            warn_report("vfio %s: BAR %d: %s", name, nr, why);
        }
        break;
    default:
        break;
    }
    trace_vfio_direct_region_check_bar(name, nr, region->size, a.sized,
                                       region->flags, region->nr_mmaps);
    return true;
}

bool vfio_direct_region_info_realize(VFIOPCIDevice *vdev, Error **errp)
{
    int nr;

    for (nr = 0; nr < PCI_ROM_SLOT; nr++) {
        if (!vfio_direct_region_check_bar(vdev, nr, errp)) {
            return false;
        }
    }
    return true;
}

void vfio_direct_region_info_finalize(VFIOPCIDevice *vdev)
{
    VFIODirect *direct = &vdev->direct;
    unsigned i;

    for (i = 0; i < direct->nr_regions; i++) {
        g_free(direct->regions[i].info);
    }
    g_free(direct->regions);
    direct->regions = NULL;
    direct->nr_regions = 0;
}

/* The kernel's identifier of each capability type we report */
static const uint16_t vfio_direct_region_cap_ids[VFIO_REGION_CAP_TYPE__MAX] = {
    [VFIO_REGION_CAP_TYPE_SPARSE_MMAP] = VFIO_REGION_INFO_CAP_SPARSE_MMAP,
    [VFIO_REGION_CAP_TYPE_TYPE] = VFIO_REGION_INFO_CAP_TYPE,
    [VFIO_REGION_CAP_TYPE_MSIX_MAPPABLE] = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
    [VFIO_REGION_CAP_TYPE_NVLINK2_SSATGT] = VFIO_REGION_INFO_CAP_NVLINK2_SSATGT,
    [VFIO_REGION_CAP_TYPE_NVLINK2_LNKSPD] = VFIO_REGION_INFO_CAP_NVLINK2_LNKSPD,
    [VFIO_REGION_CAP_TYPE_MMAP_SPAN] = VFIO_REGION_INFO_CAP_MMAP_SPAN,
};

static VfioRegionAreaList *
vfio_direct_region_sparse_areas(struct vfio_info_cap_header *hdr)
{
    struct vfio_region_info_cap_sparse_mmap *sparse =
        container_of(hdr, struct vfio_region_info_cap_sparse_mmap, header);
    VfioRegionAreaList *list = NULL, **tail = &list;
    uint32_t i;

    for (i = 0; i < sparse->nr_areas; i++) {
        VfioRegionArea *area = g_new0(VfioRegionArea, 1);

        area->offset = sparse->areas[i].offset;
        area->size = sparse->areas[i].size;
        QAPI_LIST_APPEND(tail, area);
    }
    return list;
}

static VfioRegionInfo *vfio_direct_region_query_one(VFIOPCIDevice *vdev,
                                                    int index)
{
    VFIODirectRegion *region = vfio_direct_region(vdev, index);
    VfioRegionInfo *info;
    VfioRegionCapList **tail;
    VfioRegionCapType type;

    if (!region || !region->info) {
        return NULL;
    }
    info = g_new0(VfioRegionInfo, 1);
    info->index = index;
    info->size = region->info->size;
    info->offset = region->info->offset;
    info->flags = region->info->flags;
    tail = &info->caps;

    for (type = 0; type < VFIO_REGION_CAP_TYPE__MAX; type++) {
        struct vfio_info_cap_header *hdr =
            vfio_direct_region_cap(vdev, index,
                                   vfio_direct_region_cap_ids[type]);
        VfioRegionCap *cap;

        if (!hdr) {
            continue;
        }
        cap = g_new0(VfioRegionCap, 1);
        cap->id = hdr->id;
        cap->type = type;
        QAPI_LIST_APPEND(tail, cap);
        if (type == VFIO_REGION_CAP_TYPE_SPARSE_MMAP) {
            info->has_sparse_mmap_areas = true;
            info->sparse_mmap_areas = vfio_direct_region_sparse_areas(hdr);
        }
    }
    return info;
}

VfioRegionInfoList *vfio_direct_region_info_query(VFIOPCIDevice *vdev)
{
    VfioRegionInfoList *list = NULL, **tail = &list;
    int i;

    for (i = 0; i < vdev->vbasedev.num_regions; i++) {
        VfioRegionInfo *region = vfio_direct_region_query_one(vdev, i);

        if (region) {
            QAPI_LIST_APPEND(tail, region);
        }
    }
    return list;
}
