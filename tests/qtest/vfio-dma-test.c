/*
 * QTest for how vfio-direct maps guest RAM to the host IOMMU (type1)
 *
 * Runs in the x86 test bed against real kernel vfio-pci, as root, with
 * sdhci-pci assigned to a q35 guest.  The oracle is the L1 kernel: a
 * kprobe and a kretprobe on vfio_iommu_type1_ioctl record every
 * VFIO_IOMMU_MAP_DMA and UNMAP_DMA with the size the caller passed and
 * its result, and /proc/PID/status VmLck is what the kernel holds
 * locked for QEMU.  x-query-vfio's counters are checked against them,
 * never the other way round.
 *
 * pin-once: up to ready (machine created and reset), every byte of RAM
 *   is mapped once (bytes mapped <= RAM + 1 MiB), nothing above the
 *   legacy window is unmapped, the map count does not grow with RAM,
 *   for anonymous, THP and hugetlbfs (2 MiB memfd) backings.  The
 *   upstream case (x-dma-plan=off) shows the oracle sees the difference.
 * dma-avail: with vfio_iommu_type1's dma_entry_limit below what the
 *   layout needs (DIMMs), the device is refused at realize with one
 *   line and no MAP_DMA was made.
 * virtio-mem: blocks plugged and unplugged through the device's queue
 *   while sdhci-pci is assigned are mapped and unmapped block by block,
 *   and nothing of the unplugged part is ever mapped; with
 *   dma_entry_limit exhausted a plug is refused before any MAP_DMA.
 * rollback: under a locked-memory limit (CAP_IPC_LOCK dropped), a hot
 *   plugged device is refused before any MAP_DMA, in one line.
 * guard/...: what cannot be mapped is refused up front (the legacy
 *   window's later split, DIMMs after the device, a hot-added DIMM),
 *   and what fails once the guest runs stops the VM after the failed
 *   plan was rolled back (see each test).
 * async/...: x-dma-async: the Bus Master gate (the kernel sees the
 *   config write after the last MAP_DMA), a reset while mapping, a
 *   MAP_DMA failing on the worker, an unplug while mapping, the start of
 *   dirty tracking while mapping (see each test).
 *
 * spapr/prereg-prefault (ppc64, the pseries L1 with its sPAPR TCE v2
 *   IOMMU): the machine's RAM is populated with threads before
 *   VFIO_IOMMU_SPAPR_REGISTER_MEMORY pins it: all of it prefaulted, and
 *   the kernel's registration then takes under a tenth of its time with
 *   x-dma-prefault-threads=0 (it only pins resident pages); VmLck (the
 *   kernel) holds the RAM either way.
 *
 * Sizes: VFIO_DMA_SIZES (default "512M": make check-system's L1 has
 * 2 GiB); "512M,2G" in an L1 with VFIO_DIRECT_L1_MEM=6G adds the 2 GiB
 * cases (about 3 minutes more); a size the L1 cannot hold is skipped
 * with a message.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/bswap.h"
#include <sys/mount.h>
#include <sys/resource.h>
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "libqos/pci-pc.h"
#include "libqos/malloc-pc.h"
#include "libqos/virtio.h"
#include "libqos/virtio-pci.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_mem.h"
#include "standard-headers/linux/pci_regs.h"
#include "vfio-qtest-util.h"

#define TRACEFS     "/sys/kernel/tracing"
#define MAP_DMA     0x3b71
#define UNMAP_DMA   0x3b72
#define DIRTY_PAGES 0x3b75
#define THP         "/sys/kernel/mm/transparent_hugepage/enabled"
#define HUGEPAGES   "/proc/sys/vm/nr_hugepages"
#define DMA_LIMIT   "/sys/module/vfio_iommu_type1/parameters/dma_entry_limit"
#define WINDOW      (MiB - 0xa0000)

/* VFIO_PCI_CONFIG_REGION_INDEX << VFIO_PCI_OFFSET_SHIFT, + PCI_COMMAND */
#define CONFIG_COMMAND ((7ULL << 40) + 4)

/* What the kernel saw */
typedef struct Ioctls {
    unsigned maps, unmaps, map_failures;
    uint64_t map_bytes, unmap_bytes, largest;
    unsigned worker_maps;       /* from a thread other than the main one */
    double last_map_ret;        /* trace timestamp of the last MAP_DMA's end */
    double bme_write;           /* first config write setting Bus Master */
    double dirty_pages;         /* first VFIO_IOMMU_DIRTY_PAGES call */
} Ioctls;

/* Append @text to @path in one write (what tracefs and sysfs want) */
static bool write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = write(fd, text, strlen(text)) == strlen(text);
    return close(fd) == 0 && ok;
}

/* Write @text to @path in place: /proc, sysfs and tracefs files */
static bool set_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = write(fd, text, strlen(text)) == strlen(text);
    return close(fd) == 0 && ok;
}

static char *read_file(const char *path)
{
    gchar *text;

    return g_file_get_contents(path, &text, NULL, NULL) ? text : NULL;
}

/* The trace buffer's size before probes_on() */
static char *buffer_was;

/* Probe the type1 ioctl; false (with a skip) where the L1 cannot */
static bool probes_on(void)
{
    if (getuid() != 0) {
        g_test_skip("needs root (the test bed runs it as root)");
        return false;
    }
    if (access(TRACEFS "/kprobe_events", F_OK) &&
        mount("nodev", TRACEFS, "tracefs", 0, NULL)) {
        g_test_skip("no tracefs");
        return false;
    }
    write_file(TRACEFS "/events/vfiodma/enable", "0");
    write_file(TRACEFS "/kprobe_events", "-:vfiodma/ioc\n");
    write_file(TRACEFS "/kprobe_events", "-:vfiodma/ret\n");
    write_file(TRACEFS "/kprobe_events", "-:vfiodma/cfg\n");
    /* QEMU's worker threads map too: a column for the process */
    set_file(TRACEFS "/options/record-tgid", "1");
    if (!write_file(TRACEFS "/kprobe_events",
                    "p:vfiodma/cfg vfio_pci_core_write pos=+0($arg4):u64 "
                    "val=+u0($arg2):u16\n") ||
        !write_file(TRACEFS "/kprobe_events",
                    "p:vfiodma/ioc vfio_iommu_type1_ioctl cmd=$arg2:x32 "
                    "f16=+u16($arg3):u64 f24=+u24($arg3):u64\n") ||
        !write_file(TRACEFS "/kprobe_events",
                    "r:vfiodma/ret vfio_iommu_type1_ioctl ret=$retval:s64\n")) {
        g_autofree char *log = read_file(TRACEFS "/error_log");

        g_test_message("kprobe refused: %s", log ? log : "");
        g_test_skip("cannot probe vfio_iommu_type1_ioctl");
        return false;
    }
    if (!buffer_was) {
        buffer_was = read_file(TRACEFS "/buffer_size_kb");
    }
    g_assert(set_file(TRACEFS "/buffer_size_kb", "8192"));
    g_assert(write_file(TRACEFS "/events/vfiodma/enable", "1"));
    /* an empty write with O_TRUNC clears the buffer */
    g_assert(set_file(TRACEFS "/trace", ""));
    return true;
}

static void probes_off(void)
{
    if (buffer_was) {
        set_file(TRACEFS "/buffer_size_kb", buffer_was);
        g_clear_pointer(&buffer_was, g_free);
    }
    write_file(TRACEFS "/events/vfiodma/enable", "0");
    write_file(TRACEFS "/kprobe_events", "-:vfiodma/ioc\n");
    write_file(TRACEFS "/kprobe_events", "-:vfiodma/ret\n");
    write_file(TRACEFS "/kprobe_events", "-:vfiodma/cfg\n");
    set_file(TRACEFS "/options/record-tgid", "0");
}

static uint64_t field(const char *line, const char *name)
{
    const char *p = strstr(line, name);

    g_assert_nonnull(p);
    return g_ascii_strtoull(p + strlen(name), NULL, 0);
}

/*
 * A trace line's thread, process (the record-tgid column) and time:
 * "   comm-TID   (  TGID) [001] .....   123.456789: ioc: ..."
 */
