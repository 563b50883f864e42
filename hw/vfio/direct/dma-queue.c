/*
 * vfio-direct: guest RAM pinned while the guest starts, behind a gate
 *
 * What: with x-dma-async=on, the planner's MAP_DMA and UNMAP_DMA calls
 * (dma.c) go to a worker thread per container, one job per commit, in
 * the order the synchronous path would make them, while the guest
 * starts.  Nothing that lets a device master DMA into guest RAM
 * proceeds while the container has work queued: the gate.
 *
 * The rule, and why it is complete.  A PCI function masters DMA only
 * with Bus Master Enable set in its command register (PCI Local Bus
 * 3.0 6.2.2; MSI and MSI-X writes are DMA too).  The physical device's
 * command register is written only by vfio_pci_write_config(), which
 * every guest config write reaches: port 0xcf8/0xcfc and MMCONFIG on
 * x86 (firmware and option ROMs included: they run as guest code), RTAS
 * ibm,write-pci-config on pseries, and the config restore of an
 * incoming migration.  So:
 *  1. queued work is allowed only while every device of the container
 *     is a vfio-pci function with Bus Master Enable clear, and dirty
 *     tracking is off; otherwise a commit first waits for the queue,
 *     then maps synchronously, as without the property;
 *  2. a config write that sets Bus Master Enable on a device of the
 *     container waits until its queue is empty (gate "bus-master");
 *  3. so do the start of dirty tracking for migration ("dirty-tracking")
 *     and a device attaching to the container ("hot-plug"), and any
 *     map or unmap of another kind of section (a peer BAR, a vIOMMU
 *     mapping) whose range a queued op touches, so that the kernel sees
 *     the synchronous order.  A peer BAR's map or unmap that touches
 *     nothing queued is queued behind the work instead (an unmap
 *     cancels its map if that has not started): type1 holds its lock
 *     through a whole MAP_DMA, so calling the kernel would block the
 *     firmware's BAR enable, under the BQL, until guest RAM is pinned;
 *  4. a commit that leaves no RAM wanted (the listener going away at
 *     unplug, a vIOMMU taking over) waits too, so that no op outlives
 *     the container's fd.
 * sPAPR containers are not the planner's, so never queue.  A worker
 * failure rolls back its job, discards the jobs after it, and stops the
 * VM (dma-guard.c); a gate waiting then returns with Bus Master Enable
 * cleared from the write.
 * The worker starts mapping once machine init is done, not at the
 * first device's realize: type1 holds its lock through a whole MAP_DMA,
 * and the groups of the other cold-plugged devices join the container
 * (VFIO_GROUP_SET_CONTAINER) under that lock; anything that waits on
 * the queue before that releases the worker first.
 * Deadlock: the worker never takes the BQL (it calls only the
 * container's dma_map/dma_unmap and our counters, and hands the rest to
 * a bottom half); a vCPU waits with the BQL released, the main thread
 * holding it.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/lockable.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "exec/memory.h"
#include "system/cpus.h"
#include "system/system.h"
#include "hw/pci/pci.h"
#include "hw/vfio/vfio-common.h"
#include "hw/vfio/vfio-container-base.h"
#include "hw/vfio/pci.h"
#include "hw/vfio/vfio-direct.h"
#include "hw/vfio/vfio-direct-dma.h"
#include "hw/qdev-core.h"
#include "dma.h"
#include "dma-queue.h"
#include "dma-queue-plan.h"
#include "trace.h"

struct VFIODirectDmaQueue {
    VFIOContainerBase *bcontainer;
    QemuMutex lock;
    QemuCond work;              /* to the worker: ops queued, or quit */
    QemuCond progress;          /* to waiters: ops done, or a failure */
    QemuThread thread;
    QEMUBH *bh;                 /* reap, and settle a failure */
    GArray *ops;                /* VFIODirectDmaOp, in order */
    size_t done;                /* ops[0, done): done, of the first job */
    GArray *reap;               /* done ops whose MR refs to drop */
    uint64_t jobs;              /* jobs given numbers so far */
    /*
     * DMA_AVAIL read while the queue was idle, and mappings_made then:
     * type1 holds its lock for a whole MAP_DMA, GET_INFO included, so
     * it is not asked while the worker maps
     */
    int64_t avail_seen;
    int64_t made_seen;
    bool avail_known;
    bool quit;
    bool held;                  /* until machine init is done */
    Notifier machine_done;
    bool failed;                /* the worker stopped at a failure */
    uint64_t failures;          /* failures so far (waiters compare) */
    uint64_t failed_job;
    VFIODirectDmaRange failed_range;
    int failed_errno;
    bool running;               /* the worker runs ops[done] */
    int64_t running_locked;     /* VmLck (kB) when that began, or -1 */
    /* the report */
    int64_t first_ns;           /* first job queued */
    int64_t mapped_ns;          /* until the queue was first empty, or 0 */
    uint64_t peer_ops;          /* peer maps and unmaps queued */
    uint64_t gate_waits;
    int64_t gate_wait_ns;
    char *gate_device;          /* the last wait's */
    char *gate_event;
};

