/* driver.h - the one blocked GEMM loop nest of forward, BP2 and BP4, instantiated by each SIMD ISA. */
#ifndef BPQ_GEMM_DRIVER_H
#define BPQ_GEMM_DRIVER_H

/*
 * Everything of the GEMM-shaped kernels that does not depend on the
 * instruction set lives here once: the loop nest, the block sizes (from
 * gemm/plan.c, which derives them from the caches), when and what to pack,
 * where the running sums wait between k blocks, the edge tiles, and the
 * choice of the narrow path for a last strip of a few columns. An ISA
 * supplies its tile (microkernel plus fused finish), its packing and its
 * vector math, then includes this file (the way zlib-ng builds each
 * architecture's file from one template). There are no intrinsics here.
 *
 * What the including file defines first:
 *   BPQ_GEMM_MR, BPQ_GEMM_NR   the tile: MR rows of NR outputs (NR: a strip)
 *   BPQ_GEMM_MIN_ROWS          rows a tile needs to keep the FMA pipes busy
 *   BPQ_GEMM_A_SLACK           floats after each packed group of MR rows of A
 *   BPQ_GEMM_ALWAYS_PACK_A     1 if the tile reads A only packed (acol = 1)
 *   BPQ_GEMM_NARROW            widest last strip left to the narrow path (0: none)
 *   BPQ_GEMM_NARROW_WS         floats of workspace the narrow path borrows
 *   BPQ_GEMM_WIDE_ROWS         M blocks of up to this many rows take wide tiles (0: none)
 *   BPQ_GEMM_WIDE_PANELS(mr)   strips a wide tile of mr rows spans
 *   BPQ_GEMM_TILE(op, mr, panels, acol, g, kc, a, lda, bp, ldbp, pstride, park, tstride,
 *                 init, bias, fin, row, col, w)
 *       one tile of mr (run-time, 1..MR) rows and w columns: one strip
 *       (panels 1, w <= NR) or a wide tile (mr <= WIDE_ROWS, panels full
 *       strips). kc k steps over A (acol 0: a[m lda + k]; acol 1: a[k lda +
 *       m]) and B (strip p's NR floats of k step k at bp + p pstride + ldbp
 *       k); the chains start as init says (parked sums: strip p's row m at
 *       park + p tstride + NR m); then the sums are parked there again or,
 *       when fin, finished into g->c at (row, col).
 *   BPQ_GEMM_PACK_B_ROWS(src, ld, kc, cols, dst)   kc rows of B along n
 *       (cols floats each) into ceil(cols / NR) panels of kc x NR, zero-padded
 *   BPQ_GEMM_PACK_B_TRANS(src, ld, kc, w, dst)     one panel of B = W^T from w
 *       rows of W along k
 *   BPQ_GEMM_PACK_A_ROWS(src, lda, kc, rows, dst)  forward/BP2: rows of A along k
 *   BPQ_GEMM_PACK_A_COLS(src, ld, kc, cols, avail, dst)  BP4: columns of delta
 *       Both write one group per tile, as bpq_gemm_tile_rows cuts the rows,
 *       group t at dst + t (MR kc + A_SLACK), k step k of it at + MR k.
 *   BPQ_GEMM_NARROW_RUN(op, g, r0, r1, j0, ws)     columns [j0, n) of rows [r0, r1)
 *       (only when BPQ_GEMM_NARROW > 0; with BPQ_GEMM_ALWAYS_PACK_A 1 the
 *       tile is only ever called with acol = 1)
 *   BPQ_GEMM_SOFTMAX_ROW(row, n)
 *
 * The loop nest, outside in (kc, mc, nc, nb from the plan, gemm/plan.c):
 *   ic: output blocks of mc rows
 *    jc: ... and nc columns; their running sums wait in the workspace (L2)
 *     pc: k blocks of kc, ascending: pack the block of A (mc x kc, L2), or
 *         read it in place
 *      jb: chunks of nb columns: pack B's kc x nb (BP2, BP4; the forward
 *          pass packs each kc x NR panel of W^T right before its tiles)
 *       jr: strips of NR columns: the strip's panel stays in L1
 *        ir: tiles of MR rows (a block's last rows cut so that no tile is
 *            below MIN_ROWS when avoidable): microkernel, then park the
 *            sums or, after the last k block, finish them into the output
 *   then the narrow columns and, for softmax, whole rows of the block.
 * Outputs are written exactly once, by the finish after the last k block,
 * which is what lets BP2 write delta over a (read in the same finish) and
 * BP4 add into dw.
 *
 * Threads, when they come, split the output and nothing else: the output
 * blocks (ic, jc) are independent, so each thread takes whole blocks, with
 * its own workspace, and runs their k blocks in ascending order as here.
 * Every output element still sees its one fma chain in ascending k, so the
 * bits do not depend on the number of threads. (A block of narrow columns
 * goes with the thread that has its rows.)
 *
 * Workspace: one stack array of BPQ_GEMM_STACK_FLOATS (48 KiB) serves
 * every call whose plan fits; larger plans (a cache-sized packed block of A
 * and chunk of B) take a block from the heap for the call. Should that
 * allocation fail, the call runs on the stack array with a plan shrunk to
 * fit it: slower, and the same bits.
 */

