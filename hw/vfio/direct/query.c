/*
 * vfio-direct: introspection of assigned PCI devices
 *
 * x-query-vfio and "info vfio" show, for every vfio-pci device, the
 * regions the kernel offers and, for every BAR, which ranges the guest
 * reaches directly and which are trapped, and why.  They are the oracle
 * of the test suite, so everything is read from the live state: region
 * info from the kernel, ranges from the flat view of the address space
 * the processors see, and counters from the access paths.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <linux/vfio.h>
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qapi/qapi-commands-vfio-direct.h"
#include "qapi/util.h"
#include "qom/object.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "hw/pci/pci.h"
#include "hw/vfio/pci.h"
#include "hw/vfio/vfio-direct.h"
#include "dma.h"
#include "tce.h"
#include "spapr-state.h"
#include "page-rule-plan.h"
#include "region-info-plan.h"
#include "trace.h"

/* Ranges of one BAR, in order; adjacent ranges served alike are merged. */
typedef struct VFIODirectQueryRanges {
    VfioBarRangeList *list;
    VfioBarRangeList **tail;
    VfioBarRange *last;
} VFIODirectQueryRanges;

static void vfio_direct_query_add_range(VFIODirectQueryRanges *ranges,
                                        uint64_t offset, uint64_t size,
                                        VfioBarRangeKind kind,
                                        VfioBarRangeReason reason)
{
    VfioBarRange *last = ranges->last;
    VfioBarRange *range;
    bool trapped = kind == VFIO_BAR_RANGE_KIND_TRAPPED;

    if (!size) {
        return;
    }
    if (last && last->offset + last->size == offset && last->kind == kind &&
        (!trapped || last->reason == reason)) {
        last->size += size;
        return;
    }

    range = g_new0(VfioBarRange, 1);
    range->offset = offset;
    range->size = size;
    range->kind = kind;
    range->has_reason = trapped;
    range->reason = trapped ? reason : 0;
    QAPI_LIST_APPEND(ranges->tail, range);
    ranges->last = range;
}

static void vfio_direct_query_add_trapped(VFIODirectQueryRanges *ranges,
                                          uint64_t offset, uint64_t size,
                                          VfioBarRangeReason reason)
{
    vfio_direct_query_add_range(ranges, offset, size,
                                VFIO_BAR_RANGE_KIND_TRAPPED, reason);
}

/* A trapped range of BAR @nr; MSI-X names its pages for itself. */
static void vfio_direct_query_add_bar_trapped(VFIOPCIDevice *vdev, int nr,
                                              VFIODirectQueryRanges *ranges,
                                              uint64_t offset, uint64_t size,
                                              VfioBarRangeReason reason)
{
    vfio_direct_query_add_trapped(ranges, offset, size,
                                  vfio_direct_msix_trap_reason(vdev, nr,
                                                               offset, size,
                                                               reason));
}

/* Where the processors see BAR @nr: found through the flat view. */
typedef struct VFIODirectQueryFind {
    MemoryRegion *bar_mr;
    hwaddr cpu_address;
    bool found;
} VFIODirectQueryFind;

static bool vfio_direct_query_find_range(Int128 start, Int128 len,
                                         const MemoryRegion *mr,
                                         hwaddr offset_in_region,
                                         void *opaque)
{
    VFIODirectQueryFind *find = opaque;
    hwaddr offset = offset_in_region;

    for (; mr && mr != find->bar_mr; mr = mr->container) {
        offset += mr->addr;
    }
    if (!mr) {
        return false;
    }
    find->cpu_address = int128_get64(start) - offset;
    find->found = true;
    return true;
}

/*
 * The address where the processors reach BAR @nr in @root (system
 * memory or I/O), or false when no part of it is visible there.  Any
 * flat range served by a region inside the BAR places the whole BAR,
 * however many bridges and PHB windows lie in between.
 */
static bool vfio_direct_query_cpu_address(VFIOPCIDevice *vdev, int nr,
                                          AddressSpace *as, hwaddr *addr)
{
    VFIODirectQueryFind find = { .bar_mr = vdev->bars[nr].mr };

    RCU_READ_LOCK_GUARD();
    flatview_for_each_range(address_space_to_flatview(as),
                            vfio_direct_query_find_range, &find);
    *addr = find.cpu_address;
    return find.found;
}

