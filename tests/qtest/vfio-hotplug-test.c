/*
 * QTest for hot-unplug and replug of vfio-pci devices with sub-page BARs
 *
 * Runs in the test bed against real kernel vfio-pci.  sdhci-pci (256-byte
 * BAR0, mapped directly as its host page) is plugged, used, unplugged the
 * way a guest does it (device_del, then the ACPI eject), and in the window
 * before QEMU finalizes it another assigned device toggles its decoding and
 * the machine resets.  Then the same host device is plugged again.  The
 * oracles are QEMU's DEVICE_DELETED event (sent when the device is really
 * gone), the file descriptors QEMU holds on /dev/vfio, a replug of the
 * same host= (which fails while the old device still holds it), and vfio's
 * memory listener for "direct" (the flat-view oracle, "info mtree -f",
 * keeps devices alive in QEMU 10.0, see vfio-qtest-util.h).  Both
 * machines: i440fx with ACPI PCI hotplug on the root bus, and q35 with the
 * device behind a pcie-root-port (ACPI hotplug too, QEMU's default), which
 * also shows x-query-vfio finding a BAR behind a bridge.
 *
 * unplug-under-load (q35 with an intel-iommu, so that every assigned
 * device has a container of its own and its guest RAM is pinned for it):
 * sdhci-pci or nvme is plugged behind a root port, its BAR0 placed and
 * decoded with bus mastering on, and e1000e stays assigned on the root
 * bus.  Each cycle reads and writes the plugged device's registers, then
 * unplugs it with device_del while those accesses go on up to and after
 * the ACPI eject, then plugs the same host= again.  Oracles, none of them
 * our query: the L1 kernel's locked memory for QEMU (VmLck) grows by the
 * guest RAM while the device is plugged and is back to its value before
 * the plug after every unplug; QEMU's /dev/vfio descriptors are back to
 * their count; the flat view ("info mtree -f") maps its page directly
 * while it is plugged and holds no section of it once it is gone; the device's registers read
 * what the L1's sysfs resource reads, and e1000e's do all along.  Our
 * x-query-vfio DMA counters must agree: the e1000e container's mappings
 * (it maps the plugged BAR for peer-to-peer) return to their count.
 * VFIO_UNPLUG_CYCLES sets the cycles per device (default 10).
 *
 * On ppc64 the same cases run on pseries (in the pseries L1, 64 KiB pages
 * and the sPAPR TCE v2 IOMMU), through the PHB's hot-plug path: the test
 * does what a guest's DRC handling does with RTAS, unisolate and
 * ibm,configure-connector after device_add, and isolate (which releases
 * the device) after device_del.  Every device of the PHB is in one host
 * IOMMU group, so the plugged device shares the container of the one that
 * stays (e1000e): unplugging it must leave that container's TCE mappings
 * and preregistered RAM alone.  unplug-under-load therefore runs a guest
 * under TCG next to the qtest protocol (a few instructions that make the
 * hypercalls the test asks for): with the device plugged, the guest maps
 * 16 TCEs (H_PUT_TCE_INDIRECT); the unplug under load leaves those
 * mappings live; then the guest clears them (H_STUFF_TCE).  Oracles: the
 * L1 kernel's own record of the container's MAP_DMA and UNMAP_DMA calls
 * (kprobes on tce_iommu_ioctl, as tests/testbed/tce_ioctls.py) and what
 * they leave mapped, VmLck (which preregistration charges), QEMU's
 * /dev/vfio descriptors, e1000e's registers against sysfs; x-query-vfio's
 * TCE, DMA and prereg counters must agree.  All return to their values of
 * before the plug once the guest cleared its TCEs.  VFIO_UNPLUG_CYCLES
 * defaults to 3 there (a QEMU in the TCG L1 is slow).
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include <sys/mount.h>
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "hw/pci/pci_regs.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "vfio-qtest-util.h"

#define WINDOW          0xc0000000ULL   /* bus address in the 32-bit window */
#define ROUNDS          3
#define PIIX_PCIHP      0xae00          /* ACPI PCI hotplug registers */
#define ICH9_PCIHP      0x0cc0
#define PCIHP_EJ        0x08
#define PCIHP_SEL       0x10
#define SDHCI_CAPS      0x40
#define SDHCI_ARGUMENT  0x08
#define NVME_VS         0x08
#define NVME_MSIX_DATA  0x2008          /* table entry 0's message data */
#define E1000_STATUS    0x08
#define LOAD_CYCLES     10
#define LOAD_RAM        (64 * MiB)
#define LOAD_ACCESSES   8
#define SPAPR_SLOT      6               /* where "hp" goes on the PHB */

typedef struct Machine Machine;

struct Machine {
    const char *name;
    const char *args;           /* machine, and the root port on q35 */
    const char *bus;            /* where "hp" is plugged */
    const char *other_bus;      /* where "other" sits, at 05.0 */
    int slot;                   /* its slot there */
    int bus_nr;                 /* its bus number (we number the bridge) */
    /*
     * vfio's memory listener sees a plugged BAR (peer to peer mappings):
     * not on pseries, whose containers follow the PHB's DMA address space.
     */
    bool listener;
    void (*open_window)(QPCIBus *pcibus);
    /* what the guest does once device_add returned, or NULL */
    void (*configure)(QTestState *qts, const Machine *m);
    void (*eject)(QTestState *qts, const Machine *m);
};

static void piix_eject(QTestState *qts, const Machine *m)
{
    qtest_outl(qts, PIIX_PCIHP + PCIHP_EJ, 1 << m->slot);
}

