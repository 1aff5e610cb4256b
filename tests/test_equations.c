/* test_equations.c - each equation on each ISA vs the double reference and, bitwise, vs scalar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpq.h"
#include "testutil.h"

/*
 * One cmocka test per (equation, ISA), so an ISA this machine lacks shows up
 * as skipped. Each test runs the equation over the shape sweep with every
 * variant (activation, loss pair, reduction, learning rate) and checks:
 *   - reference ISA: within about one ulp of this file's own double oracle;
 *   - float ISAs: within the data-scaled bound of the reference output;
 *   - float ISAs other than scalar: the same bits as scalar (NaN == NaN),
 *     also with NaN, inf, zeros of both signs and denormals in the inputs;
 *   - everywhere: status OK, inputs unchanged, guard zones intact, and every
 *     output element written (outputs start as NaN).
 * The NaN/inf rules and saturation get tests of their own at the end.
 */

enum { EQ_FORWARD, EQ_BP1, EQ_BP2, EQ_BP3, EQ_BP4, EQ_SGD, N_EQ };
static const char *const eq_names[N_EQ] = {"forward", "bp1", "bp2", "bp3", "bp4", "sgd"};
static const int eq_ndims[N_EQ] = {3, 2, 3, 2, 3, 1};

/* Variants of each equation. */
static const bpq_loss bp1_loss[6] = {BPQ_LOSS_MSE, BPQ_LOSS_MSE, BPQ_LOSS_MSE,
                                     BPQ_LOSS_MSE, BPQ_LOSS_BCE, BPQ_LOSS_XENT};
static const bpq_act bp1_act[6] = {BPQ_ACT_IDENTITY, BPQ_ACT_SIGMOID, BPQ_ACT_TANH,
                                   BPQ_ACT_RELU,     BPQ_ACT_SIGMOID, BPQ_ACT_SOFTMAX};
static const bpq_reduce reduces[4] = {BPQ_REDUCE_SUM, BPQ_REDUCE_MEAN,
                                      BPQ_REDUCE_SUM | BPQ_REDUCE_ACCUMULATE,
                                      BPQ_REDUCE_MEAN | BPQ_REDUCE_ACCUMULATE};
static const float lrs[5] = {0.1f, 0.5f, -0.25f, 0.0f, 1e20f};
static const int eq_nvariants[N_EQ] = {5, 12, 4, 4, 4, 5};

/* ---- shapes ----------------------------------------------------------------- */

typedef struct shape {
    size_t d[3];
} shape;

#define MAX_SHAPES 200

/*
 * Dimensions are, per equation: forward (batch, n_in, n_out), bp1 (batch, n),
 * bp2 (batch, n_next, n), bp3 (batch, n), bp4 (batch, n_out, n_in), sgd (n).
 * The last one is the dimension kernels vectorise over. The sweep varies one
 * dimension at a time over 1..33 and around 48, 64, 96 and 128 (tile sizes
 * and their neighbours), then mixes of odd and power-of-two sizes, then
 * shapes past the cache blocks SIMD kernels use (k blocks of 256, row
 * blocks of 240, BP4's batch blocks of 128 and panels of 128 columns,
 * BP3's 1024-wide panels), then a few random odd shapes from the seed.
 */
static size_t make_shapes(int eq, shape *out)
{
    static const size_t base3[3] = {5, 7, 19}, base2[2] = {5, 19};
    static const size_t edges[] = {47, 48, 49, 63, 64, 65, 96, 127, 128, 129};
    static const size_t mixes[][3] = {
        {37, 61, 127}, {61, 127, 37},  {127, 37, 61},  {255, 3, 33},   {3, 255, 17},  {1, 255, 255},
        {16, 16, 16},  {32, 32, 32},   {64, 64, 64},   {128, 16, 128}, {8, 128, 64},  {17, 47, 49},
        {33, 63, 65},  {2, 129, 1000}, {250, 300, 20}, {130, 70, 131}, {100, 97, 20}, {7, 257, 19},
        {245, 9, 21},  {3, 520, 40},   {2, 1030, 9},   {6, 1, 1100},   {490, 3, 70}};
    int nd = eq_ndims[eq];
    const size_t *base = nd == 3 ? base3 : base2;
    size_t count = 0;
    tu_rng rng = tu_rng_make(tu_seed(), "shapes", (uint64_t)eq);

    for (int dim = 0; dim < nd; dim++) {
        for (size_t s = 1; s <= 33 + sizeof edges / sizeof edges[0]; s++) {
            shape sh = {{1, 1, 1}};
            for (int k = 0; k < nd; k++)
                sh.d[k] = nd == 1 ? 1 : base[k];
            sh.d[dim] = s <= 33 ? s : edges[s - 34];
            out[count++] = sh;
        }
    }
    for (size_t m = 0; m < sizeof mixes / sizeof mixes[0]; m++) {
        shape sh = {{mixes[m][0], mixes[m][1], mixes[m][2]}};
        if (nd == 2)
            sh.d[1] = mixes[m][2];
        if (nd == 1)
            sh.d[0] = mixes[m][0] * mixes[m][1] + 1;
        out[count++] = sh;
    }
    for (int r = 0; r < 4; r++) {
        shape sh = {{1, 1, 1}};
        for (int k = 0; k < nd; k++)
            sh.d[k] = 1 + 2 * (size_t)tu_below(&rng, nd == 1 ? 500 : 50);
        out[count++] = sh;
    }
    return count;
}

