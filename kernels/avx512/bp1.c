/* bp1.c - AVX-512 BP1: output-layer error and, when asked, the mean loss, 16 lanes per zmm. */
#include <stdint.h>

#include "avx512/math_p.h"
#include "kernels.h"

/*
 * The same kernel as avx2/bp1.c, at twice the width; read that file for the
 * reasoning behind each path. What the wider registers change:
 *  - canon.h's 16 partials of a row sum are one zmm, so a vector of 16
 *    elements taken from a row's start is one step of every partial, and a
 *    row ends with bpq_avx512_rowsum_finish;
 *  - tails are opmask loads and stores: masked-off lanes are neither read
 *    (no fault past the caller's arrays) nor written;
 *  - a lane that must add +0 to its partial is simply left out of a masked
 *    add. That is exact: a partial starts at +0 and is never -0 (+0 + -0 is
 *    +0), so p + 0 = p for every p.
 */

/* Everything below is inlined into one copy per (loss, act) case, so the
 * loss and activation selects vanish from the inner loops. */
#define BPQ_BP1_FLAT __attribute__((always_inline)) static inline

/* Loss term of each lane, as canon.h defines it; the negations flip the
 * sign bit as scalar unary minus does. The two shortcuts of avx2/bp1.c
 * hold lane by lane, so they hold here: with hard 0/1 labels one BCE log
 * is enough (the other product is a zero that cannot change the fma), and a
 * vector whose labels are all 0 (a not NaN) contributes XENT terms of +0,
 * i.e. nothing, without a log. */
BPQ_BP1_FLAT __m512 loss_term(bpq_loss loss, __m512 a, __m512 y) {
    const __m512 sign = _mm512_set1_ps(-0.0f), one = _mm512_set1_ps(1.0f);
    const __m512 zero = _mm512_setzero_ps();
    if (loss == BPQ_LOSS_MSE) {
        const __m512 d = _mm512_sub_ps(a, y);
        return _mm512_mul_ps(_mm512_mul_ps(d, d), _mm512_set1_ps(0.5f));
    }
    if (loss == BPQ_LOSS_BCE) {
        const __mmask16 y1 = _mm512_cmp_ps_mask(y, one, _CMP_EQ_OQ);
        const __mmask16 y0 = _mm512_cmp_ps_mask(y, zero, _CMP_EQ_OQ);
        if ((__mmask16)(y1 | y0) == (__mmask16)0xffff) {
            const __m512 arg = _mm512_mask_blend_ps(y1, _mm512_sub_ps(one, a), a);
            return _mm512_xor_ps(bpq_avx512_log(arg), sign);
        }
        const __m512 t = _mm512_mul_ps(_mm512_sub_ps(one, y), bpq_avx512_log(_mm512_sub_ps(one, a)));
        return _mm512_xor_ps(_mm512_fmadd_ps(y, bpq_avx512_log(a), t), sign);
    }
    const __mmask16 nil = _mm512_cmp_ps_mask(y, zero, _CMP_EQ_OQ) & _mm512_cmp_ps_mask(a, a, _CMP_ORD_Q);
    if (nil == (__mmask16)0xffff)
        return zero;
    return _mm512_xor_ps(_mm512_mul_ps(y, bpq_avx512_log(a)), sign);
}

/* delta for 16 lanes: MSE (a - y) * act'(a); BCE and XENT a - y. */
BPQ_BP1_FLAT __m512 delta_of(bpq_loss loss, bpq_act act, __m512 a, __m512 y) {
    const __m512 diff = _mm512_sub_ps(a, y);
    return loss == BPQ_LOSS_MSE ? _mm512_mul_ps(diff, bpq_avx512_dact(act, a)) : diff;
}

/* Deltas only: a pure stream. delta may be a or y exactly: each vector is
 * loaded before its own store, so the aliasing is harmless. With nt the
 * whole vectors use non-temporal stores, which need delta + 16k to be
 * 64-byte aligned (delta_nt sees to it); the tail is a masked ordinary
 * store, which writes nothing past count. */
