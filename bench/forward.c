/* forward.c - benchmark of bpq_forward: A = act(X W^T + b), sigmoid and softmax, per ISA and shape. */
#include "cases.h"

/* Reads x, w, b; writes a. */
bpq_status bench_call_forward(bench_layer *L, int act)
{
    return bpq_forward(L->batch, L->n_in, L->n_out, L->x, L->w, L->b, (bpq_act)act, L->a);
}

void bench_describe_forward(const bench_layer *L, int act, bench_work *w)
{
    const double B = (double)L->batch, I = (double)L->n_in, O = (double)L->n_out;
    (void)act;
    w->flops = 2.0 * B * I * O;
    w->bytes = 4.0 * (B * I + O * I + O + B * O);
    w->footprint = w->bytes;
    w->stream = BENCH_STREAM_READ; /* at batch 1 the weights, read once, set the pace */
}

static void *setup(const bench_args *args, bench_work *work, char *why, size_t why_len)
{
    return bench_bpq_setup(args, work, why, why_len, NULL, bench_call_forward,
                           bench_describe_forward);
}

void bench_register_forward(void)
{
    static const bench_ops ops = BENCH_BPQ_OPS(setup);
    bench_register_bpq("forward.sigmoid", &ops, BPQ_ACT_SIGMOID, 1);
    bench_register_bpq("forward.softmax", &ops, BPQ_ACT_SOFTMAX, 0);
}
