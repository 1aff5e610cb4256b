/* gemv_p.h - AVX2 forward pass for one example (GEMV): W read in place, transposed in registers. */
#ifndef BPQ_AVX2_GEMV_P_H
#define BPQ_AVX2_GEMV_P_H

/*
 * z[j] = b[j] + sum_i x[i] w[j, i], i ascending, one fma per step. Packing
 * W^T would cost as much as the product, so W (row-major, n_out x n_in) is
 * read in place and transposed in registers: a vector holds 8 outputs (its
 * lanes are 8 rows of W), and a step is one fma per vector with x
 * broadcast. A 4 x 4 transpose in each 128-bit half turns 4 loads of 4
 * inputs ("row q | row q + 4") into the 4 columns of those inputs.
 *
 * Why 32 rows at once. An output's steps form one dependent chain of fmas
 * (4 cycles each), so a vector can take a step only every 4 cycles; 4
 * vectors (32 rows) are interleaved to keep the FMA and shuffle pipes busy.
 * Each vector-step costs 4 FP-pipe uops (3 shuffles + the fma), about what
 * Zen 5 issues per cycle, and 2.25 vector loads (it issues 2 a cycle).
 * Fewer rows leave the pipes waiting on the chains; more rows mean more
 * concurrent streams from memory (measured slower) and spilled registers.
 * Wider loads (256-bit, 8 inputs of a row) would save loads but need the
 * second half kept for 4 steps: through the stack or with 8 steps per
 * vector, both measured slower.
 *
 * Skew. When n_in is near a multiple of 512 (1024, 2048...), the rows of W
 * are about a multiple of 2 KiB apart, so the same column of the 32 rows
 * falls in one or two sets of the L1 (12 ways): read in lockstep, each line
 * would be evicted before its 16 inputs are used. So lane pair q (lanes q
 * and q + 4 of every vector, 8 rows in all) then runs q * SKEW steps
 * behind pair 0: the 32 rows spread over 4 sets at a time. SKEW = 64
 * inputs (4 lines) measured faster than 32 or 128. When the rows already
 * spread (at most 8 of them start in one set) the skew is 0. x is read
 * through a table of the same skew, xs[t] = (x[t], x[t - SKEW], x[t - 2
 * SKEW], x[t - 3 SKEW]) in both halves, so one broadcast feeds all 4
 * vectors.
 *
 * Rotation. Lagging lanes would sit idle while pair 0 starts a block of 32
 * rows and again while pair 3 finishes it (3 SKEW of every n_in steps, 19%
 * at n_in = 1024). Instead each pair moves on to its rows of the next block
 * as soon as it is done: its sums are stored, the next rows' initial values
 * are blended in, and its pointer jumps, while the other pairs carry on.
 * Lanes are idle only at the start and end of the whole pass. Each lane
 * still sees its own row's chain, in order, and nothing else. (Without
 * skew all pairs simply change block together.)
 *
 * Passes. The table holds BPQ_GEMV_TABLE steps (16 KiB of stack); longer
 * rows take several passes of equal length over inputs [k0, k0 + P), the
 * running sums waiting in a (a overlaps no input) between passes: the
 * chains simply continue. Long passes matter: each one restarts all 32
 * streams (passes of 512 measured 20% slower than 1024). The last n_in % 4
 * inputs are added at the end, column by column, and rows past the last
 * full block of 32 take a slower path with the same arithmetic.
 *
 * Prefetch. Each row is one stream of W, and 32 streams at once are more
 * than the hardware prefetchers follow well (a plain read of W in this
 * order, without any arithmetic, is already slower than a linear one). A
 * software prefetch of each row's line 2 lines ahead into L1 measured
 * about 15% faster from L3. Hints into L2 were slower, and so were 4 lines
 * ahead: that is where the next lane pair is reading, 8 more rows in the
 * same L1 set.
 *
 * Stack: the table, 16 KiB.
 */

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "avx2/math_p.h"
#include "avx2/pack_p.h"
#include "bpq.h"

#define BPQ_GEMV_SKEW 64     /* steps by which lane pair q + 1 trails pair q, when skewed */
#define BPQ_GEMV_TABLE 1024  /* steps per pass; the table is 16 bytes a step */
#define BPQ_GEMV_PREFETCH 32 /* floats ahead of the loads that each row prefetches */

/* Four 4 x 4 transposes in the two halves: r[q] = (row q | row q + 4) at 4
 * inputs, out c[t] = input t of the 8 rows, lane l = row l. */