static bool vfio_direct_query_is_quirk(VFIOBAR *bar, MemoryRegion *mr)
{
    VFIOQuirk *quirk;
    int i;

    QLIST_FOREACH(quirk, &bar->quirks, next) {
        for (i = 0; i < quirk->nr_mem; i++) {
            if (&quirk->mem[i] == mr) {
                return true;
            }
        }
    }
    return false;
}

static bool vfio_direct_query_is_under(MemoryRegion *mr,
                                       MemoryRegion *container)
{
    for (; mr; mr = mr->container) {
        if (mr == container) {
            return true;
        }
    }
    return false;
}

/* Classify the section @section, at @offset in BAR @nr. */
static void vfio_direct_query_section(VFIOPCIDevice *vdev, int nr,
                                      MemoryRegionSection *section,
                                      uint64_t offset,
                                      VFIODirectQueryRanges *ranges)
{
    VFIOBAR *bar = &vdev->bars[nr];
    MemoryRegion *mr = section->mr;
    uint64_t size = int128_get64(section->size);
    VfioBarRangeReason reason;
    uint64_t done, len;

    trace_vfio_direct_query_section(vdev->vbasedev.name, nr, offset, size,
                                    memory_region_name(mr),
                                    section->offset_within_region);

    /* A sub-page BAR's trap region: its own part of the report */
    for (done = 0;
         done < size &&
         vfio_direct_subpage_trap_range(vdev, nr, mr,
                                        section->offset_within_region + done,
                                        size - done, &reason, &len);
         done += len) {
        vfio_direct_query_add_trapped(ranges, offset + done, len, reason);
    }
    if (done) {
        return;
    }

    if (!vfio_direct_query_is_under(mr, bar->mr)) {
        reason = VFIO_BAR_RANGE_REASON_HIDDEN;
    } else if (mr == &vdev->pdev.msix_table_mmio) {
        reason = VFIO_BAR_RANGE_REASON_MSIX_TABLE;
    } else if (mr == &vdev->pdev.msix_pba_mmio) {
        reason = VFIO_BAR_RANGE_REASON_MSIX_PBA;
    } else if (memory_region_is_ram_device(mr)) {
        uintptr_t hva = (uintptr_t)memory_region_get_ram_ptr(mr) +
                        section->offset_within_region;
        VFIODirectPageSplit split;

        split = vfio_direct_page_split(section->offset_within_address_space,
                                       hva, size, qemu_real_host_page_size());
        vfio_direct_query_add_bar_trapped(vdev, nr, ranges, offset,
                                          split.head,
                                          VFIO_BAR_RANGE_REASON_PARTIAL_PAGE);
        vfio_direct_query_add_range(ranges, offset + split.head, split.direct,
                                    VFIO_BAR_RANGE_KIND_DIRECT, 0);
        vfio_direct_query_add_bar_trapped(vdev, nr, ranges,
                                          offset + split.head + split.direct,
                                          split.tail,
                                          VFIO_BAR_RANGE_REASON_PARTIAL_PAGE);
        return;
    } else if (mr == bar->region.mem) {
        reason = VFIO_BAR_RANGE_REASON_DEVICE_FD;
    } else if (vfio_direct_query_is_quirk(bar, mr)) {
        reason = VFIO_BAR_RANGE_REASON_QUIRK;
    } else if (mr == bar->mr) {
        /* The container itself: a hole between its subregions */
        reason = VFIO_BAR_RANGE_REASON_UNASSIGNED;
    } else {
        reason = VFIO_BAR_RANGE_REASON_OTHER;
    }
    vfio_direct_query_add_bar_trapped(vdev, nr, ranges, offset, size, reason);
}

/*
 * Walk the flat view of @root under BAR @nr, which the processors see at
 * @cpu_addr, section by section.
 */
