/*
 * QTest for vfio-direct's sub-page BAR mapping
 *
 * Runs in the test bed against real kernel vfio-pci: sdhci-pci (256-byte
 * BAR0), i6300esb and pvpanic-pci (16-byte BAR0) bound in the L1 guest.
 * The test places BARs itself (qtest runs no firmware).  Its oracles do
 * not depend on the code under test: the flat view of the memory address
 * space judged by KVM's page rule (is the page direct?), the device's own
 * registers read through the L1's sysfs resource, and on x86 vfio's own
 * memory listener (what KVM would have been given).  x-query-vfio must
 * agree with them.
 *
 * It runs on x86_64 (q35) and ppc64 (pseries, PHB) alike: what differs is in
 * the machine vfio_qtest_machine() picks for the target.  Tests place BARs at PCI
 * bus addresses and access them at the CPU address the machine shows them.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "hw/pci/pci_regs.h"
#include "qobject/qlist.h"
#include "vfio-qtest-util.h"

/* A PCI bus address in the 32-bit memory window of q35 and of the PHB */
#define WINDOW              0xc0000000ULL
#define SDHCI_ARGUMENT      0x08
#define SDHCI_CAPABILITIES  0x40
#define SDHCI_INT_STATUS    0x30    /* normal (low) and error (high) */
#define SDHCI_INT_ENABLE    0x34
#define SDHCI_SIGNAL_ENABLE 0x38
#define SDHCI_FORCE_ACMD12  0x50    /* forces Auto CMD12 error events */
#define UNMAPPED            UINT64_MAX
#define VFIO_REGION_FLAG_MMAP (1 << 2)  /* VFIO_REGION_INFO_FLAG_MMAP */

typedef struct SubpageDevice {
    const char *name;
    uint64_t size;
    uint64_t reg;           /* a register that reads the same every time */
} SubpageDevice;

static const SubpageDevice devices[] = {
    { "sdhci", 0x100, SDHCI_CAPABILITIES },
    { "i6300esb", 0x10, 0x0 },
    { "pvpanic", 0x10, 0x0 },
};

typedef struct Guest {
    QTestState *qts;
    QPCIBus *bus;
    QGuestAllocator alloc;      /* for RTAS config accesses on pseries */
} Guest;

static const VFIOQtestMachine *arch;

static uint64_t host_page_size(void)
{
    return qemu_real_host_page_size();
}