static bool trace_line(const char *l, long *tid, long *tgid, double *ts)
{
    const char *open = strstr(l, " (");
    const char *dash, *colon;

    if (!open) {
        return false;
    }
    for (dash = open; dash > l && dash[-1] != '-'; dash--) {
        /* the TID ends right before the space of " (" */
    }
    if (dash == l) {
        return false;
    }
    *tid = g_ascii_strtoll(dash, NULL, 10);
    *tgid = g_ascii_strtoll(open + 2, NULL, 10);
    colon = strstr(open, "] ");
    if (!colon) {
        return false;
    }
    colon += 2;
    while (*colon && !g_ascii_isdigit(*colon)) {
        colon++;
    }
    *ts = g_ascii_strtod(colon, NULL);
    return true;
}

/* One MAP_DMA the kernel saw, for ioctls_list() */
typedef struct MapCall {
    double entry, ret;          /* trace timestamps */
    uint64_t iova, size;
    bool from_worker;           /* a thread other than the main one */
} MapCall;

/* An ioctl entered and not yet returned */
typedef struct OpenCall {
    uint64_t cmd, f16, f24;     /* f16, f24: the argument's fields there */
    double entry;
} OpenCall;

/*
 * The MAP_DMA and UNMAP_DMA calls of process @pid, any of its threads,
 * and its config writes that set Bus Master Enable; of every process
 * when @pid is 0 (QEMU under a wrapper: the trace was cleared before it
 * started, and nothing else uses VFIO meanwhile).  Each MAP_DMA is also
 * appended to @maps (of MapCall) unless it is NULL.
 */
static Ioctls ioctls_list(pid_t pid, GArray *maps)
{
    g_autofree char *trace = read_file(TRACEFS "/trace");
    g_auto(GStrv) lines = g_strsplit(trace ? trace : "", "\n", -1);
    g_autoptr(GHashTable) open_calls =
        g_hash_table_new_full(NULL, NULL, NULL, g_free);
    Ioctls io = { 0 };

    for (int i = 0; lines[i]; i++) {
        const char *l = lines[i];
        long tid, tgid;
        double ts;

        if (!i || (strstr(l, " ioc: ") && !io.maps && !io.unmaps)) {
            g_test_message("trace: %s", l);
        }
        if (l[0] == '#' || !trace_line(l, &tid, &tgid, &ts) ||
            (pid && tgid != pid && tid != pid)) {
            continue;
        }
        if (strstr(l, " cfg: ")) {
            if (field(l, "pos=") == CONFIG_COMMAND &&
                (field(l, "val=") & 4) && !io.bme_write) {
                io.bme_write = ts;
            }
        } else if (strstr(l, " ioc: ")) {
            OpenCall *c = g_new(OpenCall, 1);

            *c = (OpenCall) { field(l, "cmd="), field(l, "f16="),
                              field(l, "f24="), ts };
            if (c->cmd == DIRTY_PAGES && !io.dirty_pages) {
                io.dirty_pages = ts;
            }
            g_hash_table_replace(open_calls, GINT_TO_POINTER(tid), c);
        } else if (strstr(l, " ret: ")) {
            OpenCall *c = g_hash_table_lookup(open_calls,
                                              GINT_TO_POINTER(tid));
            int64_t ret = (int64_t)field(l, "ret=");

            if (!c) {
                continue;
            }
            if (c->cmd == MAP_DMA && maps) {
                MapCall m = { c->entry, ts, c->f16, c->f24, tid != tgid };

                g_array_append_val(maps, m);
            }
            if (c->cmd == MAP_DMA) {
                io.maps++;
                io.worker_maps += tid != tgid;
                io.last_map_ret = ts;
                if (ret) {
                    io.map_failures++;
                } else {
                    io.map_bytes += c->f24;
                    io.largest = MAX(io.largest, c->f24);
                }
            } else if (c->cmd == UNMAP_DMA) {
                io.unmaps++;
                if (!ret) {
                    io.unmap_bytes += c->f16;
                }
            }
            g_hash_table_remove(open_calls, GINT_TO_POINTER(tid));
        }
    }
    g_test_message("kernel: MAP_DMA %u (%u failed, %u off the main thread) "
                   "0x%" PRIx64 " bytes, largest 0x%" PRIx64 "; UNMAP_DMA "
                   "%u 0x%" PRIx64 " bytes; last MAP_DMA end %.6f, Bus "
                   "Master write %.6f", io.maps, io.map_failures,
                   io.worker_maps, io.map_bytes, io.largest, io.unmaps,
                   io.unmap_bytes, io.last_map_ret, io.bme_write);
    return io;
}

static Ioctls ioctls_of(pid_t pid)
{
    return ioctls_list(pid, NULL);
}

static uint64_t mem_available(void)
{
    char *info = read_file("/proc/meminfo");
    const char *p = info ? strstr(info, "MemAvailable:") : NULL;
    uint64_t kib = p ? g_ascii_strtoull(p + 13, NULL, 10) : 0;

    g_free(info);
    return kib * KiB;
}

/* x-query-vfio's dma object of device @id (unref when done) */
static QDict *query_dma(QTestState *qts, const char *id)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'x-query-vfio' }");
    QListEntry *e;
    QDict *dma = NULL;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *dev = qobject_to(QDict, qlist_entry_obj(e));

        if (!g_strcmp0(qdict_get_try_str(dev, "id"), id)) {
            dma = qdict_get_qdict(dev, "dma");
            qobject_ref(dma);
        }
    }
    qobject_unref(rsp);
    g_assert_nonnull(dma);
    return dma;
}

typedef struct PinCase {
    const char *backing;        /* anon, thp, hugetlbfs */
    uint64_t size;
    bool upstream;              /* x-dma-plan=off: the control */
} PinCase;

static void test_pin_once(const void *opaque)
{
    const PinCase *c = opaque;
    const char *names[] = { "sdhci", NULL };
    g_autofree char *mem = NULL;
    g_autofree char *thp_was = NULL;
    g_autofree char *pages_was = NULL;
    g_autofree char *mib = g_strdup_printf("%" PRIu64 "M", c->size / MiB);
    QTestState *qts;
    QDict *dma;
    Ioctls io;
    uint64_t locked;

    if (!vfio_qtest_require(names)) {
        return;
    }
    if (mem_available() < c->size + 256 * MiB) {
        g_autofree char *msg = g_strdup_printf(
            "the L1 has %" PRIu64 " MiB available, a %s guest needs more "
            "(VFIO_DIRECT_L1_MEM=6G)", mem_available() / MiB, mib);
        g_test_skip(msg);
        return;
    }
    if (!probes_on()) {
        return;
    }
    if (!strcmp(c->backing, "hugetlbfs")) {
        uint64_t need = c->size / (2 * MiB) + 8;
        g_autofree char *n = g_strdup_printf("%" PRIu64, need);
        g_autofree char *got = NULL;

        pages_was = read_file(HUGEPAGES);
        g_assert_nonnull(pages_was);
        g_assert(set_file(HUGEPAGES, n));
        got = read_file(HUGEPAGES);
        if (g_ascii_strtoull(got, NULL, 10) < need) {
            g_autofree char *msg = g_strdup_printf(
                "the L1 has %s 2 MiB pages, %" PRIu64 " needed", got, need);

            g_assert(set_file(HUGEPAGES, pages_was));
            probes_off();
            g_test_skip(msg);
            return;
        }
        mem = g_strdup_printf("-object memory-backend-memfd,id=ram0,"
                              "size=%s,hugetlb=on,hugetlbsize=2097152 "
                              "-machine memory-backend=ram0", mib);
    } else if (!strcmp(c->backing, "thp")) {
        char *thp = read_file(THP);
        const char *cur = thp ? strchr(thp, '[') : NULL;

        g_assert_nonnull(cur);
        thp_was = g_strndup(cur + 1, strcspn(cur + 1, "]"));
        g_free(thp);
        g_assert(write_file(THP, "always"));
    }
    qts = qtest_initf("-M q35 -m %s %s -nodefaults -device "
                      "vfio-pci,host=%s,id=dev0,x-dma-plan=%s", mib,
                      mem ? mem : "", vfio_qtest_host("sdhci"),
                      c->upstream ? "off" : "on");
    locked = vfio_qtest_vmlck(qtest_pid(qts));
    io = ioctls_of(qtest_pid(qts));
    dma = query_dma(qts, "dev0");

    g_assert_cmpuint(io.map_failures, ==, 0);
    /* the kernel holds exactly what was mapped and not unmapped */
    g_assert_cmphex(locked, ==, io.map_bytes - io.unmap_bytes);
    if (c->upstream) {
        /* the control: upstream pins RAM again at reset */
        g_assert_cmphex(io.map_bytes, >=, 2 * c->size - 2 * MiB);
    } else {
        g_assert_cmphex(io.map_bytes, <=, c->size + MiB);
        g_assert_cmphex(io.unmap_bytes, <=, WINDOW);
        /* RAM above 1 MiB (below 4 GiB here) in one mapping */
        g_assert_cmphex(io.largest, ==, c->size - MiB);
        g_assert_cmpuint(io.maps, <=, 12);
        /* what we report is what the kernel saw */
        g_assert_cmpuint(qdict_get_int(dma, "map-calls"), ==, io.maps);
        g_assert_cmpuint(qdict_get_int(dma, "unmap-calls"), ==, io.unmaps);
        g_assert_cmphex(qdict_get_int(dma, "map-bytes"), ==, io.map_bytes);
        g_assert_cmphex(qdict_get_int(dma, "largest-mapping"), ==,
                        io.largest);
        g_assert_cmpuint(qdict_get_int(dma, "incongruent"), ==, 0);
        g_assert_cmpuint(qdict_get_int(dma, "dma-limit") -
                         qdict_get_int(dma, "dma-avail"), ==,
                         qdict_get_int(dma, "mappings"));
    }
    qobject_unref(dma);
    qtest_quit(qts);
    probes_off();
    if (thp_was) {
        g_assert(write_file(THP, thp_was));
    }
    if (pages_was) {
        g_assert(set_file(HUGEPAGES, pages_was));
    }
}

