/* bp1.c - AVX2 BP1: output-layer error and, when asked, the mean loss. */
#include <stdint.h>

#include "avx2/math_p.h"
#include "kernels.h"

/* Everything below is inlined into one copy per (loss, act) case, so the
 * loss and activation selects vanish from the inner loops. */
#define BPQ_BP1_FLAT __attribute__((always_inline)) static inline

/* Loss term of each lane, as canon.h defines it. The final negations flip
 * the sign bit, which is what scalar unary minus does.
 *
 * Two shortcuts give the same bits as the full recipe. log never returns -0
 * and returns NaN only for NaN input, so with a label of exactly 0 or 1 one
 * of the two BCE products is a zero that cannot change the fma's result:
 * the term is -log(a) for y = 1 and -log(1 - a) for y = 0, one log instead
 * of two. An XENT term with y = 0 and a not NaN is a zero, and adding a zero
 * leaves a partial sum unchanged (partials are never -0), so a vector of
 * such lanes (most of a one-hot row) can contribute +0 without a log. */
BPQ_BP1_FLAT __m256 loss_term(bpq_loss loss, __m256 a, __m256 y) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    const __m256 zero = _mm256_setzero_ps();
    if (loss == BPQ_LOSS_MSE) {
        __m256 d = _mm256_sub_ps(a, y);
        return _mm256_mul_ps(_mm256_mul_ps(d, d), _mm256_set1_ps(0.5f));
    }
    if (loss == BPQ_LOSS_BCE) {
        __m256 y1 = _mm256_cmp_ps(y, one, _CMP_EQ_OQ);
        __m256 hard = _mm256_or_ps(y1, _mm256_cmp_ps(y, zero, _CMP_EQ_OQ));
        if (_mm256_movemask_ps(hard) == 0xff) {
            __m256 arg = _mm256_blendv_ps(_mm256_sub_ps(one, a), a, y1);
            return _mm256_xor_ps(bpq_avx2_log(arg), sign);
        }
        __m256 t = _mm256_mul_ps(_mm256_sub_ps(one, y), bpq_avx2_log(_mm256_sub_ps(one, a)));
        return _mm256_xor_ps(_mm256_fmadd_ps(y, bpq_avx2_log(a), t), sign);
    }
    __m256 nil = _mm256_and_ps(_mm256_cmp_ps(y, zero, _CMP_EQ_OQ), _mm256_cmp_ps(a, a, _CMP_ORD_Q));
    if (_mm256_movemask_ps(nil) == 0xff)
        return zero;
    return _mm256_xor_ps(_mm256_mul_ps(y, bpq_avx2_log(a)), sign);
}

/* delta for 8 lanes: MSE (a - y) * act'(a); BCE and XENT a - y. */
BPQ_BP1_FLAT __m256 delta_of(bpq_loss loss, bpq_act act, __m256 a, __m256 y) {
    __m256 diff = _mm256_sub_ps(a, y);
    return loss == BPQ_LOSS_MSE ? _mm256_mul_ps(diff, bpq_avx2_dact(act, a)) : diff;
}

/* Deltas only: a pure stream. delta may be a or y exactly, and every vector
 * is loaded before its own store, so the aliasing is harmless. With nt, the
 * whole vectors go out with non-temporal stores, which need delta + 8k to
 * be 32-byte aligned (see delta_nt); the tail is stored normally. */