static void guest_start(Guest *g, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void guest_start(Guest *g, const char *fmt, ...)
{
    g_autofree char *devs = NULL;
    va_list ap;

    va_start(ap, fmt);
    devs = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g->qts = qtest_initf("%s -nodefaults %s", arch->options, devs);
    g->bus = vfio_qtest_pci_bus(g->qts, &g->alloc);
}

static void guest_stop(Guest *g)
{
    vfio_qtest_pci_bus_free(g->bus, &g->alloc);
    qtest_quit(g->qts);
}

static uint32_t mmio_readl(Guest *g, uint64_t addr)
{
    return vfio_qtest_mmio_readl(g->qts, addr);
}

static void mmio_writel(Guest *g, uint64_t addr, uint32_t val)
{
    vfio_qtest_mmio_writel(g->qts, addr, val);
}

static QPCIDevice *guest_device(Guest *g, int slot)
{
    QPCIDevice *dev = qpci_device_find(g->bus, QPCI_DEVFN(slot, 0));

    g_assert_nonnull(dev);
    return dev;
}

static void bar_decode(QPCIDevice *dev, bool on)
{
    uint16_t cmd = qpci_config_readw(dev, PCI_COMMAND);

    cmd = on ? cmd | PCI_COMMAND_MEMORY : cmd & ~PCI_COMMAND_MEMORY;
    qpci_config_writew(dev, PCI_COMMAND, cmd);
}

static void bar_place(QPCIDevice *dev, uint64_t addr)
{
    qpci_config_writel(dev, PCI_BASE_ADDRESS_0, addr);
    bar_decode(dev, true);
}

/*
 * BAR0 of @id, which the guest placed at bus address @addr (UNMAPPED: not
 * placed or not decoding): the flat view decides whether the page holding
 * its byte @offset is direct; x-query-vfio must report the same, with the
 * sub-page state @subpage and @served for that byte.
 */
static void assert_bar(Guest *g, const char *id, uint64_t addr,
                       const char *subpage, uint64_t offset,
                       const char *served)
{
    QDict *bar = vfio_qtest_bar(g->qts, id, 0);

    if (addr != UNMAPPED) {
        g_assert_cmpint(vfio_qtest_page_is_direct(g->qts,
                                                  vfio_qtest_cpu_address(addr + offset)),
                        ==, !strcmp(served, "direct"));
    } else {
        g_assert_false(qdict_haskey(bar, "address"));
    }
    g_assert_cmpstr(qdict_get_str(bar, "subpage"), ==, subpage);
    g_assert_cmpstr(vfio_qtest_range_at(bar, offset), ==, served);
    qobject_unref(bar);
}

static uint64_t trapped(Guest *g, const char *id, const char *counter)
{
    QDict *bar = vfio_qtest_bar(g->qts, id, 0);
    uint64_t n = qdict_get_int(bar, counter);

    qobject_unref(bar);
    return n;
}

/* Read @reg @n times at @addr: every read must match the device. */
static void read_matches(Guest *g, const SubpageDevice *d, uint64_t addr,
                         int n)
{
    uint32_t expected = vfio_qtest_sysfs_bar_read(vfio_qtest_host(d->name),
                                                  0, d->reg, 4);

    for (int i = 0; i < n; i++) {
        uint32_t got = mmio_readl(g, addr + d->reg);

        if (got != expected) {
            g_assert_cmphex(got, ==, expected);
        }
    }
}

/*
 * Start a guest with device @d assigned at slot 4 as "d" with the
 * vfio-pci options @opts, BAR0 not placed yet; NULL (test skipped) when
 * the test bed has not bound it.
 */
static QPCIDevice *single_start(Guest *g, const SubpageDevice *d,
                                const char *opts)
{
    const char *names[] = { d->name, NULL };

    if (!vfio_qtest_require(names)) {
        return NULL;
    }
    guest_start(g, "-device vfio-pci,host=%s,id=d,addr=04.0,%s",
                vfio_qtest_host(d->name), opts);
    return guest_device(g, 4);
}

/*
 * Start a guest with sdhci ("sd", slot 4, x-bar-page-align=@sd_align) and
 * pvpanic ("pv", slot 5, x-bar-page-align=off) assigned, tracing what
 * vfio's memory listener maps to @log unless NULL; false (test skipped)
 * when the test bed has not bound them.
 */
static bool pair_start(Guest *g, const char *sd_align, const char *log,
                       QPCIDevice **sd, QPCIDevice **pv)
{
    const char *names[] = { "sdhci", "pvpanic", NULL };
    g_autofree char *trace = log ?
        g_strdup_printf("-trace vfio_listener_region_add_ram -D %s", log) :
        g_strdup("");

    if (!vfio_qtest_require(names)) {
        return false;
    }
    guest_start(g, "%s -device vfio-pci,host=%s,id=sd,addr=04.0,"
                "x-bar-page-align=%s -device vfio-pci,host=%s,id=pv,"
                "addr=05.0,x-bar-page-align=off", trace,
                vfio_qtest_host("sdhci"), sd_align,
                vfio_qtest_host("pvpanic"));
    *sd = guest_device(g, 4);
    *pv = guest_device(g, 5);
    return true;
}

/* Placed on a host page: direct, and 10,000 reads never trap. */
static void test_aligned(const void *opaque)
{
    const SubpageDevice *d = opaque;
    g_autofree QPCIDevice *dev = NULL;
    QDict *bar;
    Guest g;
    uint64_t before;

    dev = single_start(&g, d, "x-bar-page-align=off");
    if (!dev) {
        return;
    }
    bar_place(dev, WINDOW);

    assert_bar(&g, "d", WINDOW, "direct", 0, "direct");
    assert_bar(&g, "d", WINDOW, "direct", d->size - 1, "direct");
    /* The guest sized the real BAR; only the mapping grew to the page */
    bar = vfio_qtest_bar(g.qts, "d", 0);
    g_assert_cmpuint(qdict_get_int(bar, "guest-size"), ==, d->size);
    qobject_unref(bar);
    before = trapped(&g, "d", "trapped-reads");
    read_matches(&g, d, WINDOW, 10000);
    g_assert_cmpuint(trapped(&g, "d", "trapped-reads"), ==, before);

    guest_stop(&g);
}

/* Placed off a page boundary with page alignment off: trapped, warned. */
static void test_unaligned(const void *opaque)
{
    const SubpageDevice *d = opaque;
    const char *names[] = { d->name, NULL };
    g_autofree QPCIDevice *dev = NULL;
    Guest g;
    uint64_t before;

    if (!vfio_qtest_require(names)) {
        return;
    }
    if (!g_test_subprocess()) {
        g_test_trap_subprocess(NULL, 0, 0);
        g_test_trap_assert_passed();
        g_test_trap_assert_stderr("*BAR 0 * is trapped: the guest placed it "
                                  "at 0xc0000100, not on a host page "
                                  "boundary; set x-bar-page-align=on*");
        return;
    }

    dev = single_start(&g, d, "x-bar-page-align=off");
    bar_place(dev, WINDOW + 0x100);

    assert_bar(&g, "d", WINDOW + 0x100, "unaligned", 0, "mmap");
    before = trapped(&g, "d", "trapped-reads");
    read_matches(&g, d, WINDOW + 0x100, 100);
    g_assert_cmpuint(trapped(&g, "d", "trapped-reads"), ==, before + 100);

    guest_stop(&g);
}

/* x-bar-page-align=on: the guest sizes one host page; direct anywhere. */
static void test_page_align(const void *opaque)
{
    const SubpageDevice *d = opaque;
    uint64_t page = host_page_size();
    const uint64_t where[] = { WINDOW, WINDOW + 3 * page, WINDOW + 0x100000 };
    g_autofree QPCIDevice *dev = NULL;
    uint32_t mask;
    Guest g;

    dev = single_start(&g, d, "x-bar-page-align=on");
    if (!dev) {
        return;
    }

    qpci_config_writel(dev, PCI_BASE_ADDRESS_0, 0xffffffff);
    mask = qpci_config_readl(dev, PCI_BASE_ADDRESS_0) &
           PCI_BASE_ADDRESS_MEM_MASK;
    g_assert_cmphex(~mask + 1, ==, page);

    for (int i = 0; i < ARRAY_SIZE(where); i++) {
        QDict *bar;

        bar_place(dev, where[i]);
        bar = vfio_qtest_bar(g.qts, "d", 0);
        g_assert_cmpuint(qdict_get_int(bar, "size"), ==, d->size);
        g_assert_cmpuint(qdict_get_int(bar, "guest-size"), ==, page);
        g_assert_cmpuint(qdict_get_int(bar, "address"), ==, where[i]);
        g_assert_cmphex(qdict_get_int(bar, "cpu-address"), ==,
                        vfio_qtest_cpu_address(where[i]));
        qobject_unref(bar);
        assert_bar(&g, "d", where[i], "direct", 0, "direct");
        assert_bar(&g, "d", where[i], "direct", page - 1, "direct");
        read_matches(&g, d, where[i], 10);
    }

    guest_stop(&g);
}

/* Moves, decode toggles and a system reset keep the BAR direct. */
static void test_move(const void *opaque)
{
    const SubpageDevice *d = opaque;
    uint64_t page = host_page_size();
    const char *align[] = { "off", "auto" };

    for (int i = 0; i < ARRAY_SIZE(align); i++) {
        QPCIDevice *dev;
        Guest g;

        g_autofree char *opts = g_strdup_printf("x-bar-page-align=%s",
                                                align[i]);

        dev = single_start(&g, d, opts);
        if (!dev) {
            return;
        }

        bar_place(dev, WINDOW);
        assert_bar(&g, "d", WINDOW, "direct", 0, "direct");
        bar_place(dev, WINDOW + 5 * page);
        assert_bar(&g, "d", WINDOW + 5 * page, "direct", 0, "direct");
        g_assert_false(vfio_qtest_page_is_direct(g.qts, vfio_qtest_cpu_address(WINDOW)));
        bar_place(dev, WINDOW + 2 * page);
        assert_bar(&g, "d", WINDOW + 2 * page, "direct", 0, "direct");
        read_matches(&g, d, WINDOW + 2 * page, 10);

        bar_decode(dev, false);
        assert_bar(&g, "d", UNMAPPED, "unmapped", 0, "none");
        g_assert_false(vfio_qtest_page_is_direct(g.qts,
                                                 vfio_qtest_cpu_address(WINDOW +
                                                             2 * page)));
        bar_decode(dev, true);
        assert_bar(&g, "d", WINDOW + 2 * page, "direct", 0, "direct");

        /* What a reset leaves behind: nothing mapped, nothing grown */
        qtest_system_reset(g.qts);
        assert_bar(&g, "d", UNMAPPED, "unmapped", 0, "none");
        g_assert_false(vfio_qtest_page_is_direct(g.qts,
                                                 vfio_qtest_cpu_address(WINDOW +
                                                             2 * page)));
        g_free(dev);
        dev = guest_device(&g, 4);
        bar_place(dev, WINDOW + 7 * page);
        assert_bar(&g, "d", WINDOW + 7 * page, "direct", 0, "direct");
        read_matches(&g, d, WINDOW + 7 * page, 10);

        g_free(dev);
        guest_stop(&g);
    }
}

static void write_reaches_sdhci(Guest *g, uint64_t bar_addr, uint32_t val)
{
    mmio_writel(g, bar_addr + SDHCI_ARGUMENT, val);
    g_assert_cmphex(mmio_readl(g, bar_addr + SDHCI_ARGUMENT), ==, val);
    g_assert_cmphex(vfio_qtest_sysfs_bar_read(vfio_qtest_host("sdhci"), 0,
                                              SDHCI_ARGUMENT, 4), ==, val);
}

/*
 * A neighbouring BAR in the same guest page is never hidden, not even
 * for one write: moving a direct BAR into a neighbour's page or the
 * neighbour into its page is one memory transaction with the shrink.
 */
static void test_neighbour(void)
{
    uint64_t page = host_page_size();
    uint64_t x = WINDOW, y = WINDOW + 4 * page, z = WINDOW + 12 * page;
    g_autofree char *log = NULL;
    QPCIDevice *sd, *pv;
    Guest g;

    if (!strcmp(arch->arch, "x86_64")) {
        int fd = g_file_open_tmp("vfio-subpage-XXXXXX.log", &log, NULL);

        g_assert_cmpint(fd, >=, 0);
        close(fd);
    }
    if (!pair_start(&g, "off", log, &sd, &pv)) {
        return;
    }

    /*
     * pvpanic first: direct; then sdhci lands inside its page, so pvpanic
     * gives the page up; once sdhci leaves, pvpanic is direct again.
     */
    bar_place(pv, x);
    assert_bar(&g, "pv", x, "direct", 0, "direct");
    bar_place(sd, x + 0x100);
    assert_bar(&g, "sd", x + 0x100, "unaligned", 0, "mmap");
    assert_bar(&g, "pv", x, "page-shared", 0, "mmap");
    write_reaches_sdhci(&g, x + 0x100, 0x12345678);
    bar_place(sd, x + 8 * page + 0x100);
    assert_bar(&g, "pv", x, "direct", 0, "direct");

    /* sdhci first; pvpanic then finds its page shared. */
    bar_place(sd, y + 0x100);
    bar_place(pv, y);
    assert_bar(&g, "pv", y, "page-shared", 0, "mmap");
    write_reaches_sdhci(&g, y + 0x100, 0x9abcdef0);

    /*
     * A direct BAR moved onto a page where a neighbour already lives: its
     * page-sized container must never cover that page, not even between
     * the BAR write and our update (x86: vfio's listener is the oracle).
     */
    bar_place(pv, z + 0x100);
    bar_place(sd, z - page);
    assert_bar(&g, "sd", z - page, "direct", 0, "direct");
    bar_place(sd, z);
    assert_bar(&g, "sd", z, "page-shared", 0, "mmap");
    assert_bar(&g, "pv", z + 0x100, "unaligned", 0, "mmap");
    write_reaches_sdhci(&g, z, 0x0badcafe);
    read_matches(&g, &devices[2], z + 0x100, 10);
    if (log) {
        g_autofree char *sd_mmap =
            vfio_qtest_listener_ram(log, vfio_qtest_cpu_address(z - page), NULL);
        g_autofree char *at_z =
            vfio_qtest_listener_ram(log, vfio_qtest_cpu_address(z), NULL);

        g_assert_nonnull(sd_mmap);
        g_assert_cmpstr(at_z, ==, NULL);
    }

    /* And aligned to unaligned, into that neighbour's page */
    bar_place(sd, z - page);
    assert_bar(&g, "sd", z - page, "direct", 0, "direct");
    bar_place(sd, z + 0x200);
    assert_bar(&g, "sd", z + 0x200, "unaligned", 0, "mmap");
    write_reaches_sdhci(&g, z + 0x200, 0x13572468);
    read_matches(&g, &devices[2], z + 0x100, 10);

    g_free(sd);
    g_free(pv);
    guest_stop(&g);
    if (log) {
        unlink(log);
    }
}

/*
 * A page-aligned BAR that traps: past its end reads ~0, drops writes,
 * counts each access once, and never reaches the device.  The warning
 * does not advise the property that is already on.
 */
static void test_padding(void)
{
    uint64_t page = host_page_size();
    QPCIDevice *sd, *pv;
    uint64_t reads, writes;
    Guest g;

    if (!g_test_subprocess()) {
        g_test_trap_subprocess(NULL, 0, 0);
        g_test_trap_assert_passed();
        g_test_trap_assert_stderr("*BAR 0 (256 bytes) is trapped: the guest "
                                  "placed another region in its host page*");
        g_test_trap_assert_stderr_unmatched("*(256 bytes) is trapped: "
                                            "another*");
        g_test_trap_assert_stderr_unmatched("*vfio_region_*) failed*");
        return;
    }
    if (!pair_start(&g, "on", NULL, &sd, &pv)) {
        return;
    }

    bar_place(pv, WINDOW + page - 0x100);
    bar_place(sd, WINDOW);
    assert_bar(&g, "sd", WINDOW, "page-shared", 0, "mmap");
    assert_bar(&g, "sd", WINDOW, "page-shared", 0x200, "padding");

    writes = trapped(&g, "sd", "trapped-writes");
    mmio_writel(&g, WINDOW + 0x200, 0x5a5a5a5a);
    g_assert_cmpuint(trapped(&g, "sd", "trapped-writes"), ==, writes + 1);
    g_assert_cmphex(mmio_readl(&g, WINDOW + 0x200), ==, 0xffffffff);
    g_assert_cmphex(qtest_readb(g.qts, vfio_qtest_cpu_address(WINDOW + 0x1ff)), ==,
                    0xff);
    reads = trapped(&g, "sd", "trapped-reads");
    g_assert_cmphex(qtest_readq(g.qts, vfio_qtest_cpu_address(WINDOW + 0x400)), ==,
                    UINT64_MAX);
    g_assert_cmpuint(trapped(&g, "sd", "trapped-reads"), ==, reads + 1);
    read_matches(&g, &devices[0], WINDOW, 10);

    g_free(sd);
    g_free(pv);
    guest_stop(&g);
}

/*
 * mmap refused (here by x-no-mmap, the same path as a kernel that does
 * not grant the page): with page alignment the guest still sizes a page,
 * the BAR is served through the device fd and past its end is padding.
 */
static void test_no_mmap_page_align(void)
{
    const SubpageDevice *d = &devices[0];
    uint64_t page = host_page_size();
    g_autofree QPCIDevice *dev = NULL;
    uint64_t reads;
    QDict *bar;
    Guest g;

    dev = single_start(&g, d, "x-bar-page-align=on,x-no-mmap=on");
    if (!dev) {
        return;
    }
    bar_place(dev, WINDOW);

    bar = vfio_qtest_bar(g.qts, "d", 0);
    g_assert_cmpuint(qdict_get_int(bar, "guest-size"), ==, page);
    qobject_unref(bar);
    assert_bar(&g, "d", WINDOW, "no-mmap", 0, "device-fd");
    assert_bar(&g, "d", WINDOW, "no-mmap", d->size, "padding");
    reads = trapped(&g, "d", "trapped-reads");
    read_matches(&g, d, WINDOW, 10);
    g_assert_cmphex(mmio_readl(&g, WINDOW + page - 4), ==, 0xffffffff);
    g_assert_cmpuint(trapped(&g, "d", "trapped-reads"), ==, reads + 11);

    guest_stop(&g);
}

/*
 * While INTx emulation has the BAR mappings disabled (vfio does so when
 * the device interrupts, until the guest's end of interrupt and a timer
 * on the virtual clock, which qtest does not advance), a page-aligned BAR
 * is served through the device fd, and its padding stays padding: no
 * access past the real end reaches the kernel, which would refuse it.
 */
static void test_intx_padding(void)
{
    const SubpageDevice *d = &devices[0];
    uint64_t page = host_page_size();
    g_autofree QPCIDevice *dev = NULL;
    Guest g;
    int i;

    if (!g_test_subprocess()) {
        g_test_trap_subprocess(NULL, 0, 0);
        g_test_trap_assert_passed();
        g_test_trap_assert_stderr_unmatched("*vfio_region_*) failed*");
        return;
    }
    dev = single_start(&g, d, "x-bar-page-align=on");
    if (!dev) {
        return;
    }
    bar_place(dev, WINDOW);
    assert_bar(&g, "d", WINDOW, "direct", 0, "direct");

    /* An error interrupt that the device raises at once (INTx) */
    mmio_writel(&g, WINDOW + SDHCI_INT_ENABLE, 0xffffffff);
    mmio_writel(&g, WINDOW + SDHCI_SIGNAL_ENABLE, 0xffffffff);
    mmio_writel(&g, WINDOW + SDHCI_FORCE_ACMD12, 0x00010001);
    for (i = 0; i < 100 && vfio_qtest_page_is_direct(g.qts,
                                                     vfio_qtest_cpu_address(WINDOW));
         i++) {
        g_usleep(50 * 1000);
    }
    g_assert_false(vfio_qtest_page_is_direct(g.qts, vfio_qtest_cpu_address(WINDOW)));
    assert_bar(&g, "d", WINDOW, "direct", 0, "device-fd");
    assert_bar(&g, "d", WINDOW, "direct", d->size, "padding");

    for (i = 0; i < 16; i++) {
        g_assert_cmphex(mmio_readl(&g, WINDOW + d->size + i * 4), ==,
                        0xffffffff);
    }
    g_assert_cmphex(mmio_readl(&g, WINDOW + page - 4), ==, 0xffffffff);
    read_matches(&g, d, WINDOW, 10);

    /* Quiet the device again */
    mmio_writel(&g, WINDOW + SDHCI_SIGNAL_ENABLE, 0);
    mmio_writel(&g, WINDOW + SDHCI_INT_STATUS, 0xffffffff);
    guest_stop(&g);
}

/*
 * The ROM BAR is the PCI core's: never grown or trapped by us, but a
 * neighbour like any other region of the bus.
 */
static void test_rom_bar(void)
{
    const SubpageDevice *d = &devices[0];
    uint64_t page = host_page_size();
    g_autofree QPCIDevice *dev = NULL;
    g_autofree char *rom = NULL;
    g_autofree char *opts = NULL;
    g_autofree char *section = NULL;
    uint8_t image[512];
    uint64_t start, end;
    int fd;
    Guest g;

    for (int i = 0; i < sizeof(image); i++) {
        image[i] = i * 7 + 1;
    }
    fd = g_file_open_tmp("vfio-subpage-XXXXXX.rom", &rom, NULL);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, image, sizeof(image)), ==, sizeof(image));
    close(fd);

    opts = g_strdup_printf("x-bar-page-align=off,romfile=%s", rom);
    dev = single_start(&g, d, opts);
    if (!dev) {
        unlink(rom);
        return;
    }
    bar_place(dev, WINDOW);
    assert_bar(&g, "d", WINDOW, "direct", 0, "direct");

    qpci_config_writel(dev, PCI_ROM_ADDRESS,
                       (WINDOW + 2 * page) | PCI_ROM_ADDRESS_ENABLE);
    section = vfio_qtest_flat_section(g.qts, vfio_qtest_cpu_address(WINDOW + 2 * page),
                                      &start, &end);
    g_assert_nonnull(section);
    g_assert_cmpuint(end - start + 1, ==, sizeof(image));
    g_assert_cmphex(qtest_readb(g.qts, vfio_qtest_cpu_address(WINDOW + 2 * page + 9)),
                    ==, image[9]);
    assert_bar(&g, "d", WINDOW, "direct", 0, "direct");

    qpci_config_writel(dev, PCI_ROM_ADDRESS,
                       (WINDOW + 0x800) | PCI_ROM_ADDRESS_ENABLE);
    assert_bar(&g, "d", WINDOW, "page-shared", 0, "mmap");
    g_assert_cmphex(qtest_readb(g.qts, vfio_qtest_cpu_address(WINDOW + 0x800 + 9)),
                    ==, image[9]);
    read_matches(&g, d, WINDOW, 10);

    qpci_config_writel(dev, PCI_ROM_ADDRESS, 0);
    assert_bar(&g, "d", WINDOW, "direct", 0, "direct");

    guest_stop(&g);
    unlink(rom);
}

