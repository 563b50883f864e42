/*
 * QTest for vfio-direct on sPAPR: DDW page sizes and preregistration
 *
 * Runs in the test bed against real kernel vfio-pci with e1000e assigned
 * to a pseries guest: in the pseries L1s (64 KiB pages, sPAPR TCE v2
 * container) and in the x86 L1 (a type1 container).  The oracles are the
 * L1 kernel: its own answer to VFIO_IOMMU_SPAPR_TCE_GET_INFO (or type1's
 * VFIO_IOMMU_GET_INFO), read by this test on a container of its own
 * before QEMU starts, and /proc/PID/status VmLck, which sPAPR
 * preregistration charges; and vfio's own trace of the ioctls it makes.
 *
 * ddw/offer: RTAS ibm,query-pe-dma-window offers the PHB's page sizes
 *   (here 4K|64K|2M|16M|256M) that some host IOMMU page size no larger
 *   than the page nor than guest RAM's host pages can back; without a
 *   vfio device, the PHB's sizes (upstream).
 * ddw/create: a window of the largest offered size is created, on host
 *   IOMMU pages of the size the rule names (vfio's trace): 64 KiB with
 *   RAM on 64 KiB pages, 2 MiB with RAM on 2 MiB hugetlbfs pages
 *   (create-hugetlb-2m, sPAPR only); a size outside the offered set
 *   fails in RTAS with -3 (parameter error).
 * prereg: each RAM block is registered by one REGISTER_MEMORY; a hot
 *   plugged 256 MiB DIMM adds one call, 256 MiB of registration and
 *   exactly 256 MiB of VmLck; x-query-vfio's counters match the
 *   kernel's accounting and the trace.
 * prereg-after-failure: a device_add whose container fails its set-up
 *   (REGISTER_MEMORY over RLIMIT_MEMLOCK, QEMU without CAP_IPC_LOCK),
 *   then one that succeeds: the new container's counters start from 0
 *   (one call, no failure), whatever address it got.
 * type1-has-none (x86_64): a type1 container reports no prereg or ddw.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <linux/capability.h>
#include <linux/vfio.h>
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "vfio-host.h"
#include "vfio-qtest-util.h"

#define PHB0_BUID           0x800000020000000ULL
#define RTAS_ARGS           0x10000ULL      /* guest RAM for RTAS buffers */
#define RTAS_RETS           0x10100ULL
/* The PHB's default sizes and 256M, which no host IOMMU here has */
#define PHB_PGSZ            0x11211000ULL
#define DEVFN               (2 << 3)

static const char *const needed[] = { "e1000e", NULL };

/* LoPAPR's ibm,query-pe-dma-window page size bits */
static uint32_t lopapr_mask(uint64_t sizes)
{
    static const struct {
        int shift;
        uint32_t bit;
    } bits[] = {
        { 12, 0x1 }, { 16, 0x2 }, { 24, 0x4 }, { 25, 0x8 }, { 26, 0x10 },
        { 27, 0x20 }, { 28, 0x40 }, { 34, 0x80 }, { 21, 0x100 },
    };
    uint32_t mask = 0;

    for (size_t i = 0; i < ARRAY_SIZE(bits); i++) {
        if (sizes & (1ULL << bits[i].shift)) {
            mask |= bits[i].bit;
        }
    }
    return mask;
}

/*
 * The rule, stated on its own: a guest page S can be backed when some
 * host IOMMU page h has h <= S and h <= @ram_page.
 */
static uint64_t backing(uint64_t page, uint64_t host, uint64_t ram_page)
{
    uint64_t best = 0;

    for (int b = 0; b < 64; b++) {
        uint64_t h = 1ULL << b;

        if ((host & h) && h <= page && h <= ram_page) {
            best = h;
        }
    }
    return best;
}

