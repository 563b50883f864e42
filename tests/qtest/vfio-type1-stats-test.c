/*
 * QTest for the type1 kernel statistics in x-query-vfio and "info vfio"
 *
 * Runs in the x86 test bed against real kernel vfio-pci, as root, with
 * sdhci-pci assigned to a q35 guest.  With the vfio-direct kernel series
 * (linux/0005, 0006) type1 reports what it made of the container's
 * mappings, and x-query-vfio relays it as "kernel" of the device's
 * "dma"; a stock kernel has no such capability and the member is absent.
 * VFIO_DIRECT_TYPE1_STATS=1 says the L1 runs the series (check-kernel),
 * otherwise (check-system's stock L1) the test asserts the absence.
 *
 * With the series the kernel's own numbers are checked against oracles
 * outside QEMU and the kernel's statistics: its pinned pages are VmLck
 * of the QEMU process, its iommu_map() calls are the sum of the run
 * classes, and it holds no more entries than our successful MAP_DMA
 * calls; with 128 MiB of 2 MiB hugetlbfs RAM, the runs of 2 MiB or more
 * cover at least half of it (a run of 2^n to 2^(n+1) - 1 pages counts
 * 2^n), while the ROMs (anonymous memory) are mapped page by page.
 * "info vfio" prints the same numbers.
 *
 * peer-bar: e1000e's 128 KiB BAR0, placed and enabled by the test, is
 * mapped into the container for peer-to-peer DMA (32 pfnmap pages).
 * When the guest turns memory decode off, the kernel revokes that
 * mapping (linux/0006: revoked 1, no pfnmap pages) and our own UNMAP_DMA
 * of it, from the flat view, still succeeds (unmap-bytes grows by
 * 128 KiB); decode on maps it anew.  On the stock kernel the unmap and
 * the new map happen the same way.
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

#define HUGEPAGES "/proc/sys/vm/nr_hugepages"

static bool expect_stats(void)
{
    const char *e = g_getenv("VFIO_DIRECT_TYPE1_STATS");

    return e && !strcmp(e, "1");
}

/* Write a sysctl in place (g_file_set_contents() renames a temp file) */
static bool write_sysctl(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY);
    bool ok = fd >= 0 && write(fd, s, strlen(s)) == strlen(s);

    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static bool set_hugepages(uint64_t n)
{
    g_autofree char *s = g_strdup_printf("%" PRIu64, n);
    g_autofree char *got = NULL;

    return write_sysctl(HUGEPAGES, s) &&
           g_file_get_contents(HUGEPAGES, &got, NULL, NULL) &&
           g_ascii_strtoull(got, NULL, 10) >= n;
}

static void test_stats(const void *opaque)
{
    bool hugetlb = GPOINTER_TO_INT(opaque);
    const char *names[] = { "sdhci", NULL };
    g_autofree char *pages_was = NULL;
    g_autofree char *hmp = NULL;
    g_autofree char *line = NULL;
    uint64_t calls = 0, pages_2m = 0, pinned;
    QTestState *qts;
    QDict *dma, *k;
    QListEntry *e;

    if (!vfio_qtest_require(names)) {
        return;
    }
    if (hugetlb) {
        g_assert(g_file_get_contents(HUGEPAGES, &pages_was, NULL, NULL));
        if (!set_hugepages(64 + 8)) {
            g_assert(write_sysctl(HUGEPAGES, pages_was));
            g_test_skip("the L1 cannot reserve 72 pages of 2 MiB");
            return;
        }
    }
    qts = qtest_initf("-M q35 -m 128M %s -nodefaults -device "
                      "vfio-pci,host=%s,id=dev0",
                      hugetlb ? "-object memory-backend-memfd,id=ram0,"
                      "size=128M,hugetlb=on,hugetlbsize=2097152 "
                      "-machine memory-backend=ram0" : "",
                      vfio_qtest_host("sdhci"));
    dma = vfio_qtest_device_member(qts, "dev0", "dma");
    g_assert_nonnull(dma);
    if (!expect_stats()) {
        /* a stock kernel: nothing to relay */
        g_assert_false(qdict_haskey(dma, "kernel"));
        goto out;
    }
    g_assert_true(qdict_haskey(dma, "kernel"));
    k = qdict_get_qdict(dma, "kernel");

    pinned = qdict_get_int(k, "pinned-pages");
    g_assert_cmphex(pinned * qemu_real_host_page_size(), ==,
                    vfio_qtest_vmlck(qtest_pid(qts)));
    g_assert_cmphex(pinned * qemu_real_host_page_size(), >=, 127 * MiB);
    g_assert_cmpuint(qdict_get_int(k, "dma-entries"), >=, 1);
    g_assert_cmpuint(qdict_get_int(k, "dma-entries"), <=,
                     qdict_get_int(dma, "map-calls") -
                     qdict_get_int(dma, "map-failures"));
    g_assert_true(qdict_haskey(k, "revoked"));
    g_assert_cmpuint(qdict_get_int(k, "revoked"), ==, 0);
    QLIST_FOREACH_ENTRY(qdict_get_qlist(k, "runs"), e) {
        QDict *run = qobject_to(QDict, qlist_entry_obj(e));
        uint64_t log2 = qdict_get_int(run, "log2-pages");
        uint64_t n = qdict_get_int(run, "calls");

        g_test_message("runs of 2^%" PRIu64 " pages: %" PRIu64, log2, n);
        calls += n;
        if (log2 >= 9) {
            pages_2m += n << log2;
        }
    }
    g_assert_cmpuint(calls, ==, qdict_get_int(k, "iommu-map-calls"));
    if (hugetlb) {
        g_assert_cmphex(pages_2m * qemu_real_host_page_size(), >=, 63 * MiB);
    }

    hmp = qtest_hmp(qts, "info vfio");
    line = g_strdup_printf("kernel type1: %" PRId64 " entries, %" PRIu64
                           " pinned + %" PRId64 " pfnmap pages, %" PRIu64
                           " iommu_map calls, 0 revoked",
                           qdict_get_int(k, "dma-entries"), pinned,
                           qdict_get_int(k, "pfnmap-pages"), calls);
    g_assert_nonnull(strstr(hmp, line));
    g_test_message("info vfio: %s", line);
out:
    qobject_unref(dma);
    qtest_quit(qts);
    if (pages_was) {
        g_assert(write_sysctl(HUGEPAGES, pages_was));
    }
}