/* Is BAR @bar of test-bed device @name a memory BAR below the host page? */
static bool host_subpage_bar(const char *name, int bar, uint64_t *start)
{
    const char *bdf = vfio_qtest_host(name);
    uint64_t size, unused;

    return bdf && vfio_qtest_sysfs_bar(bdf, bar, start ?: &unused, &size) &&
           size < host_page_size();
}

/*
 * The host kernel placed the device's BAR off a host page boundary, so
 * vfio-pci does not grant the page mmap (the kernel's rule, judged here
 * from sysfs): trapped through the device fd wherever the guest puts it.
 */
static void test_kernel_no_mmap(const void *opaque)
{
    const SubpageDevice *d = opaque;
    g_autofree QPCIDevice *dev = NULL;
    uint64_t before;
    Guest g;

    if (!g_test_subprocess()) {
        g_test_trap_subprocess(NULL, 0, 0);
        g_test_trap_assert_passed();
        g_test_trap_assert_stderr("*BAR 0 * is trapped: the kernel does not "
                                  "allow mmap of its host page*");
        return;
    }
    dev = single_start(&g, d, "x-bar-page-align=auto");
    bar_place(dev, WINDOW);
    assert_bar(&g, "d", WINDOW, "no-mmap", 0, "device-fd");
    before = trapped(&g, "d", "trapped-reads");
    read_matches(&g, d, WINDOW, 10);
    g_assert_cmpuint(trapped(&g, "d", "trapped-reads"), ==, before + 10);
    guest_stop(&g);
}