#include <stdlib.h>

#include "gemm/gemm.h"
#include "gemm/plan.h"

#define BPQ_GEMM_STACK_FLOATS (12 * 1024)

#define BPQ_GEMM_INLINE __attribute__((always_inline)) static inline

/* Floats between packed groups of A for a k block of kc. */
#define BPQ_GEMM_A_STRIDE(kc) (BPQ_GEMM_MR * (kc) + BPQ_GEMM_A_SLACK)

/* The columns of call g done by strips: all of N, or all but a last
 * 1..NARROW (a transposed BP4 has no narrow path: its strips run along dW's
 * columns). */
static inline size_t bpq_gemm_strip_cols(const bpq_gemm *g) {
    const size_t n = g->n;
    if (g->trans_c)
        return n;
    return n % BPQ_GEMM_NR <= BPQ_GEMM_NARROW ? n / BPQ_GEMM_NR * BPQ_GEMM_NR : n;
}

/*
 * BP4 with rows of dW shorter than a strip (n_in < NR) fills few of a
 * strip's lanes: n_in of NR, whatever the rest of the shape. Run instead as
 * dW^T = x^T delta (M and N swapped, A = columns of x, B = rows of delta),
 * its vectors run along n_out. Every output keeps its one chain over the
 * batch in ascending order, and a product's two factors commute exactly, so
 * the bits are the same; only the finish differs: the tiles park their
 * sums and the driver writes them into dW's columns (bpq_gemm_finish_t).
 * Taken when the lanes are better used so (BP4 111 x 5 x 347, which used 5
 * of 16, ran 3 times faster; batch x n_in x n_out, as in the benchmark).
 */
static inline int bpq_gemm_transposes(const int op, const bpq_gemm *g) {
    if (op != BPQ_GEMM_BP4 || g->n >= BPQ_GEMM_NR || g->m <= g->n)
        return 0;
    /* Columns the narrow path takes stay with it unless the chains are long:
     * its finish is vectorised, the transposed one is a scalar loop that
     * costs about as much as a short chain (n_in = 1: batch 4-24 lost
     * 13-28% transposed, batch 2855 ran 1.8 times faster). */
    if (g->n <= BPQ_GEMM_NARROW && g->k < 4 * BPQ_GEMM_NR)
        return 0;
    const size_t m_pad = (g->m + BPQ_GEMM_NR - 1) / BPQ_GEMM_NR * BPQ_GEMM_NR;
    return g->m * BPQ_GEMM_NR > g->n * m_pad; /* m / m_pad > n / NR */
}

/* The finish of a transposed BP4 (see bpq_gemm_transposes) for the tile of
 * rows row.. (mr) and columns col.. (w) whose sums are parked at park
 * (strip p's row m at park + p tstride + NR m): out = sum (/ batch)
 * (+ out), the order of every other ISA's finish, into dW[col + j][row + m]. */
BPQ_GEMM_INLINE void bpq_gemm_finish_t(const bpq_gemm *g, const float *park, size_t tstride,
                                       size_t mr, size_t row, size_t col, size_t w) {
    const float fb = (float)g->batch;
    for (size_t j = 0; j < w; j++) {
        const float *s = park + j / BPQ_GEMM_NR * tstride + j % BPQ_GEMM_NR;
        float *out = g->c + (col + j) * g->ldc + row;
        for (size_t m = 0; m < mr; m++) {
            const float v = g->mean ? s[BPQ_GEMM_NR * m] / fb : s[BPQ_GEMM_NR * m];
            out[m] = g->accumulate ? out[m] + v : v;
        }
    }
}

