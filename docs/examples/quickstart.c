/* quickstart.c - the README's example: one training step of a 2-3-1 network through bpq. */
#include <stdio.h>

#include <bpq.h>

int main(void) {
    /* A batch of 2 examples, 2 inputs, a hidden layer of 3 tanh units, 1 sigmoid output. */
    const float x[2 * 2] = {8, 3, 1, 9}, y[2] = {0, 1};
    float w1[3 * 2] = {0.7f, 0.3f, -0.2f, 0.5f, 0.1f, -0.4f}, b1[3] = {0};
    float w2[1 * 3] = {0.6f, -0.3f, 0.2f}, b2[1] = {-2};
    float h[2 * 3], out[2], d2[2], d1[2 * 3], dw1[6], db1[3], dw2[3], db2[1], loss;

    /* Forward, layer by layer. */
    bpq_forward(2, 2, 3, x, w1, b1, BPQ_ACT_TANH, h);
    bpq_forward(2, 3, 1, h, w2, b2, BPQ_ACT_SIGMOID, out);
    /* BP1 at the output, BP2 back through w2, then BP3 and BP4 for each layer. */
    bpq_status st = bpq_bp1_output_delta(2, 1, BPQ_LOSS_BCE, BPQ_ACT_SIGMOID, out, y, d2, &loss);
    if (st != BPQ_OK) {
        fprintf(stderr, "bp1: %s\n", bpq_status_string(st));
        return 1;
    }
    bpq_bp2_hidden_delta(2, 1, 3, d2, w2, h, BPQ_ACT_TANH, d1);
    bpq_bp3_bias_grad(2, 1, d2, BPQ_REDUCE_MEAN, db2);
    bpq_bp4_weight_grad(2, 1, 3, d2, h, BPQ_REDUCE_MEAN, dw2);
    bpq_bp3_bias_grad(2, 3, d1, BPQ_REDUCE_MEAN, db1);
    bpq_bp4_weight_grad(2, 3, 2, d1, x, BPQ_REDUCE_MEAN, dw1);
    /* The update: w <- w - lr * dC/dw for every parameter. */
    bpq_sgd_step(6, 0.1f, dw1, w1);
    bpq_sgd_step(3, 0.1f, db1, b1);
    bpq_sgd_step(3, 0.1f, dw2, w2);
    bpq_sgd_step(1, 0.1f, db2, b2);
    printf("loss %.4f on %s\n", loss, bpq_isa_name(bpq_isa_active()));
    return 0;
}