/*
 * The kernel series states a sub-page BAR's mmap span; QEMU uses it when
 * it is there and infers it from the MMAP flag when not, with the same
 * result for a BAR the kernel gave a page of its own: direct.
 * VFIO_DIRECT_KERNEL_SPAN=1 says the L1 runs the series (check-kernel):
 * the span must then be stated.
 */
static void test_span(const void *opaque)
{
    const SubpageDevice *d = opaque;
    g_autofree char *log = g_strdup_printf("/tmp/vfio-subpage-span-%d.log",
                                           getpid());
    g_autofree char *trace = g_strdup_printf(
        "-trace vfio_direct_subpage_register -D %s", log);
    g_autofree char *text = NULL;
    g_autofree QPCIDevice *dev = NULL;
    g_autofree char *expected = NULL;
    const char *names[] = { d->name, NULL };
    uint32_t flags;
    bool stated;
    Guest g;

    if (!vfio_qtest_require(names)) {
        return;
    }
    guest_start(&g, "%s -device vfio-pci,host=%s,id=d,addr=04.0,"
                "x-bar-page-align=on", trace, vfio_qtest_host(d->name));
    dev = guest_device(&g, 4);
    bar_place(dev, WINDOW);
    assert_bar(&g, "d", WINDOW, "direct", 0, "direct");
    stated = vfio_qtest_region_has_cap(g.qts, "d", 0, "mmap-span", &flags);
    if (!g_strcmp0(g_getenv("VFIO_DIRECT_KERNEL_SPAN"), "1")) {
        g_assert_true(stated);
    }
    expected = g_strdup_printf("mmap granted 1 (span stated by the kernel "
                               "%d)", stated);
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    if (!strstr(text, expected)) {
        g_assert_cmpstr(text, ==, expected);
    }
    guest_stop(&g);
    unlink(log);
}

