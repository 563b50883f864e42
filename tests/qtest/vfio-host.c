/*
 * vfio-host - the host side of a device bound to vfio-pci, for tests
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include "vfio-host.h"

/* PCI config space (include/uapi/linux/pci_regs.h) */
#define CFG_STATUS 0x06
#define CFG_STATUS_CAP_LIST 0x10
#define CFG_CAPABILITY_LIST 0x34
#define CFG_CAP_ID_MSIX 0x11
#define CFG_MSIX_SIZEOF 12

int vfio_host_group_of(const char *bdf)
{
    char path[256], link[256];
    const char *slash;
    ssize_t n;

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
    n = readlink(path, link, sizeof(link) - 1);
    if (n < 0) {
        return -1;
    }
    link[n] = '\0';
    slash = strrchr(link, '/');
    return atoi(slash ? slash + 1 : link);
}

static bool group_fail(VFIOHostGroup *g, const char *step, int err)
{
    g->failed = step;
    g->err = errno = err;
    return false;
}

bool vfio_host_group_open(VFIOHostGroup *g, int num)
{
    return vfio_host_group_join(g, num, NULL);
}

bool vfio_host_group_join(VFIOHostGroup *g, int num, const VFIOHostGroup *peer)
{
    struct vfio_group_status status = { .argsz = sizeof(status) };
    char path[64];

    *g = (VFIOHostGroup) { .num = num, .fd = -1, .container = -1 };
    if (peer) {
        g->container = peer->container;
        g->iommu_type = peer->iommu_type;
    } else {
        g->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
        if (g->container < 0) {
            return group_fail(g, "open /dev/vfio/vfio", errno);
        }
        if (ioctl(g->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
            return group_fail(g, "VFIO_GET_API_VERSION", EPROTO);
        }
    }
    snprintf(path, sizeof(path), "/dev/vfio/%d", num);
    g->fd = open(path, O_RDWR | O_CLOEXEC);
    if (g->fd < 0) {
        return group_fail(g, "open group", errno);
    }
    if (ioctl(g->fd, VFIO_GROUP_GET_STATUS, &status) < 0) {
        return group_fail(g, "VFIO_GROUP_GET_STATUS", errno);
    }
    if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        return group_fail(g, "group not viable (bind every device of the "
                          "group to vfio-pci)", EBUSY);
    }
    if (ioctl(g->fd, VFIO_GROUP_SET_CONTAINER, &g->container) < 0) {
        return group_fail(g, "VFIO_GROUP_SET_CONTAINER", errno);
    }
    if (peer) {
        return true;
    }
    if (ioctl(g->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0) {
        g->iommu_type = VFIO_TYPE1v2_IOMMU;
    } else if (ioctl(g->container, VFIO_CHECK_EXTENSION,
                     VFIO_SPAPR_TCE_v2_IOMMU) > 0) {
        g->iommu_type = VFIO_SPAPR_TCE_v2_IOMMU;
    } else {
        return group_fail(g, "no TYPE1v2 or SPAPR_TCE_v2 IOMMU", ENODEV);
    }
    if (ioctl(g->container, VFIO_SET_IOMMU, g->iommu_type) < 0) {
        g->iommu_type = 0;
        return group_fail(g, "VFIO_SET_IOMMU", errno);
    }
    return true;
}

void vfio_host_group_close(VFIOHostGroup *g)
{
    if (g->fd >= 0) {
        close(g->fd);
    }
    if (g->container >= 0) {
        close(g->container);
    }
    g->fd = g->container = -1;
}

int vfio_host_device_open(VFIOHostGroup *g, const char *bdf)
{
    return ioctl(g->fd, VFIO_GROUP_GET_DEVICE_FD, bdf);
}

void *vfio_host_get_info(int fd, unsigned long req, const void *tmpl,
                         size_t minsz)
{
    uint32_t argsz = minsz;
    void *buf = NULL;

    for (;;) {
        void *p = realloc(buf, argsz);
        int err;

        if (!p) {
            free(buf);
            errno = ENOMEM;
            return NULL;
        }
        buf = p;
        memset(buf, 0, argsz);
        memcpy(buf, tmpl, minsz);
        *(uint32_t *)buf = argsz;
        if (ioctl(fd, req, buf) < 0) {
            err = errno;
            free(buf);
            errno = err;
            return NULL;
        }
        if (*(uint32_t *)buf <= argsz) {
            return buf;
        }
        argsz = *(uint32_t *)buf;
    }
}

struct vfio_region_info *vfio_host_region_info(int devfd, uint32_t index)
{
    struct vfio_region_info tmpl = { .index = index };

    return vfio_host_get_info(devfd, VFIO_DEVICE_GET_REGION_INFO, &tmpl,
                              sizeof(tmpl));
}

struct vfio_info_cap_header *vfio_host_cap_next(void *info, uint32_t argsz,
                                                uint32_t *offset,
                                                unsigned *hops)
{
    struct vfio_info_cap_header *hdr;

    if (!*offset || *hops >= VFIO_HOST_MAX_CAPS ||
        *offset > argsz || argsz - *offset < sizeof(*hdr)) {
        return NULL;
    }
    hdr = (void *)((char *)info + *offset);
    *offset = hdr->next;
    ++*hops;
    return hdr;
}

struct vfio_info_cap_header *vfio_host_cap_find(void *info, uint32_t argsz,
                                                uint32_t offset, uint16_t id)
{
    struct vfio_info_cap_header *hdr;
    unsigned hops = 0;

    while ((hdr = vfio_host_cap_next(info, argsz, &offset, &hops))) {
        if (hdr->id == id) {
            return hdr;
        }
    }
    return NULL;
}

bool vfio_host_sysfs_resource(const char *bdf, int bar, uint64_t *start,
                              uint64_t *size, uint64_t *flags)
{
    char path[256], line[128];
    uint64_t end = 0;
    bool ok = false;
    FILE *f;

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
    f = fopen(path, "r");
    if (!f) {
        return false;
    }
    for (int i = 0; fgets(line, sizeof(line), f); i++) {
        if (i == bar) {
            ok = sscanf(line, "%" SCNx64 " %" SCNx64 " %" SCNx64,
                        start, &end, flags) == 3;
            break;
        }
    }
    fclose(f);
    if (!ok || end <= *start) {
        errno = ENOENT;
        return false;
    }
    *size = end - *start + 1;
    return true;
}

bool vfio_host_sysfs_bar_read(const char *bdf, int bar, uint64_t offset,
                              unsigned size, uint32_t *val)
{
    /* Plain libc: the probes have no qemu_real_host_page_size() */
    uint64_t page = sysconf(_SC_PAGESIZE), start, bar_size, flags, base;
    char path[256];
    /* volatile: one load of the access size, never merged or split */
    volatile uint8_t *p;
    uint8_t *map;
    int fd, err;

    if (!vfio_host_sysfs_resource(bdf, bar, &start, &bar_size, &flags) ||
        !(flags & VFIO_HOST_IORESOURCE_MEM) || offset + size > bar_size ||
        (size != 1 && size != 2 && size != 4)) {
        errno = EINVAL;
        return false;
    }
    /* The mapping starts at the host page that holds the BAR. */
    offset += start % page;
    base = offset - offset % page;
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d",
             bdf, bar);
    fd = open(path, O_RDONLY | O_SYNC);
    if (fd < 0) {
        return false;
    }
    map = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, base);
    err = errno;
    close(fd);
    if (map == MAP_FAILED) {
        errno = err;
        return false;
    }
    p = map + offset - base;
    switch (size) {
    case 1:
        *val = p[0];
        break;
    case 2:
        *val = le16toh(*(volatile uint16_t *)p); /* one load, as above */
        break;
    default:
        *val = le32toh(*(volatile uint32_t *)p); /* one load, as above */
        break;
    }
    munmap(map, page);
    return true;
}

