/* bp1.c - reference BP1 in double: delta = dC/da * act'(a), and the mean loss. */
#include "kernels.h"
#include "reference/ref_p.h"

void bpq_bp1_reference(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,
                       const float *y, float *delta, float *loss_out) {
    double total = 0.0;
    /* [ref-bp1] */
    for (size_t e = 0; e < batch * n; e++) {
        double av = a[e], yv = y[e];
        if (loss == BPQ_LOSS_MSE)
            total += 0.5 * (av - yv) * (av - yv);
        else if (loss == BPQ_LOSS_BCE)
            total -= yv * bpq_r_log(av) + (1.0 - yv) * bpq_r_log(1.0 - av);
        else
            total -= yv * bpq_r_log(av);
        /* MSE: gradient of the loss times the slope; BCE+sigmoid and
         * softmax+cross-entropy simplify to prediction minus target. */
        delta[e] = (float)(loss == BPQ_LOSS_MSE ? (av - yv) * bpq_r_dact(act, av) : av - yv);
    }
    /* [ref-bp1] */
    if (loss_out)
        *loss_out = (float)(total / (double)batch);
}
