/*
 * vfio-direct: sub-page BARs mapped directly as whole host pages
 *
 * KVM maps guest memory in whole host pages, so a memory BAR smaller than
 * the host page can only be direct if the guest sees the whole page.  The
 * kernel's vfio-pci allows mmap of that page (region flag MMAP) only when
 * the rest of the page is reserved for the same device.  Whenever the
 * guest places such a BAR on a host-page boundary and nothing else lives
 * in that page, we grow the BAR's regions to the page, so the page is one
 * ram-device section that KVM maps into the guest.
 *
 * With x-bar-page-align the guest sizes the BAR as one host page, so it
 * can only place it page-aligned and alone in its page.  While such a BAR
 * is trapped, accesses past its real end read as all-ones, writes are
 * dropped, and neither reaches the device fd.
 *
 * A trapped sub-page BAR is served through the device fd (its mmap is
 * detached), so the kernel bounds-checks every access and the trapped
 * access counters count them.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/range.h"
#include "exec/memory.h"
#include "hw/pci/pci.h"
#include "hw/vfio/pci.h"
#include "subpage-plan.h"
#include "trace.h"

static const char *const vfio_direct_subpage_state_names[] = {
    [VFIO_DIRECT_SUBPAGE_NONE] = "not-subpage",
    [VFIO_DIRECT_SUBPAGE_UNMAPPED] = "unmapped",
    [VFIO_DIRECT_SUBPAGE_DIRECT] = "direct",
    [VFIO_DIRECT_SUBPAGE_UNALIGNED] = "unaligned",
    [VFIO_DIRECT_SUBPAGE_NO_MMAP] = "no-mmap",
    [VFIO_DIRECT_SUBPAGE_SHARED] = "page-shared",
    [VFIO_DIRECT_SUBPAGE_QUIRK] = "quirk",
};

QEMU_BUILD_BUG_ON(ARRAY_SIZE(vfio_direct_subpage_state_names) !=
                  VFIO_DIRECT_SUBPAGE__MAX);

const char *vfio_direct_subpage_state_str(VFIODirectSubpageState state)
{
    assert(state < VFIO_DIRECT_SUBPAGE__MAX);
    return vfio_direct_subpage_state_names[state];
}

static uint64_t vfio_direct_pad_read(void *opaque, hwaddr addr, unsigned size)
{
    VFIORegion *region = opaque;

    region->trapped_reads++;
    return MAKE_64BIT_MASK(0, size * BITS_PER_BYTE);
}

static void vfio_direct_pad_write(void *opaque, hwaddr addr, uint64_t data,
                                  unsigned size)
{
    VFIORegion *region = opaque;

    region->trapped_writes++;
}

static const MemoryRegionOps vfio_direct_pad_ops = {
    .read = vfio_direct_pad_read,
    .write = vfio_direct_pad_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
};

/* A memory BAR below the host page whose region we can take over. */
static bool vfio_direct_subpage_candidate(VFIOPCIDevice *vdev, int nr)
{
    VFIOBAR *bar = &vdev->bars[nr];

    if (!bar->region.size || bar->ioport ||
        bar->region.size >= qemu_real_host_page_size()) {
        return false;
    }
    /* The MSI-X table and PBA are emulated and must stay trapped. */
    if (vdev->msix &&
        (vdev->msix->table_bar == nr || vdev->msix->pba_bar == nr)) {
        return false;
    }
    return true;
}

/* The kernel granted mmap of the host page that holds the whole BAR. */
static bool vfio_direct_subpage_mmap_granted(VFIOBAR *bar)
{
    VFIORegion *region = &bar->region;

    return region->nr_mmaps == 1 && region->mmaps[0].mmap &&
           region->mmaps[0].offset == 0 &&
           region->mmaps[0].size == region->size;
}