#define BPQ_BP1_STORE(nt, p, v) ((nt) ? _mm512_stream_ps(p, v) : _mm512_storeu_ps(p, v))
BPQ_BP1_FLAT void delta_rows(size_t count, bpq_loss loss, bpq_act act, const float *a,
                             const float *y, float *delta, int nt) {
    size_t j = 0;
    for (; j + 64 <= count; j += 64) {
        const __m512 a0 = _mm512_loadu_ps(a + j), a1 = _mm512_loadu_ps(a + j + 16);
        const __m512 a2 = _mm512_loadu_ps(a + j + 32), a3 = _mm512_loadu_ps(a + j + 48);
        const __m512 y0 = _mm512_loadu_ps(y + j), y1 = _mm512_loadu_ps(y + j + 16);
        const __m512 y2 = _mm512_loadu_ps(y + j + 32), y3 = _mm512_loadu_ps(y + j + 48);
        BPQ_BP1_STORE(nt, delta + j, delta_of(loss, act, a0, y0));
        BPQ_BP1_STORE(nt, delta + j + 16, delta_of(loss, act, a1, y1));
        BPQ_BP1_STORE(nt, delta + j + 32, delta_of(loss, act, a2, y2));
        BPQ_BP1_STORE(nt, delta + j + 48, delta_of(loss, act, a3, y3));
    }
    for (; j + 16 <= count; j += 16)
        BPQ_BP1_STORE(nt, delta + j,
                      delta_of(loss, act, _mm512_loadu_ps(a + j), _mm512_loadu_ps(y + j)));
    if (j < count) {
        const __mmask16 k = bpq_avx512_mask(count - j);
        const __m512 av = _mm512_maskz_loadu_ps(k, a + j), yv = _mm512_maskz_loadu_ps(k, y + j);
        _mm512_mask_storeu_ps(delta + j, k, delta_of(loss, act, av, yv));
    }
}

/* ---- arrays far larger than the caches ------------------------------------
 *
 * As in avx2/bp1.c: past the caches an ordinary store costs a read of its
 * line before the write, and non-temporal stores avoid that read (same
 * values stored). Same threshold and the same reason for it. */
#ifndef BPQ_BP1_NT_BYTES
#define BPQ_BP1_NT_BYTES ((size_t)64 << 20)
#endif

/* Elements from delta + i up to the next 64-byte boundary (0..15). */
static inline size_t to_boundary(const float *delta, size_t i) {
    return (size_t)(-(uintptr_t)(delta + i) / sizeof(float)) & 15;
}

/* Deltas of elements from..to-1 of the flat array: ordinary stores up to
 * the first 64-byte boundary of delta, then non-temporal ones. */
BPQ_BP1_FLAT void delta_nt(size_t from, size_t to, bpq_loss loss, bpq_act act, const float *a,
                           const float *y, float *delta) {
    size_t head = to_boundary(delta, from);
    head = head < to - from ? head : to - from;
    delta_rows(head, loss, act, a + from, y + from, delta + from, 0);
    from += head;
    delta_rows(to - from, loss, act, a + from, y + from, delta + from, 1);
}

/* One row with its loss. Element j of the row feeds partial j % 16.
 *
 * Unless delta's row is 64-byte aligned, every zmm access of a row would
 * straddle two cache lines; rows whose length is 8 mod 16 ran about 10%
 * slower than AVX2 that way. So the first h elements (up to delta's next
 * 64-byte boundary) are taken on their own and the rest in vectors from
 * there, aligned for delta (and for a and y when they share its offset).
 * A vector starting at element h + 16k then holds, in lane l, an element
 * of partial (h + l) % 16: the accumulator is kept rotated by h lanes, the
 * head's terms are rotated into it, and one permute at the end brings
 * partial p back to lane p. Each partial still receives its elements in
 * ascending order, starting from +0, so the bits are canon.h's. */
