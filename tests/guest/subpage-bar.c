/*
 * subpage-bar.c - firmware (L2 guest) of the BAR access benchmarks.
 *
 * Acts like a packing BIOS, then times loads from one register of one
 * device (the target):
 *
 *  1. enumerates bus 0 through 0xcf8/0xcfc, sizes every memory BAR and
 *     places them in order of descending size, each at its natural
 *     alignment, from 0xc0000000 up.  With real BAR sizes the 256-byte
 *     sdhci BAR and the two 16-byte BARs (i6300esb, pvpanic) share one
 *     4 KiB page; when vfio-direct's x-bar-page-align presents each as a
 *     page, each gets a page of its own.  Memory decoding is then enabled;
 *  2. prints the layout on the debug console (I/O port 0x402) and waits
 *     for commands on COM1, so the runner can snapshot KVM's exit counters
 *     just before and after the timed loop:
 *       t  print the TSC ("tsc 0x...")          (runner calibrates the TSC)
 *       g  do N 32-bit loads of the target register, print the TSC cycles
 *       lN\n  set N (decimal) for the following "g"
 *       q  halt
 *     N starts as the fw_cfg file "opt/vfio-direct/loads".
 *
 * The target is the fw_cfg file "opt/vfio-direct/target",
 * "VVVVDDDD:B:OFFSET" in hex (vendor and device ID, BAR, offset); without
 * it, sdhci's capabilities register (1b360007:0:40).
 *
 * Built freestanding for i386 (-m32 -ffreestanding -nostdlib), no writable
 * data, no libgcc (no 64-bit division).  Entry: subpage-bar-entry.S.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdint.h>

#define DEBUGCON        0x402
#define COM1            0x3f8
#define FW_CFG_SEL      0x510
#define FW_CFG_DATA     0x511
#define FW_CFG_FILE_DIR 0x19

#define PCI_ADDR        0xcf8
#define PCI_DATA        0xcfc
#define PCI_COMMAND_MEM 0x2

#define MMIO_WINDOW     0xc0000000u
#define MMIO_WINDOW_END 0xfec00000u
#define MAX_BARS        64

/* sdhci's capabilities: constant, no side effect */
#define DEFAULT_TARGET_ID   0x00071b36u     /* as config dword 0 reads */
#define DEFAULT_TARGET_REG  0x40
#define DEFAULT_LOADS       100000

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;

    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;

    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;

    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

/* Output on the debug console. */

static void putc_dbg(char c)
{
    outb(DEBUGCON, (uint8_t)c);
}

static void puts_dbg(const char *s)
{
    while (*s) {
        putc_dbg(*s++);
    }
}

static void put_hex(uint32_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    int i;

    for (i = digits - 1; i >= 0; i--) {
        putc_dbg(hex[(v >> (4 * i)) & 0xf]);
    }
}

static void put_hex64(uint64_t v)
{
    puts_dbg("0x");
    put_hex((uint32_t)(v >> 32), 8);
    put_hex((uint32_t)v, 8);
}

static void put_dec(uint32_t v)
{
    char buf[11];
    int n = 0;

    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        putc_dbg(buf[--n]);
    }
}

/* PCI configuration space, mechanism #1. */

static uint32_t pci_addr(uint32_t bdf, uint32_t off)
{
    return 0x80000000u | (bdf << 8) | (off & 0xfc);
}

static uint32_t pci_read32(uint32_t bdf, uint32_t off)
{
    outl(PCI_ADDR, pci_addr(bdf, off));
    return inl(PCI_DATA);
}

static void pci_write32(uint32_t bdf, uint32_t off, uint32_t v)
{
    outl(PCI_ADDR, pci_addr(bdf, off));
    outl(PCI_DATA, v);
}

static uint16_t pci_read16(uint32_t bdf, uint32_t off)
{
    outl(PCI_ADDR, pci_addr(bdf, off));
    return inw(PCI_DATA + (off & 2));
}

static void pci_write16(uint32_t bdf, uint32_t off, uint16_t v)
{
    outl(PCI_ADDR, pci_addr(bdf, off));
    outw(PCI_DATA + (off & 2), v);
}

static void put_bdf(uint32_t bdf)
{
    put_hex(bdf >> 8, 2);
    putc_dbg(':');
    put_hex((bdf >> 3) & 0x1f, 2);
    putc_dbg('.');
    put_hex(bdf & 7, 1);
}

/* fw_cfg: find a file by name, return its selector (0: none). */

