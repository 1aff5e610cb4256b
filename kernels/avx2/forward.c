/* forward.c - AVX2 forward pass A = act(X W^T + b): blocked GEMM, and a GEMV for one example. */
#include "avx2/gemm_p.h"
#include "kernels.h"

/*
 * One example (batch 1) is a GEMV: z[j] = b[j] + sum_i x[i] w[j, i], i
 * ascending. Packing W^T would cost as much as the product, so W is read
 * in place and transposed in registers: a vector holds 8 outputs (lanes =
 * rows of W), and each step i is one FMA per vector with the broadcast
 * x[i]. One vector's chain is 4 cycles per step, so 4 vectors (32 rows)
 * are interleaved every 4 steps to keep the FMA and shuffle pipes busy.
 *
 * Skew. With n_in = 1024 a row of W is 4 KiB, so the same column of all 32
 * rows falls in one L1 set (12 ways): read in lockstep, each line would be
 * evicted before its 4 steps are done and refetched from L2 each time. So
 * lanes q and q + 4 of every vector run 32 q inputs (two lines per q)
 * behind lanes 0 and 4: at step s, lane q processes input s - 32 q. The
 * 32 rows then spread over 4 sets, 8 lines each, and the next lines the
 * prefetcher brings in land in 4 other sets (a skew of one line measured
 * slower). x is read through a table of the same skew, xs[s] = (x[s],
 * x[s-32], x[s-64], x[s-96]) in both halves. In the first and last 96
 * steps some lanes are idle: they load nothing (so nothing outside W is
 * read), and a blend restores their sums, so each output sees exactly its
 * own chain. Those steps are the price of the skew: 96 / n_in more work.
 */
#define BPQ_GEMV_SKEW 32
#define BPQ_GEMV_LAG (3 * BPQ_GEMV_SKEW) /* steps by which the last lanes trail */
#define BPQ_GEMV_TABLE 1024               /* steps per table: 16 KiB of stack */

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

/* The 8 (skewed) rows of a vector at p, p4 = p + 4 ld, as r[q] = (row q |
 * row q + 4): row q of the group is at p + q sk, where sk = ld - SKEW is
 * the row stride minus the skew, so every address is a base plus 1 or 2
 * times a stride register. Rows q not in busy are idle and not read. */
BPQ_AVX2_INLINE void gemv_load(const unsigned busy, const float *p, const float *p4, size_t sk,
                               size_t sk3, __m256 r[4]) {
    const size_t off[4] = {0, sk, 2 * sk, sk3};
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        if (busy >> q & 1)
            r[q] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p + off[q])),
                                        _mm_loadu_ps(p4 + off[q]), 1);
        else
            r[q] = _mm256_setzero_ps();
    }
}

/* acc = fma(xs[t], c[t], acc) for the 4 steps of a table slot, in order. */
BPQ_AVX2_INLINE __m256 gemv_fma(__m256 acc, const float *xs, const __m256 c[4]) {
#pragma GCC unroll 4
    for (int t = 0; t < 4; t++)
        acc = _mm256_fmadd_ps(_mm256_broadcast_ps((const __m128 *)(xs + 4 * t)), c[t], acc);
    return acc;
}

/* Steps [s, s1) of 32 rows at w: the hot loop. xs is the table slot of
 * step s. busy (a constant) says which lane pairs q, q + 4 are working;
 * the others are not read and the blend keeps their sums. */
