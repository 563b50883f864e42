/*
 * QTest for what vfio-direct answers without a host device
 *
 * The version our binary reports, and the vfio-pci property conflicts
 * that are refused before the device is opened: each case names a host
 * device that does not exist, so a refusal that came after opening it
 * would show upstream's "no such host device" instead.  Needs no test
 * bed; make check-qtest runs it on the build host for x86_64 (q35) and
 * ppc64 (pseries), and the test bed runs it with the other vfio qtests.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "qobject/qjson.h"
#include "ppc-util.h"

/* A host device no test machine has */
#define ABSENT_HOST "0000:ff:1f.7"

static QTestState *machine_start(void)
{
    if (!strcmp(qtest_get_arch(), "ppc64")) {
        return qtest_init("-M pseries," PSERIES_DEFAULT_CAPABILITIES
                          " -m 256M -nodefaults");
    }
    /* q35's root bus takes no hotplug: plug into a root port */
    return qtest_init("-M q35 -m 64M -nodefaults "
                      "-device pcie-root-port,id=rp0,chassis=1");
}

/*
 * device_add vfio-pci with @props (a JSON object's members after the
 * driver) and return the error's description, which must exist.
 */
static char *device_add_error(QTestState *qts, const char *props)
{
    const char *bus = strcmp(qtest_get_arch(), "ppc64") ? "'bus': 'rp0', "
                                                         : "";
    g_autofree char *args =
        g_strdup_printf("{'driver': 'vfio-pci', 'id': 'vfio0', %s%s}",
                        bus, props);
    QDict *resp = qtest_qmp(qts, "{'execute': 'device_add', "
                            "'arguments': %p}",
                            qobject_from_json(args, &error_abort));
    QDict *error = qdict_get_qdict(resp, "error");
    char *desc;

    g_assert_nonnull(error);
    desc = g_strdup(qdict_get_str(error, "desc"));
    g_test_message("device_add {%s}: %s", props, desc);
    qobject_unref(resp);
    return desc;
}

/* What upstream says about the absent device: no refusal of ours */
#define HOST_ERROR "no such host device"

/*
 * device_add with each case's properties, on q35 (x86_64) and on
 * pseries (ppc64): the refusal expected on each (pseries NULL: the same
 * as q35), or HOST_ERROR when the machine accepts the properties and
 * only the absent device fails.
 */
static const struct {
    const char *name, *props, *q35, *pseries;
} refusals[] = {
    {
        /* the control: without a conflict, the absent device fails */
        "control", "'host': '" ABSENT_HOST "'", HOST_ERROR, HOST_ERROR,
    }, {
        "msix-emulation-off",
        "'host': '" ABSENT_HOST "', 'x-msix-emulation': 'off'",
        "x-msix-emulation=off is not possible on q35: its guests write "
        "MSI-X addresses into the table, which must be emulated; drop it "
        "(off works on pseries only)",
        HOST_ERROR,
    }, {
        "msix-relocation",
        "'host': '" ABSENT_HOST "', 'x-msix-relocation': 'bar2'",
        HOST_ERROR,
        "x-msix-relocation=bar2 needs the MSI-X table emulated, and on "
        "pseries it is not (x-msix-emulation=auto); drop it or set "
        "x-msix-emulation=on",
    }, {
        "msix-relocation-emulated",
        "'host': '" ABSENT_HOST "', 'x-msix-relocation': 'bar2', "
        "'x-msix-emulation': 'on'",
        HOST_ERROR, HOST_ERROR,
    }, {
        "sysfsdev-not-pci", "'sysfsdev': '/sys/devices/system/cpu/cpu0'",
        "sysfsdev=/sys/devices/system/cpu/cpu0 is a cpu device, not a PCI "
        "device; give a PCI device's (/sys/bus/pci/devices/DDDD:BB:DD.F) "
        "or a mediated device's (/sys/bus/mdev/devices/UUID)",
        NULL,
    }, {
        "sysfsdev-not-device", "'sysfsdev': '/sys/kernel'",
        "sysfsdev=/sys/kernel is not a device node in sysfs; give a PCI "
        "device's (/sys/bus/pci/devices/DDDD:BB:DD.F) or a mediated "
        "device's (/sys/bus/mdev/devices/UUID)",
        NULL,
    },
};

static void test_refusal(const void *opaque)
{
    int i = GPOINTER_TO_INT(opaque);
    bool pseries = !strcmp(qtest_get_arch(), "ppc64");
    const char *expected = pseries ? refusals[i].pseries : refusals[i].q35;
    QTestState *qts = machine_start();
    g_autofree char *desc = device_add_error(qts, refusals[i].props);

    if (!expected) {
        expected = refusals[i].q35;
    }
    if (!strcmp(expected, HOST_ERROR)) {
        g_assert_nonnull(strstr(desc, HOST_ERROR));
    } else {
        g_assert_cmpstr(desc, ==, expected);
    }
    qtest_quit(qts);
}

/*
 * query-version's package names vfio-direct first, and --version prints
 * the same version and package.
 */
static void test_version(void)
{
    QTestState *qts = machine_start();
    QDict *resp = qtest_qmp(qts, "{'execute': 'query-version'}");
    QDict *ret = qdict_get_qdict(resp, "return");
    QDict *qemu = qdict_get_qdict(ret, "qemu");
    const char *package = qdict_get_str(ret, "package");
    const char *argv[] = { getenv("QTEST_QEMU_BINARY"), "--version", NULL };
    g_autofree char *out = NULL;
    g_autofree char *expected = NULL;
    g_autoptr(GError) err = NULL;
    int status;

    g_test_message("package: %s", package);
    g_assert_true(g_str_has_prefix(package, "vfio-direct "));
    expected = g_strdup_printf("QEMU emulator version %" PRId64 ".%" PRId64
                               ".%" PRId64 " (%s)\n",
                               qdict_get_int(qemu, "major"),
                               qdict_get_int(qemu, "minor"),
                               qdict_get_int(qemu, "micro"), package);
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT,
                               NULL, NULL, &out, NULL, &status, &err));
    g_assert_no_error(err);
    g_assert_true(g_str_has_prefix(out, expected));
    qobject_unref(resp);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/vfio/nohost/version", test_version);
    for (int i = 0; i < ARRAY_SIZE(refusals); i++) {
        g_autofree char *path = g_strdup_printf("/vfio/nohost/refusal/%s",
                                                refusals[i].name);

        qtest_add_data_func(path, GINT_TO_POINTER(i), test_refusal);
    }
    return g_test_run();
}
