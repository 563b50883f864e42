/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Unit tests of hw/vfio/direct/ddw-plan.c: which DDW page
 * sizes a pseries guest is offered, and which host IOMMU page size
 * backs each.
 *
 * Copyright (c) 2026 The vfio-direct authors
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"
#include "hw/vfio/direct/ddw-plan.h"

#define SZ_4K   (1ULL << 12)
#define SZ_64K  (1ULL << 16)
#define SZ_2M   (1ULL << 21)
#define SZ_16M  (1ULL << 24)
#define SZ_256M (1ULL << 28)
#define SZ_1G   (1ULL << 30)
#define SZ_16G  (1ULL << 34)

/* The PHB's default pgsz, and what the test bed's L1 kernel reports */
#define PHB_DEFAULT (SZ_4K | SZ_64K | SZ_2M | SZ_16M)
/* POWER8 PHB3 on a PowerNV host: no 2M */
#define HOST_P8 (SZ_4K | SZ_64K | SZ_16M | SZ_256M)

typedef struct BackingCase {
    const char *name;
    uint64_t page, host, ram, expected;
} BackingCase;

static const BackingCase backing_cases[] = {
    /* The host has the size and RAM is backed by pages at least as big */
    { "native-64k", SZ_64K, PHB_DEFAULT, SZ_64K, SZ_64K },
    { "native-16m-hugetlb", SZ_16M, PHB_DEFAULT, SZ_16M, SZ_16M },
    /* 16M guest pages on 64K RAM pages: 64K host TCEs, 256 per TCE */
    { "16m-on-64k-ram", SZ_16M, PHB_DEFAULT, SZ_64K, SZ_64K },
    /* 2M guest pages on a P8 host (no 2M): 64K host pages */
    { "2m-on-p8", SZ_2M, HOST_P8, SZ_1G, SZ_64K },
    /* Larger than any host size: the largest host size below RAM's */
    { "16g-on-2m-hugetlb", SZ_16G, HOST_P8, SZ_2M, SZ_64K },
    { "16g-on-1g-hugetlb", SZ_16G, HOST_P8, SZ_1G, SZ_256M },
    /* 4K guest pages on a host without 4K: nothing can back them */
    { "4k-no-host-4k", SZ_4K, SZ_64K | SZ_16M, SZ_64K, 0 },
    /* RAM on pages smaller than every host size */
    { "ram-below-host", SZ_16M, SZ_64K | SZ_16M, SZ_4K, 0 },
    /* A RAM page size that is not a power of two never happens; safe */
    { "odd-ram", SZ_2M, PHB_DEFAULT, 3 * SZ_64K, SZ_64K },
    { "zero-page", 0, PHB_DEFAULT, SZ_64K, 0 },
    { "no-host-sizes", SZ_64K, 0, SZ_64K, 0 },
};

static void test_backing(gconstpointer opaque)
{
    const BackingCase *c = opaque;

    g_assert_cmphex(vfio_direct_ddw_backing(c->page, c->host, c->ram), ==,
                    c->expected);
}

typedef struct OfferCase {
    const char *name;
    uint64_t phb;
    uint64_t host[2];
    unsigned n;
    uint64_t ram, expected;
} OfferCase;

