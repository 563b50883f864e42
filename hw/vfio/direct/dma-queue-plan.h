/*
 * vfio-direct: the DMA queue's bookkeeping (pure logic, no QEMU state)
 *
 * dma-queue.c runs the planner's MAP_DMA and UNMAP_DMA calls on a
 * worker, in the order the planner issued them, while the guest starts.
 * These helpers answer the questions the queue asks about its ops:
 * whether another caller's range must wait for them, how many
 * mappings the kernel will allow once they are done, what the IOMMU
 * really holds after a job failed, and which queued peer mapping an
 * unmap cancels.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_DIRECT_DMA_QUEUE_PLAN_H
#define HW_VFIO_DIRECT_DMA_QUEUE_PLAN_H

#include "dma-plan.h"

/* One MAP_DMA or UNMAP_DMA of a job (one commit's plan) */
typedef struct VFIODirectDmaOp {
    VFIODirectDmaRange r;
    uint64_t job;               /* jobs are numbered from 1, in order */
    bool map;
    /*
     * Not the planner's: a mapping of another section (a peer BAR)
     * queued behind the planner's jobs, a job of its own
     */
    bool peer;
} VFIODirectDmaOp;

/*
 * Does an op of @ops share a byte with [@iova, @iova + @size)?  Then a
 * map or unmap of that range by anyone else must wait until those ops
 * are done, so the kernel sees the order the synchronous path has.
 */
bool vfio_direct_dma_queue_overlaps(const VFIODirectDmaOp *ops, size_t n,
                                    uint64_t iova, Int128 size);

/*
 * The mappings the kernel will allow once @ops are done, from what it
 * allows now (@kernel_avail, -1: unknown).  @ops[0, @done) are done
 * already; an op in flight counts as not done, which for a map that
 * the kernel just made errs by one on the safe side.
 */
int64_t vfio_direct_dma_queue_avail_of(int64_t kernel_avail,
                                       const VFIODirectDmaOp *ops, size_t n,
                                       size_t done);

/* Bytes @ops[@done, @n) still map */
uint64_t vfio_direct_dma_queue_map_bytes(const VFIODirectDmaOp *ops,
                                         size_t n, size_t done);

/*
 * Job @failed failed at one of its maps: its unmaps are done (they come
 * first), its maps undone (the worker rolled them back), and the jobs
 * after it were never run.  The planner's view, which counts every op
 * of @ops as done, gets back to what the IOMMU holds by undoing ops
 * from the last: appends to @undo (of VFIODirectDmaOp) the steps to
 * apply in order, each "insert r" (map true) or "remove r" (false).
 * Peer ops are not in the planner's view and give no step.
 */
void vfio_direct_dma_queue_revert(const VFIODirectDmaOp *ops, size_t n,
                                  uint64_t failed, GArray *undo);

/*
 * The queued peer map of exactly [@iova, @iova + @size) among @ops[@from,
 * @n), not yet started, that an unmap of that range cancels: the last
 * one, so that a map, unmap, map sequence keeps its final map.  -1 when
 * there is none, or when an op after it touches the range (then the
 * unmap must run in order behind it).
 */
ssize_t vfio_direct_dma_queue_peer_map(const VFIODirectDmaOp *ops, size_t n,
                                       size_t from, uint64_t iova,
                                       uint64_t size);

#endif /* HW_VFIO_DIRECT_DMA_QUEUE_PLAN_H */
