/*
 * vfio-direct: "info vfio", the text form of x-query-vfio
 *
 * Every line "info vfio" prints is printed here, from the QMP data that
 * x-query-vfio returns (query.c assembles it from each capability's
 * part), so the two can never disagree and no capability prints text of
 * its own.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <linux/vfio.h>
#include "qapi/qapi-commands-vfio-direct.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"

/* "rw-m-" style summary of VFIO_REGION_INFO_FLAG_* */
static void hmp_info_vfio_flags_str(uint32_t flags, char *buf)
{
    buf[0] = flags & VFIO_REGION_INFO_FLAG_READ ? 'r' : '-';
    buf[1] = flags & VFIO_REGION_INFO_FLAG_WRITE ? 'w' : '-';
    buf[2] = flags & VFIO_REGION_INFO_FLAG_MMAP ? 'm' : '-';
    buf[3] = flags & VFIO_REGION_INFO_FLAG_CAPS ? 'c' : '-';
    buf[4] = '\0';
}

static void hmp_info_vfio_region(Monitor *mon, VfioRegionInfo *region)
{
    VfioRegionCapList *cap;
    VfioRegionAreaList *area;
    char flags[5];

    hmp_info_vfio_flags_str(region->flags, flags);
    monitor_printf(mon, "    %-4u 0x%-12" PRIx64 " 0x%-14" PRIx64 " %s",
                   region->index, region->size, region->offset, flags);
    for (cap = region->caps; cap; cap = cap->next) {
        monitor_printf(mon, " %s(%u)", VfioRegionCapType_str(cap->value->type),
                       cap->value->id);
    }
    monitor_printf(mon, "\n");
    for (area = region->sparse_mmap_areas; area; area = area->next) {
        monitor_printf(mon, "        mmap area 0x%" PRIx64 "-0x%" PRIx64 "\n",
                       area->value->offset,
                       area->value->offset + area->value->size - 1);
    }
}

static void hmp_info_vfio_bar(Monitor *mon, VfioBarInfo *bar)
{
    VfioBarRangeList *r;

    monitor_printf(mon, "    BAR%u %s size 0x%" PRIx64 " guest-size 0x%"
                   PRIx64, bar->index, VfioBarType_str(bar->type),
                   bar->size, bar->guest_size);
    if (bar->has_address) {
        monitor_printf(mon, " at 0x%" PRIx64, bar->address);
    } else {
        monitor_printf(mon, " unmapped");
    }
    if (bar->has_cpu_address) {
        monitor_printf(mon, " (cpu 0x%" PRIx64 ")", bar->cpu_address);
    }
    monitor_printf(mon, " subpage %s\n", VfioSubpageState_str(bar->subpage));
    monitor_printf(mon, "      trapped reads %" PRIu64 " writes %" PRIu64 "\n",
                   bar->trapped_reads, bar->trapped_writes);
    for (r = bar->ranges; r; r = r->next) {
        VfioBarRange *range = r->value;

        monitor_printf(mon, "      0x%08" PRIx64 "-0x%08" PRIx64 " %s",
                       range->offset, range->offset + range->size - 1,
                       VfioBarRangeKind_str(range->kind));
        if (range->has_reason) {
            monitor_printf(mon, " (%s)",
                           VfioBarRangeReason_str(range->reason));
        }
        monitor_printf(mon, "\n");
    }
}

