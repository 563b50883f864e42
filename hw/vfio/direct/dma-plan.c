/*
 * vfio-direct: the DMA planner (pure logic, no QEMU state)
 *
 * Why: upstream maps one flat-view section per MAP_DMA and unmaps a
 * section when the flat view drops it.  On q35 the whole of RAM is one
 * section at realize; the reset-time PAM/SMRAM set-up then replaces it
 * by pieces, so upstream unmaps all of RAM and pins it again.  The plan
 * compares bytes, not sections: a mapping whose every byte is still
 * wanted, at the same host address, stays, whatever sections the flat
 * view now cuts it into.  Only mappings that lose a byte are unmapped,
 * always whole, and the bytes still wanted are mapped again.  New
 * mappings are cut at the legacy window's edges (and inside it at every
 * section edge), so a PAM or SMRAM change never re-pins more than that
 * window.  This is correct for type1 by construction: every unmap names
 * exactly one mapping we made.
 *
 * Copyright (c) 2026 The vfio-direct authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "dma-plan.h"

static uint64_t range_end(const VFIODirectDmaRange *r)
{
    return r->iova + r->size;
}

/* Does @b continue @a in iova and host address, in one block? */
static bool range_continues(const VFIODirectDmaRange *a,
                            const VFIODirectDmaRange *b)
{
    return range_end(a) == b->iova && a->hva + a->size == b->hva &&
           a->block == b->block && a->readonly == b->readonly;
}

static bool in_window(const VFIODirectDmaPlanConfig *cfg, uint64_t addr)
{
    return addr >= cfg->low_start && addr <= cfg->low_end;
}

/* Does @r share a byte with the window? */
static bool in_window_range(const VFIODirectDmaPlanConfig *cfg,
                            const VFIODirectDmaRange *r)
{
    return r->size && r->iova < cfg->low_end &&
           range_end(r) > cfg->low_start;
}

/* @want merged into maximal runs: what "every byte still wanted" means */
static GArray *plan_runs(const VFIODirectDmaRange *want, size_t n_want)
{
    GArray *runs = g_array_new(false, false, sizeof(VFIODirectDmaRange));
    size_t i;

    for (i = 0; i < n_want; i++) {
        VFIODirectDmaRange *last = runs->len ?
            &g_array_index(runs, VFIODirectDmaRange, runs->len - 1) : NULL;

        if (!want[i].size) {
            continue;
        }
        if (last && range_continues(last, &want[i])) {
            last->size += want[i].size;
        } else {
            g_array_append_val(runs, want[i]);
        }
    }
    return runs;
}