BPQ_AVX2_INLINE void gemv_transpose(const __m256 r[4], __m256 c[4]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    c[0] = _mm256_shuffle_ps(t0, t2, 0x44);
    c[1] = _mm256_shuffle_ps(t0, t2, 0xee);
    c[2] = _mm256_shuffle_ps(t1, t3, 0x44);
    c[3] = _mm256_shuffle_ps(t1, t3, 0xee);
}

/* acc = fma(x[t], c[t], acc) for the 4 steps, in order. */
BPQ_AVX2_INLINE __m256 gemv_fma(__m256 acc, const __m256 x[4], const __m256 c[4]) {
    acc = _mm256_fmadd_ps(x[0], c[0], acc);
    acc = _mm256_fmadd_ps(x[1], c[1], acc);
    acc = _mm256_fmadd_ps(x[2], c[2], acc);
    return _mm256_fmadd_ps(x[3], c[3], acc);
}

/* Lanes q and q + 4 set: the two lanes of pair q. */
BPQ_AVX2_INLINE __m256 gemv_pair_mask(int q) {
    return _mm256_castsi256_ps(_mm256_setr_epi32(-(q == 0), -(q == 1), -(q == 2), -(q == 3),
                                                 -(q == 0), -(q == 1), -(q == 2), -(q == 3)));
}

/* `steps` steps (a multiple of 4) of one full block of 32 rows. p[q] is
 * where pair q reads: row q of the block at its current input; its other
 * 7 rows are 4 n, 8 n, ... 28 n floats further (vector g holds rows 8 g ..
 * 8 g + 7). xs is the table at the current step. busy (a constant after
 * inlining) says which pairs are working; the others are not read and a
 * blend keeps their sums. Pointers advance for all pairs (the caller sets
 * a pair's pointer when it starts a block). */
BPQ_AVX2_INLINE void gemv_steps(const unsigned busy, const float *p[4], size_t n, const float *xs,
                                size_t steps, __m256 acc[4]) {
    const float *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3];
    const float *const end = p0 + steps;
    const size_t off[8] = {0, 4 * n, 8 * n, 12 * n, 16 * n, 20 * n, 24 * n, 28 * n};
    const __m256 keep = _mm256_castsi256_ps(_mm256_setr_epi32(
        -(int)(busy & 1), -(int)(busy >> 1 & 1), -(int)(busy >> 2 & 1), -(int)(busy >> 3 & 1),
        -(int)(busy & 1), -(int)(busy >> 1 & 1), -(int)(busy >> 2 & 1), -(int)(busy >> 3 & 1)));
    for (; p0 < end; xs += 16, p0 += 4, p1 += 4, p2 += 4, p3 += 4) {
        const float *pq[4] = {p0, p1, p2, p3};
        if (busy == 15) {
            /* Each row of W wants one prefetch per line (16 steps), so each
             * iteration prefetches the 8 rows of one vector, in turn: the
             * vector is picked by bits 4-5 of p0's address, which step
             * through 0..3 as p0 moves 16 bytes per iteration. Near the end
             * of W the address may lie past it: a prefetch never faults,
             * and computing it as an integer keeps the C well defined. */
            const size_t o = 4 * (off[2 * ((uintptr_t)p0 >> 4 & 3)] + BPQ_GEMV_PREFETCH);
#pragma GCC unroll 4
            for (int q = 0; q < 4; q++) {
                _mm_prefetch((const char *)((uintptr_t)pq[q] + o), _MM_HINT_T0);
                _mm_prefetch((const char *)((uintptr_t)pq[q] + o + 16 * n), _MM_HINT_T0);
            }
        }
        __m256 x[4], sum[4];
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++)
            x[t] = _mm256_broadcast_ps((const __m128 *)(xs + 4 * t));
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
            __m256 r[4], c[4];
#pragma GCC unroll 4
            for (int q = 0; q < 4; q++)
                r[q] = busy >> q & 1 ? _mm256_insertf128_ps(
                                           _mm256_castps128_ps256(_mm_loadu_ps(pq[q] + off[2 * g])),
                                           _mm_loadu_ps(pq[q] + off[2 * g + 1]), 1)
                                     : _mm256_setzero_ps();
            gemv_transpose(r, c);
            sum[g] = gemv_fma(acc[g], x, c);
        }
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++)
            acc[g] = busy == 15 ? sum[g] : _mm256_blendv_ps(acc[g], sum[g], keep);
    }
    p[0] = p0, p[1] = p1, p[2] = p2, p[3] = p3;
}

