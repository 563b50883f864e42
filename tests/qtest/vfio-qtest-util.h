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
#include "qobject/qdict.h"

/* Host BDF of test-bed device @name, or NULL when it is not bound. */
const char *vfio_qtest_host(const char *name);

/* Skip the current test unless every device in @names is bound. */
bool vfio_qtest_require(const char *const *names);

/* x-query-vfio's entry for BAR @bar of device @id (unref when done). */
QDict *vfio_qtest_bar(QTestState *qts, const char *id, int bar);

/* The reason of the range of @bar_info that holds @offset ("direct"). */
const char *vfio_qtest_range_at(QDict *bar_info, uint64_t offset);

/* Read @size bytes at @offset of BAR @bar of host device @bdf via sysfs. */
uint32_t vfio_qtest_sysfs_bar_read(const char *bdf, int bar, uint64_t offset,
                                   unsigned size);

#endif /* TESTS_QTEST_VFIO_QTEST_UTIL_H */
