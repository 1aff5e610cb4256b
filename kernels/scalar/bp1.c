/* bp1.c - scalar BP1: output-layer error and, when asked, the mean loss. */
#include "kernels.h"
#include "scalar/math_p.h"

/* Loss term of one element, as canon.h defines it. */
static inline float loss_term(bpq_loss loss, float a, float y) {
    if (loss == BPQ_LOSS_MSE) {
        float d = a - y;
        return (d * d) * 0.5f;
    }
    if (loss == BPQ_LOSS_BCE)
        return -bpq_s_fma(y, bpq_s_log(a), (1.0f - y) * bpq_s_log(1.0f - a));
    return -(y * bpq_s_log(a));
}

void bpq_bp1_scalar(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,
                    const float *y, float *delta, float *loss_out) {
    double total = 0.0;
    for (size_t r = 0; r < batch; r++) {
        const float *ar = a + r * n, *yr = y + r * n;
        float *dr = delta + r * n;
        bpq_s_rowsum sum;
        bpq_s_rowsum_init(&sum);
        for (size_t j = 0; j < n; j++) {
            /* Read both inputs before writing: delta may be a or y itself. */
            float av = ar[j], yv = yr[j];
            if (loss_out)
                sum.p[j % BPQ_CANON_ROW_LANES] += loss_term(loss, av, yv);
            /* [scalar-bp1-delta] */
            float diff = av - yv;
            dr[j] = loss == BPQ_LOSS_MSE ? diff * bpq_s_dact(act, av) : diff;
            /* [scalar-bp1-delta] */
        }
        if (loss_out)
            total += (double)bpq_s_rowsum_finish(&sum);
    }
    if (loss_out)
        *loss_out = (float)(total / (double)batch);
}