void vfio_direct_subpage_bar_register(VFIOPCIDevice *vdev, int nr)
{
    VFIOBAR *bar = &vdev->bars[nr];
    VFIODirectBar *dbar = &vdev->direct.bars[nr];
    uint64_t page_size = qemu_real_host_page_size();
    g_autofree char *name = NULL;
    bool page_align;

    dbar->subpage = VFIO_DIRECT_SUBPAGE_NONE;
    if (!vfio_direct_subpage_candidate(vdev, nr)) {
        return;
    }
    dbar->subpage = VFIO_DIRECT_SUBPAGE_UNMAPPED;

    switch (vdev->direct.bar_page_align) {
    case ON_OFF_AUTO_ON:
        page_align = true;
        break;
    case ON_OFF_AUTO_OFF:
        page_align = false;
        break;
    default:
        page_align = vfio_direct_subpage_mmap_granted(bar);
        break;
    }
    if (!page_align) {
        return;
    }

    name = g_strdup_printf("%s BAR %d page padding", vdev->vbasedev.name, nr);
    dbar->pad = g_new0(MemoryRegion, 1);
    memory_region_init_io(dbar->pad, OBJECT(vdev), &vfio_direct_pad_ops,
                          &bar->region, name, page_size - bar->size);
    memory_region_add_subregion_overlap(bar->mr, bar->size, dbar->pad, -1);
    memory_region_set_size(bar->mr,
                           vfio_direct_subpage_guest_size(bar->size, page_size,
                                                          true));
    trace_vfio_direct_subpage_page_align(vdev->vbasedev.name, nr, bar->size,
                                         page_size);
}

/* Does anything but this BAR live in the host page at @addr? */
static bool vfio_direct_subpage_page_shared(VFIOPCIDevice *vdev, int nr,
                                            uint64_t addr, uint64_t page_size)
{
    MemoryRegion *space = vdev->pdev.io_regions[nr].address_space;
    MemoryRegion *sub;

    QTAILQ_FOREACH(sub, &space->subregions, subregions_link) {
        if (sub != vdev->bars[nr].mr && sub->enabled &&
            ranges_overlap(sub->addr, memory_region_size(sub),
                           addr, page_size)) {
            return true;
        }
    }
    return false;
}

static void vfio_direct_subpage_warn(VFIOPCIDevice *vdev, int nr,
                                     uint64_t addr)
{
    VFIODirectBar *dbar = &vdev->direct.bars[nr];
    uint64_t size = vdev->bars[nr].size;
    const char *name = vdev->vbasedev.name;

    if (dbar->warned & BIT(dbar->subpage)) {
        return;
    }
    dbar->warned |= BIT(dbar->subpage);

    switch (dbar->subpage) {
    case VFIO_DIRECT_SUBPAGE_UNALIGNED:
        warn_report("vfio %s: BAR %d (%" PRIu64 " bytes) is trapped: the "
                    "guest placed it at 0x%" PRIx64 ", not on a host page "
                    "boundary; set x-bar-page-align=on", name, nr, size, addr);
        break;
    case VFIO_DIRECT_SUBPAGE_NO_MMAP:
        if (!vdev->vbasedev.no_mmap) {
            warn_report("vfio %s: BAR %d (%" PRIu64 " bytes) is trapped: "
                        "the kernel does not allow mmap of its host page "
                        "(the page holds another device's resources)",
                        name, nr, size);
        }
        break;
    case VFIO_DIRECT_SUBPAGE_SHARED:
        warn_report("vfio %s: BAR %d (%" PRIu64 " bytes) is trapped: another "
                    "region shares its host page at 0x%" PRIx64 "; set "
                    "x-bar-page-align=on", name, nr, size, addr);
        break;
    default:
        break;
    }
}

/*
 * Grow the BAR's regions to the host page (direct) or shrink them back to
 * the BAR (trapped).  Without x-bar-page-align the grown container sits at
 * priority 0, below the priority 1 that the PCI core gives BARs, so a BAR
 * placed later in the same page is never hidden by this one.
 */
