/*
 * vfio-direct: MSI-X tables emulated only where the platform needs it
 *
 * Where the guest programs MSI-X vectors by writing addresses into the
 * table (q35, pc), QEMU must emulate the table: guest addresses mean
 * nothing to the host, so the guest must never write the device's own.
 * Where the machine programs MSI through firmware calls (pseries, RTAS
 * ibm,change-msi), nothing needs the emulation, and the BAR that holds
 * the table can be direct in full.  x-msix-emulation chooses per device;
 * "auto" follows the machine's vfio-no-msix-emulation.
 *
 * Emulated, the table's host pages trap, and with them every register
 * that shares them; the PBA traps only while a masked vector is pending
 * (upstream's rule).  x-msix-relocation moves the table into a BAR of
 * its own, so that the old one becomes direct; "auto" picks an unused
 * BAR slot, else the smallest BAR that can double.
 *
 * When the kernel does not report VFIO_REGION_INFO_CAP_MSIX_MAPPABLE
 * (older kernels, or the kernel series' isolated-MSI policy), the table's
 * host pages are carved out of the BAR's mmap, after relocation, so a
 * table moved elsewhere leaves no hole where the kernel lets us map it.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/mman.h>
#include <linux/vfio.h>
#include "qapi/error.h"
#include "qom/object.h"
#include "hw/boards.h"
#include "hw/pci/msix.h"
#include "hw/vfio/pci.h"
#include "msix-plan.h"
#include "region-info.h"
#include "trace.h"

bool vfio_direct_msix_realize(VFIOPCIDevice *vdev, Error **errp)
{
    VFIODirectMsix *msix = &vdev->direct.msix;
    Object *machine = qdev_get_machine();
    bool firmware_msi = object_property_get_bool(machine,
                                                 "vfio-no-msix-emulation",
                                                 NULL);

    /* property-check.c refused every conflict before the device opened */
    msix->emulated = vfio_direct_msix_policy(msix->emulation, firmware_msi) !=
                     VFIO_DIRECT_MSIX_PASS;
    trace_vfio_direct_msix_policy(vdev->vbasedev.name,
                                  OnOffAuto_str(msix->emulation),
                                  firmware_msi, msix->emulated);
    return true;
}

bool vfio_direct_msix_emulated(VFIOPCIDevice *vdev)
{
    return vdev->direct.msix.emulated;
}

/*
 * Does the kernel let the table's BAR be mapped whole?  The capability
 * counts only on a region that can be mapped at all and is, and only
 * from a chain that is safe to walk (region-info.c).
 */
static bool vfio_direct_msix_mappable(VFIOPCIDevice *vdev, int nr)
{
    VFIORegion *region = &vdev->bars[nr].region;
    const char *odd;
    bool mappable;

    if (vdev->direct.msix.hide_mappable || !region->size) {
        return false;
    }
    mappable = vfio_direct_msix_mappable_answer(
        vfio_direct_region_cap(vdev, region->nr,
                               VFIO_REGION_INFO_CAP_MSIX_MAPPABLE),
        region->flags, region->nr_mmaps, &odd);
    if (odd) {
        warn_report("vfio %s: BAR %d: %s", vdev->vbasedev.name, nr, odd);
    }
    return mappable;
}

/*
 * vfio's allow_unsafe_interrupts for @vdev's backend: 1 on, 0 off, -1
 * when the backend has none (sPAPR, no-IOMMU) or it cannot be read.
 * Off, the kernel refused any IOMMU group without isolated MSI.
 */
static int vfio_direct_msix_unsafe_interrupts(VFIOPCIDevice *vdev)
{
    VFIOContainerBase *bc = vdev->vbasedev.bcontainer;
    g_autofree char *val = NULL;
    const char *param;

    if (vdev->vbasedev.iommufd) {
        param = "/sys/module/iommufd/parameters/allow_unsafe_interrupts";
    } else if (bc && object_dynamic_cast(OBJECT(bc), TYPE_VFIO_IOMMU_LEGACY) &&
               (container_of(bc, VFIOContainer, bcontainer)->iommu_type ==
                    VFIO_TYPE1v2_IOMMU ||
                container_of(bc, VFIOContainer, bcontainer)->iommu_type ==
                    VFIO_TYPE1_IOMMU)) {
        param = "/sys/module/vfio_iommu_type1/parameters/"
                "allow_unsafe_interrupts";
    } else {
        return -1;
    }
    if (!g_file_get_contents(param, &val, NULL, NULL)) {
        return -1;
    }
    return val[0] == 'Y' || val[0] == '1';
}

/* Does the kernel report MMAP_SPAN (vfio-direct's series) on any BAR? */
static bool vfio_direct_msix_kernel_span(VFIOPCIDevice *vdev)
{
    for (int nr = 0; nr < PCI_ROM_SLOT; nr++) {
        if (vdev->bars[nr].region.size &&
            vfio_direct_region_cap(vdev, vdev->bars[nr].region.nr,
                                   VFIO_REGION_INFO_CAP_MMAP_SPAN)) {
            return true;
        }
    }
    return false;
}

