/*
 * vfio-kcheck - what the vfio-direct kernel series changes, seen from
 * userspace inside a test-bed L1 (tests/kernel/README.md).
 *
 *   vfio-kcheck BDF...
 *
 * Opens every BDF (bound to vfio-pci) through its group and a container
 * (type1, or sPAPR TCE v2 on pseries, where one group holds every device
 * of a PHB), all at once, and prints one JSON object per line:
 *
 *   {"bdf":..,"bar":N,"size":..,"flags":[..],"caps":[..],
 *    "mmap_region":"ok"|errno name, "msix": {...}, "span": {...}}
 *
 * for each memory BAR: the region-info flags and capability chain
 * (SPARSE_MMAP areas with an mmap of each, MSIX_MAPPABLE, and the series'
 * MMAP_SPAN), the BAR's host address (sysfs), an mmap of the whole region
 * rounded up to the page, for the MSI-X BAR an mmap of
 * the table's first page, and for a span capability an mmap of the span.
 * The first line is the host page size, {"page":N}.
 * Then, with every device still open (vfio-pci reserves the rest of a
 * sub-page BAR's page only while it is open), /proc/iomem as
 * {"iomem":[[start,end,depth,name],...]}.
 *
 * Copyright (c) 2026 vfio-direct
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "vfio-host.h"

/* The series' uAPI, for building against a header that predates it. */
#ifndef VFIO_REGION_INFO_CAP_MMAP_SPAN
#define VFIO_REGION_INFO_CAP_MMAP_SPAN 6
#define VFIO_REGION_SPAN_EXCLUSIVE (1 << 0)
struct vfio_region_info_cap_mmap_span {
    struct vfio_info_cap_header header;
    uint32_t flags;
    uint32_t __reserved;
    uint64_t offset;
    uint64_t size;
};
#endif

static long page;

/*
 * The groups opened so far: on pseries the devices of a PHB share one
 * group, which can be opened and put in a container only once.
 */
static VFIOHostGroup groups[64];
static int nr_groups;

static const char *errname(int e)
{
    switch (e) {
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case ENOMEM: return "ENOMEM";
    case EBUSY: return "EBUSY";
    case ENODEV: return "ENODEV";
    default: return strerror(e);
    }
}

static const char *try_mmap(int fd, uint64_t off, uint64_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

    if (p == MAP_FAILED) {
        return errname(errno);
    }
    munmap(p, len);
    return "ok";
}

static int open_device(const char *bdf)
{
    int num = vfio_host_group_of(bdf), dev;
    VFIOHostGroup *g = NULL;

    if (num < 0) {
        fprintf(stderr, "vfio-kcheck: %s: no IOMMU group\n", bdf);
        return -1;
    }
    for (int i = 0; i < nr_groups; i++) {
        if (groups[i].num == num) {
            g = &groups[i];
        }
    }
    if (!g) {
        if (nr_groups == (int)(sizeof(groups) / sizeof(groups[0]))) {
            fprintf(stderr, "vfio-kcheck: %s: more than %d groups\n", bdf,
                    nr_groups);
            return -1;
        }
        g = &groups[nr_groups];
        if (!vfio_host_group_open(g, num)) {
            fprintf(stderr, "vfio-kcheck: %s: group %d into a container: "
                    "%s: %s\n", bdf, num, g->failed, strerror(g->err));
            return -1;
        }
        nr_groups++;
    }
    dev = vfio_host_device_open(g, bdf);
    if (dev < 0) {
        fprintf(stderr, "vfio-kcheck: %s: GET_DEVICE_FD: %s\n", bdf,
                strerror(errno));
    }
    return dev;
}

