/* util.h - what the case files share: the shapes, aligned seeded buffers, result checks, registration. */
#ifndef BPQ_BENCH_UTIL_H
#define BPQ_BENCH_UTIL_H

#include <stddef.h>

#include "bench.h"
#include "bpq.h"

/* The shapes benchmarked, (batch, n_in, n_out): from real models, plus batch 1 and an odd one. */
extern const bench_shape bench_shapes[];
extern const size_t bench_shape_count;
/*
 * Registers the cases for these shapes instead of the table (the sweep's
 * drawn shapes); call before bench_register_all. The array must outlive
 * the run. bench_registered_shapes returns those in use.
 */
void bench_use_shapes(const bench_shape *shapes, size_t count);
const bench_shape *bench_registered_shapes(size_t *count);

/* n floats, 64-byte aligned, or NULL. Free with free(). */
float *bench_alloc(size_t n);

/* Uniform values in [lo, hi) from a fixed seed, so every run sees the same data. */
void bench_fill(float *p, size_t n, unsigned seed, float lo, float hi);
/* One-hot rows (targets for cross-entropy). */
void bench_fill_onehot(float *y, size_t batch, size_t n, unsigned seed);
/* Positive rows that sum to 1 (a softmax output). */
void bench_fill_probs(float *a, size_t batch, size_t n, unsigned seed);
/* Zeros and ones (targets for binary cross-entropy). */
void bench_fill_bits(float *y, size_t n, unsigned seed);

/*
 * 1 if max|got - want| <= tol * max|want| (+ a tiny absolute term); else 0
 * with the worst relative error described in `why`. Peers sum in another
 * order than bpq, so they agree to a tolerance, not to the bit.
 */
int bench_close(const float *got, const float *want, size_t n, double tol, const char *what,
                char *why, size_t why_len);

/* Writes a formatted reason for a skipped case. */
void bench_why(char *why, size_t why_len, const char *fmt, ...);

/* bpq's name for an activation or a loss ("sigmoid", "xent", ...). */
const char *bench_act_name(bpq_act act);
const char *bench_loss_name(bpq_loss loss);

/* Selects `isa` for a bpq case; 0 with a reason if this build or CPU cannot run it. */
int bench_select(int isa, char *why, size_t why_len);

/*
 * Registers a bpq case `case_name` (e.g. "bp2.sigmoid") for every shape and
 * every ISA bpq can run here. in_short: the case belongs to the short run
 * (on the shapes marked for it).
 */
void bench_register_bpq(const char *case_name, const bench_ops *ops, int variant, int in_short);

/* Registers a peer's case for every shape; impl is "<peer>.<level>"; flags: BENCH_PEER or 0. */
void bench_register_peer(const char *case_name, const char *impl, const bench_ops *ops, int mode,
                         int variant, int in_short, int flags);

/*
 * The buffers of one layer of shape (batch, n_in, n_out), filled from fixed
 * seeds, so every case and every peer sees the same data:
 *   x  [batch, n_in]   the layer's input: the previous layer's sigmoid output, in (0, 1)
 *   w  [n_out, n_in]   weights, uniform in +-1/sqrt(n_in) (the usual initialisation)
 *   b  [n_out]         bias
 *   a  [batch, n_out]  the layer's output, in (0, 1)
 *   y  [batch, n_out]  targets, in (0, 1)
 *   d  [batch, n_out]  the layer's error delta (input of BP2, BP3, BP4)
 * and outputs, filled with zeros:
 *   dx [batch, n_in]   the previous layer's delta (BP2's result)
 *   dw [n_out, n_in], db [n_out]   gradients (BP4's and BP3's results)
 */
typedef struct bench_layer {
    size_t batch, n_in, n_out;
    float *x, *w, *b, *a, *y, *d, *dx, *dw, *db;
    float loss; /* BP1's loss output */
} bench_layer;

/* Allocates and fills; 0 with a reason when memory runs out (nothing is left allocated). */
int bench_layer_init(bench_layer *L, const bench_shape *s, char *why, size_t why_len);
void bench_layer_free(bench_layer *L);

/* The level whose peak a bpq ISA is compared with (the reference: scalar's). */
bench_level bench_isa_level(int isa);

/* ---- bpq's own cases: one call of bpq on a bench_layer --------------------------------- */

/* One call of a bpq function on the layer's buffers; variant picks the activation or loss. */
typedef bpq_status (*bench_bpq_call)(bench_layer *L, int variant);
/* The work of that call (level is set by the caller). */
typedef void (*bench_bpq_describe)(const bench_layer *L, int variant, bench_work *w);
/* Adjusts the data a variant needs (e.g. one-hot targets); may be NULL. */
typedef void (*bench_bpq_prepare)(bench_layer *L, int variant);

/* Generic bench_ops pieces for bpq's cases; each case file adds its call and description. */
void *bench_bpq_setup(const bench_args *args, bench_work *work, char *why, size_t why_len,
                      bench_bpq_prepare prepare, bench_bpq_call call, bench_bpq_describe describe);
void bench_bpq_warm(void *ctx, int call_once);
void bench_bpq_run(void *ctx);
int bench_bpq_verify(void *ctx, char *why, size_t why_len);
void bench_bpq_teardown(void *ctx);
/* The bench_ops of a bpq case with this setup. */
#define BENCH_BPQ_OPS(setup)                                                                       \
    {setup, bench_bpq_warm, bench_bpq_run, bench_bpq_verify, bench_bpq_teardown}

/* ---- checking a peer against bpq --------------------------------------------------------- */

/* Outputs of a layer a peer's result is compared on. */
enum {
    BENCH_OUT_A = 1,
    BENCH_OUT_D = 2,
    BENCH_OUT_DX = 4,
    BENCH_OUT_DW = 8,
    BENCH_OUT_DB = 16,
    BENCH_OUT_W = 32
};

/* bpq's outputs for a layer's data, against which a peer is checked. */
typedef struct bench_expect {
    const struct expect_entry *entry; /* kept in a cache until bench_release */
} bench_expect;

/*
 * Gets bpq's (best ISA) outputs for `call` on L's data: computed once per
 * call, variant and shape, then taken from a cache, because the same
 * result checks several peers and the reference of a large shape is slow.
 * Computing restores the weights afterwards (SGD changes them). Then fills
 * the outputs named by `outs` (but w, an input too) with NaN, so that a
 * peer which leaves one unwritten fails the check.
 */
int bench_expect_run(bench_expect *e, bench_layer *L, bench_bpq_call call, int variant,
                     unsigned outs, char *why, size_t why_len);
/* Compares the outputs named by `outs` (BENCH_OUT_*) with bpq's. */
int bench_expect_check(const bench_expect *e, const bench_layer *L, unsigned outs, double tol,
                       char *why, size_t why_len);
/* bpq's loss (BP1). */
float bench_expect_loss(const bench_expect *e);

/* Seconds on a monotonic clock. */
double bench_now(void);

#endif /* BPQ_BENCH_UTIL_H */