static __thread bool vfio_direct_dma_in_worker;

static MemoryRegion *op_mr(const VFIODirectDmaOp *op)
{
    return (MemoryRegion *)(uintptr_t)op->r.block;
}

/* Drop the reference a queued op holds (a peer unmap holds none) */
static void op_unref(const VFIODirectDmaOp *op)
{
    if (op_mr(op)) {
        memory_region_unref(op_mr(op));
    }
}

static void *vfio_direct_dma_worker(void *opaque)
{
    VFIODirectDmaQueue *q = opaque;
    VFIOContainerBase *bcontainer = q->bcontainer;

    vfio_direct_dma_in_worker = true;
    qemu_mutex_lock(&q->lock);
    for (;;) {
        VFIODirectDmaOp op;
        int ret;

        while (!q->quit &&
               (q->failed || q->held || q->done == q->ops->len)) {
            qemu_cond_wait(&q->work, &q->lock);
        }
        if (q->quit) {
            break;
        }
        op = g_array_index(q->ops, VFIODirectDmaOp, q->done);
        q->running = true;
        q->running_locked = -1;
        qemu_mutex_unlock(&q->lock);
        if (op.map) {
            int64_t locked = vfio_direct_dma_status("VmLck:");

            qemu_mutex_lock(&q->lock);
            q->running_locked = locked;
            qemu_mutex_unlock(&q->lock);
        }

        if (op.map) {
            ret = vfio_container_dma_map(bcontainer, op.r.iova, op.r.size,
                                         (void *)(uintptr_t)op.r.hva,
                                         op.r.readonly);
        } else {
            ret = vfio_container_dma_unmap(bcontainer, op.r.iova, op.r.size,
                                           NULL);
        }
        trace_vfio_direct_dma_queue_op(op.job, op.map, op.r.iova, op.r.size,
                                       ret);

        qemu_mutex_lock(&q->lock);
        q->running = false;
        if (ret && op.map && op.peer) {
            /* as upstream's listener: a peer BAR's mapping is not fatal */
            warn_report("%s: mapping [0x%" PRIx64 ", 0x%" PRIx64 ") of a "
                        "peer device's BAR failed: %s; peer-to-peer DMA to "
                        "it will fault", vfio_direct_dma_who(bcontainer),
                        op.r.iova, op.r.iova + op.r.size, strerror(-ret));
        } else if (ret && op.map) {
            size_t i;

            /* Leave nothing of this job mapped: ops[0, done) are its */
            for (i = q->done; i-- > 0;) {
                VFIODirectDmaOp *m = &g_array_index(q->ops, VFIODirectDmaOp,
                                                    i);

                if (m->map) {
                    uint64_t iova = m->r.iova, size = m->r.size;

                    qemu_mutex_unlock(&q->lock);
                    vfio_container_dma_unmap(bcontainer, iova, size, NULL);
                    qemu_mutex_lock(&q->lock);
                }
            }
            trace_vfio_direct_dma_queue_failed(op.job, op.r.iova, op.r.size,
                                               ret);
            q->failed = true;
            q->failures++;
            q->failed_job = op.job;
            q->failed_range = op.r;
            q->failed_errno = -ret;
            qemu_bh_schedule(q->bh);
            qemu_cond_broadcast(&q->progress);
            continue;
        }
        /* A failed unmap leaves a mapping we no longer track: as upstream */
        q->done++;
        if (q->done == q->ops->len ||
            g_array_index(q->ops, VFIODirectDmaOp, q->done).job != op.job) {
            g_array_append_vals(q->reap, q->ops->data, q->done);
            g_array_remove_range(q->ops, 0, q->done);
            q->done = 0;
            if (!q->ops->len) {
                if (!q->mapped_ns) {
                    q->mapped_ns = MAX(get_clock() - q->first_ns, 1);
                }
                trace_vfio_direct_dma_queue_empty(op.job);
                qemu_bh_schedule(q->bh);
            }
        }
        qemu_cond_broadcast(&q->progress);
    }
    qemu_mutex_unlock(&q->lock);
    return NULL;
}

