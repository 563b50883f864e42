/*
 * QTest fuzzer for vfio-direct's BAR mapping
 *
 * Runs in the test bed against real kernel vfio-pci: q35 in the x86 L1,
 * pseries in the pseries L1s (64 KiB pages) and in the x86 one.  Each seed
 * picks the devices, their x-bar-page-align values and the MSI-X device's
 * x-msix-relocation (off or auto), then a fixed list of random
 * operations: BAR writes (low and high halves, sizing writes), the
 * command register, the ROM BAR, MSI-X enable and function mask, MMIO
 * reads and writes in and around the BARs, and system_reset.  The
 * operations do not depend on what QEMU answers, so a seed and a length
 * replay the same run.
 *
 * The invariants come from QEMU's own flat view of the memory address
 * space ("info mtree -f") and from config space as the guest reads it,
 * never from x-query-vfio:
 * - no ram-device section of a BAR overlaps another BAR (of any device,
 *   the ROM BAR included) or, where QEMU emulates it (q35), an MSI-X
 *   table, as the guest programmed them;
 * - no ram-device section exists for a BAR that is not mapped, or reaches
 *   out of the host pages of its BAR as the guest sized it;
 * - no host page is direct for a BAR whose page the kernel did not grant
 *   (vfio-pci's rule: the BAR starts on a host page, judged from sysfs);
 * - a register that reads the same every time reads, through the BAR,
 *   what the device holds (read through the L1's sysfs resource);
 * and the guest must read back every config register it wrote as the PCI
 * core's write masks make it (so the model of config space the checks
 * use is what the guest sees).
 *
 * Speed: in the TCG L1 a qtest round trip costs milliseconds and "info
 * mtree -f" tens of them, so the operations go to QEMU in batches, one
 * round trip each (vfio_qtest_batch()), and the flat view is checked at
 * the end of each batch: after a random 1 in FLAT_CHECK_PERIOD of the
 * operations, before and after every reset, and at the end.  Config
 * read-backs and stable registers are checked for every operation.
 *
 * Each seed runs in a child process, so that a crash of QEMU is a failure
 * of that seed like any other.  A failing seed is replayed with the flat
 * view checked after every operation past the last check that passed:
 * the first failure ends the shortest failing prefix, which is printed
 * with the seed and confirmed by running one operation less.
 *
 * Writes never reach the host device's own MSI-X table or PBA (their
 * bytes in the host BARs, from the MSI-X capability in the L1's sysfs
 * config): with relocation, or on pseries where the table is not
 * emulated, those pages are direct, and a random table entry is a random
 * MSI the L0's emulated device would send.  Reads go anywhere.
 *
 * VFIO_FUZZ_SEEDS=LIST (comma-separated seeds or FIRST-LAST ranges) and
 * VFIO_FUZZ_OPS=N (operations per seed) run longer or shorter than the
 * default (4 x 25,000 on q35, 2 x 2,000 on pseries, where every config
 * access is an RTAS call).
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/mman.h>
#include <sys/wait.h>
#include "libqtest.h"
#include "hw/pci/pci_regs.h"
#include "qemu/cutils.h"
#include "qemu/range.h"
#include "vfio-host.h"
#include "vfio-qtest-util.h"

/*
 * Where BARs go, in bus addresses: a window in the 32-bit PCI hole (q35)
 * or the PHB's 32-bit window (pseries, bus 2-4 GiB), and one in the
 * 64-bit hole or window (the pseries PHB 0's is at the same bus and CPU
 * address).  WINDOW_PAGES host pages at the start of each are where BARs
 * collide; window_span() is room for the firmware-like layout above them.
 */
#define WINDOW              VFIO_QTEST_WINDOW
#define WINDOW64_Q35        0x100000000ULL
#define WINDOW64_PSERIES    0x210000000000ULL
#define WINDOW_PAGES        8
#define FIRST_SLOT          4
#define NR_BARS             7       /* BARs 0-5 and the ROM */
#define ROM                 6
#define FLAT_CHECK_PERIOD   128     /* on average, between flat checks */

/* The default budget: at least 100,000 operations in all on q35 */
static const int default_seeds[] = { 1, 2, 3, 4 };
#define DEFAULT_OPS         25000
/* pseries: config accesses are RTAS calls, one round trip each */
static const int default_seeds_pseries[] = { 1, 2 };
#define DEFAULT_OPS_PSERIES 2000

/* A test-bed device and what the fuzzer may do with it. */
typedef struct FuzzDevice {
    const char *name;
    int stable_bar;             /* a register that reads the same always */
    uint32_t stable_reg;
    uint32_t safe_reg;          /* writes allowed in the BAR: safe_bar */
    int safe_bar;               /* -1: none (side effects on the L1) */
} FuzzDevice;

/*
 * pvpanic and i6300esb must never see a write: a panic event or an
 * armed watchdog would stop the L1.  The others could start DMA engines.
 */
static const FuzzDevice fuzz_devices[] = {
    { "sdhci", 0, 0x40, 0x08, 0 },      /* CAPABILITIES; ARGUMENT */
    { "i6300esb", 0, 0x0, 0, -1 },
    { "pvpanic", 0, 0x0, 0, -1 },
    { "testdev", 0, 0x0, 0, -1 },
    { "nvme", 0, 0x0, 0, -1 },          /* CAP */
    { "e1000e", 0, 0x0, 0, -1 },        /* CTRL */
    { "xhci", 0, 0x0, 0, -1 },          /* CAPLENGTH, HCIVERSION */
};
#define NR_FUZZ_DEVICES ARRAY_SIZE(fuzz_devices)

typedef enum OpKind {
    OP_MMIO_READ,
    OP_STABLE_READ,
    OP_MMIO_WRITE,
    OP_BAR_LOW,
    OP_BAR_HIGH,
    OP_BAR_SIZING,
    OP_COMMAND,
    OP_ROM,
    OP_MSIX_CONTROL,
    OP_RESET,
} OpKind;

static const char *const op_names[] = {
    "mmio-read", "stable-read", "mmio-write", "bar-low", "bar-high",
    "bar-sizing", "command", "rom", "msix-control", "reset",
};

