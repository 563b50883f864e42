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
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
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
    return g_test_run();
}
