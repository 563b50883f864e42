/*
 * vfio-type1-stats - the type1 statistics capability (K5, linux/0005)
 * against independent oracles, inside a test-bed L1.
 *
 *   vfio-type1-stats BDF
 *
 * Opens BDF (bound to vfio-pci) alone in a type1 container and maps, one
 * case at a time: 4 KiB anonymous pages (MADV_NOHUGEPAGE), transparent
 * huge pages (MADV_HUGEPAGE), 2 MiB hugetlbfs pages (MAP_HUGETLB) and an
 * mmap of the device's BAR0 (VM_PFNMAP).  For each case it prints one JSON
 * line with the capability's counters before and after the MAP_DMA and
 * what the oracles say the kernel must have done:
 *
 *   {"case":..,"pages":N,"want_hist":{"log2":runs,..},"pinned":..,
 *    "pfnmap":..,"vmlck_kb":..,"before":{..},"after":{..}}
 *
 * want_hist is the histogram of physically contiguous runs found in
 * /proc/self/pagemap (the BAR: its sysfs resource, one run), with every
 * run one page when vfio_iommu_type1's disable_hugepages is set; vmlck_kb
 * is the growth of VmLck (type1 charges pinned pages to locked_vm).  The
 * container has one group, so one domain: each run is one iommu_map().
 * Then everything is unmapped and a line {"case":"unmapped",..} follows.
 * Without the capability (a stock kernel) it prints {"stats":null}.
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

#include "type1-stats.h"
#include "vfio-host.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif

#define HUGE (2UL << 20)
#define BUCKETS VFIO_IOMMU_TYPE1_STATS_RUN_BUCKETS

static long page;
static int container = -1;
static uint64_t next_iova = 1UL << 32;

static void die(const char *what)
{
    fprintf(stderr, "vfio-type1-stats: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* BDF's group into a type1v2 container of its own; the device fd. */
static int open_device(const char *bdf)
{
    VFIOHostGroup g;
    int dev;

    if (!vfio_host_group_open(&g, vfio_host_group_of(bdf)) ||
        g.iommu_type != VFIO_TYPE1v2_IOMMU) {
        errno = g.failed ? g.err : ENODEV;
        die(g.failed ? g.failed : "group into a type1 container");
    }
    container = g.container;
    dev = vfio_host_device_open(&g, bdf);
    if (dev < 0) {
        die("VFIO_GROUP_GET_DEVICE_FD");
    }
    return dev;
}

/* The statistics capability now; false when the kernel has none. */
static int read_stats(struct vfio_iommu_type1_info_cap_stats *out)
{
    int version = type1_stats(container, out);

    if (version < 0) {
        die("VFIO_IOMMU_GET_INFO");
    }
    return version > 0;
}

static void print_stats(const char *name,
                        const struct vfio_iommu_type1_info_cap_stats *s)
{
    const char *sep = "";

    printf("\"%s\":{\"dma_entries\":%llu,\"pinned\":%llu,\"pfnmap\":%llu,"
           "\"map_calls\":%llu,\"buckets\":%u,\"hist\":{", name,
           (unsigned long long)s->dma_entries,
           (unsigned long long)s->pinned_pages,
           (unsigned long long)s->pfnmap_pages,
           (unsigned long long)s->iommu_map_calls, s->nr_run_buckets);
    for (int i = 0; i < BUCKETS; i++) {
        if (s->run_hist[i]) {
            printf("%s\"%d\":%llu", sep, i, (unsigned long long)s->run_hist[i]);
            sep = ",";
        }
    }
    printf("}}");
}

static long vmlck_kb(void)
{
    int64_t bytes = vfio_host_vmlck(getpid());

    return bytes < 0 ? -1 : bytes / 1024;
}

static int read_flag(const char *path)
{
    FILE *f = fopen(path, "r");
    int c = f ? fgetc(f) : EOF;

    if (f) {
        fclose(f);
    }
    return c == 'Y' || c == '1';
}

static int ilog2u(uint64_t v)
{
    int l = -1;

    while (v) {
        v >>= 1;
        l++;
    }
    return l < BUCKETS ? l : BUCKETS - 1;
}

/*
 * The runs of [va, va + len) from /proc/self/pagemap into want[]: a run
 * ends where the next page's frame does not follow (or at every page when
 * type1 maps page by page).
 */
static void pagemap_runs(void *va, size_t len, int per_page, uint64_t *want)
{
    size_t n = len / page;
    uint64_t *pm = calloc(n, sizeof(*pm));
    uint64_t run = 0, prev = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY);

    if (fd < 0 || pread(fd, pm, n * sizeof(*pm),
                        (uintptr_t)va / page * sizeof(*pm)) != (ssize_t)(n * sizeof(*pm))) {
        die("/proc/self/pagemap");
    }
    close(fd);
    for (size_t i = 0; i < n; i++) {
        uint64_t pfn = pm[i] & ((1ULL << 55) - 1);

        if (!(pm[i] >> 63) || !pfn) {
            fprintf(stderr, "vfio-type1-stats: page %zu not present or no PFN"
                    " in pagemap\n", i);
            exit(1);
        }
        if (run && (per_page || pfn != prev + 1)) {
            want[ilog2u(run)]++;
            run = 0;
        }
        run++;
        prev = pfn;
    }
    want[ilog2u(run)]++;
    free(pm);
}

