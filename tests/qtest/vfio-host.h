/*
 * vfio-host - the host side of a device bound to vfio-pci, for tests
 *
 * What the tests read about a host device without QEMU, as oracles:
 * its IOMMU group, a container and device fd of its own, region info
 * and capability chains, where the host kernel placed its BARs and
 * their registers (sysfs), its MSI-X capability, and the memory the
 * kernel holds locked for a process.  Plain libc, no GLib and no QEMU
 * headers: QEMU's build links it into the vfio qtests (with
 * vfio-qtest-util.c), and the test bed compiles it statically into its
 * probes (tests/testbed/vfio-probe.c, tests/kernel/vfio-kcheck.c), for
 * x86_64 and ppc64le.  Nothing here prints or exits: a function that
 * fails returns false, -1 or NULL with errno set.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_VFIO_HOST_H
#define TESTS_QTEST_VFIO_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/vfio.h>

/* Longest capability chain walked (region info, PCI config space) */
#define VFIO_HOST_MAX_CAPS 64

/* include/linux/ioport.h, as /sys/bus/pci/devices/BDF/resource shows it */
#define VFIO_HOST_IORESOURCE_IO 0x100
#define VFIO_HOST_IORESOURCE_MEM 0x200

/* The IOMMU group of host device @bdf (its iommu_group link), or -1. */
int vfio_host_group_of(const char *bdf);

/* A group in a container of its own, as vfio_host_group_open() left it. */
typedef struct VFIOHostGroup {
    int num;
    int fd;                     /* /dev/vfio/NUM, -1 if not open */
    int container;              /* /dev/vfio/vfio, -1 if not open */
    int iommu_type;             /* VFIO_TYPE1v2_IOMMU, _SPAPR_TCE_v2_, 0 */
    const char *failed;         /* the step that failed, NULL: usable */
    int err;                    /* and its errno */
} VFIOHostGroup;

/*
 * Open group @num into a new container with the type1 v2 IOMMU, or
 * sPAPR TCE v2 where type1 is missing.  On failure @g->failed names the
 * step, @g->err (and errno) says why, and what did open stays open.
 */
bool vfio_host_group_open(VFIOHostGroup *g, int num);

/*
 * Open group @num into the container of @peer, a group that
 * vfio_host_group_open() opened (its IOMMU set, shared: @g->container
 * is @peer's), or into a new one as vfio_host_group_open() when @peer is
 * NULL.  Failures as there.
 */
bool vfio_host_group_join(VFIOHostGroup *g, int num, const VFIOHostGroup *peer);

/* Close @g's group and its container (unless they were not opened). */
void vfio_host_group_close(VFIOHostGroup *g);

/* The device fd of @bdf in the opened group @g, or -1. */
int vfio_host_device_open(VFIOHostGroup *g, const char *bdf);

/*
 * A VFIO "get info" ioctl @req on @fd whose argument starts with argsz
 * and may end in a capability chain: @minsz bytes of @tmpl (index
 * etc.), grown to the size the kernel asks for.  Free the result.
 */
void *vfio_host_get_info(int fd, unsigned long req, const void *tmpl,
                         size_t minsz);

/* Region info of region @index of device @devfd, chain included. */
struct vfio_region_info *vfio_host_region_info(int devfd, uint32_t index);

/*
 * Walk the capability chain of @info (@argsz bytes) from *@offset:
 * the header there, with *@offset moved to the next one; NULL at the
 * end of the chain (*@offset is 0), where it points out of @info
 * (*@offset is left on it), or after VFIO_HOST_MAX_CAPS headers
 * (counted in *@hops, which starts at 0).
 */
struct vfio_info_cap_header *vfio_host_cap_next(void *info, uint32_t argsz,
                                                uint32_t *offset,
                                                unsigned *hops);

/* The first capability @id in the chain from @offset, or NULL. */
struct vfio_info_cap_header *vfio_host_cap_find(void *info, uint32_t argsz,
                                                uint32_t offset, uint16_t id);

/*
 * Line @bar of sysfs "resource" of host device @bdf: where the host
 * kernel placed that BAR and its IORESOURCE flags.  False when it is
 * not there or empty.
 */
bool vfio_host_sysfs_resource(const char *bdf, int bar, uint64_t *start,
                              uint64_t *size, uint64_t *flags);

/*
 * Read @size bytes (1, 2 or 4, little endian) at @offset of memory BAR
 * @bar of host device @bdf with one load, through its sysfs resource
 * file (vfio-pci owns the device: the kernel needs iomem=relaxed).  The
 * kernel maps the host page that holds the BAR, not the BAR: the BAR's
 * offset in that page, from sysfs "resource", is added here, so that a
 * BAR that does not start a page reads its own registers.
 */
bool vfio_host_sysfs_bar_read(const char *bdf, int bar, uint64_t offset,
                              unsigned size, uint32_t *val);

/*
 * Up to @len bytes of the config space of host device @bdf as the host
 * kernel shows it (sysfs "config"): the count read, or -1.
 */
ssize_t vfio_host_sysfs_config(const char *bdf, uint8_t *buf, size_t len);

/*
 * Up to @len bytes of the config space of device @devfd, as vfio-pci
 * shows it through the device fd: the count read, or -1.
 */
ssize_t vfio_host_device_config(int devfd, uint8_t *buf, size_t len);

/* A device's MSI-X capability, read from its config space */
typedef struct VFIOHostMsix {
    uint8_t pos;                /* of the capability, 0: none */
    uint16_t control;           /* message control */
    unsigned entries;
    int table_bar, pba_bar;
    uint32_t table_offset, pba_offset;
    uint32_t table_size, pba_size;  /* in bytes */
} VFIOHostMsix;

/*
 * Find the MSI-X capability in the @len bytes of config space @cfg,
 * the capability list bounded by @len and 48 hops.  False when the
 * device has none.
 */
bool vfio_host_msix(const uint8_t *cfg, size_t len, VFIOHostMsix *msix);

/* Memory the kernel holds locked for process @pid (VmLck) in bytes, or -1. */
int64_t vfio_host_vmlck(pid_t pid);

#endif /* TESTS_QTEST_VFIO_HOST_H */