/* ---- one generated problem --------------------------------------------------- */

typedef struct problem {
    int eq, var;
    shape sh;
    size_t misalign;
    /* decoded variant */
    bpq_act act;
    bpq_loss loss;
    bpq_reduce red;
    float lr;
    int with_loss;
    /* inputs, and copies to prove they were not written */
    int n_in;
    tu_buf in[3];
    float *in_copy[3];
    /* the main output: its size and, for accumulate and sgd, its initial contents */
    size_t n_out;
    float *init;
    /* per output element (and the loss last): exact value, float-ISA bound, reference bound */
    double *want, *err, *rerr;
} problem;

typedef struct outputs {
    tu_buf out, loss;
} outputs;

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* Allocates input k with n floats. */
static float *input(problem *p, int k, size_t n)
{
    p->n_in = k + 1 > p->n_in ? k + 1 : p->n_in;
    return tu_alloc(&p->in[k], n, p->misalign);
}

static void snapshot_inputs(problem *p)
{
    for (int k = 0; k < p->n_in; k++) {
        free(p->in_copy[k]);
        p->in_copy[k] = xcalloc(p->in[k].n, sizeof(float));
        memcpy(p->in_copy[k], p->in[k].p, p->in[k].n * sizeof(float));
    }
}

static void make_problem(problem *p, int eq, const shape *sh, int var, size_t misalign, tu_rng *r)
{
    size_t d0 = sh->d[0], d1 = sh->d[1], d2 = sh->d[2];
    memset(p, 0, sizeof *p);
    p->eq = eq;
    p->var = var;
    p->sh = *sh;
    p->misalign = misalign;
    switch (eq) {
    case EQ_FORWARD:
        p->act = (bpq_act)var;
        tu_fill_sym(r, input(p, 0, d0 * d1), d0 * d1); /* x */
        tu_fill_sym(r, input(p, 1, d2 * d1), d2 * d1); /* w */
        tu_fill_sym(r, input(p, 2, d2), d2);           /* b */
        p->n_out = d0 * d2;
        break;
    case EQ_BP1:
        p->loss = bp1_loss[var / 2];
        p->act = bp1_act[var / 2];
        p->with_loss = var % 2;
        tu_fill_act_output(r, p->act, input(p, 0, d0 * d1), d0, d1); /* a */
        tu_fill_targets(r, p->loss, input(p, 1, d0 * d1), d0, d1);   /* y */
        p->n_out = d0 * d1;
        break;
    case EQ_BP2:
        p->act = (bpq_act)var;
        tu_fill_sym(r, input(p, 0, d0 * d1), d0 * d1);               /* delta_next */
        tu_fill_sym(r, input(p, 1, d1 * d2), d1 * d2);               /* w_next */
        tu_fill_act_output(r, p->act, input(p, 2, d0 * d2), d0, d2); /* a */
        p->n_out = d0 * d2;
        break;
    case EQ_BP3:
        p->red = reduces[var];
        tu_fill_sym(r, input(p, 0, d0 * d1), d0 * d1);
        p->n_out = d1;
        break;
    case EQ_BP4:
        p->red = reduces[var];
        tu_fill_sym(r, input(p, 0, d0 * d1), d0 * d1); /* delta */
        tu_fill_sym(r, input(p, 1, d0 * d2), d0 * d2); /* x */
        p->n_out = d1 * d2;
        break;
    default:
        p->lr = lrs[var];
        tu_fill_sym(r, input(p, 0, d0), d0); /* grad */
        p->n_out = d0;
        break;
    }
    if (eq == EQ_SGD || ((eq == EQ_BP3 || eq == EQ_BP4) && (p->red & BPQ_REDUCE_ACCUMULATE)))
        p->init = tu_fill_sym(r, xcalloc(p->n_out, sizeof(float)), p->n_out);
    snapshot_inputs(p);
    p->want = xcalloc(p->n_out + 1, sizeof(double));
    p->err = xcalloc(p->n_out + 1, sizeof(double));
    p->rerr = xcalloc(p->n_out + 1, sizeof(double));
}

static void free_problem(problem *p)
{
    for (int k = 0; k < p->n_in; k++) {
        tu_free(&p->in[k]);
        free(p->in_copy[k]);
    }
    free(p->init);
    free(p->want);
    free(p->err);
    free(p->rerr);
}

/* ---- the oracle: exact results in double and how far each ISA may be from them ---- */

static double act_d(bpq_act act, double z)
{
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-z));
    case BPQ_ACT_TANH:
        return tanh(z);
    case BPQ_ACT_RELU:
        return z > 0.0 ? z : 0.0;
    default:
        return z;
    }
}

static double dact_d(bpq_act act, double a)
{
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return a * (1.0 - a);
    case BPQ_ACT_TANH:
        return 1.0 - a * a;
    case BPQ_ACT_RELU:
        return a > 0.0 ? 1.0 : 0.0;
    default:
        return 1.0;
    }
}

/* ln with the documented clamp at ln(FLT_MIN). */
static double log_clamped(double x) { return log(x < FLT_MIN ? FLT_MIN : x); }

/* A dot product of K terms: its float bound c (K + 2) u S plus denormal slack. */
static double gemm_err(size_t k, double s)
{
    return 2.0 * (double)(k + 2) * TU_U * s + (double)(k + 2) * TU_DENORM;
}

/* The same sum done in double by the reference, then rounded once. */
static double gemm_rerr(size_t k, double s, double want)
{
    return 2.0 * TU_U * fabs(want) + (double)k * 0x1p-52 * s + TU_DENORM;
}

