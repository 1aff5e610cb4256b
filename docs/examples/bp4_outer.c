/* bp4_outer.c - chapter 7: BP4 as an outer product, batched into D^T X, in the canonical order. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bpq.h>

static int check(bpq_status st, const char *what)
{
    if (st != BPQ_OK)
        fprintf(stderr, "bp4_outer: %s: %s\n", what, bpq_status_string(st));
    return st == BPQ_OK;
}

/* Deterministic, unround values in (-1, 1): the same on every machine. */
static float value(uint32_t i)
{
    uint32_t h = (i + 1) * 2654435761u;
    h ^= h >> 13;
    return (float)(h & 0xffffff) * 0x1p-23f - 1.0f;
}

static void print_matrix(const char *title, const float *m, int rows, int cols)
{
    printf("%s\n", title);
    for (int j = 0; j < rows; j++) {
        printf("   ");
        for (int i = 0; i < cols; i++)
            printf(" %8.4f", (double)m[j * cols + i]);
        printf("\n");
    }
}

enum { B = 300, N_OUT = 17, N_IN = 33 }; /* a batch longer than the SIMD kernels' k blocks */

int main(void)
{
    /* One example: 2 units with errors delta, 3 inputs x. dW[j][i] = delta[j] x[i]. */
    const float delta1[2] = {0.5f, -0.25f}, x1[3] = {0.8f, 0.3f, 1.0f};
    float dw1[2 * 3];
    if (!check(bpq_bp4_weight_grad(1, 2, 3, delta1, x1, BPQ_REDUCE_SUM, dw1), "bp4"))
        return 1;
    print_matrix("one example: dW = delta x^T, blame at the destination times signal at the source",
                 dw1, 2, 3);

    /* Three examples: dW is the sum of their outer products, D^T X. */
    const float d3[3 * 2] = {0.5f, -0.25f, /* the example above */
                             -0.5f, 0.75f, 0.25f, 0.5f};
    const float x3[3 * 3] = {0.8f, 0.3f, 1.0f, 0.1f, 0.9f, 1.0f, 0.5f, 0.5f, 1.0f};
    float dw3[2 * 3], mean3[2 * 3];
    /* [batched] */
    if (!check(bpq_bp4_weight_grad(3, 2, 3, d3, x3, BPQ_REDUCE_SUM, dw3), "bp4 sum") ||
        !check(bpq_bp4_weight_grad(3, 2, 3, d3, x3, BPQ_REDUCE_MEAN, mean3), "bp4 mean"))
        return 1;
    /* [batched] */
    print_matrix("three examples: dW = D^T X, the sum of the three outer products", dw3, 2, 3);
    print_matrix("the same with BPQ_REDUCE_MEAN: divided by 3", mean3, 2, 3);

    /* The canonical order, checked from outside: each dW[j][i] is the fma chain over the
     * batch in ascending order, starting from +0. */
    static float d[B * N_OUT], x[B * N_IN], dw[N_OUT * N_IN];
    for (uint32_t k = 0; k < B * N_OUT; k++)
        d[k] = value(k);
    for (uint32_t k = 0; k < B * N_IN; k++)
        x[k] = value(100000 + k);
    if (!check(bpq_bp4_weight_grad(B, N_OUT, N_IN, d, x, BPQ_REDUCE_SUM, dw), "bp4"))
        return 1;
    int same = 0;
    for (int j = 0; j < N_OUT; j++)
        for (int i = 0; i < N_IN; i++) {
            /* [canonical-chain] */
            float acc = 0.0f;
            for (int r = 0; r < B; r++)
                acc = fmaf(d[r * N_OUT + j], x[r * N_IN + i], acc);
            /* [canonical-chain] */
            same += memcmp(&acc, &dw[j * N_IN + i], sizeof acc) == 0;
        }
    printf("300 x 17 x 33: elements of bpq's dW equal to the fmaf chain over the batch: %d of %d\n",
           same, N_OUT * N_IN);
    return 0;
}