static VfioBarRangeList *vfio_direct_query_ranges(VFIOPCIDevice *vdev,
                                                  int nr, MemoryRegion *root,
                                                  hwaddr cpu_addr)
{
    uint64_t size = memory_region_size(vdev->bars[nr].mr);
    VFIODirectQueryRanges ranges = { 0 };
    uint64_t offset = 0;

    ranges.tail = &ranges.list;
    while (offset < size) {
        MemoryRegionSection section;
        uint64_t start;

        section = memory_region_find(root, cpu_addr + offset, size - offset);
        if (!section.mr) {
            break;
        }
        start = section.offset_within_address_space - cpu_addr;
        vfio_direct_query_add_trapped(&ranges, offset, start - offset,
                                      VFIO_BAR_RANGE_REASON_UNASSIGNED);
        vfio_direct_query_section(vdev, nr, &section, start, &ranges);
        offset = start + int128_get64(section.size);
        memory_region_unref(section.mr);
    }
    vfio_direct_query_add_trapped(&ranges, offset, size - offset,
                                  VFIO_BAR_RANGE_REASON_UNASSIGNED);
    return ranges.list;
}

static VfioBarInfo *vfio_direct_query_bar(VFIOPCIDevice *vdev, int nr)
{
    VFIOBAR *bar = &vdev->bars[nr];
    VfioBarInfo *info = g_new0(VfioBarInfo, 1);
    pcibus_t addr = pci_get_bar_addr(&vdev->pdev, nr);
    AddressSpace *as = bar->ioport ? &address_space_io : &address_space_memory;

    info->index = nr;
    info->type = bar->ioport ? VFIO_BAR_TYPE_IO :
                 bar->mem64 ? VFIO_BAR_TYPE_MEM64 : VFIO_BAR_TYPE_MEM32;
    info->size = bar->size;
    info->guest_size = vdev->pdev.io_regions[nr].size;
    info->has_address = addr != PCI_BAR_UNMAPPED;
    info->address = info->has_address ? addr : 0;
    info->subpage = vfio_direct_subpage_state(vdev, nr);
    info->trapped_reads = bar->region.trapped_reads;
    info->trapped_writes = bar->region.trapped_writes;

    if (info->has_address &&
        vfio_direct_query_cpu_address(vdev, nr, as, &info->cpu_address)) {
        info->has_cpu_address = true;
        info->ranges = vfio_direct_query_ranges(vdev, nr, as->root,
                                                info->cpu_address);
    }
    return info;
}

/* The kernel's identifier of each capability type we report */
static const uint16_t vfio_direct_query_cap_ids[VFIO_REGION_CAP_TYPE__MAX] = {
    [VFIO_REGION_CAP_TYPE_SPARSE_MMAP] = VFIO_REGION_INFO_CAP_SPARSE_MMAP,
    [VFIO_REGION_CAP_TYPE_TYPE] = VFIO_REGION_INFO_CAP_TYPE,
    [VFIO_REGION_CAP_TYPE_MSIX_MAPPABLE] = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
    [VFIO_REGION_CAP_TYPE_NVLINK2_SSATGT] = VFIO_REGION_INFO_CAP_NVLINK2_SSATGT,
    [VFIO_REGION_CAP_TYPE_NVLINK2_LNKSPD] = VFIO_REGION_INFO_CAP_NVLINK2_LNKSPD,
    [VFIO_REGION_CAP_TYPE_MMAP_SPAN] = VFIO_REGION_INFO_CAP_MMAP_SPAN,
};

static VfioRegionAreaList *
vfio_direct_query_sparse_areas(struct vfio_info_cap_header *hdr)
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

static VfioRegionInfo *vfio_direct_query_region(VFIODevice *vbasedev,
                                                int index)
{
    g_autofree struct vfio_region_info *kinfo = NULL;
    VfioRegionInfo *info;
    VfioRegionCapList **tail;
    VfioRegionCapType type;
    char why[160];

    if (vfio_get_region_info(vbasedev, index, &kinfo)) {
        /* e.g. the VGA region of a device that has none */
        return NULL;
    }

    info = g_new0(VfioRegionInfo, 1);
    info->index = index;
    info->size = kinfo->size;
    info->offset = kinfo->offset;
    info->flags = kinfo->flags;
    tail = &info->caps;

    /* Upstream's walk of the chain trusts it: check it first */
    if (!vfio_direct_region_info_valid(kinfo, why, sizeof(why))) {
        trace_vfio_direct_query_bad_caps(vbasedev->name, index, why);
        error_report_once("vfio %s: region %d: the kernel's capability "
                          "chain is broken, capabilities not shown: %s",
                          vbasedev->name, index, why);
        return info;
    }
    for (type = 0; type < VFIO_REGION_CAP_TYPE__MAX; type++) {
        struct vfio_info_cap_header *hdr =
            vfio_get_region_info_cap(kinfo, vfio_direct_query_cap_ids[type]);
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
            info->sparse_mmap_areas = vfio_direct_query_sparse_areas(hdr);
        }
    }
    return info;
}