static void oracle_forward(problem *p)
{
    size_t batch = p->sh.d[0], n_in = p->sh.d[1], n_out = p->sh.d[2];
    const float *x = p->in[0].p, *w = p->in[1].p, *b = p->in[2].p;
    double *z = xcalloc(n_out, sizeof(double)), *bz = xcalloc(n_out, sizeof(double));
    for (size_t r = 0; r < batch; r++) {
        double zmax = -INFINITY, bzmax = 0.0, rzmax = 0.0, sum = 0.0, spread = 0.0;
        for (size_t j = 0; j < n_out; j++) {
            double acc = b[j], s = fabs(b[j]);
            for (size_t i = 0; i < n_in; i++) {
                double t = (double)x[r * n_in + i] * (double)w[j * n_in + i];
                acc += t;
                s += fabs(t);
            }
            z[j] = acc;
            bz[j] = gemm_err(n_in, s);
            zmax = acc > zmax ? acc : zmax;
            bzmax = bz[j] > bzmax ? bz[j] : bzmax;
            rzmax = fmax(rzmax, (double)n_in * 0x1p-52 * s);
        }
        for (size_t j = 0; j < n_out; j++)
            sum += exp(z[j] - zmax);
        for (size_t j = 0; j < n_out; j++)
            spread += exp(z[j] - zmax) / sum * (z[j] - zmax);
        for (size_t j = 0; j < n_out; j++) {
            size_t o = r * n_out + j;
            double v;
            if (p->act == BPQ_ACT_SOFTMAX) {
                /* z_j - max is rounded to float before exp: relative error |z_j - max| u,
                 * and the sum carries the weighted mean of those; then exp, sum and divide. */
                v = exp(z[j] - zmax) / sum;
                p->err[o] =
                    v * (expm1(2.0 * bzmax) +
                         (fabs(z[j] - zmax) - spread + (double)n_out / 16.0 + 16.0) * TU_U) +
                    4.0 * TU_DENORM;
                p->rerr[o] = 2.0 * TU_U * v + 2.0 * rzmax * v + TU_DENORM;
            } else {
                double slope = p->act == BPQ_ACT_SIGMOID ? 0.25 : 1.0;
                double ulps = (p->act == BPQ_ACT_SIGMOID || p->act == BPQ_ACT_TANH) ? 8.0 : 0.0;
                v = act_d(p->act, z[j]);
                p->err[o] = slope * bz[j] + ulps * TU_U * fabs(v) + 4.0 * TU_DENORM;
                p->rerr[o] = 2.0 * TU_U * fabs(v) + slope * rzmax + TU_DENORM;
            }
            p->want[o] = v;
        }
    }
    free(z);
    free(bz);
}

static void oracle_bp1(problem *p)
{
    size_t batch = p->sh.d[0], n = p->sh.d[1];
    const float *a = p->in[0].p, *y = p->in[1].p;
    double total = 0.0, mag = 0.0;
    for (size_t e = 0; e < batch * n; e++) {
        double av = a[e], yv = y[e], v;
        if (p->loss == BPQ_LOSS_MSE) {
            v = (av - yv) * dact_d(p->act, av);
            p->err[e] = 6.0 * TU_U * fabs(v) + 4.0 * TU_DENORM;
            total += 0.5 * (av - yv) * (av - yv);
            mag += 0.5 * (av - yv) * (av - yv);
        } else {
            v = av - yv;
            p->err[e] = 2.0 * TU_U * fabs(v) + TU_DENORM;
            double t1 = yv * log_clamped(av);
            double t0 = p->loss == BPQ_LOSS_BCE ? (1.0 - yv) * log_clamped(1.0 - av) : 0.0;
            total -= t1 + t0;
            mag += fabs(t1) + fabs(t0);
        }
        p->want[e] = v;
        p->rerr[e] = 2.0 * TU_U * fabs(v) + TU_DENORM;
    }
    /* Loss: each term a few roundings (and a log), a 16-way row sum, one division. */
    double w = total / (double)batch;
    p->want[p->n_out] = w;
    p->err[p->n_out] = ((double)n + 16.0) * TU_U * mag / (double)batch +
                       (p->loss == BPQ_LOSS_MSE ? 0.0 : 8.0 * TU_U * (double)n) + 4.0 * TU_DENORM;
    p->rerr[p->n_out] = 2.0 * TU_U * fabs(w) + 0x1p-50 * mag + TU_DENORM;
}

static void oracle_bp2(problem *p)
{
    size_t batch = p->sh.d[0], n_next = p->sh.d[1], n = p->sh.d[2];
    const float *dn = p->in[0].p, *w = p->in[1].p, *a = p->in[2].p;
    for (size_t r = 0; r < batch; r++)
        for (size_t i = 0; i < n; i++) {
            double g = 0.0, s = 0.0;
            for (size_t k = 0; k < n_next; k++) {
                double t = (double)dn[r * n_next + k] * (double)w[k * n + i];
                g += t;
                s += fabs(t);
            }
            double d = dact_d(p->act, a[r * n + i]), v = g * d;
            size_t o = r * n + i;
            p->want[o] = v;
            p->err[o] = gemm_err(n_next, s) * fabs(d) + 4.0 * TU_U * fabs(v) + 2.0 * TU_DENORM;
            p->rerr[o] = gemm_rerr(n_next, s * fabs(d), v);
        }
}