/* One operation: which device, and random bits it interprets itself. */
typedef struct Op {
    OpKind kind;
    int dev;                    /* index in Fuzz.devs */
    uint32_t r1, r2, r3;
    bool check;                 /* check the flat view after it */
} Op;

/* What the guest sees of one BAR, read back from config space. */
typedef struct GuestBar {
    bool mem;                   /* a memory BAR (or the ROM) */
    bool mem64;
    uint64_t size;              /* as the guest sized it */
    uint64_t real_size;         /* as the host has it (sysfs) */
    uint32_t low, high;         /* the registers, as the guest reads them */
    uint32_t flags;             /* the read-only low bits of @low */
    bool granted;               /* the kernel allows mmap of its page */
    bool host_known;            /* real_size/granted came from sysfs */
} GuestBar;

typedef struct GuestDev {
    const FuzzDevice *fd;
    const char *bdf;
    QPCIDevice *pci;
    const char *align;          /* x-bar-page-align */
    const char *relocation;     /* x-msix-relocation */
    uint16_t command;
    GuestBar bars[NR_BARS];
    int msix_bar;               /* -1: no MSI-X */
    uint8_t msix_cap;           /* its capability, 0: none */
    uint16_t msix_flags;        /* Message Control, as the guest reads it */
    uint32_t stable;            /* its stable register, read via sysfs */
    bool stable_known;
    uint64_t msix_offset, msix_size;
    /* The host device's MSI-X table [0] and PBA [1], from sysfs */
    struct {
        int bar;                /* -1: none */
        uint64_t offset, size;
    } host_msix[2];
} GuestDev;

typedef struct Fuzz {
    int seed;
    QTestState *qts;
    QPCIBus *bus;
    QGuestAllocator alloc;
    GuestDev devs[NR_FUZZ_DEVICES];
    int ndevs;
    char *rom;                  /* ROM file of one device, or NULL */
    Op *ops;
    int check_from;             /* check after every op from this one */
    /* The batch of qtest commands being built, and what they expect */
    int sock;
    GString *batch;
    GArray *expects;
    /* Shared with the parent: how far the child got, its counters */
    struct FuzzShared {
        int at;                 /* the operation running, -1: start-up */
        int failed_at;          /* the operation that failed, or -2 */
        int checked;            /* the last op after a passing flat check */
        uint64_t flat_checks, data_checks, batches, writes;
        int64_t flat_us;
        char failure[512];
    } *shared;
} Fuzz;

/* What the answer to one command of a batch must be. */
typedef struct Expect {
    int op;                     /* the operation that sent it */
    enum { EXPECT_OK, EXPECT_CONFIG, EXPECT_STABLE } kind;
    int dev;
    uint32_t reg, want;         /* EXPECT_CONFIG: register, value */
} Expect;

static uint64_t page_size(void)
{
    return qemu_real_host_page_size();
}

static bool is_pseries(void)
{
    return !strcmp(qtest_get_arch(), "ppc64");
}

/* QEMU emulates MSI-X tables on q35, not on pseries (x-msix-emulation) */
static bool msix_emulated(void)
{
    return !is_pseries();
}

static uint64_t window64(void)
{
    return is_pseries() ? WINDOW64_PSERIES : WINDOW64_Q35;
}

/* Room for the layout: e1000e's two 128 KiB BARs, the others a page each */
static uint64_t window_span(void)
{
    return MAX(0x100000, 32 * page_size());
}

/* Where the CPU reaches bus address @addr (pseries: the 32-bit window) */
static uint64_t bus_to_cpu(uint64_t addr)
{
    if (addr >= 0x80000000 && addr <= UINT32_MAX) {
        return vfio_qtest_cpu_address(addr);
    }
    return addr;
}

static uint64_t cpu_to_bus(uint64_t addr)
{
    uint64_t base = vfio_qtest_cpu_address(0x80000000);

    if (base != 0x80000000 && addr >= base && addr - base < 0x80000000) {
        return addr - base + 0x80000000;
    }
    return addr;
}

/* ---- operations: generated from the seed alone ---- */

static void fuzz_plan(Fuzz *f, int nops)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(f->seed);
    static const struct {
        OpKind kind;
        int weight;
    } mix[] = {
        /* Config writes cost ~10 ms each in the TCG L1, reads ~2.5 ms */
        { OP_MMIO_READ, 560 }, { OP_STABLE_READ, 200 },
        { OP_MMIO_WRITE, 160 }, { OP_BAR_LOW, 40 }, { OP_BAR_HIGH, 10 },
        { OP_BAR_SIZING, 8 }, { OP_COMMAND, 15 }, { OP_ROM, 6 },
        { OP_MSIX_CONTROL, 4 }, { OP_RESET, 1 },
    };
    int total = 0;

    for (int i = 0; i < ARRAY_SIZE(mix); i++) {
        total += mix[i].weight;
    }
    f->ops = g_new0(Op, nops);
    for (int i = 0; i < nops; i++) {
        int w = g_rand_int_range(rand, 0, total);
        int k = 0;

        while (w >= mix[k].weight) {
            w -= mix[k++].weight;
        }
        f->ops[i].kind = mix[k].kind;
        f->ops[i].dev = g_rand_int_range(rand, 0, f->ndevs);
        f->ops[i].r1 = g_rand_int(rand);
        f->ops[i].r2 = g_rand_int(rand);
        f->ops[i].r3 = g_rand_int(rand);
        f->ops[i].check = g_rand_int_range(rand, 0, FLAT_CHECK_PERIOD) == 0;
    }
}

/*
 * The devices of a seed: the four with sub-page BARs always, one of those
 * with MSI-X, each with its own x-bar-page-align, the one with MSI-X with
 * its table in place or relocated by "auto" (a new BAR, which the fuzzer
 * sizes and places like the others; on pseries, where nothing is
 * emulated, "auto" moves nothing), and a ROM for one.
 */
