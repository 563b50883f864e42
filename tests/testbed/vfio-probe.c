// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-probe - report what the kernel's vfio-pci offers for each device.
 *
 * Runs inside the test-bed L1 guests, where real kernel vfio-pci drives
 * emulated devices.  For every device given on the command line (or every
 * device bound to vfio-pci) it prints one JSON object on one line: device
 * and region info with the capability chains decoded, sub-page BAR mmap
 * behaviour, the MSI-X table as seen through pread and mmap, the IOMMU's
 * description (type1 or sPAPR TCE) and DMA map/unmap timings.  The facts it
 * reports are the ones the vfio-direct QEMU changes rely on, so the test bed
 * asserts on them before trusting any QEMU-level test.
 *
 * Failures are reported as "error" members instead of aborting, so one
 * misbehaving device or ioctl does not hide the rest.
 *
 * Usage: vfio-probe [-d none|first|all] [-s SIZE] [BDF...]
 *        vfio-probe -k
 *   -d  which devices' containers get DMA timings (default: the first)
 *   -s  bytes covered by the page-sized small maps (default: 16 MiB)
 *   -k  create one KVM VM and hold it until killed (init.sh's
 *       vfio_direct.kvm_hold=1: see hold_kvm_vm())
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/mman.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include "vfio-host.h"

/* KVM_CREATE_VM, _IO(KVMIO, 0x01): <linux/kvm.h> only for this. */
#define KVM_CREATE_VM_NR 0xae01

/* Added in Linux 6.4; the host's linux-libc-dev (6.1) lacks it. */
#ifndef VFIO_DEVICE_FLAGS_CDX
#define VFIO_DEVICE_FLAGS_CDX (1 << 8)
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MiB (1024UL * 1024)
#define DMA_BUF_SIZE (64 * MiB)
#define HUGE_2M (2 * MiB)
#define MAX_GROUPS 64

static long page_size;

/* ---- JSON output: one object per line, members separated as they come ---- */

#define JSON_MAX_DEPTH 16

static struct {
	int depth;
	bool comma[JSON_MAX_DEPTH];
} js;

static void json_sep(const char *key)
{
	if (js.comma[js.depth])
		putchar(',');
	js.comma[js.depth] = true;
	if (key)
		printf("\"%s\":", key);
}

static void json_open(const char *key, char bracket)
{
	json_sep(key);
	putchar(bracket);
	js.comma[++js.depth] = false;
}

static void json_close(char bracket)
{
	putchar(bracket);
	js.depth--;
}

static void obj_begin(const char *key) { json_open(key, '{'); }
static void obj_end(void) { json_close('}'); }
static void arr_begin(const char *key) { json_open(key, '['); }
static void arr_end(void) { json_close(']'); }

static void json_u64(const char *key, uint64_t v)
{
	json_sep(key);
	printf("%" PRIu64, v);
}

static void json_int(const char *key, long long v)
{
	json_sep(key);
	printf("%lld", v);
}

static void json_bool(const char *key, bool v)
{
	json_sep(key);
	fputs(v ? "true" : "false", stdout);
}

static void json_str(const char *key, const char *s)
{
	json_sep(key);
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_hex(const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	json_str(key, buf);
}

/* "error": "what: strerror(err)" */
static void json_err(const char *key, const char *what, int err)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s: %s", what, strerror(err));
	json_str(key ? key : "error", buf);
}

struct flag_name {
	uint64_t bit;
	const char *name;
};

static void json_flags(const char *key, uint64_t flags,
		       const struct flag_name *names, size_t n)
{
	size_t i;

	arr_begin(key);
	for (i = 0; i < n; i++) {
		if (flags & names[i].bit) {
			json_str(NULL, names[i].name);
			flags &= ~names[i].bit;
		}
	}
	if (flags)
		json_hex(NULL, flags);
	arr_end();
}