/* BP3 and BP4 share the finish: optional mean (one division), optional accumulate (one add). */
static void finish(problem *p, size_t o, size_t batch, double g, double s)
{
    int mean = (p->red & BPQ_REDUCE_MEAN) != 0, acc = (p->red & BPQ_REDUCE_ACCUMULATE) != 0;
    double scale = mean ? 1.0 / (double)batch : 1.0;
    double v = g * scale, w = acc ? (double)p->init[o] + v : v;
    p->want[o] = w;
    p->err[o] = gemm_err(batch, s) * scale + 2.0 * TU_U * fabs(v) + 4.0 * TU_U * fabs(w);
    p->rerr[o] = gemm_rerr(batch, s * scale, w);
}

static void oracle_bp3(problem *p)
{
    size_t batch = p->sh.d[0], n = p->sh.d[1];
    const float *delta = p->in[0].p;
    for (size_t j = 0; j < n; j++) {
        double g = 0.0, s = 0.0;
        for (size_t r = 0; r < batch; r++) {
            g += delta[r * n + j];
            s += fabs(delta[r * n + j]);
        }
        finish(p, j, batch, g, s);
    }
}

static void oracle_bp4(problem *p)
{
    size_t batch = p->sh.d[0], n_out = p->sh.d[1], n_in = p->sh.d[2];
    const float *delta = p->in[0].p, *x = p->in[1].p;
    for (size_t j = 0; j < n_out; j++)
        for (size_t i = 0; i < n_in; i++) {
            double g = 0.0, s = 0.0;
            for (size_t r = 0; r < batch; r++) {
                double t = (double)delta[r * n_out + j] * (double)x[r * n_in + i];
                g += t;
                s += fabs(t);
            }
            finish(p, j * n_in + i, batch, g, s);
        }
}

static void oracle_sgd(problem *p)
{
    const float *g = p->in[0].p;
    for (size_t i = 0; i < p->n_out; i++) {
        /* lr * g is exact in double; the subtraction rounds once in double. */
        double v = (double)p->init[i] - (double)p->lr * (double)g[i];
        p->want[i] = v;
        p->err[i] = TU_U * fabs(v) + TU_DENORM; /* correctly rounded */
        p->rerr[i] = 2.0 * TU_U * fabs(v) + TU_DENORM;
    }
}

static void oracle(problem *p)
{
    switch (p->eq) {
    case EQ_FORWARD:
        oracle_forward(p);
        break;
    case EQ_BP1:
        oracle_bp1(p);
        break;
    case EQ_BP2:
        oracle_bp2(p);
        break;
    case EQ_BP3:
        oracle_bp3(p);
        break;
    case EQ_BP4:
        oracle_bp4(p);
        break;
    default:
        oracle_sgd(p);
        break;
    }
}

/* ---- running a problem on one ISA --------------------------------------------- */

static void prepare(const problem *p, outputs *o)
{
    tu_alloc(&o->out, p->n_out, p->misalign);
    if (p->init != NULL)
        memcpy(o->out.p, p->init, p->n_out * sizeof(float));
    else
        tu_poison(&o->out);
    tu_alloc(&o->loss, 1, 0);
    tu_poison(&o->loss);
}

static void release(outputs *o)
{
    tu_free(&o->out);
    tu_free(&o->loss);
}

static bpq_status call(const problem *p, outputs *o)
{
    const size_t *d = p->sh.d;
    const float *in[3] = {p->in[0].p, p->in[1].p, p->in[2].p};
    switch (p->eq) {
    case EQ_FORWARD:
        return bpq_forward(d[0], d[1], d[2], in[0], in[1], in[2], p->act, o->out.p);
    case EQ_BP1:
        return bpq_bp1_output_delta(d[0], d[1], p->loss, p->act, in[0], in[1], o->out.p,
                                    p->with_loss ? o->loss.p : NULL);
    case EQ_BP2:
        return bpq_bp2_hidden_delta(d[0], d[1], d[2], in[0], in[1], in[2], p->act, o->out.p);
    case EQ_BP3:
        return bpq_bp3_bias_grad(d[0], d[1], in[0], p->red, o->out.p);
    case EQ_BP4:
        return bpq_bp4_weight_grad(d[0], d[1], d[2], in[0], in[1], p->red, o->out.p);
    default:
        return bpq_sgd_step(d[0], p->lr, in[0], o->out.p);
    }
}

/* Failures are printed (a few per test) and counted; the test fails at its end. */
typedef struct tally {
    int failures, printed;
    bpq_isa isa;
} tally;

static const char *const act_names[5] = {"identity", "sigmoid", "tanh", "relu", "softmax"};

static void describe(const problem *p, char *buf, size_t cap)
{
    static const char *const red_names[4] = {"sum", "mean", "sum+acc", "mean+acc"};
    static const char *const loss_names[3] = {"mse", "bce", "xent"};
    char var[48];
    switch (p->eq) {
    case EQ_FORWARD:
    case EQ_BP2:
        snprintf(var, sizeof var, "%s", act_names[p->act]);
        break;
    case EQ_BP1:
        snprintf(var, sizeof var, "%s+%s%s", loss_names[p->loss], act_names[p->act],
                 p->with_loss ? "+loss_out" : "");
        break;
    case EQ_BP3:
    case EQ_BP4:
        snprintf(var, sizeof var, "%s", red_names[p->var]);
        break;
    default:
        snprintf(var, sizeof var, "lr=%g", (double)p->lr);
        break;
    }
    snprintf(buf, cap, "%s %s shape=%zux%zux%zu misalign=%zu", eq_names[p->eq], var, p->sh.d[0],
             p->sh.d[1], p->sh.d[2], p->misalign);
}

