/*
 * vfio-direct: sub-page BARs mapped directly as whole host pages
 *
 * KVM maps guest memory in whole host pages, so a memory BAR smaller than
 * the host page can only be direct if the guest sees the whole page.  The
 * kernel's vfio-pci allows mmap of that page (region flag MMAP) only when
 * the rest of the page is reserved for the same device (kernels with our
 * series also state that span in a region capability).  Whenever the
 * guest places such a BAR on a host-page boundary and nothing else lives
 * in that page, we grow the BAR's regions to the page, so the page is one
 * ram-device section that KVM maps into the guest.  With x-bar-page-align
 * the guest sizes the BAR as one host page, so it can only place it
 * page-aligned and alone in its page.
 *
 * Every change of a BAR's mapping re-evaluates every sub-page BAR of every
 * vfio-pci device (a BAR of one device can move into the page of
 * another's), in the same memory transaction as the change itself, so the
 * guest never sees a stale page-sized container: config writes (BAR,
 * command, power state), reset and migration load all end here.
 *
 * While a sub-page BAR is not direct, its "trap" region serves it: from
 * QEMU's own mmap of the BAR where the kernel granted one (no syscall per
 * access), else through the device fd.  It checks bounds itself: past the
 * real end of the BAR reads return all-ones and writes are dropped, in
 * every state, so the kernel never sees an out-of-range access.  When
 * INTx emulation disables the BAR mmaps, it forwards to the device fd,
 * which is how upstream notices device activity for INTx EOI.  Every
 * access it serves is counted in the region's trapped counters.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/ioctl.h>
#include <linux/vfio.h>
#include "qemu/bswap.h"
#include "qemu/error-report.h"
#include "qemu/range.h"
#include "qapi/qapi-types-vfio-direct.h"
#include "exec/memory.h"
#include "hw/pci/pci.h"
#include "hw/resettable.h"
#include "hw/vfio/pci.h"
#include "region-info-plan.h"
#include "region-info.h"
#include "subpage-plan.h"
#include "trace.h"

/* The kernel granted mmap of the host page that holds the whole BAR. */
static bool vfio_direct_subpage_mmap_granted(VFIOBAR *bar)
{
    VFIORegion *region = &bar->region;

    return region->nr_mmaps == 1 && region->mmaps[0].mmap &&
           region->mmaps[0].offset == 0 &&
           region->mmaps[0].size == region->size;
}

/* Serve from our mmap?  Not while INTx emulation has disabled the mmaps. */
static bool vfio_direct_trap_uses_mmap(VFIOBAR *bar)
{
    return vfio_direct_subpage_mmap_granted(bar) &&
           bar->region.mmaps[0].mem.enabled;
}

static bool vfio_direct_trap_in_bar(VFIOBAR *bar, hwaddr addr, unsigned size)
{
    return addr < bar->size && size <= bar->size - addr;
}

static uint64_t vfio_direct_trap_read(void *opaque, hwaddr addr, unsigned size)
{
    VFIOBAR *bar = opaque;
    VFIORegion *region = &bar->region;

    if (!vfio_direct_trap_in_bar(bar, addr, size)) {
        region->trapped_reads++;
        return MAKE_64BIT_MASK(0, size * BITS_PER_BYTE);
    }
    if (!vfio_direct_trap_uses_mmap(bar)) {
        return vfio_region_read(region, addr, size);
    }
    region->trapped_reads++;
    return ldn_le_p(region->mmaps[0].mmap + addr, size);
}

static void vfio_direct_trap_write(void *opaque, hwaddr addr, uint64_t data,
                                   unsigned size)
{
    VFIOBAR *bar = opaque;
    VFIORegion *region = &bar->region;

    if (!vfio_direct_trap_in_bar(bar, addr, size)) {
        region->trapped_writes++;
        return;
    }
    if (!vfio_direct_trap_uses_mmap(bar)) {
        vfio_region_write(region, addr, data, size);
        return;
    }
    region->trapped_writes++;
    stn_le_p(region->mmaps[0].mmap + addr, size, data);
}

