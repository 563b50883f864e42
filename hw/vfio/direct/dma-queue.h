/*
 * vfio-direct: guest RAM pinned while the guest starts (private header)
 *
 * What dma.c and query.c call in dma-queue.c: whether a commit may be
 * queued, the jobs and their ops, DMA_AVAIL and locked memory counting
 * what is queued, and the report.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_DMA_QUEUE_H
#define HW_VFIO_DIRECT_DMA_QUEUE_H

#include "dma.h"

/* May the next commit of @bcontainer be queued?  (the rule's point 1) */
bool vfio_direct_dma_queue_allowed(VFIOContainerBase *bcontainer);
/* Does @bcontainer have ops queued, or a failure not yet settled? */
bool vfio_direct_dma_queue_busy(VFIOContainerBase *bcontainer);
/*
 * Wait for @bcontainer's queue with the BQL held (the worker needs
 * none), then settle a failure: false when one was found.
 */
bool vfio_direct_dma_queue_drain(VFIOContainerBase *bcontainer,
                                 const char *event);
/* A new job's number; its ops follow with vfio_direct_dma_queue_add() */
uint64_t vfio_direct_dma_queue_job(VFIOContainerBase *bcontainer);
void vfio_direct_dma_queue_add(VFIOContainerBase *bcontainer, uint64_t job,
                               const VFIODirectDmaRange *r, bool map);
/* DMA_AVAIL once the queue is done, -1 when the kernel does not say */
int64_t vfio_direct_dma_queue_avail(VFIOContainerBase *bcontainer);
/* Bytes the queue has still to map (to pin), the one in flight whole */
uint64_t vfio_direct_dma_queue_pending_bytes(VFIOContainerBase *bcontainer);
/*
 * VmLck (kB, -1: unknown) to add those bytes to, from @locked read now:
 * the part of the MAP_DMA in flight pinned so far is in both, so while
 * one runs, VmLck as it was when it started.
 */
int64_t vfio_direct_dma_queue_locked(VFIOContainerBase *bcontainer,
                                     int64_t locked);
/* vfio-pci realize, once @vdev joined its container: hot-plug waits */
void vfio_direct_dma_attached(VFIOPCIDevice *vdev);
/* The container goes: stop the worker (its queue is empty by rule 4) */
void vfio_direct_dma_queue_finalize(VFIODirectDma *d);
VfioDmaQueueInfo *vfio_direct_dma_queue_query(VFIODirectDma *d);

#endif /* HW_VFIO_DIRECT_DMA_QUEUE_H */
