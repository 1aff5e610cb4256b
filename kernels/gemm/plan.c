/* plan.c - the caches the GEMM driver plans with when the CPU describes none, and their sanity checks. */
#include "gemm/plan.h"

bpq_caches bpq_caches_default(void) {
    bpq_caches c = {64, 32u << 10, 512u << 10, 2u << 20, 8, 8, 16, 0};
    return c;
}

void bpq_caches_sanitize(bpq_caches *c) {
    const bpq_caches d = bpq_caches_default();
    if (c->line < 16 || c->line > 512)
        c->line = d.line;
    if (c->l1 < (4u << 10) || c->l1 > (4u << 20))
        c->l1 = d.l1, c->l1_ways = d.l1_ways;
    if (c->l2 <= c->l1)
        c->l2 = c->l1 * 8 > d.l2 ? c->l1 * 8 : d.l2, c->l2_ways = d.l2_ways;
    if (c->l3 < c->l2)
        c->l3 = c->l2;
    if (c->l1_ways < 2)
        c->l1_ways = d.l1_ways;
    if (c->l2_ways < 2)
        c->l2_ways = d.l2_ways;
    if (c->l3_ways < 2)
        c->l3_ways = d.l3_ways;
}

