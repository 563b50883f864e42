/*
 * vfio-peer-bar - a peer's BAR mapped for DMA outlives the peer's mapping?
 * (K4, linux/0006) inside a test-bed L1.
 *
 *   vfio-peer-bar EDU_A EDU_B [RESET_BDF]
 *
 * Two QEMU "edu" devices and, optionally, a device with a function reset
 * (nvme) are opened in one type1 container.  edu A is the DMA engine: it
 * copies 4 bytes from guest RAM (mapped at IOVA 1 MiB) into its buffer and
 * from there to an IOVA.  edu B's BAR0 mmap is mapped at IOVA 16 MiB, so
 * that A writes B's liveness register (+4, which reads back as the
 * complement of what was written).  Steps, one JSON line each:
 *
 *   baseline    A writes B through the IOMMU: landed
 *   decode-off  B's memory decode off (vfio-pci zaps the BAR), A writes
 *   decode-on   decode on again, A writes: landed or not
 *   unmap       UNMAP_DMA of B's IOVA: its result
 *   reset       RESET_BDF's BAR0 mapped at 32 MiB, VFIO_DEVICE_RESET, A
 *               writes its IOVA
 *   close       B mapped again, munmap and close of B's fd, A writes B,
 *               B reopened: landed or not
 *
 * Each line has the type1 statistics (K5; "revoked" from version 2) and
 * the number of DMAR fault lines in the kernel log for that IOVA so far
 * (the intel-iommu of the L1 reports a DMA the IOMMU refused).  A stock
 * kernel keeps the stale mapping: A's write lands, no fault.
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
#include <sys/klog.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "type1-stats.h"
#include "vfio-host.h"

#define IOVA_RAM   0x100000ULL
#define IOVA_B     0x1000000ULL
#define IOVA_RESET 0x2000000ULL

/* QEMU's edu device (docs/specs/edu.rst) */
#define EDU_LIVENESS 0x04
#define EDU_DMA_SRC  0x80
#define EDU_DMA_DST  0x88
#define EDU_DMA_CNT  0x90
#define EDU_DMA_CMD  0x98
#define EDU_DMA_RUN  1
#define EDU_DMA_TO_PCI 2
#define EDU_BUF      0x40000

static int container = -1;

struct dev {
    const char *bdf;
    VFIOHostGroup group;
    int fd;
    uint64_t cfg_off, bar_off, bar_size;
    volatile uint8_t *bar;
};

static void die(const char *what)
{
    fprintf(stderr, "vfio-peer-bar: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* d's group into the container of @peer's (NULL: a new type1 one). */
static void group_join(struct dev *d, const struct dev *peer)
{
    if (!vfio_host_group_join(&d->group, vfio_host_group_of(d->bdf),
                              peer ? &peer->group : NULL) ||
        d->group.iommu_type != VFIO_TYPE1v2_IOMMU) {
        errno = d->group.failed ? d->group.err : ENODEV;
        die(d->group.failed ? d->group.failed : "no type1 container");
    }
    container = d->group.container;
}

/* Open d and mmap len bytes of its BAR0 (0: all of it). */
static void dev_open(struct dev *d, uint64_t len)
{
    struct vfio_region_info r = { .argsz = sizeof(r) };

    d->fd = vfio_host_device_open(&d->group, d->bdf);
    if (d->fd < 0) {
        die("VFIO_GROUP_GET_DEVICE_FD");
    }
    r.index = VFIO_PCI_CONFIG_REGION_INDEX;
    if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &r)) {
        die("config region");
    }
    d->cfg_off = r.offset;
    r.index = VFIO_PCI_BAR0_REGION_INDEX;
    if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &r) ||
        !(r.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
        die("BAR0 region");
    }
    d->bar_off = r.offset;
    d->bar_size = len ? len : r.size;
    d->bar = mmap(NULL, d->bar_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd,
                  r.offset);
    if (d->bar == MAP_FAILED) {
        die("mmap BAR0");
    }
}