static uint64_t offered(uint64_t phb, uint64_t host, uint64_t ram_page)
{
    uint64_t out = 0;

    for (int b = 0; b < 64; b++) {
        if ((phb & (1ULL << b)) && backing(1ULL << b, host, ram_page)) {
            out |= 1ULL << b;
        }
    }
    return out;
}

/* What the kernel says about host device @bdf's IOMMU, on our container */
typedef struct HostIommu {
    bool spapr;
    uint64_t pgsizes;           /* ddw.pgsizes, or type1's iova_pgsizes */
} HostIommu;

static HostIommu host_iommu(const char *bdf)
{
    int num = vfio_host_group_of(bdf);
    HostIommu h = { 0 };
    VFIOHostGroup g;

    g_assert_cmpint(num, >=, 0);
    if (!vfio_host_group_open(&g, num)) {
        g_error("%s: group %d into a container: %s: %s", bdf, num, g.failed,
                strerror(g.err));
    }
    if (g.iommu_type == VFIO_SPAPR_TCE_v2_IOMMU) {
        struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };

        g_assert_cmpint(ioctl(g.container, VFIO_IOMMU_SPAPR_TCE_GET_INFO,
                              &info), ==, 0);
        h.spapr = true;
        h.pgsizes = info.ddw.pgsizes;
    } else {
        struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };

        g_assert_cmpint(ioctl(g.container, VFIO_IOMMU_GET_INFO, &info), ==, 0);
        h.pgsizes = info.iova_pgsizes;
    }
    vfio_host_group_close(&g);
    g_test_message("kernel: %s container, page sizes 0x%" PRIx64,
                   h.spapr ? "sPAPR TCE v2" : "type1", h.pgsizes);
    return h;
}

static bool kernel_has_spapr(void)
{
    int fd = open("/dev/vfio/vfio", O_RDWR);
    bool ret = fd >= 0 &&
               ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_v2_IOMMU) > 0;

    if (fd >= 0) {
        close(fd);
    }
    return ret;
}

/* One RTAS call with 32-bit arguments and results in guest RAM */
static void rtas(QTestState *qts, const char *name, int nargs,
                 const uint32_t *args, int nret, uint32_t *rets)
{
    for (int i = 0; i < nargs; i++) {
        qtest_writel(qts, RTAS_ARGS + 4 * i, args[i]);
    }
    g_assert_cmpint(qtest_rtas_call(qts, name, nargs, RTAS_ARGS, nret,
                                    RTAS_RETS), ==, 0);
    for (int i = 0; i < nret; i++) {
        rets[i] = qtest_readl(qts, RTAS_RETS + 4 * i);
    }
}

static uint32_t ddw_query(QTestState *qts, uint32_t *avail)
{
    uint32_t args[] = { DEVFN << 8, PHB0_BUID >> 32, (uint32_t)PHB0_BUID };
    uint32_t rets[5];

    rtas(qts, "ibm,query-pe-dma-window", 3, args, 5, rets);
    g_assert_cmpint((int32_t)rets[0], ==, 0);
    *avail = rets[1];
    return rets[3];
}

/* Returns the RTAS status; the window's LIOBN in *@liobn */
static int32_t ddw_create(QTestState *qts, int page_shift, int window_shift,
                          uint32_t *liobn)
{
    uint32_t args[] = { DEVFN << 8, PHB0_BUID >> 32, (uint32_t)PHB0_BUID,
                        page_shift, window_shift };
    uint32_t rets[4];

    rtas(qts, "ibm,create-pe-dma-window", 5, args, 4, rets);
    *liobn = rets[1];
    return rets[0];
}

static QTestState *start(bool vfio, const char *extra, const char *trace)
{
    const VFIOQtestMachine *m = vfio_qtest_machine();
    g_autofree char *dev = vfio ? g_strdup_printf(
        "-device vfio-pci,host=%s,id=nic,addr=02.0",
        vfio_qtest_host("e1000e")) : g_strdup("");
    g_autofree char *tr = trace ? g_strdup_printf(
        "-trace vfio_prereg_register -trace vfio_prereg_unregister "
        "-trace vfio_spapr_create_window -D %s", trace) : g_strdup("");

    return qtest_initf("%s -nodefaults -S "
                       "-global spapr-pci-host-bridge.pgsz=0x%llx %s %s %s",
                       m->options, PHB_PGSZ, extra, dev, tr);
}