BPQ_BP1_FLAT float delta_loss_row(size_t n, bpq_loss loss, bpq_act act, const float *a,
                                  const float *y, float *delta) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i low4 = _mm512_set1_epi32(15);
    const size_t h = to_boundary(delta, 0) < n ? to_boundary(delta, 0) : 0;
    __m512 acc = _mm512_setzero_ps();
    if (h) {
        const __mmask16 k = bpq_avx512_mask(h);
        const __m512 av = _mm512_maskz_loadu_ps(k, a), yv = _mm512_maskz_loadu_ps(k, y);
        /* element i < h belongs in lane (i - h) mod 16 = i + 16 - h */
        const __m512i to_rot = _mm512_and_si512(_mm512_add_epi32(iota, _mm512_set1_epi32((int)h)), low4);
        const __mmask16 top = (__mmask16)(0xffffu << (16 - h));
        acc = _mm512_maskz_mov_ps(top, _mm512_permutexvar_ps(to_rot, loss_term(loss, av, yv)));
        bpq_avx512_store_first(delta, h, delta_of(loss, act, av, yv));
    }
    size_t j = h;
    for (; j + 16 <= n; j += 16) {
        const __m512 av = _mm512_loadu_ps(a + j), yv = _mm512_loadu_ps(y + j);
        acc = _mm512_add_ps(acc, loss_term(loss, av, yv));
        _mm512_storeu_ps(delta + j, delta_of(loss, act, av, yv));
    }
    if (j < n) {
        const __mmask16 k = bpq_avx512_mask(n - j);
        const __m512 av = _mm512_maskz_loadu_ps(k, a + j), yv = _mm512_maskz_loadu_ps(k, y + j);
        acc = _mm512_mask_add_ps(acc, k, acc, loss_term(loss, av, yv));
        /* plain stores: the next row's loads would wait on a masked one
         * if they touched the 64 bytes it spans (math_p.h) */
        bpq_avx512_store_first(delta + j, n - j, delta_of(loss, act, av, yv));
    }
    if (h) /* partial p sits in lane (p - h) mod 16 */
        acc = _mm512_permutexvar_ps(
            _mm512_and_si512(_mm512_add_epi32(iota, _mm512_set1_epi32(16 - (int)h)), low4), acc);
    return bpq_avx512_rowsum_finish(acc);
}

/* Loss partials of len elements of a row, starting at a multiple of 16 of
 * it, without deltas. */
BPQ_BP1_FLAT __m512 loss_span(size_t len, bpq_loss loss, const float *a, const float *y,
                              __m512 acc) {
    size_t j = 0;
    for (; j + 16 <= len; j += 16)
        acc = _mm512_add_ps(acc, loss_term(loss, _mm512_loadu_ps(a + j), _mm512_loadu_ps(y + j)));
    if (j < len) {
        const __mmask16 k = bpq_avx512_mask(len - j);
        const __m512 t =
            loss_term(loss, _mm512_maskz_loadu_ps(k, a + j), _mm512_maskz_loadu_ps(k, y + j));
        acc = _mm512_mask_add_ps(acc, k, acc, t);
    }
    return acc;
}

/* Long rows with non-temporal deltas, as in avx2/bp1.c: a span's loss
 * first (loads from memory), then the deltas of the same elements (from
 * L1) as one flat stream cut at 64-byte boundaries of delta, so only the
 * array's two ends need ordinary stores. A delta is stored only after the
 * loss pass has read its element (delta may be a or y). Returns the sum of
 * the row losses. */
#define BPQ_BP1_SPAN 1024
BPQ_BP1_FLAT double rows_nt(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,
                            const float *y, float *delta) {
    const size_t count = batch * n;
    size_t done = 0;
    double total = 0.0;
    for (size_t r = 0; r < batch; r++) {
        __m512 acc = _mm512_setzero_ps();
        for (size_t j = 0; j < n; j += BPQ_BP1_SPAN) {
            const size_t len = n - j < BPQ_BP1_SPAN ? n - j : BPQ_BP1_SPAN;
            const size_t at = r * n + j;
            acc = loss_span(len, loss, a + at, y + at, acc);
            size_t lim = at + len;
            if (lim < count)
                lim -= (16 - to_boundary(delta, lim)) & 15;
            if (lim > done) {
                delta_nt(done, lim, loss, act, a, y, delta);
                done = lim;
            }
        }
        total += (double)bpq_avx512_rowsum_finish(acc);
    }
    _mm_sfence();
    return total;
}

/* ---- short rows ------------------------------------------------------------
 *
 * The two-pass scheme of avx2/bp1.c for rows of fewer than BPQ_BP1_SHORT
 * elements: pass 1 streams a chunk of whole rows flat (deltas out, loss
 * terms to a stack buffer), pass 2 builds each row's partials from the
 * buffer, now one zmm per row, and runs the final tree for 16 rows at once
 * (finish_16_rows), leaving the 16 row sums in one register. Same
 * operations on the same values as the long-row path, so the same bits.
 */
#define BPQ_BP1_SHORT 64   /* rows with fewer elements take this path */
#define BPQ_BP1_CHUNK 1024 /* loss terms per chunk (4 KB on the stack) */

/* Loss terms as pass 1 stores them: -0 becomes +0 (MSE terms are never
 * -0), so that a row's first 16 terms can serve as its partials as they
 * are, +0 + t being t. */
BPQ_BP1_FLAT __m512 stored_term(bpq_loss loss, __m512 a, __m512 y) {
    const __m512 t = loss_term(loss, a, y);
    return loss == BPQ_LOSS_MSE ? t : _mm512_add_ps(t, _mm512_setzero_ps());
}