static void print_bar(const char *bdf, int dev, int bar)
{
    struct vfio_info_cap_header *h;
    struct vfio_region_info *ri;
    uint64_t phys = 0, res_size, res_flags;
    uint8_t cfg[256];
    ssize_t len = vfio_host_device_config(dev, cfg, sizeof(cfg));
    VFIOHostMsix msix;
    const char *sep = "";
    unsigned hops = 0;
    uint32_t at;

    if (len < 0 || !vfio_host_msix(cfg, len, &msix)) {
        msix.table_bar = -1;
    }
    ri = vfio_host_region_info(dev, bar);
    if (!ri) {
        return;
    }
    if (!ri->size) {
        goto out;
    }
    vfio_host_sysfs_resource(bdf, bar, &phys, &res_size, &res_flags);
    printf("{\"bdf\":\"%s\",\"bar\":%d,\"size\":%llu,\"phys\":%llu,"
           "\"flags\":[", bdf, bar, (unsigned long long)ri->size,
           (unsigned long long)phys);
    if (ri->flags & VFIO_REGION_INFO_FLAG_READ) {
        printf("\"READ\""), sep = ",";
    }
    if (ri->flags & VFIO_REGION_INFO_FLAG_WRITE) {
        printf("%s\"WRITE\"", sep), sep = ",";
    }
    if (ri->flags & VFIO_REGION_INFO_FLAG_MMAP) {
        printf("%s\"MMAP\"", sep), sep = ",";
    }
    if (ri->flags & VFIO_REGION_INFO_FLAG_CAPS) {
        printf("%s\"CAPS\"", sep);
    }
    printf("],\"caps\":[");
    sep = "";
    at = (ri->flags & VFIO_REGION_INFO_FLAG_CAPS) ? ri->cap_offset : 0;
    while ((h = vfio_host_cap_next(ri, ri->argsz, &at, &hops))) {
        printf("%s{\"id\":%u,\"version\":%u", sep, h->id, h->version);
        if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
            struct vfio_region_info_cap_sparse_mmap *s = (void *)h;

            printf(",\"areas\":[");
            for (uint32_t i = 0; i < s->nr_areas; i++) {
                printf("%s[%llu,%llu,\"%s\"]", i ? "," : "",
                       (unsigned long long)s->areas[i].offset,
                       (unsigned long long)s->areas[i].size,
                       try_mmap(dev, ri->offset + s->areas[i].offset,
                                s->areas[i].size));
            }
            printf("]");
        } else if (h->id == VFIO_REGION_INFO_CAP_MMAP_SPAN) {
            struct vfio_region_info_cap_mmap_span *s = (void *)h;

            printf(",\"span_flags\":%u,\"offset\":%llu,\"span\":%llu,"
                   "\"mmap_span\":\"%s\"", s->flags,
                   (unsigned long long)s->offset, (unsigned long long)s->size,
                   try_mmap(dev, ri->offset, s->size));
        }
        printf("}");
        sep = ",";
    }
    printf("]");
    if (ri->flags & VFIO_REGION_INFO_FLAG_MMAP) {
        printf(",\"mmap_region\":\"%s\"",
               try_mmap(dev, ri->offset, (ri->size + page - 1) & ~(page - 1)));
    }
    if (msix.table_bar == bar) {
        printf(",\"msix\":{\"offset\":%u,\"size\":%u,\"mmap_table_page\":\"%s\"}",
               msix.table_offset, msix.table_size,
               try_mmap(dev, ri->offset + (msix.table_offset & ~(page - 1)),
                        page));
    }
    printf("}\n");
out:
    free(ri);
}

static void print_iomem(void)
{
    FILE *f = fopen("/proc/iomem", "r");
    char line[256];
    const char *sep = "";

    printf("{\"iomem\":[");
    while (f && fgets(line, sizeof(line), f)) {
        unsigned long long s, e;
        int depth = strspn(line, " ") / 2, n = 0;

        if (sscanf(line, " %llx-%llx : %n", &s, &e, &n) == 2 && n) {
            line[strcspn(line, "\n")] = 0;
            printf("%s[%llu,%llu,%d,\"%s\"]", sep, s, e, depth, line + n);
            sep = ",";
        }
    }
    printf("]}\n");
    if (f) {
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    int fails = 0;

    page = sysconf(_SC_PAGESIZE);
    if (argc < 2) {
        fprintf(stderr, "usage: vfio-kcheck BDF...\n");
        return 2;
    }
    printf("{\"page\":%ld}\n", page);
    for (int i = 1; i < argc; i++) {
        int dev = open_device(argv[i]);

        if (dev < 0) {
            fails++;
            continue;
        }
        for (int bar = 0; bar < 6; bar++) {
            print_bar(argv[i], dev, bar);
        }
        /* The device stays open until we exit. */
    }
    print_iomem();
    fflush(stdout);
    return fails ? 1 : 0;
}