BPQ_AVX2_INLINE void gemv_steps(const unsigned busy, const float *w, size_t ld, size_t s,
                                size_t s1, const float *xs, __m256 acc[4]) {
    const size_t sk = ld - BPQ_GEMV_SKEW, sk3 = 3 * sk;
    const float *p0 = w + s, *p1 = p0 + 8 * ld, *p2 = p1 + 8 * ld, *p3 = p2 + 8 * ld;
    const __m256 keep = _mm256_castsi256_ps(_mm256_setr_epi32(
        -(int)(busy & 1), -(int)(busy >> 1 & 1), -(int)(busy >> 2 & 1), -(int)(busy >> 3 & 1),
        -(int)(busy & 1), -(int)(busy >> 1 & 1), -(int)(busy >> 2 & 1), -(int)(busy >> 3 & 1)));
    __m256 a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (; s < s1; s += 4, xs += 16, p0 += 4, p1 += 4, p2 += 4, p3 += 4) {
        __m256 r[4], c[4], n0, n1, n2, n3;
        gemv_load(busy, p0, p0 + 4 * ld, sk, sk3, r);
        gemv_transpose(r, c);
        n0 = gemv_fma(a0, xs, c);
        gemv_load(busy, p1, p1 + 4 * ld, sk, sk3, r);
        gemv_transpose(r, c);
        n1 = gemv_fma(a1, xs, c);
        gemv_load(busy, p2, p2 + 4 * ld, sk, sk3, r);
        gemv_transpose(r, c);
        n2 = gemv_fma(a2, xs, c);
        gemv_load(busy, p3, p3 + 4 * ld, sk, sk3, r);
        gemv_transpose(r, c);
        n3 = gemv_fma(a3, xs, c);
        if (busy == 15) {
            a0 = n0, a1 = n1, a2 = n2, a3 = n3;
        } else {
            a0 = _mm256_blendv_ps(a0, n0, keep);
            a1 = _mm256_blendv_ps(a1, n1, keep);
            a2 = _mm256_blendv_ps(a2, n2, keep);
            a3 = _mm256_blendv_ps(a3, n3, keep);
        }
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

/* Steps [s, s1) of `rows` (1..32) rows at w, any lanes busy or idle: for
 * the last rows and short rows. Idle or missing rows load nothing; idle
 * lanes keep their sums. n4 = inputs handled by steps. */
static void gemv_edge(const float *w, size_t ld, size_t rows, size_t n4, size_t s, size_t s1,
                      const float *xs, __m256 acc[4]) {
    for (; s < s1; s += 4, xs += 16) {
        int busy[4];
        for (int q = 0; q < 4; q++) {
            size_t lag = BPQ_GEMV_SKEW * (size_t)q;
            busy[q] = s >= lag && s - lag < n4;
        }
        const __m256 keep = _mm256_castsi256_ps(_mm256_setr_epi32(
            -busy[0], -busy[1], -busy[2], -busy[3], -busy[0], -busy[1], -busy[2], -busy[3]));
        for (size_t g = 0; 8 * g < rows; g++) {
            __m256 r[4], c[4];
            for (size_t q = 0; q < 4; q++) {
                size_t row = 8 * g + q;
                const float *p = w + row * ld + s - BPQ_GEMV_SKEW * q;
                __m128 lo = busy[q] && row < rows ? _mm_loadu_ps(p) : _mm_setzero_ps();
                __m128 hi = busy[q] && row + 4 < rows ? _mm_loadu_ps(p + 4 * ld) : _mm_setzero_ps();
                r[q] = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
            }
            gemv_transpose(r, c);
            acc[g] = _mm256_blendv_ps(acc[g], gemv_fma(acc[g], xs, c), keep);
        }
    }
}

/* xs[4 (s - s0) + q] = x[s - 32 q] (+0 outside [0, n4)) for steps [s0, s1):
 * 4 x 4 transposes of x at the four lags. s0, s1, n4 are multiples of 4,
 * so a group of 4 inputs is wholly inside or outside. */
static void gemv_table(const float *x, size_t n4, size_t s0, size_t s1, float *xs) {
    for (size_t s = s0; s < s1; s += 4, xs += 16) {
        __m128 v[4];
        for (size_t q = 0; q < 4; q++) {
            size_t lag = BPQ_GEMV_SKEW * q;
            v[q] = s >= lag && s - lag < n4 ? _mm_loadu_ps(x + s - lag) : _mm_setzero_ps();
        }
        _MM_TRANSPOSE4_PS(v[0], v[1], v[2], v[3]);
        for (int t = 0; t < 4; t++)
            _mm_store_ps(xs + 4 * t, v[t]);
    }
}

__attribute__((noinline)) static void forward_gemv(size_t n_in, size_t n_out, const float *x,
                                                   const float *w, const float *b, bpq_act act,
                                                   float *a) {
    _Alignas(32) float xs[4 * BPQ_GEMV_TABLE];
    const size_t n4 = n_in / 4 * 4, steps = n4 + BPQ_GEMV_LAG;
    /* Sums live in a between tables (a overlaps no input). */
    for (size_t s0 = 0; s0 < steps; s0 += BPQ_GEMV_TABLE) {
        const size_t s1 = steps - s0 < BPQ_GEMV_TABLE ? steps : s0 + BPQ_GEMV_TABLE;
        gemv_table(x, n4, s0, s1, xs);
        for (size_t j = 0; j < n_out; j += 32) {
            const size_t rows = n_out - j < 32 ? n_out - j : 32;
            const float *src = s0 == 0 ? b : a;
            __m256 acc[4];
            for (size_t g = 0; g < 4; g++)
                acc[g] = 8 * g < rows ? bpq_avx2_strip_load(src + j + 8 * g, rows - 8 * g, 0)
                                      : _mm256_setzero_ps();
            const float *wj = w + j * n_in;
            if (rows == 32 && n4 >= BPQ_GEMV_LAG) {
                /* Seven ranges of steps, each with one set of busy lanes:
                 * the lane pairs start one at a time, all run, then stop
                 * one at a time. */
                static const unsigned char busy[7] = {1, 3, 7, 15, 14, 12, 8};
                for (int part = 0; part < 7; part++) {
                    size_t lo = part < 4 ? BPQ_GEMV_SKEW * (size_t)part
                                         : n4 + BPQ_GEMV_SKEW * (size_t)(part - 4);
                    size_t hi = part == 3 ? n4 : lo + BPQ_GEMV_SKEW;
                    lo = lo < s0 ? s0 : lo;
                    hi = hi > s1 ? s1 : hi;
                    if (lo >= hi)
                        continue;
                    const float *xp = xs + 4 * (lo - s0);
                    switch (busy[part]) {
#define BPQ_GEMV_PART(m)                                                                       \
    case m:                                                                                    \
        gemv_steps(m, wj, n_in, lo, hi, xp, acc);                                              \
        break;
                        BPQ_GEMV_PART(1) BPQ_GEMV_PART(3) BPQ_GEMV_PART(7) BPQ_GEMV_PART(15)
                        BPQ_GEMV_PART(14) BPQ_GEMV_PART(12) BPQ_GEMV_PART(8)
#undef BPQ_GEMV_PART
                    }
                }
            } else {
                gemv_edge(wj, n_in, rows, n4, s0, s1, xs, acc);
            }
            for (size_t g = 0; 8 * g < rows; g++)
                bpq_avx2_strip_store(a + j + 8 * g, rows - 8 * g, 0, acc[g]);
        }
    }
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

void bpq_forward_avx2(size_t batch, size_t n_in, size_t n_out, const float *x, const float *w,
                      const float *b, bpq_act act, float *a) {
    if (batch == 1) {
        forward_gemv(n_in, n_out, x, w, b, act, a);
        return;
    }
    bpq_avx2_gemm g = {.m = batch, .n = n_out, .k = n_in, .a = x, .lda = n_in, .b = w,
                       .ldb = n_in, .c = a, .ldc = n_out, .bias = b, .act = act};
    bpq_avx2_gemm_run(BPQ_AVX2_OP_FORWARD, &g);
}