static void failure(tally *t, const problem *p, const char *what, size_t idx, double got,
                    double want, double bound)
{
    char desc[160];
    t->failures++;
    if (t->printed++ >= 8)
        return;
    describe(p, desc, sizeof desc);
    print_error("FAIL seed=%#llx isa=%s %s: %s index=%zu got=%.9g (%a) want=%.9g (%a) bound=%.3g\n",
                (unsigned long long)tu_seed(), bpq_isa_name(t->isa), desc, what, idx, got, got,
                want, want, bound);
}

/* Runs p on isa into o; checks status, guards and that inputs are unchanged. */
static int run_on(tally *t, const problem *p, bpq_isa isa, outputs *o)
{
    prepare(p, o);
    tu_select(isa);
    bpq_status st = call(p, o);
    if (st != BPQ_OK) {
        failure(t, p, bpq_status_string(st), 0, 0.0, 0.0, 0.0);
        return 0;
    }
    if (!tu_guards_ok(&o->out) || !tu_guards_ok(&o->loss))
        failure(t, p, "guard zone overwritten", 0, 0.0, 0.0, 0.0);
    if (!p->with_loss && !isnan(o->loss.p[0]))
        failure(t, p, "loss written though loss_out was NULL", 0, 0.0, 0.0, 0.0);
    for (int k = 0; k < p->n_in; k++)
        if (memcmp(p->in[k].p, p->in_copy[k], p->in[k].n * sizeof(float)) != 0 ||
            !tu_guards_ok(&p->in[k]))
            failure(t, p, "an input was written", (size_t)k, 0.0, 0.0, 0.0);
    return 1;
}

static int close_to(float got, double target, double tol)
{
    if (isnan(got) || isnan(target))
        return 0; /* no NaN is expected in these sweeps */
    return (double)got == target || fabs((double)got - target) <= tol;
}

/* got within tol of target, element by element; the loss, if any, last. */
static void compare(tally *t, const problem *p, const outputs *o, const double *target,
                    const double *tol1, const double *tol2, const char *what)
{
    for (size_t i = 0; i <= p->n_out; i++) {
        if (i == p->n_out && !p->with_loss)
            break;
        float got = i < p->n_out ? o->out.p[i] : o->loss.p[0];
        double tol = tol1[i] + (tol2 ? tol2[i] : 0.0);
        if (!close_to(got, target[i], tol))
            failure(t, p, i < p->n_out ? what : "loss", i, got, target[i], tol);
    }
}

static void compare_bits(tally *t, const problem *p, const outputs *a, const outputs *b,
                         const char *what)
{
    size_t i = tu_first_diff(a->out.p, b->out.p, p->n_out);
    if (i < p->n_out)
        failure(t, p, what, i, a->out.p[i], b->out.p[i], 0.0);
    if (p->with_loss && !tu_same(a->loss.p[0], b->loss.p[0]))
        failure(t, p, what, p->n_out, a->loss.p[0], b->loss.p[0], 0.0);
}

/* Sprinkles special values over every input and the initial output. */
static void inject_specials(problem *p, tu_rng *r)
{
    for (int k = 0; k < p->n_in; k++)
        tu_sprinkle_specials(r, p->in[k].p, p->in[k].n);
    if (p->init != NULL)
        tu_sprinkle_specials(r, p->init, p->n_out);
    snapshot_inputs(p);
}

/* ---- the per-(equation, ISA) tests -------------------------------------------- */

typedef struct eq_case {
    int eq;
    bpq_isa isa;
} eq_case;

static void equation_test(void **state)
{
    const eq_case *c = *state;
    tally t = {0, 0, c->isa};
    shape shapes[MAX_SHAPES];
    size_t ns;

    if (!bpq_isa_supported(c->isa))
        skip();
    ns = make_shapes(c->eq, shapes);
    for (size_t s = 0; s < ns && t.failures < 50; s++) {
        for (int v = 0; v < eq_nvariants[c->eq]; v++) {
            problem p;
            outputs ref, got, sc;
            tu_rng r = tu_rng_make(tu_seed(), eq_names[c->eq], s * 64 + (size_t)v);
            make_problem(&p, c->eq, &shapes[s], v, (s + (size_t)v) % 4 == 3 ? 0 : 1, &r);
            oracle(&p);
            if (run_on(&t, &p, BPQ_ISA_REFERENCE, &ref)) {
                if (c->isa == BPQ_ISA_REFERENCE) {
                    compare(&t, &p, &ref, p.want, p.rerr, NULL, "reference vs oracle");
                } else if (run_on(&t, &p, c->isa, &got)) {
                    double *refd = xcalloc(p.n_out + 1, sizeof(double));
                    for (size_t i = 0; i < p.n_out; i++)
                        refd[i] = ref.out.p[i];
                    refd[p.n_out] = ref.loss.p[0];
                    compare(&t, &p, &got, refd, p.err, p.rerr, "vs reference");
                    free(refd);
                    if (c->eq == EQ_SGD) /* documented as exactly fma(-lr, grad, param) */
                        for (size_t i = 0; i < p.n_out; i++) {
                            float want = fmaf(-p.lr, p.in[0].p[i], p.init[i]);
                            if (!tu_same(got.out.p[i], want))
                                failure(&t, &p, "vs fmaf", i, got.out.p[i], want, 0.0);
                        }
                    if (c->isa != BPQ_ISA_SCALAR && run_on(&t, &p, BPQ_ISA_SCALAR, &sc)) {
                        compare_bits(&t, &p, &got, &sc, "bits differ from scalar");
                        release(&sc);
                    }
                    release(&got);
                }
                release(&ref);
            }
            /* Special values: no bound to check against, but every float ISA agrees with scalar. */
            if (c->isa != BPQ_ISA_REFERENCE) {
                inject_specials(&p, &r);
                if (run_on(&t, &p, BPQ_ISA_SCALAR, &sc)) {
                    if (c->isa != BPQ_ISA_SCALAR && run_on(&t, &p, c->isa, &got)) {
                        compare_bits(&t, &p, &got, &sc, "bits differ from scalar (specials)");
                        release(&got);
                    }
                    release(&sc);
                }
            }
            free_problem(&p);
        }
    }
    if (t.failures)
        fail_msg("%d failures on %s (seed %#llx; BPQ_TEST_SEED reruns it)", t.failures,
                 bpq_isa_name(c->isa), (unsigned long long)tu_seed());
}