/* Run @pre, then QEMU with @args to its end; its stderr */
static char *run_qemu(const char *const *pre, const char *args, int *status,
                      Ioctls *io)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_auto(GStrv) split = g_strsplit(args, " ", -1);
    g_autofree char *err = NULL;
    GPid pid;
    int errfd;

    for (int i = 0; pre && pre[i]; i++) {
        g_ptr_array_add(argv, g_strdup(pre[i]));
    }
    g_ptr_array_add(argv, g_strdup(g_getenv("QTEST_QEMU_BINARY")));
    for (int i = 0; split[i]; i++) {
        if (*split[i]) {
            g_ptr_array_add(argv, g_strdup(split[i]));
        }
    }
    g_ptr_array_add(argv, NULL);
    g_assert(g_spawn_async_with_pipes(NULL, (char **)argv->pdata, NULL,
                                      G_SPAWN_DO_NOT_REAP_CHILD |
                                      G_SPAWN_SEARCH_PATH, NULL, NULL,
                                      &pid, NULL, NULL, &errfd, NULL));
    {
        GString *s = g_string_new(NULL);
        char buf[512];
        ssize_t n;

        while ((n = read(errfd, buf, sizeof(buf))) > 0) {
            g_string_append_len(s, buf, n);
        }
        close(errfd);
        err = g_string_free(s, false);
    }
    g_assert_cmpint(waitpid(pid, status, 0), ==, pid);
    if (io) {
        /* @pid is the wrapper's (timeout) */
        *io = ioctls_of(0);
    }
    g_test_message("stderr: %s", err);
    return g_steal_pointer(&err);
}

/* The lines of @text that hold @needle */
static int count_lines(const char *text, const char *needle)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    int n = 0;

    for (int i = 0; lines[i]; i++) {
        n += strstr(lines[i], needle) != NULL;
    }
    return n;
}

/*
 * QEMU's stderr in @log (removed) after the VM stopped at a mapping
 * failure: one line saying so, naming dev0 and the limit to raise.
 * Returns the text for more checks.
 */
static char *stop_line_checked(const char *log)
{
    char *err = read_file(log);

    g_assert_nonnull(err);
    g_test_message("stderr: %s", err);
    unlink(log);
    g_assert_cmpint(count_lines(err, "stopping the VM"), ==, 1);
    g_assert_cmpint(count_lines(err, "(dev0)"), ==, 1);
    g_assert_cmpint(count_lines(err, "ulimit -l"), ==, 1);
    return err;
}

/*
 * dma_entry_limit 6, a layout of 7 mappings (below, in and above the
 * legacy window, and 4 DIMMs): refused at realize before any MAP_DMA.
 */
static void test_dma_avail(void)
{
    static const char *const timeout[] = { "timeout", "60", NULL };
    const char *names[] = { "sdhci", NULL };
    g_autofree char *limit_was = NULL;
    g_autofree char *args = NULL;
    g_autofree char *err = NULL;
    GString *dimms = g_string_new(NULL);
    Ioctls io;
    int status;

    if (!vfio_qtest_require(names) || !probes_on()) {
        g_string_free(dimms, true);
        return;
    }
    limit_was = read_file(DMA_LIMIT);
    g_assert_nonnull(limit_was);
    for (int i = 0; i < 4; i++) {
        g_string_append_printf(dimms, "-object memory-backend-ram,id=d%d,"
                               "size=16M -device pc-dimm,memdev=d%d ", i, i);
    }
    args = g_strdup_printf("-M q35 -accel qtest -S -m 64M,slots=4,maxmem=1G "
                           "-display none -nodefaults %s -device "
                           "vfio-pci,host=%s", dimms->str,
                           vfio_qtest_host("sdhci"));
    g_string_free(dimms, true);
    g_assert(set_file(DMA_LIMIT, "6"));
    err = run_qemu(timeout, args, &status, &io);
    g_assert(set_file(DMA_LIMIT, limit_was));
    probes_off();

    g_assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert_cmpint(count_lines(err, "DMA_AVAIL"), ==, 1);
    g_assert_cmpint(count_lines(err, "dma_entry_limit"), ==, 1);
    g_assert_cmpuint(io.maps, ==, 0);
}

/*
 * A locked-memory limit of 2 MiB without CAP_IPC_LOCK: device_add of
 * the first assigned device would pin 64 MiB of RAM.  It is refused at
 * realize with one line naming the limit to raise, before any MAP_DMA
 * (it used to map the first 1 MiB, fail on the rest and roll back: the
 * rollback of a failing MAP_DMA is in guard/runtime-stop and
 * async/failure now).
 */
static void test_rollback(void)
{
    const char *names[] = { "sdhci", NULL };
    g_autofree char *bin = NULL;
    QTestState *qts;
    QDict *rsp;
    Ioctls io;
    const char *desc;

    if (!vfio_qtest_require(names) || !probes_on()) {
        return;
    }
    /* root passes the limit unless CAP_IPC_LOCK is gone */
    bin = g_strdup_printf("setpriv --bounding-set=-ipc_lock "
                          "--inh-caps=-ipc_lock %s",
                          g_getenv("QTEST_QEMU_BINARY"));
    g_setenv("VFIO_DMA_QEMU", bin, true);
    /* i440fx: its root bus takes hot-plugged devices */
    qts = qtest_init_with_env("VFIO_DMA_QEMU", "-M pc -m 64M -nodefaults",
                              true);
    g_assert_cmpint(prlimit(qtest_pid(qts), RLIMIT_MEMLOCK,
                            &(struct rlimit) { 2 * MiB, 2 * MiB }, NULL),
                    ==, 0);
    rsp = qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments': {"
                    " 'driver': 'vfio-pci', 'host': %s, 'id': 'dev0' } }",
                    vfio_qtest_host("sdhci"));
    io = ioctls_of(qtest_pid(qts));
    g_assert(qdict_haskey(rsp, "error"));
    desc = qdict_get_str(qdict_get_qdict(rsp, "error"), "desc");
    g_test_message("device_add: %s", desc);
    g_assert_nonnull(strstr(desc, "ulimit -l"));
    g_assert_null(strchr(desc, '\n'));
    g_assert_cmpuint(io.maps, ==, 0);
    g_assert_cmphex(vfio_qtest_vmlck(qtest_pid(qts)), ==, 0);
    qobject_unref(rsp);
    qtest_quit(qts);
    probes_off();
}

