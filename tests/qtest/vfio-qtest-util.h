/*
 * Helpers for vfio-direct's qtests
 *
 * The qtests run inside an L1 guest of the test bed (tests/testbed), where
 * emulated PCI devices are bound to the real kernel vfio-pci driver.  The
 * test bed names them in VFIO_DIRECT_DEVICES as "name=BDF" pairs.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_VFIO_QTEST_UTIL_H
#define TESTS_QTEST_VFIO_QTEST_UTIL_H

#include "libqtest.h"
#include "libqos/pci.h"
#include "libqos/libqos-malloc.h"
#include "qobject/qdict.h"

/* The machine the vfio qtests use on a target, and its memory window */
typedef struct VFIOQtestMachine {
    const char *arch;           /* as qtest_get_arch() names it */
    const char *options;        /* machine options (-M, -m) */
    uint64_t mem_cpu_offset;    /* CPU address - bus address */
} VFIOQtestMachine;

/* A bus address in the memory window where the tests may place BARs */
#define VFIO_QTEST_WINDOW 0xc0000000ULL

/* The machine for this target: q35 on x86_64, pseries on ppc64; or NULL. */
const VFIOQtestMachine *vfio_qtest_machine(void);

/*
 * libqos's PCI bus of @qts on that machine; on pseries its config
 * accesses (RTAS calls) allocate guest memory from @alloc, which this
 * initializes.  Free both with vfio_qtest_pci_bus_free().
 */
QPCIBus *vfio_qtest_pci_bus(QTestState *qts, QGuestAllocator *alloc);
void vfio_qtest_pci_bus_free(QPCIBus *bus, QGuestAllocator *alloc);

/* Where the CPU reaches bus address @addr of the memory window */
uint64_t vfio_qtest_cpu_address(uint64_t addr);

/* 32-bit accesses at bus address @addr; PCI registers are little endian. */
uint32_t vfio_qtest_mmio_readl(QTestState *qts, uint64_t addr);
void vfio_qtest_mmio_writel(QTestState *qts, uint64_t addr, uint32_t val);

/* Host BDF of test-bed device @name, or NULL when it is not bound. */
const char *vfio_qtest_host(const char *name);

/* Skip the current test unless every device in @names is bound. */
bool vfio_qtest_require(const char *const *names);

/* x-query-vfio's entry for device @id (unref when done). */
QDict *vfio_qtest_device(QTestState *qts, const char *id);

/* x-query-vfio's entry for BAR @bar of device @id (unref when done). */
QDict *vfio_qtest_bar(QTestState *qts, const char *id, int bar);

/* x-query-vfio's "msix" of device @id, NULL if it has none (unref). */
QDict *vfio_qtest_msix(QTestState *qts, const char *id);

/* x-query-vfio's member @member of device @id, NULL if absent (unref). */
QDict *vfio_qtest_device_member(QTestState *qts, const char *id,
                                const char *member);

/*
 * The kernel's region info for region @index of device @id, as
 * x-query-vfio relays it: its flags in *@flags, and whether its
 * capability chain holds a capability of type @cap ("msix-mappable").
 */
bool vfio_qtest_region_has_cap(QTestState *qts, const char *id, int index,
                               const char *cap, uint32_t *flags);

/* The reason of the range of @bar_info that holds @offset ("direct"). */
const char *vfio_qtest_range_at(QDict *bar_info, uint64_t offset);

/*
 * x-query-vfio's ranges of BAR @nr of device @id (placed by the guest)
 * tell the truth: they start at 0, leave no gap and cover the BAR, a
 * trapped range has a reason, a direct one is whole host pages; a read
 * at the first and the last register of each range in the BAR counts
 * in trapped-reads exactly where the device fd, mmap or padding serves
 * it, and returns the register of host device @bdf (read through sysfs),
 * or all ones in [@hidden, @hidden + @hidden_size) where the device fd
 * serves it (the kernel hides the MSI-X table there).
 */
