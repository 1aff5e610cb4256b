/* bp1.c - AVX2 BP1: output-layer error and, when asked, the mean loss. */
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
 * is loaded before its own store, so the aliasing is harmless. */
BPQ_BP1_FLAT void delta_rows(size_t count, bpq_loss loss, bpq_act act, const float *a,
                             const float *y, float *delta) {
    size_t j = 0;
    for (; j + 32 <= count; j += 32) {
        __m256 a0 = _mm256_loadu_ps(a + j), a1 = _mm256_loadu_ps(a + j + 8);
        __m256 a2 = _mm256_loadu_ps(a + j + 16), a3 = _mm256_loadu_ps(a + j + 24);
        __m256 y0 = _mm256_loadu_ps(y + j), y1 = _mm256_loadu_ps(y + j + 8);
        __m256 y2 = _mm256_loadu_ps(y + j + 16), y3 = _mm256_loadu_ps(y + j + 24);
        _mm256_storeu_ps(delta + j, delta_of(loss, act, a0, y0));
        _mm256_storeu_ps(delta + j + 8, delta_of(loss, act, a1, y1));
        _mm256_storeu_ps(delta + j + 16, delta_of(loss, act, a2, y2));
        _mm256_storeu_ps(delta + j + 24, delta_of(loss, act, a3, y3));
    }
    for (; j + 8 <= count; j += 8)
        _mm256_storeu_ps(delta + j,
                         delta_of(loss, act, _mm256_loadu_ps(a + j), _mm256_loadu_ps(y + j)));
    if (j < count) {
        __m256i k = bpq_avx2_mask(count - j);
        __m256 av = _mm256_maskload_ps(a + j, k), yv = _mm256_maskload_ps(y + j, k);
        bpq_avx2_store_first(delta + j, count - j, delta_of(loss, act, av, yv));
    }
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

BPQ_BP1_FLAT void run(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,
                      const float *y, float *delta, float *loss_out) {
    if (!loss_out) {
        /* Rows are contiguous and deltas do not depend on the row: one stream. */
        delta_rows(batch * n, loss, act, a, y, delta);
        return;
    }
    double total = 0.0;
    for (size_t r = 0; r < batch; r++)
        total += (double)delta_loss_row(n, loss, act, a + r * n, y + r * n, delta + r * n);
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
