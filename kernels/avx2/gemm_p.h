/* gemm_p.h - AVX2 blocked GEMM driver for forward, BP2 and BP4: blocking, packing, epilogues. */
#ifndef BPQ_AVX2_GEMM_P_H
#define BPQ_AVX2_GEMM_P_H

/*
 * The three GEMM-shaped kernels all compute, per output element,
 *     acc = init;  for k ascending: acc = fma(A[m,k], B[k,n], acc);  out = epilogue(acc)
 * and only differ in where A and B come from and what the epilogue does:
 *
 *            M       N      K       A[m,k]               B[k,n]            init
 *   forward  batch   n_out  n_in    x[m, k]              w[n, k] (W^T)     b[n]
 *   BP2      batch   n      n_next  delta_next[m, k]     w_next[k, n]      +0
 *   BP4      n_out   n_in   batch   delta[k, m]          x[k, n]           +0
 *
 * Vectors run along n (the contiguous index of every output), never along
 * k, so each lane is one output's own fma chain in ascending k: the bits of
 * kernels/scalar by construction.
 *
 * Microkernel (microkernel_p.h): a 6 x 16 tile of outputs in 12 ymm accumulators. Zen 5 (and
 * every AVX2 core since Haswell) issues 2 FMAs per cycle at 4 cycles'
 * latency, so at least 8 independent chains are needed; 12 leave slack for
 * load jitter, and 12 accumulators + 2 B vectors + 1 broadcast fit in the
 * 16 ymm registers without spilling. A k step is 12 FMAs (6 cycles) against
 * 2 vector loads and 6 broadcasts, well inside the load ports. (4 x 24 has
 * the same 12 chains but 3 B loads per step, and a 24-wide strip wastes
 * more lanes on edges such as n = 1000; 6 x 16 measured as fast.)
 *
 * Blocking, loops from the outside in:
 *   ic: M in blocks of mc rows
 *    jc: N in blocks of nc columns (one 16-column strip for forward and BP2)
 *     pc: K in blocks of kc (BP4: pack the mc x kc block of A here)
 *      jr: 16-column strips: pack B's kc x 16 panel (16 KiB at kc = 256,
 *          L1-resident while every tile of the M block streams over it)
 *       ir: tiles of 6 rows (a block's last 7 to 9 rows as 4 + 3, 4 + 4,
 *           5 + 4, so no tile has fewer than 8 chains when avoidable):
 *           microkernel, then, after the last k block, the epilogue on
 *           the sums still in registers (BP2, BP4) or in L1 (forward).
 * A last strip of 1 to 3 columns is done down the rows instead (see
 * "Narrow last strips" below).
 * Forward and BP2 read A in place: its rows are contiguous along k (six
 * prefetch-friendly streams), and mc is chosen so the rows of an M block
 * stay in L2 while the strips go by. BP4's A is a block of columns of delta
 * (six adjacent floats per k, in rows that share one L1 set when n_out is
 * a power of two), so it is packed once per (ic, jc, pc) and reused by
 * every strip. When K fits in one k block, nothing is parked and an N block
 * is all of N. Otherwise the running sums of the tiles are parked, between
 * k blocks, in a tile buffer and reloaded as the next block's init: the
 * canonical chain simply continues. Outputs are written exactly once, in
 * the epilogue after the last k block, which is what lets BP2 write delta
 * over a (a is read in the same epilogue, just before) and BP4 add into dw.
 * The exception is BP4 without accumulate, which has no old dw to keep:
 * its full strips park their sums in dw itself (the mean divides them in
 * place at the end), so the workspace goes to a taller M block and B is
 * packed fewer times (NCF shape: packing fell from a fifth of the time to
 * a fourteenth, with the prefetch of A below, before k blocks of 32 made
 * the M block all of its 256 rows).
 *
 * Workspace: one stack array per call, declared by the copy that
 * BPQ_AVX2_GEMM_COPY defines: BPQ_AVX2_WS_ROW floats (31 KiB) for forward and
 * BP2, BPQ_AVX2_WS_BP4 (60 KiB) for BP4; no heap. (The batch-1
 * paths, gemv_p.h for forward and bp2.c, use 16 KiB and 8 KiB of their own.)
 */

#include <immintrin.h>
#include <stddef.h>

#include "avx2/math_p.h"
#include "avx2/microkernel_p.h"
#include "avx2/pack_p.h"
#include "bpq.h"