/* Select the root port's bus (its ACPI bsel) and eject the slot there. */
static void ich9_eject(QTestState *qts, const Machine *m)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': {"
                           " 'path': '/machine/peripheral/rp/rp',"
                           " 'property': 'acpi-pcihp-bsel' } }");

    g_assert(qdict_haskey(rsp, "return"));
    qtest_outl(qts, ICH9_PCIHP + PCIHP_SEL, qdict_get_int(rsp, "return"));
    qobject_unref(rsp);
    qtest_outl(qts, ICH9_PCIHP + PCIHP_EJ, 1 << m->slot);
}

/* Give the root port (00:06.0) bus 1 and a memory window at WINDOW. */
static void rp_open_window(QPCIBus *pcibus)
{
    QPCIDevice *rp = qpci_device_find(pcibus, QPCI_DEVFN(6, 0));

    g_assert_nonnull(rp);
    qpci_config_writeb(rp, PCI_SECONDARY_BUS, 1);
    qpci_config_writeb(rp, PCI_SUBORDINATE_BUS, 1);
    qpci_config_writew(rp, PCI_MEMORY_BASE, (WINDOW >> 16) & 0xfff0);
    qpci_config_writew(rp, PCI_MEMORY_LIMIT,
                       ((WINDOW + 0xfffff) >> 16) & 0xfff0);
    qpci_config_writew(rp, PCI_COMMAND,
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    g_free(rp);
}

/*
 * The pseries PHB's hot-plug path, driven as a guest's DRC handling does
 * it, with RTAS calls on PHB 0's root bus.
 */
#define RTAS_ARGS       0x10000ULL      /* guest RAM for RTAS buffers */
#define RTAS_RETS       0x10100ULL
#define RTAS_WORK_AREA  0x11000ULL      /* ibm,configure-connector's */
#define DRC_TYPE_PCI    (4u << 28)      /* PCI DRC indexes: type, devfn */
#define ISOLATION_STATE 9001            /* set-indicator's sensor type */
#define ISOLATED        0
#define UNISOLATED      1
#define CC_NEXT_CHILD   2               /* ibm,configure-connector: more */
#define CC_PREV_PARENT  4

/* One RTAS call with 32-bit arguments; returns its status */
static int32_t spapr_rtas(QTestState *qts, const char *name, int nargs,
                          const uint32_t *args)
{
    for (int i = 0; i < nargs; i++) {
        qtest_writel(qts, RTAS_ARGS + 4 * i, args[i]);
    }
    g_assert_cmpint(qtest_rtas_call(qts, name, nargs, RTAS_ARGS, 1,
                                    RTAS_RETS), ==, 0);
    return qtest_readl(qts, RTAS_RETS);
}

/* The index of the DRC of "hp"'s slot, as QEMU names it */
static uint32_t spapr_drc(QTestState *qts, const Machine *m)
{
    uint32_t index = DRC_TYPE_PCI | QPCI_DEVFN(m->slot, 0);
    g_autofree char *path = g_strdup_printf("/dr-connector/%x", index);
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': {"
                           " 'path': %s, 'property': 'index' } }", path);

    g_assert_cmpint(qdict_get_int(rsp, "return"), ==, index);
    qobject_unref(rsp);
    return index;
}

/* Unisolate the slot and fetch its device tree, until it is configured. */
static void spapr_configure(QTestState *qts, const Machine *m)
{
    uint32_t drc = spapr_drc(qts, m);
    uint32_t unisolate[] = { ISOLATION_STATE, drc, UNISOLATED };
    uint32_t work_area[] = { RTAS_WORK_AREA, 0 };
    int32_t rc = CC_NEXT_CHILD;

    g_assert_cmpint(spapr_rtas(qts, "set-indicator", 3, unisolate), ==, 0);
    for (int i = 0; i < 1000 && rc >= CC_NEXT_CHILD && rc <= CC_PREV_PARENT;
         i++) {
        qtest_writel(qts, RTAS_WORK_AREA, drc);
        rc = spapr_rtas(qts, "ibm,configure-connector", 2, work_area);
    }
    g_assert_cmpint(rc, ==, 0);
}

/* Isolate the slot: QEMU releases a device whose unplug was requested. */
static void spapr_eject(QTestState *qts, const Machine *m)
{
    uint32_t isolate[] = { ISOLATION_STATE, spapr_drc(qts, m), ISOLATED };

    g_assert_cmpint(spapr_rtas(qts, "set-indicator", 3, isolate), ==, 0);
}

static const Machine machines[] = {
    {
        .name = "i440fx",
        .args = "-M pc -m 64M",
        .bus = "pci.0",
        .other_bus = "pci.0",
        .slot = 6,
        .bus_nr = 0,
        .listener = true,
        .eject = piix_eject,
    }, {
        .name = "q35-root-port",
        .args = "-M q35 -m 64M "
                "-device pcie-root-port,id=rp,bus=pcie.0,addr=06.0,chassis=1",
        .bus = "rp",
        .other_bus = "pcie.0",
        .slot = 0,
        .bus_nr = 1,
        .listener = true,
        .open_window = rp_open_window,
        .eject = ich9_eject,
    },
};

/* args: vfio_qtest_machine()'s */
static const Machine spapr_machine = {
    .name = "pseries",
    .bus = "pci.0",
    .other_bus = "pci.0",
    .slot = SPAPR_SLOT,
    .bus_nr = 0,
    .configure = spapr_configure,
    .eject = spapr_eject,
};

static const char *machine_args(const Machine *m)
{
    return m->args ? m->args : vfio_qtest_machine()->options;
}

static bool listed(QTestState *qts, const char *id)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'x-query-vfio' }");
    QListEntry *e;
    bool found = false;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *dev = qobject_to(QDict, qlist_entry_obj(e));

        found |= !g_strcmp0(qdict_get_try_str(dev, "id"), id);
    }
    qobject_unref(rsp);
    return found;
}