/* ---- NaN and infinity rules, saturation, extreme softmax rows ---------------------- */

#define ALL ((size_t)-1)
#define NONE ((size_t)-2)

/* Element (r, c) of a rows x cols output must be NaN exactly inside the block (er, ec). */
static void expect_nan_block(const char *what, const float *out, size_t rows, size_t cols,
                             size_t er, size_t ec)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            int want = er != NONE && (er == ALL || r == er) && (ec == ALL || c == ec);
            float v = out[r * cols + c];
            if ((isnan(v) != 0) != want)
                fail_msg("%s on %s: element (%zu, %zu) is %g, expected %s", what,
                         bpq_isa_name(bpq_isa_active()), r, c, (double)v,
                         want ? "NaN" : "a number");
        }
}

enum { NB = 3, NI = 5, NO = 19 };

static void nan_forward(tu_rng *r)
{
    float x[NB * NI], w[NO * NI], b[NO], a[NB * NO];
    tu_fill_sym(r, x, NB * NI);
    tu_fill_sym(r, b, NO);
    for (size_t i = 0; i < NO * NI; i++)
        w[i] = 0.25f + 0.5f * tu_open01(r) * (i % 2 ? 1.0f : -1.0f); /* never 0 */
    for (int act = 0; act <= BPQ_ACT_SOFTMAX; act++) {
        int rowwise = act == BPQ_ACT_SOFTMAX;
        float keep = x[1 * NI + 2];
        x[1 * NI + 2] = NAN; /* poisons every z of row 1 */
        assert_int_equal(bpq_forward(NB, NI, NO, x, w, b, (bpq_act)act, a), BPQ_OK);
        expect_nan_block("forward, NaN in x", a, NB, NO, 1, ALL);
        x[1 * NI + 2] = keep;

        keep = b[4];
        b[4] = NAN; /* poisons column 4; softmax spreads it over each row */
        assert_int_equal(bpq_forward(NB, NI, NO, x, w, b, (bpq_act)act, a), BPQ_OK);
        expect_nan_block("forward, NaN in b", a, NB, NO, ALL, rowwise ? ALL : 4);
        b[4] = keep;

        keep = x[2 * NI + 3];
        x[2 * NI + 3] = INFINITY; /* z of row 2 becomes +inf or -inf by the sign of w */
        assert_int_equal(bpq_forward(NB, NI, NO, x, w, b, (bpq_act)act, a), BPQ_OK);
        expect_nan_block("forward, inf in x", a, NB, NO, rowwise ? 2 : NONE, ALL);
        for (size_t j = 0; j < NO && !rowwise; j++) {
            int pos = w[j * NI + 3] > 0.0f;
            float v = a[2 * NO + j], want = pos ? INFINITY : -INFINITY;
            if (act == BPQ_ACT_SIGMOID)
                want = pos ? 1.0f : 0.0f;
            else if (act == BPQ_ACT_TANH)
                want = pos ? 1.0f : -1.0f;
            else if (act == BPQ_ACT_RELU)
                want = pos ? INFINITY : 0.0f;
            if (v != want)
                fail_msg("forward %s of +-inf on %s: got %g, want %g", act_names[act],
                         bpq_isa_name(bpq_isa_active()), (double)v, (double)want);
        }
        x[2 * NI + 3] = keep;
    }
}

static void nan_bp1(tu_rng *r)
{
    float a[NB * NO], y[NB * NO], d[NB * NO], loss;
    for (int pair = 0; pair < 6; pair++) {
        tu_fill_act_output(r, bp1_act[pair], a, NB, NO);
        tu_fill_targets(r, bp1_loss[pair], y, NB, NO);
        a[1 * NO + 7] = NAN;
        assert_int_equal(
            bpq_bp1_output_delta(NB, NO, bp1_loss[pair], bp1_act[pair], a, y, d, &loss), BPQ_OK);
        expect_nan_block("bp1, NaN in a", d, NB, NO, 1, 7);
        expect_nan_block("bp1 loss, NaN in a", &loss, 1, 1, ALL, ALL);
    }
}