/* Drop the MR references of done ops (BQL) */
static void vfio_direct_dma_queue_reap(VFIODirectDmaQueue *q)
{
    g_autoptr(GArray) reap = NULL;
    guint i;

    qemu_mutex_lock(&q->lock);
    reap = q->reap;
    q->reap = g_array_new(false, false, sizeof(VFIODirectDmaOp));
    qemu_mutex_unlock(&q->lock);
    for (i = 0; i < reap->len; i++) {
        op_unref(&g_array_index(reap, VFIODirectDmaOp, i));
    }
}

/*
 * A job failed (BQL): bring the planner's view back to what the IOMMU
 * holds, drop the queue, and stop the VM with one line.
 */
static void vfio_direct_dma_queue_settle(VFIODirectDmaQueue *q)
{
    VFIOContainerBase *bcontainer = q->bcontainer;
    VFIODirectDma *d = bcontainer->direct_dma;
    g_autoptr(GArray) undo = g_array_new(false, false,
                                         sizeof(VFIODirectDmaOp));
    g_autoptr(GArray) ops = NULL;
    g_autofree char *who = NULL;
    VFIODirectDmaRange r;
    Error *err = NULL;
    int errnum;
    guint i;

    qemu_mutex_lock(&q->lock);
    if (!q->failed) {
        qemu_mutex_unlock(&q->lock);
        return;
    }
    ops = q->ops;
    q->ops = g_array_new(false, false, sizeof(VFIODirectDmaOp));
    q->done = 0;
    r = q->failed_range;
    errnum = q->failed_errno;
    vfio_direct_dma_queue_revert((VFIODirectDmaOp *)ops->data, ops->len,
                                 q->failed_job, undo);
    q->failed = false;
    qemu_cond_broadcast(&q->progress);
    qemu_mutex_unlock(&q->lock);

    for (i = 0; i < undo->len; i++) {
        VFIODirectDmaOp *u = &g_array_index(undo, VFIODirectDmaOp, i);

        if (u->map) {
            vfio_direct_dma_mapped_insert(d, &u->r);
        } else {
            vfio_direct_dma_mapped_remove(d, &u->r);
        }
    }
    for (i = 0; i < ops->len; i++) {
        VFIODirectDmaOp *op = &g_array_index(ops, VFIODirectDmaOp, i);

        /* the listener counts a dropped peer unmap as done: do it */
        if (op->peer && !op->map && op->job > q->failed_job) {
            vfio_container_dma_unmap(bcontainer, op->r.iova, op->r.size,
                                     NULL);
        }
        op_unref(op);
    }
    d->dirty = true;
    d->stats.rollbacks++;
    who = vfio_direct_dma_who(bcontainer);
    error_setg(&err, "%s: mapping guest RAM %s [0x%" PRIx64 ", 0x%" PRIx64
               ") for DMA failed on the worker: %s%s", who,
               memory_region_name((MemoryRegion *)(uintptr_t)r.block),
               r.iova, r.iova + r.size, strerror(errnum),
               errnum == ENOMEM ? " (raise the locked memory limit, ulimit "
               "-l, to the guest's RAM size)" :
               errnum == ENOSPC ? " (raise vfio_iommu_type1's "
               "dma_entry_limit)" : "");
    vfio_direct_dma_stop(bcontainer, err);
}

static void vfio_direct_dma_queue_bh(void *opaque)
{
    VFIODirectDmaQueue *q = opaque;

    vfio_direct_dma_queue_reap(q);
    vfio_direct_dma_queue_settle(q);
}

/* Machine init is done: every cold-plugged device has attached */
static void vfio_direct_dma_queue_release(Notifier *n, void *data)
{
    VFIODirectDmaQueue *q = container_of(n, VFIODirectDmaQueue,
                                         machine_done);

    qemu_mutex_lock(&q->lock);
    q->held = false;
    qemu_cond_signal(&q->work);
    qemu_mutex_unlock(&q->lock);
}