/* An unsigned member of @d (a mask may not fit int64) */
static uint64_t u64(QDict *d, const char *key)
{
    QNum *n = qobject_to(QNum, qdict_get(d, key));

    g_assert_nonnull(n);
    return qnum_get_uint(n);
}

/* x-query-vfio's dma object of device "nic" (unref when done) */
static QDict *query_dma(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'x-query-vfio' }");
    QListEntry *e;
    QDict *dma = NULL;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *dev = qobject_to(QDict, qlist_entry_obj(e));

        if (!g_strcmp0(qdict_get_try_str(dev, "id"), "nic")) {
            dma = qdict_get_qdict(dev, "dma");
            qobject_ref(dma);
        }
    }
    qobject_unref(rsp);
    g_assert_nonnull(dma);
    return dma;
}

static void test_ddw_offer(void)
{
    uint64_t ram_page = qemu_real_host_page_size(), want;
    HostIommu host;
    QTestState *qts;
    uint32_t mask, avail;
    QDict *dma, *ddw;

    if (!vfio_qtest_require(needed)) {
        return;
    }
    host = host_iommu(vfio_qtest_host("e1000e"));

    /* No vfio device on the PHB: upstream's answer, the PHB's sizes */
    qts = start(false, "", NULL);
    mask = ddw_query(qts, &avail);
    g_test_message("no vfio: offered 0x%x", mask);
    g_assert_cmphex(mask, ==, lopapr_mask(PHB_PGSZ));
    qtest_quit(qts);

    want = offered(PHB_PGSZ, host.pgsizes, ram_page);
    qts = start(true, "", NULL);
    mask = ddw_query(qts, &avail);
    g_test_message("vfio: PHB 0x%llx, host 0x%" PRIx64 ", RAM pages 0x%"
                   PRIx64 ": offered 0x%x (LoPAPR bits), expected 0x%x",
                   PHB_PGSZ, host.pgsizes, ram_page, mask, lopapr_mask(want));
    g_assert_cmphex(mask, ==, lopapr_mask(want));
    g_assert_cmpuint(avail, >=, 1);

    dma = query_dma(qts);
    if (host.spapr) {
        ddw = qdict_get_qdict(dma, "ddw");
        g_assert_nonnull(ddw);
        g_assert_cmphex(u64(ddw, "host-page-sizes"), ==,
                        host.pgsizes);
        g_assert_cmphex(u64(ddw, "ram-page-size"), ==, ram_page);
        g_assert_cmphex(u64(ddw, "page-sizes") & PHB_PGSZ, ==,
                        want);
    }
    qobject_unref(dma);
    qtest_quit(qts);
}

#define NR_HUGEPAGES_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"

/* Set the L1's pool of 2 MiB hugepages to @n (sysfs: no rename) */
static void hugepages_set(uint64_t n)
{
    g_autofree char *text = g_strdup_printf("%" PRIu64 "\n", n);
    int fd = open(NR_HUGEPAGES_2M, O_WRONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, text, strlen(text)), ==, strlen(text));
    close(fd);
}

/* Reserve @n more 2 MiB hugepages in the L1; returns the old count */
static uint64_t hugepages_add(uint64_t n)
{
    g_autofree char *old = NULL, *now = NULL;
    uint64_t was;

    g_assert_true(g_file_get_contents(NR_HUGEPAGES_2M, &old, NULL, NULL));
    was = g_ascii_strtoull(old, NULL, 10);
    hugepages_set(was + n);
    g_assert_true(g_file_get_contents(NR_HUGEPAGES_2M, &now, NULL, NULL));
    g_assert_cmpuint(g_ascii_strtoull(now, NULL, 10), ==, was + n);
    return was;
}

