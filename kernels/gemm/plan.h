/* plan.h - block sizes of the shared GEMM driver, derived from the CPU's caches by a written model. */
#ifndef BPQ_GEMM_PLAN_H
#define BPQ_GEMM_PLAN_H

#include <stddef.h>

#include "gemm/gemm.h"

/* The data caches of the core a call runs on, as detected once by src/cpu_*.c
 * (bytes; ways 0 when unknown). l3 is this core's share of the last level. */
typedef struct bpq_caches {
    size_t line;
    size_t l1, l2, l3;
    unsigned l1_ways, l2_ways, l3_ways;
    int detected; /* 0: the defaults of bpq_caches_default() */
} bpq_caches;

/* Conservative figures for a CPU that describes none of its caches. */
bpq_caches bpq_caches_default(void);
/* Fills in what a detection left out (0 sizes or ways) and clamps nonsense. */
void bpq_caches_sanitize(bpq_caches *c);

/* The caches the driver plans with: the detected ones, or what a test set. */
const bpq_caches *bpq_machine_caches(void);
/* Tests only: plan with these caches instead (NULL: back to the detected
 * ones). Block sizes never change results, so a test can shrink the caches
 * to run every blocking path on small shapes and compare bits. */
void bpq_set_machine_caches(const bpq_caches *c);

/* What the plan needs to know about one call and about the ISA's tile. */
typedef struct bpq_gemm_shape {
    int op;                   /* BPQ_GEMM_FORWARD, _BP2, _BP4 */
    size_t m, n, k;           /* after the narrow columns are taken out of n */
    size_t n_full;            /* all of N, narrow columns included */
    size_t lda;               /* forward/BP2: A's row stride in floats */
    size_t mr, nr, min_rows;  /* the ISA's tile */
    size_t a_slack;           /* floats after each packed group of mr rows */
    int always_pack_a;        /* the ISA's tile reads A only packed */
    size_t wide_cols;         /* columns of a wide tile when M is that small, else 0 */
    size_t narrow_ws;         /* floats the ISA's narrow path borrows from the workspace */
} bpq_gemm_shape;

/* Block sizes and the workspace layout of one call (all in floats). */
typedef struct bpq_gemm_plan {
    size_t kc;         /* k block */
    size_t mc, nc;     /* an output block: mc rows, nc columns (its sums wait in ws) */
    size_t nb;         /* columns of B packed at once (forward: one panel) */
    int rows_inner;    /* strips inside the tiles' rows: the output is walked along its rows */
    int b_in_place;    /* BP2/BP4 tiles read full strips of B's rows unpacked */
    int pack_a;        /* A packed per k block of an output block; else read in place */
    size_t b_off, a_off, park_off; /* workspace: packed B, packed A, parked sums */
    size_t ws_floats;  /* the whole workspace, a multiple of 16 */
} bpq_gemm_plan;


/* The plan for shape s on caches c whose workspace fits in budget floats
 * (budget 0: no limit). Inline, so that in each ISA's driver the tile's
 * sizes are constants and a call plans with a couple of divisions (tiny
 * calls pay for every nanosecond). */