static const struct flag_name device_flags[] = {
	{ VFIO_DEVICE_FLAGS_RESET, "RESET" },
	{ VFIO_DEVICE_FLAGS_PCI, "PCI" },
	{ VFIO_DEVICE_FLAGS_PLATFORM, "PLATFORM" },
	{ VFIO_DEVICE_FLAGS_AMBA, "AMBA" },
	{ VFIO_DEVICE_FLAGS_CCW, "CCW" },
	{ VFIO_DEVICE_FLAGS_AP, "AP" },
	{ VFIO_DEVICE_FLAGS_FSL_MC, "FSL_MC" },
	{ VFIO_DEVICE_FLAGS_CAPS, "CAPS" },
	{ VFIO_DEVICE_FLAGS_CDX, "CDX" },
};

static const struct flag_name region_flags[] = {
	{ VFIO_REGION_INFO_FLAG_READ, "READ" },
	{ VFIO_REGION_INFO_FLAG_WRITE, "WRITE" },
	{ VFIO_REGION_INFO_FLAG_MMAP, "MMAP" },
	{ VFIO_REGION_INFO_FLAG_CAPS, "CAPS" },
};

static const struct flag_name irq_flags[] = {
	{ VFIO_IRQ_INFO_EVENTFD, "EVENTFD" },
	{ VFIO_IRQ_INFO_MASKABLE, "MASKABLE" },
	{ VFIO_IRQ_INFO_AUTOMASKED, "AUTOMASKED" },
	{ VFIO_IRQ_INFO_NORESIZE, "NORESIZE" },
};

static const char *const pci_region_names[] = {
	"BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5", "ROM", "CONFIG", "VGA",
};

static const char *const pci_irq_names[] = {
	"INTX", "MSI", "MSIX", "ERR", "REQ",
};

/* Page sizes as a list of names: 4K, 64K, 2M, 1G, ... */
static void json_pgsizes(const char *key, uint64_t sizes)
{
	static const char units[] = "KMGTPE";
	int bit;

	arr_begin(key);
	for (bit = 10; bit < 64; bit++) {
		char buf[16];

		if (!(sizes & (1ULL << bit)))
			continue;
		snprintf(buf, sizeof(buf), "%llu%c",
			 1ULL << (bit % 10), units[bit / 10 - 1]);
		json_str(NULL, buf);
	}
	arr_end();
}

/* ---- helpers ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void json_us(const char *key, uint64_t ns)
{
	json_u64(key, (ns + 500) / 1000);
}

/*
 * Walk a capability chain (vfio_host_cap_next()): call @fn for each header.
 * A chain that points outside the buffer is reported and cut.
 */
static void walk_caps(void *info, uint32_t argsz, uint32_t offset,
		      void (*fn)(struct vfio_info_cap_header *hdr, void *end))
{
	struct vfio_info_cap_header *hdr;
	unsigned int hops = 0;

	while ((hdr = vfio_host_cap_next(info, argsz, &offset, &hops)))
		fn(hdr, (char *)info + argsz);
	if (offset && hops < VFIO_HOST_MAX_CAPS) {
		obj_begin(NULL);
		json_hex("bad_offset", offset);
		obj_end();
	}
}

static void read_sysfs_line(const char *bdf, const char *file, char *buf,
			    size_t len)
{
	char path[256];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, file);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static void driver_of(const char *bdf, char *buf, size_t len)
{
	char path[256], link[256];
	ssize_t n;
	char *slash;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(buf, len, "none");
		return;
	}
	link[n] = '\0';
	slash = strrchr(link, '/');
	snprintf(buf, len, "%s", slash ? slash + 1 : link);
}

/* ---- groups and containers ---- */

static VFIOHostGroup groups[MAX_GROUPS];
static int nr_groups;
static bool dma_done;

static VFIOHostGroup *group_get(int num)
{
	VFIOHostGroup *g;
	int i;

	for (i = 0; i < nr_groups; i++)
		if (groups[i].num == num)
			return &groups[i];
	if (nr_groups == MAX_GROUPS)
		return NULL;
	g = &groups[nr_groups++];
	vfio_host_group_open(g, num);
	return g;
}

