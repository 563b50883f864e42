/*
 * vfio-direct: guest RAM to the IOMMU in large chunks
 *
 * What: vfio's memory listener hands plain guest RAM sections to us
 * (vfio_direct_dma_region_add/del) instead of mapping each one; at the
 * end of every memory transaction (vfio_direct_dma_commit) the planner
 * (dma-plan.c) compares what the IOMMU holds with what the flat view
 * wants, and we apply the difference: whole-mapping unmaps, then maps,
 * each large new range prefaulted first (prefault.c).
 * Why: upstream unmaps and pins all of RAM again when q35's reset-time
 * PAM/SMRAM set-up splits the RAM section, takes one MAP_DMA per
 * section, and learns about DMA_AVAIL only from a late ENOSPC.
 * A plan that does not fit DMA_AVAIL is refused before any MAP_DMA; a
 * MAP_DMA that fails unmaps what the same commit mapped.  Every call
 * is counted per container for x-query-vfio and "info vfio".
 *
 * Sections of IOMMU regions, RAM devices (other devices' BARs) and RAM
 * with a RamDiscardManager (virtio-mem, mapped block by block) stay on
 * upstream's path; sPAPR containers too (they need DMA windows).
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/ioctl.h>
#include "qemu/error-report.h"
#include "qemu/lockable.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "exec/memory.h"
#include "exec/cpu-common.h"
#include "hw/vfio/vfio-common.h"
#include "hw/vfio/vfio-container-base.h"
#include "hw/vfio/pci.h"
#include "hw/vfio/vfio-direct.h"
#include "hw/vfio/vfio-direct-dma.h"
#include "dma.h"
#include "dma-queue.h"
#include "trace.h"

/*
 * The vfio-pci device whose vfio_attach_device() is running (realize
 * runs under the BQL, one at a time): a container created by that attach
 * takes its settings from this device's properties.
 */
static VFIOPCIDevice *vfio_direct_dma_attaching;
static bool vfio_direct_dma_attach_created;   /* ... and it created one */

/* VFIODirectDmaRange.block is the memory region */
static MemoryRegion *entry_mr(const VFIODirectDmaRange *r)
{
    return (MemoryRegion *)(uintptr_t)r->block;
}

static uint32_t vfio_direct_dma_bound_threads(uint32_t threads)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    return MIN(threads, (uint32_t)MAX(cpus, 1));
}

VFIODirectDma *vfio_direct_dma_get(VFIOContainerBase *bcontainer)
{
    VFIOPCIDevice *vdev = vfio_direct_dma_attaching;
    VFIODirectDma *d = bcontainer->direct_dma;

    if (!d) {
        d = g_new0(VFIODirectDma, 1);
        d->want = g_array_new(false, false, sizeof(VFIODirectDmaRange));
        d->mapped = g_array_new(false, false, sizeof(VFIODirectDmaRange));
        /* Another kind of vfio device: the properties' defaults */
        d->plan = vdev ? vdev->direct.dma_plan : true;
        d->prefault_threads = vfio_direct_dma_bound_threads(
            vdev ? vdev->direct.dma_prefault_threads :
            VFIO_DIRECT_DMA_THREADS);
        d->async = vdev ? vdev->direct.dma_async : false;
        qemu_mutex_init(&d->stats_lock);
        d->settings_from = g_strdup(vdev ? vdev->vbasedev.name : NULL);
        vfio_direct_dma_attach_created = vdev != NULL;
        d->stats.planner = d->plan;
        d->stats.prefault_threads = d->prefault_threads;
        bcontainer->direct_dma = d;
    }
    return d;
}

/* @vdev joined a container that another device set up: do they agree? */
static void vfio_direct_dma_check_settings(VFIOPCIDevice *vdev,
                                           VFIODirectDma *d)
{
    uint32_t threads =
        vfio_direct_dma_bound_threads(vdev->direct.dma_prefault_threads);

    if (vdev->direct.dma_plan == d->plan && threads == d->prefault_threads) {
        return;
    }
    warn_report("vfio %s: x-dma-plan=%s,x-dma-prefault-threads=%u do not "
                "apply: its IOMMU container was set up by %s with "
                "x-dma-plan=%s,x-dma-prefault-threads=%u; give every device "
                "of a container the same values", vdev->vbasedev.name,
                vdev->direct.dma_plan ? "on" : "off", threads,
                d->settings_from ?: "another vfio device",
                d->plan ? "on" : "off", d->prefault_threads);
}