static bool fuzz_pick_devices(Fuzz *f)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(f->seed ^ 0x5eed);
    static const char *const aligns[] = { "on", "off", "auto" };
    static const char *const relocations[] = { "off", "auto" };
    int msix = 4 + g_rand_int_range(rand, 0, 3);

    f->ndevs = 0;
    for (int i = 0; i < NR_FUZZ_DEVICES; i++) {
        GuestDev *d = &f->devs[f->ndevs];

        if (i >= 4 && i != msix) {
            continue;
        }
        d->fd = &fuzz_devices[i];
        d->bdf = vfio_qtest_host(d->fd->name);
        if (!d->bdf) {
            const char *names[] = { d->fd->name, NULL };

            return vfio_qtest_require(names);
        }
        d->align = aligns[g_rand_int_range(rand, 0, ARRAY_SIZE(aligns))];
        d->relocation = i == msix ?
            relocations[g_rand_int_range(rand, 0, ARRAY_SIZE(relocations))] :
            "off";
        f->ndevs++;
    }
    return true;
}

static void fuzz_start(Fuzz *f)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(f->seed ^ 0x50f);
    int rom_dev = g_rand_int_range(rand, 0, f->ndevs);
    g_autoptr(GString) args = g_string_new(vfio_qtest_machine()->options);

    g_string_append(args, " -nodefaults");
    for (int i = 0; i < f->ndevs; i++) {
        g_string_append_printf(args, " -device vfio-pci,host=%s,id=d%d,"
                               "addr=%02x.0,x-bar-page-align=%s,"
                               "x-msix-relocation=%s",
                               f->devs[i].bdf, i, FIRST_SLOT + i,
                               f->devs[i].align, f->devs[i].relocation);
        if (i == rom_dev) {
            g_string_append_printf(args, ",romfile=%s", f->rom);
        }
    }
    f->qts = qtest_init(args->str);
    f->bus = vfio_qtest_pci_bus(f->qts, &f->alloc);
    for (int i = 0; i < f->ndevs; i++) {
        f->devs[i].pci = qpci_device_find(f->bus,
                                          QPCI_DEVFN(FIRST_SLOT + i, 0));
        g_assert_nonnull(f->devs[i].pci);
    }
    f->sock = vfio_qtest_socket();
    g_assert_cmpint(f->sock, >=, 0);
    f->batch = g_string_new(NULL);
    f->expects = g_array_new(false, false, sizeof(Expect));
}

static void fuzz_stop(Fuzz *f)
{
    for (int i = 0; i < f->ndevs; i++) {
        g_free(f->devs[i].pci);
    }
    vfio_qtest_pci_bus_free(f->bus, &f->alloc);
    qtest_quit(f->qts);
    g_string_free(f->batch, true);
    g_array_free(f->expects, true);
}

/* ---- the guest's view of config space ---- */

static int bar_reg(int bar)
{
    return bar == ROM ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * bar;
}

static void read_bar(GuestDev *d, int bar)
{
    GuestBar *b = &d->bars[bar];

    b->low = qpci_config_readl(d->pci, bar_reg(bar));
    if (b->mem64) {
        b->high = qpci_config_readl(d->pci, bar_reg(bar) + 4);
    }
}

static void read_config(GuestDev *d)
{
    d->command = qpci_config_readw(d->pci, PCI_COMMAND);
    if (d->msix_cap) {
        d->msix_flags = qpci_config_readw(d->pci, d->msix_cap + PCI_MSIX_FLAGS);
    }
    for (int bar = 0; bar < NR_BARS; bar++) {
        if (d->bars[bar].mem) {
            read_bar(d, bar);
        }
    }
}

/*
 * The host device's MSI-X table and PBA, from its config space as the L1
 * kernel shows it in sysfs (not as QEMU shows it to the guest: relocation
 * moves them there).
 */
static void probe_host_msix(GuestDev *d)
{
    uint8_t cfg[PCI_CFG_SPACE_SIZE];
    ssize_t len = vfio_host_sysfs_config(d->bdf, cfg, sizeof(cfg));
    VFIOHostMsix msix;

    d->host_msix[0].bar = d->host_msix[1].bar = -1;
    g_assert_cmpint(len, >=, PCI_STD_HEADER_SIZEOF);
    if (vfio_host_msix(cfg, len, &msix)) {
        d->host_msix[0].bar = msix.table_bar;
        d->host_msix[0].offset = msix.table_offset;
        d->host_msix[0].size = msix.table_size;
        d->host_msix[1].bar = msix.pba_bar;
        d->host_msix[1].offset = msix.pba_offset;
        d->host_msix[1].size = msix.pba_size;
    }
}

/*
 * Size every memory BAR as the guest does (decode is off after realize)
 * and find the MSI-X table; once per guest, the sizes do not change.
 */
static void probe_device(GuestDev *d)
{
    uint8_t cap;

    for (int bar = 0; bar < NR_BARS; bar++) {
        GuestBar *b = &d->bars[bar];
        uint32_t reg = bar_reg(bar), mask, orig = qpci_config_readl(d->pci,
                                                                    reg);
        uint64_t size;

        memset(b, 0, sizeof(*b));
        if (bar != ROM && (orig & PCI_BASE_ADDRESS_SPACE_IO)) {
            continue;
        }
        qpci_config_writel(d->pci, reg, bar == ROM ? PCI_ROM_ADDRESS_MASK :
                           0xffffffff);
        mask = qpci_config_readl(d->pci, reg);
        qpci_config_writel(d->pci, reg, orig);
        b->mem64 = bar != ROM &&
                   (orig & PCI_BASE_ADDRESS_MEM_TYPE_MASK) ==
                   PCI_BASE_ADDRESS_MEM_TYPE_64;
        size = ~(uint64_t)(mask & (bar == ROM ? PCI_ROM_ADDRESS_MASK :
                                   PCI_BASE_ADDRESS_MEM_MASK));
        if (b->mem64) {
            uint32_t high = qpci_config_readl(d->pci, reg + 4);

            qpci_config_writel(d->pci, reg + 4, 0xffffffff);
            size = ~((uint64_t)qpci_config_readl(d->pci, reg + 4) << 32 |
                     (mask & PCI_BASE_ADDRESS_MEM_MASK));
            qpci_config_writel(d->pci, reg + 4, high);
        } else {
            size &= 0xffffffff;
        }
        b->size = size + 1;
        b->mem = mask != 0 && mask != 0xffffffff;
        b->flags = bar == ROM ? 0 : orig & ~PCI_BASE_ADDRESS_MEM_MASK;
        if (b->mem && bar != ROM) {
            uint64_t start;

            b->host_known = vfio_qtest_sysfs_bar(d->bdf, bar, &start,
                                                 &b->real_size);
            b->granted = b->host_known && start % page_size() == 0;
        }
        if (!b->host_known) {
            b->real_size = b->size;
        }
        if (b->mem64) {
            d->bars[++bar].mem = false;
        }
    }

    d->msix_bar = -1;
    cap = qpci_find_capability(d->pci, PCI_CAP_ID_MSIX, 0);
    d->msix_cap = cap;
    if (cap) {
        uint16_t flags = qpci_config_readw(d->pci, cap + PCI_MSIX_FLAGS);
        uint32_t table = qpci_config_readl(d->pci, cap + PCI_MSIX_TABLE);

        d->msix_flags = flags;
        d->msix_bar = table & PCI_MSIX_TABLE_BIR;
        d->msix_offset = table & PCI_MSIX_TABLE_OFFSET;
        d->msix_size = ((flags & PCI_MSIX_FLAGS_QSIZE) + 1) *
                       PCI_MSIX_ENTRY_SIZE;
    }
    probe_host_msix(d);
}

