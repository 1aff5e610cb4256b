/* layer.c - benchmark of one whole layer's backward pass with sigmoid: BP2, then BP3 and BP4. */
#include "cases.h"

/*
 * What a training step does per hidden layer once its error d is known:
 * the previous layer's error (BP2, with the previous layer's sigmoid), the
 * bias gradient (BP3) and the weight gradient (BP4). Reads d, w, x; writes
 * dx, db, dw.
 */
bpq_status bench_call_layer(bench_layer *L, int unused)
{
    (void)unused;
    bpq_status st =
        bpq_bp2_hidden_delta(L->batch, L->n_out, L->n_in, L->d, L->w, L->x, BPQ_ACT_SIGMOID, L->dx);
    if (st == BPQ_OK)
        st = bpq_bp3_bias_grad(L->batch, L->n_out, L->d, BPQ_REDUCE_SUM, L->db);
    if (st == BPQ_OK)
        st = bpq_bp4_weight_grad(L->batch, L->n_out, L->n_in, L->d, L->x, BPQ_REDUCE_SUM, L->dw);
    return st;
}

void bench_describe_layer(const bench_layer *L, int unused, bench_work *w)
{
    const double B = (double)L->batch, I = (double)L->n_in, O = (double)L->n_out;
    (void)unused;
    w->flops = 4.0 * B * I * O; /* two GEMM-like products; BP3's adds are not counted */
    w->bytes = 4.0 * ((B * O + O * I + B * I) + (B * I + O * I + O));
    w->footprint = w->bytes;
    w->stream = BENCH_STREAM_READ;
}

static void *setup(const bench_args *args, bench_work *work, char *why, size_t why_len)
{
    return bench_bpq_setup(args, work, why, why_len, NULL, bench_call_layer, bench_describe_layer);
}

void bench_register_layer(void)
{
    static const bench_ops ops = BENCH_BPQ_OPS(setup);
    bench_register_bpq("layer.sigmoid", &ops, BPQ_ACT_SIGMOID, 1);
}