/* ---- regions ---- */

static void region_cap(struct vfio_info_cap_header *hdr, void *end)
{
	obj_begin(NULL);
	json_int("id", hdr->id);
	json_int("version", hdr->version);
	switch (hdr->id) {
	case VFIO_REGION_INFO_CAP_SPARSE_MMAP: {
		struct vfio_region_info_cap_sparse_mmap *s = (void *)hdr;
		uint32_t i;

		json_str("name", "SPARSE_MMAP");
		json_u64("nr_areas", s->nr_areas);
		arr_begin("areas");
		for (i = 0; i < s->nr_areas &&
			    (void *)&s->areas[i + 1] <= end; i++) {
			obj_begin(NULL);
			json_u64("offset", s->areas[i].offset);
			json_u64("size", s->areas[i].size);
			obj_end();
		}
		arr_end();
		break;
	}
	case VFIO_REGION_INFO_CAP_TYPE: {
		struct vfio_region_info_cap_type *t = (void *)hdr;

		json_str("name", "TYPE");
		json_u64("type", t->type);
		json_u64("subtype", t->subtype);
		break;
	}
	case VFIO_REGION_INFO_CAP_MSIX_MAPPABLE:
		json_str("name", "MSIX_MAPPABLE");
		break;
	case VFIO_REGION_INFO_CAP_NVLINK2_SSATGT:
		json_str("name", "NVLINK2_SSATGT");
		json_hex("tgt", ((struct vfio_region_info_cap_nvlink2_ssatgt *)hdr)->tgt);
		break;
	case VFIO_REGION_INFO_CAP_NVLINK2_LNKSPD:
		json_str("name", "NVLINK2_LNKSPD");
		json_u64("link_speed",
			 ((struct vfio_region_info_cap_nvlink2_lnkspd *)hdr)->link_speed);
		break;
	}
	obj_end();
}

static void json_mmap_result(const char *key, void *p)
{
	char name[64];

	snprintf(name, sizeof(name), "%s_ok", key);
	json_bool(name, p != MAP_FAILED);
	if (p == MAP_FAILED) {
		snprintf(name, sizeof(name), "%s_error", key);
		json_err(name, "mmap", errno);
	}
}

/*
 * A memory BAR smaller than the host page: the kernel grants an mmap of the
 * whole page only when no other resource shares it.  Compare a register read
 * through that mapping with the same register read by pread().
 */
static void probe_small_bar(int devfd, struct vfio_region_info *r)
{
	uint32_t via_pread, via_mmap;
	void *p;

	p = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, devfd,
		 r->offset);
	json_mmap_result("mmap_page", p);
	if (p != MAP_FAILED) {
		via_mmap = *(volatile uint32_t *)p;
		munmap(p, page_size);
		json_hex("mmap_read", via_mmap);
	}
	p = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE, MAP_SHARED, devfd,
		 r->offset);
	json_mmap_result("mmap_2pages", p);
	if (p != MAP_FAILED)
		munmap(p, 2 * page_size);
	if (pread(devfd, &via_pread, 4, r->offset) == 4)
		json_hex("pread_read", le32toh(via_pread));
	else
		json_err("pread_error", "pread", errno);
}

