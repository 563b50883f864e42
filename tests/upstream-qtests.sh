#!/bin/sh
# Run the upstream qtests that cover what vfio-direct touches.
#
#   tests/upstream-qtests.sh QEMU-BUILD-DIR
#
# qmp-cmd-test and test-hmp run every query and "info" command (ours too)
# on every machine; device-introspect-test checks every device's
# properties (vfio-pci's grew); the PCI and spapr tests cover the buses
# our BARs live on.  qos-test's graph tests are picked by path prefix
# (glib's -p matches whole paths only).
set -eu

obj=${1:?usage: upstream-qtests.sh QEMU-BUILD-DIR}
cd "$obj"

meson test --no-rebuild --print-errorlogs \
    qtest-x86_64/qmp-cmd-test qtest-x86_64/test-hmp \
    qtest-x86_64/device-introspect-test qtest-x86_64/pvpanic-pci-test \
    qtest-x86_64/i440fx-test qtest-x86_64/q35-test \
    qtest-ppc64/qmp-cmd-test qtest-ppc64/test-hmp \
    qtest-ppc64/device-introspect-test qtest-ppc64/rtas-test \
    qtest-ppc64/device-plug-test

qos()
{
    target=$1
    shift
    paths=$(QTEST_QEMU_BINARY=./qemu-system-$target tests/qtest/qos-test -l |
            grep -E "^($(echo "$@" | tr ' ' '|'))")
    # shellcheck disable=SC2046 # one -p per path
    passed=$(QTEST_QEMU_BINARY=./qemu-system-$target \
             tests/qtest/qos-test --tap -k $(printf -- '-p %s ' $paths) |
             grep -c '^ok ')
    echo "qos-test ($target): $passed of $(echo "$paths" | wc -l) passed"
    [ "$passed" = "$(echo "$paths" | wc -l)" ]
}

status=0
qos ppc64 /ppc64/pseries/spapr-pci-host-bridge/ \
    /ppc64/pseries/ppc64/pseries-tests/spapr-phb-test || status=1
qos x86_64 /x86_64/pc/i440FX-pcihost/pci-bus-pc/pci-bus/sdhci-pci/ \
    /x86_64/pc/i440FX-pcihost/pci-bus-pc/pci-bus/nvme/ \
    /x86_64/pc/i440FX-pcihost/pci-bus-pc/pci-bus/e1000e/ || status=1
[ "$status" = 0 ] && echo "upstream qos tests: all passed"
exit "$status"