/* Pass 1 over count elements: deltas to delta, loss terms to t (64-byte
 * aligned). The last, partial vector of terms is stored whole; its lanes
 * past count are never summed. delta may be a or y. */
BPQ_BP1_FLAT void delta_terms(size_t count, bpq_loss loss, bpq_act act, const float *a,
                              const float *y, float *delta, float *t) {
    size_t j = 0;
    for (; j + 32 <= count; j += 32) {
        const __m512 a0 = _mm512_loadu_ps(a + j), y0 = _mm512_loadu_ps(y + j);
        const __m512 a1 = _mm512_loadu_ps(a + j + 16), y1 = _mm512_loadu_ps(y + j + 16);
        _mm512_store_ps(t + j, stored_term(loss, a0, y0));
        _mm512_store_ps(t + j + 16, stored_term(loss, a1, y1));
        _mm512_storeu_ps(delta + j, delta_of(loss, act, a0, y0));
        _mm512_storeu_ps(delta + j + 16, delta_of(loss, act, a1, y1));
    }
    for (; j + 16 <= count; j += 16) {
        const __m512 av = _mm512_loadu_ps(a + j), yv = _mm512_loadu_ps(y + j);
        _mm512_store_ps(t + j, stored_term(loss, av, yv));
        _mm512_storeu_ps(delta + j, delta_of(loss, act, av, yv));
    }
    if (j < count) {
        const __mmask16 k = bpq_avx512_mask(count - j);
        const __m512 av = _mm512_maskz_loadu_ps(k, a + j), yv = _mm512_maskz_loadu_ps(k, y + j);
        _mm512_store_ps(t + j, stored_term(loss, av, yv));
        bpq_avx512_store_first(delta + j, count - j, delta_of(loss, act, av, yv));
    }
}

/* The 16 partials of a row whose terms start at t, in `blocks` groups of 16
 * (a constant after inlining); km clears the lanes of the last group that
 * lie past the row's end, so they add +0. The first group is taken as is
 * (terms are never -0, see stored_term). Reads the whole last group, up to
 * 15 floats past the row (inside the buffer, see short_rows). */
BPQ_BP1_FLAT __m512 row_partials(const float *t, int blocks, __mmask16 km) {
    if (blocks == 1)
        return _mm512_maskz_mov_ps(km, _mm512_loadu_ps(t));
    __m512 p = _mm512_loadu_ps(t);
    for (int b = 1; b < blocks - 1; b++)
        p = _mm512_add_ps(p, _mm512_loadu_ps(t + 16 * b));
    return _mm512_add_ps(p, _mm512_maskz_mov_ps(km, _mm512_loadu_ps(t + 16 * (blocks - 1))));
}

/* canon.h's tree (w = 8, 4, 2, 1) for 16 rows at once; q[r] holds row r's
 * 16 partials, lane r of the result is row r's sum. Each step adds exactly
 * the pairs canon.h names:
 *   w = 8: the 256-bit halves of q[r]; rows r and r+8 then share h[r],
 *   w = 4: the 128-bit quarters of each half; g[r] holds rows r, r+8, r+4,
 *          r+12 (one per 128-bit lane, 4 partials each),
 *   w = 2, 1: within each 128-bit lane, as finish_8_rows of avx2/bp1.c;
 * then one lane permute puts the rows in order. */