bool vfio_direct_msix_prepare_relocation(VFIOPCIDevice *vdev)
{
    VFIODirectMsix *msix = &vdev->direct.msix;
    int unsafe;
    bool span;

    if (!vdev->msix) {
        return false;
    }
    msix->native_bar = vdev->msix->table_bar;
    msix->native_offset = vdev->msix->table_offset;
    msix->mappable = vfio_direct_msix_mappable(vdev, msix->native_bar);
    msix->relocated = msix->emulated &&
                      vdev->msix_relo != OFF_AUTO_PCIBAR_OFF;
    msix->isolation = VFIO_MSI_ISOLATION_UNKNOWN;
    if (msix->emulated) {
        unsafe = vfio_direct_msix_unsafe_interrupts(vdev);
        span = vfio_direct_msix_kernel_span(vdev);
        msix->isolation = vfio_direct_msix_isolation(msix->mappable, span,
                                                     unsafe);
        trace_vfio_direct_msix_isolation(vdev->vbasedev.name, unsafe, span,
                                         VfioMsiIsolation_str(
                                             msix->isolation));
    }
    return msix->relocated;
}

/*
 * Do the host pages of the native table trap after relocation, however
 * the kernel lets them be mapped?  Yes unless MSI isolation is known.
 */
static bool vfio_direct_msix_old_pages_trap(VFIODirectMsix *msix)
{
    return msix->relocated &&
           !vfio_direct_msix_old_table_direct(msix->isolation, true, true);
}

int vfio_direct_msix_relocation_auto(VFIOPCIDevice *vdev, Error **errp)
{
    VFIODirectMsixSlot slots[PCI_ROM_SLOT];
    bool new_bar;
    int i, target;

    for (i = 0; i < PCI_ROM_SLOT; i++) {
        slots[i].size = vdev->bars[i].size;
        slots[i].ioport = vdev->bars[i].ioport;
        slots[i].mem64 = vdev->bars[i].mem64;
    }
    target = vfio_direct_msix_relocation_target(slots, &new_bar);
    if (target < 0) {
        error_setg(errp, "x-msix-relocation=auto: no unused BAR slot and no "
                   "memory BAR that can double in size; choose one with "
                   "x-msix-relocation=barN or turn relocation off");
        return -1;
    }
    vdev->direct.msix.relocation_auto = true;
    trace_vfio_direct_msix_relocation_auto(vdev->vbasedev.name,
                                           vdev->msix->table_bar, target,
                                           new_bar);
    return target;
}

/* Can the host pages [start, end) of BAR @nr be mapped?  Ask the kernel. */
static bool vfio_direct_msix_mmap_probe(VFIOPCIDevice *vdev, int nr,
                                        uint64_t start, uint64_t end)
{
    VFIORegion *region = &vdev->bars[nr].region;
    void *map = mmap(NULL, end - start, PROT_READ | PROT_WRITE, MAP_SHARED,
                     vdev->vbasedev.fd, region->fd_offset + start);
    bool ok = map != MAP_FAILED;

    if (ok) {
        munmap(map, end - start);
    }
    trace_vfio_direct_msix_mmap_probe(vdev->vbasedev.name, nr, start, end, ok);
    return ok;
}

void vfio_direct_msix_fixup_region(VFIOPCIDevice *vdev)
{
    VFIODirectMsix *msix = &vdev->direct.msix;
    uint64_t page_size = qemu_real_host_page_size();
    int nr = msix->native_bar;
    VFIORegion *region = &vdev->bars[nr].region;
    uint64_t table_size = vfio_direct_msix_table_size(vdev->msix->entries);
    g_autofree VFIODirectArea *in = NULL;
    g_autofree VFIODirectArea *out = NULL;
    uint64_t start, end;
    unsigned i, n;

    /*
     * In place, the table's pages trap where the kernel keeps them from
     * us; moved away, unless MSI isolation is known (msix-plan.c).
     */
    if (!region->nr_mmaps ||
        (msix->relocated ?
         vfio_direct_msix_old_table_direct(msix->isolation, msix->mappable,
                                           false) :
         msix->mappable)) {
        return;
    }
    vfio_direct_msix_page_span(msix->native_offset, table_size, region->size,
                               page_size, &start, &end);
    if (start == end ||
        (msix->relocated &&
         vfio_direct_msix_old_table_direct(msix->isolation, false, true) &&
         vfio_direct_msix_mmap_probe(vdev, nr, start, end))) {
        return;
    }

    in = g_new(VFIODirectArea, region->nr_mmaps);
    out = g_new(VFIODirectArea, region->nr_mmaps + 1);
    for (i = 0; i < region->nr_mmaps; i++) {
        in[i].offset = region->mmaps[i].offset;
        in[i].size = region->mmaps[i].size;
    }
    n = vfio_direct_msix_carve(in, region->nr_mmaps, start, end - start,
                               page_size, out);
    trace_vfio_direct_msix_carve(vdev->vbasedev.name, nr, start, end,
                                 region->nr_mmaps, n);

    g_free(region->mmaps);
    region->mmaps = n ? g_new0(VFIOMmap, n) : NULL;
    region->nr_mmaps = n;
    for (i = 0; i < n; i++) {
        region->mmaps[i].offset = out[i].offset;
        region->mmaps[i].size = out[i].size;
    }
}