/* xs[4 t + q] = x[k0 + (t - q skew) mod P] for steps t in [0, P): the
 * input pair q takes at step t of a block. P and skew are multiples of 4,
 * so 4 consecutive steps of a pair never wrap: a 4 x 4 transpose of x. */
static void gemv_table(const float *x, size_t k0, size_t P, size_t skew, float *xs) {
    size_t at[4];
    for (size_t q = 0; q < 4; q++)
        at[q] = (P - q * skew % P) % P;
    for (size_t t = 0; t < P; t += 4, xs += 16) {
        __m128 v[4];
        for (size_t q = 0; q < 4; q++) {
            v[q] = _mm_loadu_ps(x + k0 + at[q]);
            at[q] = at[q] + 4 == P ? 0 : at[q] + 4;
        }
        _MM_TRANSPOSE4_PS(v[0], v[1], v[2], v[3]);
        for (int t4 = 0; t4 < 4; t4++)
            _mm_store_ps(xs + 4 * t4, v[t4]);
    }
}

/* Inputs [k0, k0 + P) of the nb full blocks of 32 rows, rotating (see the
 * top). Time T counts steps from the start of the pass; pair q is at step
 * T - q skew of its own sequence of blocks, each P steps long. The sums
 * start from src (b on the first pass, else a) and end in a. */
static void gemv_blocks(size_t n, size_t nb, size_t k0, size_t P, size_t skew, const float *xs,
                        const float *w, const float *src, float *a) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    const float *p[4] = {w, w, w, w};
    for (size_t T = 0;;) {
        /* Events at T: a pair that reaches a block boundary hands in the
         * sums of its last block and takes the initial values of its next. */
        unsigned busy = 0;
        size_t next = nb * P + 3 * skew;
        for (int q = 0; q < 4; q++) {
            const size_t lag = (size_t)q * skew;
            if (T < lag) {
                next = lag < next ? lag : next;
                continue;
            }
            const size_t t = T - lag, blk = t / P;
            if (t % P == 0 && blk <= nb) {
                const __m256 m = gemv_pair_mask(q);
                for (size_t g = 0; g < 4; g++) {
                    if (blk > 0) {
                        /* Two plain stores: no masked store, whose 32 bytes
                         * would stall later loads of the neighbouring sums. */
                        _Alignas(32) float v[8];
                        float *dst = a + 32 * (blk - 1) + 8 * g;
                        _mm256_store_ps(v, acc[g]);
                        dst[q] = v[q], dst[q + 4] = v[q + 4];
                    }
                    if (blk < nb) {
                        const __m256 init = _mm256_loadu_ps(src + 32 * blk + 8 * g);
                        acc[g] = _mm256_blendv_ps(acc[g], init, m);
                    }
                }
                if (blk < nb)
                    p[q] = w + (32 * blk + (size_t)q) * n + k0;
            }
            if (blk < nb) {
                busy |= 1u << q;
                const size_t e = T + P - t % P;
                next = e < next ? e : next;
            }
        }
        if (busy == 0)
            return;
        /* Steps up to the next event, with one set of busy pairs. Pairs
         * start and stop in order, so busy is one of these 7 masks. */
        const float *xp = xs + 4 * (T % P);
        switch (busy) {
#define BPQ_GEMV_CASE(m)                                                                       \
    case m:                                                                                    \
        gemv_steps(m, p, n, xp, next - T, acc);                                                \
        break;
            BPQ_GEMV_CASE(1) BPQ_GEMV_CASE(3) BPQ_GEMV_CASE(7) BPQ_GEMV_CASE(15)
            BPQ_GEMV_CASE(14) BPQ_GEMV_CASE(12) BPQ_GEMV_CASE(8)
#undef BPQ_GEMV_CASE
        }
        T = next;
    }
}

/* The same pass for the last `rows` (1..31) rows, at w, as one block that
 * is not rotated: pair q works from step q skew to q skew + P. Rows past
 * `rows` are never read. Slower (the busy lanes are worked out at every
 * step), but only ever a sliver of the work or a small matrix. */
