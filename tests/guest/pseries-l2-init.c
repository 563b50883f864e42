/*
 * pseries-l2-init.c - /init of the pseries bench L2 (pseries-subpage.py).
 *
 * A static program, the whole initramfs of a Linux L2 that runs under
 * nested KVM-HV in the pseries L1 with sdhci, i6300esb and pvpanic passed
 * through.  SLOF placed their BARs each on its own 64 KiB page; this packs
 * them as a BIOS would by the sizes the devices report (pack()), prints
 * where, then loads sdhci's register 0x40 through its sysfs resource
 * (iomem=relaxed) in timed loops that the host brackets with KVM's
 * mmio_exits counter:
 *
 *   BENCH-BAR NAME BDF START SIZE     one line per device, once packed
 *   BENCH-READY N                     N loads per loop; then, per loop:
 *   BENCH-BEGIN I                     the host reads the counters, then
 *   BENCH-END I NS VALUE              the loop took NS, the register read VALUE
 *   BENCH-DONE                        and the L2 powers off
 *
 * Each mark is followed by a 1 s pause so the host reads the counters
 * while the guest is idle.  Loads per loop: bench.loads=N on the kernel
 * command line (default 2000); loops: bench.rounds=R (default 3);
 * bench.pack=0 keeps SLOF's layout.
 *
 * bench.target=nvme-db benches nvme's doorbells instead, where SLOF put
 * its BAR0 (16 KiB: registers, doorbells at 0x1000, the MSI-X table at
 * 0x2000, all on one 64 KiB page): each access of a loop is a store of 0
 * to the admin submission queue's tail doorbell (the controller is never
 * enabled, no driver is loaded: nothing runs) and a load from it, so a
 * loop of N makes 2N accesses (BENCH-END's VALUE is the last load).
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SDHCI_CAPABILITIES 0x40
#define NVME_SQ0_TAIL      0x1000   /* the first doorbell */
#define NVME               3        /* its index in wanted[] */

static const struct {
    const char *name;
    unsigned vendor, device;
} wanted[] = {
    { "sdhci", 0x1b36, 0x0007 },
    { "i6300esb", 0x8086, 0x25ab },
    { "pvpanic", 0x1b36, 0x0011 },
    { "nvme", 0x1b36, 0x0010 },
};

/* What was found of each wanted device: its sysfs folder and BAR0. */
static struct {
    char dir[300];
    unsigned long long start, size;
} found[4];

static unsigned long read_hex(const char *dir, const char *file)
{
    char path[512], buf[64] = "";
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    f = fopen(path, "r");
    if (f) {
        if (!fgets(buf, sizeof(buf), f)) {
            buf[0] = 0;
        }
        fclose(f);
    }
    return strtoul(buf, NULL, 16);
}

static long cmdline_value(const char *key, long dflt)
{
    char buf[4096] = "", *p;
    FILE *f = fopen("/proc/cmdline", "r");

    if (f) {
        if (!fgets(buf, sizeof(buf), f)) {
            buf[0] = 0;
        }
        fclose(f);
    }
    p = strstr(buf, key);
    return p ? strtol(p + strlen(key), NULL, 0) : dflt;
}

static int cmdline_has(const char *word)
{
    return cmdline_value(word, -1) != -1;
}

static void mark(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void mark(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    sleep(1);
}

static uint32_t config_rw(const char *dir, int reg, uint32_t val, int write)
{
    char path[320];
    uint32_t le = val;
    int fd;

    snprintf(path, sizeof(path), "%s/config", dir);
    fd = open(path, O_RDWR);
    if (fd < 0) {
        return ~0u;
    }
    if (write) {
        if (pwrite(fd, &le, 4, reg) != 4) {
            le = ~0u;
        }
    } else if (pread(fd, &le, 4, reg) != 4) {
        le = ~0u;
    }
    close(fd);
    return le;
}

/*
 * Pack the three BAR0s as a BIOS would: from sdhci's bus address, in
 * order of descending size at natural alignment, each BAR the size the
 * device reports (the base: 256 + 16 + 16 bytes, one 64 KiB page; ours
 * with x-bar-page-align=auto: a page each).  SLOF gave each its own page.
 * Other devices' BARs are written first, sdhci's last, with memory
 * decoding off meanwhile; the CPU address moves with the bus address.
 */
static void pack(void)
{
    uint64_t next, bus[3];
    uint64_t offset;

    if (!found[0].size || !found[1].size || !found[2].size) {
        return;
    }
    bus[0] = config_rw(found[0].dir, 0x10, 0, 0) & ~0xfu;
    offset = found[0].start - bus[0];
    next = bus[0] + found[0].size;
    for (int i = 1; i < 3; i++) {
        next = (next + found[i].size - 1) & ~(found[i].size - 1);
        bus[i] = next;
        next += found[i].size;
    }
    for (int i = 2; i >= 0; i--) {
        uint32_t cmd = config_rw(found[i].dir, 0x04, 0, 0) & 0xffff;

        config_rw(found[i].dir, 0x04, cmd & ~2u, 1);
        config_rw(found[i].dir, 0x10, bus[i], 1);
        config_rw(found[i].dir, 0x04, cmd | 2u, 1);
        found[i].start = bus[i] + offset;
    }
    for (int i = 0; i < 3; i++) {
        printf("BENCH-BAR %s %s 0x%llx 0x%llx\n", wanted[i].name,
               strrchr(found[i].dir, '/') + 1, found[i].start, found[i].size);
    }
}

/*
 * Map the 64 KiB page of @dev's BAR0 that holds @offset of it, or NULL;
 * volatile: each access of the loops must reach the device.
 */
static volatile uint32_t *map_bar0(int dev, unsigned offset, int prot)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long at = found[dev].start + offset;
    char res[320];
    void *map;
    int bar;

    snprintf(res, sizeof(res), "%s/resource0", found[dev].dir);
    bar = open(res, O_RDWR | O_SYNC);
    map = bar < 0 ? MAP_FAILED :
          mmap(NULL, page, prot, MAP_SHARED, bar,
               (at & ~(page - 1)) - (found[dev].start & ~(page - 1)));
    if (map == MAP_FAILED) {
        printf("BENCH-ERROR cannot map %s (iomem=relaxed?)\n", res);
        return NULL;
    }
    return (volatile uint32_t *)((char *)map + (at & (page - 1)));
}

