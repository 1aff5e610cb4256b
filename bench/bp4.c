/* bp4.c - benchmark of bpq_bp4_weight_grad, dW = d^T x. */
#include "cases.h"

/* Reads d, x; writes dw (a sum over the batch, as the peers compute it). */
bpq_status bench_call_bp4(bench_layer *L, int unused)
{
    (void)unused;
    return bpq_bp4_weight_grad(L->batch, L->n_out, L->n_in, L->d, L->x, BPQ_REDUCE_SUM, L->dw);
}

void bench_describe_bp4(const bench_layer *L, int unused, bench_work *w)
{
    const double B = (double)L->batch, I = (double)L->n_in, O = (double)L->n_out;
    (void)unused;
    w->flops = 2.0 * B * I * O;
    w->bytes = 4.0 * (B * O + B * I + O * I);
    w->footprint = w->bytes;
    w->stream = BENCH_STREAM_READ;
}

static void *setup(const bench_args *args, bench_work *work, char *why, size_t why_len)
{
    return bench_bpq_setup(args, work, why, why_len, NULL, bench_call_bp4, bench_describe_bp4);
}

void bench_register_bp4(void)
{
    static const bench_ops ops = BENCH_BPQ_OPS(setup);
    bench_register_bpq("bp4", &ops, 0, 1);
}