/* The shape the plan sees for call g of op. */
static inline bpq_gemm_shape bpq_gemm_shape_of(const int op, const bpq_gemm *g) {
    bpq_gemm_shape s;
    s.op = op;
    s.m = g->m;
    s.n = bpq_gemm_strip_cols(g);
    s.k = g->k;
    s.n_full = g->n;
    s.lda = g->lda;
    s.mr = BPQ_GEMM_MR;
    s.nr = BPQ_GEMM_NR;
    s.min_rows = BPQ_GEMM_MIN_ROWS;
    s.a_slack = BPQ_GEMM_A_SLACK;
    s.narrow_ws = BPQ_GEMM_NARROW_WS;
    s.always_pack_a = BPQ_GEMM_ALWAYS_PACK_A;
    s.wide_cols = g->m <= BPQ_GEMM_WIDE_ROWS ? BPQ_GEMM_NR * BPQ_GEMM_WIDE_PANELS(g->m) : 0;
    return s;
}

/* Where one output block and k block stand in the loop nest. */
typedef struct bpq_gemm_at {
    size_t ic, mcur; /* rows of the output block */
    size_t jc, ncur; /* its columns (strips only) */
    size_t pc, kcur; /* the k block */
} bpq_gemm_at;

/* Packs the block of A of rows [ic, ic + mcur), k block (pc, kcur). */
BPQ_GEMM_INLINE void bpq_gemm_pack_a(const int op, const bpq_gemm *g, const bpq_gemm_at *at,
                                     float *ap) {
    if (op == BPQ_GEMM_BP4)
        BPQ_GEMM_PACK_A_COLS(g->a + at->pc * g->lda + at->ic, g->lda, at->kcur, at->mcur,
                             g->m - at->ic, ap);
    else
        BPQ_GEMM_PACK_A_ROWS(g->a + at->ic * g->lda + at->pc, g->lda, at->kcur, at->mcur, ap);
}

/* Packs columns [j0, j0 + cols) of B for k block (pc, kcur) into panels at bp. */
BPQ_GEMM_INLINE void bpq_gemm_pack_b(const int op, const bpq_gemm *g, const bpq_gemm_at *at,
                                     size_t j0, size_t cols, float *bp) {
    if (op != BPQ_GEMM_FORWARD) {
        BPQ_GEMM_PACK_B_ROWS(g->b + at->pc * g->ldb + j0, g->ldb, at->kcur, cols, bp);
        return;
    }
    for (size_t s = 0; s < cols; s += BPQ_GEMM_NR) {
        const size_t w = cols - s < BPQ_GEMM_NR ? cols - s : BPQ_GEMM_NR;
        BPQ_GEMM_PACK_B_TRANS(g->b + (j0 + s) * g->ldb + at->pc, g->ldb, at->kcur, w,
                              bp + s * at->kcur);
    }
}

/* Where a tile reads B: strip p's NR floats of k step k at b + p pstride + ldb k. */
typedef struct bpq_gemm_bsrc {
    const float *b;
    size_t ldb, pstride;
} bpq_gemm_bsrc;

/* One tile: rows ir.. (group tile_no of packed A) of the block, columns
 * jr.. (w of them, over `panels` strips), parked sums at park. */
BPQ_GEMM_INLINE void bpq_gemm_tile(const int op, const bpq_gemm *g, const bpq_gemm_at *at,
                                   size_t mr, size_t panels, size_t tile_no, size_t ir,
                                   size_t jr, size_t w, const float *ap, bpq_gemm_bsrc b,
                                   float *park, size_t tstride, int init, const float *bias,
                                   int fin, const int pack_a) {
    const size_t row = at->ic + ir;
    if (pack_a || BPQ_GEMM_ALWAYS_PACK_A)
        BPQ_GEMM_TILE(op, mr, panels, 1, g, at->kcur,
                      ap + tile_no * BPQ_GEMM_A_STRIDE(at->kcur), BPQ_GEMM_MR, b.b, b.ldb,
                      b.pstride, park, tstride, init, bias, fin, row, jr, w);
#if !BPQ_GEMM_ALWAYS_PACK_A /* the plan packs A for such a tile, so it has no in-place path */
    else
        BPQ_GEMM_TILE(op, mr, panels, 0, g, at->kcur, g->a + row * g->lda + at->pc, g->lda,
                      b.b, b.ldb, b.pstride, park, tstride, init, bias, fin, row, jr, w);
#endif
}

/* The tile of rows ir.. (mr of them, group tile_no of packed A) and the
 * `panels` strips from column offset s of the chunk at j0, k block at->pc.
 * B: the packed panels at bp (strip s of the chunk at bp + s kcur), or,
 * with p->b_in_place, B's rows themselves for full strips (a ragged last
 * strip is still packed, alone at bp). The parked sums are kept tile by
 * tile: strip s of the block at park + s NR mcur, each row of it NR floats
 * on; with one k block nothing waits and every tile finishes from the
 * scratch at park. */