/* Is every byte of @m in @runs, at its host address? */
static bool plan_covered(GArray *runs, const VFIODirectDmaRange *m)
{
    guint lo = 0, hi = runs->len;

    /* the last run starting at or below m->iova */
    while (hi - lo > 1) {
        guint mid = (lo + hi) / 2;

        if (g_array_index(runs, VFIODirectDmaRange, mid).iova <= m->iova) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if (lo < runs->len) {
        const VFIODirectDmaRange *r = &g_array_index(runs, VFIODirectDmaRange,
                                                     lo);

        return r->iova <= m->iova && range_end(m) <= range_end(r) &&
               r->hva + (m->iova - r->iova) == m->hva &&
               r->block == m->block && r->readonly == m->readonly;
    }
    return false;
}

/*
 * Add the new piece @p to the plan: joined to the previous new mapping
 * when it continues it outside the window, cut at the window's edges.
 */
static void plan_emit(const VFIODirectDmaPlanConfig *cfg,
                      VFIODirectDmaPlan *plan, VFIODirectDmaRange p)
{
    while (p.size) {
        VFIODirectDmaRange piece = p;
        VFIODirectDmaRange *last = plan->map->len ?
            &g_array_index(plan->map, VFIODirectDmaRange, plan->map->len - 1) :
            NULL;

        if (p.iova < cfg->low_start && range_end(&p) > cfg->low_start) {
            piece.size = cfg->low_start - p.iova;
        } else if (p.iova < cfg->low_end && range_end(&p) > cfg->low_end) {
            piece.size = cfg->low_end - p.iova;
        }
        if (last && range_continues(last, &piece) &&
            !in_window(cfg, piece.iova)) {
            last->size += piece.size;
        } else {
            g_array_append_val(plan->map, piece);
        }
        plan->map_bytes += piece.size;
        p.iova += piece.size;
        p.hva += piece.size;
        p.size -= piece.size;
    }
}

bool vfio_direct_dma_plan(const VFIODirectDmaPlanConfig *cfg,
                          const VFIODirectDmaRange *mapped, size_t n_mapped,
                          const VFIODirectDmaRange *want, size_t n_want,
                          VFIODirectDmaPlan *plan)
{
    g_autoptr(GArray) runs = plan_runs(want, n_want);
    g_autoptr(GArray) kept = g_array_new(false, false,
                                         sizeof(VFIODirectDmaRange));
    guint i, j = 0;

    memset(plan, 0, sizeof(*plan));
    plan->unmap = g_array_new(false, false, sizeof(guint));
    plan->map = g_array_new(false, false, sizeof(VFIODirectDmaRange));

    for (i = 0; i < n_mapped; i++) {
        if (plan_covered(runs, &mapped[i])) {
            g_array_append_val(kept, mapped[i]);
        } else {
            g_array_append_val(plan->unmap, i);
        }
    }

    /* What @want needs beyond the kept mappings */
    for (i = 0; i < n_want; i++) {
        const VFIODirectDmaRange *w = &want[i];
        uint64_t cur = w->iova, end = range_end(w);
        guint k;

        while (j < kept->len &&
               range_end(&g_array_index(kept, VFIODirectDmaRange, j)) <=
               w->iova) {
            j++;
        }
        for (k = j; k < kept->len && cur < end; k++) {
            const VFIODirectDmaRange *m = &g_array_index(kept,
                                                         VFIODirectDmaRange,
                                                         k);

            if (m->iova >= end) {
                break;
            }
            if (m->iova > cur) {
                VFIODirectDmaRange p = *w;

                p.iova = cur;
                p.size = m->iova - cur;
                p.hva = w->hva + (cur - w->iova);
                plan_emit(cfg, plan, p);
            }
            cur = MAX(cur, range_end(m));
        }
        if (cur < end) {
            VFIODirectDmaRange p = *w;

            p.iova = cur;
            p.size = end - cur;
            p.hva = w->hva + (cur - w->iova);
            plan_emit(cfg, plan, p);
        }
    }

    for (i = 0; i < plan->map->len; i++) {
        const VFIODirectDmaRange *m = &g_array_index(plan->map,
                                                     VFIODirectDmaRange, i);

        if (m->size >= 2 * MiB && !vfio_direct_dma_congruent(m, 2 * MiB)) {
            plan->incongruent_2m++;
        }
        if (m->size >= GiB && !vfio_direct_dma_congruent(m, GiB)) {
            plan->incongruent_1g++;
        }
    }

    /* The window after the plan: what it holds, what it may need */
    {
        uint32_t in_window = 0;
        bool wanted = false;

        for (i = 0; i < kept->len; i++) {
            in_window += in_window_range(
                cfg, &g_array_index(kept, VFIODirectDmaRange, i));
        }
        for (i = 0; i < plan->map->len; i++) {
            in_window += in_window_range(
                cfg, &g_array_index(plan->map, VFIODirectDmaRange, i));
        }
        for (i = 0; i < n_want && !wanted; i++) {
            wanted = in_window_range(cfg, &want[i]);
        }
        if (wanted && in_window < VFIO_DIRECT_DMA_WINDOW_MAX) {
            plan->window_reserve = VFIO_DIRECT_DMA_WINDOW_MAX - in_window;
        }
    }

    plan->in_use = n_mapped - plan->unmap->len + plan->map->len;
    plan->fits = cfg->dma_avail < 0 ||
                 plan->map->len <= cfg->dma_avail + plan->unmap->len;
    return plan->fits;
}

size_t vfio_direct_dma_plan_overlap(const VFIODirectDmaRange *mapped,
                                    size_t n_mapped, uint64_t start,
                                    Int128 size, size_t *count)
{
    size_t lo = 0, hi = n_mapped, i;
    uint64_t last;

    *count = 0;
    if (!int128_nz(size)) {
        return n_mapped;
    }
    /* Inclusive ends: neither 2^64 nor start + 2^64 fits in 64 bits */
    last = int128_get64(int128_sub(int128_add(int128_make64(start), size),
                                   int128_one()));
    /* the first mapping whose last byte is at or above @start */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (mapped[mid].iova + (mapped[mid].size - 1) < start) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (i = lo; i < n_mapped && mapped[i].iova <= last; i++) {
        (*count)++;
    }
    return lo;
}

void vfio_direct_dma_plan_free(VFIODirectDmaPlan *plan)
{
    g_array_free(plan->unmap, true);
    g_array_free(plan->map, true);
    plan->unmap = plan->map = NULL;
}
