/* reproducible.c - chapter 10: the same bits on every ISA, any batch, in the canonical order. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bpq.h>

enum { BATCH = 37, N_IN = 61, N_OUT = 29 };

static float value(uint32_t i)
{
    uint32_t h = (i + 7) * 2654435761u;
    h ^= h >> 13;
    return (float)(h & 0xffffff) * 0x1p-23f - 1.0f;
}

/* FNV-1a over the bytes of the floats, low byte first: a fingerprint of the bits. */
static uint64_t fingerprint(const float *v, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        for (int k = 0; k < 4; k++) {
            h ^= (u >> (8 * k)) & 0xffu;
            h *= 0x100000001b3u;
        }
    }
    return h;
}

/* The four GEMM-shaped and elementwise results of one ISA on fixed inputs. */
typedef struct results {
    float a[BATCH * N_OUT], delta_out[BATCH * N_OUT], delta_in[BATCH * N_IN], dw[N_OUT * N_IN];
    float db[N_OUT], loss;
} results;

static float x[BATCH * N_IN], w[N_OUT * N_IN], b[N_OUT], y[BATCH * N_OUT], a_in[BATCH * N_IN];

static int run_all(results *r)
{
    return bpq_forward(BATCH, N_IN, N_OUT, x, w, b, BPQ_ACT_SOFTMAX, r->a) == BPQ_OK &&
           bpq_bp1_output_delta(BATCH, N_OUT, BPQ_LOSS_XENT, BPQ_ACT_SOFTMAX, r->a, y,
                                r->delta_out, &r->loss) == BPQ_OK &&
           bpq_bp2_hidden_delta(BATCH, N_OUT, N_IN, r->delta_out, w, a_in, BPQ_ACT_TANH,
                                r->delta_in) == BPQ_OK &&
           bpq_bp3_bias_grad(BATCH, N_OUT, r->delta_out, BPQ_REDUCE_MEAN, r->db) == BPQ_OK &&
           bpq_bp4_weight_grad(BATCH, N_OUT, N_IN, r->delta_out, x, BPQ_REDUCE_MEAN, r->dw) ==
               BPQ_OK;
}

static void print_fingerprints(const results *r)
{
    printf("  forward (softmax)  %016llx\n", (unsigned long long)fingerprint(r->a, BATCH * N_OUT));
    printf("  BP1 (xent) + loss  %016llx  loss %.6f\n",
           (unsigned long long)fingerprint(r->delta_out, BATCH * N_OUT), (double)r->loss);
    printf("  BP2 (tanh)         %016llx\n",
           (unsigned long long)fingerprint(r->delta_in, BATCH * N_IN));
    printf("  BP3 (mean)         %016llx\n", (unsigned long long)fingerprint(r->db, N_OUT));
    printf("  BP4 (mean)         %016llx\n", (unsigned long long)fingerprint(r->dw, N_OUT * N_IN));
}