/* The bus address where BAR @bar decodes, as the PCI core rules it. */
static bool bar_mapped(GuestDev *d, int bar, uint64_t *addr)
{
    GuestBar *b = &d->bars[bar];
    uint64_t a, last;

    if (!b->mem || !(d->command & PCI_COMMAND_MEMORY) ||
        (bar == ROM && !(b->low & PCI_ROM_ADDRESS_ENABLE))) {
        return false;
    }
    a = (b->low | (b->mem64 ? (uint64_t)b->high << 32 : 0)) &
        ~(b->size - 1);
    last = a + b->size - 1;
    if (a == 0 || last <= a || last == UINT64_MAX ||
        (!b->mem64 && last >= UINT32_MAX)) {
        return false;
    }
    *addr = a;
    return true;
}

/* Is [@addr, @addr + @len) inside one of the windows we place BARs in? */
static bool in_window(uint64_t addr, uint64_t len)
{
    return (addr >= WINDOW && addr + len <= WINDOW + window_span()) ||
           (addr >= window64() && addr + len <= window64() + window_span());
}

/* Does a mapped BAR other than @dev's @bar overlap [@addr, @addr+@len)? */
static bool other_bar_overlaps(Fuzz *f, int dev, int bar, uint64_t addr,
                               uint64_t len)
{
    for (int i = 0; i < f->ndevs; i++) {
        for (int n = 0; n < NR_BARS; n++) {
            uint64_t a;

            if ((i != dev || n != bar) && bar_mapped(&f->devs[i], n, &a) &&
                ranges_overlap(a, f->devs[i].bars[n].size, addr, len)) {
                return true;
            }
        }
    }
    return false;
}

/* ---- invariants ---- */

/* Record the first invariant that fails, at the running operation. */
static void G_GNUC_PRINTF(2, 3) fail(Fuzz *f, const char *fmt, ...)
{
    va_list ap;

    if (f->shared->failed_at != -2) {
        return;
    }
    f->shared->failed_at = f->shared->at;
    va_start(ap, fmt);
    vsnprintf(f->shared->failure, sizeof(f->shared->failure), fmt, ap);
    va_end(ap);
}

/* The device and BAR of a section named "BDF BAR N mmaps[M]". */
static bool section_owner(Fuzz *f, const char *name, int *dev, int *bar)
{
    const char *sp = strchr(name, ' ');

    if (!sp || !g_str_has_prefix(sp, " BAR ") || !strstr(sp, " mmaps[")) {
        return false;
    }
    for (int i = 0; i < f->ndevs; i++) {
        if (!strncmp(name, f->devs[i].bdf, sp - name)) {
            *dev = i;
            *bar = atoi(sp + strlen(" BAR "));
            return *bar >= 0 && *bar < ROM;
        }
    }
    return false;
}

/* Does [@first, @last] of section @s hide a BAR or an MSI-X table? */
static void check_hidden(Fuzz *f, const VFIOQtestSection *s,
                         uint64_t first, uint64_t last)
{
    for (int i = 0; i < f->ndevs; i++) {
        GuestDev *o = &f->devs[i];
        uint64_t a;

        for (int n = 0; n < NR_BARS; n++) {
            if (bar_mapped(o, n, &a) &&
                ranges_overlap(a, o->bars[n].size, first, last - first + 1)) {
                fail(f, "%s at 0x%" PRIx64 "-0x%" PRIx64 " hides BAR %d of "
                     "%s at 0x%" PRIx64, s->name, s->start, s->end, n,
                     o->fd->name, a);
            }
        }
        if (msix_emulated() && o->msix_bar >= 0 &&
            bar_mapped(o, o->msix_bar, &a) &&
            ranges_overlap(a + o->msix_offset, o->msix_size, first,
                           last - first + 1)) {
            fail(f, "%s at 0x%" PRIx64 "-0x%" PRIx64 " covers the MSI-X "
                 "table of %s", s->name, s->start, s->end, o->fd->name);
        }
    }
}