bool vfio_direct_dma_attach(VFIOPCIDevice *vdev, char *name,
                            AddressSpace *as, Error **errp)
{
    VFIODirectDma *d = NULL;
    bool created;

    vfio_direct_dma_attaching = vdev;
    vfio_direct_dma_attach_created = false;
    if (vfio_attach_device(name, &vdev->vbasedev, as, errp)) {
        d = vfio_direct_dma_get(vdev->vbasedev.bcontainer);
    }
    created = vfio_direct_dma_attach_created;
    vfio_direct_dma_attaching = NULL;
    if (!d) {
        return false;
    }
    trace_vfio_direct_dma_attach(vdev->vbasedev.name, created, d->plan,
                                 d->prefault_threads);
    if (!created) {
        vfio_direct_dma_check_settings(vdev, d);
    }
    /* a device joining after machine init waits for queued work */
    vfio_direct_dma_attached(vdev);
    return true;
}

int64_t vfio_direct_dma_clock(void)
{
    return get_clock();
}

void vfio_direct_dma_account(VFIOContainerBase *bcontainer, bool map,
                             uint64_t size, int ret, int64_t start)
{
    VFIODirectDma *d = vfio_direct_dma_get(bcontainer);
    int64_t ns = get_clock() - start;

    QEMU_LOCK_GUARD(&d->stats_lock);
    if (map) {
        d->stats.map_calls++;
        d->stats.map_ns += ns;
        if (ret) {
            d->stats.map_failures++;
        } else {
            d->mappings_made++;
            d->stats.map_bytes += size;
            d->stats.largest_mapping = MAX(d->stats.largest_mapping, size);
        }
    } else {
        d->stats.unmap_calls++;
        d->stats.unmap_ns += ns;
        if (!ret) {
            d->mappings_made--;
            d->stats.unmap_bytes += size;
        }
    }
}

/* Plain guest RAM on a type1 or iommufd container: ours */
static bool vfio_direct_dma_ours(VFIOContainerBase *bcontainer,
                                 MemoryRegionSection *section)
{
    VFIOIOMMUClass *vioc = VFIO_IOMMU_GET_CLASS(bcontainer);
    MemoryRegion *mr = section->mr;

    return vfio_direct_dma_get(bcontainer)->plan && !vioc->add_window &&
           memory_region_is_ram(mr) && !memory_region_is_iommu(mr) &&
           !memory_region_is_ram_device(mr) &&
           !memory_region_has_ram_discard_manager(mr);
}

/* The host-page-aligned part of @section, as upstream maps it */
static bool vfio_direct_dma_range(MemoryRegionSection *section,
                                  VFIODirectDmaRange *r)
{
    uint64_t start = section->offset_within_address_space;
    Int128 llend = int128_add(int128_make64(start), section->size);
    uint64_t iova = REAL_HOST_PAGE_ALIGN(start);

    llend = int128_and(llend, int128_exts64(qemu_real_host_page_mask()));
    if (int128_ge(int128_make64(iova), llend)) {
        return false;
    }
    r->iova = iova;
    r->size = int128_get64(int128_sub(llend, int128_make64(iova)));
    r->hva = (uintptr_t)memory_region_get_ram_ptr(section->mr) +
             section->offset_within_region + (iova - start);
    r->block = (uintptr_t)section->mr;
    r->readonly = section->readonly;
    return true;
}