/*
 * On 64 KiB host pages the 256-byte sdhci BAR0 is direct, grown to its
 * page, where the host kernel gave it a page of its own (pseries-a); where
 * that page is shared and the kernel refuses its mmap (pseries-b: e1000e
 * BAR3's page), it is trapped through the device fd with one warning.
 * Either way every range x-query-vfio reports is true.
 */
static void test_sdhci_64k(void)
{
    const SubpageDevice *d = &devices[0];
    const char *names[] = { d->name, NULL };
    g_autofree QPCIDevice *dev = NULL;
    g_autofree char *warning = NULL;
    const char *bdf = vfio_qtest_host(d->name);
    uint64_t start, size;
    QDict *info, *bar, *last = NULL;
    QListEntry *e;
    uint32_t flags;
    bool shared;
    Guest g;

    if (!vfio_qtest_require(names)) {
        return;
    }
    g_assert_true(vfio_qtest_sysfs_bar(bdf, 0, &start, &size));
    shared = start % host_page_size();
    warning = g_strdup_printf("vfio %s: BAR 0 (256 bytes) is trapped: the "
                              "kernel does not allow mmap of its host page",
                              bdf);
    if (!g_test_subprocess()) {
        g_autofree char *once = g_strdup_printf("*%s*", warning);
        g_autofree char *twice = g_strdup_printf("*%s*%s*", warning, warning);

        g_test_trap_subprocess(NULL, 0, 0);
        g_test_trap_assert_passed();
        if (shared) {
            g_test_trap_assert_stderr(once);
            g_test_trap_assert_stderr_unmatched(twice);
        }
        return;
    }
    dev = single_start(&g, d, "x-bar-page-align=auto");
    bar_place(dev, WINDOW);
    info = vfio_qtest_device(g.qts, "d");
    g_assert_cmphex(qdict_get_int(info, "host-page-size"), ==, 0x10000);
    qobject_unref(info);
    vfio_qtest_region_has_cap(g.qts, "d", 0, "msix-mappable", &flags);
    bar = vfio_qtest_bar(g.qts, "d", 0);
    if (shared) {
        g_assert_false(flags & VFIO_REGION_FLAG_MMAP);
        g_assert_cmpstr(qdict_get_str(bar, "subpage"), ==, "no-mmap");
        g_assert_cmpstr(vfio_qtest_range_at(bar, 0), ==, "device-fd");
    } else {
        g_assert_true(flags & VFIO_REGION_FLAG_MMAP);
        g_assert_cmpstr(qdict_get_str(bar, "subpage"), ==, "direct");
        g_assert_cmpstr(vfio_qtest_range_at(bar, 0), ==, "direct");
        QLIST_FOREACH_ENTRY(qdict_get_qlist(bar, "ranges"), e) {
            last = qobject_to(QDict, qlist_entry_obj(e));
        }
        /* Grown to its 64 KiB page */
        g_assert_nonnull(last);
        g_assert_cmphex(qdict_get_int(last, "offset") +
                        qdict_get_int(last, "size"), ==, 0x10000);
    }
    qobject_unref(bar);
    vfio_qtest_assert_ranges(g.qts, "d", 0, bdf, 0, 0);
    guest_stop(&g);
}

