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
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

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
static struct {
    char name[32];
    int fd;
} groups[64];
static int nr_groups;

/* Type1 v2 where the kernel has it, else sPAPR TCE v2 (pseries). */
static int iommu_type(int container)
{
    if (ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1) {
        return VFIO_TYPE1v2_IOMMU;
    }
    return VFIO_SPAPR_TCE_v2_IOMMU;
}

/* The open group @name, or -1. */
static int group_opened(const char *name)
{
    for (int i = 0; i < nr_groups; i++) {
        if (!strcmp(groups[i].name, name)) {
            return groups[i].fd;
        }
    }
    return -1;
}

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
    char path[PATH_MAX], link[PATH_MAX];
    struct vfio_group_status st = { .argsz = sizeof(st) };
    ssize_t n;
    int container, group, dev;
    const char *g;

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
    n = readlink(path, link, sizeof(link) - 1);
    if (n < 0) {
        fprintf(stderr, "vfio-kcheck: %s: no IOMMU group\n", bdf);
        return -1;
    }
    link[n] = 0;
    g = strrchr(link, '/') + 1;
    group = group_opened(g);
    if (group >= 0) {
        goto get_device;
    }
    snprintf(path, sizeof(path), "/dev/vfio/%s", g);
    container = open("/dev/vfio/vfio", O_RDWR);
    group = open(path, O_RDWR);
    if (container < 0 || group < 0) {
        fprintf(stderr, "vfio-kcheck: %s: open %s: %s\n", bdf, path,
                strerror(errno));
        return -1;
    }
    if (ioctl(group, VFIO_GROUP_GET_STATUS, &st) ||
        !(st.flags & VFIO_GROUP_FLAGS_VIABLE) ||
        ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
        ioctl(container, VFIO_SET_IOMMU, iommu_type(container))) {
        fprintf(stderr, "vfio-kcheck: %s: group %s into a container: %s\n",
                bdf, g, strerror(errno));
        return -1;
    }
    if (nr_groups < (int)(sizeof(groups) / sizeof(groups[0]))) {
        snprintf(groups[nr_groups].name, sizeof(groups[0].name), "%s", g);
        groups[nr_groups++].fd = group;
    }
get_device:
    dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
    if (dev < 0) {
        fprintf(stderr, "vfio-kcheck: %s: GET_DEVICE_FD: %s\n", bdf,
                strerror(errno));
    }
    return dev;
}

/* The MSI-X table's BAR, offset and size from config space; -1: none. */
static int msix_table(int dev, uint32_t *offset, uint32_t *size)
{
    struct vfio_region_info cfg = { .argsz = sizeof(cfg),
                                    .index = VFIO_PCI_CONFIG_REGION_INDEX };
    uint8_t c[256];
    int pos, guard = 0;

    if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &cfg) ||
        pread(dev, c, sizeof(c), cfg.offset) != sizeof(c) || !(c[6] & 0x10)) {
        return -1;
    }
    for (pos = c[0x34] & ~3; pos && guard++ < 48; pos = c[pos + 1] & ~3) {
        if (c[pos] == 0x11) {
            uint16_t ctl = c[pos + 2] | c[pos + 3] << 8;
            uint32_t t = c[pos + 4] | c[pos + 5] << 8 | c[pos + 6] << 16 |
                         (uint32_t)c[pos + 7] << 24;

            *offset = t & ~7u;
            *size = ((ctl & 0x7ff) + 1) * 16;
            return t & 7;
        }
    }
    return -1;
}

/* The BAR's host physical start, from sysfs. */
static unsigned long long bar_start(const char *bdf, int bar)
{
    char path[PATH_MAX];
    unsigned long long start = 0, end, flags;
    FILE *f;

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
    f = fopen(path, "r");
    for (int i = 0; f && i <= bar; i++) {
        if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3) {
            start = 0;
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return start;
}

static void print_bar(const char *bdf, int dev, int bar)
{
    struct vfio_region_info *ri;
    size_t argsz = sizeof(*ri);
    uint32_t toff = 0, tsize = 0;
    int tbar = msix_table(dev, &toff, &tsize);
    const char *sep = "";
    uint32_t at;

    ri = calloc(1, argsz);
    ri->argsz = argsz;
    ri->index = bar;
    if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, ri)) {
        goto out;
    }
    if (ri->argsz > argsz) {
        argsz = ri->argsz;
        ri = realloc(ri, argsz);
        memset(ri, 0, argsz);
        ri->argsz = argsz;
        ri->index = bar;
        if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, ri)) {
            goto out;
        }
    }
    if (!ri->size) {
        goto out;
    }
    printf("{\"bdf\":\"%s\",\"bar\":%d,\"size\":%llu,\"phys\":%llu,"
           "\"flags\":[", bdf, bar, (unsigned long long)ri->size,
           bar_start(bdf, bar));
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
    for (int guard = 0; at && at + sizeof(struct vfio_info_cap_header) <= argsz &&
                        guard < 16; guard++) {
        struct vfio_info_cap_header *h = (void *)((char *)ri + at);

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
        at = h->next;
    }
    printf("]");
    if (ri->flags & VFIO_REGION_INFO_FLAG_MMAP) {
        printf(",\"mmap_region\":\"%s\"",
               try_mmap(dev, ri->offset, (ri->size + page - 1) & ~(page - 1)));
    }
    if (tbar == bar) {
        printf(",\"msix\":{\"offset\":%u,\"size\":%u,\"mmap_table_page\":\"%s\"}",
               toff, tsize,
               try_mmap(dev, ri->offset + (toff & ~(page - 1)), page));
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
