/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Unit tests of hw/vfio/direct/tce-plan.c: which TCEs of a hypercall one
 * MAP_DMA or UNMAP_DMA covers.
 *
 * Copyright (c) 2026 The vfio-direct authors
 */

#include "qemu/osdep.h"
#include "hw/vfio/direct/tce-plan.h"

#define PAGE_4K             0x1000ULL
#define PAGE_64K            0x10000ULL
#define IOVA                0x800000000ULL  /* a 64-bit DDW window */
#define VADDR               0x7fff00000000ULL
#define RAM_ADDR            0x40000000ULL

/* A TCE of @size at entry @i set to guest RAM entry @ram (-1: clear) */
static VFIOTceEntry entry(uint64_t size, uint64_t i, int64_t ram)
{
    VFIOTceEntry e = { .iova = IOVA + i * size, .size = size };

    if (ram >= 0) {
        e.map = true;
        e.vaddr = VADDR + ram * size;
        e.ram_addr = RAM_ADDR + ram * size;
    }
    return e;
}

/*
 * Feed @n entries through the same collection tce.c does: a run that
 * does not take the next entry is closed.  Returns the runs closed.
 */
static GArray *collect(const VFIOTceEntry *e, unsigned n)
{
    GArray *runs = g_array_new(false, false, sizeof(VFIOTceRun));
    VFIOTceRun run = { 0 };
    unsigned i;

    for (i = 0; i < n; i++) {
        if (!vfio_direct_tce_run_takes(&run, &e[i])) {
            g_array_append_val(runs, run);
            run = (VFIOTceRun) { 0 };
        }
        vfio_direct_tce_run_add(&run, &e[i]);
    }
    if (run.entries) {
        g_array_append_val(runs, run);
    }
    return runs;
}

static VFIOTceRun *run_at(GArray *runs, unsigned i)
{
    return &g_array_index(runs, VFIOTceRun, i);
}

/* H_PUT_TCE_INDIRECT of 512 64 KiB TCEs onto contiguous RAM: one run */
static void test_indirect_512(void)
{
    VFIOTceEntry e[512];
    GArray *runs;
    unsigned i;

    for (i = 0; i < 512; i++) {
        e[i] = entry(PAGE_64K, i, i);
    }
    runs = collect(e, 512);
    g_assert_cmpuint(runs->len, ==, 1);
    g_assert_cmpuint(run_at(runs, 0)->entries, ==, 512);
    g_assert_cmpuint(run_at(runs, 0)->size, ==, 512 * PAGE_64K);
    g_assert_cmphex(run_at(runs, 0)->first.iova, ==, IOVA);
    g_assert_cmphex(run_at(runs, 0)->first.vaddr, ==, VADDR);
    g_array_free(runs, true);
}

/* H_STUFF_TCE of one TCE value: each entry points at the same page */
static void test_stuff_same_page(void)
{
    VFIOTceEntry e[8];
    GArray *runs;
    unsigned i;

    for (i = 0; i < 8; i++) {
        e[i] = entry(PAGE_4K, i, 5);
    }
    runs = collect(e, 8);
    g_assert_cmpuint(runs->len, ==, 8);
    g_array_free(runs, true);
}

/* H_STUFF_TCE of 0 (clear): one unmap run, whatever the entries held */
static void test_stuff_clear(void)
{
    VFIOTceEntry e[1000];
    GArray *runs;
    unsigned i;

    for (i = 0; i < 1000; i++) {
        e[i] = entry(PAGE_4K, i, -1);
    }
    runs = collect(e, 1000);
    g_assert_cmpuint(runs->len, ==, 1);
    g_assert_false(run_at(runs, 0)->first.map);
    g_assert_cmpuint(run_at(runs, 0)->size, ==, 1000 * PAGE_4K);
    g_array_free(runs, true);
}

/*
 * Partial clears in the middle of a list of set TCEs: set 0-99, clear
 * 100-149, set 150-199 (continuing RAM after a gap): three runs, and the
 * set runs never cover a cleared entry.
 */
static void test_clears_in_the_middle(void)
{
    VFIOTceEntry e[200];
    GArray *runs;
    unsigned i;

    for (i = 0; i < 200; i++) {
        e[i] = entry(PAGE_64K, i, i >= 100 && i < 150 ? -1 : (int64_t)i);
    }
    runs = collect(e, 200);
    g_assert_cmpuint(runs->len, ==, 3);
    g_assert_true(run_at(runs, 0)->first.map);
    g_assert_cmpuint(run_at(runs, 0)->entries, ==, 100);
    g_assert_false(run_at(runs, 1)->first.map);
    g_assert_cmphex(run_at(runs, 1)->first.iova, ==, IOVA + 100 * PAGE_64K);
    g_assert_cmpuint(run_at(runs, 1)->entries, ==, 50);
    g_assert_true(run_at(runs, 2)->first.map);
    g_assert_cmphex(run_at(runs, 2)->first.vaddr, ==, VADDR + 150 * PAGE_64K);
    g_assert_cmpuint(run_at(runs, 2)->entries, ==, 50);
    g_array_free(runs, true);
}

