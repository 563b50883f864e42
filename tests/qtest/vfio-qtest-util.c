/*
 * Helpers for vfio-direct's qtests
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/socket.h>
#include <sys/un.h>
#include "qemu/bswap.h"
#include "qobject/qlist.h"
#include "libqos/pci-pc.h"
#include "libqos/pci-spapr.h"
#include "libqos/malloc-spapr.h"
#include "ppc-util.h"
#include "vfio-host.h"
#include "vfio-qtest-util.h"

static const VFIOQtestMachine vfio_qtest_machines[] = {
    {
        .arch = "x86_64",
        .options = "-M q35 -m 64M",
    }, {
        /* The PHB shows bus addresses 2-4 GiB at 0x200080000000 */
        .arch = "ppc64",
        .options = "-M pseries," PSERIES_DEFAULT_CAPABILITIES " -m 256M",
        .mem_cpu_offset = 1ULL << 45,
    },
};

const VFIOQtestMachine *vfio_qtest_machine(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(vfio_qtest_machines); i++) {
        if (!strcmp(qtest_get_arch(), vfio_qtest_machines[i].arch)) {
            return &vfio_qtest_machines[i];
        }
    }
    return NULL;
}

static bool vfio_qtest_is_pseries(void)
{
    return !strcmp(qtest_get_arch(), "ppc64");
}

QPCIBus *vfio_qtest_pci_bus(QTestState *qts, QGuestAllocator *alloc)
{
    if (vfio_qtest_is_pseries()) {
        spapr_alloc_init(alloc, qts, ALLOC_NO_FLAGS);
        return qpci_new_spapr(qts, alloc);
    }
    return qpci_new_pc(qts, NULL);
}

void vfio_qtest_pci_bus_free(QPCIBus *bus, QGuestAllocator *alloc)
{
    if (vfio_qtest_is_pseries()) {
        qpci_free_spapr(bus);
        alloc_destroy(alloc);
    } else {
        qpci_free_pc(bus);
    }
}

uint64_t vfio_qtest_cpu_address(uint64_t addr)
{
    return addr + vfio_qtest_machine()->mem_cpu_offset;
}

uint32_t vfio_qtest_mmio_readl(QTestState *qts, uint64_t addr)
{
    uint32_t val = qtest_readl(qts, vfio_qtest_cpu_address(addr));

    return qtest_big_endian(qts) ? bswap32(val) : val;
}

void vfio_qtest_mmio_writel(QTestState *qts, uint64_t addr, uint32_t val)
{
    qtest_writel(qts, vfio_qtest_cpu_address(addr),
                 qtest_big_endian(qts) ? bswap32(val) : val);
}

const char *vfio_qtest_host(const char *name)
{
    static GHashTable *devices;

    if (!devices) {
        const char *env = g_getenv("VFIO_DIRECT_DEVICES");
        g_auto(GStrv) pairs = g_strsplit(env ? env : "", " ", -1);

        devices = g_hash_table_new_full(g_str_hash, g_str_equal,
                                        g_free, g_free);
        for (int i = 0; pairs[i]; i++) {
            char *eq = strchr(pairs[i], '=');

            if (eq) {
                g_hash_table_insert(devices,
                                    g_strndup(pairs[i], eq - pairs[i]),
                                    g_strdup(eq + 1));
            }
        }
    }
    return g_hash_table_lookup(devices, name);
}

bool vfio_qtest_require(const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        if (!vfio_qtest_host(names[i])) {
            g_autofree char *msg =
                g_strdup_printf("%s is not bound to vfio-pci "
                                "(run in the test bed: make check-system)",
                                names[i]);
            g_test_skip(msg);
            return false;
        }
    }
    return true;
}

QDict *vfio_qtest_device(QTestState *qts, const char *id)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'x-query-vfio' }");
    QList *devices = qdict_get_qlist(rsp, "return");
    QDict *found = NULL;
    QListEntry *e;

    g_assert(devices);
    QLIST_FOREACH_ENTRY(devices, e) {
        QDict *dev = qobject_to(QDict, qlist_entry_obj(e));

        if (!g_strcmp0(qdict_get_try_str(dev, "id"), id)) {
            found = dev;
            qobject_ref(found);
        }
    }
    qobject_unref(rsp);
    g_assert_nonnull(found);
    return found;
}

static QDict *device_bar(QDict *dev, int bar)
{
    QListEntry *b;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(dev, "bars"), b) {
        QDict *info = qobject_to(QDict, qlist_entry_obj(b));

        if (qdict_get_int(info, "index") == bar) {
            qobject_ref(info);
            return info;
        }
    }
    g_assert_not_reached();
}

