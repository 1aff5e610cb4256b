/* bp2_blame.c - chapter 5: BP2 routes the output's blame back through W^T, gated by act'. */
#include <stdio.h>
#include <string.h>

#include <bpq.h>

static int check(bpq_status st, const char *what)
{
    if (st != BPQ_OK)
        fprintf(stderr, "bp2_blame: %s: %s\n", what, bpq_status_string(st));
    return st == BPQ_OK;
}

int main(void)
{
    /* The README's 2-3-1 network: two inputs, three tanh units, one sigmoid output.
     * Two examples, scores scaled to [0, 1] (raw scores of 8 or 9 would drive the tanh
     * units into saturation, where they pass almost no blame back: chapter 9): the
     * movie (0.8, 0.3), disliked, and a comedy (0.1, 0.9), liked. */
    const float x[2 * 2] = {0.8f, 0.3f, 0.1f, 0.9f}, y[2] = {0, 1};
    const float w1[3 * 2] = {0.7f, 0.3f, -0.2f, 0.5f, 0.1f, -0.4f}, b1[3] = {0, 0, 0};
    const float w2[1 * 3] = {0.6f, -0.3f, 0.2f}, b2[1] = {0};
    float h[2 * 3], out[2], d2[2], d1[2 * 3];

    if (!check(bpq_forward(2, 2, 3, x, w1, b1, BPQ_ACT_TANH, h), "forward (hidden)") ||
        !check(bpq_forward(2, 3, 1, h, w2, b2, BPQ_ACT_SIGMOID, out), "forward (output)") ||
        !check(bpq_bp1_output_delta(2, 1, BPQ_LOSS_BCE, BPQ_ACT_SIGMOID, out, y, d2, NULL), "bp1"))
        return 1;
    /* [bp2-call] */
    /* delta_hidden = (delta_out W2) * tanh'(h), where tanh' = 1 - h^2 comes from the
     * layer's output h: the pre-activations were never kept. */
    if (!check(bpq_bp2_hidden_delta(2, 1, 3, d2, w2, h, BPQ_ACT_TANH, d1), "bp2"))
        return 1;
    /* [bp2-call] */

    for (int r = 0; r < 2; r++) {
        printf("example %d: output %.4f, target %g, output delta %.4f\n", r + 1, (double)out[r],
               (double)y[r], (double)d2[r]);
        printf("  unit  weight to output  blame routed back        h  slope 1 - h^2  delta (bpq)\n");
        for (int i = 0; i < 3; i++) {
            double routed = (double)w2[i] * (double)d2[r]; /* row r of D W: one term here */
            double hv = h[r * 3 + i], slope = 1.0 - hv * hv;
            printf("  %d     %16.1f  %17.4f  %7.4f  %13.4f  %11.4f\n", i + 1, (double)w2[i],
                   routed, hv, slope, (double)d1[r * 3 + i]);
        }
    }

    /* A row's delta does not depend on the batch it is computed in. */
    float alone[3];
    if (!check(bpq_bp2_hidden_delta(1, 1, 3, &d2[1], w2, &h[3], BPQ_ACT_TANH, alone), "bp2"))
        return 1;
    printf("example 2 alone (batch 1) gives the bits of its row in the batch: %s\n",
           memcmp(alone, &d1[3], sizeof alone) == 0 ? "yes" : "NO");
    return 0;
}
