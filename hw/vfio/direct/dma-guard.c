/*
 * vfio-direct: no silent DMA failure
 *
 * What: guest RAM that a passed-through device cannot reach through
 * the IOMMU must never be RAM the guest uses.  Whatever can fail
 * predictably is refused before the guest sees it, in one line: at
 * realize, a plan that leaves no room for the legacy window's later
 * split (DMA_AVAIL), more RAM to pin than RLIMIT_MEMLOCK allows; at a
 * memory device's pre_plug (pc-dimm, nvdimm, virtio-mem), RAM that no
 * container could map.  Whatever fails once the guest may run (a
 * MAP_DMA, a plan that does not fit) is reported in one line naming
 * the devices, the range, the errno and what to change, after the
 * operation's own mappings were rolled back, and the VM stops
 * (RUN_STATE_INTERNAL_ERROR: "cont" is refused until a reset, which
 * maps again).  Before the guest's first instruction QEMU exits instead.
 * Why: upstream stops QEMU (hw_error) on such failures; we used to
 * report and let the guest run, and the IOMMU then dropped the device's
 * writes to that RAM: silent data corruption.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/resource.h>
#include "qemu/error-report.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "exec/memory.h"
#include "exec/address-spaces.h"
#include "hw/qdev-core.h"
#include "hw/vfio/vfio-common.h"
#include "hw/vfio/vfio-container-base.h"
#include "hw/vfio/vfio-direct-dma.h"
#include "system/runstate.h"
#include "system/cpus.h"
#include "dma.h"
#include "dma-queue.h"
#include "trace.h"

char *vfio_direct_dma_who(VFIOContainerBase *bcontainer)
{
    GString *s = g_string_new("vfio");
    VFIODevice *vbasedev;
    const char *sep = " ";

    QLIST_FOREACH(vbasedev, &bcontainer->device_list, container_next) {
        const char *id = vbasedev->dev ? vbasedev->dev->id : NULL;

        g_string_append_printf(s, "%s%s", sep, vbasedev->name);
        if (id) {
            g_string_append_printf(s, " (%s)", id);
        }
        sep = ", ";
    }
    return g_string_free(s, false);
}

/* /proc/self/status field @name in kB, or -1 */
int64_t vfio_direct_dma_status(const char *name)
{
    g_autofree char *text = NULL;
    const char *p;

    if (!g_file_get_contents("/proc/self/status", &text, NULL, NULL)) {
        return -1;
    }
    p = strstr(text, name);
    return p ? g_ascii_strtoll(p + strlen(name), NULL, 10) : -1;
}

/* Does type1 charge our pins to RLIMIT_MEMLOCK (no CAP_IPC_LOCK)? */
static bool vfio_direct_dma_charged(void)
{
    g_autofree char *text = NULL;
    const char *p;

    if (!g_file_get_contents("/proc/self/status", &text, NULL, NULL)) {
        return true;
    }
    p = strstr(text, "CapEff:");
    if (!p) {
        return true;
    }
    return !(g_ascii_strtoull(p + 7, NULL, 16) & (1ULL << 14));
}

bool vfio_direct_dma_memlock_room(VFIOContainerBase *bcontainer,
                                  uint64_t bytes, const char *what,
                                  Error **errp)
{
    struct rlimit rl;
    int64_t locked;
    uint64_t left;

    if (!bytes || !vfio_direct_dma_charged() ||
        getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY) {
        return true;
    }
    locked = vfio_direct_dma_queue_locked(bcontainer,
                                          vfio_direct_dma_status("VmLck:"));
    if (locked < 0) {
        return true;
    }
    /* what the queue will still pin is not in VmLck yet */
    bytes += vfio_direct_dma_queue_pending_bytes(bcontainer);
    left = rl.rlim_cur > locked * KiB ? rl.rlim_cur - locked * KiB : 0;
    trace_vfio_direct_dma_memlock(bytes, rl.rlim_cur, locked * KiB);
    if (bytes > left) {
        g_autofree char *who = vfio_direct_dma_who(bcontainer);

        error_setg(errp, "%s: pinning %s for DMA needs %" PRIu64 " MiB of "
                   "locked memory but RLIMIT_MEMLOCK leaves %" PRIu64
                   " MiB: raise the limit (ulimit -l) to at least %" PRIu64
                   " MiB", who, what, DIV_ROUND_UP(bytes, MiB), left / MiB,
                   DIV_ROUND_UP(locked * KiB + bytes, MiB));
        return false;
    }
    return true;
}