/* 64-bit BAR2 of pci-testdev (membar=), written low half first. */
static void test_bar64_halves(void)
{
    uint64_t page = host_page_size();
    uint64_t where = 0x100000000ULL + 2 * page;
    g_autofree QPCIDevice *dev = NULL;
    uint64_t start, size;
    QDict *bar;
    Guest g;

    g_assert_true(vfio_qtest_sysfs_bar(vfio_qtest_host("testdev"), 2,
                                       &start, &size));

    guest_start(&g, "-device vfio-pci,host=%s,id=t,addr=04.0,"
                "x-bar-page-align=off", vfio_qtest_host("testdev"));
    dev = guest_device(&g, 4);
    bar_decode(dev, true);

    qpci_config_writel(dev, PCI_BASE_ADDRESS_2, (uint32_t)where);
    qpci_config_writel(dev, PCI_BASE_ADDRESS_2 + 4, where >> 32);
    g_assert_true(vfio_qtest_page_is_direct(g.qts, where));
    bar = vfio_qtest_bar(g.qts, "t", 2);
    g_assert_cmpstr(qdict_get_str(bar, "type"), ==, "mem64");
    g_assert_cmphex(qdict_get_int(bar, "address"), ==, where);
    g_assert_cmpstr(qdict_get_str(bar, "subpage"), ==, "direct");
    g_assert_cmpstr(vfio_qtest_range_at(bar, 0), ==, "direct");
    qobject_unref(bar);

    /* High half first this time, to a place off the page boundary */
    qpci_config_writel(dev, PCI_BASE_ADDRESS_2 + 4, 0);
    qpci_config_writel(dev, PCI_BASE_ADDRESS_2, WINDOW + size);
    g_assert_false(vfio_qtest_page_is_direct(g.qts, where));
    g_assert_false(vfio_qtest_page_is_direct(g.qts, WINDOW));
    bar = vfio_qtest_bar(g.qts, "t", 2);
    g_assert_cmphex(qdict_get_int(bar, "address"), ==, WINDOW + size);
    g_assert_cmpstr(qdict_get_str(bar, "subpage"), ==, "unaligned");
    qobject_unref(bar);

    guest_stop(&g);
}