/* Run QEMU with @args under dma_entry_limit @limit to its end */
static char *run_limited(const char *limit, const char *args, int *status,
                         Ioctls *io)
{
    static const char *const timeout[] = { "timeout", "60", NULL };
    g_autofree char *limit_was = read_file(DMA_LIMIT);
    char *err;

    g_assert_nonnull(limit_was);
    g_assert(set_file(DMA_LIMIT, limit));
    err = run_qemu(timeout, args, status, io);
    g_assert(set_file(DMA_LIMIT, limit_was));
    return err;
}

/*
 * guard/window: q35 with 64 MiB and dma_entry_limit 4.  Realize needs
 * 4 mappings (below, in and above the legacy window, the BIOS ROM) and
 * fits; the reset-time PAM split needs more.  Refused at realize, in one line,
 * before any MAP_DMA: QEMU exits by itself (not by the timeout), where
 * it used to run with the window unmapped for the device.
 */
static void test_guard_window(void)
{
    const char *names[] = { "sdhci", NULL };
    g_autofree char *args = NULL;
    g_autofree char *err = NULL;
    Ioctls io;
    int status;

    if (!vfio_qtest_require(names) || !probes_on()) {
        return;
    }
    args = g_strdup_printf("-M q35 -accel qtest -m 64M -display none "
                           "-nodefaults -device vfio-pci,host=%s,id=dev0",
                           vfio_qtest_host("sdhci"));
    err = run_limited("4", args, &status, &io);
    probes_off();

    g_assert(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_cmpint(count_lines(err, "dma_entry_limit"), ==, 1);
    g_assert_cmpint(count_lines(err, "legacy window"), ==, 1);
    g_assert_cmpuint(io.maps, ==, 0);
}

/*
 * guard/dimm-after: the vfio device before 4 DIMMs on the command line,
 * dma_entry_limit 18: realize needs 4 mappings and keeps 13 for the
 * window, so the first DIMM fits (1 + 13 of 14) and the second is
 * refused at its pre_plug, naming it, and QEMU exits without a failed
 * MAP_DMA.  It used to run to ready with DIMMs the device cannot reach.
 */
static void test_guard_dimm_after(void)
{
    const char *names[] = { "sdhci", NULL };
    GString *args = g_string_new(NULL);
    g_autofree char *err = NULL;
    Ioctls io;
    int status;

    if (!vfio_qtest_require(names) || !probes_on()) {
        g_string_free(args, true);
        return;
    }
    g_string_printf(args, "-M q35 -accel qtest -m 64M,slots=4,maxmem=1G "
                    "-display none -nodefaults -device vfio-pci,host=%s,"
                    "id=dev0", vfio_qtest_host("sdhci"));
    for (int i = 0; i < 4; i++) {
        g_string_append_printf(args, " -object memory-backend-ram,id=m%d,"
                               "size=16M -device pc-dimm,id=dimm%d,memdev=m%d",
                               i, i, i);
    }
    err = run_limited("18", args->str, &status, &io);
    g_string_free(args, true);
    probes_off();

    g_assert(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_cmpint(count_lines(err, "dma_entry_limit"), ==, 1);
    g_assert_cmpint(count_lines(err, "memory device dimm1"), ==, 1);
    g_assert_cmpuint(io.map_failures, ==, 0);
    /* RAM and the BIOS (4) and dimm0, nothing of dimm1 */
    g_assert_cmpuint(io.maps, ==, 5);
}

/* Wait up to @secs for the run state @want */
static bool wait_status(QTestState *qts, const char *want, int secs)
{
    for (int i = 0; i < secs * 10; i++) {
        QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-status' }");
        bool ok = !strcmp(qdict_get_str(qdict_get_qdict(rsp, "return"),
                                        "status"), want);

        qobject_unref(rsp);
        if (ok) {
            return true;
        }
        g_usleep(100 * 1000);
    }
    return false;
}

/* QEMU under a locked-memory limit of @mib MiB, without CAP_IPC_LOCK */
static QTestState *start_memlock(uint64_t mib, const char *args)
{
    g_autofree char *bin = g_strdup_printf(
        "prlimit --memlock=%" PRIu64 ":%" PRIu64 " setpriv "
        "--bounding-set=-ipc_lock --inh-caps=-ipc_lock %s", mib * MiB,
        mib * MiB, g_getenv("QTEST_QEMU_BINARY"));

    g_setenv("VFIO_DMA_QEMU", bin, true);
    return qtest_init_with_env("VFIO_DMA_QEMU", args, true);
}

/*
 * guard/hotplug-memlock: 64 MiB of RAM pinned under a 96 MiB limit;
 * device_add of a 64 MiB pc-dimm is refused at pre_plug with one line
 * that says what to raise, the guest never sees the DIMM, no MAP_DMA
 * failed and nothing more is locked.  The base plugs the DIMM and its
 * MAP_DMA fails (hw_error).
 */
static void test_guard_hotplug_memlock(void)
{
    const char *names[] = { "sdhci", NULL };
    g_autofree char *args = NULL;
    QTestState *qts;
    QDict *rsp;
    QList *devs;
    const char *desc;
    uint64_t locked;
    Ioctls io;

    if (!vfio_qtest_require(names) || !probes_on()) {
        return;
    }
    args = g_strdup_printf("-M pc -m 64M,slots=2,maxmem=1G -nodefaults "
                           "-device vfio-pci,host=%s,id=dev0",
                           vfio_qtest_host("sdhci"));
    qts = start_memlock(96, args);
    locked = vfio_qtest_vmlck(qtest_pid(qts));
    g_assert_cmphex(locked, >=, 63 * MiB);
    g_assert(set_file(TRACEFS "/trace", ""));
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments': {"
                             " 'qom-type': 'memory-backend-ram', 'id': 'm0',"
                             " 'size': %" PRIu64 " } }", 64 * MiB);
    rsp = qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments': {"
                    " 'driver': 'pc-dimm', 'id': 'dimm0', 'memdev': 'm0' } }");
    g_assert(qdict_haskey(rsp, "error"));
    desc = qdict_get_str(qdict_get_qdict(rsp, "error"), "desc");
    g_test_message("device_add: %s", desc);
    g_assert_nonnull(strstr(desc, "ulimit -l"));
    g_assert_nonnull(strstr(desc, "dimm0"));
    g_assert_null(strchr(desc, '\n'));
    qobject_unref(rsp);
    io = ioctls_of(qtest_pid(qts));
    g_assert_cmpuint(io.maps, ==, 0);
    g_assert_cmphex(vfio_qtest_vmlck(qtest_pid(qts)), ==, locked);
    rsp = qtest_qmp(qts, "{ 'execute': 'query-memory-devices' }");
    devs = qdict_get_qlist(rsp, "return");
    g_assert(qlist_empty(devs));
    qobject_unref(rsp);
    qtest_quit(qts);
    probes_off();
}

/*
 * guard/runtime-stop: a plan that fails once the guest runs.  Under a
 * locked-memory limit lowered after start-up, the guest (qtest) makes
 * the first 16 KiB PAM segment RAM: its MAP_DMA fails with ENOMEM, the
 * VM stops (internal-error, "cont" refused) with one line naming the
 * device, the range, the errno and the limit to raise, and nothing of
 * that plan stays mapped.  It used to report and keep running.
 */