/* What breaks a run of set TCEs */
static void test_breaks(void)
{
    VFIOTceRun run = { 0 };
    VFIOTceEntry first = entry(PAGE_64K, 0, 0);
    VFIOTceEntry next = entry(PAGE_64K, 1, 1);
    VFIOTceEntry e;

    vfio_direct_tce_run_add(&run, &first);
    g_assert_true(vfio_direct_tce_run_takes(&run, &next));

    /* the next IOVA but RAM elsewhere */
    e = next;
    e.vaddr += PAGE_64K;
    e.ram_addr += PAGE_64K;
    g_assert_false(vfio_direct_tce_run_takes(&run, &e));
    /* contiguous host addresses, but another RAM block */
    e = next;
    e.ram_addr += 0x100000000ULL;
    g_assert_false(vfio_direct_tce_run_takes(&run, &e));
    /* a gap in IOVA */
    e = entry(PAGE_64K, 2, 1);
    g_assert_false(vfio_direct_tce_run_takes(&run, &e));
    /* backwards */
    e = entry(PAGE_64K, 0, 1);
    g_assert_false(vfio_direct_tce_run_takes(&run, &e));
    /* other permissions */
    e = next;
    e.read_only = true;
    g_assert_false(vfio_direct_tce_run_takes(&run, &e));
    /* a clear */
    e = entry(PAGE_64K, 1, -1);
    g_assert_false(vfio_direct_tce_run_takes(&run, &e));
    /* another page size */
    e = next;
    e.size = PAGE_4K;
    g_assert_false(vfio_direct_tce_run_takes(&run, &e));
}

/* A run never wraps around the IOVA or the host address space */
static void test_no_wrap(void)
{
    VFIOTceRun run = { 0 };
    VFIOTceEntry e = {
        .iova = -PAGE_4K, .size = PAGE_4K, .map = true,
        .vaddr = VADDR, .ram_addr = RAM_ADDR,
    };
    VFIOTceEntry wrapped = e;

    vfio_direct_tce_run_add(&run, &e);
    wrapped.iova = 0;
    wrapped.vaddr += PAGE_4K;
    wrapped.ram_addr += PAGE_4K;
    g_assert_false(vfio_direct_tce_run_takes(&run, &wrapped));

    run = (VFIOTceRun) { 0 };
    e.iova = IOVA;
    e.vaddr = -PAGE_4K;
    vfio_direct_tce_run_add(&run, &e);
    wrapped = entry(PAGE_4K, 1, 0);
    wrapped.iova = IOVA + PAGE_4K;
    wrapped.vaddr = 0;
    wrapped.ram_addr = RAM_ADDR + PAGE_4K;
    g_assert_false(vfio_direct_tce_run_takes(&run, &wrapped));
}

/* The entries of a run, for the TCE-by-TCE retry after a failed map */
static void test_entries(void)
{
    VFIOTceRun run = { 0 };
    VFIOTceEntry e;
    unsigned i;

    for (i = 0; i < 4; i++) {
        e = entry(PAGE_64K, 10 + i, 20 + i);
        vfio_direct_tce_run_add(&run, &e);
    }
    for (i = 0; i < 4; i++) {
        VFIOTceEntry want = entry(PAGE_64K, 10 + i, 20 + i);

        e = vfio_direct_tce_run_entry(&run, i);
        g_assert_cmphex(e.iova, ==, want.iova);
        g_assert_cmphex(e.vaddr, ==, want.vaddr);
        g_assert_cmphex(e.ram_addr, ==, want.ram_addr);
        g_assert_cmphex(e.size, ==, PAGE_64K);
        g_assert_true(e.map);
    }
}

/*
 * Random lists: every entry lies in exactly one run, the runs keep the
 * entries' order, and each run is one kind, one permission and
 * contiguous in both address spaces.
 */
static void test_random(void)
{
    GRand *rand = g_rand_new_with_seed(11);
    unsigned round;

    for (round = 0; round < 2000; round++) {
        unsigned n = g_rand_int_range(rand, 1, 513), i, r, seen = 0;
        VFIOTceEntry *e = g_new(VFIOTceEntry, n);
        int64_t ram = g_rand_int_range(rand, 0, 64);
        GArray *runs;

        for (i = 0; i < n; i++) {
            switch (g_rand_int_range(rand, 0, 8)) {
            case 0:
                e[i] = entry(PAGE_64K, i, -1);
                break;
            case 1:
                ram = g_rand_int_range(rand, 0, 4096);
                /* fall through */
            default:
                e[i] = entry(PAGE_64K, i, ram++);
                e[i].read_only = g_rand_int_range(rand, 0, 16) == 0;
            }
        }
        runs = collect(e, n);
        for (r = 0; r < runs->len; r++) {
            VFIOTceRun *run = run_at(runs, r);

            for (i = 0; i < run->entries; i++) {
                VFIOTceEntry got = vfio_direct_tce_run_entry(run, i);
                VFIOTceEntry *want = &e[seen + i];

                g_assert_cmphex(got.iova, ==, want->iova);
                g_assert_cmpint(got.map, ==, want->map);
                if (want->map) {
                    g_assert_cmphex(got.vaddr, ==, want->vaddr);
                    g_assert_cmphex(got.ram_addr, ==, want->ram_addr);
                    g_assert_cmpint(got.read_only, ==, want->read_only);
                }
            }
            seen += run->entries;
        }
        g_assert_cmpuint(seen, ==, n);
        g_array_free(runs, true);
        g_free(e);
    }
    g_rand_free(rand);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vfio-direct/tce/indirect-512", test_indirect_512);
    g_test_add_func("/vfio-direct/tce/stuff-same-page", test_stuff_same_page);
    g_test_add_func("/vfio-direct/tce/stuff-clear", test_stuff_clear);
    g_test_add_func("/vfio-direct/tce/clears-in-the-middle",
                    test_clears_in_the_middle);
    g_test_add_func("/vfio-direct/tce/breaks", test_breaks);
    g_test_add_func("/vfio-direct/tce/no-wrap", test_no_wrap);
    g_test_add_func("/vfio-direct/tce/entries", test_entries);
    g_test_add_func("/vfio-direct/tce/random", test_random);
    return g_test_run();
}