/*
 * The model (after the analytical model of Low et al., "Analytical modeling
 * is enough for high-performance BLIS", 2016, restated for this driver's
 * loop nest; gemm/driver.h has the loops):
 *
 *   innermost, per tile: an mr x nr tile of sums in registers, fed per k
 *   step by one row of a packed B panel (nr floats) and mr values of A.
 *   The panel (kc x nr) is reused by every tile of an output block, so it
 *   stays in L1 while the tiles' A values stream past it.
 *
 * kc. The L1 holds the B panel in use and the next one, and the current
 *   and next A micro-panel (mr x kc), with one way left for the parked sums
 *   and the stack:   2 (nr + mr) kc 4 bytes <= L1 (ways - 1) / ways.
 *   AVX2 (6 x 16) on a 48 KiB 12-way L1: kc = 256; on 32 KiB 8-way: 160.
 * The L2 holds what the tiles of an output block (mc x nc) come back to:
 *   - the block of A for the current k block, mc x kc, re-read by every
 *     strip of nr columns: a quarter of the L2;
 *   - the parked sums of the output block, mc x nc, which every k block
 *     continues (the fma chains go on from them; block partials are never
 *     added together): half of the L2. They are kept tile by tile, each
 *     tile's rows one after the other, never in the output: an output
 *     whose row stride is a multiple of 4 KiB puts the rows of a tile, and
 *     of A beside them, in one L1 set (parking in the output measured 6-9%
 *     slower on 128 x 1024 x 1024);
 *   - the packed chunk of B, kc x nb: an eighth. BP2's and BP4's B rows run
 *     along n, so when B lies beyond the L2 a chunk is read as kc runs of
 *     nb floats (long runs for the prefetchers, the DRAM pages and the TLB;
 *     one panel at a time read one line of each row, a page apart at n >=
 *     1024). A smaller B is packed one panel (kc x nr) at a time, right
 *     before its tiles, so the panel is still in L1 when they read it (a
 *     whole chunk packed first measured 18% slower on BP4 64 x 128 x 10).
 *     The forward pass reads B = W^T from rows of W along k: a panel is
 *     already nr runs of kc floats, so it always goes panel by panel.
 * mc and nc. B is packed again for every output block's rows (a transposing
 *   pack costs a few times an element's share of the multiply, so about
 *   6 / mc of the work for the forward pass), and a packed A again for its
 *   columns (6 / nc): with A packed, mc and nc are balanced within the
 *   parking budget (mc = nc); with A read in place, mc takes what the L2
 *   allows and nc the rest.
 * Packing A (forward, BP2: A rows run along k). It pays when A's row stride
 *   piles its rows into a few L2 sets, where the block would not stay: rows
 *   lda floats apart cover only kc 4 / gcd(4 lda, way bytes) of the sets
 *   (1/16 of them at lda = 4096, kc = 256 on a 2 MiB 16-way L2). Otherwise
 *   the rows are read in place. BP4's A is a block of columns of delta and
 *   is always packed.
 * A K that fits one k block needs no parking: the output block is all of N.
 * Short k blocks (kc <= 64) into an output larger than the L2. A tile then
 *   does 6 kc cycles of FMAs (AVX2) against writing, and often reading
 *   first, 6 lines of the output: at a few bytes per cycle from L3 or DRAM,
 *   the output is the cost. Walking it down
 *   a strip, tile after tile, touches a new line in a new page (a row
 *   apart) at every row; so instead each group of rows runs across the
 *   strips of a chunk of B that fits half the L1 (packed whole first), and
 *   the output is written along its rows, a few long runs at a time
 *   (rows_inner). BP4 8 x 2048 x 2048 (16 MiB of dW) ran 8 times faster so
 *   in the sweep's side-by-side runs, 4 x 7348 x 859 5 times.
 *
 * A budget (the stack fallback when no heap memory is to be had) shrinks
 * nc, then mc, then kc, until the workspace fits. Blocking never changes a
 * result's bits, only where the sums wait.
 */

#define BPQ_PLAN_KC_MIN 16
#define BPQ_PLAN_KC_MAX 1024
#define BPQ_PLAN_KC_OUTPUT 64 /* k blocks up to this long are bound by the output */
#define BPQ_PLAN_KC_STREAMS 32 /* B rows read at once in place from beyond the L2 */

/* gcd(a, b); when b is a power of two (a way of every common cache) that
 * is the lowest set bit of a, capped at b. */