static void test_guard_runtime_stop(void)
{
    const char *names[] = { "sdhci", NULL };
    g_autofree char *log = g_strdup_printf("/tmp/vfio-dma-test.%d.err",
                                           getpid());
    g_autofree char *args = NULL;
    g_autofree char *err = NULL;
    QTestState *qts;
    QDict *rsp;
    Ioctls io;
    uint64_t locked;

    if (!vfio_qtest_require(names) || !probes_on()) {
        return;
    }
    /* libqtest runs QEMU through sh -c: stderr to @log */
    args = g_strdup_printf("-M q35 -m 64M -nodefaults -device "
                           "vfio-pci,host=%s,id=dev0 2>%s",
                           vfio_qtest_host("sdhci"), log);
    qts = start_memlock(128, args);
    locked = vfio_qtest_vmlck(qtest_pid(qts));
    g_assert_cmpint(prlimit(qtest_pid(qts), RLIMIT_MEMLOCK,
                            &(struct rlimit) { MiB, MiB }, NULL), ==, 0);
    g_assert(set_file(TRACEFS "/trace", ""));
    /* PAM1: 0xc0000-0xc7fff read/write to RAM */
    qtest_outl(qts, 0xcf8, 0x80000000 | 0x90);
    qtest_outb(qts, 0xcfd, 0x33);
    g_assert(wait_status(qts, "internal-error", 10));
    rsp = qtest_qmp(qts, "{ 'execute': 'cont' }");
    g_assert(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    io = ioctls_of(qtest_pid(qts));
    g_assert_cmpuint(io.map_failures, ==, 1);
    g_assert_cmphex(io.unmap_bytes, >=, io.map_bytes);
    g_assert_cmphex(vfio_qtest_vmlck(qtest_pid(qts)), <=, locked);
    qtest_quit(qts);
    probes_off();
    err = stop_line_checked(log);
    g_assert_cmpint(count_lines(err, "0xc0000"), ==, 1);
}

/* x-query-vfio's dma.queue of device @id (unref when done) */
static QDict *query_queue(QTestState *qts, const char *id)
{
    QDict *dma = query_dma(qts, id);
    QDict *q = qdict_get_qdict(dma, "queue");

    qobject_ref(q);
    qobject_unref(dma);
    return q;
}

/* Wait up to @secs for device @id's queue to be empty */
static bool queue_drained(QTestState *qts, const char *id, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        QDict *q = query_queue(qts, id);
        bool empty = !qdict_get_int(q, "queued");

        qobject_unref(q);
        if (empty) {
            return true;
        }
        g_usleep(50 * 1000);
    }
    return false;
}

/*
 * QEMU with sdhci-pci as dev0 (x-dma-async=on) on machine @machine with
 * @mem of RAM, @extra device options; checked to answer while its
 * worker still has work queued.
 */
static QTestState *start_queued(const char *machine, const char *mem,
                                const char *extra)
{
    QTestState *qts = qtest_initf("-M %s -m %s -nodefaults -device "
                                  "vfio-pci,host=%s,id=dev0,x-dma-async=on%s",
                                  machine, mem, vfio_qtest_host("sdhci"),
                                  extra);
    QDict *q = query_queue(qts, "dev0");
    int64_t queued = qdict_get_int(q, "queued");

    g_test_message("queued at ready: %" PRId64 " ops, 0x%" PRIx64 " bytes",
                   queued, qdict_get_int(q, "queued-bytes"));
    g_assert(qdict_get_bool(q, "async"));
    g_assert_cmpint(queued, >, 0);
    qobject_unref(q);
    return qts;
}

/*
 * async/hotplug-fits: the same DIMM hot-add while the worker is in the
 * middle of pinning 512 MiB, under a limit that RAM and DIMM fit: the
 * pages pinned so far are in VmLck and the whole MAP_DMA in flight is
 * still queued, so counting both refused a DIMM that fits.  It is
 * plugged, and once the queue is done the kernel holds RAM and DIMM
 * (VmLck against the ioctls) under the limit.
 */
static void test_async_hotplug_fits(void)
{
    const char *names[] = { "sdhci", NULL };
    g_autofree char *args = NULL;
    uint64_t locked = 0;
    QTestState *qts;
    QDict *rsp, *q;
    QList *devs;
    Ioctls io;

    if (!vfio_qtest_require(names) || !probes_on()) {
        return;
    }
    args = g_strdup_printf("-M pc -m 512M,slots=2,maxmem=2G -nodefaults "
                           "-device vfio-pci,host=%s,id=dev0,x-dma-async=on",
                           vfio_qtest_host("sdhci"));
    qts = start_memlock(512 + 64 + 8, args);
    /* until the worker's MAP_DMA of RAM has pinned part of it */
    for (int i = 0; i < 600 && locked < 64 * MiB; i++) {
        g_usleep(50 * 1000);
        locked = vfio_qtest_vmlck(qtest_pid(qts));
    }
    q = query_queue(qts, "dev0");
    g_test_message("VmLck %" PRIu64 " MiB with %" PRId64 " ops queued",
                   locked / MiB, qdict_get_int(q, "queued"));
    g_assert_cmpint(qdict_get_int(q, "queued"), >, 0);
    qobject_unref(q);

    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments': {"
                             " 'qom-type': 'memory-backend-ram', 'id': 'm0',"
                             " 'size': %" PRIu64 " } }", 64 * MiB);
    qtest_qmp_assert_success(qts, "{ 'execute': 'device_add', 'arguments': {"
                             " 'driver': 'pc-dimm', 'id': 'dimm0',"
                             " 'memdev': 'm0' } }");
    g_assert(queue_drained(qts, "dev0", 120));
    rsp = qtest_qmp(qts, "{ 'execute': 'query-memory-devices' }");
    devs = qdict_get_qlist(rsp, "return");
    g_assert_false(qlist_empty(devs));
    qobject_unref(rsp);
    io = ioctls_of(qtest_pid(qts));
    g_assert_cmpuint(io.map_failures, ==, 0);
    g_assert_cmphex(io.map_bytes - io.unmap_bytes, >=, 575 * MiB);
    g_assert_cmphex(vfio_qtest_vmlck(qtest_pid(qts)), ==,
                    io.map_bytes - io.unmap_bytes);
    qtest_quit(qts);
    probes_off();
}

/*
 * async/gate: x-dma-async=on with 512 MiB: QEMU answers while its
 * worker still maps RAM, and the test sets Bus Master Enable on the
 * device at once (port 0xcf8/0xcfc, as firmware does).  Judged by the
 * L1 kernel: the maps come from a thread other than the main one, and
 * the config write that sets Bus Master Enable reaches vfio-pci only
 * after the last MAP_DMA returned; VmLck is what was mapped.
 */
static void test_async_gate(void)
{
    const char *names[] = { "sdhci", NULL };
    QTestState *qts;
    QDict *q;
    Ioctls io;

    if (!vfio_qtest_require(names) || !probes_on()) {
        return;
    }
    qts = start_queued("q35", "512M", ",addr=04.0");

    /* PCI_COMMAND of 00:04.0: Bus Master Enable (BARs stay off) */
    qtest_outl(qts, 0xcf8, 0x80000000 | (4 << 11) | PCI_COMMAND);
    qtest_outw(qts, 0xcfc, PCI_COMMAND_MASTER);

    q = query_queue(qts, "dev0");
    g_assert_cmpint(qdict_get_int(q, "queued"), ==, 0);
    g_assert_cmpint(qdict_get_int(q, "gate-waits"), ==, 1);
    g_assert_cmpstr(qdict_get_str(q, "gate-event"), ==, "bus-master");
    g_assert(qdict_haskey(q, "mapped-ns"));
    g_test_message("fully mapped after %" PRId64 " ms, the gate waited %"
                   PRId64 " ms", qdict_get_int(q, "mapped-ns") / 1000000,
                   qdict_get_int(q, "gate-wait-ns") / 1000000);
    qobject_unref(q);

    io = ioctls_of(qtest_pid(qts));
    g_assert_cmpuint(io.map_failures, ==, 0);
    g_assert_cmpuint(io.worker_maps, >, 0);
    g_assert_cmpfloat(io.bme_write, >, 0);
    g_assert_cmpfloat(io.last_map_ret, <, io.bme_write);
    g_assert_cmphex(io.map_bytes, <=, 512 * MiB + MiB);
    g_assert_cmphex(vfio_qtest_vmlck(qtest_pid(qts)), ==,
                    io.map_bytes - io.unmap_bytes);
    qtest_quit(qts);
    probes_off();
}

/* The MAP_DMA calls the kernel saw at @iova */
typedef struct PeerMaps {
    unsigned maps, from_worker;
    double first_entry;         /* trace timestamp of the first one's entry */
    double ram_ret;             /* ... and of the largest RAM map's end */
} PeerMaps;