static struct vfio_region_info *probe_region(int devfd, const char *bdf,
					     uint32_t index)
{
	struct vfio_region_info *r;
	uint64_t start, res_size, res_flags;

	obj_begin(NULL);
	json_u64("index", index);
	if (index < ARRAY_SIZE(pci_region_names))
		json_str("name", pci_region_names[index]);
	r = vfio_host_region_info(devfd, index);
	if (!r) {
		json_err(NULL, "VFIO_DEVICE_GET_REGION_INFO", errno);
		obj_end();
		return NULL;
	}
	json_u64("size", r->size);
	json_u64("offset", r->offset);
	json_u64("flags", r->flags);
	json_flags("flag_names", r->flags, region_flags, ARRAY_SIZE(region_flags));
	arr_begin("caps");
	if (r->flags & VFIO_REGION_INFO_FLAG_CAPS)
		walk_caps(r, r->argsz, r->cap_offset, region_cap);
	arr_end();
	if (index <= VFIO_PCI_BAR5_REGION_INDEX && r->size &&
	    vfio_host_sysfs_resource(bdf, index, &start, &res_size, &res_flags)) {
		json_str("kind", res_flags & VFIO_HOST_IORESOURCE_IO ? "io" :
				 res_flags & VFIO_HOST_IORESOURCE_MEM ? "mem" : "unknown");
		json_hex("phys", start);
		if (res_flags & VFIO_HOST_IORESOURCE_MEM) {
			json_bool("page_aligned", !(start & (page_size - 1)));
			if (r->size < (uint64_t)page_size)
				probe_small_bar(devfd, r);
		}
	}
	obj_end();
	return r;
}

static void probe_irqs(int devfd, uint32_t num_irqs)
{
	uint32_t i;

	arr_begin("irqs");
	for (i = 0; i < num_irqs; i++) {
		struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = i };

		obj_begin(NULL);
		json_u64("index", i);
		if (i < ARRAY_SIZE(pci_irq_names))
			json_str("name", pci_irq_names[i]);
		if (ioctl(devfd, VFIO_DEVICE_GET_IRQ_INFO, &irq) < 0) {
			json_err(NULL, "VFIO_DEVICE_GET_IRQ_INFO", errno);
		} else {
			json_u64("count", irq.count);
			json_flags("flag_names", irq.flags, irq_flags,
				   ARRAY_SIZE(irq_flags));
		}
		obj_end();
	}
	arr_end();
}

/* ---- MSI-X: capability from config space, table via pread and mmap ---- */

static void probe_msix(int devfd, struct vfio_region_info **regions,
		       uint32_t num_regions)
{
	struct vfio_region_info *bar;
	uint32_t table, word, page_off;
	VFIOHostMsix msix;
	uint8_t cfg[256];
	ssize_t len;
	void *p;

	len = vfio_host_device_config(devfd, cfg, sizeof(cfg));
	if (len < 0 || !vfio_host_msix(cfg, len, &msix))
		return;
	obj_begin("msix");
	json_u64("entries", msix.entries);
	json_u64("table_bar", msix.table_bar);
	json_u64("table_offset", msix.table_offset);
	json_u64("pba_bar", msix.pba_bar);
	json_u64("pba_offset", msix.pba_offset);
	table = msix.table_offset;
	bar = (uint32_t)msix.table_bar < num_regions ? regions[msix.table_bar] : NULL;
	if (!bar) {
		obj_end();
		return;
	}
	if (pread(devfd, &word, 4, bar->offset + table) == 4)
		json_hex("table_pread", le32toh(word));
	else
		json_err("table_pread_error", "pread", errno);
	/* The host page holding the first table entry. */
	page_off = table & ~(page_size - 1);
	p = mmap(NULL, page_size, PROT_READ, MAP_SHARED, devfd,
		 bar->offset + page_off);
	json_mmap_result("table_mmap", p);
	if (p != MAP_FAILED) {
		json_hex("table_mmap_read",
			 *(volatile uint32_t *)((char *)p + table - page_off));
		munmap(p, page_size);
	}
	obj_end();
}

/* ---- IOMMU description ---- */