static void power_off(void)
{
    sync();
    reboot(RB_POWER_OFF);
    for (;;) {
        pause();
    }
}

int main(void)
{
    static const char pci[] = "/sys/bus/pci/devices";
    volatile uint32_t *reg = NULL;
    long loads, rounds;
    int doorbell;
    struct dirent *e;
    DIR *d;
    int fd;

    mkdir("/dev", 0755);
    mkdir("/proc", 0755);
    mkdir("/sys", 0755);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    fd = open("/dev/console", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    loads = cmdline_value("bench.loads=", 2000);
    rounds = cmdline_value("bench.rounds=", 3);

    d = opendir(pci);
    while (d && (e = readdir(d))) {
        char dir[300], res[320];
        unsigned long long start = 0, end = 0, flags = 0;
        unsigned vendor, device;
        FILE *f;

        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(dir, sizeof(dir), "%s/%s", pci, e->d_name);
        vendor = read_hex(dir, "vendor");
        device = read_hex(dir, "device");
        snprintf(res, sizeof(res), "%s/resource", dir);
        f = fopen(res, "r");
        if (f) {
            if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3) {
                start = end = 0;
            }
            fclose(f);
        }
        for (unsigned i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
            if (vendor != wanted[i].vendor || device != wanted[i].device) {
                continue;
            }
            snprintf(found[i].dir, sizeof(found[i].dir), "%s", dir);
            found[i].start = start;
            found[i].size = end - start + 1;
        }
    }
    doorbell = cmdline_has("bench.target=nvme-db");
    if (doorbell) {
        if (found[NVME].size) {
            /* SLOF's place; memory decoding on, for the loads */
            uint32_t cmd = config_rw(found[NVME].dir, 0x04, 0, 0) & 0xffff;

            config_rw(found[NVME].dir, 0x04, cmd | 2u, 1);
            reg = map_bar0(NVME, NVME_SQ0_TAIL, PROT_READ | PROT_WRITE);
        }
    } else if (found[0].size) {
        reg = map_bar0(0, SDHCI_CAPABILITIES, PROT_READ);
    }
    if (!doorbell && cmdline_value("bench.pack=", 1)) {
        pack();
    } else {
        for (int i = 0; i < 4; i++) {
            if (found[i].size) {
                printf("BENCH-BAR %s %s 0x%llx 0x%llx\n", wanted[i].name,
                       strrchr(found[i].dir, '/') + 1, found[i].start,
                       found[i].size);
            }
        }
    }
    fflush(stdout);
    if (!reg) {
        mark("BENCH-ERROR no %s BAR to load from", doorbell ? "nvme" : "sdhci");
        power_off();
    }

    mark("BENCH-READY %ld", loads);
    for (long r = 0; r < rounds; r++) {
        struct timespec t0, t1;
        uint32_t v = 0;

        mark("BENCH-BEGIN %ld", r);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (doorbell) {
            for (long i = 0; i < loads; i++) {
                *reg = 0;
                v = *reg;
            }
        } else {
            for (long i = 0; i < loads; i++) {
                v = *reg;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        mark("BENCH-END %ld %lld 0x%x", r,
             (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL +
             (t1.tv_nsec - t0.tv_nsec), v);
    }
    mark("BENCH-DONE");
    power_off();
    return 0;
}