#define BPQ_BP1_STORE(nt, p, v) ((nt) ? _mm256_stream_ps(p, v) : _mm256_storeu_ps(p, v))
BPQ_BP1_FLAT void delta_rows(size_t count, bpq_loss loss, bpq_act act, const float *a,
                             const float *y, float *delta, int nt) {
    size_t j = 0;
    for (; j + 32 <= count; j += 32) {
        __m256 a0 = _mm256_loadu_ps(a + j), a1 = _mm256_loadu_ps(a + j + 8);
        __m256 a2 = _mm256_loadu_ps(a + j + 16), a3 = _mm256_loadu_ps(a + j + 24);
        __m256 y0 = _mm256_loadu_ps(y + j), y1 = _mm256_loadu_ps(y + j + 8);
        __m256 y2 = _mm256_loadu_ps(y + j + 16), y3 = _mm256_loadu_ps(y + j + 24);
        BPQ_BP1_STORE(nt, delta + j, delta_of(loss, act, a0, y0));
        BPQ_BP1_STORE(nt, delta + j + 8, delta_of(loss, act, a1, y1));
        BPQ_BP1_STORE(nt, delta + j + 16, delta_of(loss, act, a2, y2));
        BPQ_BP1_STORE(nt, delta + j + 24, delta_of(loss, act, a3, y3));
    }
    for (; j + 8 <= count; j += 8)
        BPQ_BP1_STORE(nt, delta + j,
                      delta_of(loss, act, _mm256_loadu_ps(a + j), _mm256_loadu_ps(y + j)));
    if (j < count) {
        __m256i k = bpq_avx2_mask(count - j);
        __m256 av = _mm256_maskload_ps(a + j, k), yv = _mm256_maskload_ps(y + j, k);
        bpq_avx2_store_first(delta + j, count - j, delta_of(loss, act, av, yv));
    }
}

/* ---- arrays far larger than the caches ------------------------------------
 *
 * An ordinary store first reads its cache line from memory (read for
 * ownership), so a delta costs a read and a write of DRAM on top of the
 * reads of a and y: four streams for three arrays. Non-temporal stores
 * write whole lines without that read, and the values stored are the same.
 * They also bypass the caches, which is bad when the next kernel could
 * find delta there, so they are used only when the three arrays together
 * exceed BPQ_BP1_NT_BYTES, twice the 32 MiB of last-level cache one core
 * of a current x86 server typically sees. (Tests may set it to 0 to run
 * this path on small inputs.) */
#ifndef BPQ_BP1_NT_BYTES
#define BPQ_BP1_NT_BYTES ((size_t)64 << 20)
#endif

/* Elements from delta + i up to the next 32-byte boundary (0..7). */
static inline size_t to_boundary(const float *delta, size_t i) {
    return (size_t)(-(uintptr_t)(delta + i) / sizeof(float)) & 7;
}

/* Deltas of elements from..to-1 of the flat array: ordinary stores up to
 * the first 32-byte boundary of delta (only at the array's start, see
 * rows_nt), then delta_rows with non-temporal stores. */
BPQ_BP1_FLAT void delta_nt(size_t from, size_t to, bpq_loss loss, bpq_act act, const float *a,
                           const float *y, float *delta) {
    size_t head = to_boundary(delta, from);
    head = head < to - from ? head : to - from;
    delta_rows(head, loss, act, a + from, y + from, delta + from, 0);
    from += head;
    delta_rows(to - from, loss, act, a + from, y + from, delta + from, 1);
}

/* One row with its loss: elements j..j+7 of each 16 feed lo, j+8..j+15 hi,
 * counted from the row's own start. Lanes past the end add +0. */
BPQ_BP1_FLAT float delta_loss_row(size_t n, bpq_loss loss, bpq_act act, const float *a,
                                  const float *y, float *delta) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256 a0 = _mm256_loadu_ps(a + j), a1 = _mm256_loadu_ps(a + j + 8);
        __m256 y0 = _mm256_loadu_ps(y + j), y1 = _mm256_loadu_ps(y + j + 8);
        lo = _mm256_add_ps(lo, loss_term(loss, a0, y0));
        hi = _mm256_add_ps(hi, loss_term(loss, a1, y1));
        _mm256_storeu_ps(delta + j, delta_of(loss, act, a0, y0));
        _mm256_storeu_ps(delta + j + 8, delta_of(loss, act, a1, y1));
    }
    if (j < n) {
        size_t rem = n - j;
        __m256i k0, k1;
        __m256 a0, a1, y0, y1;
        bpq_avx2_tail_load(a + j, rem, &k0, &k1, &a0, &a1);
        bpq_avx2_tail_load(y + j, rem, &k0, &k1, &y0, &y1);
        lo = _mm256_add_ps(lo, _mm256_and_ps(loss_term(loss, a0, y0), _mm256_castsi256_ps(k0)));
        bpq_avx2_store_first(delta + j, rem < 8 ? rem : 8, delta_of(loss, act, a0, y0));
        if (rem > 8) {
            hi = _mm256_add_ps(hi, _mm256_and_ps(loss_term(loss, a1, y1), _mm256_castsi256_ps(k1)));
            bpq_avx2_store_first(delta + j + 8, rem - 8, delta_of(loss, act, a1, y1));
        }
    }
    return bpq_avx2_rowsum_finish(lo, hi);
}