static void type1_cap(struct vfio_info_cap_header *hdr, void *end)
{
	obj_begin(NULL);
	json_int("id", hdr->id);
	json_int("version", hdr->version);
	switch (hdr->id) {
	case VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE: {
		struct vfio_iommu_type1_info_cap_iova_range *c = (void *)hdr;
		uint32_t i;

		json_str("name", "IOVA_RANGE");
		arr_begin("ranges");
		for (i = 0; i < c->nr_iovas &&
			    (void *)&c->iova_ranges[i + 1] <= end; i++) {
			obj_begin(NULL);
			json_hex("start", c->iova_ranges[i].start);
			json_hex("end", c->iova_ranges[i].end);
			obj_end();
		}
		arr_end();
		break;
	}
	case VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION: {
		struct vfio_iommu_type1_info_cap_migration *c = (void *)hdr;

		json_str("name", "MIGRATION");
		json_u64("flags", c->flags);
		json_pgsizes("pgsizes", c->pgsize_bitmap);
		json_u64("max_dirty_bitmap_size", c->max_dirty_bitmap_size);
		break;
	}
	case VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL:
		json_str("name", "DMA_AVAIL");
		json_u64("avail", ((struct vfio_iommu_type1_info_dma_avail *)hdr)->avail);
		break;
	}
	obj_end();
}

/* Lowest IOVA of a range that can hold @size, aligned to 2 MiB. */
static uint64_t type1_pick_iova(struct vfio_iommu_type1_info *info, uint64_t size)
{
	uint32_t off = (info->flags & VFIO_IOMMU_INFO_CAPS) ? info->cap_offset : 0;
	struct vfio_iommu_type1_info_cap_iova_range *c;
	uint32_t i;

	c = (void *)vfio_host_cap_find(info, info->argsz, off,
				       VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	for (i = 0; c && i < c->nr_iovas; i++) {
		uint64_t s = (c->iova_ranges[i].start + HUGE_2M - 1) &
			     ~(HUGE_2M - 1);

		if (s < c->iova_ranges[i].end &&
		    c->iova_ranges[i].end - s + 1 >= size)
			return s;
	}
	return 0;
}

static struct vfio_iommu_type1_info *probe_type1_info(int container)
{
	struct vfio_iommu_type1_info tmpl = { 0 };
	struct vfio_iommu_type1_info *info;

	obj_begin("iommu");
	json_str("type", "TYPE1v2");
	info = vfio_host_get_info(container, VFIO_IOMMU_GET_INFO, &tmpl,
				  sizeof(tmpl));
	if (!info) {
		json_err(NULL, "VFIO_IOMMU_GET_INFO", errno);
		obj_end();
		return NULL;
	}
	json_u64("flags", info->flags);
	if (info->flags & VFIO_IOMMU_INFO_PGSIZES) {
		json_u64("iova_pgsizes", info->iova_pgsizes);
		json_pgsizes("iova_pgsize_names", info->iova_pgsizes);
	}
	arr_begin("caps");
	if (info->flags & VFIO_IOMMU_INFO_CAPS)
		walk_caps(info, info->argsz, info->cap_offset, type1_cap);
	arr_end();
	obj_end();
	return info;
}

static bool probe_spapr_info(int container, struct vfio_iommu_spapr_tce_info *info)
{
	*info = (struct vfio_iommu_spapr_tce_info){ .argsz = sizeof(*info) };
	obj_begin("iommu");
	json_str("type", "SPAPR_TCE_v2");
	if (ioctl(container, VFIO_IOMMU_SPAPR_TCE_GET_INFO, info) < 0) {
		json_err(NULL, "VFIO_IOMMU_SPAPR_TCE_GET_INFO", errno);
		obj_end();
		return false;
	}
	json_u64("flags", info->flags);
	json_bool("ddw", info->flags & VFIO_IOMMU_SPAPR_INFO_DDW);
	json_hex("dma32_window_start", info->dma32_window_start);
	json_u64("dma32_window_size", info->dma32_window_size);
	obj_begin("ddw_info");
	json_u64("pgsizes", info->ddw.pgsizes);
	json_pgsizes("pgsize_names", info->ddw.pgsizes);
	json_u64("max_dynamic_windows_supported",
		 info->ddw.max_dynamic_windows_supported);
	json_u64("levels", info->ddw.levels);
	obj_end();
	obj_end();
	return true;
}

/* ---- DMA timings ---- */

static int dma_map(int container, void *vaddr, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return ioctl(container, VFIO_IOMMU_MAP_DMA, &map);
}

static int dma_unmap(int container, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = iova,
		.size = size,
	};

	return ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap);
}