/*
 * Plug host device @bdf as "hp" in @m's hot-plug slot (@page_align: its
 * x-bar-page-align, NULL: the default), do what @m's guest does until
 * the device shows on the bus, and place its BAR0 at WINDOW.
 */
static QPCIDevice *hp_plug(QTestState *qts, QPCIBus *pcibus, const Machine *m,
                           const char *bdf, const char *page_align)
{
    g_autofree char *addr = g_strdup_printf("0x%x", m->slot);
    QDict *args = qdict_new();
    QPCIDevice *dev;

    qdict_put_str(args, "id", "hp");
    qdict_put_str(args, "host", bdf);
    qdict_put_str(args, "bus", m->bus);
    qdict_put_str(args, "addr", addr);
    if (page_align) {
        qdict_put_str(args, "x-bar-page-align", page_align);
    }
    qtest_qmp_device_add_qdict(qts, "vfio-pci", args);
    qobject_unref(args);
    if (m->configure) {
        m->configure(qts, m);
    }
    if (m->open_window) {
        m->open_window(pcibus);
    }
    dev = qpci_device_find(pcibus, (m->bus_nr << 8) | QPCI_DEVFN(m->slot, 0));
    g_assert_nonnull(dev);
    qpci_config_writel(dev, PCI_BASE_ADDRESS_0, WINDOW);
    return dev;
}

/* Plug sdhci as "hp", place its BAR0 on a page of its own: direct. */
static void plug(QTestState *qts, QPCIBus *pcibus, const Machine *m,
                 const char *log, int *mapped)
{
    g_autofree QPCIDevice *dev = NULL;
    QDict *bar;
    uint32_t expected, got;
    int now;

    dev = hp_plug(qts, pcibus, m, vfio_qtest_host("sdhci"), "off");
    qpci_config_writew(dev, PCI_COMMAND, PCI_COMMAND_MEMORY);

    /* The oracle: vfio's listener got the page as RAM, as KVM would */
    if (m->listener) {
        vfio_qtest_listener_ram(log, WINDOW, &now);
        g_assert_cmpint(now, ==, *mapped + 1);
        *mapped = now;
    }
    bar = vfio_qtest_bar(qts, "hp", 0);
    g_assert_cmpstr(qdict_get_str(bar, "subpage"), ==, "direct");
    g_assert_cmphex(qdict_get_int(bar, "cpu-address"), ==,
                    vfio_qtest_cpu_address(WINDOW));
    g_assert_cmpstr(vfio_qtest_range_at(bar, 0), ==, "direct");
    qobject_unref(bar);
    /* The flat view, read while mapped, must not keep it (hook 0024) */
    g_assert_true(vfio_qtest_page_is_direct(qts,
                                            vfio_qtest_cpu_address(WINDOW)));

    expected = vfio_qtest_sysfs_bar_read(vfio_qtest_host("sdhci"), 0,
                                         SDHCI_CAPS, 4);
    got = vfio_qtest_mmio_readl(qts, WINDOW + SDHCI_CAPS);
    g_assert_cmphex(got, ==, expected);
}

/* Events seen so far, counted by the event callback */
typedef struct Events {
    int deleted;
    int reset;
} Events;

static bool count_event(QTestState *qts, const char *name, QDict *event,
                        void *opaque)
{
    Events *ev = opaque;

    if (!strcmp(name, "DEVICE_DELETED")) {
        ev->deleted++;
    } else if (!strcmp(name, "RESET")) {
        ev->reset++;
    }
    return true;
}

/* Wait up to 10 s for *@counter to reach @n, pumping QMP meanwhile. */
static bool wait_count(QTestState *qts, const int *counter, int n)
{
    for (int i = 0; i < 100 && *counter < n; i++) {
        qtest_qmp_assert_success(qts, "{ 'execute': 'query-status' }");
        if (*counter < n) {
            g_usleep(100 * 1000);
        }
    }
    return *counter >= n;
}

static void test_unplug_replug(const void *opaque)
{
    const Machine *m = opaque;
    const char *names[] = { "sdhci", "i6300esb", NULL };
    g_autofree QPCIDevice *other = NULL;
    g_autofree char *log = NULL;
    QTestState *qts;
    QPCIBus *pcibus;
    QGuestAllocator alloc;
    int base_fds, fd, mapped = 0;
    Events ev = { 0 };

    if (!vfio_qtest_require(names)) {
        return;
    }
    fd = g_file_open_tmp("vfio-hotplug-XXXXXX.log", &log, NULL);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    qts = qtest_initf("%s -nodefaults -trace vfio_listener_region_add_ram "
                      "-D %s -device vfio-pci,host=%s,id=other,"
                      "bus=%s,addr=05.0", machine_args(m), log,
                      vfio_qtest_host("i6300esb"), m->other_bus);
    qtest_qmp_set_event_callback(qts, count_event, &ev);
    pcibus = vfio_qtest_pci_bus(qts, &alloc);
    other = qpci_device_find(pcibus, QPCI_DEVFN(5, 0));
    g_assert_nonnull(other);
    base_fds = vfio_qtest_vfio_fds(qtest_pid(qts));

    for (int round = 0; round < ROUNDS; round++) {
        plug(qts, pcibus, m, log, &mapped);
        g_assert_cmpint(vfio_qtest_vfio_fds(qtest_pid(qts)), >, base_fds);

        /* Unplug as a guest does, then disturb the window before finalize */
        qtest_qmp_device_del_send(qts, "hp");
        m->eject(qts, m);
        qpci_config_writel(other, PCI_BASE_ADDRESS_0, WINDOW + 0x100000);
        qpci_config_writew(other, PCI_COMMAND, PCI_COMMAND_MEMORY);
        qpci_config_writew(other, PCI_COMMAND, 0);
        qtest_qmp_assert_success(qts, "{ 'execute': 'system_reset' }");
        g_assert_true(wait_count(qts, &ev.reset, round + 1));

        g_assert_true(wait_count(qts, &ev.deleted, round + 1));
        g_assert_false(listed(qts, "hp"));
        g_assert_true(listed(qts, "other"));
        g_assert_cmpint(vfio_qtest_vfio_fds(qtest_pid(qts)), ==, base_fds);
    }

    vfio_qtest_pci_bus_free(pcibus, &alloc);
    qtest_quit(qts);
    unlink(log);
}