static void hmp_info_vfio_msix(Monitor *mon, VfioMsixInfo *msix)
{
    monitor_printf(mon, "  MSI-X: %u entries, table BAR%u+0x%" PRIx32
                   ", PBA BAR%u+0x%" PRIx32 ", table %s, %s\n",
                   msix->entries, msix->table_bar, msix->table_offset,
                   msix->pba_bar, msix->pba_offset,
                   msix->emulated ? "emulated" : "not emulated",
                   msix->mappable ? "mappable" : "not mappable (carved out)");
    if (msix->has_relocated_from) {
        monitor_printf(mon, "    relocated from BAR%u%s\n",
                       msix->relocated_from,
                       msix->relocation_auto ? " (x-msix-relocation=auto)" :
                       "");
    }
    if (msix->has_msi_isolation) {
        bool known = msix->msi_isolation != VFIO_MSI_ISOLATION_UNKNOWN;

        monitor_printf(mon, "    MSI isolation: %s\n",
                       msix->msi_isolation == VFIO_MSI_ISOLATION_VFIO ?
                       "yes (vfio's allow_unsafe_interrupts is off)" :
                       msix->msi_isolation == VFIO_MSI_ISOLATION_KERNEL ?
                       "yes (the kernel reports MSIX_MAPPABLE with "
                       "MMAP_SPAN)" :
                       "not known (allow_unsafe_interrupts on or unknown, a "
                       "stock kernel's MSIX_MAPPABLE): the guest never "
                       "reaches the device's table, moved or not");
        if (msix->table_page_shared) {
            monitor_printf(mon, "    0x%" PRIx64 " bytes share the table's "
                           "host pages and trap; %s\n",
                           msix->table_page_shared,
                           known ? "x-msix-relocation=auto would make them "
                           "direct" : "relocation would not make them "
                           "direct");
        }
    }
}

static void hmp_info_vfio_queue(Monitor *mon, VfioDmaQueueInfo *q)
{
    monitor_printf(mon, "    async: %" PRIu64 " jobs, %" PRIu64
                   " queued (%" PRIu64 " bytes)%s; ", q->jobs, q->queued,
                   q->queued_bytes, q->failed ? ", FAILED" : "");
    if (q->has_mapped_ns) {
        monitor_printf(mon, "fully mapped after %" PRIu64 " ms",
                       q->mapped_ns / 1000000);
    } else {
        monitor_printf(mon, "not fully mapped yet");
    }
    monitor_printf(mon, "; gate waited %" PRIu64 " times, %" PRIu64
                   " ms", q->gate_waits, q->gate_wait_ns / 1000000);
    if (q->gate_device) {
        monitor_printf(mon, " (last: %s, %s)", q->gate_device,
                       q->gate_event);
    }
    monitor_printf(mon, "\n");
}

static void hmp_info_vfio_dma(Monitor *mon, VfioDmaInfo *info)
{
    monitor_printf(mon, "  DMA: planner %s, %" PRIu64 " mappings, ",
                   info->planner ? "on" : "off", info->mappings);
    if (info->dma_limit) {
        monitor_printf(mon, "limit %" PRIu64, info->dma_limit);
    } else {
        monitor_printf(mon, "no limit stated");  /* iommufd */
    }
    if (info->has_dma_avail) {
        monitor_printf(mon, ", %" PRIu64 " more allowed", info->dma_avail);
    }
    monitor_printf(mon, "\n    map %" PRIu64 " calls %" PRIu64 " bytes "
                   "(largest 0x%" PRIx64 ", %" PRIu64 " failed) %" PRIu64
                   " us; unmap %" PRIu64 " calls %" PRIu64 " bytes %" PRIu64
                   " us\n", info->map_calls, info->map_bytes,
                   info->largest_mapping, info->map_failures,
                   info->map_ns / 1000, info->unmap_calls, info->unmap_bytes,
                   info->unmap_ns / 1000);
    monitor_printf(mon, "    prefault %" PRIu64 " bytes %" PRIu64 " us (%"
                   PRIu64 " threads); incongruent %" PRIu64 ", refused %"
                   PRIu64 ", rollbacks %" PRIu64 ", VM stops %" PRIu64 "\n",
                   info->prefault_bytes, info->prefault_ns / 1000,
                   info->prefault_threads, info->incongruent, info->refused,
                   info->rollbacks, info->stops);
    if (info->queue->async) {
        hmp_info_vfio_queue(mon, info->queue);
    }
}

static void hmp_info_vfio_tce(Monitor *mon, VfioTceInfo *info)
{
    monitor_printf(mon, "    TCE: %" PRIu64 " updates in %" PRIu64
                   " map runs and %" PRIu64 " unmap runs (largest %" PRIu64
                   " TCEs), %" PRIu64 " rollbacks\n", info->entries,
                   info->map_runs, info->unmap_runs, info->largest_run,
                   info->rollbacks);
}

