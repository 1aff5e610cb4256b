/* sweep.h - the random layer-shape sweep: shapes from a seed, implementations side by side. */
#ifndef BPQ_BENCH_SWEEP_H
#define BPQ_BENCH_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sweep_shapes.c: drawing the shapes ---------------------------------------------------- */

/* Where shapes are drawn from, and what one may cost. */
typedef struct bench_sweep_space {
    size_t max_batch, max_n; /* batch log-uniform in [1, max_batch], n_in, n_out in [1, max_n] */
    double flop_budget;      /* most flops of a product (2 batch n_in n_out): batch cut to fit */
    double layer_bytes;      /* most bytes of a layer's buffers (bench_layer): batch cut to fit */
    double l3_bytes;         /* past-L3 shapes have weights larger than this; 0: no such shapes */
} bench_sweep_space;

/* One drawn shape. */
typedef struct bench_sweep_shape {
    bench_shape shape;  /* as run; origin is its kind: "random", "pow2", "past-l3" or "given" */
    size_t drawn_batch; /* the batch drawn, before any cut */
    const char *cut;    /* NULL, or why the batch was cut: "flops" or "memory" */
} bench_sweep_shape;

/*
 * Draws shapes 0..count-1 of the sweep of `seed` into out. Shape k depends
 * on the seed, k and the shapes before it only (it is redrawn if it repeats
 * one of them), so a shorter sweep is the start of a longer one. Every 4th
 * shape (k % 4 == 1) has all three dimensions rounded to the nearest power
 * of two; when space->l3_bytes > 0, every 50th (k % 50 == 12) is a past-L3
 * shape: weights of 1.02-1.15 times the L3, n_in and n_out in
 * [1024, 65536], batch log-uniform up to what the budgets allow (only every
 * 50th: with a L3 of hundreds of MiB, such a shape takes most of a minute,
 * nearly all of it the kernel zeroing fresh pages for every implementation's
 * GiB of buffers). Returns a
 * note for the output when the L3 is too large for the memory cap (the
 * past-L3 shapes are then drawn at the cap, below the L3), else NULL.
 */
const char *bench_sweep_draw(uint64_t seed, size_t count, const bench_sweep_space *space,
                             bench_sweep_shape *out);

/* Bytes of one layer's buffers (bench_layer_init's) for a shape. */
double bench_sweep_layer_bytes(size_t batch, size_t n_in, size_t n_out);

/* ---- sweep.c: the run ------------------------------------------------------------------------ */

/* Takes one command-line argument if it is a --bpq_sweep flag: 1 taken, 0 not ours, -1 bad. */
int bench_sweep_flag(const char *arg);
/* Whether --bpq_sweep was given. */
int bench_sweep_on(void);
/* Whether --bpq_sweep_list was given: print the shapes, run nothing. */
int bench_sweep_list_only(void);
/* Prints the seed and the command that repeats the run: first, before anything else. */
void bench_sweep_announce(const char *argv0, int smoke);
/* After the machine is measured, before the cases are registered: draws (or takes) the
 * shapes and has the cases registered for them. 0 with a message on a bad flag. */
int bench_sweep_prepare(void);
/* Whether a case belongs to the sweep (its case name, and bpq's compared ISA alone). */
int bench_sweep_keeps(const char *name);
/* Runs every case on every shape side by side, printing a line each; 0, or 1 if the
 * output file could not be written. Failed implementations are reported, not fatal. */
int bench_sweep_run(void);

#ifdef __cplusplus
}
#endif

#endif /* BPQ_BENCH_SWEEP_H */