QDict *vfio_qtest_bar(QTestState *qts, const char *id, int bar)
{
    QDict *dev = vfio_qtest_device(qts, id);
    QDict *found = device_bar(dev, bar);

    qobject_unref(dev);
    return found;
}

QDict *vfio_qtest_msix(QTestState *qts, const char *id)
{
    return vfio_qtest_device_member(qts, id, "msix");
}

QDict *vfio_qtest_device_member(QTestState *qts, const char *id,
                                const char *member)
{
    QDict *dev = vfio_qtest_device(qts, id);
    QDict *found = qdict_get_qdict(dev, member);

    if (found) {
        qobject_ref(found);
    }
    qobject_unref(dev);
    return found;
}

bool vfio_qtest_region_has_cap(QTestState *qts, const char *id, int index,
                               const char *cap, uint32_t *flags)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'x-query-vfio' }");
    QListEntry *e, *r, *c;
    bool found = false;

    *flags = 0;
    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *dev = qobject_to(QDict, qlist_entry_obj(e));

        if (g_strcmp0(qdict_get_try_str(dev, "id"), id)) {
            continue;
        }
        QLIST_FOREACH_ENTRY(qdict_get_qlist(dev, "regions"), r) {
            QDict *region = qobject_to(QDict, qlist_entry_obj(r));

            if (qdict_get_int(region, "index") != index) {
                continue;
            }
            *flags = qdict_get_int(region, "flags");
            QLIST_FOREACH_ENTRY(qdict_get_qlist(region, "caps"), c) {
                QDict *info = qobject_to(QDict, qlist_entry_obj(c));

                found |= !strcmp(qdict_get_str(info, "type"), cap);
            }
        }
    }
    qobject_unref(rsp);
    return found;
}

const char *vfio_qtest_range_at(QDict *bar_info, uint64_t offset)
{
    QListEntry *e;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(bar_info, "ranges"), e) {
        QDict *range = qobject_to(QDict, qlist_entry_obj(e));
        uint64_t start = qdict_get_int(range, "offset");
        uint64_t size = qdict_get_int(range, "size");

        if (offset >= start && offset - start < size) {
            if (!strcmp(qdict_get_str(range, "kind"), "direct")) {
                return "direct";
            }
            return qdict_get_str(range, "reason");
        }
    }
    return "none";
}

static uint64_t trapped_reads(QTestState *qts, const char *id, int nr)
{
    QDict *bar = vfio_qtest_bar(qts, id, nr);
    uint64_t n = qdict_get_int(bar, "trapped-reads");

    qobject_unref(bar);
    return n;
}

/* A read at @offset of @id's BAR @nr (bus address @addr) is as @reason says */
static void assert_read_true(QTestState *qts, const char *id, int nr,
                             uint64_t addr, uint64_t offset,
                             const char *reason, const char *bdf,
                             uint64_t hidden, uint64_t hidden_size)
{
    bool counted = !strcmp(reason, "device-fd") || !strcmp(reason, "mmap") ||
                   !strcmp(reason, "padding");
    uint64_t reads = trapped_reads(qts, id, nr);
    uint32_t got, want;

    vfio_qtest_mmio_readl(qts, addr + offset);
    reads = trapped_reads(qts, id, nr) - reads;
    if (reads != counted) {
        g_test_message("%s BAR %d: a read at +0x%" PRIx64 " (%s)", id, nr,
                       offset, reason);
        g_assert_cmpuint(reads, ==, counted);
    }
    if (g_str_has_prefix(reason, "msix-") || !strcmp(reason, "padding")) {
        return;
    }
    got = vfio_qtest_mmio_readl(qts, addr + offset);
    if (!strcmp(reason, "device-fd") && offset >= hidden &&
        offset - hidden < hidden_size) {
        want = 0xffffffff;
    } else {
        want = vfio_qtest_sysfs_bar_read(bdf, nr, offset, 4);
    }
    if (got != want) {
        g_test_message("%s BAR %d +0x%" PRIx64 " (%s)", id, nr, offset,
                       reason);
        g_assert_cmphex(got, ==, want);
    }
}