static void gemv_rest(size_t n, size_t rows, size_t k0, size_t P, size_t skew, const float *xs,
                      const float *w, const float *src, float *a) {
    __m256 acc[4];
    for (size_t g = 0; 8 * g < rows; g++)
        acc[g] = bpq_avx2_strip_load(src + 8 * g, rows - 8 * g, 0);
    for (size_t T = 0; T < P + 3 * skew; T += 4) {
        int busy[4];
        for (size_t q = 0; q < 4; q++)
            busy[q] = T >= q * skew && T - q * skew < P;
        const __m256 keep = _mm256_castsi256_ps(_mm256_setr_epi32(
            -busy[0], -busy[1], -busy[2], -busy[3], -busy[0], -busy[1], -busy[2], -busy[3]));
        __m256 x[4];
        for (size_t t = 0; t < 4; t++)
            x[t] = _mm256_broadcast_ps((const __m128 *)(xs + 4 * (T % P + t)));
        for (size_t g = 0; 8 * g < rows; g++) {
            __m256 r[4], c[4];
            for (size_t q = 0; q < 4; q++) {
                const size_t row = 8 * g + q, col = k0 + (T - q * skew);
                __m128 lo = _mm_setzero_ps(), hi = _mm_setzero_ps();
                if (busy[q] && row < rows)
                    lo = _mm_loadu_ps(w + row * n + col);
                if (busy[q] && row + 4 < rows)
                    hi = _mm_loadu_ps(w + (row + 4) * n + col);
                r[q] = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
            }
            gemv_transpose(r, c);
            acc[g] = _mm256_blendv_ps(acc[g], gemv_fma(acc[g], x, c), keep);
        }
    }
    for (size_t g = 0; 8 * g < rows; g++)
        bpq_avx2_store_first(a + 8 * g, rows - 8 * g >= 8 ? 8 : rows - 8 * g, acc[g]);
}

/* How many of 32 rows, n floats apart, start in the busiest set of the L1
 * (64 sets of 64-byte lines, so addresses 1024 floats apart share a set). */
static size_t gemv_crowding(size_t n) {
    unsigned char count[64] = {0};
    size_t most = 0;
    for (size_t r = 0; r < 32; r++) {
        const size_t c = ++count[r * (n % 1024) % 1024 / 16];
        most = c > most ? c : most;
    }
    return most;
}

/* a = act(W x + b) for one example. */
static void bpq_avx2_gemv(size_t n_in, size_t n_out, const float *x, const float *w,
                          const float *b, bpq_act act, float *a) {
    _Alignas(32) float xs[4 * BPQ_GEMV_TABLE];
    const size_t n4 = n_in / 4 * 4, nb = n_out / 32, rest = n_out % 32;
    /* The inputs are cut into passes of equal length (in groups of 4), at
     * most BPQ_GEMV_TABLE: with several passes each is over 512 steps. The
     * skew needs every pass to be longer than the 3 SKEW the lags span,
     * else pairs would not start and stop in order. */
    const size_t passes = (n4 + BPQ_GEMV_TABLE - 1) / BPQ_GEMV_TABLE;
    const size_t skew = n4 > 3 * BPQ_GEMV_SKEW && gemv_crowding(n_in) > 8 ? BPQ_GEMV_SKEW : 0;
    for (size_t pass = 0, k0 = 0, P; pass < passes; pass++, k0 += P) {
        P = 4 * (n4 / 4 / passes + (pass < n4 / 4 % passes));
        const float *src = k0 == 0 ? b : a;
        gemv_table(x, k0, P, skew, xs);
        if (nb > 0)
            gemv_blocks(n_in, nb, k0, P, skew, xs, w, src, a);
        if (rest > 0)
            gemv_rest(n_in, rest, k0, P, skew, xs, w + 32 * nb * n_in, src + 32 * nb, a + 32 * nb);
    }
    if (n4 == 0)
        for (size_t j = 0; j < n_out; j++)
            a[j] = b[j];
    /* The last n_in % 4 inputs, in order, one column of 8 rows at a time. */
    if (n4 < n_in) {
        _Alignas(32) float col[8] = {0};
        for (size_t j = 0; j < n_out; j += 8) {
            const size_t rows = n_out - j < 8 ? n_out - j : 8;
            __m256 acc = bpq_avx2_strip_load(a + j, rows, 0);
            for (size_t i = n4; i < n_in; i++) {
                for (size_t l = 0; l < rows; l++)
                    col[l] = w[(j + l) * n_in + i];
                acc = _mm256_fmadd_ps(_mm256_broadcast_ss(x + i), _mm256_load_ps(col), acc);
            }
            bpq_avx2_strip_store(a + j, rows, 0, acc);
        }
    }
    /* One row of n_out sums, in L1: the activation is one short pass. */
    if (act == BPQ_ACT_SOFTMAX)
        bpq_avx2_softmax_row(a, n_out);
    else
        bpq_avx2_act_row(act, a, n_out);
}

#endif
