/*
 * vfio-direct: introspection in builds without vfio-pci
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/qapi-commands-vfio-direct.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"

/* No vfio-pci device can exist: the truthful answer is an empty list. */
VfioPciDeviceInfoList *qmp_x_query_vfio(Error **errp)
{
    return NULL;
}

void hmp_info_vfio(Monitor *mon, const QDict *qdict)
{
    monitor_printf(mon, "vfio-pci is not available in this build\n");
}