BPQ_GEMM_INLINE void bpq_gemm_place(const int op, const bpq_gemm *g, const bpq_gemm_plan *p,
                                    const bpq_gemm_at *at, size_t j0, size_t cols, size_t s,
                                    size_t panels, size_t ir, size_t mr, size_t tile_no,
                                    const float *ap, const float *bp, float *park) {
    _Alignas(64) float bias[BPQ_GEMM_NR];
    const int init = at->pc > 0                ? BPQ_GEMM_INIT_TILE
                     : op == BPQ_GEMM_FORWARD ? BPQ_GEMM_INIT_BIAS
                                               : BPQ_GEMM_INIT_ZERO;
    const int fin = at->pc + at->kcur == g->k, single = at->kcur == g->k;
    const size_t jr = j0 + s;
    const size_t w = panels > 1 ? panels * BPQ_GEMM_NR
                     : cols - s < BPQ_GEMM_NR ? cols - s : BPQ_GEMM_NR;
    bpq_gemm_bsrc b = {bp + s * at->kcur, BPQ_GEMM_NR, at->kcur * BPQ_GEMM_NR};
    if (p->b_in_place) {
        if (w % BPQ_GEMM_NR == 0)
            b.b = g->b + at->pc * g->ldb + jr, b.ldb = g->ldb, b.pstride = BPQ_GEMM_NR;
        else
            b.b = bp;
    }
    /* Full strips read the bias where it is; a ragged one, zero-padded. */
    const float *bias_at = g->bias + jr;
    if (init == BPQ_GEMM_INIT_BIAS && w % BPQ_GEMM_NR) {
        for (size_t j = 0; j < BPQ_GEMM_NR; j++)
            bias[j] = j < w ? g->bias[jr + j] : 0.0f;
        bias_at = bias;
    }
    float *const tpark = single ? park : park + (jr - at->jc) * at->mcur + ir * BPQ_GEMM_NR;
    const size_t tstride = BPQ_GEMM_NR * (single ? mr : at->mcur);
    bpq_gemm_tile(op, g, at, mr, panels, tile_no, ir, jr, w, ap, b, tpark, tstride, init,
                  bias_at, fin && !g->trans_c, p->pack_a);
    if (fin && g->trans_c)
        bpq_gemm_finish_t(g, tpark, tstride, mr, at->ic + ir, jr, w);
}

/* Every tile of columns [j0, j0 + cols) of the output block, k block at->pc.
 * Strips outside the rows, so that a strip's panel serves every tile from
 * L1; or rows outside the strips (short k blocks, see plan.h, and blocks
 * of a few rows, whose wide tiles span several strips). */
BPQ_GEMM_INLINE void bpq_gemm_strips(const int op, const bpq_gemm *g, const bpq_gemm_plan *p,
                                     const bpq_gemm_at *at, size_t j0, size_t cols,
                                     const float *ap, const float *bp, float *park) {
    const size_t wide = at->mcur <= BPQ_GEMM_WIDE_ROWS ? BPQ_GEMM_WIDE_PANELS(at->mcur) : 1;
    if (p->rows_inner || wide > 1) {
        size_t tile_no = 0;
        for (size_t ir = 0, mr; ir < at->mcur; ir += mr, tile_no++) {
            mr = bpq_gemm_tile_rows(at->mcur - ir, BPQ_GEMM_MR, BPQ_GEMM_MIN_ROWS);
            for (size_t s = 0, panels; s < cols; s += panels * BPQ_GEMM_NR) {
                panels = cols - s >= wide * BPQ_GEMM_NR ? wide : 1;
                bpq_gemm_place(op, g, p, at, j0, cols, s, panels, ir, mr, tile_no, ap, bp, park);
            }
        }
        return;
    }
    for (size_t s = 0; s < cols; s += BPQ_GEMM_NR) {
        size_t tile_no = 0;
        for (size_t ir = 0, mr; ir < at->mcur; ir += mr, tile_no++) {
            mr = bpq_gemm_tile_rows(at->mcur - ir, BPQ_GEMM_MR, BPQ_GEMM_MIN_ROWS);
            bpq_gemm_place(op, g, p, at, j0, cols, s, 1, ir, mr, tile_no, ap, bp, park);
        }
    }
}