static void hmp_info_vfio_prereg(Monitor *mon, VfioPreregInfo *info)
{
    monitor_printf(mon, "  prereg: %" PRIu64 " registrations in use, %"
                   PRIu64 " bytes\n    register %" PRIu64 " calls %" PRIu64
                   " bytes (largest 0x%" PRIx64 ", %" PRIu64 " failed) %"
                   PRIu64 " us; unregister %" PRIu64 " calls %" PRIu64
                   " bytes (%" PRIu64 " failed) %" PRIu64 " us\n",
                   info->registrations, info->registered_bytes,
                   info->register_calls, info->register_bytes, info->largest,
                   info->register_failures, info->register_ns / 1000,
                   info->unregister_calls, info->unregister_bytes,
                   info->unregister_failures, info->unregister_ns / 1000);
}

static void hmp_info_vfio_ddw(Monitor *mon, VfioDdwInfo *info)
{
    monitor_printf(mon, "  DDW: host IOMMU page sizes 0x%" PRIx64 ", RAM "
                   "pages 0x%" PRIx64 ": guest page sizes 0x%" PRIx64
                   " can be backed; %" PRIu64 " windows refused\n",
                   info->host_page_sizes, info->ram_page_size,
                   info->page_sizes, info->refused);
}

static void hmp_info_vfio_type1(Monitor *mon, VfioType1Stats *stats)
{
    VfioType1RunList *run;

    monitor_printf(mon, "    kernel type1: %" PRIu64 " entries, %" PRIu64
                   " pinned + %" PRIu64 " pfnmap pages, %" PRIu64
                   " iommu_map calls", stats->dma_entries,
                   stats->pinned_pages, stats->pfnmap_pages,
                   stats->iommu_map_calls);
    if (stats->has_revoked) {
        monitor_printf(mon, ", %" PRIu64 " revoked", stats->revoked);
    }
    monitor_printf(mon, "\n      runs (pages: calls):");
    for (run = stats->runs; run; run = run->next) {
        monitor_printf(mon, " 2^%u: %" PRIu64, run->value->log2_pages,
                       run->value->calls);
    }
    monitor_printf(mon, "%s\n", stats->runs ? "" : " none");
}

void hmp_info_vfio(Monitor *mon, const QDict *qdict)
{
    g_autoptr(VfioPciDeviceInfoList) list = NULL;
    VfioPciDeviceInfoList *dev;
    Error *err = NULL;

    list = qmp_x_query_vfio(&err);
    if (hmp_handle_error(mon, err)) {
        return;
    }
    if (!list) {
        monitor_printf(mon, "No vfio-pci devices\n");
        return;
    }

    for (dev = list; dev; dev = dev->next) {
        VfioPciDeviceInfo *info = dev->value;
        VfioRegionInfoList *region;
        VfioBarInfoList *bar;

        monitor_printf(mon, "vfio-pci %s: id %s, %s, host page 0x%" PRIx64
                       "\n", info->host, info->id ?: "(none)",
                       info->qom_path, info->host_page_size);
        monitor_printf(mon, "  regions (empty ones omitted):\n");
        monitor_printf(mon, "    %-4s %-14s %-16s %-4s %s\n",
                       "idx", "size", "fd offset", "flag", "caps");
        for (region = info->regions; region; region = region->next) {
            if (region->value->size) {
                hmp_info_vfio_region(mon, region->value);
            }
        }
        monitor_printf(mon, "  BARs:\n");
        for (bar = info->bars; bar; bar = bar->next) {
            hmp_info_vfio_bar(mon, bar->value);
        }
        if (info->msix) {
            hmp_info_vfio_msix(mon, info->msix);
        }
        if (info->dma) {
            hmp_info_vfio_dma(mon, info->dma);
            if (info->dma->tce) {
                hmp_info_vfio_tce(mon, info->dma->tce);
            }
            if (info->dma->prereg) {
                hmp_info_vfio_prereg(mon, info->dma->prereg);
            }
            if (info->dma->ddw) {
                hmp_info_vfio_ddw(mon, info->dma->ddw);
            }
            if (info->dma->kernel) {
                hmp_info_vfio_type1(mon, info->dma->kernel);
            }
        }
    }
}