static void check_section(Fuzz *f, const VFIOQtestSection *s)
{
    uint64_t page = page_size(), len = s->end - s->start + 1;
    uint64_t addr, direct;
    GuestDev *d;
    int dev, bar;

    if (!section_owner(f, s->name, &dev, &bar)) {
        fail(f, "ram-device section %s of no BAR we placed", s->name);
        return;
    }
    d = &f->devs[dev];
    if (!bar_mapped(d, bar, &addr)) {
        fail(f, "%s at 0x%" PRIx64 "-0x%" PRIx64 ": BAR %d of %s is not "
             "mapped", s->name, s->start, s->end, bar, d->fd->name);
        return;
    }
    if (s->start < QEMU_ALIGN_DOWN(addr, page) ||
        s->end >= ROUND_UP(addr + d->bars[bar].size, page)) {
        fail(f, "%s at 0x%" PRIx64 "-0x%" PRIx64 " reaches out of the "
             "pages of BAR %d of %s at 0x%" PRIx64 " (0x%" PRIx64 " bytes)",
             s->name, s->start, s->end, bar, d->fd->name, addr,
             d->bars[bar].size);
    }
    if (vfio_qtest_section_direct_page(s, &direct) &&
        !d->bars[bar].granted) {
        fail(f, "%s: page 0x%" PRIx64 " is direct, but the kernel does not "
             "grant BAR %d of %s", s->name, direct, bar, d->fd->name);
    }
    /*
     * Where the guest placed two BARs on top of each other, the flat view
     * is the guest's doing; what vfio-direct grew past the BAR is ours.
     */
    if (s->start < addr) {
        check_hidden(f, s, s->start, MIN(s->end, addr - 1));
    }
    if (s->end >= addr + d->bars[bar].size) {
        check_hidden(f, s, MAX(s->start, addr + d->bars[bar].size),
                     s->end);
    }
    if (msix_emulated() && d->msix_bar == bar &&
        ranges_overlap(addr + d->msix_offset, d->msix_size, s->start, len)) {
        fail(f, "%s at 0x%" PRIx64 "-0x%" PRIx64 " covers the MSI-X table "
             "of %s", s->name, s->start, s->end, d->fd->name);
    }
}

static void check_flat_view(Fuzz *f)
{
    int64_t t0 = g_get_monotonic_time();
    GArray *view = vfio_qtest_flat_view(f->qts);

    for (guint i = 0; i < view->len; i++) {
        VFIOQtestSection s = g_array_index(view, VFIOQtestSection, i);

        /* In bus addresses, as the model has BARs (the same on q35) */
        if (!strcmp(s.type, "ramd")) {
            s.start = cpu_to_bus(s.start);
            s.end = cpu_to_bus(s.end);
            check_section(f, &s);
        }
    }
    vfio_qtest_flat_view_free(view);
    f->shared->flat_checks++;
    f->shared->flat_us += g_get_monotonic_time() - t0;
}

/* ---- executing operations ---- */

/* A memory BAR of @d (not the ROM) chosen by @r, or -1 if none. */
static int pick_bar(GuestDev *d, uint32_t r)
{
    int bars[NR_BARS], n = 0;

    for (int bar = 0; bar < ROM; bar++) {
        if (d->bars[bar].mem) {
            bars[n++] = bar;
        }
    }
    return n ? bars[r % n] : -1;
}

/* A bus address for a BAR: mostly on or near a page of the windows. */
static uint32_t pick_address(uint32_t r, uint32_t r2)
{
    static const uint32_t offsets[] = { 0, 0, 0x10, 0x100, 0x800, 0xc00 };
    uint64_t page = page_size();

    switch (r % 16) {
    case 0 ... 9:
        return WINDOW + (r2 % WINDOW_PAGES) * page +
               offsets[(r2 / WINDOW_PAGES) % ARRAY_SIZE(offsets)];
    case 10 ... 12:
        return WINDOW + (r2 % (WINDOW_PAGES * page / 0x100)) * 0x100;
    case 13:
        return 0;
    case 14:
        return 0xfffff000 | (r2 & 0xfff);
    default:
        return r2;              /* anywhere, RAM and chipset included */
    }
}

/* ---- batches of qtest commands ---- */

static void G_GNUC_PRINTF(4, 5) batch_add(Fuzz *f, int op, const Expect *e,
                                          const char *fmt, ...)
{
    Expect ok = { .kind = EXPECT_OK };
    va_list ap;

    va_start(ap, fmt);
    g_string_append_vprintf(f->batch, fmt, ap);
    va_end(ap);
    g_string_append_c(f->batch, '\n');
    ok = e ? *e : ok;
    ok.op = op;
    g_array_append_val(f->expects, ok);
}

static uint32_t config_address(GuestDev *d, uint32_t reg)
{
    return 0x80000000 | d->pci->devfn << 8 | (reg & ~3);
}

static void batch_run(Fuzz *f);

/*
 * pseries: config accesses are RTAS calls through libqos, each a few
 * round trips, after what the batch holds so far.
 */
static void config_rtas(Fuzz *f, int op, GuestDev *d, uint32_t reg,
                        unsigned len, uint32_t val, uint32_t want)
{
    uint32_t got;

    batch_run(f);
    f->shared->at = op;
    if (len == 2) {
        qpci_config_writew(d->pci, reg, val);
        got = qpci_config_readw(d->pci, reg);
    } else {
        qpci_config_writel(d->pci, reg, val);
        got = qpci_config_readl(d->pci, reg);
    }
    if (got != want) {
        fail(f, "%s config 0x%x reads 0x%x, the guest wrote for 0x%x",
             d->fd->name, reg, got, want);
    }
}

/* A config write of @len bytes, then a read-back that must give @want. */
static void batch_config(Fuzz *f, int op, GuestDev *d, uint32_t reg,
                         unsigned len, uint32_t val, uint32_t want)
{
    const char *out = len == 2 ? "outw" : "outl";
    const char *in = len == 2 ? "inw" : "inl";
    Expect e = {
        .kind = EXPECT_CONFIG, .dev = d - f->devs, .reg = reg, .want = want,
    };

    if (is_pseries()) {
        config_rtas(f, op, d, reg, len, val, want);
        return;
    }
    batch_add(f, op, NULL, "outl 0xcf8 0x%x", config_address(d, reg));
    batch_add(f, op, NULL, "%s 0x%x 0x%x", out, 0xcfc + (reg & 3), val);
    batch_add(f, op, NULL, "outl 0xcf8 0x%x", config_address(d, reg));
    batch_add(f, op, &e, "%s 0x%x", in, 0xcfc + (reg & 3));
}