/*
 * @opaque: guest RAM on 2 MiB hugetlbfs pages (else anonymous memory on
 * the host's pages), which bounds the host IOMMU page of a window.
 */
static void test_ddw_create(const void *opaque)
{
    bool hugetlb = opaque;
    uint64_t ram_page = hugetlb ? 2 * MiB : qemu_real_host_page_size();
    uint64_t want, page, huge_was = 0;
    g_autofree char *log = g_strdup_printf("/tmp/vfio-spapr-test-%d.log",
                                           getpid());
    g_autofree char *trace = NULL;
    g_autofree char *line = NULL;
    HostIommu host;
    QTestState *qts;
    uint32_t liobn, avail, rets[1];
    int shift;
    QDict *dma;

    if (!vfio_qtest_require(needed)) {
        return;
    }
    host = host_iommu(vfio_qtest_host("e1000e"));
    want = offered(PHB_PGSZ, host.pgsizes, ram_page);
    g_assert_cmphex(want, !=, 0);
    page = 1ULL << (63 - __builtin_clzll(want));
    shift = __builtin_ctzll(page);

    if (hugetlb) {
        huge_was = hugepages_add(128);
    }
    qts = start(true, hugetlb ? "-object memory-backend-memfd,id=ram0,"
                "size=256M,hugetlb=on,hugetlbsize=2M "
                "-machine memory-backend=ram0" : "", log);
    if (host.spapr) {
        dma = query_dma(qts);
        g_assert_cmphex(u64(qdict_get_qdict(dma, "ddw"), "ram-page-size"),
                        ==, ram_page);
        qobject_unref(dma);
    }
    ddw_query(qts, &avail);
    /* The largest offered size, the one a Linux guest picks, 1 GiB */
    g_assert_cmpint(ddw_create(qts, shift, 30, &liobn), ==, 0);
    g_assert_cmphex(liobn, !=, 0);
    /* QEMU is still there: vfio created the host window */
    qobject_unref(qtest_qmp_assert_success_ref(qts,
                  "{ 'execute': 'query-status' }"));
    if (host.spapr) {
        /* The window's host IOMMU pages: what the rule says backs it */
        g_file_get_contents(log, &trace, NULL, NULL);
        g_assert_nonnull(trace);
        line = g_strdup_printf("pageshift=0x%x levels",
                               __builtin_ctzll(backing(page, host.pgsizes,
                                                       ram_page)));
        g_test_message("0x%" PRIx64 " byte guest pages on host pages of "
                       "0x%" PRIx64, page,
                       backing(page, host.pgsizes, ram_page));
        g_assert_nonnull(strstr(trace, line));
    }
    rtas(qts, "ibm,remove-pe-dma-window", 1, &liobn, 1, rets);
    g_assert_cmpint(rets[0], ==, 0);

    /* Not offered (32M: not in the PHB's sizes): the parameter error */
    g_assert_cmphex(want & (1ULL << 25), ==, 0);
    g_assert_cmpint(ddw_create(qts, 25, 30, &liobn), ==, -3);
    if (host.spapr) {
        dma = query_dma(qts);
        g_assert_cmpuint(u64(qdict_get_qdict(dma, "ddw"),
                                        "refused"), ==, 0);
        qobject_unref(dma);
    }
    qtest_quit(qts);
    if (hugetlb) {
        hugepages_set(huge_was);
    }
    unlink(log);
}

static int count_in(const char *log, const char *needle)
{
    g_autofree char *text = NULL;
    int n = 0;

    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    for (const char *p = text; (p = strstr(p, needle)); p++) {
        n++;
    }
    return n;
}

