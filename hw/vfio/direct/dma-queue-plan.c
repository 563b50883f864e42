/*
 * vfio-direct: the DMA queue's bookkeeping (see dma-queue-plan.h)
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "dma-queue-plan.h"

bool vfio_direct_dma_queue_overlaps(const VFIODirectDmaOp *ops, size_t n,
                                    uint64_t iova, Int128 size)
{
    uint64_t last;
    size_t i;

    if (!int128_nz(size)) {
        return false;
    }
    last = int128_get64(int128_sub(int128_add(int128_make64(iova), size),
                                   int128_one()));
    for (i = 0; i < n; i++) {
        const VFIODirectDmaRange *r = &ops[i].r;

        if (r->size && r->iova <= last && iova <= r->iova + (r->size - 1)) {
            return true;
        }
    }
    return false;
}

int64_t vfio_direct_dma_queue_avail_of(int64_t kernel_avail,
                                       const VFIODirectDmaOp *ops, size_t n,
                                       size_t done)
{
    int64_t avail = kernel_avail;
    size_t i;

    if (kernel_avail < 0) {
        return -1;
    }
    for (i = done; i < n; i++) {
        avail += ops[i].map ? -1 : 1;
    }
    /* an unmap in flight may not have freed its entry yet */
    if (done < n && !ops[done].map) {
        avail--;
    }
    return MAX(avail, 0);
}

uint64_t vfio_direct_dma_queue_map_bytes(const VFIODirectDmaOp *ops,
                                         size_t n, size_t done)
{
    uint64_t bytes = 0;
    size_t i;

    for (i = done; i < n; i++) {
        bytes += ops[i].map ? ops[i].r.size : 0;
    }
    return bytes;
}

void vfio_direct_dma_queue_revert(const VFIODirectDmaOp *ops, size_t n,
                                  uint64_t failed, GArray *undo)
{
    size_t i;

    for (i = n; i-- > 0;) {
        VFIODirectDmaOp step = ops[i];

        if (ops[i].peer || ops[i].job < failed ||
            (ops[i].job == failed && !ops[i].map)) {
            continue;
        }
        step.map = !ops[i].map;
        g_array_append_val(undo, step);
    }
}

ssize_t vfio_direct_dma_queue_peer_map(const VFIODirectDmaOp *ops, size_t n,
                                       size_t from, uint64_t iova,
                                       uint64_t size)
{
    size_t i;

    for (i = n; i-- > from;) {
        const VFIODirectDmaOp *op = &ops[i];

        if (op->peer && op->map && op->r.iova == iova && op->r.size == size) {
            return i;
        }
        if (vfio_direct_dma_queue_overlaps(op, 1, iova,
                                           int128_make64(size))) {
            return -1;
        }
    }
    return -1;
}