/* Send the batch; every answer must be what its command expects. */
static void batch_run(Fuzz *f)
{
    g_auto(GStrv) answers = vfio_qtest_batch(f->sock, f->batch,
                                             f->expects->len);

    /*
     * The devices' stable registers, read through sysfs where the device
     * decodes now (the guest's decode bit is the device's); else as read
     * last time it did.
     */
    for (guint i = 0; i < f->expects->len; i++) {
        Expect *e = &g_array_index(f->expects, Expect, i);
        GuestDev *d = &f->devs[e->dev];

        if (e->kind == EXPECT_STABLE && (d->command & PCI_COMMAND_MEMORY)) {
            d->stable = vfio_qtest_sysfs_bar_read(d->bdf, d->fd->stable_bar,
                                                  d->fd->stable_reg, 4);
            d->stable_known = true;
        }
    }

    for (guint i = 0; i < f->expects->len; i++) {
        Expect *e = &g_array_index(f->expects, Expect, i);
        GuestDev *d = &f->devs[e->dev];
        uint64_t got = 0;

        f->shared->at = e->op;
        if (!g_str_has_prefix(answers[i], "OK") ||
            (e->kind != EXPECT_OK &&
             qemu_strtou64(answers[i] + 2, NULL, 0, &got))) {
            fail(f, "qtest answered \"%s\"", answers[i]);
        } else if (e->kind == EXPECT_CONFIG && got != e->want) {
            fail(f, "%s config 0x%x reads 0x%" PRIx64 ", the guest wrote "
                 "for 0x%x", d->fd->name, e->reg, got, e->want);
        } else if (e->kind == EXPECT_STABLE && d->stable_known) {
            /* qtest reads in the target's byte order; registers are LE */
            got = qtest_big_endian(f->qts) ? bswap32(got) : got;
            f->shared->data_checks++;
            if (got != d->stable) {
                fail(f, "%s BAR %d reads 0x%08" PRIx64 " at 0x%x, the device "
                     "holds 0x%08x", d->fd->name, d->fd->stable_bar, got,
                     d->fd->stable_reg, d->stable);
            }
        }
    }
    g_string_truncate(f->batch, 0);
    g_array_set_size(f->expects, 0);
    f->shared->batches++;
}

/* ---- executing operations ---- */

static void op_stable_read(Fuzz *f, int op, GuestDev *d)
{
    int bar = d->fd->stable_bar;
    Expect e = { .kind = EXPECT_STABLE, .dev = d - f->devs };
    uint64_t addr;

    if (!bar_mapped(d, bar, &addr) ||
        !in_window(addr, d->bars[bar].size) ||
        other_bar_overlaps(f, d - f->devs, bar, addr + d->fd->stable_reg, 4)) {
        return;
    }
    batch_add(f, op, &e, "readl 0x%" PRIx64,
              bus_to_cpu(addr + d->fd->stable_reg));
}

/*
 * Does [@addr, @addr + @len) meet the host MSI-X table or PBA of @d, in
 * the host BAR that holds it, wherever the guest placed that BAR?
 */
static bool meets_host_msix(GuestDev *d, uint64_t addr, unsigned len)
{
    for (int i = 0; i < ARRAY_SIZE(d->host_msix); i++) {
        uint64_t a;

        if (d->host_msix[i].bar >= 0 &&
            bar_mapped(d, d->host_msix[i].bar, &a) &&
            ranges_overlap(a + d->host_msix[i].offset, d->host_msix[i].size,
                           addr, len)) {
            return true;
        }
    }
    return false;
}

/*
 * May a write of @len bytes at @addr go ahead?  Only inside our windows,
 * never on a host device's MSI-X table or PBA (direct with relocation,
 * and on pseries), and only on registers known to be harmless where it
 * meets a BAR; QEMU's emulated table (q35) is fair game.
 */
static bool write_is_safe(Fuzz *f, uint64_t addr, unsigned len)
{
    if (!in_window(addr, len)) {
        return false;
    }
    for (int i = 0; i < f->ndevs; i++) {
        if (meets_host_msix(&f->devs[i], addr, len)) {
            return false;
        }
    }
    for (int i = 0; i < f->ndevs; i++) {
        GuestDev *d = &f->devs[i];

        for (int n = 0; n < NR_BARS; n++) {
            uint64_t a;

            if (!bar_mapped(d, n, &a) ||
                !ranges_overlap(a, d->bars[n].real_size, addr, len)) {
                continue;
            }
            if (msix_emulated() && n == d->msix_bar &&
                addr >= a + d->msix_offset &&
                addr + len <= a + d->msix_offset + d->msix_size) {
                continue;       /* the emulated table */
            }
            if (n != d->fd->safe_bar || addr < a + d->fd->safe_reg ||
                addr + len > a + d->fd->safe_reg + 4) {
                return false;
            }
        }
    }
    return true;
}

static void op_mmio(Fuzz *f, int i, GuestDev *d)
{
    static const char sizes[] = "bwlq";
    const Op *op = &f->ops[i];
    unsigned len = 1 << (op->r2 % 4);
    int bar = pick_bar(d, op->r1);
    uint64_t base, span, addr;
    int64_t offset;

    if (bar < 0) {
        return;
    }
    /* Where the BAR would be, mapped or not: in, past and before it */
    base = (d->bars[bar].low & PCI_BASE_ADDRESS_MEM_MASK) |
           (d->bars[bar].mem64 ? (uint64_t)d->bars[bar].high << 32 : 0);
    span = MAX(d->bars[bar].size, page_size());
    switch ((op->r1 >> 8) % 4) {
    case 0:
    case 1:
        offset = op->r3 % d->bars[bar].real_size;
        break;
    case 2:
        offset = op->r3 % (span + page_size());
        break;
    default:
        offset = -(int64_t)(op->r3 % 0x100) - 1;
        break;
    }
    if ((op->r2 >> 4) % 8) {
        offset &= ~(int64_t)(len - 1);  /* mostly naturally aligned */
    }
    addr = base + offset;
    if (addr > UINT64_MAX - len) {
        return;
    }
    if (op->kind == OP_MMIO_WRITE && write_is_safe(f, addr, len)) {
        f->shared->writes++;
        batch_add(f, i, NULL, "write%c 0x%" PRIx64 " 0x%" PRIx64,
                  sizes[op->r2 % 4], bus_to_cpu(addr),
                  ((uint64_t)op->r3 << 32 | op->r2) &
                  (uint64_t)MAKE_64BIT_MASK(0, len * 8));
    } else {
        batch_add(f, i, NULL, "read%c 0x%" PRIx64, sizes[op->r2 % 4],
                  bus_to_cpu(addr));
    }
}

/*
 * A config write the guest then reads back: the model of config space
 * takes the value the PCI core's write masks make of it, and the batch
 * checks that the guest reads exactly that.
 */