/* One map of the whole buffer, then its unmap. */
static void time_map_unmap(int container, void *buf, uint64_t iova, uint64_t size)
{
	uint64_t t0;

	json_u64("size", size);
	t0 = now_ns();
	if (dma_map(container, buf, iova, size) < 0) {
		json_err(NULL, "MAP_DMA", errno);
		return;
	}
	json_us("map_us", now_ns() - t0);
	t0 = now_ns();
	if (dma_unmap(container, iova, size) < 0) {
		json_err(NULL, "UNMAP_DMA", errno);
		return;
	}
	json_us("unmap_us", now_ns() - t0);
}

/* @size bytes as page-sized maps, then page-sized unmaps, one ioctl each. */
static void time_small_maps(int container, void *buf, uint64_t iova, uint64_t size)
{
	uint64_t n = size / page_size, i, t0, t;

	obj_begin("small");
	json_u64("count", n);
	json_u64("map_size", page_size);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if (dma_map(container, (char *)buf + i * page_size,
			    iova + i * page_size, page_size) < 0) {
			json_err(NULL, "MAP_DMA", errno);
			break;
		}
	}
	t = now_ns() - t0;
	json_u64("mapped", i);
	json_us("map_us", t);
	if (i)
		json_u64("map_ns_each", t / i);
	n = i;
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if (dma_unmap(container, iova + i * page_size, page_size) < 0) {
			json_err("unmap_error", "UNMAP_DMA", errno);
			break;
		}
	}
	t = now_ns() - t0;
	json_us("unmap_us", t);
	if (i)
		json_u64("unmap_ns_each", t / i);
	obj_end();
}

static void *alloc_buf(size_t size, int extra_flags)
{
	return mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
}

static void time_type1(int container, struct vfio_iommu_type1_info *info,
		       uint64_t small_size)
{
	uint64_t iova = type1_pick_iova(info, DMA_BUF_SIZE);
	void *buf;

	obj_begin("dma");
	json_hex("iova", iova);

	obj_begin("anon");
	buf = alloc_buf(DMA_BUF_SIZE, 0);
	if (buf == MAP_FAILED) {
		json_err(NULL, "mmap", errno);
	} else {
		time_map_unmap(container, buf, iova, DMA_BUF_SIZE);
		munmap(buf, DMA_BUF_SIZE);
	}
	obj_end();

	obj_begin("prefaulted");
	buf = alloc_buf(DMA_BUF_SIZE, MAP_POPULATE);
	if (buf == MAP_FAILED) {
		json_err(NULL, "mmap", errno);
	} else {
		time_map_unmap(container, buf, iova, DMA_BUF_SIZE);
		munmap(buf, DMA_BUF_SIZE);
	}
	obj_end();

	obj_begin("hugetlb_2m");
	buf = alloc_buf(DMA_BUF_SIZE, MAP_POPULATE | MAP_HUGETLB | MAP_HUGE_2MB);
	if (buf == MAP_FAILED) {
		json_err("skipped", "no 2M hugepages (set vm.nr_hugepages); mmap",
			 errno);
	} else {
		time_map_unmap(container, buf, iova, DMA_BUF_SIZE);
		munmap(buf, DMA_BUF_SIZE);
	}
	obj_end();

	buf = alloc_buf(small_size, MAP_POPULATE);
	if (buf == MAP_FAILED) {
		json_err("small_error", "mmap", errno);
	} else {
		time_small_maps(container, buf, iova, small_size);
		munmap(buf, small_size);
	}
	obj_end();
}

/*
 * sPAPR TCE v2: memory is preregistered (pinned) first, then mapped into the
 * default 32-bit window, which the kernel creates on the first map.
 */