static VFIODirectDmaQueue *vfio_direct_dma_queue_get(VFIODirectDma *d,
                                                     VFIOContainerBase *bc)
{
    VFIODirectDmaQueue *q = d->queue;

    if (!q) {
        q = g_new0(VFIODirectDmaQueue, 1);
        q->bcontainer = bc;
        qemu_mutex_init(&q->lock);
        qemu_cond_init(&q->work);
        qemu_cond_init(&q->progress);
        q->ops = g_array_new(false, false, sizeof(VFIODirectDmaOp));
        q->reap = g_array_new(false, false, sizeof(VFIODirectDmaOp));
        q->bh = qemu_bh_new(vfio_direct_dma_queue_bh, q);
        if (!phase_check(PHASE_MACHINE_READY)) {
            q->held = true;
            q->machine_done.notify = vfio_direct_dma_queue_release;
            qemu_add_machine_init_done_notifier(&q->machine_done);
        }
        qemu_thread_create(&q->thread, "vfio-dma", vfio_direct_dma_worker,
                           q, QEMU_THREAD_JOINABLE);
        d->queue = q;
    }
    return q;
}

/*
 * Wait until @q is empty or failed; with the BQL released when a vCPU
 * waits.  True when it emptied without a failure.
 */
static bool vfio_direct_dma_queue_wait(VFIODirectDmaQueue *q,
                                       const char *who, const char *event)
{
    bool drop = qemu_in_vcpu_thread() && bql_locked();
    uint64_t failures;
    int64_t t0;
    bool ok;

    qemu_mutex_lock(&q->lock);
    if (!q->ops->len && !q->failed) {
        qemu_mutex_unlock(&q->lock);
        return true;
    }
    if (q->held) {
        /* waiting before machine init is done: let the worker run */
        q->held = false;
        qemu_cond_signal(&q->work);
    }
    failures = q->failures;
    t0 = get_clock();
    trace_vfio_direct_dma_gate_wait(who ? who : "-", event, q->ops->len,
                                    drop);
    if (drop) {
        qemu_mutex_unlock(&q->lock);
        bql_unlock();
        qemu_mutex_lock(&q->lock);
    }
    while (q->ops->len && !q->failed && q->failures == failures) {
        qemu_cond_wait(&q->progress, &q->lock);
    }
    ok = !q->failed && q->failures == failures;
    q->gate_waits++;
    q->gate_wait_ns += get_clock() - t0;
    g_free(q->gate_device);
    g_free(q->gate_event);
    q->gate_device = g_strdup(who ? who : "-");
    q->gate_event = g_strdup(event);
    trace_vfio_direct_dma_gate_open(who ? who : "-", event,
                                    get_clock() - t0, ok);
    qemu_mutex_unlock(&q->lock);
    if (drop) {
        bql_lock();
    }
    return ok;
}

bool vfio_direct_dma_queue_busy(VFIOContainerBase *bcontainer)
{
    VFIODirectDma *d = bcontainer->direct_dma;
    bool busy;

    if (!d || !d->queue) {
        return false;
    }
    qemu_mutex_lock(&d->queue->lock);
    busy = d->queue->ops->len || d->queue->failed;
    qemu_mutex_unlock(&d->queue->lock);
    return busy;
}

bool vfio_direct_dma_queue_drain(VFIOContainerBase *bcontainer,
                                 const char *event)
{
    VFIODirectDma *d = bcontainer->direct_dma;
    bool ok;

    if (!d || !d->queue) {
        return true;
    }
    ok = vfio_direct_dma_queue_wait(d->queue, NULL, event);
    if (!ok) {
        vfio_direct_dma_queue_settle(d->queue);
    }
    vfio_direct_dma_queue_reap(d->queue);
    return ok;
}