/* Loss partials of len elements of a row, starting at a multiple of 16 of
 * it, without deltas; as in delta_loss_row, lanes past len add +0. */
BPQ_BP1_FLAT void loss_span(size_t len, bpq_loss loss, const float *a, const float *y,
                            __m256 *lo, __m256 *hi) {
    size_t j = 0;
    for (; j + 16 <= len; j += 16) {
        *lo = _mm256_add_ps(*lo, loss_term(loss, _mm256_loadu_ps(a + j), _mm256_loadu_ps(y + j)));
        *hi = _mm256_add_ps(*hi, loss_term(loss, _mm256_loadu_ps(a + j + 8),
                                           _mm256_loadu_ps(y + j + 8)));
    }
    if (j < len) {
        __m256i k0, k1;
        __m256 a0, a1, y0, y1;
        bpq_avx2_tail_load(a + j, len - j, &k0, &k1, &a0, &a1);
        bpq_avx2_tail_load(y + j, len - j, &k0, &k1, &y0, &y1);
        *lo = _mm256_add_ps(*lo, _mm256_and_ps(loss_term(loss, a0, y0), _mm256_castsi256_ps(k0)));
        *hi = _mm256_add_ps(*hi, _mm256_and_ps(loss_term(loss, a1, y1), _mm256_castsi256_ps(k1)));
    }
}

/* Long rows with non-temporal deltas. The loss is taken over a span of a
 * row first (loads from memory), then the deltas of the same elements
 * (loads from L1), as one flat stream that stops at the last 32-byte
 * boundary and resumes there with the next span, so that only the array's
 * two ends need ordinary stores, however rows are aligned. A delta is
 * stored only after the loss pass has read its element (delta may be a or
 * y). Returns the sum of the row losses. */
#define BPQ_BP1_SPAN 1024
BPQ_BP1_FLAT double rows_nt(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,
                            const float *y, float *delta) {
    const size_t count = batch * n;
    size_t done = 0;
    double total = 0.0;
    for (size_t r = 0; r < batch; r++) {
        __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
        for (size_t j = 0; j < n; j += BPQ_BP1_SPAN) {
            const size_t len = n - j < BPQ_BP1_SPAN ? n - j : BPQ_BP1_SPAN;
            const size_t at = r * n + j;
            loss_span(len, loss, a + at, y + at, &lo, &hi);
            size_t lim = at + len;
            if (lim < count)
                lim -= (8 - to_boundary(delta, lim)) & 7;
            if (lim > done) {
                delta_nt(done, lim, loss, act, a, y, delta);
                done = lim;
            }
        }
        total += (double)bpq_avx2_rowsum_finish(lo, hi);
    }
    _mm_sfence();
    return total;
}

/* ---- short rows ------------------------------------------------------------
 *
 * A row of a few dozen elements is too short to pay, on its own, for masked
 * loads and partial stores at both of its ends and a horizontal sum (rows of
 * 10 ran at a fifth of the plain -O3 -ffast-math loop's speed). Such rows are taken
 * a chunk (up to CHUNK elements, whole rows) at a time instead, in two passes:
 *  1. the chunk's elements as one flat stream, regardless of where rows
 *     start: deltas go to delta, loss terms to a small buffer on the stack;
 *  2. the rows' canonical sums from that buffer, 8 rows at once: each row's
 *     16 partials are built in two registers exactly as in the long-row path,
 *     and the final tree is done for 8 rows together with shuffles, which
 *     leaves row r's sum in lane r; then the row sums are added to the total
 *     in double, one after the other.
 * Every loss term and every partial sum is the same operation on the same
 * values as in the long-row path, so the bits do not depend on the path.
 * Pass 2 loads rows that start anywhere in the vectors pass 1 stored, and
 * such a load has to wait until those stores have completed: chunks of
 * 1024 terms (4 KB) measured 30% faster than chunks of 16 rows.
 */