static void time_spapr(int container, struct vfio_iommu_spapr_tce_info *info,
		       uint64_t small_size)
{
	struct vfio_iommu_spapr_register_memory reg = {
		.argsz = sizeof(reg),
		.size = DMA_BUF_SIZE,
	};
	uint64_t iova = info->dma32_window_start, t0;
	void *buf;

	obj_begin("dma");
	json_hex("iova", iova);
	if (small_size > DMA_BUF_SIZE)
		small_size = DMA_BUF_SIZE;
	if (info->dma32_window_size < DMA_BUF_SIZE) {
		errno = ENOSPC;
		json_err(NULL, "default window smaller than the buffer", errno);
		obj_end();
		return;
	}
	buf = alloc_buf(DMA_BUF_SIZE, 0);
	if (buf == MAP_FAILED) {
		json_err(NULL, "mmap", errno);
		obj_end();
		return;
	}
	reg.vaddr = (uintptr_t)buf;
	t0 = now_ns();
	if (ioctl(container, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &reg) < 0) {
		json_err(NULL, "SPAPR_REGISTER_MEMORY", errno);
		munmap(buf, DMA_BUF_SIZE);
		obj_end();
		return;
	}
	json_us("register_us", now_ns() - t0);

	obj_begin("registered");
	time_map_unmap(container, buf, iova, DMA_BUF_SIZE);
	obj_end();
	time_small_maps(container, buf, iova, small_size);

	t0 = now_ns();
	if (ioctl(container, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &reg) < 0)
		json_err("unregister_error", "SPAPR_UNREGISTER_MEMORY", errno);
	else
		json_us("unregister_us", now_ns() - t0);
	munmap(buf, DMA_BUF_SIZE);
	obj_end();
}

/* ---- one device ---- */

enum dma_mode { DMA_NONE, DMA_FIRST, DMA_ALL };

static void probe_device(const char *bdf, enum dma_mode dma, uint64_t small_size)
{
	struct vfio_region_info **regions = NULL;
	struct vfio_device_info info = { .argsz = sizeof(info) };
	char buf[256];
	VFIOHostGroup *g;
	uint32_t i;
	int num, devfd;

	js.depth = 0;
	js.comma[0] = false;
	obj_begin(NULL);
	json_str("bdf", bdf);
	read_sysfs_line(bdf, "vendor", buf, sizeof(buf));
	json_str("vendor", buf);
	read_sysfs_line(bdf, "device", buf, sizeof(buf));
	json_str("device", buf);
	driver_of(bdf, buf, sizeof(buf));
	json_str("driver", buf);
	json_u64("page_size", page_size);
	num = vfio_host_group_of(bdf);
	json_int("group", num);
	if (num < 0) {
		json_str("error", "no IOMMU group");
		goto out;
	}
	g = group_get(num);
	if (!g) {
		json_str("error", "too many IOMMU groups");
		goto out;
	}
	if (g->failed) {
		json_err(NULL, g->failed, g->err);
		goto out;
	}
	devfd = vfio_host_device_open(g, bdf);
	if (devfd < 0) {
		json_err(NULL, "VFIO_GROUP_GET_DEVICE_FD", errno);
		goto out;
	}
	obj_begin("info");
	if (ioctl(devfd, VFIO_DEVICE_GET_INFO, &info) < 0) {
		json_err(NULL, "VFIO_DEVICE_GET_INFO", errno);
		info.num_regions = info.num_irqs = 0;
	} else {
		json_u64("flags", info.flags);
		json_flags("flag_names", info.flags, device_flags,
			   ARRAY_SIZE(device_flags));
		json_u64("num_regions", info.num_regions);
		json_u64("num_irqs", info.num_irqs);
	}
	obj_end();

	regions = calloc(info.num_regions ? info.num_regions : 1, sizeof(*regions));
	arr_begin("regions");
	for (i = 0; regions && i < info.num_regions; i++)
		regions[i] = probe_region(devfd, bdf, i);
	arr_end();
	probe_irqs(devfd, info.num_irqs);
	if (regions)
		probe_msix(devfd, regions, info.num_regions);

	if (g->iommu_type == VFIO_TYPE1v2_IOMMU) {
		struct vfio_iommu_type1_info *ti = probe_type1_info(g->container);

		if (ti && (dma == DMA_ALL || (dma == DMA_FIRST && !dma_done))) {
			time_type1(g->container, ti, small_size);
			dma_done = true;
		}
		free(ti);
	} else {
		struct vfio_iommu_spapr_tce_info si;

		if (probe_spapr_info(g->container, &si) &&
		    (dma == DMA_ALL || (dma == DMA_FIRST && !dma_done))) {
			time_spapr(g->container, &si, small_size);
			dma_done = true;
		}
	}

	for (i = 0; regions && i < info.num_regions; i++)
		free(regions[i]);
	free(regions);
	close(devfd);
out:
	obj_end();
	putchar('\n');
	fflush(stdout);
}