static uint32_t fw_cfg_read_be32(void)
{
    uint32_t v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        v = (v << 8) | inb(FW_CFG_DATA);
    }
    return v;
}

static uint16_t fw_cfg_find(const char *want, uint32_t *size)
{
    uint32_t count, i, j;

    outw(FW_CFG_SEL, FW_CFG_FILE_DIR);
    count = fw_cfg_read_be32();
    for (i = 0; i < count; i++) {
        uint32_t fsize = fw_cfg_read_be32();
        uint16_t sel = (uint16_t)(inb(FW_CFG_DATA) << 8);
        char name[56];

        sel |= inb(FW_CFG_DATA);
        inb(FW_CFG_DATA);
        inb(FW_CFG_DATA);
        for (j = 0; j < 56; j++) {
            name[j] = (char)inb(FW_CFG_DATA);
        }
        for (j = 0; j < 56 && name[j] == want[j] && want[j]; j++) {
            continue;
        }
        if (j < 56 && name[j] == want[j]) {
            *size = fsize;
            return sel;
        }
    }
    return 0;
}

/* Read fw_cfg file @name into @buf (NUL-terminated); false if absent. */
static int fw_cfg_string(const char *name, char *buf, uint32_t len)
{
    uint32_t size = 0, i;
    uint16_t sel = fw_cfg_find(name, &size);

    if (!sel) {
        return 0;
    }
    outw(FW_CFG_SEL, sel);
    for (i = 0; i < size && i + 1 < len; i++) {
        buf[i] = (char)inb(FW_CFG_DATA);
    }
    buf[i] = 0;
    return 1;
}

/* Parse a number in @base (10 or 16) at *@s, up to a non-digit. */
static uint32_t parse_num(const char **s, uint32_t base)
{
    uint32_t n = 0;

    for (;; (*s)++) {
        char c = **s;
        uint32_t d;

        if (c >= '0' && c <= '9') {
            d = (uint32_t)(c - '0');
        } else if (base == 16 && c >= 'a' && c <= 'f') {
            d = (uint32_t)(c - 'a' + 10);
        } else {
            return n;
        }
        n = n * base + d;
    }
}

static uint32_t loads_wanted(void)
{
    char buf[16];
    const char *s = buf;

    if (!fw_cfg_string("opt/vfio-direct/loads", buf, sizeof(buf))) {
        return DEFAULT_LOADS;
    }
    return parse_num(&s, 10);
}

struct target {
    uint32_t id;        /* config dword 0: device << 16 | vendor */
    uint32_t bar;
    uint32_t reg;
};

static void target_wanted(struct target *t)
{
    char buf[32];
    const char *s = buf;
    uint32_t vd;

    t->id = DEFAULT_TARGET_ID;
    t->bar = 0;
    t->reg = DEFAULT_TARGET_REG;
    if (!fw_cfg_string("opt/vfio-direct/target", buf, sizeof(buf))) {
        return;
    }
    vd = parse_num(&s, 16);
    t->id = (vd & 0xffff) << 16 | vd >> 16;
    s++;
    t->bar = parse_num(&s, 16);
    s++;
    t->reg = parse_num(&s, 16);
}

/* BAR enumeration and packing. */

struct bar {
    uint32_t bdf;
    uint32_t index;
    uint32_t size;
    uint32_t addr;
};

static int scan_bars(struct bar *bars)
{
    int n = 0;
    uint32_t dev, fn, i;

    for (dev = 0; dev < 32; dev++) {
        for (fn = 0; fn < 8; fn++) {
            uint32_t bdf = (dev << 3) | fn;
            uint32_t id = pci_read32(bdf, 0x00);
            uint8_t hdr;
            uint16_t cmd;

            if ((id & 0xffff) == 0xffff) {
                if (fn == 0) {
                    break;
                }
                continue;
            }
            hdr = (uint8_t)(pci_read32(bdf, 0x0c) >> 16);
            if ((hdr & 0x7f) == 0) {
                cmd = pci_read16(bdf, 0x04);
                pci_write16(bdf, 0x04, cmd & ~PCI_COMMAND_MEM);
                for (i = 0; i < 6; i++) {
                    uint32_t off = 0x10 + 4 * i;
                    uint32_t orig = pci_read32(bdf, off);
                    uint32_t mask;
                    int is64 = (orig & 0x6) == 0x4;

                    if (orig & 1) {
                        continue;           /* I/O BAR: not ours to move */
                    }
                    pci_write32(bdf, off, 0xffffffff);
                    mask = pci_read32(bdf, off) & ~0xfu;
                    pci_write32(bdf, off, orig);
                    if (is64) {
                        pci_write32(bdf, off + 4, 0);
                    }
                    if (mask && n < MAX_BARS) {
                        bars[n].bdf = bdf;
                        bars[n].index = i;
                        bars[n].size = ~mask + 1;
                        bars[n].addr = 0;
                        n++;
                    }
                    if (is64) {
                        i++;
                    }
                }
            }
            if (fn == 0 && !(hdr & 0x80)) {
                break;
            }
        }
    }
    return n;
}

