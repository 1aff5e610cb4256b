/* loops.h - the plain C loops users write around BLAS calls, built once per set of compiler flags. */
#ifndef BPQ_BENCH_LOOPS_H
#define BPQ_BENCH_LOOPS_H

#include <stddef.h>

/* Activations the loops know; the values are bpq_act's. */
enum { LOOPS_IDENTITY = 0, LOOPS_SIGMOID = 1, LOOPS_TANH = 2, LOOPS_RELU = 3, LOOPS_SOFTMAX = 4 };
/* Losses; the values are bpq_loss's. */
enum { LOOPS_MSE = 0, LOOPS_BCE = 1, LOOPS_XENT = 2 };

typedef struct bench_loops {
    /* z[r, j] = act(z[r, j] + b[j]); softmax over each row. */
    void (*bias_act)(size_t batch, size_t n, const float *b, int act, float *z);
    /* The forward pass of a layer with one input: a[r, j] = act(x[r] w[j] + b[j]). */
    void (*forward1)(size_t batch, size_t n, const float *x, const float *w, const float *b,
                     int act, float *a);
    /* g = g * act'(a), the derivative taken from the output a. */
    void (*dact_mul)(size_t count, int act, const float *a, float *g);
    /* db[j] = sum over rows of d[r, j]. */
    void (*bias_grad)(size_t batch, size_t n, const float *d, float *db);
    /* BP1: delta and the mean loss over the batch, as bpq defines them. */
    float (*output_delta)(size_t batch, size_t n, int loss, const float *a, const float *y,
                          float *delta);
    /* p = p - lr g */
    void (*sgd)(size_t count, float lr, const float *g, float *p);
} bench_loops;

/* The builds of loops.c: plain (the project's flags) and, per ISA level, -O3 -ffast-math. */
extern const bench_loops bench_loops_plain;
extern const bench_loops bench_loops_fastmath_avx2;
extern const bench_loops bench_loops_fastmath_avx512;
extern const bench_loops bench_loops_fastmath_neon;

#endif /* BPQ_BENCH_LOOPS_H */
