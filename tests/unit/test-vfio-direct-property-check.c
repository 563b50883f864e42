/*
 * Unit tests of vfio-direct's property conflicts that need no host
 * device (hw/vfio/direct/property-check-plan.c): each refusal and the
 * warning, the combinations that pass, and the machine named as the
 * user typed it.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/vfio/direct/property-check-plan.h"

/* vfio-pci's defaults on q35 */
static VFIODirectPropertySet q35(void)
{
    return (VFIODirectPropertySet) {
        .machine = "q35",
        .msix_emulation = ON_OFF_AUTO_AUTO,
        .msix_relocation = OFF_AUTO_PCIBAR_OFF,
        .bar_page_align = ON_OFF_AUTO_AUTO,
    };
}

/* ... and on pseries, which programs MSI through RTAS */
static VFIODirectPropertySet pseries(void)
{
    VFIODirectPropertySet p = q35();

    p.machine = "pseries";
    p.firmware_msi = true;
    return p;
}

/* Check @p; returns the error (or NULL) and the warning in *@warning. */
static char *check(const VFIODirectPropertySet *p, char **warning)
{
    char *error, *warn;
    bool ok = vfio_direct_property_conflicts(p, &error, &warn);

    g_assert_cmpint(ok, ==, error == NULL);
    if (warning) {
        *warning = warn;
    } else {
        g_free(warn);
    }
    return error;
}

static void test_defaults_pass(void)
{
    VFIODirectPropertySet p = q35(), s = pseries();
    char *warning;

    g_assert_null(check(&p, &warning));
    g_assert_null(warning);
    g_assert_null(check(&s, &warning));
    g_assert_null(warning);
}

static void test_msix_emulation_off(void)
{
    VFIODirectPropertySet p = q35();
    g_autofree char *error = NULL;

    p.msix_emulation = ON_OFF_AUTO_OFF;
    error = check(&p, NULL);
    g_assert_cmpstr(error, ==, "x-msix-emulation=off is not possible on q35: "
                    "its guests write MSI-X addresses into the table, which "
                    "must be emulated; drop it (off works on pseries only)");

    /* the machine as the user named it, whatever it is */
    g_free(error);
    p.machine = "pc-q35-9.2";
    error = check(&p, NULL);
    g_assert_true(g_str_has_prefix(error, "x-msix-emulation=off is not "
                                   "possible on pc-q35-9.2: "));

    p = pseries();
    p.msix_emulation = ON_OFF_AUTO_OFF;
    g_assert_null(check(&p, NULL));
}

static void test_msix_relocation(void)
{
    VFIODirectPropertySet p = pseries();
    g_autofree char *error = NULL;

    p.msix_relocation = OFF_AUTO_PCIBAR_BAR2;
    error = check(&p, NULL);
    g_assert_cmpstr(error, ==, "x-msix-relocation=bar2 needs the MSI-X "
                    "table emulated, and on pseries it is not "
                    "(x-msix-emulation=auto); drop it or set "
                    "x-msix-emulation=on");
    g_free(error);
    p.msix_emulation = ON_OFF_AUTO_OFF;
    error = check(&p, NULL);
    g_assert_nonnull(strstr(error, "(x-msix-emulation=off)"));

    /* emulated, the table can move; auto with nothing to move passes */
    p.msix_emulation = ON_OFF_AUTO_ON;
    g_assert_null(check(&p, NULL));
    p = pseries();
    p.msix_relocation = OFF_AUTO_PCIBAR_AUTO;
    g_assert_null(check(&p, NULL));
    p = q35();
    p.msix_relocation = OFF_AUTO_PCIBAR_BAR5;
    g_assert_null(check(&p, NULL));
}

static void test_page_align_no_mmap(void)
{
    VFIODirectPropertySet p = q35();
    g_autofree char *warning = NULL;

    p.bar_page_align = ON_OFF_AUTO_ON;
    p.no_mmap = true;
    g_assert_null(check(&p, &warning));
    g_assert_cmpstr(warning, ==, "x-bar-page-align=on with x-no-mmap=on: "
                    "sub-page BARs are sized as whole pages but every access "
                    "still traps; drop one of them");
    g_clear_pointer(&warning, g_free);

    /* auto follows what the kernel grants: nothing to warn about */
    p.bar_page_align = ON_OFF_AUTO_AUTO;
    g_assert_null(check(&p, &warning));
    g_assert_null(warning);
    p.bar_page_align = ON_OFF_AUTO_ON;
    p.no_mmap = false;
    g_assert_null(check(&p, &warning));
    g_assert_null(warning);
}

static void test_sysfsdev(void)
{
    VFIODirectPropertySet p = q35();
    g_autofree char *error = NULL;

    p.sysfsdev = "/sys/bus/pci/devices/0000:00:04.0";
    p.subsystem = "pci";
    g_assert_null(check(&p, NULL));
    p.sysfsdev = "/sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
    p.subsystem = "mdev";
    g_assert_null(check(&p, NULL));

    p.sysfsdev = "/sys/class/net/eth0";
    p.subsystem = "net";
    error = check(&p, NULL);
    g_assert_cmpstr(error, ==, "sysfsdev=/sys/class/net/eth0 is a net device, "
                    "not a PCI device; give a PCI device's "
                    "(/sys/bus/pci/devices/DDDD:BB:DD.F) or a mediated "
                    "device's (/sys/bus/mdev/devices/UUID)");
    g_free(error);
    p.sysfsdev = "/tmp";
    p.subsystem = NULL;
    error = check(&p, NULL);
    g_assert_true(g_str_has_prefix(error, "sysfsdev=/tmp is not a device "
                                   "node in sysfs; "));

    /* the path is checked first: its error is the one shown */
    g_free(error);
    p.msix_emulation = ON_OFF_AUTO_OFF;
    error = check(&p, NULL);
    g_assert_true(g_str_has_prefix(error, "sysfsdev=/tmp "));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vfio-direct/property-check/defaults",
                    test_defaults_pass);
    g_test_add_func("/vfio-direct/property-check/msix-emulation-off",
                    test_msix_emulation_off);
    g_test_add_func("/vfio-direct/property-check/msix-relocation",
                    test_msix_relocation);
    g_test_add_func("/vfio-direct/property-check/page-align-no-mmap",
                    test_page_align_no_mmap);
    g_test_add_func("/vfio-direct/property-check/sysfsdev",
                    test_sysfsdev);
    return g_test_run();
}