/* pci-testdev with two sub-page BARs (BAR0 4 KiB, BAR2): one page each. */
static void test_two_bars(void)
{
    uint64_t page = host_page_size();
    g_autofree QPCIDevice *dev = NULL;
    QDict *bar;
    Guest g;

    guest_start(&g, "-device vfio-pci,host=%s,id=t,addr=04.0,"
                "x-bar-page-align=off", vfio_qtest_host("testdev"));
    dev = guest_device(&g, 4);
    qpci_config_writel(dev, PCI_BASE_ADDRESS_0, WINDOW);
    qpci_config_writel(dev, PCI_BASE_ADDRESS_2, WINDOW + page);
    qpci_config_writel(dev, PCI_BASE_ADDRESS_2 + 4, 0);
    bar_decode(dev, true);
    g_assert_true(vfio_qtest_page_is_direct(g.qts, vfio_qtest_cpu_address(WINDOW)));
    g_assert_true(vfio_qtest_page_is_direct(g.qts,
                                            vfio_qtest_cpu_address(WINDOW + page)));

    /* BAR2 moves into BAR0's page: both trap; back out: both direct */
    qpci_config_writel(dev, PCI_BASE_ADDRESS_2, WINDOW + page / 2);
    g_assert_false(vfio_qtest_page_is_direct(g.qts, vfio_qtest_cpu_address(WINDOW)));
    bar = vfio_qtest_bar(g.qts, "t", 0);
    g_assert_cmpstr(qdict_get_str(bar, "subpage"), ==, "page-shared");
    qobject_unref(bar);
    bar = vfio_qtest_bar(g.qts, "t", 2);
    g_assert_cmpstr(qdict_get_str(bar, "subpage"), ==, "unaligned");
    qobject_unref(bar);

    qpci_config_writel(dev, PCI_BASE_ADDRESS_2, WINDOW + 3 * page);
    g_assert_true(vfio_qtest_page_is_direct(g.qts, vfio_qtest_cpu_address(WINDOW)));
    g_assert_true(vfio_qtest_page_is_direct(g.qts,
                                            vfio_qtest_cpu_address(WINDOW + 3 * page)));
    guest_stop(&g);
}

