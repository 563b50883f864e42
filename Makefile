# vfio-direct: build, test and benchmark the QEMU fork.
#
#   make             install missing deps, configure, build both targets
#   make demo        build ours and the base, run one Linux guest on
#                    passed-through devices on each, report side by side,
#                    on x86 and on pseries (DEMO=x86|pseries: one of them)
#   make check       every test tier: unit, upstream qtests, libvirt (x86),
#                    test bed
#   make check-libvirt  libvirt driving our binaries in the x86 and the
#                    pseries test bed (LIBVIRT=x86|pseries: one of them)
#   make check-l2-dma  a Linux L2 moving data through nvme right after the
#                    x-dma-async gate opened (not in make check: budget)
#   make base-build  the same base without our overlay (for benchmarks)
#   make cross-ppc64le  qemu-system-ppc64 and the qtests for ppc64le hosts
#                    (the pseries test bed runs them), in build-ppc64le/
#   make cross-ppc64le-base  the base's qemu-system-ppc64 for ppc64le
#                    (for make bench), in build-base-ppc64le/
#   make bench       our build against the base, in one test-bed run
#   make kernel      the kernel series (linux/): vfio-pci modules for Debian's
#                    stock 6.12 (amd64 and ppc64el-64k) and the test-bed
#                    bzImage, cached by content
#   make check-kernel  the series' tests in the x86 and pseries test beds
#                    (the image's only when it is cached: make kernel; our
#                    ppc64le QEMU's only after make cross-ppc64le)
#   make sanitize    qemu-system-x86_64 with ASan and UBSan, in build-sanitize/
#                    (SANITIZE=vfio: hw/vfio, hw/pci, memory; SANITIZE=full)
#   make check-sanitize  the vfio qtests and a short BAR fuzz run against it
#                    in the x86 test bed; any sanitizer report fails (part of
#                    make check)
#   make install PREFIX=DIR  the host build, its firmware and the guides,
#                    relocatable (scripts/install.sh; PREFIX default /usr/local)
#   make bundle-ppc64le  build-ppc64le/vfio-direct-ppc64le.tar.gz: the ppc64le
#                    qemu-system-ppc64 with its firmware and libraries, for
#                    POWER hosts
#   make check-bundle  that tarball on a glibc-only root in the pseries test bed
#   make docs        docs/ as HTML in build/docs/html, the QMP reference
#                    rendered from the QAPI schema; any warning fails
#   make check-docs  make docs, and the user guide's examples run against the
#                    build (on the host, and the info vfio one in the x86 L1)
#   make clean       remove the build folders (caches are kept)

BUILD := build
BASE_BUILD := build-base
CROSS_BUILD := build-ppc64le
CROSS_BASE_BUILD := build-base-ppc64le
QEMU_BUILD := $(BUILD)/qemu
SYSTEMS := qemu-system-x86_64 qemu-system-ppc64
NINJA := ninja
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# ccache: compile commands carry absolute paths into the clone; rewrite
# them relative so that every clone (and CI) shares one cache.  QEMU
# compiles with -g, for which ccache would also hash the working
# directory: a clone at another path (a CI checkout, a git worktree)
# would then miss every object, so it does not.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

# Our unit tests, the upstream qtests that cover what we touch
# (tests/upstream-qtests.sh runs them) and our test-bed qtests.
UNIT_TESTS := $(basename $(notdir $(wildcard tests/unit/test-vfio-direct-*.c)))
UPSTREAM_QTESTS := qmp-cmd-test test-hmp device-introspect-test \
                   pvpanic-pci-test i440fx-test q35-test rtas-test \
                   device-plug-test qos-test
VFIO_QTESTS := $(basename $(notdir $(wildcard tests/qtest/vfio-*-test.c)))
# The ppc64le cross build: our qtests and the upstream ones of the ppc64
# target, run in the pseries L1 (tests/testbed/check-system.sh --cross).
CROSS_QTESTS := $(VFIO_QTESTS) qmp-cmd-test test-hmp device-introspect-test \
                rtas-test device-plug-test qos-test

# Reconfigure when the base resolution or a patch changes.
config_hash = $(shell cat configure scripts/qemu-base.sh $(1) 2>/dev/null | \
                sha256sum | cut -c1-16)
