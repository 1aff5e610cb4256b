/* bp1.c - NEON BP1: output-layer error and, when asked, the mean loss. */
#include "kernels.h"
#include "neon/math_p.h"

/* Everything below is inlined into one copy per (loss, act) case, so the
 * loss and activation selects vanish from the inner loops. */
#define BPQ_BP1_FLAT __attribute__((always_inline)) static inline

/* Loss term of each lane, as canon.h defines it; the negations flip the
 * sign bit, which is what scalar unary minus does. */
BPQ_BP1_FLAT float32x4_t loss_term(bpq_loss loss, float32x4_t a, float32x4_t y) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    if (loss == BPQ_LOSS_MSE) {
        const float32x4_t d = vsubq_f32(a, y);
        return vmulq_f32(vmulq_f32(d, d), vdupq_n_f32(0.5f));
    }
    if (loss == BPQ_LOSS_BCE) {
        /* -fma(y, log(a), (1 - y) * log(1 - a)) */
        const float32x4_t t = vmulq_f32(vsubq_f32(one, y), bpq_neon_log(vsubq_f32(one, a)));
        return vnegq_f32(vfmaq_f32(t, y, bpq_neon_log(a)));
    }
    return vnegq_f32(vmulq_f32(y, bpq_neon_log(a)));
}

/* MSE (a - y) * act'(a); BCE and XENT a - y. */
BPQ_BP1_FLAT float32x4_t delta_of(bpq_loss loss, bpq_act act, float32x4_t a, float32x4_t y) {
    const float32x4_t diff = vsubq_f32(a, y);
    return loss == BPQ_LOSS_MSE ? vmulq_f32(diff, bpq_neon_dact(act, a)) : diff;
}

/* Deltas only: one flat stream over the whole batch (rows are contiguous
 * and a delta does not depend on its row). delta may be a or y exactly:
 * every vector is loaded before its own store. */
BPQ_BP1_FLAT void delta_flat(size_t count, bpq_loss loss, bpq_act act, const float *a,
                             const float *y, float *delta) {
    size_t j = 0;
    for (; j + 16 <= count; j += 16) {
        float32x4_t av[4], yv[4];
        for (int q = 0; q < 4; q++) {
            av[q] = vld1q_f32(a + j + 4 * (size_t)q);
            yv[q] = vld1q_f32(y + j + 4 * (size_t)q);
        }
        for (int q = 0; q < 4; q++)
            vst1q_f32(delta + j + 4 * (size_t)q, delta_of(loss, act, av[q], yv[q]));
    }
    for (; j < count; j += 4) {
        const size_t cnt = count - j >= 4 ? 4 : count - j;
        const float32x4_t av = bpq_neon_load_first(a + j, cnt);
        const float32x4_t yv = bpq_neon_load_first(y + j, cnt);
        bpq_neon_store_first(delta + j, cnt, delta_of(loss, act, av, yv));
    }
}

/* One row with its loss: element j goes to partial j % 16, i.e. lane j % 4
 * of register (j / 4) % 4, counted from the row's own start; lanes past
 * the end are cleared, so they add +0 (exact: a partial is never -0). */
BPQ_BP1_FLAT float delta_loss_row(size_t n, bpq_loss loss, bpq_act act, const float *a,
                                  const float *y, float *delta) {
    float32x4_t s[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f),
                        vdupq_n_f32(0.0f)};
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        float32x4_t av[4], yv[4];
        for (int q = 0; q < 4; q++) {
            av[q] = vld1q_f32(a + j + 4 * (size_t)q);
            yv[q] = vld1q_f32(y + j + 4 * (size_t)q);
        }
        for (int q = 0; q < 4; q++) {
            s[q] = vaddq_f32(s[q], loss_term(loss, av[q], yv[q]));
            vst1q_f32(delta + j + 4 * (size_t)q, delta_of(loss, act, av[q], yv[q]));
        }
    }
    if (j < n) {
        const size_t rem = n - j;
        float32x4_t av[4], yv[4], dv[4];
        uint32x4_t m[4];
        bpq_neon_tail_load(a + j, rem, av, m);
        bpq_neon_tail_load(y + j, rem, yv, m);
        for (int q = 0; q < 4; q++) {
            s[q] = vaddq_f32(s[q], bpq_neon_and(loss_term(loss, av[q], yv[q]), m[q]));
            dv[q] = delta_of(loss, act, av[q], yv[q]);
        }
        bpq_neon_tail_store(delta + j, rem, dv);
    }
    return bpq_neon_rowsum_finish(s[0], s[1], s[2], s[3]);
}

BPQ_BP1_FLAT void run(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,
                      const float *y, float *delta, float *loss_out) {
    if (!loss_out) {
        delta_flat(batch * n, loss, act, a, y, delta);
        return;
    }
    double total = 0.0; /* over rows, in double, ascending */
    for (size_t r = 0; r < batch; r++)
        total += (double)delta_loss_row(n, loss, act, a + r * n, y + r * n, delta + r * n);
    *loss_out = (float)(total / (double)batch);
}

void bpq_bp1_neon(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,
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