static void op_config(Fuzz *f, int i, GuestDev *d)
{
    const Op *op = &f->ops[i];
    GuestBar *b;
    uint32_t val;
    int bar;

    switch (op->kind) {
    case OP_BAR_LOW:
    case OP_BAR_SIZING:
        bar = pick_bar(d, op->r1);
        if (bar < 0) {
            return;
        }
        b = &d->bars[bar];
        val = op->kind == OP_BAR_SIZING ? 0xffffffff :
              pick_address(op->r2, op->r3);
        b->low = (val & ~(uint32_t)(b->size - 1) & PCI_BASE_ADDRESS_MEM_MASK) |
                 b->flags;
        batch_config(f, i, d, bar_reg(bar), 4, val, b->low);
        break;
    case OP_BAR_HIGH:
        bar = pick_bar(d, op->r1);
        if (bar < 0 || !d->bars[bar].mem64) {
            return;
        }
        b = &d->bars[bar];
        /* Mostly below 4 GiB or at WINDOW64, sometimes anywhere */
        val = op->r2 % 8 < 4 ? 0 : op->r2 % 8 < 7 ? window64() >> 32 : op->r3;
        b->high = val & (uint32_t)(~(b->size - 1) >> 32);
        batch_config(f, i, d, bar_reg(bar) + 4, 4, val, b->high);
        break;
    case OP_COMMAND:
        /* Memory decode mostly; bus master and INTx disable sometimes */
        d->command ^= op->r1 % 4 ? PCI_COMMAND_MEMORY :
                      op->r1 % 8 == 1 ? PCI_COMMAND_MASTER :
                      PCI_COMMAND_INTX_DISABLE;
        batch_config(f, i, d, PCI_COMMAND, 2, d->command, d->command);
        break;
    case OP_ROM:
        b = &d->bars[ROM];
        if (!b->mem) {
            return;
        }
        val = pick_address(op->r2, op->r3) |
              (op->r1 % 4 ? PCI_ROM_ADDRESS_ENABLE : 0);
        b->low = (val & ~(uint32_t)(b->size - 1) & PCI_ROM_ADDRESS_MASK) |
                 (val & PCI_ROM_ADDRESS_ENABLE);
        batch_config(f, i, d, PCI_ROM_ADDRESS, 4, val, b->low);
        break;
    case OP_MSIX_CONTROL:
        /*
         * MSI-X enable and function mask, the bits a guest writes; the
         * table size stays read-only.  Enabling makes vfio ask the kernel
         * for the device's vectors (VFIO_DEVICE_SET_IRQS).
         */
        if (!d->msix_cap) {
            return;
        }
        val = op->r1 & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        d->msix_flags = (d->msix_flags & ~(PCI_MSIX_FLAGS_ENABLE |
                                           PCI_MSIX_FLAGS_MASKALL)) | val;
        batch_config(f, i, d, d->msix_cap + PCI_MSIX_FLAGS, 2, val,
                     d->msix_flags);
        break;
    default:
        g_assert_not_reached();
    }
}

/*
 * Where the operations start from: every memory BAR placed on its own
 * pages above those where BARs collide, and decoding, as firmware would.
 */
static void fuzz_layout(Fuzz *f)
{
    uint64_t next = WINDOW + WINDOW_PAGES * page_size();

    for (int n = 0; n < f->ndevs; n++) {
        GuestDev *d = &f->devs[n];

        for (int bar = 0; bar < ROM; bar++) {
            GuestBar *b = &d->bars[bar];

            if (!b->mem) {
                continue;
            }
            next = ROUND_UP(next, MAX(b->size, page_size()));
            b->low = next | b->flags;
            batch_config(f, -1, d, bar_reg(bar), 4, next, b->low);
            next += MAX(b->size, page_size());
        }
        d->command |= PCI_COMMAND_MEMORY;
        batch_config(f, -1, d, PCI_COMMAND, 2, d->command, d->command);
    }
    g_assert_cmpuint(next, <=, WINDOW + window_span());
    batch_run(f);
}

/* Add operation @i to the batch; run it and check where the seed says. */
static void fuzz_step(Fuzz *f, int i)
{
    const Op *op = &f->ops[i];
    GuestDev *d = &f->devs[op->dev];

    switch (op->kind) {
    case OP_MMIO_READ:
    case OP_MMIO_WRITE:
        op_mmio(f, i, d);
        break;
    case OP_STABLE_READ:
        op_stable_read(f, i, d);
        break;
    case OP_RESET:
        batch_run(f);
        qtest_system_reset(f->qts);
        for (int n = 0; n < f->ndevs; n++) {
            read_config(&f->devs[n]);
        }
        /* What the reset left behind, then the firmware's layout again */
        check_flat_view(f);
        fuzz_layout(f);
        break;
    default:
        op_config(f, i, d);
        break;
    }
    if (op->check || op->kind == OP_RESET || i >= f->check_from) {
        batch_run(f);
        f->shared->at = i;
        check_flat_view(f);
        if (f->shared->failed_at == -2) {
            f->shared->checked = i;
        }
    }
}

/* Run the first @nops operations of the seed, until one fails. */
static void fuzz_run(Fuzz *f, int nops)
{
    fuzz_start(f);
    for (int n = 0; n < f->ndevs; n++) {
        probe_device(&f->devs[n]);
        read_config(&f->devs[n]);
    }
    fuzz_layout(f);
    check_flat_view(f);
    for (int i = 0; i < nops && f->shared->failed_at == -2; i++) {
        f->shared->at = i;
        fuzz_step(f, i);
    }
    if (f->shared->failed_at == -2) {
        batch_run(f);
        f->shared->at = nops - 1;
        check_flat_view(f);
    }
    fuzz_stop(f);
}

/*
 * Run @nops operations of @f's seed in a child process, checking the flat
 * view after every one from @check_from on.  True when they pass; else
 * *@at is the operation that failed (-1: start-up), also when QEMU or the
 * child died, and *@msg says why.
 */