/* Forward and BP2: k values per B panel and rows of the tile buffer. */
#define BPQ_AVX2_KC_ROW 256
#define BPQ_AVX2_MC_ROW 240
#define BPQ_AVX2_WS_ROW ((BPQ_AVX2_KC_ROW + BPQ_AVX2_MC_ROW) * BPQ_AVX2_NR)
/* BP2's B panel is a 16-float slice of kc rows of w_next. When n is a
 * power of two those rows fall in a handful of L2 sets (16 sets at n =
 * 1024), so 256 of them overflow the sets' 16 ways and the prefetched next
 * panel is evicted before it is packed: packing then took 15% of the time
 * on 128x1024x1024, 2% with 128 rows. */
#define BPQ_AVX2_KC_BP2 128
/* BP4: a batch up to KC_BP4 is one k block. A larger one that accumulates
 * is cut into blocks of about KC_BP4_MULTI, with N blocks of NC_BP4
 * columns whose sums need the tile buffer: short k blocks leave room for a
 * taller M block, so B is packed fewer times. */
#define BPQ_AVX2_KC_BP4 128
#define BPQ_AVX2_KC_BP4_MULTI 64
#define BPQ_AVX2_NC_BP4 128
/* BP4 that does not accumulate parks the sums of its full strips in dw
 * itself (the tile buffer only holds a ragged last strip), which leaves
 * room for a taller M block. Short k blocks make it taller still (306 rows
 * at 32, 90 at 128), so x is packed fewer times (once for n_out <= 306):
 * against 128, k blocks of 32 ran 2-4% faster on 2048x256x256, 4096x128x64,
 * 256x512x512 and 512x784x128 (bpq_ab), the same on 1024x1024x1024; 16
 * halved the speed there (an M block of a thousand rows). Measured again
 * once loops were aligned (see CMakeLists.txt), 40, 48, 56 and 64 were
 * within 2% of 32 on 2048x256x256. */
#define BPQ_AVX2_KC_BP4_PARK 32
#define BPQ_AVX2_WS_BP4 (15 * 1024)

/* Bytes of A rows an M block may span: the L2 of one Zen 5 core. Re-reading
 * A from L3 costs less than re-packing (transposing) B for a second block. */
#define BPQ_AVX2_L2_A_BYTES (1024u * 1024u)


/* Splits n into the fewest blocks of at most max, of near-equal size rounded
 * up to a multiple of unit (so only the last block has a ragged edge). */
static inline size_t bpq_avx2_block(size_t n, size_t max, size_t unit) {
    size_t blocks = (n + max - 1) / max;
    size_t b = (n + blocks - 1) / blocks;
    b = (b + unit - 1) / unit * unit;
    return b > max ? max : b;
}

enum { BPQ_AVX2_OP_FORWARD, BPQ_AVX2_OP_BP2, BPQ_AVX2_OP_BP4 };

/* One GEMM-shaped call, in the terms of the table at the top of this file. */
typedef struct bpq_avx2_gemm {
    size_t m, n, k;
    const float *a; /* A, see acol in bpq_avx2_ukernel: forward/BP2 rows, BP4 columns */
    size_t lda;
    const float *b; /* forward: w, B[k,n] = b[n ldb + k]; BP2/BP4: B[k,n] = b[k ldb + n] */
    size_t ldb;
    float *c; /* output, C[m,n] = c[m ldc + n] */
    size_t ldc;
    const float *bias;   /* forward: [n] */
    const float *act_in; /* BP2: a, same layout as c (may be c itself) */
    bpq_act act;         /* forward and BP2 */
    int mean, accumulate; /* BP4 */
    size_t batch;         /* BP4: the divisor of the mean */
} bpq_avx2_gemm;

/* What finishing the output at (r, col) reads besides its sum: a there for
 * BP2 (unless identity), the old output for BP4 when accumulating; NULL
 * when it reads nothing. */
BPQ_AVX2_INLINE const float *bpq_avx2_finish_src(const int op, const bpq_avx2_gemm *g, size_t r,
                                                 size_t col) {
    if (op == BPQ_AVX2_OP_BP2 && g->act != BPQ_ACT_IDENTITY)
        return g->act_in + r * g->ldc + col;
    if (op == BPQ_AVX2_OP_BP4 && g->accumulate)
        return g->c + r * g->ldc + col;
    return NULL;
}

/* The finished outputs from their sums s and x, the values at
 * bpq_avx2_finish_src (+0 when it is NULL): the elementwise part of each
 * operation, fused into the GEMM so that it makes no pass of its own over
 * memory. BP2 reads a before delta (maybe the same memory) is written. */