void vfio_qtest_assert_ranges(QTestState *qts, const char *id, int nr,
                              const char *bdf, uint64_t hidden,
                              uint64_t hidden_size)
{
    QDict *dev = vfio_qtest_device(qts, id);
    QDict *bar = device_bar(dev, nr);
    uint64_t page = qdict_get_int(dev, "host-page-size");
    uint64_t size = qdict_get_int(bar, "size");
    uint64_t addr = qdict_get_int(bar, "address");
    uint64_t cpu = qdict_get_int(bar, "cpu-address");
    uint64_t at = 0;
    QListEntry *e;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(bar, "ranges"), e) {
        QDict *range = qobject_to(QDict, qlist_entry_obj(e));
        uint64_t offset = qdict_get_int(range, "offset");
        uint64_t len = qdict_get_int(range, "size");
        bool direct = !strcmp(qdict_get_str(range, "kind"), "direct");

        /* From 0 without a gap; a trapped range says why */
        g_assert_cmphex(offset, ==, at);
        g_assert_true(direct || qdict_haskey(range, "reason"));
        /* KVM maps whole host pages: a direct range is made of them */
        if (direct) {
            g_assert_cmphex((cpu + offset) % page, ==, 0);
            g_assert_cmphex(len % page, ==, 0);
        }
        at += len;
    }
    g_assert_cmphex(at, >=, size);

    QLIST_FOREACH_ENTRY(qdict_get_qlist(bar, "ranges"), e) {
        QDict *range = qobject_to(QDict, qlist_entry_obj(e));
        uint64_t offset = qdict_get_int(range, "offset");
        uint64_t end = MIN(offset + qdict_get_int(range, "size"), size);
        const char *reason = qdict_haskey(range, "reason") ?
                             qdict_get_str(range, "reason") : "direct";

        if (offset >= size) {
            continue;
        }
        /* Its first register, and its last one in the BAR */
        assert_read_true(qts, id, nr, addr, offset, reason, bdf, hidden,
                         hidden_size);
        if (end - offset >= 8) {
            assert_read_true(qts, id, nr, addr, end - 4, reason, bdf, hidden,
                             hidden_size);
        }
    }
    qobject_unref(bar);
    qobject_unref(dev);
}

bool vfio_qtest_sysfs_bar(const char *bdf, int bar, uint64_t *start,
                          uint64_t *size)
{
    uint64_t flags;

    return vfio_host_sysfs_resource(bdf, bar, start, size, &flags) &&
           (flags & VFIO_HOST_IORESOURCE_MEM);
}

uint32_t vfio_qtest_sysfs_bar_read(const char *bdf, int bar, uint64_t offset,
                                   unsigned size)
{
    uint32_t val;

    if (!vfio_host_sysfs_bar_read(bdf, bar, offset, size, &val)) {
        g_error("reading %s BAR %d +0x%" PRIx64 " through sysfs: %s",
                bdf, bar, offset, strerror(errno));
    }
    return val;
}

/*
 * Parse one line of "info mtree -f", tracking in *@in_memory whether it
 * is in the flat view of the "memory" address space.  Section lines look
 * like "  START-END (prio 1, ramd): NAME @OFFSET" (hexadecimal, 16 digits
 * each) where " @OFFSET", the offset in the region, is printed when not
 * zero.  True, with *@fs filled (free its name), for a section line.
 */
static bool flat_line_parse(const char *line, bool *in_memory,
                            VFIOQtestSection *fs)
{
    const char *name, *at;
    int prio, n = 0;

    if (g_str_has_prefix(line, "FlatView ")) {
        *in_memory = false;
    } else if (strstr(line, " AS \"memory\",")) {
        *in_memory = true;
    }
    if (!*in_memory ||
        sscanf(line, " %" SCNx64 "-%" SCNx64 " (prio %d, %15[^)]): %n",
               &fs->start, &fs->end, &prio, fs->type, &n) < 4 || !n) {
        return false;
    }
    name = line + n;
    at = strstr(name, " @");
    fs->offset = at ? g_ascii_strtoull(at + 2, NULL, 16) : 0;
    fs->name = at ? g_strndup(name, at - name) : g_strdup(name);
    g_strchomp(fs->name);
    return true;
}

GArray *vfio_qtest_flat_view(QTestState *qts)
{
    g_autofree char *out = qtest_hmp(qts, "info mtree -f");
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    GArray *sections = g_array_new(false, false, sizeof(VFIOQtestSection));
    bool in_memory = false;

    for (int i = 0; lines[i]; i++) {
        VFIOQtestSection fs;

        if (flat_line_parse(lines[i], &in_memory, &fs)) {
            g_array_append_val(sections, fs);
        }
    }
    return sections;
}

void vfio_qtest_flat_view_free(GArray *sections)
{
    for (guint i = 0; i < sections->len; i++) {
        g_free(g_array_index(sections, VFIOQtestSection, i).name);
    }
    g_array_free(sections, true);
}

bool vfio_qtest_section_direct_page(const VFIOQtestSection *s,
                                    uint64_t *page)
{
    uint64_t size = qemu_real_host_page_size();
    uint64_t first = ROUND_UP(s->start, size);

    /* The page and its offset in the region must both be aligned */
    if ((strcmp(s->type, "ram") && strcmp(s->type, "ramd")) ||
        (s->offset - s->start) % size || first < s->start ||
        first + size - 1 > s->end) {
        return false;
    }
    *page = first;
    return true;
}