static void dev_close(struct dev *d)
{
    munmap((void *)d->bar, d->bar_size);
    close(d->fd);
}

/* Set (on) or clear command register bits through vfio-pci. */
static void command(struct dev *d, uint16_t bits, int on)
{
    uint16_t cmd;

    if (pread(d->fd, &cmd, 2, d->cfg_off + 4) != 2) {
        die("read command");
    }
    cmd = on ? cmd | bits : cmd & ~bits;
    if (pwrite(d->fd, &cmd, 2, d->cfg_off + 4) != 2) {
        die("write command");
    }
}

static uint32_t rd32(struct dev *d, unsigned off)
{
    return *(volatile uint32_t *)(d->bar + off);
}

static void wr64(struct dev *d, unsigned off, uint64_t v)
{
    *(volatile uint64_t *)(d->bar + off) = v;
}

static void edu_dma(struct dev *a, uint64_t src, uint64_t dst, uint32_t cmd)
{
    struct timespec ts = { 0, 10 * 1000 * 1000 };

    wr64(a, EDU_DMA_SRC, src);
    wr64(a, EDU_DMA_DST, dst);
    wr64(a, EDU_DMA_CNT, 4);
    wr64(a, EDU_DMA_CMD, cmd | EDU_DMA_RUN);
    for (int i = 0; i < 1000 && (rd32(a, EDU_DMA_CMD) & EDU_DMA_RUN); i++) {
        nanosleep(&ts, NULL);
    }
}

/* A writes v to IOVA dst: RAM -> A's buffer -> dst. */
static void a_writes(struct dev *a, volatile uint32_t *ram, uint32_t v,
                     uint64_t dst)
{
    *ram = v;
    edu_dma(a, IOVA_RAM, EDU_BUF, 0);
    edu_dma(a, EDU_BUF, dst, EDU_DMA_TO_PCI);
}

static int map(void *va, uint64_t iova, uint64_t size)
{
    struct vfio_iommu_type1_dma_map m = {
        .argsz = sizeof(m),
        .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        .vaddr = (uintptr_t)va, .iova = iova, .size = size,
    };

    return ioctl(container, VFIO_IOMMU_MAP_DMA, &m) ? -errno : 0;
}

static int unmap(uint64_t iova, uint64_t size)
{
    struct vfio_iommu_type1_dma_unmap u = {
        .argsz = sizeof(u), .iova = iova, .size = size,
    };

    return ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u) ? -errno : 0;
}

/* Type1 statistics (K5): entries, pfnmap pages, revoked (-1: none) */
static void stats(long long *entries, long long *pfnmap, long long *revoked)
{
    struct vfio_iommu_type1_info_cap_stats s;
    int version = type1_stats(container, &s);

    if (version < 0) {
        die("VFIO_IOMMU_GET_INFO");
    }
    *entries = version ? (long long)s.dma_entries : -1;
    *pfnmap = version ? (long long)s.pfnmap_pages : -1;
    *revoked = version >= 2 ? (long long)s.revoked_mappings : -1;
}

/* DMAR fault lines for page iova in the kernel log */
static int faults(uint64_t iova)
{
    static char buf[1 << 20];
    char pat[64];
    int n = klogctl(3, buf, sizeof(buf) - 1), count = 0;

    if (n < 0) {
        return -1;
    }
    buf[n] = 0;
    snprintf(pat, sizeof(pat), "fault addr 0x%llx ", (unsigned long long)iova);
    for (char *p = buf; (p = strstr(p, pat)); p++) {
        count++;
    }
    return count;
}

static void report(const char *step, const char *extra)
{
    long long e, p, r;

    /* The fault event is reported by the L1's IOMMU driver, let it run */
    usleep(200 * 1000);
    stats(&e, &p, &r);
    printf("{\"step\":\"%s\",%s%s\"dma_entries\":%lld,\"pfnmap\":%lld,"
           "\"revoked\":%lld,\"faults_b\":%d,\"faults_reset\":%d}\n", step,
           extra ? extra : "", extra ? "," : "", e, p, r, faults(IOVA_B),
           faults(IOVA_RESET));
    fflush(stdout);
}

