/*
 * vfio-direct: decisions for MSI-X structures in BARs
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_MSIX_PLAN_H
#define HW_VFIO_DIRECT_MSIX_PLAN_H

#include "qapi/qapi-types-common.h"
#include "qapi/qapi-types-vfio-direct.h"

/* How the guest reaches a device's MSI-X table */
typedef enum VFIODirectMsixPolicy {
    VFIO_DIRECT_MSIX_EMULATE,   /* QEMU emulates the table */
    VFIO_DIRECT_MSIX_PASS,      /* the guest reaches the device's table */
    VFIO_DIRECT_MSIX_REFUSED,   /* "off" where the machine needs emulation */
} VFIODirectMsixPolicy;

/*
 * The policy for x-msix-emulation=@setting on a machine that programs MSI
 * through firmware calls (@firmware_msi: pseries, whose guests never
 * write MSI addresses into the table) or not (q35, pc: the guest writes
 * guest addresses, which must never reach the device).
 */
VFIODirectMsixPolicy vfio_direct_msix_policy(OnOffAuto setting,
                                             bool firmware_msi);

/* Bytes of the table and of the PBA of @entries vectors */
uint64_t vfio_direct_msix_table_size(unsigned entries);
uint64_t vfio_direct_msix_pba_size(unsigned entries);

/*
 * The host pages that hold [@offset, @offset + @size) of a BAR, clipped
 * to the BAR's @bar_size bytes: [*start, *end).  Empty (*start == *end)
 * when @size is 0 or the range lies past the BAR.
 */
void vfio_direct_msix_page_span(uint64_t offset, uint64_t size,
                                uint64_t bar_size, uint64_t page_size,
                                uint64_t *start, uint64_t *end);

/* An mmap area of a region: @size bytes at @offset */
typedef struct VFIODirectArea {
    uint64_t offset;
    uint64_t size;
} VFIODirectArea;

/*
 * Carve the host pages that hold [@hole_offset, @hole_offset +
 * @hole_size) out of the @n areas @in, in order, into @out (room for
 * @n + 1 areas: cutting one area in two adds one).  Returns the number
 * of areas written.  Areas that do not touch the hole are kept as they
 * are; what is left of an area is whole host pages on the hole's side.
 */
unsigned vfio_direct_msix_carve(const VFIODirectArea *in, unsigned n,
                                uint64_t hole_offset, uint64_t hole_size,
                                uint64_t page_size, VFIODirectArea *out);

/* A BAR slot as MSI-X relocation sees it */
typedef struct VFIODirectMsixSlot {
    uint64_t size;              /* 0: unused, or the upper half of mem64 */
    bool ioport;
    bool mem64;
} VFIODirectMsixSlot;

/*
 * Where x-msix-relocation=auto puts the MSI-X structures of a device
 * whose BARs are @slots[0..5]: the first unused slot that can hold a
 * new 64-bit BAR (the next slot is unused too), else the first unused
 * slot (32-bit), else the smallest memory BAR that can double (a 32-bit
 * BAR up to 1 GiB, any 64-bit BAR).  Returns the slot, or -1 when no
 * slot can take them.  Sets *@new_bar when the slot is unused.
 */
int vfio_direct_msix_relocation_target(const VFIODirectMsixSlot *slots,
                                       bool *new_bar);

/*
 * Does the kernel let the table's BAR be mapped whole?  Only if it says
 * so (@cap: VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) on a region it lets us
 * map (@flags has MMAP) and that we do map (@nr_mmaps: the areas left
 * after every check).  A capability on a region without MMAP is odd:
 * false, with *@why saying so for the user; else *@why is NULL.
 */
bool vfio_direct_msix_mappable_answer(bool cap, uint32_t flags,
                                      unsigned nr_mmaps,
                                      const char **why);

/*
 * Is the host known to isolate the device's MSIs, so that the guest may
 * reach its MSI-X table?  @unsafe_interrupts: vfio's
 * allow_unsafe_interrupts for the device's backend (1 on, 0 off, -1 not
 * known, as for a backend without one); off means the kernel took the
 * group only with isolated MSI.  Else @mappable (the kernel reports
 * MSIX_MAPPABLE) with @kernel_span (it reports MMAP_SPAN on a sub-page
 * BAR: the vfio-direct kernel series, which reports MSIX_MAPPABLE only
 * with isolated MSI).  Stock kernels report MSIX_MAPPABLE regardless,
 * so MSIX_MAPPABLE alone proves nothing.
 */
VfioMsiIsolation vfio_direct_msix_isolation(bool mappable, bool kernel_span,
                                            int unsafe_interrupts);

/*
 * After x-msix-relocation moved an emulated table away, may the host
 * pages it leaves behind be direct?  Only with MSI isolation known, and
 * only where the kernel lets them be mapped (@mappable, or @mmap_ok: a
 * trial mmap of those pages worked).  Otherwise they trap, and the
 * guest's writes never reach the device's table.
 */
bool vfio_direct_msix_old_table_direct(VfioMsiIsolation isolation,
                                       bool mappable, bool mmap_ok);

#endif /* HW_VFIO_DIRECT_MSIX_PLAN_H */
