/*
 * l2-drc.c - the guest's side of sPAPR PCI hot plug, for a busybox L2.
 *
 *   l2-drc
 *
 * Runs in the pseries L2 of the libvirt test (tests/demo/l2-init.sh,
 * l2.mode=idle) and does what powerpc-utils' rtas_errd and drmgr do on a
 * full distribution: it reads the RTAS event logs the kernel queues on
 * /proc/powerpc/rtas/error_log (Linux leaves PCI hot-plug events to user
 * space) and acts on each PCI hot-plug request, named by DRC index:
 *
 *   remove: remove the PCI functions whose device-tree node carries that
 *           ibm,my-drc-index, drop the node ("dt remove" to
 *           /sys/kernel/dlpar) and isolate the connector (RTAS
 *           set-indicator 9001 = 0), which is what lets QEMU release and
 *           unrealize the device;
 *   add:    unisolate the connector, have the kernel fetch the node
 *           through ibm,configure-connector ("dt add") and rescan PCI, so
 *           the guest's driver binds and the BARs get addresses.
 *
 * Prints one line per request on stdout:
 *
 *   L2-DRC remove 0xINDEX ok|failed: WHAT
 *   L2-DRC add 0xINDEX ok BDF DRIVER|failed: WHAT
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ERROR_LOG       "/proc/powerpc/rtas/error_log"
#define ISOLATION_STATE 9001
#define ISOLATE         0
#define UNISOLATE       1
#define HP_TYPE_PCI     5
#define HP_ACTION_ADD   1
#define HP_ACTION_REMOVE 2
#define HP_ID_DRC_INDEX 2

/* struct rtas_args of the rtas system call: big-endian fields */
struct rtas_args {
    uint32_t token, nargs, nret;
    uint32_t args[16];
    uint64_t rets;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static int read_be32(const char *path, uint32_t *val)
{
    uint8_t b[4];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    if (fd < 0) {
        return -1;
    }
    n = read(fd, b, 4);
    close(fd);
    if (n != 4) {
        return -1;
    }
    *val = be32(b);
    return 0;
}

static int set_indicator(uint32_t index, uint32_t state)
{
    struct rtas_args a = { 0 };
    uint32_t token;

    if (read_be32("/proc/device-tree/rtas/set-indicator", &token)) {
        return -1;
    }
    a.token = htobe32(token);
    a.nargs = htobe32(3);
    a.nret = htobe32(1);
    a.args[0] = htobe32(ISOLATION_STATE);
    a.args[1] = htobe32(index);
    a.args[2] = htobe32(state);
    if (syscall(SYS_rtas, &a)) {
        return -1;
    }
    return be32toh(a.args[3]) == 0 ? 0 : -1;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    ssize_t n;

    if (fd < 0) {
        return -1;
    }
    n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Remove the PCI functions whose node has ibm,my-drc-index @index */
static int remove_functions(uint32_t index)
{
    DIR *d = opendir("/sys/bus/pci/devices");
    struct dirent *e;
    char path[512];
    uint32_t v;
    int found = 0;

    if (!d) {
        return -1;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path),
                 "/sys/bus/pci/devices/%s/of_node/ibm,my-drc-index", e->d_name);
        if (read_be32(path, &v) || v != index) {
            continue;
        }
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove",
                 e->d_name);
        if (write_file(path, "1") == 0) {
            found++;
        }
    }
    closedir(d);
    return found ? 0 : -1;
}

/* The driver bound to the PCI function of DRC @index, after a rescan */
static void bound_driver(uint32_t index, char *drv, size_t len)
{
    char path[512], link[512];
    struct dirent *e;
    uint32_t v;

    snprintf(drv, len, "none");
    for (int i = 0; i < 50; i++) {
        DIR *d = opendir("/sys/bus/pci/devices");

        while (d && (e = readdir(d))) {
            ssize_t n;

            snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/of_node/"
                     "ibm,my-drc-index", e->d_name);
            if (e->d_name[0] == '.' || read_be32(path, &v) || v != index) {
                continue;
            }
            snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver",
                     e->d_name);
            n = readlink(path, link, sizeof(link) - 1);
            if (n > 0) {
                link[n] = 0;
                snprintf(drv, len, "%s %s", e->d_name, strrchr(link, '/') + 1);
                closedir(d);
                return;
            }
        }
        if (d) {
            closedir(d);
        }
        usleep(100 * 1000);
    }
}

static void act(int action, uint32_t index)
{
    char cmd[64], drv[600] = "";
    const char *what = NULL;

    if (action == HP_ACTION_REMOVE) {
        snprintf(cmd, sizeof(cmd), "dt remove index 0x%x", index);
        if (remove_functions(index)) {
            what = "no PCI function with that DRC";
        } else if (write_file("/sys/kernel/dlpar", cmd)) {
            what = "dt remove";
        } else if (set_indicator(index, ISOLATE)) {
            what = "set-indicator isolate";
        }
    } else {
        snprintf(cmd, sizeof(cmd), "dt add index 0x%x", index);
        if (set_indicator(index, UNISOLATE)) {
            what = "set-indicator unisolate";
        } else if (write_file("/sys/kernel/dlpar", cmd)) {
            what = "dt add";
        } else if (write_file("/sys/bus/pci/rescan", "1")) {
            what = "PCI rescan";
        } else {
            bound_driver(index, drv, sizeof(drv));
        }
    }
    printf("L2-DRC %s 0x%x %s%s%s%s\n",
           action == HP_ACTION_ADD ? "add" : "remove", index,
           what ? "failed: " : "ok", what ? what : "", *drv ? " " : "", drv);
    fflush(stdout);
}

/*
 * One event log as rtas_log_read() returns it: a sequence number, the
 * 8-byte fixed part, the 16-byte v6 extended header, then sections
 * (id, length, version, subtype, creator), the hot-plug one "HP".
 */
static void parse(const uint8_t *buf, size_t len)
{
    size_t off = 4 + 8 + 16;

    while (off + 16 <= len) {
        unsigned slen = buf[off + 2] << 8 | buf[off + 3];

        if (buf[off] == 'H' && buf[off + 1] == 'P') {
            const uint8_t *hp = buf + off + 8;

            if (hp[0] == HP_TYPE_PCI && hp[2] == HP_ID_DRC_INDEX &&
                (hp[1] == HP_ACTION_ADD || hp[1] == HP_ACTION_REMOVE)) {
                act(hp[1], be32(hp + 4));
            } else {
                printf("L2-DRC ignored: hot-plug type %u action %u id %u\n",
                       hp[0], hp[1], hp[2]);
            }
            return;
        }
        if (slen < 8) {
            break;
        }
        off += slen;
    }
    printf("L2-DRC ignored: a %zu-byte event log without hot-plug section\n",
           len);
}

int main(void)
{
    static uint8_t buf[65536];
    int fd = open(ERROR_LOG, O_RDONLY);

    if (fd < 0) {
        printf("L2-DRC failed: %s: %s\n", ERROR_LOG, strerror(errno));
        return 1;
    }
    printf("L2-DRC listening\n");
    fflush(stdout);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            printf("L2-DRC failed: read %s: %s\n", ERROR_LOG,
                   n ? strerror(errno) : "end of file");
            return 1;
        }
        parse(buf, n);
        fflush(stdout);
    }
}