/* The whole blocked product of call g with plan p on workspace ws. */
BPQ_GEMM_INLINE void bpq_gemm_run(const int op, const bpq_gemm *g, const bpq_gemm_plan *p,
                                  float *ws) {
    const size_t M = g->m, K = g->k, N = bpq_gemm_strip_cols(g);
    const size_t nb = p->nb;
    float *const bp = ws + p->b_off, *const ap = ws + p->a_off, *const park = ws + p->park_off;
    bpq_gemm_at at;
    /* [gemm-loop-nest] */
    for (at.ic = 0; at.ic < M; at.ic += p->mc) {
        at.mcur = M - at.ic < p->mc ? M - at.ic : p->mc;
        for (at.jc = 0; at.jc < N; at.jc += p->nc) {
            at.ncur = N - at.jc < p->nc ? N - at.jc : p->nc;
            for (at.pc = 0; at.pc < K; at.pc += p->kc) {
                at.kcur = K - at.pc < p->kc ? K - at.pc : p->kc;
                if (p->pack_a)
                    bpq_gemm_pack_a(op, g, &at, ap);
                const size_t end = at.jc + at.ncur;
                for (size_t jb = at.jc; jb < end; jb += nb) {
                    const size_t cols = end - jb < nb ? end - jb : nb;
                    if (!p->b_in_place)
                        bpq_gemm_pack_b(op, g, &at, jb, cols, bp);
                    else if (cols % BPQ_GEMM_NR) /* only the ragged strip */
                        bpq_gemm_pack_b(op, g, &at, jb + cols / BPQ_GEMM_NR * BPQ_GEMM_NR,
                                        cols % BPQ_GEMM_NR, bp);
                    bpq_gemm_strips(op, g, p, &at, jb, cols, ap, bp, park);
                }
            }
        }
        /* The narrow columns borrow the workspace, idle once the strips are done. */
#if BPQ_GEMM_NARROW /* else N is all of n, and the ISA has no narrow path to name */
        if (N < g->n)
            BPQ_GEMM_NARROW_RUN(op, g, at.ic, at.ic + at.mcur, N, ws);
#endif
        /* Softmax needs whole rows: complete once every column of the block is. */
        if (op == BPQ_GEMM_FORWARD && g->act == BPQ_ACT_SOFTMAX)
            for (size_t r = at.ic; r < at.ic + at.mcur; r++)
                BPQ_GEMM_SOFTMAX_ROW(g->c + r * g->ldc, g->n);
    }
    /* [gemm-loop-nest] */
}

/* Plans call g, finds its workspace (stack, else heap, else stack with a
 * smaller plan) and runs it. */
BPQ_GEMM_INLINE void bpq_gemm_entry(const int op, const bpq_gemm *g) {
    /* [gemm-workspace] */
    _Alignas(64) float stack_ws[BPQ_GEMM_STACK_FLOATS];
    bpq_gemm t;
    if (bpq_gemm_transposes(op, g)) {
        t = *g;
        t.m = g->n, t.n = g->m, t.a = g->b, t.lda = g->ldb, t.b = g->a, t.ldb = g->lda;
        t.trans_c = 1;
        g = &t;
    }
    const bpq_gemm_shape s = bpq_gemm_shape_of(op, g);
    const bpq_caches *caches = bpq_machine_caches();
    bpq_gemm_plan p;
    bpq_gemm_make_plan(caches, &s, 0, &p);
    float *heap = NULL, *ws = stack_ws;
    if (p.ws_floats > BPQ_GEMM_STACK_FLOATS) {
        heap = aligned_alloc(64, p.ws_floats * sizeof(float));
        if (heap)
            ws = heap;
        else
            bpq_gemm_make_plan(caches, &s, BPQ_GEMM_STACK_FLOATS, &p);
    }
    bpq_gemm_run(op, g, &p, ws);
    free(heap);
    /* [gemm-workspace] */
}

/*
 * Defines `static void name(bpq_gemm g)`: the blocked product for op after
 * the statement `set` has fixed some of g's fields to constants. Each
 * kernel file makes one such copy per activation (or, for BP4, per mean
 * and accumulate), so that every finish holds just its own arithmetic and
 * no branch on those fields (AVX2: 32x67x33 ran 12-21% faster, the forward
 * pass on the activation-only bench shape 16-25%). Not inlined, so that
 * only one copy's workspace is on the stack at a time.
 */
#define BPQ_GEMM_COPY(name, op, set)                                                           \
    __attribute__((noinline)) static void name(bpq_gemm g) {                                  \
        set;                                                                                   \
        bpq_gemm_entry(op, &g);                                                                \
    }

#endif /* BPQ_GEMM_DRIVER_H */
