/*
 * vfio-direct: guest RAM to the IOMMU in large chunks (private header)
 *
 * The per-container state of dma.c, shared with prefault.c (the
 * prefault before a large MAP_DMA), tce.c (its counters) and query.c
 * (the report).
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_DMA_H
#define HW_VFIO_DIRECT_DMA_H

#include "qapi/qapi-types-vfio-direct.h"
#include "qemu/thread.h"
#include "hw/vfio/vfio-direct-dma.h"
#include "dma-plan.h"

/* x-dma-prefault-threads' default: off (see docs/devel/vfio-direct.rst) */
#define VFIO_DIRECT_DMA_THREADS 0     /* as in VFIO_DIRECT_PROPERTIES */
/* Smaller mappings are not prefaulted: a thread costs more */
#define VFIO_DIRECT_PREFAULT_MIN (32 * MiB)

typedef struct VFIODirectDmaQueue VFIODirectDmaQueue;

struct VFIODirectDma {
    GArray *want;           /* VFIODirectDmaRange, sorted, one per section */
    GArray *mapped;         /* VFIODirectDmaRange, sorted: what we mapped */
    bool dirty;                 /* want or mapped changed since commit */
    bool plan;                  /* x-dma-plan */
    uint32_t prefault_threads;  /* x-dma-prefault-threads, bounded */
    char *settings_from;        /* the device that set these, or NULL */
    uint32_t reserve;           /* mappings the window may still need */
    bool async;                 /* x-dma-async */
    VFIODirectDmaQueue *queue;  /* dma-queue.c, or NULL */
    QemuMutex stats_lock;       /* stats: the queue's worker counts too */
    int64_t mappings_made;      /* successful maps less unmaps, all kinds */
    VfioDmaInfo stats;          /* counters; mappings etc. filled on query */
    VfioTceInfo *tce;           /* tce.c's counters (sPAPR), or NULL */
};

/* dma.c: the state of @bcontainer, created on first use */
VFIODirectDma *vfio_direct_dma_get(VFIOContainerBase *bcontainer);

/*
 * dma.c: the planner's view of what is mapped (every queued op counted
 * as done); dma-queue.c corrects it after a failed job
 */
void vfio_direct_dma_mapped_insert(VFIODirectDma *d,
                                   const VFIODirectDmaRange *r);
void vfio_direct_dma_mapped_remove(VFIODirectDma *d,
                                   const VFIODirectDmaRange *r);

/* dma.c: DMA_AVAIL of @bcontainer now, -1 when the kernel does not say */
int64_t vfio_direct_dma_avail(VFIOContainerBase *bcontainer);

/* dma-guard.c: "vfio 0000:00:02.0 (dev0), ..." for messages */
char *vfio_direct_dma_who(VFIOContainerBase *bcontainer);
/* dma-guard.c: /proc/self/status field @name ("VmLck:") in kB, or -1 */
int64_t vfio_direct_dma_status(const char *name);
/* dma-guard.c: can @bytes more be pinned under RLIMIT_MEMLOCK? */
bool vfio_direct_dma_memlock_room(VFIOContainerBase *bcontainer,
                                  uint64_t bytes, const char *what,
                                  Error **errp);
/*
 * dma-guard.c: a mapping failed once the guest may run (the mappings of
 * that operation are rolled back already): report @err and stop the VM,
 * or exit before the guest ran.
 */
void vfio_direct_dma_stop(VFIOContainerBase *bcontainer, Error *err);

/* prefault.c: populate the RAM behind @m with threads, if not yet */
void vfio_direct_prefault(VFIODirectDma *d, MemoryRegion *mr,
                          const VFIODirectDmaRange *m);

/* dma.c: the report of @vdev's container, NULL when it has none */
VfioDmaInfo *vfio_direct_dma_query(VFIOPCIDevice *vdev);

#endif /* HW_VFIO_DIRECT_DMA_H */
