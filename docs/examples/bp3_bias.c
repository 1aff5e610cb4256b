/* bp3_bias.c - chapter 6: the bias gradient, summed or averaged over a batch, and micro-batches. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bpq.h>

static int check(bpq_status st, const char *what)
{
    if (st != BPQ_OK)
        fprintf(stderr, "bp3_bias: %s: %s\n", what, bpq_status_string(st));
    return st == BPQ_OK;
}

/* Deterministic, unround deltas in (-0.5, 0.5): the same on every machine. */
static float delta_value(uint32_t i)
{
    uint32_t h = i * 2654435761u;
    h ^= h >> 15;
    return (float)(h & 0xffffff) * 0x1p-24f - 0.5f;
}

static double absd(double v) { return v < 0 ? -v : v; }

enum { BATCH = 64, UNITS = 1000, MICRO = 16 };

int main(void)
{
    /* A small batch first: 4 examples, 3 units. */
    const float d[4 * 3] = {0.5f,  -0.25f, 0.125f, /* example 1 */
                            0.25f, 0.25f,  -0.5f,  /* example 2 */
                            -1.0f, 0.75f,  0.375f, /* example 3 */
                            0.75f, -0.25f, 0.25f}; /* example 4 */
    float sum[3], mean[3];
    /* [sum-mean] */
    if (!check(bpq_bp3_bias_grad(4, 3, d, BPQ_REDUCE_SUM, sum), "sum") ||
        !check(bpq_bp3_bias_grad(4, 3, d, BPQ_REDUCE_MEAN, mean), "mean"))
        return 1;
    /* [sum-mean] */
    printf("4 examples, 3 units: db is one number per unit\n");
    printf("  sum   %7.4f %7.4f %7.4f\n", (double)sum[0], (double)sum[1], (double)sum[2]);
    printf("  mean  %7.4f %7.4f %7.4f\n", (double)mean[0], (double)mean[1], (double)mean[2]);

    /* Then 64 examples of 1000 units, whole and as 4 micro-batches of 16. */
    static float big[BATCH * UNITS];
    float whole[UNITS], acc[UNITS], means[UNITS], mean_whole[UNITS];
    for (uint32_t i = 0; i < BATCH * UNITS; i++)
        big[i] = delta_value(i);
    if (!check(bpq_bp3_bias_grad(BATCH, UNITS, big, BPQ_REDUCE_SUM, whole), "whole") ||
        !check(bpq_bp3_bias_grad(BATCH, UNITS, big, BPQ_REDUCE_MEAN, mean_whole), "mean"))
        return 1;
    /* [micro-batches] */
    /* The first micro-batch overwrites db, the others add to it. */
    for (int m = 0; m < BATCH / MICRO; m++) {
        bpq_reduce r = m == 0 ? BPQ_REDUCE_SUM
                              : (bpq_reduce)(BPQ_REDUCE_SUM | BPQ_REDUCE_ACCUMULATE);
        if (!check(bpq_bp3_bias_grad(MICRO, UNITS, big + (size_t)m * MICRO * UNITS, r, acc), "acc"))
            return 1;
    }
    /* [micro-batches] */
    for (int m = 0; m < BATCH / MICRO; m++) {
        bpq_reduce r = m == 0 ? BPQ_REDUCE_MEAN
                              : (bpq_reduce)(BPQ_REDUCE_MEAN | BPQ_REDUCE_ACCUMULATE);
        if (!check(bpq_bp3_bias_grad(MICRO, UNITS, big + (size_t)m * MICRO * UNITS, r, means),
                   "means"))
            return 1;
    }
    /* Both against the exact sum (in double, exact for these 64 values), in units of
     * u sum|delta|, u = 2^-24: the documented bound is batch + 2 = 66 of them. */
    int same = 0;
    double worst_whole = 0, worst_acc = 0;
    for (int j = 0; j < UNITS; j++) {
        double exact = 0, mag = 0;
        for (int r = 0; r < BATCH; r++) {
            exact += big[r * UNITS + j];
            mag += absd(big[r * UNITS + j]);
        }
        double ew = absd(whole[j] - exact) / (mag * 0x1p-24);
        double ea = absd(acc[j] - exact) / (mag * 0x1p-24);
        worst_whole = ew > worst_whole ? ew : worst_whole;
        worst_acc = ea > worst_acc ? ea : worst_acc;
        same += memcmp(&acc[j], &whole[j], sizeof acc[j]) == 0;
    }
    printf("64 examples, 1000 units: one call against 4 micro-batches of 16"
           " (SUM, then SUM | ACCUMULATE)\n");
    printf("  units with the same bits: %d of %d (the additions are grouped differently)\n", same,
           UNITS);
    printf("  largest error against the exact sum, in u sum|delta|: one call %.2f,"
           " micro-batches %.2f (bound 66)\n", worst_whole, worst_acc);
    printf("  unit 1: whole batch %.7f, micro-batches %.7f\n", (double)whole[0], (double)acc[0]);
    printf("accumulating MEAN over the micro-batches adds 4 means of 16, not 1 mean of 64:\n");
    printf("  unit 1: MEAN of 64 %.7f, 4 accumulated MEANs of 16 %.7f (4 times as large)\n",
           (double)mean_whole[0], (double)means[0]);
    return 0;
}