/* Find the section holding @addr in the flat view of "memory". */
static bool flat_section_at(QTestState *qts, uint64_t addr,
                            VFIOQtestSection *fs)
{
    GArray *sections = vfio_qtest_flat_view(qts);
    bool found = false;

    for (guint i = 0; i < sections->len && !found; i++) {
        VFIOQtestSection *s = &g_array_index(sections, VFIOQtestSection, i);

        if (addr >= s->start && addr <= s->end) {
            *fs = *s;
            fs->name = g_strdup(s->name);
            found = true;
        }
    }
    vfio_qtest_flat_view_free(sections);
    return found;
}

char *vfio_qtest_flat_section(QTestState *qts, uint64_t addr,
                              uint64_t *start, uint64_t *end)
{
    VFIOQtestSection fs;

    if (!flat_section_at(qts, addr, &fs)) {
        return NULL;
    }
    *start = fs.start;
    *end = fs.end;
    return fs.name;
}

bool vfio_qtest_page_is_direct(QTestState *qts, uint64_t addr)
{
    uint64_t page = qemu_real_host_page_size();
    uint64_t base = QEMU_ALIGN_DOWN(addr, page);
    VFIOQtestSection fs;
    bool direct;

    if (!flat_section_at(qts, base, &fs)) {
        return false;
    }
    direct = (!strcmp(fs.type, "ram") || !strcmp(fs.type, "ramd")) &&
             fs.start <= base && fs.end >= base + page - 1 &&
             (fs.offset + base - fs.start) % page == 0;
    g_free(fs.name);
    return direct;
}

char *vfio_qtest_listener_ram(const char *log, uint64_t addr, int *count)
{
    g_autofree char *out = NULL;
    g_autofree char *needle = g_strdup_printf("region_add [ram] 0x%" PRIx64
                                              " - ", addr);
    const char *at, *last = NULL;
    int n = 0;

    g_assert_true(g_file_get_contents(log, &out, NULL, NULL));
    for (at = strstr(out, needle); at; at = strstr(at + 1, needle)) {
        last = at;
        n++;
    }
    if (count) {
        *count = n;
    }
    /* "region_add [ram] 0xSTART - 0xEND [0xVADDR]" */
    last = last ? strchr(last + strlen(needle), '[') : NULL;
    return last ? g_strndup(last, strcspn(last, "]\n") + 1) : NULL;
}

int vfio_qtest_socket(void)
{
    g_autofree char *path = g_strdup_printf("%s/qtest-%d.sock",
                                            g_get_tmp_dir(), getpid());
    g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
    const char *name;

    g_assert_nonnull(dir);
    while ((name = g_dir_read_name(dir))) {
        struct sockaddr_un addr;
        socklen_t len = sizeof(addr);
        int fd = atoi(name), listening = 1;
        socklen_t optlen = sizeof(listening);

        /* The connection, not the socket libqtest listened on */
        if (!getsockname(fd, (struct sockaddr *)&addr, &len) &&
            addr.sun_family == AF_UNIX && !strcmp(addr.sun_path, path) &&
            !getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
                        &optlen) && !listening) {
            return fd;
        }
    }
    return -1;
}

char **vfio_qtest_batch(int fd, const GString *commands, int n)
{
    g_autoptr(GString) in = g_string_new(NULL);
    char buf[4096];
    int lines = 0;

    if (!n) {
        return g_new0(char *, 1);
    }
    g_assert_cmpint(qemu_write_full(fd, commands->str, commands->len), ==,
                    commands->len);
    while (lines < n) {
        ssize_t got = read(fd, buf, sizeof(buf));

        g_assert_cmpint(got, >, 0);
        for (ssize_t i = 0; i < got; i++) {
            lines += buf[i] == '\n';
        }
        g_string_append_len(in, buf, got);
    }
    g_assert_cmpint(lines, ==, n);
    g_string_truncate(in, in->len - 1);
    return g_strsplit(in->str, "\n", -1);
}

int vfio_qtest_vfio_fds(pid_t pid)
{
    g_autofree char *dir_path = g_strdup_printf("/proc/%d/fd", pid);
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    const char *name;
    int n = 0;

    g_assert_nonnull(dir);
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *link = g_build_filename(dir_path, name, NULL);
        g_autofree char *target = g_file_read_link(link, NULL);

        if (target && (g_str_has_prefix(target, "/dev/vfio/") ||
                       strstr(target, "[vfio-device]"))) {
            n++;
        }
    }
    return n;
}

uint64_t vfio_qtest_vmlck(pid_t pid)
{
    int64_t locked = vfio_host_vmlck(pid);

    g_assert_cmpint(locked, >=, 0);
    return locked;
}