void vfio_direct_msix_setup(VFIOPCIDevice *vdev)
{
    if (!vdev->direct.msix.emulated) {
        memory_region_set_enabled(&vdev->pdev.msix_table_mmio, false);
    }
}

/* The host pages of BAR @nr that hold the table, while they trap */
static bool vfio_direct_msix_table_pages(VFIOPCIDevice *vdev, int nr,
                                         uint64_t *start, uint64_t *end)
{
    VFIODirectMsix *msix = &vdev->direct.msix;
    uint64_t page_size = qemu_real_host_page_size();

    if (vdev->msix->table_bar == nr && msix->emulated) {
        vfio_direct_msix_page_span(vdev->msix->table_offset,
                                   vfio_direct_msix_table_size(
                                       vdev->msix->entries),
                                   vdev->bars[nr].size, page_size,
                                   start, end);
        return true;
    }
    if (msix->native_bar == nr &&
        (!msix->mappable || vfio_direct_msix_old_pages_trap(msix))) {
        /* Carved out, or not: the ranges show which */
        vfio_direct_msix_page_span(msix->native_offset,
                                   vfio_direct_msix_table_size(
                                       vdev->msix->entries),
                                   vdev->bars[nr].region.size, page_size,
                                   start, end);
        return true;
    }
    return false;
}

VfioBarRangeReason vfio_direct_msix_trap_reason(VFIOPCIDevice *vdev, int nr,
                                                uint64_t offset,
                                                uint64_t size,
                                                VfioBarRangeReason reason)
{
    uint64_t page_size = qemu_real_host_page_size();
    uint64_t start, end;

    if (!vdev->msix || (reason != VFIO_BAR_RANGE_REASON_PARTIAL_PAGE &&
                        reason != VFIO_BAR_RANGE_REASON_DEVICE_FD)) {
        return reason;
    }
    if (vfio_direct_msix_table_pages(vdev, nr, &start, &end) &&
        offset >= start && offset + size <= end) {
        return VFIO_BAR_RANGE_REASON_MSIX_TABLE;
    }
    if (vdev->msix->pba_bar == nr &&
        memory_region_is_mapped(&vdev->pdev.msix_pba_mmio) &&
        vdev->pdev.msix_pba_mmio.enabled) {
        vfio_direct_msix_page_span(vdev->msix->pba_offset,
                                   vfio_direct_msix_pba_size(
                                       vdev->msix->entries),
                                   vdev->bars[nr].size, page_size,
                                   &start, &end);
        if (offset >= start && offset + size <= end) {
            return VFIO_BAR_RANGE_REASON_MSIX_PBA;
        }
    }
    return reason;
}

VfioMsixInfo *vfio_direct_msix_query(VFIOPCIDevice *vdev)
{
    VFIODirectMsix *msix = &vdev->direct.msix;
    VfioMsixInfo *info;
    uint64_t start, end;

    if (!vdev->msix) {
        return NULL;
    }
    info = g_new0(VfioMsixInfo, 1);
    info->entries = vdev->msix->entries;
    info->table_bar = vdev->msix->table_bar;
    info->table_offset = vdev->msix->table_offset;
    info->pba_bar = vdev->msix->pba_bar;
    info->pba_offset = vdev->msix->pba_offset;
    info->emulated = msix->emulated;
    info->mappable = msix->mappable;
    info->has_msi_isolation = msix->emulated;
    info->msi_isolation = msix->isolation;
    info->has_relocated_from = msix->relocated;
    info->relocated_from = msix->native_bar;
    info->relocation_auto = msix->relocation_auto;
    if (!msix->relocated && msix->emulated &&
        vfio_direct_msix_table_pages(vdev, info->table_bar, &start, &end)) {
        info->table_page_shared = end - start -
            vfio_direct_msix_table_size(info->entries);
    }
    return info;
}

void vfio_direct_msix_class_init(ObjectClass *klass)
{
    object_class_property_set_description(klass, /* vfio-direct 1 */
                                          "x-msix-emulation",
                                          "Emulate the MSI-X table (auto: "
                                          "not on machines that program MSI "
                                          "through firmware, like pseries, "
                                          "so that its BAR can be direct; "
                                          "off is refused elsewhere)");
    object_class_property_set_description(klass, /* vfio-direct 1 */
                                          "x-msix-hide-mappable",
                                          "Test knob: act as if the kernel "
                                          "did not let the MSI-X table be "
                                          "mapped (carve its pages out)");
}