/* May @bcontainer's next commit be queued?  (rule 1) */
bool vfio_direct_dma_queue_allowed(VFIOContainerBase *bcontainer)
{
    VFIODirectDma *d = vfio_direct_dma_get(bcontainer);
    VFIODevice *vbasedev;

    if (!d->async || bcontainer->dirty_pages_started) {
        return false;
    }
    if (d->queue) {
        bool failed;

        qemu_mutex_lock(&d->queue->lock);
        failed = d->queue->failed;
        qemu_mutex_unlock(&d->queue->lock);
        if (failed) {
            return false;
        }
    }
    QLIST_FOREACH(vbasedev, &bcontainer->device_list, container_next) {
        PCIDevice *pdev;

        if (vbasedev->type != VFIO_DEVICE_TYPE_PCI || !vbasedev->dev) {
            return false;
        }
        pdev = PCI_DEVICE(vbasedev->dev);
        if (pci_get_word(pdev->config + PCI_COMMAND) & PCI_COMMAND_MASTER) {
            return false;
        }
    }
    return true;
}

uint64_t vfio_direct_dma_queue_job(VFIOContainerBase *bcontainer)
{
    VFIODirectDma *d = vfio_direct_dma_get(bcontainer);
    VFIODirectDmaQueue *q = vfio_direct_dma_queue_get(d, bcontainer);
    uint64_t job;

    qemu_mutex_lock(&q->lock);
    job = ++q->jobs;
    if (!q->first_ns) {
        q->first_ns = get_clock();
    }
    qemu_mutex_unlock(&q->lock);
    return job;
}

void vfio_direct_dma_queue_add(VFIOContainerBase *bcontainer, uint64_t job,
                               const VFIODirectDmaRange *r, bool map)
{
    VFIODirectDmaQueue *q = bcontainer->direct_dma->queue;
    VFIODirectDmaOp op = { .r = *r, .job = job, .map = map };

    memory_region_ref(op_mr(&op));
    trace_vfio_direct_dma_queue_add(job, map, r->iova, r->size);
    qemu_mutex_lock(&q->lock);
    g_array_append_val(q->ops, op);
    qemu_cond_signal(&q->work);
    qemu_mutex_unlock(&q->lock);
}

static int64_t vfio_direct_dma_made(VFIODirectDma *d)
{
    QEMU_LOCK_GUARD(&d->stats_lock);
    return d->mappings_made;
}

int64_t vfio_direct_dma_queue_avail(VFIOContainerBase *bcontainer)
{
    VFIODirectDma *d = bcontainer->direct_dma;
    VFIODirectDmaQueue *q = d ? d->queue : NULL;
    int64_t kernel, avail;

    if (!q) {
        return vfio_direct_dma_avail(bcontainer);
    }
    qemu_mutex_lock(&q->lock);
    if (!q->ops->len && !q->failed) {
        /* idle: the kernel answers at once */
        q->avail_seen = vfio_direct_dma_avail(bcontainer);
        q->made_seen = vfio_direct_dma_made(d);
        q->avail_known = true;
    }
    if (!q->avail_known || q->avail_seen < 0) {
        kernel = q->avail_known ? -1 : vfio_direct_dma_avail(bcontainer);
    } else {
        /* what the kernel says now: mappings made since count */
        kernel = MAX(q->avail_seen - (vfio_direct_dma_made(d) -
                                      q->made_seen), 0);
    }
    avail = vfio_direct_dma_queue_avail_of(kernel,
                                           (VFIODirectDmaOp *)q->ops->data,
                                           q->ops->len, q->done);
    qemu_mutex_unlock(&q->lock);
    return avail;
}

uint64_t vfio_direct_dma_queue_pending_bytes(VFIOContainerBase *bcontainer)
{
    VFIODirectDma *d = bcontainer->direct_dma;
    VFIODirectDmaQueue *q = d ? d->queue : NULL;
    uint64_t bytes;

    if (!q) {
        return 0;
    }
    qemu_mutex_lock(&q->lock);
    bytes = vfio_direct_dma_queue_map_bytes((VFIODirectDmaOp *)q->ops->data,
                                            q->ops->len, q->done);
    qemu_mutex_unlock(&q->lock);
    return bytes;
}

int64_t vfio_direct_dma_queue_locked(VFIOContainerBase *bcontainer,
                                     int64_t locked)
{
    VFIODirectDma *d = bcontainer->direct_dma;
    VFIODirectDmaQueue *q = d ? d->queue : NULL;

    if (!q || locked < 0) {
        return locked;
    }
    qemu_mutex_lock(&q->lock);
    if (q->running && q->running_locked >= 0) {
        locked = MIN(locked, q->running_locked);
    }
    qemu_mutex_unlock(&q->lock);
    return locked;
}