static void nan_bp2(tu_rng *r)
{
    float dn[NB * NI], w[NI * NO], a[NB * NO], d[NB * NO];
    for (int act = 0; act < BPQ_ACT_SOFTMAX; act++) {
        tu_fill_sym(r, dn, NB * NI);
        tu_fill_sym(r, w, NI * NO);
        tu_fill_act_output(r, (bpq_act)act, a, NB, NO); /* relu: about half exact zeros */
        float keep = a[2 * NO + 5];
        a[2 * NO + 5] = NAN; /* act'(NaN) is NaN, except identity's constant 1 */
        assert_int_equal(bpq_bp2_hidden_delta(NB, NI, NO, dn, w, a, (bpq_act)act, d), BPQ_OK);
        expect_nan_block("bp2, NaN in a", d, NB, NO, act == BPQ_ACT_IDENTITY ? NONE : 2, 5);
        a[2 * NO + 5] = keep;

        keep = dn[0 * NI + 3];
        dn[0 * NI + 3] = NAN; /* g * act'(a) is a multiplication, so NaN * 0 is NaN too */
        assert_int_equal(bpq_bp2_hidden_delta(NB, NI, NO, dn, w, a, (bpq_act)act, d), BPQ_OK);
        expect_nan_block("bp2, NaN in delta_next", d, NB, NO, 0, ALL);
        dn[0 * NI + 3] = keep;

        w[4 * NO + 11] = NAN;
        assert_int_equal(bpq_bp2_hidden_delta(NB, NI, NO, dn, w, a, (bpq_act)act, d), BPQ_OK);
        expect_nan_block("bp2, NaN in w_next", d, NB, NO, ALL, 11);
    }
}

static void nan_bp34_sgd(tu_rng *r)
{
    float delta[NB * NO], x[NB * NI], db[NO], dw[NO * NI], grad[NO], param[NO];
    for (int v = 0; v < 4; v++) {
        tu_fill_sym(r, delta, NB * NO);
        tu_fill_sym(r, x, NB * NI);
        tu_fill_sym(r, db, NO);
        tu_fill_sym(r, dw, NO * NI);
        delta[1 * NO + 6] = NAN;
        assert_int_equal(bpq_bp3_bias_grad(NB, NO, delta, reduces[v], db), BPQ_OK);
        expect_nan_block("bp3, NaN in delta", db, 1, NO, ALL, 6);
        assert_int_equal(bpq_bp4_weight_grad(NB, NO, NI, delta, x, reduces[v], dw), BPQ_OK);
        expect_nan_block("bp4, NaN in delta", dw, NO, NI, 6, ALL);
        tu_fill_sym(r, delta, NB * NO);
        tu_fill_sym(r, dw, NO * NI);
        x[2 * NI + 1] = NAN;
        assert_int_equal(bpq_bp4_weight_grad(NB, NO, NI, delta, x, reduces[v], dw), BPQ_OK);
        expect_nan_block("bp4, NaN in x", dw, NO, NI, ALL, 1);
    }
    tu_fill_sym(r, grad, NO);
    tu_fill_sym(r, param, NO);
    grad[3] = NAN;
    param[8] = NAN;
    assert_int_equal(bpq_sgd_step(NO, 0.1f, grad, param), BPQ_OK);
    for (size_t i = 0; i < NO; i++)
        if ((isnan(param[i]) != 0) != (i == 3 || i == 8))
            fail_msg("sgd on %s: param[%zu] = %g", bpq_isa_name(bpq_isa_active()), i,
                     (double)param[i]);
}

static void nan_test(void **state)
{
    bpq_isa isa = *(const bpq_isa *)*state;
    tu_rng r = tu_rng_make(tu_seed(), "nan", (uint64_t)isa);
    if (!bpq_isa_supported(isa))
        skip();
    tu_select(isa);
    nan_forward(&r);
    nan_bp1(&r);
    nan_bp2(&r);
    nan_bp34_sgd(&r);
}

/* sigmoid and tanh for z in [-100, 100] and beyond: finite, in range, a few ulp from exact. */
static void saturation_test(void **state)
{
    bpq_isa isa = *(const bpq_isa *)*state;
    static const float extra[] = {INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 1e30f, -1e30f,
                                  88.0f,    -88.0f,    104.0f,  -104.0f,  0.0f,  -0.0f};
    enum { GRID = 12801, RANDOM = 4000, NX = sizeof extra / sizeof extra[0] };
    const size_t n = GRID + RANDOM + NX;
    float *z = xcalloc(n, sizeof(float)), *a = xcalloc(n, sizeof(float));
    const float one = 1.0f, zero = 0.0f;
    tu_rng r = tu_rng_make(tu_seed(), "saturation", 0);

    if (!bpq_isa_supported(isa)) {
        free(z);
        free(a);
        skip();
    }
    tu_select(isa);
    for (size_t i = 0; i < GRID; i++)
        z[i] = (float)((int)i - GRID / 2) / 64.0f; /* -100 .. 100 step 1/64, exact */
    for (size_t i = 0; i < RANDOM; i++)
        z[GRID + i] = 100.0f * tu_sym(&r);
    memcpy(z + GRID + RANDOM, extra, sizeof extra);
    /* One input, weight 1, bias 0: z reaches the activation exactly. */
    for (int act = BPQ_ACT_SIGMOID; act <= BPQ_ACT_TANH; act++) {
        double lo = act == BPQ_ACT_SIGMOID ? 0.0 : -1.0;
        assert_int_equal(bpq_forward(n, 1, 1, z, &one, &zero, (bpq_act)act, a), BPQ_OK);
        for (size_t i = 0; i < n; i++) {
            double want =
                act == BPQ_ACT_SIGMOID ? 1.0 / (1.0 + exp(-(double)z[i])) : tanh((double)z[i]);
            double tol = 8.0 * TU_U * fabs(want) + 4.0 * TU_DENORM;
            if (!isfinite(a[i]) || a[i] < lo || a[i] > 1.0 || fabs(a[i] - want) > tol)
                fail_msg("%s(%.9g) on %s = %.9g (%a), want %.9g within %.3g", act_names[act],
                         (double)z[i], bpq_isa_name(isa), (double)a[i], (double)a[i], want, tol);
        }
    }
    free(z);
    free(a);
}