static int is_bdf(const char *s)
{
	unsigned int d, b, s2, f;
	char end;

	return sscanf(s, "%4x:%2x:%2x.%1x%c", &d, &b, &s2, &f, &end) == 4;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every device bound to vfio-pci, sorted. */
static char **bound_devices(int *count)
{
	DIR *dir = opendir("/sys/bus/pci/drivers/vfio-pci");
	struct dirent *de;
	char **list = NULL;
	int n = 0;

	if (!dir) {
		*count = 0;
		return NULL;
	}
	while ((de = readdir(dir))) {
		char **p;

		if (!is_bdf(de->d_name))
			continue;
		p = realloc(list, (n + 1) * sizeof(*list));
		if (!p)
			break;
		list = p;
		list[n++] = strdup(de->d_name);
	}
	closedir(dir);
	if (n)
		qsort(list, n, sizeof(*list), cmp_str);
	*count = n;
	return list;
}

static void usage(void)
{
	fprintf(stderr, "usage: vfio-probe [-d none|first|all] [-s SIZE] [BDF...]\n"
		"       vfio-probe -k\n");
	exit(2);
}

/*
 * Keep one KVM VM for the L1's life.  The kernel enables the static key
 * preempt_notifier_key when the first VM is created and disables it when
 * the last one goes, patching its jump sites in __schedule at run time
 * while other vCPUs execute them.  Under the L0's multi-threaded TCG a
 * vCPU can then run the int3 of a patch already finished and oops
 * ("Oops: int3" at __schedule+0x432 on 6.12.117).  With a VM held, the
 * L2s the tests start never flip the key.
 */
static int hold_kvm_vm(void)
{
	int kvm, vm;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		perror("vfio-probe: /dev/kvm");
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM_NR, 0);
	if (vm < 0) {
		perror("vfio-probe: KVM_CREATE_VM");
		return 1;
	}
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	enum dma_mode dma = DMA_FIRST;
	uint64_t small_size = 16 * MiB;
	char **devs;
	int opt, n, i;

	while ((opt = getopt(argc, argv, "d:s:k")) != -1) {
		switch (opt) {
		case 'k':
			return hold_kvm_vm();
		case 'd':
			if (!strcmp(optarg, "none"))
				dma = DMA_NONE;
			else if (!strcmp(optarg, "first"))
				dma = DMA_FIRST;
			else if (!strcmp(optarg, "all"))
				dma = DMA_ALL;
			else
				usage();
			break;
		case 's':
			small_size = strtoull(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	page_size = sysconf(_SC_PAGESIZE);
	if (optind < argc) {
		devs = argv + optind;
		n = argc - optind;
	} else {
		devs = bound_devices(&n);
		if (!n) {
			fprintf(stderr, "vfio-probe: no device bound to vfio-pci\n");
			return 1;
		}
	}
	for (i = 0; i < n; i++)
		probe_device(devs[i], dma, small_size);
	return 0;
}
