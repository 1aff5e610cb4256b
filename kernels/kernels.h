/* kernels.h - the kernel table that every ISA fills, and the names of its entries. */
#ifndef BPQ_KERNELS_H
#define BPQ_KERNELS_H

#include <stddef.h>

#include "bpq.h"

/*
 * Kernels are called by src/api.c only after every argument has been
 * checked: sizes are non-zero and their byte counts fit in size_t, pointers
 * are valid, enumerators are known and the loss/activation pair is allowed.
 * A kernel therefore never fails and has no status to return.
 *
 * `reduce` arguments are decoded into two flags: `mean` (divide the sum by
 * batch) and `accumulate` (add into the output instead of overwriting it).
 */
typedef struct bpq_kernels {
    bpq_isa isa;
    void (*forward)(size_t batch, size_t n_in, size_t n_out, const float *x, const float *w,
                    const float *b, bpq_act act, float *a);
    void (*bp1)(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,
                const float *y, float *delta, float *loss_out /* may be NULL */);
    void (*bp2)(size_t batch, size_t n_next, size_t n, const float *delta_next,
                const float *w_next, const float *a, bpq_act act, float *delta);
    void (*bp3)(size_t batch, size_t n, const float *delta, int mean, int accumulate,
                float *db);
    void (*bp4)(size_t batch, size_t n_out, size_t n_in, const float *delta, const float *x,
                int mean, int accumulate, float *dw);
    void (*sgd)(size_t n, float lr, const float *grad, float *param);
} bpq_kernels;

/* Declares the six kernels of one ISA: bpq_forward_<isa>, bpq_bp1_<isa>, ... */
#define BPQ_DECLARE_KERNELS(isa)                                                               \
    void bpq_forward_##isa(size_t batch, size_t n_in, size_t n_out, const float *x,            \
                           const float *w, const float *b, bpq_act act, float *a);             \
    void bpq_bp1_##isa(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,     \
                       const float *y, float *delta, float *loss_out);                         \
    void bpq_bp2_##isa(size_t batch, size_t n_next, size_t n, const float *delta_next,         \
                       const float *w_next, const float *a, bpq_act act, float *delta);        \
    void bpq_bp3_##isa(size_t batch, size_t n, const float *delta, int mean, int accumulate,   \
                       float *db);                                                             \
    void bpq_bp4_##isa(size_t batch, size_t n_out, size_t n_in, const float *delta,            \
                       const float *x, int mean, int accumulate, float *dw);                   \
    void bpq_sgd_##isa(size_t n, float lr, const float *grad, float *param)

BPQ_DECLARE_KERNELS(reference);
BPQ_DECLARE_KERNELS(scalar);
BPQ_DECLARE_KERNELS(avx2);
BPQ_DECLARE_KERNELS(avx512);
BPQ_DECLARE_KERNELS(neon);

#endif /* BPQ_KERNELS_H */