static const OfferCase offer_cases[] = {
    /* No vfio container on the PHB: exactly the PHB's sizes */
    { "no-container", PHB_DEFAULT | SZ_256M, { 0 }, 0, SZ_64K,
      PHB_DEFAULT | SZ_256M },
    { "no-container-no-host-4k", PHB_DEFAULT, { 0 }, 0, SZ_4K, PHB_DEFAULT },
    /* The test bed: every PHB size can be backed, nothing is dropped */
    { "testbed", PHB_DEFAULT, { PHB_DEFAULT }, 1, SZ_64K, PHB_DEFAULT },
    /* Sizes beyond the host's are backed by smaller host pages */
    { "testbed-256m-16g", PHB_DEFAULT | SZ_256M | SZ_16G, { PHB_DEFAULT }, 1,
      SZ_64K, PHB_DEFAULT | SZ_256M | SZ_16G },
    /* A host without 4K: 4K is dropped, the rest stays */
    { "host-64k-16m", PHB_DEFAULT, { SZ_64K | SZ_16M }, 1, SZ_64K,
      SZ_64K | SZ_2M | SZ_16M },
    /* Two containers: what both can back */
    { "two-containers", PHB_DEFAULT, { PHB_DEFAULT, SZ_2M | SZ_16M }, 2,
      SZ_16M, SZ_2M | SZ_16M },
    /* A 4K-page host whose IOMMU starts at 64K: nothing works */
    { "ram-below-host", PHB_DEFAULT, { SZ_64K | SZ_16M }, 1, SZ_4K, 0 },
    /* The PHB's sizes bound the answer: never a size it lacks */
    { "phb-bounds", SZ_64K, { PHB_DEFAULT }, 1, SZ_16M, SZ_64K },
    /* pseries-2.5's pgsz (4K|64K) */
    { "pgsz-0x11000", 0x11000, { HOST_P8 }, 1, SZ_64K, 0x11000 },
};

static void test_offer(gconstpointer opaque)
{
    const OfferCase *c = opaque;

    g_assert_cmphex(vfio_direct_ddw_offer(c->phb, c->host, c->n,
                                                 c->ram), ==, c->expected);
}

/*
 * Against the rule stated independently: S is offered iff the PHB has
 * it and, for every container, some host size h has h <= S and h <= R.
 * Every offered size must also get a backing that the host has and that
 * divides the guest page (so a guest TCE is whole host TCEs).
 */
static void test_random(void)
{
    GRand *rand = g_rand_new_with_seed(11);
    int iter;

    for (iter = 0; iter < 20000; iter++) {
        uint64_t phb = ((uint64_t)g_rand_int(rand) << 32 | g_rand_int(rand))
                       & ~0xfffULL;
        uint64_t host[3], ram = 1ULL << g_rand_int_range(rand, 12, 35);
        unsigned n = g_rand_int_range(rand, 0, 4), i, s, h;
        uint64_t got, want = 0;

        for (i = 0; i < n; i++) {
            host[i] = (uint64_t)g_rand_int(rand) << 12 &
                      ((1ULL << 40) - 1);
        }
        for (s = 0; s < 64; s++) {
            bool ok = phb & (1ULL << s);

            for (i = 0; ok && i < n; i++) {
                bool any = false;

                for (h = 0; h <= s; h++) {
                    any |= (host[i] & (1ULL << h)) && (1ULL << h) <= ram;
                }
                ok = any;
            }
            want |= ok ? 1ULL << s : 0;
        }
        got = vfio_direct_ddw_offer(phb, host, n, ram);
        g_assert_cmphex(got, ==, n ? want : phb);
        for (s = 0; s < 64 && n; s++) {
            uint64_t b;

            if (!(got & (1ULL << s))) {
                continue;
            }
            for (i = 0; i < n; i++) {
                b = vfio_direct_ddw_backing(1ULL << s, host[i], ram);
                g_assert_cmphex(b & host[i], ==, b);
                g_assert_cmpint(ctpop64(b), ==, 1);
                g_assert_cmpuint(b, <=, 1ULL << s);
                g_assert_cmpuint(b, <=, ram);
            }
        }
    }
    g_rand_free(rand);
}

/*
 * A refusal counts against the containers that cannot back the size and
 * no other: one container without 4K among three refuses 4K pages alone.
 */