/* Containers that map guest RAM themselves: type1 on system memory */
static bool vfio_direct_dma_maps_ram(VFIOContainerBase *bcontainer)
{
    VFIOIOMMUClass *vioc = VFIO_IOMMU_GET_CLASS(bcontainer);

    return !vioc->add_window &&
           bcontainer->space->as == &address_space_memory;
}

bool vfio_direct_dma_memory_pre_plug(DeviceState *dev, MemoryRegion *mr,
                                     Error **errp)
{
    g_autoptr(GPtrArray) seen = g_ptr_array_new();
    const char *id = dev->id ? dev->id : object_get_typename(OBJECT(dev));
    g_autofree char *what = g_strdup_printf("memory device %s (%" PRIu64
                                            " MiB)", id,
                                            memory_region_size(mr) / MiB);
    VFIODevice *vbasedev;

    QLIST_FOREACH(vbasedev, &vfio_device_list, global_next) {
        VFIOContainerBase *bcontainer = vbasedev->bcontainer;
        VFIODirectDma *d;
        int64_t avail;
        uint64_t need;

        if (!bcontainer || g_ptr_array_find(seen, bcontainer, NULL) ||
            !vfio_direct_dma_maps_ram(bcontainer)) {
            continue;
        }
        g_ptr_array_add(seen, bcontainer);
        d = vfio_direct_dma_get(bcontainer);
        /*
         * A virtio-mem device maps block by block as the guest plugs
         * them, each plug checked then (vfio_direct_dma_room); its
         * blocks are pinned only then too.
         */
        if (memory_region_has_ram_discard_manager(mr)) {
            continue;
        }
        need = 1 + d->reserve;
        avail = vfio_direct_dma_queue_avail(bcontainer);
        trace_vfio_direct_dma_pre_plug(id, memory_region_size(mr), need,
                                       avail);
        if (avail >= 0 && need > avail) {
            g_autofree char *who = vfio_direct_dma_who(bcontainer);

            d->stats.refused++;
            error_setg(errp, "%s: %s needs %" PRIu64 " IOMMU mapping(s) "
                       "(with %u kept for the legacy window) but the host "
                       "allows %" PRId64 " more (DMA_AVAIL): raise "
                       "vfio_iommu_type1's dma_entry_limit, or use fewer, "
                       "larger memory devices", who, what, need, d->reserve,
                       avail);
            return false;
        }
        if (!vfio_direct_dma_memlock_room(bcontainer,
                                          memory_region_size(mr) *
                                          seen->len, what, errp)) {
            d->stats.refused++;
            return false;
        }
    }
    return true;
}

void vfio_direct_dma_stop(VFIOContainerBase *bcontainer, Error *err)
{
    VFIODirectDma *d = vfio_direct_dma_get(bcontainer);

    d->stats.stops++;
    if (runstate_is_running() || runstate_check(RUN_STATE_SUSPENDED)) {
        error_report("%s; stopping the VM: its devices cannot reach that "
                     "RAM", error_get_pretty(err));
        error_free(err);
        trace_vfio_direct_dma_stop(runstate_get());
        if (qemu_in_vcpu_thread()) {
            vm_stop(RUN_STATE_INTERNAL_ERROR);
        } else {
            /* maybe inside a memory commit: let the main loop stop it */
            qemu_system_vmstop_request_prepare();
            qemu_system_vmstop_request(RUN_STATE_INTERNAL_ERROR);
        }
        return;
    }
    if (runstate_check(RUN_STATE_INTERNAL_ERROR)) {
        /* stopped already: report, stay stopped */
        error_report_err(err);
        return;
    }
    /* The guest has not run yet (or is paused): refuse to go on */
    error_report("%s; exiting: the guest's devices could not reach that "
                 "RAM", error_get_pretty(err));
    error_free(err);
    trace_vfio_direct_dma_stop(runstate_get());
    exit(1);
}