/* A device unplugged under load, and what of it the test touches */
typedef struct LoadDevice {
    const char *name;           /* test-bed device, plugged as "hp" */
    uint32_t ro_reg;            /* BAR0 register that reads as in sysfs */
    uint32_t rw_reg;            /* BAR0 register that keeps a write */
} LoadDevice;

static const LoadDevice load_devices[] = {
    /* BAR0 is 256 bytes, mapped directly as its host page */
    { "sdhci", SDHCI_CAPS, SDHCI_ARGUMENT },
    /* the MSI-X table (emulated by QEMU on x86) shares BAR0 */
    { "nvme", NVME_VS, NVME_MSIX_DATA },
};

#define LOAD_ARGS "-M q35 -m 64M -nodefaults " \
    "-device intel-iommu,caching-mode=on,aw-bits=39 " \
    "-device pcie-root-port,id=rp,bus=pcie.0,addr=06.0,chassis=1 " \
    "-device vfio-pci,host=%s,id=other,bus=pcie.0,addr=05.0"
#define OTHER_BAR0 (WINDOW + 0x100000)  /* past the root port's window */

/*
 * x-query-vfio's DMA counters of @id's container: calls and bytes mapped
 * less those unmapped, and the planner's guest RAM mappings.
 */
static void dma_held(QTestState *qts, const char *id, int64_t *calls,
                     int64_t *bytes, int64_t *mappings)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'x-query-vfio' }");
    QListEntry *e;
    bool found = false;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *dev = qobject_to(QDict, qlist_entry_obj(e));
        QDict *dma = qdict_get_qdict(dev, "dma");

        if (g_strcmp0(qdict_get_try_str(dev, "id"), id)) {
            continue;
        }
        g_assert_nonnull(dma);
        /* the kernel refuses a map where an old mapping was left */
        g_assert_cmpint(qdict_get_int(dma, "map-failures"), ==, 0);
        *calls = qdict_get_int(dma, "map-calls") -
                 qdict_get_int(dma, "unmap-calls");
        *bytes = qdict_get_int(dma, "map-bytes") -
                 qdict_get_int(dma, "unmap-bytes");
        *mappings = qdict_get_int(dma, "mappings");
        found = true;
    }
    qobject_unref(rsp);
    g_assert_true(found);
}

/* Sections of the flat view that belong to host device @bdf */
static int flat_sections_of(QTestState *qts, const char *bdf)
{
    GArray *sections = vfio_qtest_flat_view(qts);
    int n = 0;

    for (guint i = 0; i < sections->len; i++) {
        VFIOQtestSection *s = &g_array_index(sections, VFIOQtestSection, i);

        if (strstr(s->name, bdf)) {
            n++;
        }
    }
    vfio_qtest_flat_view_free(sections);
    return n;
}

/* e1000e keeps working: its STATUS reads what the L1's sysfs reads. */
static void other_works(QTestState *qts)
{
    uint32_t host = vfio_qtest_sysfs_bar_read(vfio_qtest_host("e1000e"), 0,
                                              E1000_STATUS, 4);

    g_assert_cmphex(host, !=, 0xffffffff);
    g_assert_cmphex(vfio_qtest_mmio_readl(qts, OTHER_BAR0 + E1000_STATUS), ==,
                    host);
}

/*
 * Accesses to the plugged device: its read-only register against sysfs
 * and a write read back, @n times.  Before the eject (@checked) they
 * must hold; after it the accesses go on to nothing, unchecked.
 */
static void load(QTestState *qts, const LoadDevice *d, uint32_t seed, int n,
                 bool checked)
{
    uint32_t host = checked ?
        vfio_qtest_sysfs_bar_read(vfio_qtest_host(d->name), 0, d->ro_reg, 4)
        : 0;

    for (int i = 0; i < n; i++) {
        uint32_t val = seed * 0x9e3779b1u + i;
        uint32_t ro = vfio_qtest_mmio_readl(qts, WINDOW + d->ro_reg);
        uint32_t rw;

        vfio_qtest_mmio_writel(qts, WINDOW + d->rw_reg, val);
        rw = vfio_qtest_mmio_readl(qts, WINDOW + d->rw_reg);
        if (checked) {
            g_assert_cmphex(ro, ==, host);
            g_assert_cmphex(rw, ==, val);
        }
    }
}

/* VFIO_UNPLUG_CYCLES, or @dflt */
static int unplug_cycles(int dflt)
{
    const char *env = g_getenv("VFIO_UNPLUG_CYCLES");
    int cycles = env ? atoi(env) : dflt;

    g_assert_cmpint(cycles, >, 0);
    return cycles;
}

/*
 * Unplug "hp" while the accesses go on, before and after the eject; it is
 * cycle @cycle's, so *@deleted reaches @cycle + 1.
 */