static ssize_t read_file(const char *path, off_t at, uint8_t *buf,
                         size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    int err;

    if (fd < 0) {
        return -1;
    }
    n = pread(fd, buf, len, at);
    err = errno;
    close(fd);
    errno = err;
    return n;
}

ssize_t vfio_host_sysfs_config(const char *bdf, uint8_t *buf, size_t len)
{
    char path[256];

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
    return read_file(path, 0, buf, len);
}

ssize_t vfio_host_device_config(int devfd, uint8_t *buf, size_t len)
{
    struct vfio_region_info cfg = {
        .argsz = sizeof(cfg),
        .index = VFIO_PCI_CONFIG_REGION_INDEX,
    };

    if (ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &cfg) < 0) {
        return -1;
    }
    return pread(devfd, buf, len, cfg.offset);
}

static uint32_t cfg_le32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

bool vfio_host_msix(const uint8_t *cfg, size_t len, VFIOHostMsix *msix)
{
    unsigned pos, hops;

    memset(msix, 0, sizeof(*msix));
    msix->table_bar = msix->pba_bar = -1;
    if (len <= CFG_CAPABILITY_LIST ||
        !(cfg[CFG_STATUS] & CFG_STATUS_CAP_LIST)) {
        return false;
    }
    for (pos = cfg[CFG_CAPABILITY_LIST] & ~3u, hops = 0;
         pos >= 0x40 && pos + CFG_MSIX_SIZEOF <= len && hops < 48;
         pos = cfg[pos + 1] & ~3u, hops++) {
        if (cfg[pos] == CFG_CAP_ID_MSIX) {
            uint32_t table = cfg_le32(cfg + pos + 4);
            uint32_t pba = cfg_le32(cfg + pos + 8);

            msix->pos = pos;
            msix->control = cfg[pos + 2] | cfg[pos + 3] << 8;
            msix->entries = (msix->control & 0x7ff) + 1;
            msix->table_bar = table & 7;
            msix->table_offset = table & ~7u;
            msix->table_size = msix->entries * 16;
            msix->pba_bar = pba & 7;
            msix->pba_offset = pba & ~7u;
            msix->pba_size = (msix->entries + 63) / 64 * 8;
            return true;
        }
    }
    return false;
}

int64_t vfio_host_vmlck(pid_t pid)
{
    char path[64], line[256];
    int64_t kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmLck: %" SCNd64, &kib) == 1) {
            break;
        }
    }
    fclose(f);
    if (kib < 0) {
        errno = ENOENT;
        return -1;
    }
    return kib * 1024;
}