BPQ_AVX2_INLINE __m256 bpq_avx2_finish(const int op, const bpq_avx2_gemm *g, __m256 s,
                                       __m256 x) {
    if (op == BPQ_AVX2_OP_FORWARD)
        return bpq_avx2_act(g->act, s); /* identity and softmax: unchanged */
    if (op == BPQ_AVX2_OP_BP2) /* delta = g * act'(a); for identity, g itself */
        return g->act == BPQ_ACT_IDENTITY ? s : _mm256_mul_ps(s, bpq_avx2_dact(g->act, x));
    if (g->mean)
        s = _mm256_div_ps(s, _mm256_set1_ps((float)g->batch));
    return g->accumulate ? _mm256_add_ps(x, s) : s;
}

/* One tile: the microkernel, then the sums are either parked (tile, ldt)
 * for the next k block or, after the last one (fin), finished straight
 * from the registers into the output at (row, col). */
BPQ_AVX2_INLINE void bpq_avx2_tile(const int op, const int mr, const int nv, const int acol,
                                   const bpq_avx2_gemm *g, size_t kc, const float *a, size_t lda,
                                   const float *bp, float *tile, size_t ldt, int init,
                                   const float *bias, int fin, size_t row, size_t col,
                                   size_t w) {
    __m256 c[BPQ_AVX2_MR][2];
    bpq_avx2_ukernel(mr, nv, acol, kc, a, lda, bp, tile, ldt, init, bias, c);
#pragma GCC unroll 6
    for (int m = 0; m < mr; m++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            if (!fin) {
                _mm256_storeu_ps(tile + ldt * m + 8 * v, c[m][v]);
            } else {
                const size_t r = row + (size_t)m;
                const float *src = bpq_avx2_finish_src(op, g, r, col);
                const __m256 x = src ? bpq_avx2_strip_load(src, w, v) : _mm256_setzero_ps();
                bpq_avx2_strip_store(g->c + r * g->ldc + col, w, v,
                                     bpq_avx2_finish(op, g, c[m][v], x));
            }
        }
}

/* Picks the instantiation for a run-time mr (1..6) and nv (1..2). */
BPQ_AVX2_INLINE void bpq_avx2_tile_any(const int op, int mr, int nv, const int acol,
                                       const bpq_avx2_gemm *g, size_t kc, const float *a,
                                       size_t lda, const float *bp, float *tile, size_t ldt,
                                       int init, const float *bias, int fin, size_t row,
                                       size_t col, size_t w) {
    /* The forward activation (sigmoid, tanh...) is long: inlined for 12
     * accumulators in each of the 12 instantiations, it made the code too
     * big for the instruction cache (forward measured 2-4% slower). So the
     * forward pass parks its sums in the tile buffer and finishes them
     * there, in one copy of the code, while they are still in L1. */
    const int in_regs = fin && op != BPQ_AVX2_OP_FORWARD;
#define BPQ_AVX2_T(r, v)                                                                       \
    bpq_avx2_tile(op, r, v, acol, g, kc, a, lda, bp, tile, ldt, init, bias, in_regs, row, col, w)
    if (nv == 2) {
        switch (mr) {
        case 6: BPQ_AVX2_T(6, 2); break;
        case 5: BPQ_AVX2_T(5, 2); break;
        case 4: BPQ_AVX2_T(4, 2); break;
        case 3: BPQ_AVX2_T(3, 2); break;
        case 2: BPQ_AVX2_T(2, 2); break;
        default: BPQ_AVX2_T(1, 2); break;
        }
    } else {
        switch (mr) {
        case 6: BPQ_AVX2_T(6, 1); break;
        case 5: BPQ_AVX2_T(5, 1); break;
        case 4: BPQ_AVX2_T(4, 1); break;
        case 3: BPQ_AVX2_T(3, 1); break;
        case 2: BPQ_AVX2_T(2, 1); break;
        default: BPQ_AVX2_T(1, 1); break;
        }
    }
#undef BPQ_AVX2_T
    if (fin && op == BPQ_AVX2_OP_FORWARD)
        for (size_t m = 0; m < (size_t)mr; m++)
            for (int v = 0; v < nv; v++) {
                const size_t r = row + m; /* forward reads nothing besides the sum */
                bpq_avx2_strip_store(g->c + r * g->ldc + col, w, v,
                                     bpq_avx2_finish(op, g, _mm256_loadu_ps(tile + ldt * m + 8 * v),
                                                     _mm256_setzero_ps()));
            }
}

/* The source of the next B panel, to be prefetched a slice per tile while
 * the current panel is in use: its lines are far apart (for BP2 and BP4
 * one line per k, a page apart when n = 1024), which the hardware
 * prefetchers do not follow. Forward: `count` rows of W, `lines` lines
 * each; BP2 and BP4: `count` rows of 16 floats (two lines when unaligned).
 * Work is split by `per` rows per tile, worked out once per panel. */
typedef struct bpq_avx2_pf {
    const float *src;
    size_t ld, count, lines, per;
} bpq_avx2_pf;