static void vfio_direct_subpage_apply(VFIOPCIDevice *vdev, int nr,
                                      uint64_t addr, bool direct)
{
    VFIOBAR *bar = &vdev->bars[nr];
    VFIORegion *region = &bar->region;
    MemoryRegion *mmap_mr = &region->mmaps[0].mem;
    PCIIORegion *r = &vdev->pdev.io_regions[nr];
    uint64_t page_size = qemu_real_host_page_size();
    uint64_t region_size = direct ? page_size : bar->size;
    uint64_t container_size = direct ? page_size : r->size;

    memory_region_transaction_begin();

    memory_region_set_size(region->mem, region_size);
    memory_region_set_size(mmap_mr, region_size);
    if (direct && !mmap_mr->container) {
        memory_region_add_subregion(region->mem, 0, mmap_mr);
    } else if (!direct && mmap_mr->container) {
        memory_region_del_subregion(region->mem, mmap_mr);
    }

    if (memory_region_size(bar->mr) != container_size) {
        memory_region_set_size(bar->mr, container_size);
        if (memory_region_is_mapped(bar->mr)) {
            memory_region_del_subregion(r->address_space, bar->mr);
            memory_region_add_subregion_overlap(r->address_space, addr,
                                                bar->mr, direct ? 0 : 1);
        }
    }

    memory_region_transaction_commit();
}

static void vfio_direct_subpage_update_device(VFIOPCIDevice *vdev)
{
    uint64_t page_size = qemu_real_host_page_size();
    int nr;

    for (nr = 0; nr < PCI_ROM_SLOT; nr++) {
        VFIODirectBar *dbar = &vdev->direct.bars[nr];
        VFIOBAR *bar = &vdev->bars[nr];
        uint64_t addr = vdev->pdev.io_regions[nr].addr;
        bool granted, shared;
        VFIODirectSubpageState state;

        if (dbar->subpage == VFIO_DIRECT_SUBPAGE_NONE) {
            continue;
        }

        granted = vfio_direct_subpage_mmap_granted(bar);
        shared = addr != PCI_BAR_UNMAPPED &&
                 vfio_direct_subpage_page_shared(vdev, nr, addr, page_size);
        state = vfio_direct_subpage_plan(addr, bar->size, page_size,
                                         granted, shared);
        /* Registers that a device quirk intercepts must stay trapped. */
        if (state == VFIO_DIRECT_SUBPAGE_DIRECT &&
            !QLIST_EMPTY(&bar->quirks)) {
            state = VFIO_DIRECT_SUBPAGE_QUIRK;
        }
        if (granted) {
            vfio_direct_subpage_apply(vdev, nr, addr,
                                      state == VFIO_DIRECT_SUBPAGE_DIRECT);
        }
        if (state != dbar->subpage) {
            const char *name = vfio_direct_subpage_state_str(state);

            trace_vfio_direct_subpage_update(vdev->vbasedev.name, nr, addr,
                                             name);
        }
        dbar->subpage = state;
        vfio_direct_subpage_warn(vdev, nr, addr);
    }
}

/*
 * A BAR write can move one device's BAR into, or out of, the page of
 * another device's sub-page BAR, so every vfio-pci device is re-evaluated,
 * not only @vdev.
 */
void vfio_direct_subpage_update(VFIOPCIDevice *vdev)
{
    VFIODevice *vbasedev;

    vfio_direct_subpage_update_device(vdev);
    QLIST_FOREACH(vbasedev, &vfio_device_list, global_next) {
        if (vbasedev->type == VFIO_DEVICE_TYPE_PCI &&
            vbasedev != &vdev->vbasedev) {
            vfio_direct_subpage_update_device(container_of(vbasedev,
                                                           VFIOPCIDevice,
                                                           vbasedev));
        }
    }
}

void vfio_direct_subpage_bar_exit(VFIOPCIDevice *vdev, int nr)
{
    VFIODirectBar *dbar = &vdev->direct.bars[nr];
    VFIOBAR *bar = &vdev->bars[nr];

    if (dbar->subpage == VFIO_DIRECT_SUBPAGE_NONE) {
        return;
    }
    /* Upstream's region exit expects the mmap attached to its region. */
    if (vfio_direct_subpage_mmap_granted(bar) &&
        !bar->region.mmaps[0].mem.container) {
        memory_region_add_subregion(bar->region.mem, 0,
                                    &bar->region.mmaps[0].mem);
    }
    if (dbar->pad) {
        memory_region_del_subregion(bar->mr, dbar->pad);
    }
}

void vfio_direct_subpage_bar_finalize(VFIOPCIDevice *vdev, int nr)
{
    VFIODirectBar *dbar = &vdev->direct.bars[nr];

    if (dbar->pad) {
        object_unparent(OBJECT(dbar->pad));
        g_free(dbar->pad);
        dbar->pad = NULL;
    }
}