/*
 * D3hot and back to D0 with a neighbour placed in the page meanwhile:
 * the PCI core unmaps and remaps the BAR on the PMCSR writes, and the
 * remapped BAR must not come back page-sized over the neighbour.  The
 * neighbour is an emulated device (QEMU's own pci-testdev), whose BAR
 * write no vfio code sees, so only the PMCSR write can catch it
 * (eepro100: a 4 KiB BAR0 and a PM capability, so 64 KiB hosts only).
 */
static void test_d3_neighbour(void)
{
    uint64_t page = host_page_size();
    uint64_t nb = WINDOW + page / 2;
    g_autofree QPCIDevice *ee = NULL;
    g_autofree QPCIDevice *testdev = NULL;
    g_autofree char *section = NULL;
    uint64_t start, end;
    uint8_t pm;
    Guest g;

    guest_start(&g, "-device vfio-pci,host=%s,id=ee,addr=04.0,"
                "x-bar-page-align=off -device pci-testdev,addr=05.0",
                vfio_qtest_host("eepro100"));
    ee = guest_device(&g, 4);
    testdev = guest_device(&g, 5);
    pm = qpci_find_capability(ee, PCI_CAP_ID_PM, 0);
    g_assert_cmpuint(pm, !=, 0);

    bar_place(ee, WINDOW);
    assert_bar(&g, "ee", WINDOW, "direct", 0, "direct");

    qpci_config_writew(ee, pm + PCI_PM_CTRL, 3);    /* D3hot */
    assert_bar(&g, "ee", UNMAPPED, "unmapped", 0, "none");
    bar_place(testdev, nb);
    qpci_config_writew(ee, pm + PCI_PM_CTRL, 0);    /* D0 */

    assert_bar(&g, "ee", WINDOW, "page-shared", 0, "mmap");
    section = vfio_qtest_flat_section(g.qts, vfio_qtest_cpu_address(nb), &start, &end);
    g_assert_nonnull(section);
    g_assert_true(g_str_has_prefix(section, "pci-testdev"));

    bar_decode(testdev, false);
    qpci_config_writew(ee, pm + PCI_PM_CTRL, 3);
    qpci_config_writew(ee, pm + PCI_PM_CTRL, 0);
    assert_bar(&g, "ee", WINDOW, "direct", 0, "direct");
    guest_stop(&g);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    arch = vfio_qtest_machine();
    if (!arch) {
        g_test_message("no machine known for %s", qtest_get_arch());
        return g_test_run();
    }
    for (int i = 0; i < ARRAY_SIZE(devices); i++) {
        const SubpageDevice *d = &devices[i];
        g_autofree char *aligned =
            g_strdup_printf("/vfio/subpage/%s/aligned", d->name);
        g_autofree char *unaligned =
            g_strdup_printf("/vfio/subpage/%s/unaligned", d->name);
        g_autofree char *page_align =
            g_strdup_printf("/vfio/subpage/%s/page-align", d->name);
        g_autofree char *move =
            g_strdup_printf("/vfio/subpage/%s/move-toggle-reset", d->name);

        qtest_add_data_func(aligned, d, test_aligned);
        qtest_add_data_func(unaligned, d, test_unaligned);
        qtest_add_data_func(page_align, d, test_page_align);
        qtest_add_data_func(move, d, test_move);
    }
    qtest_add_func("/vfio/subpage/neighbour", test_neighbour);
    qtest_add_func("/vfio/subpage/padding", test_padding);
    qtest_add_func("/vfio/subpage/no-mmap-page-align",
                   test_no_mmap_page_align);
    qtest_add_func("/vfio/subpage/rom-bar", test_rom_bar);
    qtest_add_func("/vfio/subpage/intx-padding", test_intx_padding);

    /* Cases that only some hosts' BAR layouts have */
    for (int i = 0; i < ARRAY_SIZE(devices); i++) {
        uint64_t start;

        if (host_subpage_bar(devices[i].name, 0, &start) &&
            start % host_page_size()) {
            g_autofree char *path =
                g_strdup_printf("/vfio/subpage/%s/kernel-no-mmap",
                                devices[i].name);

            qtest_add_data_func(path, &devices[i], test_kernel_no_mmap);
        }
    }
    for (int i = 0; i < ARRAY_SIZE(devices); i++) {
        uint64_t start;

        if (host_subpage_bar(devices[i].name, 0, &start) &&
            start % host_page_size() == 0) {
            g_autofree char *path =
                g_strdup_printf("/vfio/subpage/%s/span", devices[i].name);

            qtest_add_data_func(path, &devices[i], test_span);
        }
    }
    if (host_subpage_bar("testdev", 2, NULL) && !strcmp(arch->arch, "x86_64")) {
        qtest_add_func("/vfio/subpage/bar64-halves", test_bar64_halves);
    }
    if (host_subpage_bar("testdev", 0, NULL) &&
        host_subpage_bar("testdev", 2, NULL)) {
        qtest_add_func("/vfio/subpage/two-bars", test_two_bars);
    }
    if (host_page_size() == 0x10000) {
        qtest_add_func("/vfio/subpage/sdhci/64k", test_sdhci_64k);
    }
    if (host_subpage_bar("eepro100", 0, NULL)) {
        qtest_add_func("/vfio/subpage/d3-neighbour", test_d3_neighbour);
    }

    return g_test_run();
}
