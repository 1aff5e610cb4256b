/* bp3.c - benchmark of bpq_bp3_bias_grad, db = sum over the batch of d. */
#include "cases.h"

/* Reads d; writes db (a sum, as the peers compute it). */
bpq_status bench_call_bp3(bench_layer *L, int unused)
{
    (void)unused;
    return bpq_bp3_bias_grad(L->batch, L->n_out, L->d, BPQ_REDUCE_SUM, L->db);
}

void bench_describe_bp3(const bench_layer *L, int unused, bench_work *w)
{
    (void)unused;
    w->flops = 0.0; /* a reduction: measured in GB/s */
    w->bytes = 4.0 * ((double)L->batch * (double)L->n_out + (double)L->n_out);
    w->footprint = w->bytes;
    w->stream = BENCH_STREAM_READ;
}

static void *setup(const bench_args *args, bench_work *work, char *why, size_t why_len)
{
    return bench_bpq_setup(args, work, why, why_len, NULL, bench_call_bp3, bench_describe_bp3);
}

void bench_register_bp3(void)
{
    static const bench_ops ops = BENCH_BPQ_OPS(setup);
    bench_register_bpq("bp3", &ops, 0, 0);
}