BPQ_AVX2_INLINE bpq_avx2_pf bpq_avx2_prefetch_plan(const int op, const bpq_avx2_gemm *g,
                                                   size_t jr, size_t pc, size_t kc,
                                                   size_t tiles) {
    bpq_avx2_pf pf = {g->b, g->ldb, 0, 0, 0};
    if (jr >= g->n || pc >= g->k)
        return pf;
    const size_t nk = g->k - pc < kc ? g->k - pc : kc;
    if (op == BPQ_AVX2_OP_FORWARD) {
        pf.src = g->b + jr * g->ldb + pc;
        pf.count = g->n - jr < BPQ_AVX2_NR ? g->n - jr : BPQ_AVX2_NR;
        pf.lines = (nk + 15) / 16;
    } else {
        pf.src = g->b + pc * g->ldb + jr;
        pf.count = nk;
    }
    pf.per = (pf.count + tiles - 1) / tiles;
    return pf;
}

BPQ_AVX2_INLINE void bpq_avx2_prefetch_part(const int op, const bpq_avx2_pf *pf, size_t part) {
    size_t r0 = part * pf->per, r1 = r0 + pf->per > pf->count ? pf->count : r0 + pf->per;
    for (size_t r = r0; r < r1; r++) {
        const char *p = (const char *)(pf->src + r * pf->ld);
        if (op == BPQ_AVX2_OP_FORWARD) {
            for (size_t l = 0; l < pf->lines; l++)
                _mm_prefetch(p + 64 * l, _MM_HINT_T0);
        } else {
            _mm_prefetch(p, _MM_HINT_T0);
            _mm_prefetch(p + 15 * sizeof(float), _MM_HINT_T0);
        }
    }
}

/*
 * BP4 packs a block of columns of delta per k block: kc rows, each read
 * mc floats wide, a row stride apart, which the hardware prefetchers do
 * not follow either. While the strips of one k block go by, strip s
 * prefetches its share of the next block's rows (the next k block of this
 * M block, or the first of the next M block).
 */
BPQ_AVX2_INLINE void bpq_avx2_prefetch_a(const bpq_avx2_gemm *g, size_t ic, size_t mcur,
                                         size_t pc, size_t kc, size_t mc, size_t strip,
                                         size_t strips) {
    size_t npc = pc + kc, nic = ic, ncols = mcur;
    if (npc >= g->k) {
        npc = 0;
        nic = ic + mcur;
        if (nic >= g->m)
            return;
        ncols = g->m - nic < mc ? g->m - nic : mc;
    }
    const size_t nk = g->k - npc < kc ? g->k - npc : kc, per = (nk + strips - 1) / strips;
    const size_t r0 = strip * per, r1 = r0 + per > nk ? nk : r0 + per;
    for (size_t r = r0; r < r1; r++) {
        const char *p = (const char *)(g->a + (npc + r) * g->lda + nic);
        for (size_t b = 0; b < ncols * sizeof(float); b += 64)
            _mm_prefetch(p + b, _MM_HINT_T0);
        _mm_prefetch(p + ncols * sizeof(float) - 1, _MM_HINT_T0);
    }
}

/*
 * Narrow last strips. When N % 16 is 1 to 3, a 16-wide strip would spend 8
 * lanes on 1 to 3 outputs. Those last columns are instead vectorised down
 * the rows: a vector holds 8 rows of one output column, fed by a column of
 * A (8 rows at one k) and a broadcast B[k, n]. Still one lane per output,
 * k ascending, so the same bits. Up to 32 rows (4 vectors) per pass keep 4
 * to 12 chains going. A's columns come from a transposed copy in the
 * workspace for forward and BP2 (whose A rows run along k) and straight
 * from delta for BP4 (whose rows are A's columns). Measured on 32x67x33:
 * forward 15% faster than a 16-wide strip, BP2 and BP4 about the same.
 */
#define BPQ_AVX2_NARROW 3      /* widest strip done this way */
#define BPQ_AVX2_NARROW_KT 128 /* k values per transposed copy: 2 x 128 x 16 floats */

/* acc[b][j] += column j of B times vector b of A, over kt k steps. Vector
 * b of step k is at av + k as + off[b]; the last one is read with a mask
 * of last_rows lanes (BP4 reads delta itself, whose rows may end there;
 * the transposed copy is padded, last_rows = 8). Loop order: per vector
 * of A, its fmas with the w broadcasts, so that 12 sums + 3 broadcasts +
 * 1 A vector fit the 16 registers at nb = 4, w = 3. */