static void landed(const char *step, struct dev *b, uint32_t v)
{
    char extra[96];
    uint32_t got = rd32(b, EDU_LIVENESS);

    snprintf(extra, sizeof(extra), "\"landed\":%s,\"liveness\":\"0x%x\"",
             got == ~v ? "true" : "false", got);
    report(step, extra);
}

int main(int argc, char **argv)
{
    struct dev a = { .bdf = argv[1] }, b = { .bdf = argv[2] };
    struct dev r = { .bdf = argc > 3 ? argv[3] : NULL };
    volatile uint32_t *ram;
    char extra[64];
    int ret;

    if (argc < 3) {
        fprintf(stderr, "usage: vfio-peer-bar EDU_A EDU_B [RESET_BDF]\n");
        return 2;
    }
    group_join(&a, NULL);
    group_join(&b, &a);
    if (r.bdf) {
        group_join(&r, &a);
    }
    dev_open(&a, 0);
    dev_open(&b, 0);
    command(&a, 0x6, 1);            /* memory decode, bus master */
    command(&b, 0x2, 1);
    ram = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (ram == MAP_FAILED || map((void *)ram, IOVA_RAM, 4096) ||
        map((void *)b.bar, IOVA_B, b.bar_size)) {
        die("MAP_DMA of RAM and B's BAR0");
    }

    a_writes(&a, ram, 0x1111, IOVA_B + EDU_LIVENESS);
    landed("baseline", &b, 0x1111);

    command(&b, 0x2, 0);
    a_writes(&a, ram, 0x2222, IOVA_B + EDU_LIVENESS);
    report("decode-off", NULL);

    command(&b, 0x2, 1);
    a_writes(&a, ram, 0x3333, IOVA_B + EDU_LIVENESS);
    landed("decode-on", &b, 0x3333);

    ret = unmap(IOVA_B, b.bar_size);
    snprintf(extra, sizeof(extra), "\"unmap\":%d", ret);
    report("unmap", extra);

    if (r.bdf) {
        struct vfio_device_info info = { .argsz = sizeof(info) };

        /* Its first page: without isolated MSI (K2) not the MSI-X table */
        dev_open(&r, getpagesize());
        if (ioctl(r.fd, VFIO_DEVICE_GET_INFO, &info) ||
            !(info.flags & VFIO_DEVICE_FLAGS_RESET)) {
            report("reset", "\"reset\":\"unsupported\"");
        } else if ((ret = map((void *)r.bar, IOVA_RESET, r.bar_size))) {
            snprintf(extra, sizeof(extra), "\"map\":%d", ret);
            report("reset", extra);
        } else {
            ret = ioctl(r.fd, VFIO_DEVICE_RESET) ? -errno : 0;
            /* a reserved register of nvme: nothing to see on the device */
            a_writes(&a, ram, 0x4444, IOVA_RESET + 0xe00);
            snprintf(extra, sizeof(extra), "\"reset\":%d,\"unmap\":%d", ret,
                     unmap(IOVA_RESET, r.bar_size));
            report("reset", extra);
        }
        dev_close(&r);
    }

    if (map((void *)b.bar, IOVA_B, b.bar_size)) {
        die("MAP_DMA of B's BAR0 again");
    }
    dev_close(&b);
    a_writes(&a, ram, 0x5555, IOVA_B + EDU_LIVENESS);
    dev_open(&b, 0);
    command(&b, 0x2, 1);
    landed("close", &b, 0x5555);
    ret = unmap(IOVA_B, b.bar_size);
    snprintf(extra, sizeof(extra), "\"unmap\":%d", ret);
    report("close-unmap", extra);
    return 0;
}
