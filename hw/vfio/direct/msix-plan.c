/*
 * vfio-direct: decisions for MSI-X structures in BARs
 *
 * Pure functions, unit-tested in tests/unit/test-vfio-direct-msix.c;
 * msix.c applies them to vfio-pci.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <linux/vfio.h>
#include "qemu/units.h"
#include "hw/pci/pci_regs.h"
#include "msix-plan.h"

/* PCI_ROM_SLOT: the six BAR slots */
#define VFIO_DIRECT_MSIX_SLOTS 6

VFIODirectMsixPolicy vfio_direct_msix_policy(OnOffAuto setting,
                                             bool firmware_msi)
{
    switch (setting) {
    case ON_OFF_AUTO_ON:
        return VFIO_DIRECT_MSIX_EMULATE;
    case ON_OFF_AUTO_OFF:
        return firmware_msi ? VFIO_DIRECT_MSIX_PASS : VFIO_DIRECT_MSIX_REFUSED;
    default:
        return firmware_msi ? VFIO_DIRECT_MSIX_PASS : VFIO_DIRECT_MSIX_EMULATE;
    }
}

uint64_t vfio_direct_msix_table_size(unsigned entries)
{
    return (uint64_t)entries * PCI_MSIX_ENTRY_SIZE;
}

uint64_t vfio_direct_msix_pba_size(unsigned entries)
{
    return DIV_ROUND_UP(entries, 64) * 8;
}

void vfio_direct_msix_page_span(uint64_t offset, uint64_t size,
                                uint64_t bar_size, uint64_t page_size,
                                uint64_t *start, uint64_t *end)
{
    if (!size || offset >= bar_size) {
        *start = *end = 0;
        return;
    }
    *start = QEMU_ALIGN_DOWN(offset, page_size);
    *end = MIN(QEMU_ALIGN_UP(offset + size, page_size),
               QEMU_ALIGN_UP(bar_size, page_size));
}

unsigned vfio_direct_msix_carve(const VFIODirectArea *in, unsigned n,
                                uint64_t hole_offset, uint64_t hole_size,
                                uint64_t page_size, VFIODirectArea *out)
{
    uint64_t start, end;
    unsigned i, count = 0;

    if (!hole_size) {
        memcpy(out, in, n * sizeof(*in));
        return n;
    }
    start = QEMU_ALIGN_DOWN(hole_offset, page_size);
    end = QEMU_ALIGN_UP(hole_offset + hole_size, page_size);

    for (i = 0; i < n; i++) {
        uint64_t a_start = in[i].offset, a_end = in[i].offset + in[i].size;

        if (a_end <= start || a_start >= end) {
            out[count++] = in[i];
            continue;
        }
        if (a_start < start) {
            out[count].offset = a_start;
            out[count++].size = start - a_start;
        }
        if (a_end > end) {
            out[count].offset = end;
            out[count++].size = a_end - end;
        }
    }
    return count;
}

static bool vfio_direct_msix_slot_unused(const VFIODirectMsixSlot *slots,
                                         int i)
{
    return !slots[i].size && !(i > 0 && slots[i - 1].mem64);
}

int vfio_direct_msix_relocation_target(const VFIODirectMsixSlot *slots,
                                       bool *new_bar)
{
    int i, best = -1;

    *new_bar = true;
    for (i = 0; i < VFIO_DIRECT_MSIX_SLOTS - 1; i++) {
        if (vfio_direct_msix_slot_unused(slots, i) && !slots[i + 1].size) {
            return i;
        }
    }
    for (i = 0; i < VFIO_DIRECT_MSIX_SLOTS; i++) {
        if (vfio_direct_msix_slot_unused(slots, i)) {
            return i;
        }
    }

    *new_bar = false;
    for (i = 0; i < VFIO_DIRECT_MSIX_SLOTS; i++) {
        if (!slots[i].size || slots[i].ioport ||
            (!slots[i].mem64 && slots[i].size > 1 * GiB)) {
            continue;
        }
        if (best < 0 || slots[i].size < slots[best].size) {
            best = i;
        }
    }
    return best;
}

bool vfio_direct_msix_mappable_answer(bool cap, uint32_t flags,
                                      unsigned nr_mmaps,
                                      const char **why)
{
    *why = NULL;
    if (!cap) {
        return false;
    }
    if (!(flags & VFIO_REGION_INFO_FLAG_MMAP)) {
        *why = "the kernel reports MSIX_MAPPABLE on a region it does not "
               "allow to mmap; the table's pages stay trapped";
        return false;
    }
    return nr_mmaps > 0;
}

VfioMsiIsolation vfio_direct_msix_isolation(bool mappable, bool kernel_span,
                                            int unsafe_interrupts)
{
    if (unsafe_interrupts == 0) {
        return VFIO_MSI_ISOLATION_VFIO;
    }
    if (mappable && kernel_span) {
        return VFIO_MSI_ISOLATION_KERNEL;
    }
    return VFIO_MSI_ISOLATION_UNKNOWN;
}

bool vfio_direct_msix_old_table_direct(VfioMsiIsolation isolation,
                                       bool mappable, bool mmap_ok)
{
    return isolation != VFIO_MSI_ISOLATION_UNKNOWN && (mappable || mmap_ok);
}