static void unplug_under_load(QTestState *qts, const Machine *m,
                              const LoadDevice *d, int cycle,
                              const int *deleted)
{
    qtest_qmp_device_del_send(qts, "hp");
    load(qts, d, cycle, LOAD_ACCESSES, true);
    m->eject(qts, m);
    load(qts, d, cycle, LOAD_ACCESSES, false);
    g_assert_true(wait_count(qts, deleted, cycle + 1));
    load(qts, d, cycle, LOAD_ACCESSES, false);
}

/* Nothing of host device @bdf is left: pins, descriptors, sections */
static void nothing_left(QTestState *qts, const char *bdf, uint64_t locked,
                         int base_fds)
{
    g_assert_cmphex(vfio_qtest_vmlck(qtest_pid(qts)), ==, locked);
    g_assert_cmpint(vfio_qtest_vfio_fds(qtest_pid(qts)), ==, base_fds);
    g_assert_false(listed(qts, "hp"));
    g_assert_cmpint(flat_sections_of(qts, bdf), ==, 0);
}

/*
 * "other" (e1000e, at 05.0 of @pcibus) with its BAR0 at OTHER_BAR0 and
 * memory decode on: it works, and the flat view holds its sections and
 * none of the host device @bdf's.  Returns QEMU's /dev/vfio descriptors.
 */
static int other_start(QTestState *qts, QPCIBus *pcibus, const char *bdf)
{
    g_autofree QPCIDevice *other = qpci_device_find(pcibus,
                                                    QPCI_DEVFN(5, 0));

    g_assert_nonnull(other);
    qpci_config_writel(other, PCI_BASE_ADDRESS_0, OTHER_BAR0);
    qpci_config_writew(other, PCI_COMMAND, PCI_COMMAND_MEMORY);
    other_works(qts);
    /* the flat-view oracle finds a device's sections by host BDF */
    g_assert_cmpint(flat_sections_of(qts, vfio_qtest_host("e1000e")), >, 0);
    g_assert_cmpint(flat_sections_of(qts, bdf), ==, 0);
    return vfio_qtest_vfio_fds(qtest_pid(qts));
}