static inline size_t bpq_plan_gcd(size_t a, size_t b) {
    if (b != 0 && (b & (b - 1)) == 0) {
        const size_t low = a & (~a + 1);
        return a == 0 || low > b ? b : low;
    }
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static inline size_t bpq_plan_round16(size_t n) { return (n + 15) / 16 * 16; }

static inline size_t bpq_plan_down_to(size_t n, size_t unit) {
    n = n / unit * unit;
    return n < unit ? unit : n;
}

/* floor(sqrt(n)), by Newton's iteration from above. */
static inline size_t bpq_plan_isqrt(size_t n) {
    if (n < 2)
        return n;
    size_t x = n, y = (x + 1) / 2;
    while (y < x) {
        x = y;
        y = (x + n / x) / 2;
    }
    return x;
}

/* Bytes of B, and whether BP2's and BP4's tiles read B's full strips in
 * place: when one or two tiles' rows use it, packing is not worth a pass
 * (see b_in_place in bpq_plan_with). */
static inline size_t bpq_plan_b_bytes(const bpq_gemm_shape *s) {
    return s->k * s->n_full * sizeof(float);
}
static inline int bpq_plan_b_in_place(const bpq_gemm_shape *s) {
    return s->op != BPQ_GEMM_FORWARD && s->m <= 2 * s->mr;
}

/* Block sizes and workspace for the given upper limits (floats for the
 * parked sums, rows of A, columns of packed B). */
static inline void bpq_plan_with(const bpq_caches *c, const bpq_gemm_shape *s, size_t kc_max,
                      size_t park_max, size_t mc_max, size_t nb_max, bpq_gemm_plan *p) {
    const size_t f = sizeof(float), strips = (s->n + s->nr - 1) / s->nr;
    const size_t n_pad = strips == 0 ? s->nr : strips * s->nr;
    p->kc = bpq_gemm_split(s->k, kc_max, 8);
    if (p->kc > s->k)
        p->kc = s->k;
    const int multi = p->kc < s->k;

    if (s->op == BPQ_GEMM_BP4 || s->always_pack_a) {
        p->pack_a = 1;
    } else {
        const size_t way = c->l2 / c->l2_ways;
        p->pack_a = strips >= 2 && bpq_plan_gcd(s->lda * f, way) > p->kc * f;
    }

    /* The output block. */
    size_t mc = mc_max, nc = n_pad;
    if (multi) {
        if (p->pack_a) {
            const size_t side = bpq_plan_isqrt(park_max);
            mc = side < mc ? side : mc;
        }
        mc = bpq_plan_down_to(mc, s->mr);
        p->mc = bpq_gemm_split(s->m, mc, s->mr);
        if (p->mc > s->m)
            p->mc = s->m;
        nc = bpq_plan_down_to(park_max / p->mc, s->nr);
        p->nc = bpq_gemm_split(n_pad, nc, s->nr);
    } else {
        p->mc = bpq_gemm_split(s->m, bpq_plan_down_to(mc, s->mr), s->mr);
        if (p->mc > s->m)
            p->mc = s->m;
        p->nc = n_pad;
    }
    /* Panel by panel unless B is too big for the L2, when its rows are worth
     * reading in long runs (each panel is then still in L1 for its tiles). */
    const int b_small = bpq_plan_b_bytes(s) <= c->l2 / 2;
    p->nb = s->op == BPQ_GEMM_FORWARD || b_small ? s->nr : bpq_plan_down_to(nb_max, s->nr);
    /* Short k blocks: the output's traffic outweighs the multiply (see the
     * top), so a chunk of B that fits half the L1 is packed whole and each
     * group of rows runs across all its strips. */
    p->rows_inner = p->kc <= BPQ_PLAN_KC_OUTPUT && s->m * s->n_full * f > c->l2;
    if (p->rows_inner) {
        const size_t fit = bpq_plan_down_to(c->l1 / 2 / (p->kc * f), s->nr);
        p->nc = p->nc < fit ? p->nc : bpq_gemm_split(p->nc, fit, s->nr);
        p->nb = p->nc;
    }
    /* A chunk holds at least one wide tile's strips. */
    if (p->nb < s->wide_cols)
        p->nb = s->wide_cols;
    if (p->nb > p->nc)
        p->nb = p->nc;
    /* B used by one or two tiles' rows is not worth packing: BP2's and BP4's
     * B rows run along n, so its full strips are read in place. (Packed in
     * chunks, BP4 451 x 1213 x 3 and 512 x 1024 x 1 ran at 55-45% of the
     * speed they have in place.) */
    p->b_in_place = bpq_plan_b_in_place(s);

    const size_t groups = (p->mc + s->mr - 1) / s->mr;
    const size_t b_floats = bpq_plan_round16(p->nb * p->kc);
    const size_t a_floats = p->pack_a ? bpq_plan_round16(groups * (s->mr * p->kc + s->a_slack)) : 0;
    /* The parked sums; with one k block, one tile's scratch (the forward
     * pass finishes its sums there). */
    size_t park = multi ? groups * s->mr * p->nc : s->mr * s->nr;
    p->b_off = 0;
    p->a_off = b_floats;
    p->park_off = b_floats + a_floats;
    p->ws_floats = p->park_off + bpq_plan_round16(park);
    if (p->ws_floats < bpq_plan_round16(s->narrow_ws))
        p->ws_floats = bpq_plan_round16(s->narrow_ws);
}

static inline void bpq_gemm_make_plan(const bpq_caches *c, const bpq_gemm_shape *s,
                                      size_t budget, bpq_gemm_plan *p) {
    const size_t f = sizeof(float);
    const size_t l1_use = c->l1 - c->l1 / c->l1_ways;
    size_t kc_max = bpq_plan_down_to(l1_use / (2 * (s->nr + s->mr) * f), 16);
    if (kc_max > BPQ_PLAN_KC_MAX)
        kc_max = BPQ_PLAN_KC_MAX;
    /* One row of tiles (M <= MR) reuses no panel of B from L1: each panel
     * serves one tile. When W is too big to stay in the L3 between calls
     * (past an eighth of this core's share: the other layers' data and the
     * activations compete for it), the forward pass then sizes its k block
     * to a quarter of the L2 instead, so that W's rows are read from memory
     * in runs of several KiB rather than kc-float pieces a row apart (3 x
     * 10312 x 13248 ran 1.8 times faster so; with W in the L2 or the L3 the
     * L1-sized panel stays faster: 2 x 3784 x 447 lost 17%). BP2 and BP4 read B in
     * place for such M (see b_in_place below): a tile walks one B row per k step,
     * each row its own stream for the hardware prefetchers (a page apart at
     * n >= 1024), which follow a few dozen streams at most; so such a k
     * block is cut to BPQ_PLAN_KC_STREAMS rows, read across all of N (BP2
     * 4 x 7348 x 859 and 12 x 4096 x 4096 ran twice as fast). */
    const size_t b_bytes = bpq_plan_b_bytes(s);
    if (s->op == BPQ_GEMM_FORWARD && s->m <= s->mr && b_bytes > c->l3 / 8) {
        const size_t cols = s->wide_cols > s->nr ? s->wide_cols : s->nr;
        size_t kc_l2 = bpq_plan_down_to(c->l2 / 4 / ((cols + s->mr) * f), 16);
        kc_max = kc_l2 > kc_max ? kc_l2 : kc_max;
    } else if (bpq_plan_b_in_place(s) && b_bytes > c->l2 / 2 && kc_max > BPQ_PLAN_KC_STREAMS) {
        kc_max = BPQ_PLAN_KC_STREAMS;
    }
    /* The L2 shares follow the kc actually used (a short K leaves room for more rows). */
    size_t kc = bpq_gemm_split(s->k, kc_max, 8);
    kc = kc > s->k ? s->k : kc;
    const int multi = kc < s->k;
    size_t park_max = c->l2 / 2 / f;
    size_t mc_max = c->l2 / (multi ? 4 : 2) / (kc * f);
    size_t nb_max = c->l2 / 8 / (kc * f);
    for (;;) {
        bpq_plan_with(c, s, kc_max, park_max, mc_max, nb_max, p);
        if (budget == 0 || p->ws_floats <= budget)
            return;
        if (nb_max > s->nr)
            nb_max /= 2;
        else if (park_max > s->mr * s->nr && p->nc > s->nr)
            park_max /= 2;
        else if (mc_max > s->mr)
            mc_max /= 2, park_max = park_max > mc_max * s->nr ? park_max : mc_max * s->nr;
        else if (kc_max > BPQ_PLAN_KC_MIN)
            kc_max /= 2;
        else
            return; /* the smallest plan: a few tiles' worth, within any sane budget */
    }
}

#endif /* BPQ_GEMM_PLAN_H */