static VfioPciDeviceInfo *vfio_direct_query_device(VFIOPCIDevice *vdev)
{
    VFIODevice *vbasedev = &vdev->vbasedev;
    VfioPciDeviceInfo *info = g_new0(VfioPciDeviceInfo, 1);
    VfioRegionInfoList **region_tail = &info->regions;
    VfioBarInfoList **bar_tail = &info->bars;
    DeviceState *dev = DEVICE(vdev);
    int i;

    info->id = g_strdup(dev->id);
    info->qom_path = object_get_canonical_path(OBJECT(vdev));
    info->host = g_strdup(vbasedev->name);
    info->host_page_size = qemu_real_host_page_size();

    for (i = 0; i < vbasedev->num_regions; i++) {
        VfioRegionInfo *region = vfio_direct_query_region(vbasedev, i);

        if (region) {
            QAPI_LIST_APPEND(region_tail, region);
        }
    }

    for (i = 0; i < PCI_ROM_SLOT; i++) {
        if (vdev->bars[i].size && vdev->bars[i].mr) {
            QAPI_LIST_APPEND(bar_tail, vfio_direct_query_bar(vdev, i));
        }
    }

    info->msix = vfio_direct_msix_query(vdev);
    info->dma = vfio_direct_dma_query(vdev);
    if (info->dma) {
        info->dma->tce = vfio_direct_tce_query(vdev);
        info->dma->prereg = vfio_direct_prereg_query(vdev);
        info->dma->ddw = vfio_direct_ddw_query(vdev);
    }
    return info;
}

VfioPciDeviceInfoList *qmp_x_query_vfio(Error **errp)
{
    VfioPciDeviceInfoList *list = NULL;
    VFIODevice *vbasedev;

    /* Newest first: prepending puts the list in creation order */
    QLIST_FOREACH(vbasedev, &vfio_device_list, global_next) {
        /* A device being unplugged is on the list until finalized */
        if (vbasedev->type != VFIO_DEVICE_TYPE_PCI ||
            !qatomic_read(&vbasedev->dev->realized)) {
            continue;
        }
        QAPI_LIST_PREPEND(list, vfio_direct_query_device(
                              container_of(vbasedev, VFIOPCIDevice,
                                           vbasedev)));
    }
    return list;
}

/* "rw-m-" style summary of VFIO_REGION_INFO_FLAG_* */
static void vfio_direct_query_flags_str(uint32_t flags, char *buf)
{
    buf[0] = flags & VFIO_REGION_INFO_FLAG_READ ? 'r' : '-';
    buf[1] = flags & VFIO_REGION_INFO_FLAG_WRITE ? 'w' : '-';
    buf[2] = flags & VFIO_REGION_INFO_FLAG_MMAP ? 'm' : '-';
    buf[3] = flags & VFIO_REGION_INFO_FLAG_CAPS ? 'c' : '-';
    buf[4] = '\0';
}

static void hmp_info_vfio_region(Monitor *mon, VfioRegionInfo *region)
{
    VfioRegionCapList *cap;
    VfioRegionAreaList *area;
    char flags[5];

    vfio_direct_query_flags_str(region->flags, flags);
    monitor_printf(mon, "    %-4u 0x%-12" PRIx64 " 0x%-14" PRIx64 " %s",
                   region->index, region->size, region->offset, flags);
    for (cap = region->caps; cap; cap = cap->next) {
        monitor_printf(mon, " %s(%u)", VfioRegionCapType_str(cap->value->type),
                       cap->value->id);
    }
    monitor_printf(mon, "\n");
    for (area = region->sparse_mmap_areas; area; area = area->next) {
        monitor_printf(mon, "        mmap area 0x%" PRIx64 "-0x%" PRIx64 "\n",
                       area->value->offset,
                       area->value->offset + area->value->size - 1);
    }
}

