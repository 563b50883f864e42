/*
 * l2-touch.c - read one 32-bit register of a PCI device in a loop.
 *
 *   l2-touch BDF BAR OFFSET COUNT
 *
 * Runs in the demo's L2 guest (tests/demo/l2-init.sh).  Maps BAR of the
 * device BDF through its sysfs resource file (the kernel needs
 * iomem=relaxed when a driver owns the device), loads the register at
 * OFFSET COUNT times and prints one line.  The mapping starts at the host
 * page that holds the BAR, so a BAR that does not start a page (a small
 * BAR packed with others) is found at its offset in that page, read from
 * the device's "resource" file.
 *
 *   TOUCH BDF BAR OFFSET COUNT VALUE NS
 *
 * Under KVM each load either stays in the guest (the BAR's page is mapped
 * directly) or exits to QEMU: the host counts the exits.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char path[256], line[256];
    unsigned long long start = 0, end, flags;
    unsigned long n;
    FILE *f;
    struct timespec t0, t1;
    unsigned long bar, off, count, i;
    volatile uint32_t *reg;
    uint32_t val = 0;
    void *map;
    long page = sysconf(_SC_PAGESIZE);
    int fd;

    if (argc != 5) {
        fprintf(stderr, "usage: l2-touch BDF BAR OFFSET COUNT\n");
        return 2;
    }
    bar = strtoul(argv[2], NULL, 0);
    off = strtoul(argv[3], NULL, 0);
    count = strtoul(argv[4], NULL, 0);
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%lu",
             argv[1], bar);
    snprintf(line, sizeof(line), "/sys/bus/pci/devices/%s/resource", argv[1]);
    f = fopen(line, "r");
    for (n = 0; f && n <= bar && fgets(line, sizeof(line), f); n++) {
        if (n == bar &&
            sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3) {
            start = 0;
        }
    }
    if (f) {
        fclose(f);
    }
    off += start & (page - 1);
    fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    map = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
               off & ~(page - 1));
    if (map == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    reg = (volatile uint32_t *)((char *)map + (off & (page - 1)));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < count; i++) {
        val = *reg;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("TOUCH %s %lu 0x%lx %lu 0x%08x %lld\n", argv[1], bar, off, count,
           val, (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL +
           (t1.tv_nsec - t0.tv_nsec));
    return 0;
}