static const MemoryRegionOps vfio_direct_trap_ops = {
    .read = vfio_direct_trap_read,
    .write = vfio_direct_trap_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
    .impl = {
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
    /* An emulated MSI-X table or PBA must stay trapped. */
    if (vdev->msix && vfio_direct_msix_emulated(vdev) &&
        (vdev->msix->table_bar == nr || vdev->msix->pba_bar == nr)) {
        return false;
    }
    return true;
}

/*
 * Does the kernel grant the mmap of BAR @nr's whole host page?  Kernels
 * with the vfio-direct series state the mappable span (*@stated); it
 * must be exactly that page.  Others only set MMAP on such a BAR, which
 * says as much (the rest of the page is reserved for the device).
 */
static bool vfio_direct_subpage_span_granted(VFIOPCIDevice *vdev, int nr,
                                             bool *stated)
{
    VFIOBAR *bar = &vdev->bars[nr];
    const struct vfio_region_info *info;
    uint64_t page_size = qemu_real_host_page_size();
    uint64_t offset, size;

    *stated = false;
    if (!vfio_direct_subpage_mmap_granted(bar)) {
        return false;
    }
    info = vfio_direct_region_info(vdev, bar->region.nr);
    if (!info ||
        !vfio_direct_region_info_span(info, page_size, &offset, &size)) {
        return true;
    }
    *stated = true;
    return offset == 0 && size == page_size;
}

/* Can the device migrate?  Then its guest ABI must not depend on the host. */
static bool vfio_direct_subpage_migratable(VFIOPCIDevice *vdev)
{
    VFIODevice *vbasedev = &vdev->vbasedev;
    uint64_t buf[DIV_ROUND_UP(sizeof(struct vfio_device_feature) +
                              sizeof(struct vfio_device_feature_migration),
                              sizeof(uint64_t))] = {};
    struct vfio_device_feature *feature = (void *)buf;

    if (vbasedev->enable_migration == ON_OFF_AUTO_OFF) {
        return false;
    }
    feature->argsz = sizeof(buf);
    feature->flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_MIGRATION;
    return !ioctl(vbasedev->fd, VFIO_DEVICE_FEATURE, feature);
}

void vfio_direct_subpage_bar_register(VFIOPCIDevice *vdev, int nr)
{
    VFIOBAR *bar = &vdev->bars[nr];
    VFIODirectBar *dbar = &vdev->direct.bars[nr];
    uint64_t page_size = qemu_real_host_page_size();
    g_autofree char *name = NULL;
    bool granted, stated, migratable;

    dbar->state = VFIO_SUBPAGE_STATE_NOT_SUBPAGE;
    if (!vfio_direct_subpage_candidate(vdev, nr)) {
        return;
    }
    dbar->state = VFIO_SUBPAGE_STATE_UNMAPPED;

    granted = vfio_direct_subpage_span_granted(vdev, nr, &stated);
    migratable = vfio_direct_subpage_migratable(vdev);
    dbar->page_align =
        vfio_direct_subpage_page_align(vdev->direct.bar_page_align, granted,
                                       migratable);
    trace_vfio_direct_subpage_register(vdev->vbasedev.name, nr, bar->size,
                                       page_size, granted, stated,
                                       migratable, dbar->page_align);

    /* Below the mmap, which upstream attached at priority 0 */
    name = g_strdup_printf("%s BAR %d trap", vdev->vbasedev.name, nr);
    dbar->trap = g_new0(MemoryRegion, 1);
    memory_region_init_io(dbar->trap, OBJECT(vdev), &vfio_direct_trap_ops,
                          bar, name, page_size);
    memory_region_add_subregion_overlap(bar->region.mem, 0, dbar->trap, -1);
    if (granted) {
        memory_region_del_subregion(bar->region.mem, &bar->region.mmaps[0].mem);
    }
    if (dbar->page_align) {
        memory_region_set_size(bar->mr, page_size);
        memory_region_set_size(bar->region.mem, page_size);
    }
}

/*
 * How much of the bus address space @sub takes: a BAR as big as the guest
 * sized it, not as big as vfio-direct may have grown its container, so a
 * grown neighbour that is about to shrink does not count as sharing.
 */
static uint64_t vfio_direct_subpage_sized(MemoryRegion *sub)
{
    PCIDevice *pdev = (PCIDevice *)object_dynamic_cast(sub->owner,
                                                        TYPE_PCI_DEVICE);
    int i;

    for (i = 0; pdev && i < PCI_NUM_REGIONS; i++) {
        if (pdev->io_regions[i].memory == sub) {
            return pdev->io_regions[i].size;
        }
    }
    return memory_region_size(sub);
}

/* Does anything but this BAR live in the host page at @addr? */
static bool vfio_direct_subpage_page_shared(VFIOPCIDevice *vdev, int nr,
                                            uint64_t addr, uint64_t page_size)
{
    MemoryRegion *space = vdev->pdev.io_regions[nr].address_space;
    MemoryRegion *sub;

    QTAILQ_FOREACH(sub, &space->subregions, subregions_link) {
        if (sub != vdev->bars[nr].mr && sub->enabled &&
            ranges_overlap(sub->addr, vfio_direct_subpage_sized(sub),
                           addr, page_size)) {
            return true;
        }
    }
    return false;
}

VfioSubpageState vfio_direct_subpage_state(VFIOPCIDevice *vdev, int nr)
{
    VFIOBAR *bar = &vdev->bars[nr];
    uint64_t addr = vdev->pdev.io_regions[nr].addr;
    uint64_t page_size = qemu_real_host_page_size();
    bool shared;

    if (!vdev->direct.bars[nr].trap) {
        return VFIO_SUBPAGE_STATE_NOT_SUBPAGE;
    }
    shared = addr != PCI_BAR_UNMAPPED &&
             vfio_direct_subpage_page_shared(vdev, nr, addr, page_size);
    return vfio_direct_subpage_plan(addr, bar->size, page_size,
                                    vfio_direct_subpage_mmap_granted(bar),
                                    shared, !QLIST_EMPTY(&bar->quirks));
}

static void vfio_direct_subpage_warn(VFIOPCIDevice *vdev, int nr)
{
    VFIODirectBar *dbar = &vdev->direct.bars[nr];
    uint64_t addr = vdev->pdev.io_regions[nr].addr;
    uint64_t size = vdev->bars[nr].size;
    const char *name = vdev->vbasedev.name;

    if (dbar->warned & BIT(dbar->state)) {
        return;
    }
    dbar->warned |= BIT(dbar->state);

    switch (dbar->state) {
    case VFIO_SUBPAGE_STATE_UNALIGNED:
        warn_report("vfio %s: BAR %d (%" PRIu64 " bytes) is trapped: the "
                    "guest placed it at 0x%" PRIx64 ", not on a host page "
                    "boundary; set x-bar-page-align=on", name, nr, size, addr);
        break;
    case VFIO_SUBPAGE_STATE_NO_MMAP:
        if (!vdev->vbasedev.no_mmap) {
            warn_report("vfio %s: BAR %d (%" PRIu64 " bytes) is trapped: "
                        "the kernel does not allow mmap of its host page "
                        "(the page holds another device's resources); "
                        "boot the host with "
                        "pci=resource_alignment=keepsize:%s (vfio-direct's "
                        "kernel series)", name, nr, size, name);
        }
        break;
    case VFIO_SUBPAGE_STATE_PAGE_SHARED:
        if (dbar->page_align) {
            warn_report("vfio %s: BAR %d (%" PRIu64 " bytes) is trapped: the "
                        "guest placed another region in its host page at "
                        "0x%" PRIx64, name, nr, size, addr);
        } else {
            warn_report("vfio %s: BAR %d (%" PRIu64 " bytes) is trapped: "
                        "another region shares its host page at 0x%" PRIx64
                        "; set x-bar-page-align=on", name, nr, size, addr);
        }
        break;
    default:
        break;
    }
}

/* Bring the regions of BAR @nr to @layout; nothing changes if they are. */
static void vfio_direct_subpage_apply(VFIOPCIDevice *vdev, int nr,
                                      const VFIODirectSubpageLayout *layout)
{
    VFIOBAR *bar = &vdev->bars[nr];
    VFIORegion *region = &bar->region;
    PCIIORegion *r = &vdev->pdev.io_regions[nr];

    memory_region_set_size(region->mem, layout->region_size);
    /* mmaps is NULL when the kernel granted none */
    if (vfio_direct_subpage_mmap_granted(bar)) {
        MemoryRegion *mmap_mr = &region->mmaps[0].mem;

        if (layout->mmap_size) {
            memory_region_set_size(mmap_mr, layout->mmap_size);
            if (!mmap_mr->container) {
                memory_region_add_subregion(region->mem, 0, mmap_mr);
            }
        } else if (mmap_mr->container) {
            memory_region_del_subregion(region->mem, mmap_mr);
        }
    }

    if (memory_region_size(bar->mr) != layout->container_size ||
        (bar->mr->container &&
         bar->mr->priority != layout->container_priority)) {
        memory_region_set_size(bar->mr, layout->container_size);
        if (bar->mr->container) {
            memory_region_del_subregion(r->address_space, bar->mr);
            memory_region_add_subregion_overlap(r->address_space, r->addr,
                                                bar->mr,
                                                layout->container_priority);
        }
    }
}

static void vfio_direct_subpage_update_device(VFIOPCIDevice *vdev)
{
    uint64_t page_size = qemu_real_host_page_size();
    int nr;

    for (nr = 0; nr < PCI_ROM_SLOT; nr++) {
        VFIODirectBar *dbar = &vdev->direct.bars[nr];
        VFIODirectSubpageLayout layout;
        VfioSubpageState state;

        if (!dbar->trap) {
            continue;
        }
        state = vfio_direct_subpage_state(vdev, nr);
        layout = vfio_direct_subpage_layout(state, vdev->bars[nr].size,
                                            page_size, dbar->page_align);
        vfio_direct_subpage_apply(vdev, nr, &layout);
        if (state != dbar->state) {
            trace_vfio_direct_subpage_update(vdev->vbasedev.name, nr,
                                             vdev->pdev.io_regions[nr].addr,
                                             VfioSubpageState_str(state));
        }
        dbar->state = state;
        vfio_direct_subpage_warn(vdev, nr);
    }
}

/*
 * Re-evaluate the sub-page BARs of every realized vfio-pci device.  A
 * device being unplugged is no longer realized: its regions are being
 * torn down, and re-adding them would keep it alive.
 */
static void vfio_direct_subpage_update(void)
{
    VFIODevice *vbasedev;

    memory_region_transaction_begin();
    QLIST_FOREACH(vbasedev, &vfio_device_list, global_next) {
        if (vbasedev->type == VFIO_DEVICE_TYPE_PCI &&
            qatomic_read(&vbasedev->dev->realized)) {
            vfio_direct_subpage_update_device(container_of(vbasedev,
                                                           VFIOPCIDevice,
                                                           vbasedev));
        }
    }
    memory_region_transaction_commit();
}

/* A config write that may change BAR mappings: one memory transaction. */
void vfio_direct_write_config(VFIOPCIDevice *vdev, uint32_t addr,
                              uint32_t val, int len)
{
    memory_region_transaction_begin();
    pci_default_write_config(&vdev->pdev, addr, val, len);
    vfio_direct_subpage_update();
    memory_region_transaction_commit();
}

void vfio_direct_subpage_load_failed(VFIOPCIDevice *vdev)
{
    int nr;

    for (nr = 0; nr < PCI_ROM_SLOT; nr++) {
        if (vdev->direct.bars[nr].trap) {
            error_report("vfio %s: if the source ran with another "
                         "x-bar-page-align for this device, start this side "
                         "with the same value", vdev->vbasedev.name);
            return;
        }
    }
}

/* Reset unmaps the device's BARs, which may free a neighbour's page. */
static ResettablePhases vfio_direct_parent_phases;

static void vfio_direct_subpage_reset_exit(Object *obj, ResetType type)
{
    if (vfio_direct_parent_phases.exit) {
        vfio_direct_parent_phases.exit(obj, type);
    }
    vfio_direct_subpage_update();
}

void vfio_direct_subpage_class_init(ObjectClass *klass)
{
    resettable_class_set_parent_phases(RESETTABLE_CLASS(klass), NULL, NULL,
                                       vfio_direct_subpage_reset_exit,
                                       &vfio_direct_parent_phases);
}

bool vfio_direct_subpage_trap_range(VFIOPCIDevice *vdev, int nr,
                                    MemoryRegion *mr, uint64_t offset,
                                    uint64_t size, VfioBarRangeReason *reason,
                                    uint64_t *len)
{
    VFIOBAR *bar = &vdev->bars[nr];

    if (!mr || mr != vdev->direct.bars[nr].trap) {
        return false;
    }
    if (offset >= bar->size) {
        *reason = VFIO_BAR_RANGE_REASON_PADDING;
        *len = size;
    } else {
        *reason = vfio_direct_trap_uses_mmap(bar) ?
                  VFIO_BAR_RANGE_REASON_MMAP : VFIO_BAR_RANGE_REASON_DEVICE_FD;
        *len = MIN(size, bar->size - offset);
    }
    return true;
}

/* Leave the regions as upstream's teardown expects them. */
void vfio_direct_subpage_bar_exit(VFIOPCIDevice *vdev, int nr)
{
    VFIODirectBar *dbar = &vdev->direct.bars[nr];
    VFIOBAR *bar = &vdev->bars[nr];

    if (!dbar->trap) {
        return;
    }
    memory_region_del_subregion(bar->region.mem, dbar->trap);
    /* mmaps is NULL when the kernel granted none */
    if (vfio_direct_subpage_mmap_granted(bar) &&
        !bar->region.mmaps[0].mem.container) {
        memory_region_add_subregion(bar->region.mem, 0,
                                    &bar->region.mmaps[0].mem);
    }
}

void vfio_direct_subpage_bar_finalize(VFIOPCIDevice *vdev, int nr)
{
    VFIODirectBar *dbar = &vdev->direct.bars[nr];

    if (dbar->trap) {
        object_unparent(OBJECT(dbar->trap));
        g_free(dbar->trap);
        dbar->trap = NULL;
    }
}