CONFIG_STAMP := $(BUILD)/configured-$(call config_hash,base/*/*.patch)
BASE_HASH := $(call config_hash,base/build-fixes/*.patch)
BASE_STAMP := $(BASE_BUILD)/configured-$(BASE_HASH)

.PHONY: all deps demo check check-unit check-qtest check-system check-libvirt \
        check-libvirt-x86 check-l2-dma \
        base-build bench clean cross-ppc64le cross-ppc64le-base install \
        bundle-ppc64le check-bundle docs check-docs

all: deps $(CONFIG_STAMP)
	@scripts/overlay.sh $(BUILD)/src
	$(NINJA) -C $(QEMU_BUILD) $(SYSTEMS)

deps:
	@scripts/install-deps.sh --check || $(SUDO) scripts/install-deps.sh

$(CONFIG_STAMP):
	rm -f $(BUILD)/configured-*
	./configure --build-dir=$(BUILD)
	touch $@

# The same Linux guest on passed-through devices, base and ours side by
# side (tests/demo): the x86 L1, then the pseries L1 (64 KiB pages,
# nested KVM-HV); DEMO=x86|pseries picks one.  Report on stdout and in
# $(BUILD)/demo/ (pseries: $(BUILD)/demo/pseries/).
DEMO ?= all
demo: all $(if $(filter pseries,$(DEMO)),,base-build) \
      $(if $(filter x86,$(DEMO)),,cross-ppc64le cross-ppc64le-base)
	tests/demo/demo.sh --platform $(DEMO) --build $(BUILD) --base $(BASE_BUILD) \
		--cross $(CROSS_BUILD) --cross-base $(CROSS_BASE_BUILD)

# check-libvirt's pseries half (about 5 min idle, 9-11 loaded) does not
# fit the cold budget (README): make check runs the x86 half only.
check: check-unit check-qtest check-docs check-libvirt-x86 check-system \
       check-kernel check-sanitize

check-unit: all
	sh tests/unit/test-qemu-base.sh && sh tests/unit/test-testbed-fault.sh
	sh tests/unit/test-pkgversion.sh
	tests/install/check-install.sh --build $(BUILD)
	$(NINJA) -C $(QEMU_BUILD) $(addprefix tests/unit/,$(UNIT_TESTS))
	cd $(QEMU_BUILD) && meson test --no-rebuild --print-errorlogs \
		$(UNIT_TESTS)

check-qtest: all
	$(NINJA) -C $(QEMU_BUILD) $(addprefix tests/qtest/,$(UPSTREAM_QTESTS) \
		vfio-nohost-test)
	tests/upstream-qtests.sh $(QEMU_BUILD)
	for t in x86_64 ppc64; do \
		QTEST_QEMU_BINARY=$(QEMU_BUILD)/qemu-system-$$t \
		$(QEMU_BUILD)/tests/qtest/vfio-nohost-test --tap -k || exit 1; \
	done

check-system: all cross-ppc64le
	$(NINJA) -C $(QEMU_BUILD) $(addprefix tests/qtest/,$(VFIO_QTESTS))
	tests/testbed/check-system.sh --build $(BUILD) --cross $(CROSS_BUILD)

# libvirt's <hostdev> driving our binaries: the x86 L1, then the pseries
# L1 under nested KVM-HV (tests/libvirt; LIBVIRT=x86|pseries picks one).
LIBVIRT ?= all
check-libvirt: all $(if $(filter x86,$(LIBVIRT)),,cross-ppc64le)
	tests/libvirt/run.sh --platform $(LIBVIRT) --build $(BUILD) --cross $(CROSS_BUILD)

check-libvirt-x86: all
	tests/libvirt/run.sh --platform x86 --build $(BUILD)

# x-dma-async's gate judged by a Linux L2's data (about 6 min)
check-l2-dma: all
	tests/testbed/check-l2-dma.sh --build $(BUILD)

# Configures only when the source tree or the sysroot changed (stamp in
# $(CROSS_BUILD)); compiles with the same ccache as the host build.
cross-ppc64le: deps $(CONFIG_STAMP)
	@scripts/overlay.sh $(BUILD)/src
	scripts/cross-ppc64le.sh --build-dir $(CROSS_BUILD) --src $(BUILD)/src
	$(NINJA) -C $(CROSS_BUILD)/qemu qemu-system-ppc64 \
		$(addprefix tests/qtest/,$(CROSS_QTESTS))

# The documentation: QEMU's own Sphinx extensions (qapi-doc) from the
# unpacked base render the QMP reference from our QAPI schema
# (docs/conf.py).  check-docs runs the user guide's examples
# (tests/docs/check-examples.py): on the host, and the one that needs a
# device in the x86 test bed (one L1 boot, about 1.5 min).
PYTHON := /usr/bin/python3
docs: all
	rm -rf $(BUILD)/docs/html
	VFIO_DIRECT_QEMU_SRC=$(CURDIR)/$(BUILD)/src $(PYTHON) -m sphinx -W \
		--keep-going -q -b html docs $(BUILD)/docs/html

check-docs: docs
	$(PYTHON) tests/docs/check-examples.py --build $(BUILD) docs/vfio-direct.rst
	tests/testbed/run-in-l1.sh x86 -- $(PYTHON) \
		$(CURDIR)/tests/docs/check-examples.py --build $(CURDIR)/$(BUILD) \
		--testbed $(CURDIR)/docs/vfio-direct.rst

# Installs: the host build into PREFIX; the cross build as a tarball whose
# binary brings every library but glibc (scripts/install.sh).
PREFIX ?= /usr/local
BUNDLE := $(CROSS_BUILD)/vfio-direct-ppc64le.tar.gz
install: all
	scripts/install.sh --build $(BUILD) --prefix $(DESTDIR)$(PREFIX)

bundle-ppc64le: cross-ppc64le
	rm -rf $(CROSS_BUILD)/bundle
	scripts/install.sh --build $(CROSS_BUILD) \
		--prefix $(CROSS_BUILD)/bundle/vfio-direct \
		--sysroot $(CROSS_BUILD)/sysroot --tar $(BUNDLE)

check-bundle: bundle-ppc64le
	tests/install/check-bundle.sh --bundle $(BUNDLE) \
		--sysroot $(CROSS_BUILD)/sysroot

base-build: deps $(BASE_STAMP)
	$(NINJA) -C $(BASE_BUILD)/qemu $(SYSTEMS)

$(BASE_STAMP):
	rm -f $(BASE_BUILD)/configured-*
	./configure --without-overlay --build-dir=$(BASE_BUILD)
	touch $@

bench: all base-build cross-ppc64le cross-ppc64le-base
	tests/bench/run.sh --build $(BUILD) --base $(BASE_BUILD)
	tests/bench/run-dma.sh --build $(BUILD) --base $(BASE_BUILD)
	tests/bench/run-dma-async.sh --build $(BUILD) --base $(BASE_BUILD)
	tests/bench/run-pseries.sh --build $(CROSS_BUILD) --base $(CROSS_BASE_BUILD)
	tests/bench/run-pseries.sh --doorbell --build $(CROSS_BUILD) --base $(CROSS_BASE_BUILD)
	tests/bench/run-tce.sh --build $(CROSS_BUILD) --base $(CROSS_BASE_BUILD)

cross-ppc64le-base: base-build
	scripts/cross-ppc64le.sh --build-dir $(CROSS_BASE_BUILD) --src $(BASE_BUILD)/src
	$(NINJA) -C $(CROSS_BASE_BUILD)/qemu qemu-system-ppc64

clean:
	rm -rf $(BUILD) $(BASE_BUILD) $(CROSS_BUILD) $(CROSS_BASE_BUILD) $(SAN_BUILD)

# A long run of the BAR fuzzer (tests/qtest/vfio-fuzz-test.c) in the x86
# test bed: FUZZ_SEEDS (list or FIRST-LAST) and FUZZ_OPS (per seed).
FUZZ_SEEDS ?= 1-40
FUZZ_OPS ?= 50000
.PHONY: fuzz
fuzz: all
	$(NINJA) -C $(QEMU_BUILD) tests/qtest/vfio-fuzz-test
	tests/testbed/run-in-l1.sh --append iomem=relaxed --timeout 14400 \
		x86 -- /bin/sh -c 'VFIO_FUZZ_SEEDS=$(FUZZ_SEEDS) \
		VFIO_FUZZ_OPS=$(FUZZ_OPS) QTEST_QEMU_BINARY=$$0/qemu-system-x86_64 \
		$$0/qemu/tests/qtest/vfio-fuzz-test --tap' $(CURDIR)/$(BUILD)

# The kernel series (linux/, docs/vfio-direct-kernel.rst).  The modules
# routes (K2, K3 as vfio-pci modules against Debian's headers, for amd64
# and cross-built for ppc64el-64k) take minutes; the image (K1 needs the
# PCI core) 15-60 min cold on 2 cores, so make check runs the image's
# tests only once `make kernel` cached it.
.PHONY: kernel check-kernel
kernel: deps
	scripts/kernel.sh modules
	scripts/kernel.sh modules ppc64el-64k
	scripts/kernel.sh image

check-kernel: deps
	tests/kernel/check-kernel.sh

# ASan + UBSan build of qemu-system-x86_64 (tests/sanitize): its own
# folder and source tree, configured when configure, a patch or these
# options change, compiled through the same ccache.  SANITIZE=vfio (the
# default) instruments hw/vfio, hw/pci and the memory core and takes the
# rest from the main build's ccache objects; SANITIZE=full instruments
# all (about 25 min cold on the loaded 2 cores).  check-sanitize runs the
# main build's vfio qtests against it in the x86 L1.
SANITIZE ?= vfio
SAN_BUILD := build-sanitize
SAN_CONFIGURE := --enable-sanitizers=$(SANITIZE) -- --target-list=x86_64-softmmu
SAN_HASH := $(shell (cat configure scripts/qemu-base.sh base/*/*.patch; \
              echo '$(SAN_CONFIGURE)') 2>/dev/null | sha256sum | cut -c1-16)
SAN_STAMP := $(SAN_BUILD)/configured-$(SAN_HASH)
SAN_QTESTS := vfio-pci-test vfio-subpage-test vfio-msix-test \
              vfio-hotplug-test vfio-dma-test vfio-fuzz-test
.PHONY: sanitize check-sanitize
sanitize: deps $(SAN_STAMP)
	@scripts/overlay.sh $(SAN_BUILD)/src
	$(NINJA) -C $(SAN_BUILD)/qemu qemu-system-x86_64

$(SAN_STAMP):
	rm -f $(SAN_BUILD)/configured-*
	./configure --build-dir=$(SAN_BUILD) $(SAN_CONFIGURE)
	touch $@

check-sanitize: all sanitize
	$(NINJA) -C $(QEMU_BUILD) $(addprefix tests/qtest/,$(SAN_QTESTS))
	tests/sanitize/check-sanitize.sh --build $(BUILD) --sanitize $(SAN_BUILD)