static PeerMaps peer_maps_of(pid_t pid, uint64_t iova)
{
    g_autoptr(GArray) maps = g_array_new(false, false, sizeof(MapCall));
    PeerMaps pm = { 0 };
    uint64_t largest = 0;

    ioctls_list(pid, maps);
    for (guint i = 0; i < maps->len; i++) {
        MapCall *m = &g_array_index(maps, MapCall, i);

        if (m->iova == iova) {
            pm.first_entry = pm.maps++ ? pm.first_entry : m->entry;
            pm.from_worker += m->from_worker;
        } else if (m->size > largest) {
            largest = m->size;
            pm.ram_ret = m->ret;
        }
    }
    g_test_message("kernel: %u MAP_DMA at 0x%" PRIx64 " (%u from the worker, "
                   "first at %.6f), RAM mapped until %.6f", pm.maps, iova,
                   pm.from_worker, pm.first_entry, pm.ram_ret);
    return pm;
}

/*
 * async/peer-bar: the firmware enables a BAR's decode while the worker
 * still pins RAM.  Upstream then maps the BAR's mmap into the IOMMU for
 * peer-to-peer DMA; in the kernel that MAP_DMA would wait for type1's
 * lock, which the worker's MAP_DMA holds for seconds, and the vCPU with
 * it, under the BQL.  It is queued behind the work instead: judged by
 * the L1 kernel, the BAR's one MAP_DMA comes from the worker after RAM
 * was mapped; a decode toggle while it is still queued cancels the
 * queued map (the kernel sees no second one).
 */