/* Softmax rows with logits as large as +-100: finite, in [0, 1], summing to 1, close to exact. */
static void softmax_extremes_test(void **state)
{
    bpq_isa isa = *(const bpq_isa *)*state;
    static const size_t widths[] = {1, 2, 3, 7, 16, 17, 33, 100, 1000};
    const float one = 1.0f;
    tu_rng r = tu_rng_make(tu_seed(), "softmax", 0);
    float *w, *b, *a;
    double *want;

    if (!bpq_isa_supported(isa))
        skip();
    tu_select(isa);
    w = xcalloc(1000, sizeof(float));
    b = xcalloc(1000, sizeof(float));
    a = xcalloc(1000, sizeof(float));
    want = xcalloc(1000, sizeof(double));
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        size_t n = widths[wi];
        for (int pattern = 0; pattern < 6; pattern++) {
            size_t hot = tu_below(&r, (uint32_t)n);
            for (size_t j = 0; j < n; j++) {
                float v = 0.0f;
                switch (pattern) {
                case 0:
                    v = 100.0f;
                    break;
                case 1:
                    v = -100.0f;
                    break;
                case 2:
                    v = j % 2 ? -100.0f : 100.0f;
                    break;
                case 3:
                    v = j == hot ? 100.0f : -100.0f;
                    break;
                case 4:
                    v = 100.0f * tu_sym(&r);
                    break;
                default:
                    v = n == 1 ? 0.0f : -100.0f + 200.0f * (float)j / (float)(n - 1);
                    break;
                }
                w[j] = v; /* x = 1, w = logits, b = 0: z = logits exactly */
            }
            assert_int_equal(bpq_forward(1, 1, n, &one, w, b, BPQ_ACT_SOFTMAX, a), BPQ_OK);
            double m = -INFINITY, sum = 0.0, spread = 0.0, total = 0.0;
            for (size_t j = 0; j < n; j++)
                m = w[j] > m ? w[j] : m;
            for (size_t j = 0; j < n; j++)
                sum += exp(w[j] - m);
            for (size_t j = 0; j < n; j++) {
                want[j] = exp(w[j] - m) / sum;
                spread += want[j] * (m - w[j]);
            }
            for (size_t j = 0; j < n; j++) {
                double tol = want[j] * ((m - w[j]) + spread + (double)n / 16.0 + 16.0) * TU_U +
                             4.0 * TU_DENORM;
                total += a[j];
                if (!isfinite(a[j]) || a[j] < 0.0f || a[j] > 1.0f || fabs(a[j] - want[j]) > tol)
                    fail_msg("softmax width %zu pattern %d on %s: a[%zu] = %.9g, want %.9g "
                             "within %.3g (seed %#llx)",
                             n, pattern, bpq_isa_name(isa), j, (double)a[j], want[j], tol,
                             (unsigned long long)tu_seed());
            }
            if (fabs(total - 1.0) > ((double)n + 16.0) * TU_U)
                fail_msg("softmax width %zu pattern %d on %s sums to %.9g", n, pattern,
                         bpq_isa_name(isa), total);
        }
    }
    free(w);
    free(b);
    free(a);
    free(want);
}

int main(void)
{
    enum { N_SPECIAL = 3, N_TESTS = (N_EQ + N_SPECIAL) * TU_N_ISAS };
    static eq_case cases[N_EQ * TU_N_ISAS];
    static char names[N_TESTS][48];
    static void (*const special_fn[N_SPECIAL])(void **) = {nan_test, saturation_test,
                                                           softmax_extremes_test};
    static const char *const special_names[N_SPECIAL] = {"nan_rules", "saturation",
                                                         "softmax_extremes"};
    struct CMUnitTest tests[N_TESTS];
    size_t t = 0;

    for (int e = 0; e < N_EQ; e++)
        for (int i = 0; i < TU_N_ISAS; i++, t++) {
            cases[t] = (eq_case){e, tu_isas[i]};
            snprintf(names[t], sizeof names[t], "%s/%s", eq_names[e], bpq_isa_name(tu_isas[i]));
            tests[t] = (struct CMUnitTest){names[t], equation_test, NULL, NULL, &cases[t]};
        }
    for (int s = 0; s < N_SPECIAL; s++)
        for (int i = 0; i < TU_N_ISAS; i++, t++) {
            snprintf(names[t], sizeof names[t], "%s/%s", special_names[s],
                     bpq_isa_name(tu_isas[i]));
            tests[t] =
                (struct CMUnitTest){names[t], special_fn[s], NULL, NULL, (void *)&tu_isas[i]};
        }
    printf("test_equations: seed %#llx (set BPQ_TEST_SEED to change it)\n",
           (unsigned long long)tu_seed());
    return cmocka_run_group_tests_name("equations", tests, NULL, NULL);
}