static void pack_bars(struct bar *bars, int n)
{
    uint32_t next = MMIO_WINDOW;
    int i, j;

    /* Stable insertion sort, largest first (ties keep bus order). */
    for (i = 1; i < n; i++) {
        struct bar b = bars[i];

        for (j = i; j > 0 && bars[j - 1].size < b.size; j--) {
            bars[j] = bars[j - 1];
        }
        bars[j] = b;
    }
    for (i = 0; i < n; i++) {
        uint32_t addr = (next + bars[i].size - 1) & ~(bars[i].size - 1);

        if (addr < next || addr + bars[i].size > MMIO_WINDOW_END) {
            continue;               /* does not fit: leave unassigned */
        }
        bars[i].addr = addr;
        next = addr + bars[i].size;
        pci_write32(bars[i].bdf, 0x10 + 4 * bars[i].index, addr);
    }
    for (i = 0; i < n; i++) {
        uint16_t cmd = pci_read16(bars[i].bdf, 0x04);

        pci_write16(bars[i].bdf, 0x04, cmd | PCI_COMMAND_MEM);
    }
}

static char serial_getc(void)
{
    while (!(inb(COM1 + 5) & 1)) {
        __asm__ volatile("pause");
    }
    return (char)inb(COM1);
}

static uint32_t load_loop(uintptr_t addr, uint32_t n)
{
    uint32_t v = 0;

    while (n--) {
        /* exactly one 32-bit load per iteration */
        __asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
    }
    return v;
}

/* Called from subpage-bar-entry.S. */
void bench_main(void)
{
    struct bar bars[MAX_BARS];
    struct target target;
    uint32_t loads, base = 0, reg;
    int n, i;

    puts_dbg("fw subpage-bar\n");
    target_wanted(&target);
    n = scan_bars(bars);
    pack_bars(bars, n);
    for (i = 0; i < n; i++) {
        uint32_t id = pci_read32(bars[i].bdf, 0);

        puts_dbg("bar ");
        put_bdf(bars[i].bdf);
        putc_dbg(' ');
        put_hex(id & 0xffff, 4);
        putc_dbg(':');
        put_hex(id >> 16, 4);
        puts_dbg(" bar");
        put_dec(bars[i].index);
        puts_dbg(" size 0x");
        put_hex(bars[i].size, 8);
        puts_dbg(" addr 0x");
        put_hex(bars[i].addr, 8);
        putc_dbg('\n');
        if (bars[i].addr && bars[i].index == target.bar && id == target.id) {
            base = bars[i].addr;
        }
    }
    if (!base) {
        puts_dbg("error no target BAR placed\n");
        return;
    }
    reg = load_loop(base + target.reg, 1);
    puts_dbg("target 0x");
    put_hex(base + target.reg, 8);
    puts_dbg(" reg 0x");
    put_hex(reg, 8);
    putc_dbg('\n');
    loads = loads_wanted();
    puts_dbg("loads ");
    put_dec(loads);
    putc_dbg('\n');
    puts_dbg("ready\n");

    for (;;) {
        char c = serial_getc();
        uint64_t t0, t1;

        if (c == 't') {
            puts_dbg("tsc ");
            put_hex64(rdtsc());
            putc_dbg('\n');
        } else if (c == 'g') {
            t0 = rdtsc();
            reg = load_loop(base + target.reg, loads);
            t1 = rdtsc();
            puts_dbg("end loads ");
            put_dec(loads);
            puts_dbg(" cycles ");
            put_hex64(t1 - t0);
            puts_dbg(" reg 0x");
            put_hex(reg, 8);
            putc_dbg('\n');
        } else if (c == 'l') {
            loads = 0;
            while ((c = serial_getc()) >= '0' && c <= '9') {
                loads = loads * 10 + (uint32_t)(c - '0');
            }
            puts_dbg("loads ");
            put_dec(loads);
            putc_dbg('\n');
        } else if (c == 'q') {
            puts_dbg("bye\n");
            return;
        }
    }
}