/*
 * Another caller's MAP_DMA or UNMAP_DMA of [@iova, @iova + @size) while
 * @q is busy: true when it must wait for queued ops first (it touches
 * their range), false when it may be queued behind them.
 */
static bool vfio_direct_dma_queue_touches(VFIODirectDmaQueue *q,
                                          uint64_t iova, uint64_t size)
{
    return vfio_direct_dma_queue_overlaps((VFIODirectDmaOp *)q->ops->data,
                                          q->ops->len, iova,
                                          int128_make64(size));
}

/* Queue a peer op as a job of its own (q->lock held) */
static void vfio_direct_dma_queue_peer(VFIODirectDmaQueue *q,
                                       VFIODirectDmaOp *op)
{
    op->job = ++q->jobs;
    op->peer = true;
    q->peer_ops++;
    trace_vfio_direct_dma_queue_peer(op->job, op->map, op->r.iova,
                                     op->r.size);
    g_array_append_val(q->ops, *op);
    qemu_cond_signal(&q->work);
}

/* Is @q busy with ops another caller must not overtake? (q->lock held) */
static bool vfio_direct_dma_queue_ahead(VFIODirectDmaQueue *q)
{
    return q->ops->len && !q->failed;
}

bool vfio_direct_dma_defer_map(VFIOContainerBase *bcontainer, uint64_t iova,
                               uint64_t size, void *vaddr, bool readonly)
{
    VFIODirectDma *d = bcontainer->direct_dma;
    VFIODirectDmaQueue *q = d ? d->queue : NULL;
    VFIODirectDmaOp op = {
        .r = { .iova = iova, .size = size, .hva = (uintptr_t)vaddr,
               .readonly = readonly },
        .map = true,
    };
    MemoryRegion *mr;
    ram_addr_t offset;
    bool touches;

    if (!q || vfio_direct_dma_in_worker) {
        return false;
    }
    /* only a peer BAR's mapping: a RAM one's caller needs its result */
    mr = memory_region_from_host(vaddr, &offset);
    qemu_mutex_lock(&q->lock);
    touches = vfio_direct_dma_queue_touches(q, iova, size);
    if (!touches && mr && memory_region_is_ram_device(mr) &&
        vfio_direct_dma_queue_ahead(q)) {
        memory_region_ref(mr);  /* its mmap stays until the worker is done */
        op.r.block = (uintptr_t)mr;
        vfio_direct_dma_queue_peer(q, &op);
        qemu_mutex_unlock(&q->lock);
        return true;
    }
    qemu_mutex_unlock(&q->lock);
    if (touches) {
        /* the worker needs no BQL: waiting with it held is safe */
        vfio_direct_dma_queue_drain(bcontainer, "overlap");
    }
    return false;
}

bool vfio_direct_dma_defer_unmap(VFIOContainerBase *bcontainer,
                                 uint64_t iova, uint64_t size, bool viommu)
{
    VFIODirectDma *d = bcontainer->direct_dma;
    VFIODirectDmaQueue *q = d ? d->queue : NULL;
    VFIODirectDmaOp op = { .r = { .iova = iova, .size = size } };
    MemoryRegion *cancelled = NULL;
    ssize_t i;
    bool deferred = false;

    if (!q || vfio_direct_dma_in_worker) {
        return false;
    }
    qemu_mutex_lock(&q->lock);
    if (vfio_direct_dma_queue_ahead(q) && !viommu) {
        i = vfio_direct_dma_queue_peer_map((VFIODirectDmaOp *)q->ops->data,
                                           q->ops->len,
                                           q->done + q->running, iova, size);
        if (i >= 0) {
            VFIODirectDmaOp *m = &g_array_index(q->ops, VFIODirectDmaOp, i);

            cancelled = op_mr(m);
            trace_vfio_direct_dma_queue_cancel(m->job, iova, size);
            g_array_remove_index(q->ops, i);
            deferred = true;
        } else if (!vfio_direct_dma_queue_touches(q, iova, size)) {
            vfio_direct_dma_queue_peer(q, &op);
            deferred = true;
        }
    }
    if (!deferred && vfio_direct_dma_queue_touches(q, iova, size)) {
        qemu_mutex_unlock(&q->lock);
        vfio_direct_dma_queue_drain(bcontainer, "overlap");
        return false;
    }
    qemu_mutex_unlock(&q->lock);
    if (cancelled) {
        memory_region_unref(cancelled);
    }
    return deferred;
}

