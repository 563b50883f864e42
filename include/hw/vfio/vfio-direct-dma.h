/*
 * vfio-direct: guest RAM to the IOMMU in large chunks (hooks)
 *
 * What upstream's vfio memory listener and container call into; the
 * code is in hw/vfio/direct/dma.c, the planner in dma-plan.c.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_VFIO_DIRECT_DMA_H
#define HW_VFIO_VFIO_DIRECT_DMA_H

#include "exec/memory.h"

typedef struct VFIOContainerBase VFIOContainerBase;
typedef struct VFIODirectDma VFIODirectDma;
typedef struct VFIOPCIDevice VFIOPCIDevice;

/*
 * The listener's region_add/region_del: true when vfio-direct took the
 * section (plain guest RAM), and the caller must not map or unmap it.
 */
bool vfio_direct_dma_region_add(VFIOContainerBase *bcontainer,
                                MemoryRegionSection *section);
bool vfio_direct_dma_region_del(VFIOContainerBase *bcontainer,
                                MemoryRegionSection *section);
/* The listener's commit: apply the plan for the sections taken. */
void vfio_direct_dma_commit(MemoryListener *listener);

/*
 * Before a RamDiscardManager (virtio-mem) maps @nr blocks: false, with
 * one line in @errp, when the IOMMU cannot hold them.
 */
bool vfio_direct_dma_room(VFIOContainerBase *bcontainer, uint64_t nr,
                          uint64_t granularity, Error **errp);

/* Every MAP_DMA / UNMAP_DMA the container makes, for the counters */
int64_t vfio_direct_dma_clock(void);
void vfio_direct_dma_account(VFIOContainerBase *bcontainer, bool map,
                             uint64_t size, int ret, int64_t start);

/*
 * A memory device's pre_plug (hw/mem/memory-device.c): false, with one
 * line in @errp, when a VFIO container could not map its RAM @mr.
 */
bool vfio_direct_dma_memory_pre_plug(DeviceState *dev, MemoryRegion *mr,
                                     Error **errp);

/*
 * The gate of x-dma-async (hw/vfio/direct/dma-queue.c has the rule).
 * vfio_direct_dma_defer_map() and vfio_direct_dma_defer_unmap() come
 * before every MAP_DMA/UNMAP_DMA of a container: they wait while a
 * queued op touches the range, and queue a peer BAR's map or unmap
 * behind the work otherwise; true: it was queued (or cancelled its
 * queued map), the caller leaves the kernel alone and reports success.
 * @viommu: an unmap with an IOTLB entry, never queued.
 * vfio_direct_dma_gate() waits until @bcontainer's queue is empty
 * (false: a queued map failed and the VM stops);
 * vfio_direct_dma_gate_config() at a config write of @vdev that sets Bus
 * Master Enable (the bit is cleared from *@val when the gate fails;
 * false: the device went away meanwhile, drop the write).
 */
bool vfio_direct_dma_defer_map(VFIOContainerBase *bcontainer, uint64_t iova,
                               uint64_t size, void *vaddr, bool readonly);
bool vfio_direct_dma_defer_unmap(VFIOContainerBase *bcontainer,
                                 uint64_t iova, uint64_t size, bool viommu);
bool vfio_direct_dma_gate(VFIOContainerBase *bcontainer, const char *who,
                          const char *event);
bool vfio_direct_dma_gate_config(VFIOPCIDevice *vdev, uint32_t addr,
                                 uint32_t *val, int len);

/* The container is finalized */
void vfio_direct_dma_finalize(VFIOContainerBase *bcontainer);

/*
 * vfio-pci realize: vfio_attach_device() for @vdev.  A container this
 * attach creates takes its x-dma-* settings from @vdev; joining one that
 * another device set up differently is warned about.
 */
bool vfio_direct_dma_attach(VFIOPCIDevice *vdev, char *name,
                            AddressSpace *as, Error **errp);

#endif /* HW_VFIO_VFIO_DIRECT_DMA_H */