/* Index of the first entry of sorted @a whose end is above @iova */
static guint vfio_direct_dma_find(GArray *a, uint64_t iova)
{
    guint lo = 0, hi = a->len;

    while (lo < hi) {
        guint mid = (lo + hi) / 2;
        VFIODirectDmaRange *m = &g_array_index(a, VFIODirectDmaRange, mid);

        if (m->iova + (m->size - 1) < iova) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void vfio_direct_dma_insert(GArray *a, const VFIODirectDmaRange *r)
{
    g_array_insert_val(a, vfio_direct_dma_find(a, r->iova), *r);
    memory_region_ref(entry_mr(r));
}

static void vfio_direct_dma_remove(GArray *a, guint i)
{
    MemoryRegion *mr = entry_mr(&g_array_index(a, VFIODirectDmaRange, i));

    g_array_remove_index(a, i);
    memory_region_unref(mr);
}

static int vfio_direct_dma_unmap_one(VFIOContainerBase *bcontainer,
                                     const VFIODirectDmaRange *m)
{
    int ret = vfio_container_dma_unmap(bcontainer, m->iova, m->size, NULL);

    trace_vfio_direct_dma_unmap(m->iova, m->size, ret);
    if (ret) {
        error_report("vfio: unmapping guest RAM at 0x%" PRIx64 " size 0x%"
                     PRIx64 " from the IOMMU failed: %s", m->iova, m->size,
                     strerror(-ret));
    }
    return ret;
}

/*
 * Another kind of section (a device BAR, an IOMMU region) takes iova
 * [@iova, @iova + @size) in this transaction: our mappings there must
 * go first, whole; commit maps again what is still wanted of them.
 * @size may be 2^64 (a vIOMMU region spanning the address space).
 */
static void vfio_direct_dma_evict(VFIOContainerBase *bcontainer,
                                  uint64_t iova, Int128 size)
{
    VFIODirectDma *d = vfio_direct_dma_get(bcontainer);
    size_t count;
    VFIODirectDmaRange *mapped = (VFIODirectDmaRange *)d->mapped->data;
    guint i = vfio_direct_dma_plan_overlap(mapped, d->mapped->len, iova, size,
                                           &count);
    /* behind queued work, the unmaps queue too (dma-queue.c) */
    uint64_t job = count && (vfio_direct_dma_queue_busy(bcontainer) ||
                             vfio_direct_dma_queue_allowed(bcontainer)) ?
                   vfio_direct_dma_queue_job(bcontainer) : 0;

    while (count--) {
        VFIODirectDmaRange *m = &g_array_index(d->mapped, VFIODirectDmaRange,
                                               i);

        trace_vfio_direct_dma_evict(m->iova, m->size, iova,
                                    int128_get64(int128_sub(
                                        int128_add(int128_make64(iova), size),
                                        int128_one())));
        if (job) {
            vfio_direct_dma_queue_add(bcontainer, job, m, false);
        } else {
            vfio_direct_dma_unmap_one(bcontainer, m);
        }
        vfio_direct_dma_remove(d->mapped, i);
        d->dirty = true;
    }
}

void vfio_direct_dma_mapped_insert(VFIODirectDma *d,
                                   const VFIODirectDmaRange *r)
{
    vfio_direct_dma_insert(d->mapped, r);
}

void vfio_direct_dma_mapped_remove(VFIODirectDma *d,
                                   const VFIODirectDmaRange *r)
{
    guint k = vfio_direct_dma_find(d->mapped, r->iova);

    if (k < d->mapped->len &&
        g_array_index(d->mapped, VFIODirectDmaRange, k).iova == r->iova &&
        g_array_index(d->mapped, VFIODirectDmaRange, k).size == r->size) {
        vfio_direct_dma_remove(d->mapped, k);
    }
}

bool vfio_direct_dma_region_add(VFIOContainerBase *bcontainer,
                                MemoryRegionSection *section)
{
    VFIODirectDma *d = vfio_direct_dma_get(bcontainer);
    VFIODirectDmaRange r;

    if (!vfio_direct_dma_ours(bcontainer, section)) {
        if (d->mapped->len) {
            vfio_direct_dma_evict(bcontainer,
                                  section->offset_within_address_space,
                                  section->size);
        }
        return false;
    }
    if (vfio_direct_dma_range(section, &r)) {
        trace_vfio_direct_dma_region_add(memory_region_name(section->mr),
                                         r.iova, r.size, r.hva, r.readonly);
        vfio_direct_dma_insert(d->want, &r);
        d->dirty = true;
    }
    return true;
}

bool vfio_direct_dma_region_del(VFIOContainerBase *bcontainer,
                                MemoryRegionSection *section)
{
    VFIODirectDma *d = vfio_direct_dma_get(bcontainer);
    VFIODirectDmaRange r;
    guint i;

    if (!vfio_direct_dma_ours(bcontainer, section)) {
        return false;
    }
    if (vfio_direct_dma_range(section, &r)) {
        i = vfio_direct_dma_find(d->want, r.iova);
        if (i < d->want->len &&
            g_array_index(d->want, VFIODirectDmaRange, i).iova == r.iova &&
            g_array_index(d->want, VFIODirectDmaRange, i).size == r.size) {
            trace_vfio_direct_dma_region_del(memory_region_name(section->mr),
                                             r.iova, r.size);
            vfio_direct_dma_remove(d->want, i);
            d->dirty = true;
        }
    }
    return true;
}

/* What the kernel still allows (DMA_AVAIL now), -1 when it does not say */
int64_t vfio_direct_dma_avail(VFIOContainerBase *bcontainer)
{
    VFIOContainer *container = (VFIOContainer *)
        object_dynamic_cast(OBJECT(bcontainer), TYPE_VFIO_IOMMU_LEGACY);
    g_autofree struct vfio_iommu_type1_info *info = NULL;
    uint32_t argsz = sizeof(*info), avail = 0;

    if (!container) {
        return -1;
    }
    for (;;) {
        info = g_realloc(info, argsz);
        memset(info, 0, argsz);
        info->argsz = argsz;
        if (ioctl(container->fd, VFIO_IOMMU_GET_INFO, info)) {
            return -1;
        }
        if (info->argsz <= argsz) {
            break;
        }
        argsz = info->argsz;
    }
    if (!vfio_get_info_dma_avail(info, &avail)) {
        return -1;
    }
    return avail;
}

/*
 * A plan failed, nothing of it is left mapped.  At realize the device
 * fails with @err; later the VM stops (dma-guard.c).  Either way the
 * next commit tries again.
 */
static void vfio_direct_dma_fail(VFIOContainerBase *bcontainer, Error *err)
{
    bcontainer->direct_dma->dirty = true;
    if (!bcontainer->initialized) {
        if (!bcontainer->error) {
            error_propagate(&bcontainer->error, err);
        } else {
            error_free(err);
        }
        return;
    }
    vfio_direct_dma_stop(bcontainer, err);
}

void vfio_direct_dma_commit(MemoryListener *listener)
{
    VFIOContainerBase *bcontainer = container_of(listener, VFIOContainerBase,
                                                 listener);
    VFIODirectDma *d = bcontainer->direct_dma;
    g_autoptr(GArray) old = NULL;
    VFIODirectDmaPlanConfig cfg = {
        .low_start = VFIO_DIRECT_DMA_LOW_START,
        .low_end = VFIO_DIRECT_DMA_LOW_END,
    };
    VFIODirectDmaPlan plan;
    Error *err = NULL;
    uint32_t reserve;
    uint64_t job = 0;
    guint i, done;

    if (!d || !d->dirty) {
        return;
    }
    d->dirty = false;
    /* Queued or synchronous: dma-queue.c's rule, points 1 and 4 */
    if (d->want->len && vfio_direct_dma_queue_allowed(bcontainer)) {
        job = vfio_direct_dma_queue_job(bcontainer);
    } else {
        vfio_direct_dma_queue_drain(bcontainer, "synchronous commit");
    }
    cfg.dma_avail = vfio_direct_dma_queue_avail(bcontainer);
    old = g_array_copy(d->mapped);
    vfio_direct_dma_plan(&cfg, (VFIODirectDmaRange *)old->data, old->len,
                         (VFIODirectDmaRange *)d->want->data, d->want->len,
                         &plan);
    trace_vfio_direct_dma_plan(old->len, plan.unmap->len, plan.map->len,
                               plan.map_bytes, plan.in_use, cfg.dma_avail);

    /* Dropping what is no longer wanted is always right: first */
    for (i = plan.unmap->len; i-- > 0;) {
        guint k = g_array_index(plan.unmap, guint, i);
        VFIODirectDmaRange *u = &g_array_index(old, VFIODirectDmaRange, k);

        if (job) {
            vfio_direct_dma_queue_add(bcontainer, job, u, false);
        } else {
            vfio_direct_dma_unmap_one(bcontainer, u);
        }
        vfio_direct_dma_remove(d->mapped, k);
    }

    /*
     * At realize, leave room for what the legacy window may need later
     * (the reset-time PAM/SMRAM split, firmware shadowing): a layout
     * that cannot hold it is refused now, not once the guest runs.
     */
    reserve = bcontainer->initialized ? 0 : plan.window_reserve;
    if (!plan.fits ||
        (plan.map->len && cfg.dma_avail >= 0 &&
         (uint64_t)plan.map->len + reserve >
         cfg.dma_avail + plan.unmap->len)) {
        g_autofree char *who = vfio_direct_dma_who(bcontainer);
        const VFIODirectDmaRange *first =
            &g_array_index(plan.map, VFIODirectDmaRange, 0);
        const VFIODirectDmaRange *last =
            &g_array_index(plan.map, VFIODirectDmaRange, plan.map->len - 1);

        d->stats.refused++;
        trace_vfio_direct_dma_refused(plan.map->len, cfg.dma_avail);
        error_setg(&err, "%s: guest RAM [0x%" PRIx64 ", 0x%" PRIx64 ") needs "
                   "%u IOMMU mappings%s but the host allows %" PRId64
                   " more (DMA_AVAIL): raise vfio_iommu_type1's "
                   "dma_entry_limit, or use fewer, larger memory devices",
                   who, first->iova, last->iova + last->size,
                   plan.map->len - plan.unmap->len + reserve,
                   reserve ? " with those the legacy window may need" : "",
                   cfg.dma_avail);
        vfio_direct_dma_fail(bcontainer, err);
        vfio_direct_dma_plan_free(&plan);
        return;
    }
    d->reserve = plan.window_reserve;
    if (!bcontainer->initialized &&
        !vfio_direct_dma_memlock_room(bcontainer, plan.map_bytes,
                                      "guest RAM", &err)) {
        d->stats.refused++;
        vfio_direct_dma_fail(bcontainer, err);
        vfio_direct_dma_plan_free(&plan);
        return;
    }

    for (done = 0; done < plan.map->len; done++) {
        VFIODirectDmaRange *m = &g_array_index(plan.map, VFIODirectDmaRange,
                                               done);
        int ret;

        if (m->size >= 2 * MiB && !vfio_direct_dma_congruent(m, 2 * MiB)) {
            d->stats.incongruent++;
            trace_vfio_direct_dma_incongruent(m->iova, m->hva, m->size);
        }
        if (job) {
            /* the worker maps; MAP_DMA faults the pages in itself */
            vfio_direct_dma_queue_add(bcontainer, job, m, true);
            vfio_direct_dma_insert(d->mapped, m);
            continue;
        }
        vfio_direct_prefault(d, entry_mr(m), m);
        ret = vfio_container_dma_map(bcontainer, m->iova, m->size,
                                     (void *)(uintptr_t)m->hva, m->readonly);
        trace_vfio_direct_dma_map(memory_region_name(entry_mr(m)), m->iova,
                                  m->size, m->hva, m->readonly, ret);
        if (ret) {
            g_autofree char *who = vfio_direct_dma_who(bcontainer);

            error_setg(&err, "%s: mapping guest RAM %s [0x%" PRIx64
                       ", 0x%" PRIx64 ") for DMA failed: %s%s", who,
                       memory_region_name(entry_mr(m)), m->iova,
                       m->iova + m->size, strerror(-ret),
                       ret == -ENOMEM ? " (raise the locked memory limit, "
                       "ulimit -l, to the guest's RAM size)" :
                       ret == -ENOSPC ? " (raise vfio_iommu_type1's "
                       "dma_entry_limit)" : "");
            break;
        }
        vfio_direct_dma_insert(d->mapped, m);
    }

    if (done < plan.map->len) {
        /* Leave nothing of this commit behind */
        trace_vfio_direct_dma_rollback(done);
        d->stats.rollbacks++;
        for (i = done; i-- > 0;) {
            VFIODirectDmaRange *m = &g_array_index(plan.map,
                                                   VFIODirectDmaRange, i);
            guint k = vfio_direct_dma_find(d->mapped, m->iova);

            vfio_direct_dma_unmap_one(bcontainer, m);
            vfio_direct_dma_remove(d->mapped, k);
        }
        vfio_direct_dma_fail(bcontainer, err);
    }
    vfio_direct_dma_plan_free(&plan);
}

bool vfio_direct_dma_room(VFIOContainerBase *bcontainer, uint64_t nr,
                          uint64_t granularity, Error **errp)
{
    int64_t avail = vfio_direct_dma_queue_avail(bcontainer);

    trace_vfio_direct_dma_room(nr, granularity, avail);
    if (avail >= 0 && nr > avail) {
        vfio_direct_dma_get(bcontainer)->stats.refused++;
        error_setg(errp, "vfio: plugging %" PRIu64 " blocks of 0x%" PRIx64
                   " bytes needs %" PRIu64 " IOMMU mappings but the host "
                   "allows %" PRId64 " more (DMA_AVAIL): use a larger "
                   "virtio-mem block-size, or raise vfio_iommu_type1's "
                   "dma_entry_limit",
                   nr, granularity, nr, avail);
        return false;
    }
    return true;
}

void vfio_direct_dma_finalize(VFIOContainerBase *bcontainer)
{
    VFIODirectDma *d = bcontainer->direct_dma;

    if (!d) {
        return;
    }
    vfio_direct_dma_queue_finalize(d);
    while (d->want->len) {
        vfio_direct_dma_remove(d->want, d->want->len - 1);
    }
    while (d->mapped->len) {
        vfio_direct_dma_remove(d->mapped, d->mapped->len - 1);
    }
    g_array_free(d->want, true);
    g_array_free(d->mapped, true);
    g_free(d->settings_from);
    g_free(d->tce);
    qemu_mutex_destroy(&d->stats_lock);
    g_free(d);
    bcontainer->direct_dma = NULL;
}

VfioDmaInfo *vfio_direct_dma_query(VFIOPCIDevice *vdev)
{
    VFIOContainerBase *bcontainer = vdev->vbasedev.bcontainer;
    VFIODirectDma *d = bcontainer ? bcontainer->direct_dma : NULL;
    VfioDmaInfo *info;
    int64_t avail;

    if (!d) {
        return NULL;
    }
    qemu_mutex_lock(&d->stats_lock);
    info = g_memdup2(&d->stats, sizeof(*info));
    qemu_mutex_unlock(&d->stats_lock);
    info->queue = vfio_direct_dma_queue_query(d);
    info->mappings = d->mapped->len;
    info->dma_limit = bcontainer->dma_max_mappings;
    avail = vfio_direct_dma_queue_avail(bcontainer);
    if (avail >= 0) {
        info->has_dma_avail = true;
        info->dma_avail = avail;
    }
    return info;
}

void vfio_direct_dma_class_init(ObjectClass *klass)
{
    object_class_property_set_description(klass, "x-dma-plan",
                                          "Map guest RAM to the IOMMU in as "
                                          "few mappings as type1 allows, "
                                          "pinning it once (applies to the "
                                          "container this device creates)");
    object_class_property_set_description(klass, "x-dma-async",
                                          "Map guest RAM to the IOMMU on a "
                                          "worker while the guest starts; "
                                          "Bus Master Enable waits for it "
                                          "(applies to the container this "
                                          "device creates)");
    object_class_property_set_description(klass, "x-dma-prefault-threads",
                                          "Threads that populate guest RAM "
                                          "before a large MAP_DMA, at most "
                                          "the host's CPUs; 0: off (applies "
                                          "to the container this device "
                                          "creates)");
}