static void test_refusers_one(void)
{
    const uint64_t host[] = { PHB_DEFAULT, SZ_64K | SZ_16M, PHB_DEFAULT };
    bool refuses[3] = { true, false, true };

    g_assert_cmpuint(vfio_direct_ddw_refusers(SZ_4K, host, 3, SZ_64K,
                                              refuses), ==, 1);
    g_assert_false(refuses[0]);
    g_assert_true(refuses[1]);
    g_assert_false(refuses[2]);
    /* 64K pages: everyone can */
    g_assert_cmpuint(vfio_direct_ddw_refusers(SZ_64K, host, 3, SZ_64K,
                                              refuses), ==, 0);
    g_assert_false(refuses[1]);
    /* RAM on 4K pages: only the one without 4K refuses 16M too */
    g_assert_cmpuint(vfio_direct_ddw_refusers(SZ_16M, host, 3, SZ_4K,
                                              refuses), ==, 1);
    g_assert_true(refuses[1]);
}

/*
 * No limit on the containers of a PHB: the 40th, the only one that
 * cannot back 4K pages, takes 4K out of the offer and alone refuses it.
 */
static void test_refusers_many(void)
{
    uint64_t host[40];
    bool refuses[40];
    unsigned i;

    for (i = 0; i < 40; i++) {
        host[i] = PHB_DEFAULT;
    }
    host[39] = SZ_64K | SZ_2M | SZ_16M;
    g_assert_cmphex(vfio_direct_ddw_offer(PHB_DEFAULT, host, 40, SZ_64K), ==,
                    SZ_64K | SZ_2M | SZ_16M);
    g_assert_cmphex(vfio_direct_ddw_offer(PHB_DEFAULT, host, 39, SZ_64K), ==,
                    PHB_DEFAULT);
    g_assert_cmpuint(vfio_direct_ddw_refusers(SZ_4K, host, 40, SZ_64K,
                                              refuses), ==, 1);
    for (i = 0; i < 40; i++) {
        g_assert_cmpint(refuses[i], ==, i == 39);
    }
}

/*
 * Against the offer: a PHB size is offered iff no container refuses it,
 * and every refuser is exactly a container with no backing.
 */
static void test_refusers_random(void)
{
    GRand *rand = g_rand_new_with_seed(24);
    int iter;

    for (iter = 0; iter < 5000; iter++) {
        uint64_t host[64], ram = 1ULL << g_rand_int_range(rand, 12, 35);
        unsigned n = g_rand_int_range(rand, 1, 65), i, s, count;
        bool refuses[64];
        uint64_t offered;

        for (i = 0; i < n; i++) {
            host[i] = (uint64_t)g_rand_int(rand) << 12 &
                      ((1ULL << 40) - 1);
        }
        offered = vfio_direct_ddw_offer(~0ULL << 12, host, n, ram);
        for (s = 12; s < 64; s++) {
            count = vfio_direct_ddw_refusers(1ULL << s, host, n, ram,
                                             refuses);
            g_assert_cmpint(!count, ==, !!(offered & (1ULL << s)));
            for (i = 0; i < n; i++) {
                g_assert_cmpint(refuses[i], ==,
                                !vfio_direct_ddw_backing(1ULL << s, host[i],
                                                         ram));
                count -= refuses[i];
            }
            g_assert_cmpuint(count, ==, 0);
        }
    }
    g_rand_free(rand);
}

int main(int argc, char **argv)
{
    size_t i;

    g_test_init(&argc, &argv, NULL);
    for (i = 0; i < ARRAY_SIZE(backing_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/vfio-direct/ddw/backing/%s",
                            backing_cases[i].name);

        g_test_add_data_func(path, &backing_cases[i], test_backing);
    }
    for (i = 0; i < ARRAY_SIZE(offer_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/vfio-direct/ddw/offer/%s",
                            offer_cases[i].name);

        g_test_add_data_func(path, &offer_cases[i], test_offer);
    }
    g_test_add_func("/vfio-direct/ddw/random", test_random);
    g_test_add_func("/vfio-direct/ddw/refusers/one", test_refusers_one);
    g_test_add_func("/vfio-direct/ddw/refusers/many", test_refusers_many);
    g_test_add_func("/vfio-direct/ddw/refusers/random",
                    test_refusers_random);
    return g_test_run();
}