int main(void)
{
    static const bpq_isa floats[] = {BPQ_ISA_SCALAR, BPQ_ISA_AVX2, BPQ_ISA_AVX512, BPQ_ISA_NEON};
    static results first, other;
    for (uint32_t i = 0; i < BATCH * N_IN; i++) {
        x[i] = value(i);
        a_in[i] = 0.9f * value(90000 + i); /* tanh outputs of an earlier layer */
    }
    for (uint32_t i = 0; i < N_OUT * N_IN; i++)
        w[i] = 0.25f * value(50000 + i);
    for (uint32_t j = 0; j < N_OUT; j++)
        b[j] = 0.1f * value(70000 + j);
    for (uint32_t r = 0; r < BATCH; r++)
        y[r * N_OUT + (r * 7) % N_OUT] = 1.0f; /* one-hot labels */

    /* 1. Every float ISA this machine runs, against scalar. (Which ones ran goes to
     * stderr: the printed output is the same on every machine.) */
    int agree = 1;
    for (size_t k = 0; k < sizeof floats / sizeof floats[0]; k++) {
        if (!bpq_isa_supported(floats[k]))
            continue;
        results *r = k == 0 ? &first : &other;
        if (bpq_isa_select(floats[k]) != BPQ_OK || !run_all(r))
            return 1;
        fprintf(stderr, "reproducible: ran on %s\n", bpq_isa_name(floats[k]));
        if (k > 0 && memcmp(&first, &other, sizeof first) != 0)
            agree = 0;
    }
    if (bpq_isa_select(BPQ_ISA_AUTO) != BPQ_OK)
        return 1;
    printf("fingerprints of the outputs, %dx%dx%d (the same on every machine and ISA):\n", BATCH,
           N_IN, N_OUT);
    print_fingerprints(&first);
    printf("every float ISA here gave the bits of scalar: %s\n", agree ? "yes" : "NO");

    /* [batch-invariance] */
    /* 2. Batch invariance: each row computed alone (batch 1, a different code path in
     * the SIMD kernels) has the bits of the same row inside the batch of 37. */
    int rows_same = 0;
    for (int r = 0; r < BATCH; r++) {
        float a1[N_OUT], d1[N_IN];
        if (bpq_forward(1, N_IN, N_OUT, &x[r * N_IN], w, b, BPQ_ACT_SOFTMAX, a1) != BPQ_OK ||
            bpq_bp2_hidden_delta(1, N_OUT, N_IN, &first.delta_out[r * N_OUT], w, &a_in[r * N_IN],
                                 BPQ_ACT_TANH, d1) != BPQ_OK)
            return 1;
        rows_same += memcmp(a1, &first.a[r * N_OUT], sizeof a1) == 0 &&
                     memcmp(d1, &first.delta_in[r * N_IN], sizeof d1) == 0;
    }
    /* [batch-invariance] */
    printf("rows whose forward and BP2 results alone equal their bits in the batch: %d of %d\n",
           rows_same, BATCH);

    /* 3. The canonical order, from outside: z = fma chain from the bias, inputs ascending. */
    static float z[BATCH * N_OUT];
    if (bpq_forward(BATCH, N_IN, N_OUT, x, w, b, BPQ_ACT_IDENTITY, z) != BPQ_OK)
        return 1;
    int chain_same = 0;
    for (int r = 0; r < BATCH; r++)
        for (int j = 0; j < N_OUT; j++) {
            /* [forward-chain] */
            float acc = b[j];
            for (int i = 0; i < N_IN; i++)
                acc = fmaf(x[r * N_IN + i], w[j * N_IN + i], acc);
            /* [forward-chain] */
            chain_same += memcmp(&acc, &z[r * N_OUT + j], sizeof acc) == 0;
        }
    printf("pre-activations equal to the fmaf chain from the bias: %d of %d\n", chain_same,
           BATCH * N_OUT);

    /* 4. The reference ISA works in double: close to the float result, not the same bits. */
    static float zr[BATCH * N_OUT];
    if (bpq_isa_select(BPQ_ISA_REFERENCE) != BPQ_OK ||
        bpq_forward(BATCH, N_IN, N_OUT, x, w, b, BPQ_ACT_IDENTITY, zr) != BPQ_OK ||
        bpq_isa_select(BPQ_ISA_AUTO) != BPQ_OK)
        return 1;
    int differ = 0;
    double worst = 0;
    for (int r = 0; r < BATCH; r++)
        for (int j = 0; j < N_OUT; j++) {
            double mag = fabs((double)b[j]);
            for (int i = 0; i < N_IN; i++)
                mag += fabs((double)x[r * N_IN + i] * (double)w[j * N_IN + i]);
            double e = fabs((double)z[r * N_OUT + j] - (double)zr[r * N_OUT + j]) /
                       (mag * 0x1p-24);
            worst = e > worst ? e : worst;
            differ += z[r * N_OUT + j] != zr[r * N_OUT + j];
        }
    printf("float against the double reference: %d of %d differ, by at most %.2f u sum|x w|"
           " (bound %d)\n", differ, BATCH * N_OUT, worst, N_IN + 1);
    return agree && rows_same == BATCH && chain_same == BATCH * N_OUT ? 0 : 1;
}