static void hmp_info_vfio_bar(Monitor *mon, VfioBarInfo *bar)
{
    VfioBarRangeList *r;

    monitor_printf(mon, "    BAR%u %s size 0x%" PRIx64 " guest-size 0x%"
                   PRIx64, bar->index, VfioBarType_str(bar->type),
                   bar->size, bar->guest_size);
    if (bar->has_address) {
        monitor_printf(mon, " at 0x%" PRIx64, bar->address);
    } else {
        monitor_printf(mon, " unmapped");
    }
    if (bar->has_cpu_address) {
        monitor_printf(mon, " (cpu 0x%" PRIx64 ")", bar->cpu_address);
    }
    monitor_printf(mon, " subpage %s\n", VfioSubpageState_str(bar->subpage));
    monitor_printf(mon, "      trapped reads %" PRIu64 " writes %" PRIu64 "\n",
                   bar->trapped_reads, bar->trapped_writes);
    for (r = bar->ranges; r; r = r->next) {
        VfioBarRange *range = r->value;

        monitor_printf(mon, "      0x%08" PRIx64 "-0x%08" PRIx64 " %s",
                       range->offset, range->offset + range->size - 1,
                       VfioBarRangeKind_str(range->kind));
        if (range->has_reason) {
            monitor_printf(mon, " (%s)",
                           VfioBarRangeReason_str(range->reason));
        }
        monitor_printf(mon, "\n");
    }
}

static void hmp_info_vfio_msix(Monitor *mon, VfioMsixInfo *msix)
{
    monitor_printf(mon, "  MSI-X: %u entries, table BAR%u+0x%" PRIx32
                   ", PBA BAR%u+0x%" PRIx32 ", table %s, %s\n",
                   msix->entries, msix->table_bar, msix->table_offset,
                   msix->pba_bar, msix->pba_offset,
                   msix->emulated ? "emulated" : "not emulated",
                   msix->mappable ? "mappable" : "not mappable (carved out)");
    if (msix->has_relocated_from) {
        monitor_printf(mon, "    relocated from BAR%u%s\n",
                       msix->relocated_from,
                       msix->relocation_auto ? " (x-msix-relocation=auto)" :
                       "");
    }
    if (msix->table_page_shared) {
        monitor_printf(mon, "    0x%" PRIx64 " bytes share the table's host "
                       "pages and trap; x-msix-relocation=auto would make "
                       "them direct\n", msix->table_page_shared);
    }
}

void hmp_info_vfio(Monitor *mon, const QDict *qdict)
{
    g_autoptr(VfioPciDeviceInfoList) list = NULL;
    VfioPciDeviceInfoList *dev;
    Error *err = NULL;

    list = qmp_x_query_vfio(&err);
    if (hmp_handle_error(mon, err)) {
        return;
    }
    if (!list) {
        monitor_printf(mon, "No vfio-pci devices\n");
        return;
    }

    for (dev = list; dev; dev = dev->next) {
        VfioPciDeviceInfo *info = dev->value;
        VfioRegionInfoList *region;
        VfioBarInfoList *bar;

        monitor_printf(mon, "vfio-pci %s: id %s, %s, host page 0x%" PRIx64
                       "\n", info->host, info->id ?: "(none)",
                       info->qom_path, info->host_page_size);
        monitor_printf(mon, "  regions (empty ones omitted):\n");
        monitor_printf(mon, "    %-4s %-14s %-16s %-4s %s\n",
                       "idx", "size", "fd offset", "flag", "caps");
        for (region = info->regions; region; region = region->next) {
            if (region->value->size) {
                hmp_info_vfio_region(mon, region->value);
            }
        }
        monitor_printf(mon, "  BARs:\n");
        for (bar = info->bars; bar; bar = bar->next) {
            hmp_info_vfio_bar(mon, bar->value);
        }
        if (info->msix) {
            hmp_info_vfio_msix(mon, info->msix);
        }
        if (info->dma) {
            vfio_direct_dma_hmp(mon, info->dma);
            if (info->dma->tce) {
                vfio_direct_tce_hmp(mon, info->dma->tce);
            }
            if (info->dma->prereg) {
                vfio_direct_prereg_hmp(mon, info->dma->prereg);
            }
            if (info->dma->ddw) {
                vfio_direct_ddw_hmp(mon, info->dma->ddw);
            }
        }
    }
}
