/* sgd.c - benchmark of bpq_sgd_step on a layer's weights, w = w - lr dw. */
#include "cases.h"

void bench_prepare_sgd(bench_layer *L, int unused)
{
    (void)unused;
    bench_fill(L->dw, L->n_out * L->n_in, 10, -1.0f, 1.0f);
}

/* Reads dw and w; writes w. The weights drift by lr dw per call: harmless. */
bpq_status bench_call_sgd(bench_layer *L, int unused)
{
    (void)unused;
    return bpq_sgd_step(L->n_out * L->n_in, BENCH_LR, L->dw, L->w);
}

void bench_describe_sgd(const bench_layer *L, int unused, bench_work *w)
{
    (void)unused;
    w->flops = 0.0; /* elementwise: measured in GB/s */
    w->bytes = 4.0 * 3.0 * (double)L->n_out * (double)L->n_in;
    w->footprint = 4.0 * 2.0 * (double)L->n_out * (double)L->n_in;
    w->stream = BENCH_STREAM_UPDATE;
}

static void *setup(const bench_args *args, bench_work *work, char *why, size_t why_len)
{
    return bench_bpq_setup(args, work, why, why_len, bench_prepare_sgd, bench_call_sgd,
                           bench_describe_sgd);
}

void bench_register_sgd(void)
{
    static const bench_ops ops = BENCH_BPQ_OPS(setup);
    bench_register_bpq("sgd", &ops, 0, 1);
}
