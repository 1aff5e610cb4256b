/* bp1.c - benchmark of bpq_bp1_output_delta for each loss (MSE, BCE, cross-entropy), loss value included. */
#include <stdio.h>

#include "cases.h"

bpq_act bench_bp1_act(bpq_loss loss)
{
    return loss == BPQ_LOSS_XENT ? BPQ_ACT_SOFTMAX : BPQ_ACT_SIGMOID;
}

void bench_prepare_bp1(bench_layer *L, int loss)
{
    if (loss == BPQ_LOSS_XENT) {
        bench_fill_probs(L->a, L->batch, L->n_out, 7);
        bench_fill_onehot(L->y, L->batch, L->n_out, 8);
    } else if (loss == BPQ_LOSS_BCE) {
        bench_fill_bits(L->y, L->batch * L->n_out, 9);
    }
}

/*
 * Reads a, y; writes d and the mean loss. The loss is asked for because a
 * training loop that reports it pays for its logarithms, the costly part.
 */
bpq_status bench_call_bp1(bench_layer *L, int loss)
{
    return bpq_bp1_output_delta(L->batch, L->n_out, (bpq_loss)loss, bench_bp1_act((bpq_loss)loss),
                                L->a, L->y, L->d, &L->loss);
}

void bench_describe_bp1(const bench_layer *L, int loss, bench_work *w)
{
    (void)loss;
    w->flops = 0.0; /* elementwise: measured in GB/s */
    w->bytes = 4.0 * 3.0 * (double)L->batch * (double)L->n_out;
    w->footprint = w->bytes;
    w->stream = BENCH_STREAM_UPDATE;
}

static void *setup(const bench_args *args, bench_work *work, char *why, size_t why_len)
{
    return bench_bpq_setup(args, work, why, why_len, bench_prepare_bp1, bench_call_bp1,
                           bench_describe_bp1);
}

void bench_register_bp1(void)
{
    static const bench_ops ops = BENCH_BPQ_OPS(setup);
    static const bpq_loss losses[] = {BPQ_LOSS_MSE, BPQ_LOSS_BCE, BPQ_LOSS_XENT};
    for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++) {
        char id[48];
        snprintf(id, sizeof id, "bp1.%s", bench_loss_name(losses[i]));
        bench_register_bpq(id, &ops, losses[i], 0);
    }
}