#define BPQ_BP1_SHORT 64      /* rows with fewer elements take this path */
#define BPQ_BP1_CHUNK 1024    /* loss terms per chunk (4 KB on the stack) */

/* Loss terms as pass 1 stores them: a term of -0 becomes +0 (t + 0 changes
 * nothing else; MSE terms are never -0, so they are left alone). A row's
 * partial sums start from +0, and +0 + t is then just t: pass 2 can take
 * a row's first 16 terms as its partials without adding them to zeros. */
BPQ_BP1_FLAT __m256 stored_term(bpq_loss loss, __m256 a, __m256 y) {
    __m256 t = loss_term(loss, a, y);
    return loss == BPQ_LOSS_MSE ? t : _mm256_add_ps(t, _mm256_setzero_ps());
}

/* Pass 1 over count elements: deltas to delta, loss terms to t. The last,
 * partial vector is stored whole to t; its lanes past count are not summed.
 * delta may be a or y: every vector is loaded before its own store. */
BPQ_BP1_FLAT void delta_terms(size_t count, bpq_loss loss, bpq_act act, const float *a,
                              const float *y, float *delta, float *t) {
    size_t j = 0;
    for (; j + 16 <= count; j += 16) {
        __m256 a0 = _mm256_loadu_ps(a + j), y0 = _mm256_loadu_ps(y + j);
        __m256 a1 = _mm256_loadu_ps(a + j + 8), y1 = _mm256_loadu_ps(y + j + 8);
        _mm256_store_ps(t + j, stored_term(loss, a0, y0));
        _mm256_store_ps(t + j + 8, stored_term(loss, a1, y1));
        _mm256_storeu_ps(delta + j, delta_of(loss, act, a0, y0));
        _mm256_storeu_ps(delta + j + 8, delta_of(loss, act, a1, y1));
    }
    for (; j + 8 <= count; j += 8) {
        __m256 av = _mm256_loadu_ps(a + j), yv = _mm256_loadu_ps(y + j);
        _mm256_store_ps(t + j, stored_term(loss, av, yv));
        _mm256_storeu_ps(delta + j, delta_of(loss, act, av, yv));
    }
    if (j < count) {
        __m256i k = bpq_avx2_mask(count - j);
        __m256 av = _mm256_maskload_ps(a + j, k), yv = _mm256_maskload_ps(y + j, k);
        _mm256_store_ps(t + j, stored_term(loss, av, yv));
        bpq_avx2_store_first(delta + j, count - j, delta_of(loss, act, av, yv));
    }
}

/* The 16 partials of a row's terms at t, in `blocks` groups of 16 (a
 * constant after inlining), lo holding partials 0-7 and hi 8-15; the masks
 * clear the lanes of the last group that lie past the row's end, so they
 * add +0. Then the first step (w = 8) of the canonical tree: lo + hi.
 * The first group is taken as is (terms are never -0, see stored_term).
 * Reads the whole last group, up to 15 floats past the row. */
BPQ_BP1_FLAT __m256 row_partials(const float *t, int blocks, __m256 mlo, __m256 mhi) {
    __m256 lo, hi;
    if (blocks == 1) {
        lo = _mm256_and_ps(_mm256_loadu_ps(t), mlo);
        hi = _mm256_and_ps(_mm256_loadu_ps(t + 8), mhi);
    } else {
        lo = _mm256_loadu_ps(t);
        hi = _mm256_loadu_ps(t + 8);
        for (int b = 1; b < blocks - 1; b++) {
            lo = _mm256_add_ps(lo, _mm256_loadu_ps(t + 16 * b));
            hi = _mm256_add_ps(hi, _mm256_loadu_ps(t + 16 * b + 8));
        }
        const float *u = t + 16 * (blocks - 1);
        lo = _mm256_add_ps(lo, _mm256_and_ps(_mm256_loadu_ps(u), mlo));
        hi = _mm256_add_ps(hi, _mm256_and_ps(_mm256_loadu_ps(u + 8), mhi));
    }
    return _mm256_add_ps(lo, hi);
}