static bool fuzz_child(Fuzz *f, int nops, int check_from, int *at,
                       char **msg)
{
    int status;
    pid_t pid;

    memset(f->shared, 0, sizeof(*f->shared));
    f->shared->at = -1;
    f->shared->failed_at = -2;
    f->shared->checked = -1;
    f->check_from = check_from;
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        fuzz_run(f, nops);
        _exit(0);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    if (f->shared->failed_at != -2) {
        *at = f->shared->failed_at;
        *msg = g_strdup(f->shared->failure);
        return false;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        *at = f->shared->at;
        *msg = g_strdup_printf("the test or QEMU died (wait status 0x%x)",
                               status);
        return false;
    }
    return true;
}

static int fuzz_ops(void)
{
    const char *env = g_getenv("VFIO_FUZZ_OPS");

    return env ? atoi(env) : is_pseries() ? DEFAULT_OPS_PSERIES : DEFAULT_OPS;
}

/* The last operations of a failing prefix of @len, to read. */
static void fuzz_print_tail(Fuzz *f, int len)
{
    for (int i = MAX(len - 20, 0); i < len; i++) {
        const Op *op = &f->ops[i];

        g_test_message("  op %d: %s %s r 0x%x 0x%x 0x%x", i,
                       op_names[op->kind], f->devs[op->dev].fd->name,
                       op->r1, op->r2, op->r3);
    }
}

/*
 * The seed failed at operation @at, and the flat view last passed its
 * check after operation @checked: replay with the flat view checked after
 * every operation from there, so the first failure ends the shortest
 * failing prefix among those longer than @checked (shorter ones passed
 * all the checks of the first run), and confirm that one operation less
 * passes.
 */
static void fuzz_minimise(Fuzz *f, int at, int checked, const char *first)
{
    g_autofree char *msg = NULL;
    g_autofree char *shorter = NULL;
    int len;

    if (fuzz_child(f, at + 1, checked + 1, &at, &msg)) {
        g_test_message("seed %d: not reproduced with every step checked",
                       f->seed);
    } else {
        len = at + 1;
        g_test_message("seed %d: shortest failing prefix: %d operations "
                       "(VFIO_FUZZ_SEEDS=%d VFIO_FUZZ_OPS=%d): %s", f->seed,
                       len, f->seed, len, msg);
        if (len > 0) {
            g_test_message("seed %d: the prefix of %d operations %s",
                           f->seed, len - 1,
                           fuzz_child(f, len - 1, checked + 1, &at,
                                      &shorter) ?
                           "passes" : "fails too (not deterministic)");
        }
        fuzz_print_tail(f, len);
    }
    g_test_message("seed %d failed: %s", f->seed, first);
    g_test_fail();
}

static void test_fuzz(const void *opaque)
{
    Fuzz f = { .seed = GPOINTER_TO_INT(opaque) };
    g_autofree char *msg = NULL;
    int nops = fuzz_ops(), at, fd;
    gint64 start = g_get_monotonic_time();

    if (!fuzz_pick_devices(&f)) {
        return;
    }
    f.shared = mmap(NULL, sizeof(*f.shared), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    g_assert(f.shared != MAP_FAILED);
    fd = g_file_open_tmp("vfio-fuzz-XXXXXX.rom", &f.rom, NULL);
    g_assert_cmpint(fd, >=, 0);
    for (int i = 0; i < 2048; i++) {
        uint8_t b = i * 13 + f.seed;

        g_assert_cmpint(write(fd, &b, 1), ==, 1);
    }
    close(fd);
    fuzz_plan(&f, nops);

    if (!fuzz_child(&f, nops, nops, &at, &msg)) {
        g_test_message("seed %d: operation %d failed: %s", f.seed, at, msg);
        fuzz_minimise(&f, MIN(at, nops - 1), f.shared->checked, msg);
    } else {
        g_test_message("seed %d (%s, MSI-X device %s x-msix-relocation=%s):"
                       " %d operations (%" PRIu64 " MMIO writes) in %" PRIu64
                       " batches, %" PRIu64 " flat-view checks (%.1f s) and %"
                       PRIu64 " data checks, %.1f s", f.seed, qtest_get_arch(),
                       f.devs[f.ndevs - 1].fd->name,
                       f.devs[f.ndevs - 1].relocation, nops,
                       f.shared->writes, f.shared->batches,
                       f.shared->flat_checks, f.shared->flat_us / 1e6,
                       f.shared->data_checks,
                       (g_get_monotonic_time() - start) / 1e6);
    }
    unlink(f.rom);
    g_free(f.rom);
    g_free(f.ops);
    munmap(f.shared, sizeof(*f.shared));
}

/* Seeds from VFIO_FUZZ_SEEDS ("1,5,10-20") or the default set. */
static GArray *fuzz_seeds(void)
{
    const char *env = g_getenv("VFIO_FUZZ_SEEDS");
    GArray *seeds = g_array_new(false, false, sizeof(int));
    g_auto(GStrv) items = NULL;

    if (!env && is_pseries()) {
        g_array_append_vals(seeds, default_seeds_pseries,
                            ARRAY_SIZE(default_seeds_pseries));
        return seeds;
    }
    if (!env) {
        g_array_append_vals(seeds, default_seeds, ARRAY_SIZE(default_seeds));
        return seeds;
    }
    items = g_strsplit(env, ",", -1);
    for (int i = 0; items[i]; i++) {
        int first, last;

        switch (sscanf(items[i], "%d-%d", &first, &last)) {
        case 1:
            last = first;
            /* fall through */
        case 2:
            for (int s = first; s <= last; s++) {
                g_array_append_val(seeds, s);
            }
            break;
        default:
            break;
        }
    }
    return seeds;
}

int main(int argc, char **argv)
{
    g_autoptr(GArray) seeds = NULL;

    g_test_init(&argc, &argv, NULL);
    if (!vfio_qtest_machine()) {
        g_test_message("the fuzzer knows q35 (x86_64) and pseries (ppc64)");
        return g_test_run();
    }
    seeds = fuzz_seeds();
    for (guint i = 0; i < seeds->len; i++) {
        int seed = g_array_index(seeds, int, i);
        g_autofree char *path = g_strdup_printf("/vfio/fuzz/seed-%d", seed);

        qtest_add_data_func(path, GINT_TO_POINTER(seed), test_fuzz);
    }
    return g_test_run();
}