static void test_prereg(void)
{
    g_autofree char *log = g_strdup_printf("/tmp/vfio-spapr-test-%d.log",
                                           getpid());
    uint64_t lck0, lck1;
    QTestState *qts;
    QDict *dma, *p;
    int traced;

    if (!vfio_qtest_require(needed)) {
        return;
    }
    qts = start(true, "-m 256M,slots=2,maxmem=1G", log);
    lck0 = vfio_qtest_vmlck(qtest_pid(qts));
    dma = query_dma(qts);
    p = qdict_get_qdict(dma, "prereg");
    g_assert_nonnull(p);
    traced = count_in(log, "vfio_prereg_register ");
    g_test_message("ready: VmLck 0x%" PRIx64 "; %" PRIu64 " registrations, "
                   "0x%" PRIx64 " bytes in %" PRIu64 " calls (%d traced), "
                   "largest 0x%" PRIx64, lck0,
                   u64(p, "registrations"),
                   u64(p, "registered-bytes"),
                   u64(p, "register-calls"), traced,
                   u64(p, "largest"));
    /* The machine's RAM is one block: one registration, all of it */
    g_assert_cmpuint(u64(p, "register-calls"), ==, 1);
    g_assert_cmpuint(traced, ==, 1);
    g_assert_cmpuint(u64(p, "register-failures"), ==, 0);
    g_assert_cmpuint(u64(p, "registrations"), ==, 1);
    g_assert_cmphex(u64(p, "registered-bytes"), ==, 256 * MiB);
    g_assert_cmphex(u64(p, "register-bytes"), ==, 256 * MiB);
    g_assert_cmphex(u64(p, "largest"), ==, 256 * MiB);
    g_assert_cmpuint(u64(p, "register-ns"), >, 0);
    /* The kernel charged at least that (and the TCE tables) */
    g_assert_cmpuint(lck0, >=, 256 * MiB);
    qobject_unref(dma);

    /* A hot-plugged DIMM is one more block: one call, exactly its size */
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments': {"
                             " 'qom-type': 'memory-backend-ram', 'id': 'm1',"
                             " 'size': %" PRIu64 " } }", 256 * MiB);
    qtest_qmp_assert_success(qts, "{ 'execute': 'device_add', 'arguments': {"
                             " 'driver': 'pc-dimm', 'id': 'd1',"
                             " 'memdev': 'm1' } }");
    lck1 = vfio_qtest_vmlck(qtest_pid(qts));
    dma = query_dma(qts);
    p = qdict_get_qdict(dma, "prereg");
    traced = count_in(log, "vfio_prereg_register ");
    g_test_message("DIMM: VmLck +0x%" PRIx64 "; %" PRIu64 " registrations, "
                   "0x%" PRIx64 " bytes in %" PRIu64 " calls (%d traced)",
                   lck1 - lck0, u64(p, "registrations"),
                   u64(p, "registered-bytes"),
                   u64(p, "register-calls"), traced);
    g_assert_cmphex(lck1 - lck0, ==, 256 * MiB);
    g_assert_cmpuint(u64(p, "register-calls"), ==, 2);
    g_assert_cmpuint(traced, ==, 2);
    g_assert_cmpuint(u64(p, "registrations"), ==, 2);
    g_assert_cmphex(u64(p, "registered-bytes"), ==, 512 * MiB);
    g_assert_cmphex(u64(p, "largest"), ==, 256 * MiB);
    g_assert_cmpuint(u64(p, "unregister-calls"), ==, 0);
    qobject_unref(dma);
    qtest_quit(qts);
    unlink(log);
}

/* x-query-vfio's prereg counters of device "nic" */
static QDict *query_prereg(QTestState *qts)
{
    QDict *dma = query_dma(qts);
    QDict *p = qdict_get_qdict(dma, "prereg");

    g_assert_nonnull(p);
    qobject_ref(p);
    qobject_unref(dma);
    return p;
}

static QDict *device_add_nic(QTestState *qts)
{
    return qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments': {"
                     " 'driver': 'vfio-pci', 'host': %s, 'id': 'nic',"
                     " 'addr': '02.0' } }", vfio_qtest_host("e1000e"));
}