BPQ_AVX2_INLINE void bpq_avx2_narrow_kernel(const int nb, const int w, size_t kt,
                                            const float *av, size_t as, const size_t *off,
                                            size_t last_rows, const float *bv, size_t bks,
                                            size_t bjs, __m256 acc[4][BPQ_AVX2_NARROW]) {
    const __m256i last = bpq_avx2_mask(last_rows);
    __m256 c[4][BPQ_AVX2_NARROW];
#pragma GCC unroll 4
    for (int b = 0; b < nb; b++)
#pragma GCC unroll 3
        for (int j = 0; j < w; j++)
            c[b][j] = acc[b][j];
    for (size_t k = 0; k < kt; k++) {
        __m256 bj[BPQ_AVX2_NARROW];
#pragma GCC unroll 3
        for (int j = 0; j < w; j++)
            bj[j] = _mm256_broadcast_ss(bv + k * bks + (size_t)j * bjs);
#pragma GCC unroll 4
        for (int b = 0; b < nb; b++) {
            const float *p = av + k * as + off[b];
            const __m256 a = b == nb - 1 ? _mm256_maskload_ps(p, last) : _mm256_loadu_ps(p);
#pragma GCC unroll 3
            for (int j = 0; j < w; j++)
                c[b][j] = _mm256_fmadd_ps(a, bj[j], c[b][j]);
        }
    }
#pragma GCC unroll 4
    for (int b = 0; b < nb; b++)
#pragma GCC unroll 3
        for (int j = 0; j < w; j++)
            acc[b][j] = c[b][j];
}

/* Inlined into the GEMM driver, the kernel's sums competed with the
 * driver's own values for registers and GCC spilled some of them (a store
 * and a reload in every k step of those chains): one function per shape
 * gives them the whole register file. */
#define BPQ_AVX2_NARROW_FN(nb, w)                                                              \
    __attribute__((noinline, unused)) static void bpq_avx2_narrow_##nb##_##w(                  \
        size_t kt, const float *av, size_t as, const size_t *off, size_t last_rows,            \
        const float *bv, size_t bks, size_t bjs, __m256 acc[4][BPQ_AVX2_NARROW]) {             \
        bpq_avx2_narrow_kernel(nb, w, kt, av, as, off, last_rows, bv, bks, bjs, acc);          \
    }
BPQ_AVX2_NARROW_FN(1, 1) BPQ_AVX2_NARROW_FN(1, 2) BPQ_AVX2_NARROW_FN(1, 3)
BPQ_AVX2_NARROW_FN(2, 1) BPQ_AVX2_NARROW_FN(2, 2) BPQ_AVX2_NARROW_FN(2, 3)
BPQ_AVX2_NARROW_FN(3, 1) BPQ_AVX2_NARROW_FN(3, 2) BPQ_AVX2_NARROW_FN(3, 3)
BPQ_AVX2_NARROW_FN(4, 1) BPQ_AVX2_NARROW_FN(4, 2) BPQ_AVX2_NARROW_FN(4, 3)
#undef BPQ_AVX2_NARROW_FN

/* The out-of-line kernel for a constant nb and w (the switch folds away). */
BPQ_AVX2_INLINE void bpq_avx2_narrow_call(const int nb, const int w, size_t kt, const float *av,
                                          size_t as, const size_t *off, size_t last_rows,
                                          const float *bv, size_t bks, size_t bjs,
                                          __m256 acc[4][BPQ_AVX2_NARROW]) {
#define BPQ_AVX2_NC(b, c)                                                                      \
    if (nb == b && w == c)                                                                     \
        bpq_avx2_narrow_##b##_##c(kt, av, as, off, last_rows, bv, bks, bjs, acc);
    BPQ_AVX2_NC(1, 1) BPQ_AVX2_NC(1, 2) BPQ_AVX2_NC(1, 3)
    BPQ_AVX2_NC(2, 1) BPQ_AVX2_NC(2, 2) BPQ_AVX2_NC(2, 3)
    BPQ_AVX2_NC(3, 1) BPQ_AVX2_NC(3, 2) BPQ_AVX2_NC(3, 3)
    BPQ_AVX2_NC(4, 1) BPQ_AVX2_NC(4, 2) BPQ_AVX2_NC(4, 3)
#undef BPQ_AVX2_NC
}

