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
 * their count; the flat view ("info mtree -f", asked only while the
 * device is gone) holds no section of it; the device's registers read
 * what the L1's sysfs resource reads, and e1000e's do all along.  Our
 * x-query-vfio DMA counters must agree: the e1000e container's mappings
 * (it maps the plugged BAR for peer-to-peer) return to their count.
 * VFIO_UNPLUG_CYCLES sets the cycles per device (default 10).
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
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

typedef struct Machine Machine;

struct Machine {
    const char *name;
    const char *args;           /* machine, and the root port on q35 */
    const char *bus;            /* where "hp" is plugged */
    int slot;                   /* its slot there */
    int bus_nr;                 /* its bus number (we number the bridge) */
    void (*open_window)(QPCIBus *pcibus);
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

static const Machine machines[] = {
    {
        .name = "i440fx",
        .args = "-M pc -m 64M",
        .bus = "pci.0",
        .slot = 6,
        .bus_nr = 0,
        .eject = piix_eject,
    }, {
        .name = "q35-root-port",
        .args = "-M q35 -m 64M "
                "-device pcie-root-port,id=rp,bus=pcie.0,addr=06.0,chassis=1",
        .bus = "rp",
        .slot = 0,
        .bus_nr = 1,
        .open_window = rp_open_window,
        .eject = ich9_eject,
    },
};

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

/* Plug sdhci as "hp", place its BAR0 on a page of its own: direct. */
static void plug(QTestState *qts, QPCIBus *pcibus, const Machine *m,
                 const char *log, int *mapped)
{
    g_autofree QPCIDevice *dev = NULL;
    QDict *bar;
    uint32_t expected, got;
    int now;
    g_autofree char *addr = g_strdup_printf("0x%x", m->slot);

    qtest_qmp_device_add(qts, "vfio-pci", "hp", "{'host': %s, 'bus': %s, "
                         "'addr': %s, 'x-bar-page-align': 'off'}",
                         vfio_qtest_host("sdhci"), m->bus, addr);
    if (m->open_window) {
        m->open_window(pcibus);
    }
    dev = qpci_device_find(pcibus, (m->bus_nr << 8) | QPCI_DEVFN(m->slot, 0));
    g_assert_nonnull(dev);
    qpci_config_writel(dev, PCI_BASE_ADDRESS_0, WINDOW);
    qpci_config_writew(dev, PCI_COMMAND, PCI_COMMAND_MEMORY);

    /* The oracle: vfio's listener got the page as RAM, as KVM would */
    vfio_qtest_listener_ram(log, WINDOW, &now);
    g_assert_cmpint(now, ==, *mapped + 1);
    *mapped = now;
    bar = vfio_qtest_bar(qts, "hp", 0);
    g_assert_cmpstr(qdict_get_str(bar, "subpage"), ==, "direct");
    g_assert_cmphex(qdict_get_int(bar, "cpu-address"), ==, WINDOW);
    g_assert_cmpstr(vfio_qtest_range_at(bar, 0), ==, "direct");
    qobject_unref(bar);

    expected = vfio_qtest_sysfs_bar_read(vfio_qtest_host("sdhci"), 0,
                                         SDHCI_CAPS, 4);
    got = qtest_readl(qts, WINDOW + SDHCI_CAPS);
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
                      "bus=%s,addr=05.0", m->args, log,
                      vfio_qtest_host("i6300esb"),
                      strcmp(m->name, "i440fx") ? "pcie.0" : "pci.0");
    qtest_qmp_set_event_callback(qts, count_event, &ev);
    pcibus = qpci_new_pc(qts, NULL);
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

    qpci_free_pc(pcibus);
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
    g_assert_cmphex(qtest_readl(qts, OTHER_BAR0 + E1000_STATUS), ==, host);
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
        uint32_t ro = qtest_readl(qts, WINDOW + d->ro_reg);
        uint32_t rw;

        qtest_writel(qts, WINDOW + d->rw_reg, val);
        rw = qtest_readl(qts, WINDOW + d->rw_reg);
        if (checked) {
            g_assert_cmphex(ro, ==, host);
            g_assert_cmphex(rw, ==, val);
        }
    }
}

static void test_unplug_load(const void *opaque)
{
    const LoadDevice *d = opaque;
    const char *names[] = { d->name, "e1000e", NULL };
    const Machine *m = &machines[1];
    const char *env = g_getenv("VFIO_UNPLUG_CYCLES");
    int cycles = env ? atoi(env) : LOAD_CYCLES;
    const char *bdf = vfio_qtest_host(d->name);
    g_autofree QPCIDevice *other = NULL;
    QTestState *qts;
    QPCIBus *pcibus;
    int base_fds;
    Events ev = { 0 };

    if (!vfio_qtest_require(names)) {
        return;
    }
    g_assert_cmpint(cycles, >, 0);
    qts = qtest_initf(LOAD_ARGS, vfio_qtest_host("e1000e"));
    qtest_qmp_set_event_callback(qts, count_event, &ev);
    pcibus = qpci_new_pc(qts, NULL);
    other = qpci_device_find(pcibus, QPCI_DEVFN(5, 0));
    g_assert_nonnull(other);
    qpci_config_writel(other, PCI_BASE_ADDRESS_0, OTHER_BAR0);
    qpci_config_writew(other, PCI_COMMAND, PCI_COMMAND_MEMORY);
    other_works(qts);
    /* the flat-view oracle finds a device's sections by host BDF */
    g_assert_cmpint(flat_sections_of(qts, vfio_qtest_host("e1000e")), >, 0);
    g_assert_cmpint(flat_sections_of(qts, bdf), ==, 0);
    base_fds = vfio_qtest_vfio_fds(qtest_pid(qts));

    for (int cycle = 0; cycle < cycles; cycle++) {
        uint64_t locked = vfio_qtest_vmlck(qtest_pid(qts)), plugged;
        int64_t calls, bytes, mappings, calls_now, bytes_now, hp_mappings;
        g_autofree QPCIDevice *dev = NULL;

        dma_held(qts, "other", &calls, &bytes, &mappings);
        qtest_qmp_device_add(qts, "vfio-pci", "hp", "{'host': %s, "
                             "'bus': 'rp', 'addr': '0'}", bdf);
        m->open_window(pcibus);
        dev = qpci_device_find(pcibus, QPCI_DEVFN(0, 0) | 1 << 8);
        g_assert_nonnull(dev);
        qpci_config_writel(dev, PCI_BASE_ADDRESS_0, WINDOW);
        qpci_config_writel(dev, PCI_BASE_ADDRESS_1, 0);
        qpci_config_writew(dev, PCI_COMMAND,
                           PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);

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

        /* Unplug while the accesses go on, before and after the eject */
        qtest_qmp_device_del_send(qts, "hp");
        load(qts, d, cycle, LOAD_ACCESSES, true);
        m->eject(qts, m);
        load(qts, d, cycle, LOAD_ACCESSES, false);
        g_assert_true(wait_count(qts, &ev.deleted, cycle + 1));
        load(qts, d, cycle, LOAD_ACCESSES, false);

        /* Nothing of it is left: pins, descriptors, sections, mappings */
        g_assert_cmphex(vfio_qtest_vmlck(qtest_pid(qts)), ==, locked);
        g_assert_cmpint(vfio_qtest_vfio_fds(qtest_pid(qts)), ==, base_fds);
        g_assert_false(listed(qts, "hp"));
        g_assert_cmpint(flat_sections_of(qts, bdf), ==, 0);
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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    if (strcmp(qtest_get_arch(), "x86_64")) {
        g_test_message("ACPI PCI hotplug is tested on x86_64 only");
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