static void test_async_peer_bar(void)
{
    const char *names[] = { "sdhci", NULL };
    const uint32_t bar = 0xc0000000;
    const uint32_t cfg = 0x80000000 | (4 << 11);
    QTestState *qts;
    int64_t peer_ops;
    PeerMaps pm;
    QDict *q;

    if (!vfio_qtest_require(names) || !probes_on()) {
        return;
    }
    qts = qtest_initf("-M q35 -m 512M -nodefaults -device vfio-pci,host=%s,"
                      "id=dev0,addr=04.0,x-dma-async=on",
                      vfio_qtest_host("sdhci"));
    q = query_queue(qts, "dev0");
    g_assert_cmpint(qdict_get_int(q, "queued"), >, 0);
    qobject_unref(q);

    /* BAR0 at @bar, decode on, off, on: as firmware sizing and placing */
    qtest_outl(qts, 0xcf8, cfg | PCI_BASE_ADDRESS_0);
    qtest_outl(qts, 0xcfc, bar);
    for (int i = 0; i < 3; i++) {
        qtest_outl(qts, 0xcf8, cfg | PCI_COMMAND);
        qtest_outw(qts, 0xcfc, i == 1 ? 0 : PCI_COMMAND_MEMORY);
    }
    q = query_queue(qts, "dev0");
    peer_ops = qdict_get_int(q, "peer-ops");
    g_test_message("after the decode writes: %" PRId64 " ops queued, %"
                   PRId64 " peer ops", qdict_get_int(q, "queued"), peer_ops);
    qobject_unref(q);

    /* Bus Master Enable: the gate waits for RAM and the BAR */
    qtest_outl(qts, 0xcf8, cfg | PCI_COMMAND);
    qtest_outw(qts, 0xcfc, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    q = query_queue(qts, "dev0");
    g_assert_cmpint(qdict_get_int(q, "queued"), ==, 0);
    qobject_unref(q);

    pm = peer_maps_of(qtest_pid(qts), bar);
    g_assert_cmpuint(pm.maps, ==, 1);
    g_assert_cmpuint(pm.from_worker, ==, 1);
    g_assert_cmpfloat(pm.first_entry, >=, pm.ram_ret);
    g_assert_cmpint(peer_ops, ==, 2);
    qtest_quit(qts);
    probes_off();
}

/*
 * async/reset: a system_reset while the worker maps queues the reset's
 * plans behind the first; once done, the kernel holds exactly what the
 * planner says (VmLck against the ioctls), RAM above 1 MiB pinned once.
 */
static void test_async_reset(void)
{
    const char *names[] = { "sdhci", NULL };
    QTestState *qts;
    QDict *dma;
    Ioctls io;

    if (!vfio_qtest_require(names) || !probes_on()) {
        return;
    }
    qts = start_queued("q35", "512M", "");
    qtest_qmp_assert_success(qts, "{ 'execute': 'system_reset' }");
    g_assert(queue_drained(qts, "dev0", 60));
    io = ioctls_of(qtest_pid(qts));
    dma = query_dma(qts, "dev0");
    g_assert_cmpuint(io.map_failures, ==, 0);
    g_assert_cmphex(io.map_bytes, <=, 512 * MiB + 2 * MiB);
    g_assert_cmphex(io.largest, ==, 511 * MiB);
    g_assert_cmphex(vfio_qtest_vmlck(qtest_pid(qts)), ==,
                    io.map_bytes - io.unmap_bytes);
    g_assert_cmpuint(qdict_get_int(dma, "map-calls"), ==, io.maps);
    g_assert_cmpuint(qdict_get_int(dma, "unmap-calls"), ==, io.unmaps);
    qobject_unref(dma);
    qtest_quit(qts);
    probes_off();
}

/*
 * async/failure: the worker's MAP_DMA fails after the pre-check: a
 * 64 MiB DIMM before the device puts RAM and DIMM in one job, the
 * locked-memory limit (no CAP_IPC_LOCK) is lowered below the RAM size
 * while the worker pins RAM, so the DIMM's MAP_DMA fails.  The VM
 * stops with one line naming the device, the range and what to raise,
 * and nothing stays pinned (VmLck 0, the kernel unmapped every byte).
 */
static void test_async_failure(void)
{
    const char *names[] = { "sdhci", NULL };
    g_autofree char *log = g_strdup_printf("/tmp/vfio-dma-test.%d.err",
                                           getpid());
    g_autofree char *args = NULL;
    g_autofree char *err = NULL;
    QTestState *qts;
    Ioctls io;

    if (!vfio_qtest_require(names) || !probes_on()) {
        return;
    }
    args = g_strdup_printf("-M q35 -m 768M,slots=1,maxmem=2G -nodefaults "
                           "-object memory-backend-ram,id=m0,size=64M "
                           "-device pc-dimm,id=dimm0,memdev=m0 "
                           "-device vfio-pci,host=%s,id=dev0,x-dma-async=on "
                           "2>%s", vfio_qtest_host("sdhci"), log);
    qts = start_memlock(1024, args);
    g_assert_cmpint(prlimit(qtest_pid(qts), RLIMIT_MEMLOCK,
                            &(struct rlimit) { 256 * MiB, 256 * MiB }, NULL),
                    ==, 0);
    g_assert(wait_status(qts, "internal-error", 60));
    io = ioctls_of(qtest_pid(qts));
    g_assert_cmpuint(io.map_failures, ==, 1);
    g_assert_cmphex(io.unmap_bytes, ==, io.map_bytes);
    g_assert_cmphex(vfio_qtest_vmlck(qtest_pid(qts)), ==, 0);
    qtest_quit(qts);
    probes_off();
    err = stop_line_checked(log);
}

/*
 * async/unplug: device_del of the only vfio device (i440fx, ACPI eject
 * as a guest does it) while its worker still maps 1 GiB.  No crash: the
 * device goes (DEVICE_DELETED, gone from x-query-vfio), QEMU keeps
 * answering, and the L1 kernel holds nothing of the container: no
 * /dev/vfio descriptor left, VmLck back to its baseline (0: nothing
 * else locks), every byte mapped unmapped again (kprobes), no MAP_DMA
 * failed.
 */
static void test_async_unplug(void)
{
    const char *names[] = { "sdhci", NULL };
    QTestState *qts;
    QDict *rsp;
    Ioctls io;

    if (!vfio_qtest_require(names) || !probes_on()) {
        return;
    }
    qts = start_queued("pc", "1G", ",addr=04.0");
    qtest_qmp_device_del_send(qts, "dev0");
    /* PIIX ACPI PCI hot-plug: eject slot 4 */
    qtest_outl(qts, 0xae00 + 0x08, 1 << 4);
    qtest_qmp_eventwait(qts, "DEVICE_DELETED");

    rsp = qtest_qmp(qts, "{ 'execute': 'x-query-vfio' }");
    g_assert(qlist_empty(qdict_get_qlist(rsp, "return")));
    qobject_unref(rsp);
    g_assert(wait_status(qts, "running", 1));
    io = ioctls_of(qtest_pid(qts));
    g_assert_cmpint(vfio_qtest_vfio_fds(qtest_pid(qts)), ==, 0);
    g_assert_cmphex(vfio_qtest_vmlck(qtest_pid(qts)), ==, 0);
    g_assert_cmpuint(io.map_failures, ==, 0);
    g_assert_cmpuint(io.maps, >, 0);
    g_assert_cmphex(io.unmap_bytes, ==, io.map_bytes);
    qtest_quit(qts);
    probes_off();
}

/*
 * async/dirty-tracking: migration cannot start here (a vfio device
 * without migration support blocks `migrate`: recorded, and no gate is
 * involved), but QMP calc-dirty-rate in dirty-bitmap mode starts global
 * dirty logging, which reaches vfio's log_global_start.  Issued while
 * the worker maps 1 GiB, it waits for the queue (gate
 * "dirty-tracking"), and the L1 kernel sees VFIO_IOMMU_DIRTY_PAGES
 * (start) only after the last MAP_DMA returned.
 */
static void test_async_dirty_tracking(void)
{
    const char *names[] = { "sdhci", NULL };
    QTestState *qts;
    QDict *q, *rsp;
    Ioctls io;

    if (!vfio_qtest_require(names) || !probes_on()) {
        return;
    }
    qts = start_queued("q35", "1G", "");
    rsp = qtest_qmp(qts, "{ 'execute': 'migrate', 'arguments': {"
                    " 'uri': 'exec:cat >/dev/null' } }");
    g_assert(qdict_haskey(rsp, "error"));
    g_test_message("migrate while queued: %s",
                   qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"));
    qobject_unref(rsp);
    q = query_queue(qts, "dev0");
    g_assert_cmpint(qdict_get_int(q, "gate-waits"), ==, 0);
    qobject_unref(q);

    qtest_qmp_assert_success(qts, "{ 'execute': 'calc-dirty-rate',"
                             " 'arguments': { 'calc-time': 1,"
                             " 'mode': 'dirty-bitmap' } }");
    for (int i = 0; i < 600; i++) {
        bool done;

        rsp = qtest_qmp(qts, "{ 'execute': 'query-dirty-rate' }");
        done = !strcmp(qdict_get_str(qdict_get_qdict(rsp, "return"),
                                     "status"), "measured");
        qobject_unref(rsp);
        if (done) {
            break;
        }
        g_usleep(100 * 1000);
    }
    q = query_queue(qts, "dev0");
    g_assert_cmpint(qdict_get_int(q, "queued"), ==, 0);
    g_assert_cmpint(qdict_get_int(q, "gate-waits"), ==, 1);
    g_assert_cmpstr(qdict_get_str(q, "gate-event"), ==, "dirty-tracking");
    g_test_message("the gate waited %" PRId64 " ms",
                   qdict_get_int(q, "gate-wait-ns") / 1000000);
    qobject_unref(q);
    io = ioctls_of(qtest_pid(qts));
    g_assert_cmpuint(io.map_failures, ==, 0);
    g_assert_cmpuint(io.worker_maps, >, 0);
    g_assert_cmpfloat(io.dirty_pages, >, 0);
    g_assert_cmpfloat(io.last_map_ret, <, io.dirty_pages);
    qtest_quit(qts);
    probes_off();
}

/* A driver for virtio-mem on the qtest side */
typedef struct VirtioMem {
    QTestState *qts;
    QPCIBus *bus;
    QVirtioPCIDevice *pci;
    QVirtQueue *vq;
    QGuestAllocator alloc;
    uint64_t addr, block;
} VirtioMem;

static void vmem_start(VirtioMem *m, QTestState *qts, int slot)
{
    QPCIAddress addr = { .devfn = QPCI_DEVFN(slot, 0) };
    uint64_t features;

    m->qts = qts;
    m->bus = qpci_new_pc(qts, NULL);
    pc_alloc_init(&m->alloc, qts, 0);
    m->pci = virtio_pci_new(m->bus, &addr);
    g_assert_nonnull(m->pci);
    qvirtio_pci_device_enable(m->pci);
    qvirtio_start_device(&m->pci->vdev);
    features = qvirtio_get_features(&m->pci->vdev) &
               ((1ULL << VIRTIO_F_VERSION_1) |
                (1ULL << VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE));
    qvirtio_set_features(&m->pci->vdev, features);
    m->vq = qvirtqueue_setup(&m->pci->vdev, &m->alloc, 0);
    qvirtio_set_driver_ok(&m->pci->vdev);
    m->block = qvirtio_config_readq(&m->pci->vdev, 0);
    m->addr = qvirtio_config_readq(&m->pci->vdev, 16);
    g_test_message("virtio-mem at 0x%" PRIx64 ", blocks of 0x%" PRIx64,
                   m->addr, m->block);
}

/* Send request @type for @nb blocks from block @first; the response */
static uint16_t vmem_request(VirtioMem *m, uint16_t type, uint64_t first,
                             uint16_t nb)
{
    struct virtio_mem_req req = {
        .type = cpu_to_le16(type),
        .u.plug.addr = cpu_to_le64(m->addr + first * m->block),
        .u.plug.nb_blocks = cpu_to_le16(nb),
    };
    uint64_t req_addr = guest_alloc(&m->alloc, sizeof(req));
    uint64_t resp_addr = guest_alloc(&m->alloc, 16);
    uint32_t head;
    uint16_t resp;

    qtest_memwrite(m->qts, req_addr, &req, sizeof(req));
    qtest_memset(m->qts, resp_addr, 0xff, 16);
    head = qvirtqueue_add(m->qts, m->vq, req_addr, sizeof(req), false, true);
    qvirtqueue_add(m->qts, m->vq, resp_addr, 16, true, false);
    qvirtqueue_kick(m->qts, &m->pci->vdev, m->vq, head);
    qvirtio_wait_used_elem(m->qts, &m->pci->vdev, m->vq, head, NULL,
                           10 * 1000 * 1000);
    resp = qtest_readw(m->qts, resp_addr);
    guest_free(&m->alloc, req_addr);
    guest_free(&m->alloc, resp_addr);
    return resp;
}

static void vmem_stop(VirtioMem *m)
{
    qvirtqueue_cleanup(m->pci->vdev.bus, m->vq, &m->alloc);
    qvirtio_pci_device_disable(m->pci);
    g_free(m->pci);
    qpci_free_pc(m->bus);
    alloc_destroy(&m->alloc);
}

#define VMEM_ARGS "-M q35 -m 128M,maxmem=1G -nodefaults " \
    "-object memory-backend-ram,id=vm0,size=64M " \
    "-device virtio-mem-pci,id=vmem,memdev=vm0,block-size=2M," \
    "requested-size=64M,addr=05.0 -device vfio-pci,host=%s,id=dev0"

static void test_virtio_mem(void)
{
    const char *names[] = { "sdhci", NULL };
    g_autofree char *limit_was = NULL;
    VirtioMem m;
    QTestState *qts;
    QDict *dma;
    Ioctls io;

    if (!vfio_qtest_require(names) || !probes_on()) {
        return;
    }
    qts = qtest_initf(VMEM_ARGS, vfio_qtest_host("sdhci"));
    vmem_start(&m, qts, 5);

    /* plug 4 blocks: 4 mappings of one block, nothing else */
    g_assert(set_file(TRACEFS "/trace", ""));
    g_assert_cmpuint(vmem_request(&m, VIRTIO_MEM_REQ_PLUG, 0, 4), ==,
                     VIRTIO_MEM_RESP_ACK);
    io = ioctls_of(qtest_pid(qts));
    g_assert_cmpuint(io.maps, ==, 4);
    g_assert_cmpuint(io.map_failures, ==, 0);
    g_assert_cmphex(io.map_bytes, ==, 4 * m.block);
    g_assert_cmphex(io.largest, ==, m.block);
    g_assert_cmpuint(io.unmaps, ==, 0);

    /* unplug the middle two: exactly those bytes go */
    g_assert(set_file(TRACEFS "/trace", ""));
    g_assert_cmpuint(vmem_request(&m, VIRTIO_MEM_REQ_UNPLUG, 1, 2), ==,
                     VIRTIO_MEM_RESP_ACK);
    io = ioctls_of(qtest_pid(qts));
    g_assert_cmpuint(io.maps, ==, 0);
    g_assert_cmphex(io.unmap_bytes, ==, 2 * m.block);

    /* plug them again, and 2 more further on */
    g_assert(set_file(TRACEFS "/trace", ""));
    g_assert_cmpuint(vmem_request(&m, VIRTIO_MEM_REQ_PLUG, 1, 2), ==,
                     VIRTIO_MEM_RESP_ACK);
    g_assert_cmpuint(vmem_request(&m, VIRTIO_MEM_REQ_PLUG, 10, 2), ==,
                     VIRTIO_MEM_RESP_ACK);
    io = ioctls_of(qtest_pid(qts));
    g_assert_cmphex(io.map_bytes, ==, 4 * m.block);
    dma = query_dma(qts, "dev0");
    g_assert_cmpuint(qdict_get_int(dma, "refused"), ==, 0);
    qobject_unref(dma);
    vmem_stop(&m);
    qtest_quit(qts);

    /*
     * DMA_AVAIL: a new container allowed only its RAM and what the
     * legacy window may need (4 + 13, see guard/window)
     */
    limit_was = read_file(DMA_LIMIT);
    g_assert_nonnull(limit_was);
    g_assert(set_file(DMA_LIMIT, "17"));
    qts = qtest_initf(VMEM_ARGS, vfio_qtest_host("sdhci"));
    g_assert(set_file(DMA_LIMIT, limit_was));
    vmem_start(&m, qts, 5);
    dma = query_dma(qts, "dev0");
    g_test_message("mappings %" PRId64 ", DMA_AVAIL %" PRId64,
                   qdict_get_int(dma, "mappings"),
                   qdict_get_int(dma, "dma-avail"));
    g_assert_cmpint(qdict_get_int(dma, "dma-avail"), <, 16);
    qobject_unref(dma);
    g_assert(set_file(TRACEFS "/trace", ""));
    g_assert_cmpuint(vmem_request(&m, VIRTIO_MEM_REQ_PLUG, 0, 16), !=,
                     VIRTIO_MEM_RESP_ACK);
    io = ioctls_of(qtest_pid(qts));
    g_assert_cmpuint(io.maps, ==, 0);
    dma = query_dma(qts, "dev0");
    g_assert_cmpuint(qdict_get_int(dma, "refused"), ==, 1);
    qobject_unref(dma);
    vmem_stop(&m);
    qtest_quit(qts);
    probes_off();
}

/* Start a pseries guest of @size with e1000e, @threads prefault threads */
static QTestState *start_prereg(uint64_t size, unsigned threads,
                                QDict **prereg, uint64_t *prefault_bytes)
{
    QTestState *qts;
    QDict *dma;

    qts = qtest_initf("%s -m %" PRIu64 "M -nodefaults -S -device vfio-pci,"
                      "host=%s,id=dev0,addr=02.0,x-dma-prefault-threads=%u",
                      vfio_qtest_machine()->options, size / MiB,
                      vfio_qtest_host("e1000e"), threads);
    dma = query_dma(qts, "dev0");
    *prereg = qdict_get_qdict(dma, "prereg");
    qobject_ref(*prereg);
    *prefault_bytes = qdict_get_int(dma, "prefault-bytes");
    qobject_unref(dma);
    return qts;
}

static void test_prereg_prefault(void)
{
    const char *names[] = { "e1000e", NULL };
    const uint64_t size = 512 * MiB;
    int64_t ns[2], prefault_ns = 0;
    uint64_t bytes[2];
    QTestState *qts;
    QDict *p;

    if (!vfio_qtest_require(names)) {
        return;
    }
    for (int with = 0; with < 2; with++) {
        QDict *dma;

        qts = start_prereg(size, with ? 2 : 0, &p, &bytes[with]);
        if (!p) {
            g_test_skip("no preregistration: not a sPAPR TCE v2 host");
            qobject_unref(p);
            qtest_quit(qts);
            return;
        }
        g_assert_cmpint(qdict_get_int(p, "register-calls"), ==, 1);
        g_assert_cmpint(qdict_get_int(p, "registered-bytes"), ==, size);
        ns[with] = qdict_get_int(p, "register-ns");
        /* the kernel pinned and charged all of it (and its TCE tables) */
        g_assert_cmpuint(vfio_qtest_vmlck(qtest_pid(qts)), >=, size);
        if (with) {
            dma = query_dma(qts, "dev0");
            prefault_ns = qdict_get_int(dma, "prefault-ns");
            qobject_unref(dma);
        }
        qobject_unref(p);
        qtest_quit(qts);
    }
    g_test_message("REGISTER_MEMORY of %" PRIu64 " MiB: %" PRId64 " ms "
                   "alone, %" PRId64 " ms after a prefault of %" PRId64
                   " ms (2 threads)", size / MiB, ns[0] / 1000000,
                   ns[1] / 1000000, prefault_ns / 1000000);
    g_assert_cmpuint(bytes[0], ==, 0);
    g_assert_cmpuint(bytes[1], ==, size);
    /* pinning resident pages is the kernel's fast path */
    g_assert_cmpint(ns[1] * 10, <, ns[0]);
}

static void add_pin_case(const char *backing, uint64_t size, bool upstream)
{
    PinCase *c = g_new0(PinCase, 1);
    g_autofree char *path = NULL;

    c->backing = backing;
    c->size = size;
    c->upstream = upstream;
    path = g_strdup_printf("/vfio/dma/pin-once/%s/%s-%" PRIu64 "m",
                           upstream ? "upstream" : "ours", backing,
                           size / MiB);
    qtest_add_data_func_full(path, c, test_pin_once, g_free);
}

int main(int argc, char **argv)
{
    const char *env = g_getenv("VFIO_DMA_SIZES");
    g_auto(GStrv) sizes = g_strsplit(env ? env : "512M", ",", -1);

    g_test_init(&argc, &argv, NULL);
    if (!strcmp(qtest_get_arch(), "ppc64")) {
        qtest_add_func("/vfio/dma/spapr/prereg-prefault",
                       test_prereg_prefault);
        return g_test_run();
    }
    for (int i = 0; sizes[i]; i++) {
        uint64_t size = g_ascii_strtoull(sizes[i], NULL, 10) *
                        (strchr(sizes[i], 'G') ? GiB : MiB);

        add_pin_case("anon", size, false);
        add_pin_case("thp", size, false);
        add_pin_case("hugetlbfs", size, false);
    }
    add_pin_case("anon", 512 * MiB, true);
    qtest_add_func("/vfio/dma/dma-avail", test_dma_avail);
    qtest_add_func("/vfio/dma/rollback", test_rollback);
    qtest_add_func("/vfio/dma/virtio-mem", test_virtio_mem);
    qtest_add_func("/vfio/dma/guard/window", test_guard_window);
    qtest_add_func("/vfio/dma/guard/dimm-after", test_guard_dimm_after);
    qtest_add_func("/vfio/dma/guard/hotplug-memlock",
                   test_guard_hotplug_memlock);
    qtest_add_func("/vfio/dma/guard/runtime-stop", test_guard_runtime_stop);
    qtest_add_func("/vfio/dma/async/gate", test_async_gate);
    qtest_add_func("/vfio/dma/async/reset", test_async_reset);
    qtest_add_func("/vfio/dma/async/peer-bar", test_async_peer_bar);
    qtest_add_func("/vfio/dma/async/hotplug-fits", test_async_hotplug_fits);
    qtest_add_func("/vfio/dma/async/failure", test_async_failure);
    qtest_add_func("/vfio/dma/async/unplug", test_async_unplug);
    qtest_add_func("/vfio/dma/async/dirty-tracking",
                   test_async_dirty_tracking);
    return g_test_run();
}