BPQ_BP1_FLAT __m512 finish_16_rows(const __m512 q[16]) {
    __m512 h[8];
    for (int r = 0; r < 8; r++)
        h[r] = _mm512_add_ps(_mm512_shuffle_f32x4(q[r], q[r + 8], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(q[r], q[r + 8], _MM_SHUFFLE(3, 2, 3, 2)));
    __m512 g[4];
    for (int r = 0; r < 4; r++)
        g[r] = _mm512_add_ps(_mm512_shuffle_f32x4(h[r], h[r + 4], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(h[r], h[r + 4], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512 x0 = _mm512_add_ps(_mm512_shuffle_ps(g[0], g[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                    _mm512_shuffle_ps(g[0], g[1], _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 x1 = _mm512_add_ps(_mm512_shuffle_ps(g[2], g[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                    _mm512_shuffle_ps(g[2], g[3], _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 s = _mm512_add_ps(_mm512_shuffle_ps(x0, x1, _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_ps(x0, x1, _MM_SHUFFLE(3, 1, 3, 1)));
    /* 128-bit lanes now hold rows 0-3, 8-11, 4-7, 12-15 */
    return _mm512_shuffle_f32x4(s, s, _MM_SHUFFLE(3, 1, 2, 0));
}

/* Deltas of all rows, and the sum over rows (in double, ascending) of the
 * row losses, for rows of n < BPQ_BP1_SHORT elements, blocks = ceil(n / 16). */
BPQ_BP1_FLAT double short_rows(size_t batch, size_t n, int blocks, bpq_loss loss, bpq_act act,
                               const float *a, const float *y, float *delta) {
    /* +16: row_partials reads up to 15 terms past the chunk's last row. */
    _Alignas(64) float t[BPQ_BP1_CHUNK + 16];
    /* whole groups of 16 rows (at least 1), so only the last chunk can end
     * with a partial group */
    const size_t chunk_rows = (BPQ_BP1_CHUNK / n) & ~(size_t)15;
    const __mmask16 km = bpq_avx512_mask(n - 16 * (size_t)(blocks - 1));
    double total = 0.0;
    for (size_t r0 = 0; r0 < batch; r0 += chunk_rows) {
        const size_t rows = batch - r0 < chunk_rows ? batch - r0 : chunk_rows;
        const size_t at = r0 * n;
        delta_terms(rows * n, loss, act, a + at, y + at, delta + at, t);
        /* What is read past the last row is masked off; clear it anyway, so
         * that no undefined value is ever read. */
        _mm512_storeu_ps(t + rows * n, _mm512_setzero_ps());
        _Alignas(64) float sums[16];
        size_t g = 0;
        for (; g + 16 <= rows; g += 16) {
            __m512 q[16];
            for (size_t i = 0; i < 16; i++)
                q[i] = row_partials(t + (g + i) * n, blocks, km);
            _mm512_store_ps(sums, finish_16_rows(q));
            for (size_t i = 0; i < 16; i++)
                total += (double)sums[i];
        }
        if (g < rows && rows - g < 8) {
            /* A few rows left (all of a small batch): the tree of each row
             * on its own costs less than the 16-row tree over copies. */
            for (; g < rows; g++)
                total += (double)bpq_avx512_rowsum_finish(row_partials(t + g * n, blocks, km));
        } else if (g < rows) {
            /* 8..15 rows left: the missing rows repeat the last one, and
             * their sums are not used. */
            const size_t valid = rows - g;
            __m512 q[16];
            for (size_t i = 0; i < 16; i++)
                q[i] = row_partials(t + (g + (i < valid ? i : valid - 1)) * n, blocks, km);
            _mm512_store_ps(sums, finish_16_rows(q));
            for (size_t i = 0; i < valid; i++)
                total += (double)sums[i];
        }
    }
    return total;
}

BPQ_BP1_FLAT void run(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,
                      const float *y, float *delta, float *loss_out) {
    /* The choice of store kind follows avx2/bp1.c, for its reasons: BCE
     * with its loss is bound by its logarithms, not by memory; short rows
     * write their deltas in the pass that makes the loss terms. */
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

/* One copy of run per (loss, act) case. Kept out of line, so that the
 * calls bpq_bp1_avx512 hands to AVX2 do not set up this frame (a 4 KB
 * buffer, the stack realigned to 64 bytes): inlined, that cost 3 x 7 MSE
 * about 5% against AVX2 called directly. */
__attribute__((noinline)) static void zmm_bp1(size_t batch, size_t n, bpq_loss loss, bpq_act act,
                                              const float *a, const float *y, float *delta,
                                              float *loss_out) {
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

void bpq_bp1_avx512(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,
                    const float *y, float *delta, float *loss_out) {
    /* MSE's loss on rows of at most 16 elements: each row is a single
     * vector of terms, the work is mostly the serial double-precision sum
     * over rows and the hand-over of the terms from pass 1 to pass 2, and
     * this kernel ran 6-23% slower than AVX2's there (64 x 10, 16 x 10,
     * 256 x 10, 64 x 5, 64 x 16), though 5% faster at 1024 x 10. AVX2's
     * kernel gives the same bits, so it serves. BCE and XENT terms cost
     * logarithms, which the zmm kernel does at least as fast at these
     * sizes (BCE 15-25% faster), so they stay here. */
    if (loss_out && loss == BPQ_LOSS_MSE && n <= 16) {
        bpq_bp1_avx2(batch, n, loss, act, a, y, delta, loss_out);
        return;
    }
    zmm_bp1(batch, n, loss, act, a, y, delta, loss_out);
}