/*
 * Run in a subprocess, which drops CAP_IPC_LOCK from the capabilities
 * the QEMU it starts may have, so that the kernel holds QEMU to
 * RLIMIT_MEMLOCK when the container preregisters guest RAM.
 */
static void prereg_after_failure(void)
{
    const VFIOQtestMachine *m = vfio_qtest_machine();
    QTestState *qts;
    QDict *rsp, *p;

    g_assert_cmpint(prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0), ==, 0);
    qts = qtest_initf("%s -nodefaults -S", m->options);
    g_assert_cmpint(prlimit(qtest_pid(qts), RLIMIT_MEMLOCK,
                            &(struct rlimit) { 2 * MiB, 2 * MiB }, NULL),
                    ==, 0);
    rsp = device_add_nic(qts);
    g_assert_true(qdict_haskey(rsp, "error"));
    g_test_message("device_add under a 2 MiB RLIMIT_MEMLOCK: %s",
                   qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"));
    qobject_unref(rsp);
    g_assert_cmphex(vfio_qtest_vmlck(qtest_pid(qts)), ==, 0);

    g_assert_cmpint(prlimit(qtest_pid(qts), RLIMIT_MEMLOCK,
                            &(struct rlimit) { RLIM_INFINITY, RLIM_INFINITY },
                            NULL), ==, 0);
    rsp = device_add_nic(qts);
    g_assert_false(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    p = query_prereg(qts);
    g_test_message("after the second device_add: %" PRIu64 " calls, %"
                   PRIu64 " failed, %" PRIu64 " registrations, VmLck 0x%"
                   PRIx64, u64(p, "register-calls"),
                   u64(p, "register-failures"), u64(p, "registrations"),
                   vfio_qtest_vmlck(qtest_pid(qts)));
    g_assert_cmpuint(u64(p, "register-calls"), ==, 1);
    g_assert_cmpuint(u64(p, "register-failures"), ==, 0);
    g_assert_cmpuint(u64(p, "registrations"), ==, 1);
    g_assert_cmphex(u64(p, "registered-bytes"), ==, 256 * MiB);
    g_assert_cmpuint(vfio_qtest_vmlck(qtest_pid(qts)), >=, 256 * MiB);
    qobject_unref(p);
    qtest_quit(qts);
}

static void test_prereg_after_failure(void)
{
    if (!vfio_qtest_require(needed)) {
        return;
    }
    if (g_test_subprocess()) {
        prereg_after_failure();
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT |
                           G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
}

/* A type1 container (q35) has neither */
static void test_type1_has_none(void)
{
    QTestState *qts;
    QDict *dma;

    if (!vfio_qtest_require(needed)) {
        return;
    }
    qts = qtest_initf("-M q35 -m 64M -nodefaults -S "
                      "-device vfio-pci,host=%s,id=nic",
                      vfio_qtest_host("e1000e"));
    dma = query_dma(qts);
    g_assert_false(qdict_haskey(dma, "prereg"));
    g_assert_false(qdict_haskey(dma, "ddw"));
    g_assert_cmpuint(u64(dma, "map-calls"), >, 0);
    qobject_unref(dma);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (!strcmp(qtest_get_arch(), "ppc64")) {
        qtest_add_func("/vfio/spapr/ddw/offer", test_ddw_offer);
        qtest_add_data_func("/vfio/spapr/ddw/create", NULL, test_ddw_create);
        if (kernel_has_spapr()) {
            qtest_add_data_func("/vfio/spapr/ddw/create-hugetlb-2m",
                                (void *)1, test_ddw_create);
            qtest_add_func("/vfio/spapr/prereg", test_prereg);
            qtest_add_func("/vfio/spapr/prereg-after-failure",
                           test_prereg_after_failure);
        }
    } else if (!strcmp(qtest_get_arch(), "x86_64")) {
        qtest_add_func("/vfio/spapr/type1-has-none", test_type1_has_none);
    }
    return g_test_run();
}