/* The rest of the canonical tree (w = 4, 2, 1) for 8 rows at once. q[r]
 * holds row r's partials after the w = 8 step; lane r of the result is row
 * r's sum. Each step adds exactly the pairs canon.h names:
 *   w = 4: p[i] + p[i+4]: the 128-bit halves of q[r]; rows r and r+4 then share a register,
 *   w = 2: p[i] + p[i+2]: elements 0,1 and 2,3 of each half,
 *   w = 1: p[0] + p[1]:   even and odd elements. */
BPQ_BP1_FLAT __m256 finish_8_rows(const __m256 q[8]) {
    __m256 h[4]; /* h[r] = [row r's 4 partials | row r+4's] */
    for (int r = 0; r < 4; r++)
        h[r] = _mm256_add_ps(_mm256_permute2f128_ps(q[r], q[r + 4], 0x20),
                             _mm256_permute2f128_ps(q[r], q[r + 4], 0x31));
    /* x0 = [rows 0, 1: 2 partials each | rows 4, 5]; x1 the same for rows 2, 3 | 6, 7 */
    __m256 x0 = _mm256_add_ps(_mm256_shuffle_ps(h[0], h[1], _MM_SHUFFLE(1, 0, 1, 0)),
                              _mm256_shuffle_ps(h[0], h[1], _MM_SHUFFLE(3, 2, 3, 2)));
    __m256 x1 = _mm256_add_ps(_mm256_shuffle_ps(h[2], h[3], _MM_SHUFFLE(1, 0, 1, 0)),
                              _mm256_shuffle_ps(h[2], h[3], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm256_add_ps(_mm256_shuffle_ps(x0, x1, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm256_shuffle_ps(x0, x1, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* total + s[0] + s[1] + s[2] + s[3], in double and in that order (canon.h). */
static inline double add_4_rows(double total, __m128 s) {
    __m256d d = _mm256_cvtps_pd(s); /* exact */
    __m128d d01 = _mm256_castpd256_pd128(d), d23 = _mm256_extractf128_pd(d, 1);
    total += _mm_cvtsd_f64(d01);
    total += _mm_cvtsd_f64(_mm_unpackhi_pd(d01, d01));
    total += _mm_cvtsd_f64(d23);
    return total + _mm_cvtsd_f64(_mm_unpackhi_pd(d23, d23));
}

/* Deltas of all rows, and the sum over rows (in double, ascending) of the
 * row losses, for rows of n < BPQ_BP1_SHORT elements, blocks = ceil(n / 16). */
BPQ_BP1_FLAT double short_rows(size_t batch, size_t n, int blocks, bpq_loss loss, bpq_act act,
                               const float *a, const float *y, float *delta) {
    /* +16: row_partials reads up to 15 terms past the chunk's last row. */
    _Alignas(32) float t[BPQ_BP1_CHUNK + 16];
    /* whole groups of 8 rows (at least 2), so only the last chunk can end
     * with a partial group */
    const size_t chunk_rows = (BPQ_BP1_CHUNK / n) & ~(size_t)7;
    const size_t tail = n - 16 * (size_t)(blocks - 1); /* 1..16 in the last group */
    const __m256 mlo = _mm256_castsi256_ps(bpq_avx2_mask(tail < 8 ? tail : 8));
    const __m256 mhi = _mm256_castsi256_ps(bpq_avx2_mask(tail > 8 ? tail - 8 : 0));
    double total = 0.0;
    for (size_t r0 = 0; r0 < batch; r0 += chunk_rows) {
        const size_t rows = batch - r0 < chunk_rows ? batch - r0 : chunk_rows;
        const size_t at = r0 * n;
        delta_terms(rows * n, loss, act, a + at, y + at, delta + at, t);
        /* What is read past the last row is masked off; clear it anyway, so
         * that no undefined value is ever read. */
        _mm256_storeu_ps(t + rows * n, _mm256_setzero_ps());
        _mm256_storeu_ps(t + rows * n + 8, _mm256_setzero_ps());
        size_t g = 0;
        for (; g + 8 <= rows; g += 8) {
            __m256 q[8];
            for (size_t i = 0; i < 8; i++)
                q[i] = row_partials(t + (g + i) * n, blocks, mlo, mhi);
            __m256 sums = finish_8_rows(q);
            total = add_4_rows(total, _mm256_castps256_ps128(sums));
            total = add_4_rows(total, _mm256_extractf128_ps(sums, 1));
        }
        if (g < rows) {
            /* 1..7 rows left: the missing rows repeat the last one, and
             * their sums are not used. */
            const size_t valid = rows - g;
            __m256 q[8];
            for (size_t i = 0; i < 8; i++)
                q[i] = row_partials(t + (g + (i < valid ? i : valid - 1)) * n, blocks, mlo, mhi);
            _Alignas(32) float sums[8];
            _mm256_store_ps(sums, finish_8_rows(q));
            for (size_t i = 0; i < valid; i++)
                total += (double)sums[i];
        }
    }
    return total;
}

BPQ_BP1_FLAT void run(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,
                      const float *y, float *delta, float *loss_out) {
    /* BCE with its loss is bound by its logarithms, not by memory, and
     * there the non-temporal stores measured about a third slower (AMD
     * Zen 5), not faster. Short rows keep ordinary stores: their deltas
     * are written in the same pass as the loss terms. */
    const int nt = batch * n > BPQ_BP1_NT_BYTES / (3 * sizeof(float)) &&
                   (loss != BPQ_LOSS_BCE || !loss_out);
    if (!loss_out) {
        /* Rows are contiguous and deltas do not depend on the row: one stream. */
        if (nt) {
            delta_nt(0, batch * n, loss, act, a, y, delta);
            _mm_sfence();
        } else {
            delta_rows(batch * n, loss, act, a, y, delta, 0);
        }
        return;
    }
    double total = 0.0;
    if (nt && n >= BPQ_BP1_SHORT) {
        total = rows_nt(batch, n, loss, act, a, y, delta);
    } else if (n < BPQ_BP1_SHORT) {
        /* one copy per number of 16-element groups, so their loops unroll */
        switch ((n + 15) / 16) {
        case 1: total = short_rows(batch, n, 1, loss, act, a, y, delta); break;
        case 2: total = short_rows(batch, n, 2, loss, act, a, y, delta); break;
        case 3: total = short_rows(batch, n, 3, loss, act, a, y, delta); break;
        default: total = short_rows(batch, n, 4, loss, act, a, y, delta); break;
        }
    } else {
        for (size_t r = 0; r < batch; r++)
            total += (double)delta_loss_row(n, loss, act, a + r * n, y + r * n, delta + r * n);
    }
    *loss_out = (float)(total / (double)batch);
}

void bpq_bp1_avx2(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,
                  const float *y, float *delta, float *loss_out) {
    if (loss == BPQ_LOSS_BCE)
        run(batch, n, BPQ_LOSS_BCE, BPQ_ACT_IDENTITY, a, y, delta, loss_out);
    else if (loss == BPQ_LOSS_XENT)
        run(batch, n, BPQ_LOSS_XENT, BPQ_ACT_IDENTITY, a, y, delta, loss_out);
    else if (act == BPQ_ACT_SIGMOID)
        run(batch, n, BPQ_LOSS_MSE, BPQ_ACT_SIGMOID, a, y, delta, loss_out);
    else if (act == BPQ_ACT_TANH)
        run(batch, n, BPQ_LOSS_MSE, BPQ_ACT_TANH, a, y, delta, loss_out);
    else if (act == BPQ_ACT_RELU)
        run(batch, n, BPQ_LOSS_MSE, BPQ_ACT_RELU, a, y, delta, loss_out);
    else /* identity; softmax's act' is 1 as well */
        run(batch, n, BPQ_LOSS_MSE, BPQ_ACT_IDENTITY, a, y, delta, loss_out);
}