bool vfio_direct_dma_gate(VFIOContainerBase *bcontainer, const char *who,
                          const char *event)
{
    VFIODirectDma *d = bcontainer ? bcontainer->direct_dma : NULL;
    bool ok;

    if (!d || !d->queue) {
        return true;
    }
    ok = vfio_direct_dma_queue_wait(d->queue, who, event);
    if (!ok && !qemu_in_vcpu_thread()) {
        vfio_direct_dma_queue_settle(d->queue);
    }
    return ok;
}

bool vfio_direct_dma_gate_config(VFIOPCIDevice *vdev, uint32_t addr,
                                 uint32_t *val, int len)
{
    PCIDevice *pdev = PCI_DEVICE(vdev);
    VFIOContainerBase *bcontainer = vdev->vbasedev.bcontainer;
    uint32_t bit;

    if (!bcontainer || !bcontainer->direct_dma ||
        !bcontainer->direct_dma->queue ||
        !ranges_overlap(addr, len, PCI_COMMAND, 1)) {
        return true;
    }
    bit = (uint32_t)PCI_COMMAND_MASTER << ((PCI_COMMAND - addr) * 8);
    if (!(*val & bit) ||
        (pci_get_word(pdev->config + PCI_COMMAND) & PCI_COMMAND_MASTER)) {
        return true;
    }
    object_ref(OBJECT(vdev));
    if (!vfio_direct_dma_gate(bcontainer, vdev->vbasedev.name,
                              "bus-master")) {
        /* the VM stops: the device must not master DMA meanwhile */
        *val &= ~bit;
    }
    if (!DEVICE(vdev)->realized) {
        object_unref(OBJECT(vdev));
        return false;
    }
    object_unref(OBJECT(vdev));
    return true;
}

void vfio_direct_dma_attached(VFIOPCIDevice *vdev)
{
    if (phase_check(PHASE_MACHINE_READY)) {
        vfio_direct_dma_gate(vdev->vbasedev.bcontainer, vdev->vbasedev.name,
                             "hot-plug");
    }
}

void vfio_direct_dma_queue_finalize(VFIODirectDma *d)
{
    VFIODirectDmaQueue *q = d->queue;

    if (!q) {
        return;
    }
    if (q->machine_done.notify) {
        qemu_remove_machine_init_done_notifier(&q->machine_done);
    }
    qemu_mutex_lock(&q->lock);
    q->quit = true;
    qemu_cond_signal(&q->work);
    qemu_mutex_unlock(&q->lock);
    qemu_thread_join(&q->thread);
    qemu_bh_delete(q->bh);
    g_array_append_vals(q->reap, q->ops->data, q->ops->len);
    g_array_set_size(q->ops, 0);
    vfio_direct_dma_queue_reap(q);
    g_array_free(q->ops, true);
    g_array_free(q->reap, true);
    qemu_cond_destroy(&q->work);
    qemu_cond_destroy(&q->progress);
    qemu_mutex_destroy(&q->lock);
    g_free(q->gate_device);
    g_free(q->gate_event);
    g_free(q);
    d->queue = NULL;
}

VfioDmaQueueInfo *vfio_direct_dma_queue_query(VFIODirectDma *d)
{
    VFIODirectDmaQueue *q = d->queue;
    VfioDmaQueueInfo *info = g_new0(VfioDmaQueueInfo, 1);

    info->async = d->async;
    if (!q) {
        return info;
    }
    qemu_mutex_lock(&q->lock);
    info->jobs = q->jobs;
    info->queued = q->ops->len - q->done;
    info->queued_bytes = vfio_direct_dma_queue_map_bytes(
        (VFIODirectDmaOp *)q->ops->data, q->ops->len, q->done);
    info->failed = q->failed;
    if (q->mapped_ns) {
        info->has_mapped_ns = true;
        info->mapped_ns = q->mapped_ns;
    }
    info->peer_ops = q->peer_ops;
    info->gate_waits = q->gate_waits;
    info->gate_wait_ns = q->gate_wait_ns;
    if (q->gate_device) {
        info->gate_device = g_strdup(q->gate_device);
        info->gate_event = g_strdup(q->gate_event);
    }
    qemu_mutex_unlock(&q->lock);
    return info;
}