/* Columns [j0, j0 + w) of rows [r0, r0 + rows), rows <= 32: all of K. */
BPQ_AVX2_INLINE void bpq_avx2_narrow_part(const int op, const int nb, const int w,
                                          const bpq_avx2_gemm *g, size_t r0, size_t rows,
                                          size_t j0, float *copy) {
    __m256 acc[4][BPQ_AVX2_NARROW];
#pragma GCC unroll 4
    for (int b = 0; b < nb; b++)
#pragma GCC unroll 3
        for (int j = 0; j < w; j++)
            acc[b][j] = op == BPQ_AVX2_OP_FORWARD ? _mm256_broadcast_ss(g->bias + j0 + (size_t)j)
                                                  : _mm256_setzero_ps();
    const size_t K = g->k;
    const size_t bks = op == BPQ_AVX2_OP_FORWARD ? 1 : g->ldb;
    const size_t bjs = op == BPQ_AVX2_OP_FORWARD ? g->ldb : 1;
    const float *bsrc = op == BPQ_AVX2_OP_FORWARD ? g->b + j0 * g->ldb : g->b + j0;
    /* off: where vector b of a k step starts; delta has one row per k
     * (BP4), the copy two [k][16] panels (rows 0-15, then 16-31). */
    if (op == BPQ_AVX2_OP_BP4) {
        const size_t off[4] = {0, 8, 16, 24}, last_rows = rows - 8 * (size_t)(nb - 1);
        bpq_avx2_narrow_call(nb, w, K, g->a + r0, g->lda, off, last_rows, bsrc, bks, bjs, acc);
    } else {
        for (size_t k0 = 0; k0 < K; k0 += BPQ_AVX2_NARROW_KT) {
            const size_t kt = K - k0 < BPQ_AVX2_NARROW_KT ? K - k0 : BPQ_AVX2_NARROW_KT;
            const float *src = g->a + r0 * g->lda + k0;
            bpq_avx2_pack_trans(src, g->lda, kt, rows < 16 ? rows : 16, copy);
            if (rows > 16)
                bpq_avx2_pack_trans(src + 16 * g->lda, g->lda, kt, rows - 16, copy + kt * 16);
            const size_t off[4] = {0, 8, kt * 16, kt * 16 + 8};
            bpq_avx2_narrow_call(nb, w, kt, copy, 16, off, 8, bsrc + k0 * bks, bks, bjs, acc);
        }
    }
    /* Epilogue, one output column of 8 rows at a time; the outputs of a
     * vector are ldc apart. What the finish reads (a for BP2, the old dw
     * for BP4) is gathered lane by lane in registers: written to a buffer
     * and loaded back as a vector, it stalled on store forwarding, and BP2
     * on 32x67x33 ran 5-6% slower. The results go out through a buffer (a
     * vector store read back by scalar loads forwards without a stall). */
    _Alignas(32) float t[8];
    for (int b = 0; b < nb; b++) {
        const size_t r = r0 + 8 * (size_t)b, left = rows - 8 * (size_t)b;
        const size_t cnt = left < 8 ? left : 8;
        for (int j = 0; j < w; j++) {
            const size_t col = j0 + (size_t)j;
            const float *src = bpq_avx2_finish_src(op, g, r, col);
            const __m256 x = src ? bpq_avx2_load_column(src, g->ldc, cnt) : _mm256_setzero_ps();
            _mm256_store_ps(t, bpq_avx2_finish(op, g, acc[b][j], x));
            float *out = g->c + r * g->ldc + col;
            for (size_t l = 0; l < cnt; l++)
                out[l * g->ldc] = t[l];
        }
    }
}

/* Columns [j0, g->n) (1 to 3 of them) of rows [r0, r1). */
BPQ_AVX2_INLINE void bpq_avx2_narrow(const int op, const bpq_avx2_gemm *g, size_t r0, size_t r1,
                                     size_t j0, float *copy) {
    const size_t w = g->n - j0;
    for (; r0 < r1; r0 += 32) {
        const size_t rows = r1 - r0 < 32 ? r1 - r0 : 32, nb = (rows + 7) / 8;
#define BPQ_AVX2_NP(b, c)                                                                      \
    if (nb == b && w == c)                                                                     \
        bpq_avx2_narrow_part(op, b, c, g, r0, rows, j0, copy);
        BPQ_AVX2_NP(4, 1) BPQ_AVX2_NP(4, 2) BPQ_AVX2_NP(4, 3)
        BPQ_AVX2_NP(3, 1) BPQ_AVX2_NP(3, 2) BPQ_AVX2_NP(3, 3)
        BPQ_AVX2_NP(2, 1) BPQ_AVX2_NP(2, 2) BPQ_AVX2_NP(2, 3)
        BPQ_AVX2_NP(1, 1) BPQ_AVX2_NP(1, 2) BPQ_AVX2_NP(1, 3)
#undef BPQ_AVX2_NP
    }
}

