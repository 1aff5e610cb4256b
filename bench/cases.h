/* cases.h - what each equation's file offers the others: registration, its bpq call, the work it does. */
#ifndef BPQ_BENCH_CASES_H
#define BPQ_BENCH_CASES_H

#include "util.h"

/*
 * For each equation: bench_register_<eq> adds bpq's cases; bench_call_<eq>
 * is one bpq call on a layer's buffers (the peers check their result
 * against it); bench_describe_<eq> is the work of one call. Which buffers
 * each reads and writes is said in its file.
 */
#define BENCH_EQUATION(eq)                                                                         \
    void bench_register_##eq(void);                                                                \
    bpq_status bench_call_##eq(bench_layer *L, int variant);                                       \
    void bench_describe_##eq(const bench_layer *L, int variant, bench_work *w)

BENCH_EQUATION(forward);
BENCH_EQUATION(bp1);
BENCH_EQUATION(bp2);
BENCH_EQUATION(bp3);
BENCH_EQUATION(bp4);
BENCH_EQUATION(sgd);
BENCH_EQUATION(layer);

/* BP1's data: softmax rows and one-hot targets for cross-entropy, 0/1 targets for BCE. */
void bench_prepare_bp1(bench_layer *L, int loss);
/* The activation a loss goes with in BP1. */
bpq_act bench_bp1_act(bpq_loss loss);
/* SGD's data: a non-zero gradient. */
void bench_prepare_sgd(bench_layer *L, int unused);
/* The learning rate of the SGD cases. */
#define BENCH_LR 1e-4f

/* The peers; each prints why it is missing when it is. */
void bench_register_openblas(void);
void bench_register_onednn(void);
void bench_register_loops(void);

#endif /* BPQ_BENCH_CASES_H */