static void print_hist(const char *name, const uint64_t *h)
{
    const char *sep = "";

    printf("\"%s\":{", name);
    for (int i = 0; i < BUCKETS; i++) {
        if (h[i]) {
            printf("%s\"%d\":%llu", sep, i, (unsigned long long)h[i]);
            sep = ",";
        }
    }
    printf("}");
}

/*
 * One case: MAP_DMA [va, va + len) at a fresh IOVA, print the counters
 * around it and the oracles.  bar: va is a BAR's mmap (one run of
 * contiguous frames), else memory (runs from pagemap).
 */
static void map_case(const char *name, void *va, size_t len, int bar,
                     const char *extra)
{
    struct vfio_iommu_type1_info_cap_stats before, after;
    struct vfio_iommu_type1_dma_map map = {
        .argsz = sizeof(map),
        .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        .vaddr = (uintptr_t)va,
        .iova = next_iova,
        .size = len,
    };
    int per_page = read_flag("/sys/module/vfio_iommu_type1/parameters/disable_hugepages");
    uint64_t want[BUCKETS] = { 0 };
    long lck0 = vmlck_kb(), lck1;

    read_stats(&before);
    if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map)) {
        fprintf(stderr, "vfio-type1-stats: %s: MAP_DMA: %s\n", name,
                strerror(errno));
        exit(1);
    }
    next_iova += (len + HUGE - 1) / HUGE * HUGE + HUGE;
    lck1 = vmlck_kb();
    read_stats(&after);
    if (bar) {
        /* A BAR is physically contiguous: one run, unless page by page. */
        if (per_page) {
            want[0] = len / page;
        } else {
            want[ilog2u(len / page)] = 1;
        }
    } else {
        /* MAP_DMA pinned the pages: pagemap shows where they are. */
        pagemap_runs(va, len, per_page, want);
    }
    printf("{\"case\":\"%s\",\"pages\":%zu,\"disable_hugepages\":%d,"
           "\"vmlck_kb\":%ld,%s", name, len / page, per_page, lck1 - lck0,
           extra ? extra : "");
    print_hist("want_hist", want);
    printf(",");
    print_stats("before", &before);
    printf(",");
    print_stats("after", &after);
    printf("}\n");
    fflush(stdout);
}

/* len bytes of anonymous memory aligned to 2 MiB, advised and touched. */
static void *anon(size_t len, int advice, int flags)
{
    char *p = mmap(NULL, len + HUGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    char *a;

    if (p == MAP_FAILED) {
        return NULL;
    }
    a = (char *)(((uintptr_t)p + HUGE - 1) & ~(HUGE - 1));
    if (advice >= 0 && madvise(a, len, advice)) {
        die("madvise");
    }
    for (size_t i = 0; i < len; i += page) {
        a[i] = 1;
    }
    return a;
}

/* AnonHugePages of the mapping holding va, in kB (smaps). */
static long anon_huge_kb(void *va)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[256];
    int in = 0;
    long kb = -1;

    while (f && fgets(line, sizeof(line), f)) {
        unsigned long s, e;

        if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') <
            strchr(line, ' ')) {
            in = (uintptr_t)va >= s && (uintptr_t)va < e;
        } else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return kb;
}

int main(int argc, char **argv)
{
    struct vfio_iommu_type1_info_cap_stats s;
    struct vfio_region_info bar = { .argsz = sizeof(bar),
                                    .index = VFIO_PCI_BAR0_REGION_INDEX };
    char extra[64];
    void *va;
    int dev;

    page = sysconf(_SC_PAGESIZE);
    if (argc != 2) {
        fprintf(stderr, "usage: vfio-type1-stats BDF\n");
        return 2;
    }
    dev = open_device(argv[1]);
    if (!read_stats(&s)) {
        printf("{\"stats\":null}\n");
        return 0;
    }
    printf("{\"stats\":\"present\",\"page\":%ld,", page);
    print_stats("open", &s);
    printf("}\n");

    va = anon(512 * page, MADV_NOHUGEPAGE, 0);
    map_case("anon-4k", va, 512 * page, 0, NULL);

    va = anon(4 * HUGE, MADV_HUGEPAGE, 0);
    snprintf(extra, sizeof(extra), "\"anon_huge_kb\":%ld,", anon_huge_kb(va));
    map_case("thp", va, 4 * HUGE, 0, extra);

    va = anon(2 * HUGE, -1, MAP_HUGETLB | MAP_HUGE_2MB);
    if (!va) {
        printf("{\"case\":\"hugetlb\",\"error\":\"%s\"}\n", strerror(errno));
    } else {
        map_case("hugetlb", (char *)va, 2 * HUGE, 0, NULL);
    }

    if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar) || !bar.size ||
        !(bar.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
        fprintf(stderr, "vfio-type1-stats: BAR0 cannot be mapped\n");
        return 1;
    }
    va = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev,
              bar.offset);
    if (va == MAP_FAILED) {
        die("mmap BAR0");
    }
    map_case("bar", va, bar.size, 1, NULL);

    {
        struct vfio_iommu_type1_dma_unmap unmap = {
            .argsz = sizeof(unmap),
            .flags = VFIO_DMA_UNMAP_FLAG_ALL,
        };
        long lck0 = vmlck_kb();

        if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap)) {
            die("UNMAP_DMA all");
        }
        read_stats(&s);
        printf("{\"case\":\"unmapped\",\"vmlck_kb\":%ld,", vmlck_kb() - lck0);
        print_stats("after", &s);
        printf("}\n");
    }
    return 0;
}