/* The whole blocked product; op is a constant, so each kernel file gets its
 * own copy with the other operations' code folded away. ws: the caller's
 * 64-byte aligned workspace of BPQ_AVX2_WS_BP4 floats for BP4,
 * BPQ_AVX2_WS_ROW otherwise, a fixed-size array in the caller (sized here
 * from op it would be a variable-length array, whose size -fstack-usage can
 * only bound, at 185 KB for BP4). */
BPQ_AVX2_INLINE void bpq_avx2_gemm_run(const int op, const bpq_avx2_gemm *g, float *ws) {
    const int pack_a = op == BPQ_AVX2_OP_BP4;
    const int park_c = pack_a && g->k > BPQ_AVX2_KC_BP4 && !g->accumulate;
    const size_t WS = pack_a ? BPQ_AVX2_WS_BP4 : BPQ_AVX2_WS_ROW;
    _Alignas(64) float bias16[BPQ_AVX2_NR];
    const size_t M = g->m, K = g->k;
    /* Columns done by 16-wide strips; a last 1 to 3 go down the rows. */
    const size_t N =
        g->n % BPQ_AVX2_NR <= BPQ_AVX2_NARROW ? g->n / BPQ_AVX2_NR * BPQ_AVX2_NR : g->n;
    const size_t kc_row = op == BPQ_AVX2_OP_BP2 ? BPQ_AVX2_KC_BP2 : BPQ_AVX2_KC_ROW;
    const size_t kc = !pack_a ? bpq_avx2_block(K, kc_row, 8)
                      : K <= BPQ_AVX2_KC_BP4 ? K
                      : park_c               ? bpq_avx2_block(K, BPQ_AVX2_KC_BP4_PARK, 8)
                                              : bpq_avx2_block(K, BPQ_AVX2_KC_BP4_MULTI, 8);
    const int single = kc >= K; /* one k block: no sums to park */

    /* ws = [B panel: kc x 16][tile buffer][BP4: packed A]. */
    float *const bp = ws, *const tb = ws + kc * BPQ_AVX2_NR;
    const size_t rest = WS - kc * BPQ_AVX2_NR;
    float *ap = NULL;
    size_t nc, mc_max;
    if (!pack_a) {
        size_t fit = BPQ_AVX2_L2_A_BYTES / (K * sizeof(float));
        nc = BPQ_AVX2_NR;
        mc_max = single || fit < BPQ_AVX2_MC_ROW ? fit : BPQ_AVX2_MC_ROW;
    } else {
        const size_t gs = BPQ_AVX2_COLS6_STRIDE(kc); /* floats per 6 packed columns */
        if (single) {
            nc = (N + BPQ_AVX2_NR - 1) / BPQ_AVX2_NR * BPQ_AVX2_NR;
            mc_max = (rest - BPQ_AVX2_MR * BPQ_AVX2_NR) / gs * BPQ_AVX2_MR;
            ap = tb + BPQ_AVX2_MR * BPQ_AVX2_NR;
        } else if (park_c) {
            /* all of N in one block; tb: the ragged strip's sums */
            nc = (N + BPQ_AVX2_NR - 1) / BPQ_AVX2_NR * BPQ_AVX2_NR;
            mc_max = rest / (gs + BPQ_AVX2_MR * BPQ_AVX2_NR) * BPQ_AVX2_MR;
            ap = tb + mc_max * BPQ_AVX2_NR;
        } else {
            nc = BPQ_AVX2_NC_BP4;
            mc_max = rest / (gs + BPQ_AVX2_MR * nc) * BPQ_AVX2_MR;
            ap = tb + mc_max * nc;
        }
    }
    mc_max = mc_max < BPQ_AVX2_MR ? BPQ_AVX2_MR : mc_max / BPQ_AVX2_MR * BPQ_AVX2_MR;
    const size_t mc = bpq_avx2_block(M, mc_max, BPQ_AVX2_MR);
    const size_t tiles = (mc + BPQ_AVX2_MR - 1) / BPQ_AVX2_MR;

    for (size_t ic = 0; ic < M; ic += mc) {
        const size_t mcur = M - ic < mc ? M - ic : mc;
        for (size_t jc = 0; jc < N; jc += nc) {
            const size_t ncur = N - jc < nc ? N - jc : nc;
            for (size_t pc = 0; pc < K; pc += kc) {
                const size_t kcur = K - pc < kc ? K - pc : kc;
                const int init = pc > 0                        ? BPQ_AVX2_INIT_TILE
                                 : op == BPQ_AVX2_OP_FORWARD ? BPQ_AVX2_INIT_BIAS
                                                             : BPQ_AVX2_INIT_ZERO;
                const int last = pc + kcur == K;
                if (pack_a)
                    bpq_avx2_pack_cols6(g->a + pc * g->lda + ic, g->lda, kcur, mcur, M - ic, ap);
                for (size_t jr = jc; jr < jc + ncur; jr += BPQ_AVX2_NR) {
                    const size_t w = N - jr < BPQ_AVX2_NR ? N - jr : BPQ_AVX2_NR;
                    const int nv = w > 8 ? 2 : 1;
                    if (op == BPQ_AVX2_OP_FORWARD) {
                        _mm256_store_ps(bias16, bpq_avx2_strip_load(g->bias + jr, w, 0));
                        _mm256_store_ps(bias16 + 8, bpq_avx2_strip_load(g->bias + jr, w, 1));
                        bpq_avx2_pack_trans(g->b + jr * g->ldb + pc, g->ldb, kcur, w, bp);
                    } else {
                        bpq_avx2_pack_rows(g->b + pc * g->ldb + jr, g->ldb, kcur, w, bp);
                    }
                    /* Which panel comes next, in this loop order. */
                    size_t njr = jr + BPQ_AVX2_NR, npc = pc;
                    if (njr >= jc + ncur) {
                        njr = jc;
                        npc = pc + kc;
                        if (npc >= K) {
                            npc = 0;
                            njr = jc + nc;
                        }
                    }
                    const bpq_avx2_pf pf = bpq_avx2_prefetch_plan(op, g, njr, npc, kc, tiles);
                    if (pack_a && !single)
                        bpq_avx2_prefetch_a(g, ic, mcur, pc, kc, mc, (jr - jc) / BPQ_AVX2_NR,
                                            (ncur + BPQ_AVX2_NR - 1) / BPQ_AVX2_NR);
                    size_t tile_no = 0;
                    for (size_t ir = 0, mr; ir < mcur; ir += mr, tile_no++) {
                        mr = bpq_avx2_tile_rows(mcur - ir);
                        const size_t row = ic + ir;
                        /* Where the running sums of this tile live between k blocks. */
                        const int in_c = park_c && w == BPQ_AVX2_NR;
                        const size_t strip = (jr - jc) / BPQ_AVX2_NR;
                        float *tile = single ? tb
                                      : in_c ? g->c + row * g->ldc + jr
                                      : park_c ? tb + BPQ_AVX2_NR * ir
                                               : tb + BPQ_AVX2_NR * (strip * mc + ir);
                        const size_t ldt = in_c ? g->ldc : BPQ_AVX2_NR;
                        bpq_avx2_prefetch_part(op, &pf, tile_no);
                        if (pack_a)
                            bpq_avx2_tile_any(op, (int)mr, nv, 1, g, kcur,
                                              ap + tile_no * BPQ_AVX2_COLS6_STRIDE(kcur),
                                              BPQ_AVX2_MR, bp, tile, ldt, init, bias16, last,
                                              row, jr, w);
                        else
                            bpq_avx2_tile_any(op, (int)mr, nv, 0, g, kcur,
                                              g->a + row * g->lda + pc, g->lda, bp, tile, ldt,
                                              init, bias16, last, row, jr, w);
                    }
                }
            }
        }
        /* The narrow columns; their transposed copy of A (at most 2 x 128 x
         * 16 floats) reuses the workspace, idle once the strips are done. */
        if (N < g->n)
            bpq_avx2_narrow(op, g, ic, ic + mcur, N, ws);
        /* Softmax needs whole rows: they are complete once every strip of
         * this M block is done, and still in L2. */
        if (op == BPQ_AVX2_OP_FORWARD && g->act == BPQ_ACT_SOFTMAX)
            for (size_t r = ic; r < ic + mcur; r++)
                bpq_avx2_softmax_row(g->c + r * g->ldc, g->n);
    }
}

/*
 * Defines `static void name(bpq_avx2_gemm g)`: the blocked product for op
 * with its own workspace of ws_floats (see bpq_avx2_gemm_run), after the
 * statement `set` has fixed some of g's fields to constants. Each kernel
 * file makes one such copy per activation (or, for BP4, per mean and
 * accumulate), so that every epilogue holds just its own arithmetic and no
 * branch on those fields: 32x67x33 ran 12-21% faster, the forward pass on
 * the activation-only bench shape 16-25% (with the faster exp). Each copy
 * is 40-145 KB of code. Not inlined, so that only one copy's workspace is
 * on the stack.
 */
#define BPQ_AVX2_GEMM_COPY(name, op, ws_floats, set)                                           \
    __attribute__((noinline)) static void name(bpq_avx2_gemm g) {                             \
        set;                                                                                   \
        _Alignas(64) float ws[ws_floats];                                                      \
        bpq_avx2_gemm_run(op, &g, ws);                                                         \
    }

#endif /* BPQ_AVX2_GEMM_P_H */