/* x-query-vfio's dma.kernel.@key, -1 when the kernel reports none */
static int64_t kernel_stat(QDict *dma, const char *key)
{
    QDict *k = qdict_get_qdict(dma, "kernel");

    return k && qdict_haskey(k, key) ? qdict_get_int(k, key) : -1;
}

static void test_peer_bar(void)
{
    const char *names[] = { "e1000e", NULL };
    QDict *before, *off, *on;
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;

    if (!vfio_qtest_require(names)) {
        return;
    }
    qts = qtest_initf("-M q35 -m 64M -nodefaults "
                      "-device vfio-pci,host=%s,id=dev0,addr=04.0",
                      vfio_qtest_host("e1000e"));
    bus = qpci_new_pc(qts, NULL);
    dev = qpci_device_find(bus, QPCI_DEVFN(4, 0));
    g_assert_nonnull(dev);
    qpci_config_writel(dev, PCI_BASE_ADDRESS_0, VFIO_QTEST_WINDOW);
    qpci_config_writew(dev, PCI_COMMAND, PCI_COMMAND_MEMORY);
    before = vfio_qtest_device_member(qts, "dev0", "dma");
    qpci_config_writew(dev, PCI_COMMAND, 0);
    off = vfio_qtest_device_member(qts, "dev0", "dma");
    qpci_config_writew(dev, PCI_COMMAND, PCI_COMMAND_MEMORY);
    on = vfio_qtest_device_member(qts, "dev0", "dma");

    /* ours: the BAR left the flat view and its unmap succeeded */
    g_assert_cmphex(qdict_get_int(off, "unmap-bytes") -
                    qdict_get_int(before, "unmap-bytes"), ==, 128 * KiB);
    g_assert_cmphex(qdict_get_int(on, "map-bytes") -
                    qdict_get_int(off, "map-bytes"), ==, 128 * KiB);
    g_assert_cmpuint(qdict_get_int(on, "map-failures"), ==, 0);
    if (expect_stats()) {
        g_assert_cmpint(kernel_stat(before, "pfnmap-pages"), ==, 32);
        g_assert_cmpint(kernel_stat(before, "revoked"), ==, 0);
        g_assert_cmpint(kernel_stat(off, "pfnmap-pages"), ==, 0);
        g_assert_cmpint(kernel_stat(off, "revoked"), ==, 1);
        g_assert_cmpint(kernel_stat(off, "dma-entries"), ==,
                        kernel_stat(before, "dma-entries") - 1);
        g_assert_cmpint(kernel_stat(on, "pfnmap-pages"), ==, 32);
        g_assert_cmpint(kernel_stat(on, "revoked"), ==, 1);
    } else {
        g_assert_false(qdict_haskey(before, "kernel"));
    }
    qobject_unref(before);
    qobject_unref(off);
    qobject_unref(on);
    g_free(dev);
    qpci_free_pc(bus);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (strcmp(qtest_get_arch(), "x86_64")) {
        g_test_message("type1 is the x86 L1's IOMMU backend: skipped");
        return 0;
    }
    qtest_add_data_func("/vfio/type1-stats/anonymous", GINT_TO_POINTER(0),
                        test_stats);
    qtest_add_data_func("/vfio/type1-stats/hugetlbfs", GINT_TO_POINTER(1),
                        test_stats);
    qtest_add_func("/vfio/type1-stats/peer-bar", test_peer_bar);
    return g_test_run();
}