/* Plug @bdf as "hp" on @m, its BAR0 at WINDOW: memory and bus master on. */
static QPCIDevice *hp_plug_master(QTestState *qts, QPCIBus *pcibus,
                                  const Machine *m, const char *bdf)
{
    QPCIDevice *dev = hp_plug(qts, pcibus, m, bdf, NULL);

    qpci_config_writel(dev, PCI_BASE_ADDRESS_1, 0);
    qpci_config_writew(dev, PCI_COMMAND,
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    return dev;
}

static void test_unplug_load(const void *opaque)
{
    const LoadDevice *d = opaque;
    const char *names[] = { d->name, "e1000e", NULL };
    const Machine *m = &machines[1];
    int cycles = unplug_cycles(LOAD_CYCLES);
    const char *bdf = vfio_qtest_host(d->name);
    QTestState *qts;
    QPCIBus *pcibus;
    int base_fds;
    Events ev = { 0 };

    if (!vfio_qtest_require(names)) {
        return;
    }
    qts = qtest_initf(LOAD_ARGS, vfio_qtest_host("e1000e"));
    qtest_qmp_set_event_callback(qts, count_event, &ev);
    pcibus = qpci_new_pc(qts, NULL);
    base_fds = other_start(qts, pcibus, bdf);

    for (int cycle = 0; cycle < cycles; cycle++) {
        uint64_t locked = vfio_qtest_vmlck(qtest_pid(qts)), plugged;
        int64_t calls, bytes, mappings, calls_now, bytes_now, hp_mappings;
        g_autofree QPCIDevice *dev = NULL;

        dma_held(qts, "other", &calls, &bytes, &mappings);
        dev = hp_plug_master(qts, pcibus, m, bdf);

        /* Its own container pinned the guest RAM: DMA is mapped */
        plugged = vfio_qtest_vmlck(qtest_pid(qts));
        g_assert_cmphex(plugged - locked, >=, LOAD_RAM - MiB);
        g_assert_cmphex(plugged - locked, <=, LOAD_RAM + MiB);
        dma_held(qts, "hp", &calls_now, &bytes_now, &hp_mappings);
        g_assert_cmpint(hp_mappings, >, 0);
        g_assert_cmphex(bytes_now, >=, plugged - locked);
        g_assert_cmpint(vfio_qtest_vfio_fds(qtest_pid(qts)), >, base_fds);
        load(qts, d, cycle, LOAD_ACCESSES, true);
        other_works(qts);
        /* e1000e's container maps the plugged BAR too (peer to peer) */
        dma_held(qts, "other", &calls_now, &bytes_now, &hp_mappings);
        if (!cycle) {
            g_test_message("VmLck %" PRIu64 " KiB, plugged %" PRIu64 " KiB; "
                           "e1000e's container holds %" PRId64 " bytes in %"
                           PRId64 " maps, plugged %" PRId64 " in %" PRId64,
                           locked / KiB, plugged / KiB, bytes, calls,
                           bytes_now, calls_now);
        }
        g_assert_cmpint(bytes_now, >, bytes);

        unplug_under_load(qts, m, d, cycle, &ev.deleted);
        /* Nothing of it is left: pins, descriptors, sections, mappings */
        nothing_left(qts, bdf, locked, base_fds);
        dma_held(qts, "other", &calls_now, &bytes_now, &hp_mappings);
        g_assert_cmpint(calls_now, ==, calls);
        g_assert_cmpint(bytes_now, ==, bytes);
        g_assert_cmpint(hp_mappings, ==, mappings);
        other_works(qts);
    }
    g_test_message("%d unplug cycles of %s under load", cycles, d->name);

    qpci_free_pc(pcibus);
    qtest_quit(qts);
}

/*
 * pseries: the guest of unplug-under-load, at the entry point (0x100, big
 * endian, real mode).  It waits for a hypercall number in the mailbox,
 * makes the call with the mailbox's four arguments, stores the return
 * code and clears the number.  The test runs it (cont) only for a call.
 */
#define GUEST_ENTRY         0x100ULL
#define GUEST_MAILBOX       0x2000000ULL    /* number, 4 arguments, result */
#define GUEST_TCE_LIST      0x1000000ULL
#define GUEST_PAGES         0x4000000ULL    /* what the TCEs point at */
#define TCE_PAGES           16              /* 4 KiB TCEs: one 64 KiB run */
#define TCE_RW              3               /* read and write */
#define PHB0_LIOBN          0x80000000ULL   /* PHB 0's default window */
#define H_STUFF_TCE         0x138
#define H_PUT_TCE_INDIRECT  0x13c

static const uint32_t hcall_guest[] = {
    0x3d200200,     /*     lis    r9, GUEST_MAILBOX@h */
    0xe8690000,     /* 1:  ld     r3, 0(r9)      the call, 0: none */
    0x2c230000,     /*     cmpdi  r3, 0 */
    0x4182fff8,     /*     beq    1b */
    0xe8890008,     /*     ld     r4, 8(r9) */
    0xe8a90010,     /*     ld     r5, 16(r9) */
    0xe8c90018,     /*     ld     r6, 24(r9) */
    0xe8e90020,     /*     ld     r7, 32(r9) */
    0x44000022,     /*     sc     1 */
    0xf8690028,     /*     std    r3, 40(r9)     its return code */
    0x7c0004ac,     /*     sync */
    0x39400000,     /*     li     r10, 0 */
    0xf9490000,     /*     std    r10, 0(r9)     done */
    0x4bffffd0,     /*     b      1b */
};

static void guest_load(QTestState *qts)
{
    for (int i = 0; i < ARRAY_SIZE(hcall_guest); i++) {
        qtest_writel(qts, GUEST_ENTRY + 4 * i, hcall_guest[i]);
    }
    qtest_writeq(qts, GUEST_MAILBOX, 0);
    for (int i = 0; i < TCE_PAGES; i++) {
        qtest_writeq(qts, GUEST_TCE_LIST + 8 * i,
                     (GUEST_PAGES + i * 4 * KiB) | TCE_RW);
    }
}

/* Have the guest make hypercall @nr; its return code. */
static int64_t guest_hcall(QTestState *qts, uint64_t nr, uint64_t a0,
                           uint64_t a1, uint64_t a2, uint64_t a3)
{
    const uint64_t args[] = { a0, a1, a2, a3 };
    int i;

    for (i = 0; i < ARRAY_SIZE(args); i++) {
        qtest_writeq(qts, GUEST_MAILBOX + 8 + 8 * i, args[i]);
    }
    qtest_writeq(qts, GUEST_MAILBOX + 40, -1);
    qtest_writeq(qts, GUEST_MAILBOX, nr);
    qtest_qmp_assert_success(qts, "{ 'execute': 'cont' }");
    for (i = 0; i < 600 && qtest_readq(qts, GUEST_MAILBOX); i++) {
        g_usleep(50 * 1000);
    }
    qtest_qmp_assert_success(qts, "{ 'execute': 'stop' }");
    g_assert_cmphex(qtest_readq(qts, GUEST_MAILBOX), ==, 0);
    return qtest_readq(qts, GUEST_MAILBOX + 40);
}

/*
 * The L1 kernel's own record of the sPAPR container's MAP_DMA and
 * UNMAP_DMA calls: kprobes on tce_iommu_ioctl (its command and the
 * caller's argument, read from user memory) and on its return.
 */
#define TRACEFS             "/sys/kernel/tracing"
#define VFIO_MAP_DMA        0x3b71      /* low 16 bits of the commands */
#define VFIO_UNMAP_DMA      0x3b72

typedef struct KernelMaps {
    int maps, unmaps, failures;         /* calls seen */
    uint64_t mapped;                    /* bytes they leave mapped */
} KernelMaps;

static void tracefs_write(const char *file, const char *text, bool append)
{
    g_autofree char *path = g_build_filename(TRACEFS, file, NULL);
    int fd = open(path, O_WRONLY | (append ? O_APPEND : O_TRUNC));
    ssize_t n;

    g_assert_cmpint(fd, >=, 0);
    n = write(fd, text, strlen(text));
    close(fd);
    g_assert_cmpint(n, ==, strlen(text));
}

/* Write @text to tracefs file @file, ignoring a failure */
static void tracefs_try(const char *file, const char *text)
{
    g_autofree char *path = g_build_filename(TRACEFS, file, NULL);
    int fd = open(path, O_WRONLY | O_APPEND);

    if (fd >= 0) {
        if (write(fd, text, strlen(text)) < 0) {
            /* not there: nothing to undo */
        }
        close(fd);
    }
}

static void kernel_maps_stop(void)
{
    tracefs_try("events/vfiohp/enable", "0");
    tracefs_try("kprobe_events", "-:vfiohp/ioc\n");
    tracefs_try("kprobe_events", "-:vfiohp/ret\n");
}

static void kernel_maps_start(void)
{
    if (access(TRACEFS "/kprobe_events", F_OK)) {
        /* the pseries chroot has no mount(8) */
        g_assert_cmpint(mount("nodev", TRACEFS, "tracefs", 0, NULL), ==, 0);
    }
    kernel_maps_stop();
    tracefs_write("kprobe_events",
                  "p:vfiohp/ioc tce_iommu_ioctl cmd=$arg2:x32 "
                  "a8=+u8($arg3):x64 a16=+u16($arg3):x64 "
                  "a24=+u24($arg3):x64\n", true);
    tracefs_write("kprobe_events",
                  "r:vfiohp/ret tce_iommu_ioctl ret=$retval:s64\n", true);
    tracefs_write("trace", "", false);
    tracefs_write("events/vfiohp/enable", "1", false);
}

static bool trace_field(const char *line, const char *key, uint64_t *val)
{
    g_autofree char *needle = g_strdup_printf(" %s=", key);
    const char *p = strstr(line, needle);

    if (p) {
        p += strlen(needle);
        *val = *p == '-' ? g_ascii_strtoll(p, NULL, 0)
                         : g_ascii_strtoull(p, NULL, 0);
    }
    return p;
}

/* The calls since kernel_maps_start() and the IOVA they leave mapped */
static KernelMaps kernel_maps(void)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GHashTable) pending = g_hash_table_new_full(g_str_hash,
                                                          g_str_equal,
                                                          g_free, g_free);
    g_autoptr(GHashTable) pages = g_hash_table_new(g_direct_hash,
                                                   g_direct_equal);
    KernelMaps k = { 0 };

    g_assert_true(g_file_get_contents(TRACEFS "/trace", &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        /* "  COMM-PID  [CPU] FLAGS TIME: EVENT: (PROBE) KEY=VAL..." */
        const char *cpu = strstr(lines[i], " [");
        g_autofree char *task = cpu ? g_strndup(lines[i], cpu - lines[i])
                                    : NULL;
        const char *pid = task ? strrchr(task, '-') : NULL;
        uint64_t cmd, iova, size, ret;
        uint64_t *call;

        if (!pid || lines[i][0] == '#') {
            continue;
        }
        if (strstr(lines[i], ": ioc: ")) {
            call = g_new0(uint64_t, 4);
            g_assert_true(trace_field(lines[i], "cmd", &call[0]));
            trace_field(lines[i], "a8", &call[1]);
            trace_field(lines[i], "a16", &call[2]);
            trace_field(lines[i], "a24", &call[3]);
            g_hash_table_replace(pending, g_strdup(pid), call);
            continue;
        }
        call = strstr(lines[i], ": ret: ") ?
               g_hash_table_lookup(pending, pid) : NULL;
        if (!call || !trace_field(lines[i], "ret", &ret)) {
            continue;
        }
        cmd = call[0] & 0xffff;
        /* MAP_DMA: vaddr @8, iova @16, size @24; UNMAP_DMA: iova @8, @16 */
        iova = cmd == VFIO_MAP_DMA ? call[2] : call[1];
        size = cmd == VFIO_MAP_DMA ? call[3] : call[2];
        if (cmd == VFIO_MAP_DMA || cmd == VFIO_UNMAP_DMA) {
            *(cmd == VFIO_MAP_DMA ? &k.maps : &k.unmaps) += 1;
            k.failures += ret != 0;
            for (uint64_t off = 0; !ret && off < size; off += 4 * KiB) {
                gpointer page = GSIZE_TO_POINTER((iova + off) / (4 * KiB));

                if (cmd == VFIO_MAP_DMA) {
                    g_hash_table_add(pages, page);
                } else {
                    g_hash_table_remove(pages, page);
                }
            }
        }
        g_hash_table_remove(pending, pid);
    }
    k.mapped = g_hash_table_size(pages) * 4 * KiB;
    return k;
}

