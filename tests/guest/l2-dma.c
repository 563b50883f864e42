/*
 * l2-dma.c - move data through a block device by DMA and check it.
 *
 *   l2-dma DEVICE BLOCKS [SPREAD-MIB]
 *
 * Runs in the L2 guest (tests/demo/l2-init.sh, l2.mode=dma) right after
 * its drivers probed: the device (an nvme namespace passed through from
 * the L1) writes and reads guest RAM itself, so every byte that arrives
 * went through the host IOMMU's mappings of that RAM.
 *
 * Takes SPREAD-MIB of anonymous memory (default: three quarters of
 * MemAvailable), faulted in, so that its pages come from all over guest
 * RAM; puts BLOCKS write buffers of 64 KiB spread evenly over its first
 * half and as many read buffers over its second half.  Writes each write
 * buffer (a pattern unique to the block and the run) with O_DIRECT to
 * the device at block i, then reads every block back with O_DIRECT into
 * its read buffer, first filled with 0xa5, and compares.  Prints
 *
 *   L2-DMA OK|FAIL blocks N bytes B mismatches M errors E
 *          phys 0xLOW-0xHIGH ms T
 *
 * phys: the lowest and highest guest-physical address of the buffers
 * (/proc/self/pagemap), to show how far over RAM the DMA went; errors:
 * failed or short reads and writes (the first one also on a line of its
 * own).  Exit status 0 only when every block came back equal.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (64 * 1024)
#define PAGE 4096

static uint64_t mem_available(void)
{
    char line[256];
    unsigned long long kib = 0;
    FILE *f = fopen("/proc/meminfo", "r");

    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return kib * 1024;
}

/* Guest-physical address of the page at @p, or 0 when unknown */
static uint64_t phys_of(int pagemap, const void *p)
{
    uint64_t e;
    off_t off = (off_t)((uintptr_t)p / PAGE) * sizeof(e);

    if (pagemap < 0 || pread(pagemap, &e, sizeof(e), off) != sizeof(e) ||
        !(e & (1ULL << 63))) {
        return 0;
    }
    return (e & ((1ULL << 55) - 1)) * PAGE;
}

static void fill(uint64_t *w, unsigned long block, uint64_t seed)
{
    size_t i;

    for (i = 0; i < BLOCK / sizeof(*w); i++) {
        w[i] = seed ^ ((uint64_t)block << 32) ^ (i * 0x9e3779b97f4a7c15ULL);
    }
}

int main(int argc, char **argv)
{
    unsigned long blocks, i, mismatches = 0, errors = 0;
    uint64_t spread, stride, lo = UINT64_MAX, hi = 0, seed;
    struct timespec t0, t1;
    char *mem;
    int fd, pagemap;

    if (argc < 3) {
        fprintf(stderr, "usage: l2-dma DEVICE BLOCKS [SPREAD-MIB]\n");
        return 2;
    }
    blocks = strtoul(argv[2], NULL, 0);
    spread = argc > 3 ? strtoull(argv[3], NULL, 0) << 20
                      : mem_available() / 4 * 3;
    stride = spread / 2 / blocks / PAGE * PAGE;
    if (!blocks || stride < BLOCK) {
        printf("L2-DMA FAIL %lu blocks do not fit in %llu MiB\n", blocks,
               (unsigned long long)(spread >> 20));
        return 1;
    }
    mem = mmap(NULL, spread, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    fd = open(argv[1], O_RDWR | O_DIRECT);
    if (mem == MAP_FAILED || fd < 0) {
        printf("L2-DMA FAIL %s: %s\n", mem == MAP_FAILED ? "mmap" : argv[1],
               strerror(errno));
        return 1;
    }
    /* every page its own: no zero-page sharing, no THP merging later */
    memset(mem, 0x5a, spread);
    pagemap = open("/proc/self/pagemap", O_RDONLY);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    seed = ((uint64_t)t0.tv_nsec << 20) ^ (uint64_t)getpid();

    for (i = 0; i < blocks; i++) {
        char *w = mem + i * stride;
        ssize_t n;

        fill((uint64_t *)w, i, seed);
        n = pwrite(fd, w, BLOCK, (off_t)i * BLOCK);
        if (n != BLOCK && !errors++) {
            printf("L2-DMA error: write of block %lu: %zd (%s)\n", i, n,
                   n < 0 ? strerror(errno) : "short");
        }
    }
    if (fsync(fd) && !errors++) {
        printf("L2-DMA error: fsync: %s\n", strerror(errno));
    }
    for (i = 0; i < blocks; i++) {
        char *w = mem + i * stride;
        char *r = mem + spread / 2 + i * stride;
        uint64_t pw = phys_of(pagemap, w), pr = phys_of(pagemap, r);
        ssize_t n;

        memset(r, 0xa5, BLOCK);
        n = pread(fd, r, BLOCK, (off_t)i * BLOCK);
        if (n != BLOCK && !errors++) {
            printf("L2-DMA error: read of block %lu: %zd (%s)\n", i, n,
                   n < 0 ? strerror(errno) : "short");
        }
        if (memcmp(w, r, BLOCK)) {
            if (!mismatches) {
                printf("L2-DMA error: block %lu differs (buffers at "
                       "0x%llx, 0x%llx)\n", i, (unsigned long long)pw,
                       (unsigned long long)pr);
            }
            mismatches++;
        }
        if (pw) {
            lo = pw < lo ? pw : lo;
            hi = pw > hi ? pw : hi;
        }
        if (pr) {
            lo = pr < lo ? pr : lo;
            hi = pr > hi ? pr : hi;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("L2-DMA %s blocks %lu bytes %lu mismatches %lu errors %lu "
           "phys 0x%llx-0x%llx ms %ld\n",
           mismatches || errors ? "FAIL" : "OK", blocks, blocks * BLOCK * 2,
           mismatches, errors, lo == UINT64_MAX ? 0ULL :
           (unsigned long long)lo, (unsigned long long)hi,
           (long)((t1.tv_sec - t0.tv_sec) * 1000 +
                  (t1.tv_nsec - t0.tv_nsec) / 1000000));
    return mismatches || errors ? 1 : 0;
}