void vfio_qtest_assert_ranges(QTestState *qts, const char *id, int nr,
                              const char *bdf, uint64_t hidden,
                              uint64_t hidden_size);

/*
 * Where the host kernel placed memory BAR @bar of host device @bdf (from
 * sysfs); false when it is not a memory BAR.
 */
bool vfio_qtest_sysfs_bar(const char *bdf, int bar, uint64_t *start,
                          uint64_t *size);

/*
 * Read @size bytes at @offset of BAR @bar of host device @bdf via sysfs
 * (vfio_host_sysfs_bar_read(): at the BAR's own offset in its page).
 */
uint32_t vfio_qtest_sysfs_bar_read(const char *bdf, int bar, uint64_t offset,
                                   unsigned size);

/*
 * The independent oracle of direct mappings: is the host page at CPU
 * address @addr something KVM maps into the guest?  Judged from the
 * flat view of the memory address space ("info mtree -f") by KVM's
 * page rule: one ram or ram-device section covers the whole page, at
 * an offset in its region that keeps the page aligned.  (QEMU 10.0's
 * "info mtree -f" leaked a reference to every flat view that several
 * address spaces share, so a device it had seen was never finalized;
 * hook 0024 fixes that, and the base build still has it.)
 */
bool vfio_qtest_page_is_direct(QTestState *qts, uint64_t addr);

/*
 * Name of the flat-view section of the memory address space that holds
 * CPU address @addr, and its bounds; NULL when nothing does.
 */
char *vfio_qtest_flat_section(QTestState *qts, uint64_t addr,
                              uint64_t *start, uint64_t *end);

/* One section of the flat view of the memory address space. */
typedef struct VFIOQtestSection {
    uint64_t start, end;        /* inclusive bounds, CPU addresses */
    uint64_t offset;            /* of @start in its memory region */
    char type[16];              /* "ram", "ramd", "i/o", "rom", ... */
    char *name;                 /* of its memory region */
} VFIOQtestSection;

/*
 * Every section of the flat view of the memory address space ("info
 * mtree -f"), in address order;
 * free with vfio_qtest_flat_view_free().
 */
GArray *vfio_qtest_flat_view(QTestState *qts);
void vfio_qtest_flat_view_free(GArray *sections);

/*
 * Does section @s hold a host page that KVM maps into the guest (by the
 * page rule of vfio_qtest_page_is_direct())?  Its address in *@page.
 */
bool vfio_qtest_section_direct_page(const VFIOQtestSection *s,
                                    uint64_t *page);

/*
 * vfio's memory listener, traced to @log by QEMU's
 * "-trace vfio_listener_region_add_ram -D @log": the host address of its
 * last RAM mapping that starts at @addr (what KVM would have been given,
 * as "[0x...]"), NULL if none; *@count, unless NULL, counts them all.
 */
char *vfio_qtest_listener_ram(const char *log, uint64_t addr, int *count);

/*
 * The qtest connection of this process's QEMU, found by its address
 * (libqtest's qtest-PID.sock), or -1.  A test may send a batch of qtest
 * commands on it between libqtest calls, when the socket is idle: one
 * round trip for many commands, which matters where a round trip costs
 * milliseconds (a QEMU inside a TCG guest).
 */
int vfio_qtest_socket(void);

/*
 * Send the @n qtest commands in @commands (one a line) on @fd at once
 * and return their @n answers, in order (g_strfreev them).
 */
char **vfio_qtest_batch(int fd, const GString *commands, int n);

/* File descriptors of process @pid open on /dev/vfio nodes or devices. */
int vfio_qtest_vfio_fds(pid_t pid);

/* Memory the kernel holds locked for process @pid (VmLck), in bytes. */
uint64_t vfio_qtest_vmlck(pid_t pid);

#endif /* TESTS_QTEST_VFIO_QTEST_UTIL_H */