/* x-query-vfio's sPAPR counters of @id's container */
typedef struct SpaprCounters {
    int64_t calls, bytes;               /* mapped less unmapped */
    int64_t map_runs, unmap_runs;       /* of TCEs */
    int64_t registrations, registered;  /* preregistered RAM */
} SpaprCounters;

static SpaprCounters spapr_counters(QTestState *qts, const char *id)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'x-query-vfio' }");
    SpaprCounters c = { 0 };
    QListEntry *e;
    bool found = false;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *dev = qobject_to(QDict, qlist_entry_obj(e));
        QDict *dma = qdict_get_qdict(dev, "dma");
        QDict *tce, *prereg;

        if (g_strcmp0(qdict_get_try_str(dev, "id"), id)) {
            continue;
        }
        tce = qdict_get_qdict(dma, "tce");
        prereg = qdict_get_qdict(dma, "prereg");
        g_assert_nonnull(tce);
        g_assert_nonnull(prereg);
        g_assert_cmpint(qdict_get_int(dma, "map-failures"), ==, 0);
        c.calls = qdict_get_int(dma, "map-calls") -
                  qdict_get_int(dma, "unmap-calls");
        c.bytes = qdict_get_int(dma, "map-bytes") -
                  qdict_get_int(dma, "unmap-bytes");
        c.map_runs = qdict_get_int(tce, "map-runs");
        c.unmap_runs = qdict_get_int(tce, "unmap-runs");
        c.registrations = qdict_get_int(prereg, "registrations");
        c.registered = qdict_get_int(prereg, "registered-bytes");
        found = true;
    }
    qobject_unref(rsp);
    g_assert_true(found);
    return c;
}

