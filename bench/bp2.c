/* bp2.c - benchmark of bpq_bp2_hidden_delta, dx = (d W) * act'(x), for each hidden activation. */
#include <stdio.h>

#include "cases.h"

/*
 * The layer's input x is the previous layer's output, so BP2 here makes
 * the previous layer's error: reads d, w, x; writes dx.
 */
bpq_status bench_call_bp2(bench_layer *L, int act)
{
    return bpq_bp2_hidden_delta(L->batch, L->n_out, L->n_in, L->d, L->w, L->x, (bpq_act)act, L->dx);
}

void bench_describe_bp2(const bench_layer *L, int act, bench_work *w)
{
    const double B = (double)L->batch, I = (double)L->n_in, O = (double)L->n_out;
    (void)act;
    w->flops = 2.0 * B * I * O;
    w->bytes = 4.0 * (B * O + O * I + 2.0 * B * I);
    w->footprint = w->bytes;
    w->stream = BENCH_STREAM_READ;
}

static void *setup(const bench_args *args, bench_work *work, char *why, size_t why_len)
{
    return bench_bpq_setup(args, work, why, why_len, NULL, bench_call_bp2, bench_describe_bp2);
}

void bench_register_bp2(void)
{
    static const bench_ops ops = BENCH_BPQ_OPS(setup);
    static const bpq_act acts[] = {BPQ_ACT_IDENTITY, BPQ_ACT_SIGMOID, BPQ_ACT_TANH, BPQ_ACT_RELU};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        char id[48];
        snprintf(id, sizeof id, "bp2.%s", bench_act_name(acts[i]));
        bench_register_bpq(id, &ops, acts[i], acts[i] == BPQ_ACT_SIGMOID);
    }
}
