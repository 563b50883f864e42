/*
 * vfio-direct: the DMA planner (pure logic, no QEMU state)
 *
 * Given what the IOMMU holds (the mappings we made) and what guest RAM
 * should be mapped now (the flat view's RAM sections), plan the fewest
 * MAP_DMA/UNMAP_DMA calls that get there without ever unmapping part of
 * a mapping: type1 v2 only unmaps whole mappings.  See "DMA in large
 * chunks" in docs/devel/vfio-direct.rst for the split rule.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_DMA_PLAN_H
#define HW_VFIO_DIRECT_DMA_PLAN_H

#include "qemu/int128.h"
#include "qemu/units.h"

/* A range of guest RAM at @iova, host address @hva, from block @block. */
typedef struct VFIODirectDmaRange {
    uint64_t iova;
    uint64_t size;
    uint64_t hva;
    uint64_t block;             /* RAM block: mappings never span two */
    bool readonly;
} VFIODirectDmaRange;

typedef struct VFIODirectDmaPlanConfig {
    /*
     * The legacy window [low_start, low_end): where chipsets reroute
     * RAM at run time (PAM, SMRAM, VGA on PC machines).  Mappings never
     * cross its edges, and inside it never span two sections.
     */
    uint64_t low_start;
    uint64_t low_end;
    /* Mappings the kernel still allows (DMA_AVAIL now), -1: unknown */
    int64_t dma_avail;
} VFIODirectDmaPlanConfig;

#define VFIO_DIRECT_DMA_LOW_START 0xa0000ULL
#define VFIO_DIRECT_DMA_LOW_END   0x100000ULL
/*
 * The most sections PC chipsets cut the window into: VGA/SMRAM at
 * [0xa0000, 0xc0000) as one, twelve 16 KiB PAM segments up to 0xf0000
 * and one of 64 KiB up to 1 MiB.  Inside the window every section is
 * its own mapping, so it never needs more mappings than that.
 */
#define VFIO_DIRECT_DMA_WINDOW_MAX 14

typedef struct VFIODirectDmaPlan {
    GArray *unmap;              /* of guint: indexes of mappings to drop */
    GArray *map;                /* of VFIODirectDmaRange: new mappings */
    uint64_t map_bytes;         /* sum of @map sizes */
    uint32_t in_use;            /* mappings once the plan is applied */
    uint32_t incongruent_2m;    /* new mappings >= 2 MiB, iova != hva mod 2M */
    uint32_t incongruent_1g;    /* new mappings >= 1 GiB, iova != hva mod 1G */
    /*
     * Mappings the window may still need beyond those it has once the
     * plan is applied: VFIO_DIRECT_DMA_WINDOW_MAX less those, when RAM is
     * wanted in the window; 0 otherwise.
     */
    uint32_t window_reserve;
    bool fits;                  /* within dma_avail */
} VFIODirectDmaPlan;

/*
 * Plan the change from @mapped (the mappings the IOMMU holds, sorted by
 * iova, disjoint) to @want (RAM sections to map, sorted by iova,
 * disjoint).  A mapping is kept only when @want still covers every byte
 * of it with the same host address, block and permission; otherwise it
 * is unmapped whole and what @want still needs of it is mapped again.
 * Returns @plan->fits; free the plan with vfio_direct_dma_plan_free().
 */
bool vfio_direct_dma_plan(const VFIODirectDmaPlanConfig *cfg,
                          const VFIODirectDmaRange *mapped, size_t n_mapped,
                          const VFIODirectDmaRange *want, size_t n_want,
                          VFIODirectDmaPlan *plan);
void vfio_direct_dma_plan_free(VFIODirectDmaPlan *plan);

/*
 * The mappings of @mapped (sorted by iova, disjoint, none empty) that
 * share a byte with [@start, @start + @size): returns the index of the
 * first and sets *@count.  @size is an Int128 because an IOMMU section
 * may span all of the 64-bit space (2^64 bytes), or end at 2^64.
 */
size_t vfio_direct_dma_plan_overlap(const VFIODirectDmaRange *mapped,
                                    size_t n_mapped, uint64_t start,
                                    Int128 size, size_t *count);

/* Is the mapping congruent (iova == hva) modulo @align? */
static inline bool vfio_direct_dma_congruent(const VFIODirectDmaRange *r,
                                             uint64_t align)
{
    return ((r->iova ^ r->hva) & (align - 1)) == 0;
}

#endif /* HW_VFIO_DIRECT_DMA_PLAN_H */
