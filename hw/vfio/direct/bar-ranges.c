/*
 * vfio-direct: what the guest reaches directly in each BAR, and why not
 *
 * What: for every BAR of a device, the ranges the processors reach
 * directly and those that trap, with the reason (sub-page trap, MSI-X
 * table or PBA, a partial host page, the device fd, a quirk, ...), for
 * x-query-vfio and "info vfio".
 * Why: this is the oracle of the test suite and the first thing a user
 * reads, so it is derived from the live state, not from what the code
 * meant to do: the flat view of the address space the processors see,
 * KVM's page rule (page-rule-plan.c) on every RAM-device section, and
 * the access counters of the region.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/util.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "hw/pci/pci.h"
#include "hw/vfio/pci.h"
#include "hw/vfio/vfio-direct.h"
#include "bar-ranges.h"
#include "page-rule-plan.h"
#include "trace.h"

/* Ranges of one BAR, in order; adjacent ranges served alike are merged. */
typedef struct VFIODirectBarRanges {
    VfioBarRangeList *list;
    VfioBarRangeList **tail;
    VfioBarRange *last;
} VFIODirectBarRanges;

static void add_range(VFIODirectBarRanges *ranges, uint64_t offset,
                      uint64_t size, VfioBarRangeKind kind,
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

static void add_trapped(VFIODirectBarRanges *ranges, uint64_t offset,
                        uint64_t size, VfioBarRangeReason reason)
{
    add_range(ranges, offset, size, VFIO_BAR_RANGE_KIND_TRAPPED, reason);
}

/* A trapped range of BAR @nr; MSI-X names its pages for itself. */
static void add_bar_trapped(VFIOPCIDevice *vdev, int nr,
                            VFIODirectBarRanges *ranges, uint64_t offset,
                            uint64_t size, VfioBarRangeReason reason)
{
    add_trapped(ranges, offset, size,
                vfio_direct_msix_trap_reason(vdev, nr, offset, size, reason));
}

/* Where the processors see BAR @nr: found through the flat view. */
typedef struct VFIODirectBarFind {
    MemoryRegion *bar_mr;
    hwaddr cpu_address;
    bool found;
} VFIODirectBarFind;

static bool find_range(Int128 start, Int128 len, const MemoryRegion *mr,
                       hwaddr offset_in_region, void *opaque)
{
    VFIODirectBarFind *find = opaque;
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
static bool cpu_address(VFIOPCIDevice *vdev, int nr, AddressSpace *as,
                        hwaddr *addr)
{
    VFIODirectBarFind find = { .bar_mr = vdev->bars[nr].mr };

    RCU_READ_LOCK_GUARD();
    flatview_for_each_range(address_space_to_flatview(as),
                            find_range, &find);
    *addr = find.cpu_address;
    return find.found;
}

static bool is_quirk(VFIOBAR *bar, MemoryRegion *mr)
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

static bool is_under(MemoryRegion *mr, MemoryRegion *container)
{
    for (; mr; mr = mr->container) {
        if (mr == container) {
            return true;
        }
    }
    return false;
}

/* Classify the section @section, at @offset in BAR @nr. */
static void classify_section(VFIOPCIDevice *vdev, int nr,
                             MemoryRegionSection *section, uint64_t offset,
                             VFIODirectBarRanges *ranges)
{
    VFIOBAR *bar = &vdev->bars[nr];
    MemoryRegion *mr = section->mr;
    uint64_t size = int128_get64(section->size);
    VfioBarRangeReason reason;
    uint64_t done, len;

    trace_vfio_direct_bar_ranges_section(vdev->vbasedev.name, nr, offset, size,
                                         memory_region_name(mr),
                                         section->offset_within_region);

    /* A sub-page BAR's trap region: its own part of the report */
    for (done = 0;
         done < size &&
         vfio_direct_subpage_trap_range(vdev, nr, mr,
                                        section->offset_within_region + done,
                                        size - done, &reason, &len);
         done += len) {
        add_trapped(ranges, offset + done, len, reason);
    }
    if (done) {
        return;
    }

    if (!is_under(mr, bar->mr)) {
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
        add_bar_trapped(vdev, nr, ranges, offset, split.head,
                        VFIO_BAR_RANGE_REASON_PARTIAL_PAGE);
        add_range(ranges, offset + split.head, split.direct,
                  VFIO_BAR_RANGE_KIND_DIRECT, 0);
        add_bar_trapped(vdev, nr, ranges, offset + split.head + split.direct,
                        split.tail, VFIO_BAR_RANGE_REASON_PARTIAL_PAGE);
        return;
    } else if (mr == bar->region.mem) {
        reason = VFIO_BAR_RANGE_REASON_DEVICE_FD;
    } else if (is_quirk(bar, mr)) {
        reason = VFIO_BAR_RANGE_REASON_QUIRK;
    } else if (mr == bar->mr) {
        /* The container itself: a hole between its subregions */
        reason = VFIO_BAR_RANGE_REASON_UNASSIGNED;
    } else {
        reason = VFIO_BAR_RANGE_REASON_OTHER;
    }
    add_bar_trapped(vdev, nr, ranges, offset, size, reason);
}

/*
 * Walk the flat view of @root under BAR @nr, which the processors see at
 * @cpu_addr, section by section.
 */
static VfioBarRangeList *walk_bar(VFIOPCIDevice *vdev, int nr,
                                  MemoryRegion *root, hwaddr cpu_addr)
{
    uint64_t size = memory_region_size(vdev->bars[nr].mr);
    VFIODirectBarRanges ranges = { 0 };
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
        add_trapped(&ranges, offset, start - offset,
                    VFIO_BAR_RANGE_REASON_UNASSIGNED);
        classify_section(vdev, nr, &section, start, &ranges);
        offset = start + int128_get64(section.size);
        memory_region_unref(section.mr);
    }
    add_trapped(&ranges, offset, size - offset,
                VFIO_BAR_RANGE_REASON_UNASSIGNED);
    return ranges.list;
}

static VfioBarInfo *bar_info(VFIOPCIDevice *vdev, int nr)
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
        cpu_address(vdev, nr, as, &info->cpu_address)) {
        info->has_cpu_address = true;
        info->ranges = walk_bar(vdev, nr, as->root, info->cpu_address);
    }
    return info;
}

VfioBarInfoList *vfio_direct_bar_ranges_query(VFIOPCIDevice *vdev)
{
    VfioBarInfoList *list = NULL, **tail = &list;
    int i;

    for (i = 0; i < PCI_ROM_SLOT; i++) {
        if (vdev->bars[i].size && vdev->bars[i].mr) {
            QAPI_LIST_APPEND(tail, bar_info(vdev, i));
        }
    }
    return list;
}