static void test_unplug_load_spapr(const void *opaque)
{
    const LoadDevice *d = opaque;
    const char *names[] = { d->name, "e1000e", NULL };
    const Machine *m = &spapr_machine;
    int cycles = unplug_cycles(3);
    const char *bdf = vfio_qtest_host(d->name);
    QGuestAllocator alloc;
    QTestState *qts;
    QPCIBus *pcibus;
    int base_fds;
    Events ev = { 0 };

    if (!vfio_qtest_require(names)) {
        return;
    }
    /* TCG runs the guest; the qtest protocol is served alongside */
    qts = qtest_initf("%s -accel tcg -S -nodefaults "
                      "-device vfio-pci,host=%s,id=other,bus=pci.0,addr=05.0",
                      machine_args(m), vfio_qtest_host("e1000e"));
    qtest_qmp_set_event_callback(qts, count_event, &ev);
    guest_load(qts);
    pcibus = vfio_qtest_pci_bus(qts, &alloc);
    base_fds = other_start(qts, pcibus, bdf);
    kernel_maps_start();

    for (int cycle = 0; cycle < cycles; cycle++) {
        uint64_t locked = vfio_qtest_vmlck(qtest_pid(qts));
        SpaprCounters base = spapr_counters(qts, "other"), now;
        KernelMaps k0 = kernel_maps(), k;
        g_autofree QPCIDevice *dev = NULL;

        dev = hp_plug_master(qts, pcibus, m, bdf);
        g_assert_cmpint(vfio_qtest_vfio_fds(qtest_pid(qts)), >, base_fds);

        /* The guest maps its TCEs: one run, one MAP_DMA of 64 KiB */
        g_assert_cmpint(guest_hcall(qts, H_PUT_TCE_INDIRECT, PHB0_LIOBN, 0,
                                    GUEST_TCE_LIST, TCE_PAGES), ==, 0);
        k = kernel_maps();
        g_assert_cmpint(k.maps, ==, k0.maps + 1);
        g_assert_cmpint(k.failures, ==, 0);
        g_assert_cmphex(k.mapped, ==, k0.mapped + TCE_PAGES * 4 * KiB);
        now = spapr_counters(qts, "hp");    /* the container they share */
        g_assert_cmpint(now.map_runs, ==, base.map_runs + 1);
        g_assert_cmpint(now.calls, ==, base.calls + 1);
        g_assert_cmpint(now.bytes, ==, base.bytes + TCE_PAGES * 4 * KiB);
        /* plugging pinned nothing: the container's RAM was registered */
        g_assert_cmphex(vfio_qtest_vmlck(qtest_pid(qts)), ==, locked);
        g_assert_cmpint(now.registrations, ==, base.registrations);
        if (!cycle) {
            g_test_message("VmLck %" PRIu64 " KiB, %" PRId64 " bytes "
                           "preregistered; the guest's TCEs: %" PRIu64
                           " bytes mapped in the kernel by %d MAP_DMA",
                           locked / KiB, now.registered, k.mapped,
                           k.maps - k0.maps);
        }
        load(qts, d, cycle, LOAD_ACCESSES, true);
        other_works(qts);

        unplug_under_load(qts, m, d, cycle, &ev.deleted);
        /* Nothing of it is left, and the PHB's TCEs are still mapped */
        nothing_left(qts, bdf, locked, base_fds);
        k = kernel_maps();
        g_assert_cmpint(k.unmaps, ==, k0.unmaps);
        g_assert_cmphex(k.mapped, ==, k0.mapped + TCE_PAGES * 4 * KiB);
        now = spapr_counters(qts, "other");
        g_assert_cmpint(now.calls, ==, base.calls + 1);
        g_assert_cmpint(now.registrations, ==, base.registrations);
        g_assert_cmpint(now.registered, ==, base.registered);
        other_works(qts);

        /* The guest clears them: all is back to before the plug */
        g_assert_cmpint(guest_hcall(qts, H_STUFF_TCE, PHB0_LIOBN, 0, 0,
                                    TCE_PAGES), ==, 0);
        k = kernel_maps();
        g_assert_cmpint(k.unmaps, ==, k0.unmaps + 1);
        g_assert_cmpint(k.failures, ==, 0);
        g_assert_cmphex(k.mapped, ==, k0.mapped);
        now = spapr_counters(qts, "other");
        g_assert_cmpint(now.calls, ==, base.calls);
        g_assert_cmpint(now.bytes, ==, base.bytes);
        g_assert_cmpint(now.unmap_runs, ==, base.unmap_runs + 1);
        g_assert_cmpint(now.registrations, ==, base.registrations);
        g_assert_cmpint(now.registered, ==, base.registered);
        g_assert_cmphex(vfio_qtest_vmlck(qtest_pid(qts)), ==, locked);
    }
    kernel_maps_stop();
    g_test_message("%d unplug cycles of %s under load with TCEs mapped",
                   cycles, d->name);

    vfio_qtest_pci_bus_free(pcibus, &alloc);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    if (!strcmp(qtest_get_arch(), "ppc64")) {
        qtest_add_data_func("/vfio/hotplug/pseries/unplug-replug",
                            &spapr_machine, test_unplug_replug);
        for (int i = 0; i < ARRAY_SIZE(load_devices); i++) {
            g_autofree char *path =
                g_strdup_printf("/vfio/hotplug/pseries/%s/unplug-under-load",
                                load_devices[i].name);

            qtest_add_data_func(path, &load_devices[i],
                                test_unplug_load_spapr);
        }
        return g_test_run();
    }
    if (strcmp(qtest_get_arch(), "x86_64")) {
        g_test_message("PCI hotplug is tested on x86_64 and ppc64 only");
        return g_test_run();
    }
    for (int i = 0; i < ARRAY_SIZE(machines); i++) {
        g_autofree char *path =
            g_strdup_printf("/vfio/hotplug/%s/unplug-replug",
                            machines[i].name);

        qtest_add_data_func(path, &machines[i], test_unplug_replug);
    }
    for (int i = 0; i < ARRAY_SIZE(load_devices); i++) {
        g_autofree char *path =
            g_strdup_printf("/vfio/hotplug/q35-iommu/%s/unplug-under-load",
                            load_devices[i].name);

        qtest_add_data_func(path, &load_devices[i], test_unplug_load);
    }
    return g_test_run();
}
