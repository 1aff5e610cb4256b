/* chain_rule.c - chapter 3: the guide's error, chain-rule gradient and update, computed by bpq. */
#include <stdio.h>

#include <bpq.h>

static int check(bpq_status st, const char *what)
{
    if (st != BPQ_OK)
        fprintf(stderr, "chain_rule: %s: %s\n", what, bpq_status_string(st));
    return st == BPQ_OK;
}

/* The loss C = 1/2 (a - y)^2 of the movie example for a given pair of weights. */
static float loss_at(const float *x, const float *w, const float *b, const float *y)
{
    float a, delta, loss = -1.0f;
    if (check(bpq_forward(1, 2, 1, x, w, b, BPQ_ACT_SIGMOID, &a), "forward"))
        check(bpq_bp1_output_delta(1, 1, BPQ_LOSS_MSE, BPQ_ACT_SIGMOID, &a, y, &delta, &loss),
              "bp1");
    return loss;
}

int main(void)
{
    const float x[2] = {8.0f, 3.0f}; /* action, comedy */
    float w[2] = {0.7f, 0.3f};
    const float b[1] = {-2.0f};
    const float y[1] = {0.0f}; /* the viewer hated the movie */
    float a[1], delta[1], db[1], dw[2], loss;

    /* [backward] */
    /* Forward, then BP1 with the squared error: delta = (a - y) * sigmoid'(z). */
    if (!check(bpq_forward(1, 2, 1, x, w, b, BPQ_ACT_SIGMOID, a), "forward") ||
        !check(bpq_bp1_output_delta(1, 1, BPQ_LOSS_MSE, BPQ_ACT_SIGMOID, a, y, delta, &loss),
               "bp1"))
        return 1;
    /* BP3 and BP4 for a batch of one: db = delta, dW = delta * x. */
    if (!check(bpq_bp3_bias_grad(1, 1, delta, BPQ_REDUCE_SUM, db), "bp3") ||
        !check(bpq_bp4_weight_grad(1, 1, 2, delta, x, BPQ_REDUCE_SUM, dw), "bp4"))
        return 1;
    /* [backward] */

    double error = (double)a[0] - (double)y[0];
    double slope = (double)a[0] * (1.0 - (double)a[0]); /* sigmoid' from the output */
    printf("step 1, the error\n");
    printf("  prediction a = %.3f, target y = %g, error a - y = %.3f, loss (a - y)^2 / 2 = %.3f\n",
           (double)a[0], (double)y[0], error, (double)loss);
    printf("step 2, the chain rule\n");
    printf("  sigmoid slope a (1 - a)     = %.4f\n", slope);
    printf("  delta = error * slope       = %.4f  (bpq_bp1_output_delta)\n", (double)delta[0]);
    printf("  dC/d(bias)   = delta        = %.4f  (bpq_bp3_bias_grad)\n", (double)db[0]);
    printf("  dC/d(w_action) = delta * 8  = %.3f   (bpq_bp4_weight_grad)\n", (double)dw[0]);
    printf("  dC/d(w_comedy) = delta * 3  = %.3f\n", (double)dw[1]);
    printf("  the guide's rounded factors: 0.989 * 0.0109 * 8 = %.3f\n", 0.989 * 0.0109 * 8);

    /* The gradient is a slope: nudge w_action both ways and watch the loss. */
    const float h = 1.0f / 1024; /* a power of two, so w +- h is exact here */
    float wp[2] = {w[0] + h, w[1]}, wm[2] = {w[0] - h, w[1]};
    double slope_fd = ((double)loss_at(x, wp, b, y) - (double)loss_at(x, wm, b, y)) / (2.0 * h);
    printf("  check: (C(w + h) - C(w - h)) / 2h with h = 1/1024 gives %.3f\n", slope_fd);

    /* [update] */
    /* Step 3: move every weight against its gradient, w = w - lr * dC/dw. */
    if (!check(bpq_sgd_step(2, 0.1f, dw, w), "sgd"))
        return 1;
    /* [update] */
    printf("step 3, the update with learning rate 0.1\n");
    printf("  w_action: 0.7 - 0.1 * %.3f = %.3f\n", (double)dw[0], (double)w[0]);
    printf("  w_comedy: 0.3 - 0.1 * %.3f = %.3f\n", (double)dw[1], (double)w[1]);
    float after[1];
    if (!check(bpq_forward(1, 2, 1, x, w, b, BPQ_ACT_SIGMOID, after), "forward"))
        return 1;
    printf("  prediction after one step: %.4f (was %.4f): a little less wrong\n", (double)after[0],
           (double)a[0]);
    return 0;
}
